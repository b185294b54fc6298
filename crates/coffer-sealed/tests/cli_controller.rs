//! CLI flags that talk to the controller's HTTP API (`--fetch-cert`, `--cert URL`,
//! `--validate`, `--re-encrypt`), against the controller handlers served on 127.0.0.1.

mod common;

use coffer_sealed::unseal::{UnsealOptions, unseal};
use coffer_sealed::{KeyRing, PrivateKey, RingKey, SealedSecret, SealingCert, codec};
use common::{run_cli, serve};

const NO_KUBE: &[(&str, &str)] = &[("KUBECONFIG", "/nonexistent/kubeconfig")];

fn compat_file(name: &str) -> String {
    common::compat()
        .join("kubesealpy")
        .join(name)
        .to_str()
        .unwrap()
        .to_owned()
}

fn ring_key(key: &str, cert: &str, t: i64) -> RingKey {
    RingKey {
        key: PrivateKey::from_pem(&std::fs::read(compat_file(key)).unwrap(), key).unwrap(),
        cert: Some(SealingCert::from_pem(&std::fs::read(compat_file(cert)).unwrap()).unwrap()),
        order_time: time::OffsetDateTime::from_unix_timestamp(t).unwrap(),
    }
}

/// Controller ring: key-old (older) and key (newest).
fn controller_ring() -> KeyRing {
    let mut ring = KeyRing::new();
    ring.add(ring_key("key-old.pem", "cert-old.pem", 1_000));
    ring.add(ring_key("key.pem", "cert.pem", 2_000));
    ring
}

fn only(key: &str) -> KeyRing {
    KeyRing::from_keys([
        PrivateKey::from_pem(&std::fs::read(compat_file(key)).unwrap(), key).unwrap(),
    ])
}

const SECRET: &[u8] = b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: ns\n  labels: {a: b}\nstringData:\n  k: v\n";

#[test]
fn fetch_cert_from_file_url_and_controller_url() {
    let base = serve(controller_ring());
    let want = std::fs::read_to_string(compat_file("cert.pem")).unwrap();
    let (code, out, err) = run_cli(&["--fetch-cert", "--controller-url", &base], NO_KUBE, b"");
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        SealingCert::from_pem(out.as_bytes()).unwrap().id(),
        SealingCert::from_pem(want.as_bytes()).unwrap().id()
    );
    let (code, out2, _) = run_cli(
        &["--fetch-cert", "--cert", &format!("{base}/v1/cert.pem")],
        NO_KUBE,
        b"",
    );
    assert_eq!((code, &out2), (0, &out));
    let (code, out3, _) = run_cli(
        &[
            "--fetch-cert",
            "--cert",
            &format!("file://{}", compat_file("cert.pem")),
        ],
        NO_KUBE,
        b"",
    );
    assert_eq!((code, out3.as_str()), (0, want.as_str()));
    // Without any source the error says what to do.
    let (code, _, err) = run_cli(&["--fetch-cert"], NO_KUBE, b"");
    assert_eq!(code, 1);
    assert!(
        err.contains("cannot reach controller kube-system/sealed-secrets-controller")
            && err.contains("--controller-url"),
        "{err}"
    );
    // An http error is reported with its status.
    let (code, _, err) = run_cli(
        &["--fetch-cert", "--cert", &format!("{base}/nope")],
        NO_KUBE,
        b"",
    );
    assert_eq!(code, 1);
    assert!(err.contains("answered http 404"), "{err}");
}

#[test]
fn seal_with_cert_url_and_env_controller_url() {
    let base = serve(controller_ring());
    let (code, out, err) = run_cli(&["--cert", &format!("{base}/v1/cert.pem")], NO_KUBE, SECRET);
    assert_eq!(code, 0, "{err}");
    let ss = SealedSecret::from_value(
        &codec::parse_documents(out.as_bytes(), "o").unwrap()[0],
        true,
    )
    .unwrap();
    assert!(
        unseal(&ss, &only("key.pem"), UnsealOptions::default()).is_ok(),
        "sealed for the newest key"
    );
    let env = [
        ("KUBECONFIG", "/nonexistent"),
        ("SEALED_SECRETS_CONTROLLER_URL", base.as_str()),
    ];
    let (code, _, err) = run_cli(&[], &env, SECRET);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn validate_reports_undecryptable_secrets() {
    let base = serve(controller_ring());
    let (code, good, err) = run_cli(
        &["--cert", &compat_file("cert-old.pem"), "-o", "yaml"],
        NO_KUBE,
        SECRET,
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run_cli(
        &["--validate", "--controller-url", &base],
        NO_KUBE,
        good.as_bytes(),
    );
    assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));
    // Renamed: strict scope no longer decrypts -> 409 -> kubeseal's message.
    let bad = good.replace("  name: s\n", "  name: renamed\n");
    let (code, _, err) = run_cli(
        &["--validate", "--controller-url", &base],
        NO_KUBE,
        bad.as_bytes(),
    );
    assert_eq!(
        (code, err.as_str()),
        (1, "error: unable to decrypt sealed secret: renamed\n")
    );
    // Multi-document input: every document is checked, the first failure stops.
    let both = format!("{good}{bad}");
    let (code, _, err) = run_cli(
        &["--validate", "--controller-url", &base],
        NO_KUBE,
        both.as_bytes(),
    );
    assert_eq!(
        (code, err.as_str()),
        (1, "error: unable to decrypt sealed secret: renamed\n")
    );
}

#[test]
fn re_encrypt_moves_to_the_newest_key_and_rewrites_f_in_place() {
    let base = serve(controller_ring());
    let (code, old, err) = run_cli(&["--cert", &compat_file("cert-old.pem")], NO_KUBE, SECRET);
    assert_eq!(code, 0, "{err}");
    let parse = |s: &str| {
        SealedSecret::from_value(&codec::parse_documents(s.as_bytes(), "o").unwrap()[0], true)
            .unwrap()
    };
    assert!(unseal(&parse(&old), &only("key.pem"), UnsealOptions::default()).is_err());
    let (code, fresh, err) = run_cli(
        &["--re-encrypt", "--controller-url", &base],
        NO_KUBE,
        old.as_bytes(),
    );
    assert_eq!(code, 0, "{err}");
    let secret = unseal(&parse(&fresh), &only("key.pem"), UnsealOptions::default())
        .expect("opens with the newest key");
    assert_eq!(&secret.data["k"][..], b"v");
    assert_eq!(
        common::mask(&fresh),
        common::mask(&old),
        "same document apart from the values"
    );
    // -f without -w rewrites the file; --rotate is the deprecated alias.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("ss.json");
    std::fs::write(&f, &old).unwrap();
    let (code, out, err) = run_cli(
        &[
            "--rotate",
            "--controller-url",
            &base,
            "-f",
            f.to_str().unwrap(),
        ],
        NO_KUBE,
        b"",
    );
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    let rewritten = std::fs::read_to_string(&f).unwrap();
    assert!(
        unseal(
            &parse(&rewritten),
            &only("key.pem"),
            UnsealOptions::default()
        )
        .is_ok()
    );
    // A document no key opens: the controller answers 500 and the CLI says so.
    let bad = old.replace("\"name\": \"s\"", "\"name\": \"x\"");
    let (code, _, err) = run_cli(
        &["--re-encrypt", "--controller-url", &base],
        NO_KUBE,
        bad.as_bytes(),
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("answered http 500") && err.contains("no key could decrypt secret"),
        "{err}"
    );
}
