//! CLI golden tests, one or more per kubeseal flag. Sealed values are random, so each output is
//! unsealed (to check the values) and then compared with its golden file with the values masked.

mod common;

use std::path::PathBuf;

use coffer_sealed::codec;
use coffer_sealed::unseal::{UnsealOptions, unseal};
use coffer_sealed::{KeyRing, PrivateKey, SealedSecret};
use common::{golden, mask, run_cli};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}
fn fixture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).unwrap()
}
fn cert() -> String {
    common::compat()
        .join("kubesealpy/cert.pem")
        .to_str()
        .unwrap()
        .to_owned()
}
fn key_path() -> String {
    common::compat()
        .join("kubesealpy/key.pem")
        .to_str()
        .unwrap()
        .to_owned()
}
fn ring() -> KeyRing {
    KeyRing::from_keys([
        PrivateKey::from_pem(&std::fs::read(key_path()).unwrap(), "key.pem").unwrap(),
    ])
}
/// No kubeconfig anywhere.
const NO_KUBE: &[(&str, &str)] = &[("KUBECONFIG", "/nonexistent/kubeconfig")];

/// Unseals every SealedSecret in `out` and returns (name, item, value) triples.
fn open_all(out: &str) -> Vec<(String, String, String)> {
    let mut got = Vec::new();
    for doc in codec::parse_documents(out.as_bytes(), "output").unwrap() {
        let ss = SealedSecret::from_value(&doc, true).unwrap();
        let secret = unseal(&ss, &ring(), UnsealOptions::default()).unwrap();
        for (k, v) in &secret.data {
            got.push((
                ss.metadata["name"].as_str().unwrap().to_owned(),
                k.clone(),
                String::from_utf8(v.to_vec()).unwrap(),
            ));
        }
    }
    got
}

#[test]
fn seal_default_json_strips_last_applied_and_server_fields() {
    let (code, out, err) = run_cli(&["--cert", &cert()], NO_KUBE, &fixture_bytes("secret.yaml"));
    assert_eq!(code, 0, "{err}");
    assert!(
        !out.contains("hunter2") && !out.contains("aHVudGVyMg") && !out.contains("last-applied")
    );
    assert_eq!(
        open_all(&out),
        vec![
            ("db".into(), "password".into(), "hunter2".into()),
            ("db".into(), "user".into(), "admin".into())
        ]
    );
    golden("seal-default.json", &mask(&out));
}

#[test]
fn format_yaml_and_w_file_extension() {
    let (code, out, err) = run_cli(
        &["--cert", &cert(), "-o", "YAML"],
        NO_KUBE,
        &fixture_bytes("secret.yaml"),
    );
    assert_eq!(code, 0, "{err}");
    open_all(&out);
    golden("seal-default.yaml", &mask(&out));
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("out.yml");
    let (code, out, err) = run_cli(
        &["--cert", &cert(), "-w", w.to_str().unwrap()],
        NO_KUBE,
        &fixture_bytes("secret.yaml"),
    );
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    let written = std::fs::read_to_string(&w).unwrap();
    assert!(written.starts_with("---\napiVersion: bitnami.com/v1alpha1\n"));
    let (code, _, err) = run_cli(
        &["--cert", &cert(), "-o", "xml"],
        NO_KUBE,
        &fixture_bytes("secret.yaml"),
    );
    assert_eq!(
        (code, err.as_str()),
        (
            1,
            "error: unsupported output format: \"xml\" (use json or yaml)\n"
        )
    );
}

#[test]
fn w_is_not_written_on_failure() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("out.json");
    let (code, _, _) = run_cli(
        &["--cert", &cert(), "-w", w.to_str().unwrap()],
        NO_KUBE,
        b"kind: Secret\nmetadata: {name: x}\n",
    );
    assert_eq!(code, 1);
    assert!(!w.exists());
}

#[test]
fn scopes_namespace_wide_and_cluster_wide() {
    for scope in ["namespace-wide", "cluster-wide"] {
        let (code, out, err) = run_cli(
            &["--cert", &cert(), "--scope", scope, "-o", "yaml"],
            NO_KUBE,
            &fixture_bytes("secret.yaml"),
        );
        assert_eq!(code, 0, "{err}");
        assert_eq!(open_all(&out).len(), 2);
        golden(&format!("seal-{scope}.yaml"), &mask(&out));
    }
    let (code, _, err) = run_cli(
        &["--cert", &cert(), "--scope", "global"],
        NO_KUBE,
        &fixture_bytes("secret.yaml"),
    );
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "error: invalid --scope \"global\": use strict, namespace-wide or cluster-wide\n"
    );
}

#[test]
fn multi_document_json_stream_name_and_namespace_rules() {
    let input = fixture_bytes("two-secrets.json");
    let (code, _, err) = run_cli(&["--cert", &cert()], NO_KUBE, &input);
    assert_eq!(
        (code, err.as_str()),
        (
            1,
            "error: secret \"one\" must declare a namespace (set metadata.namespace or pass --namespace)\n"
        )
    );
    // -n fills the missing namespace but must agree with a declared one.
    let (code, _, err) = run_cli(&["--cert", &cert(), "-n", "ns1"], NO_KUBE, &input);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "error: namespace mismatch: the secret declares namespace \"ns2\" but --namespace is \"ns1\"\n"
    );
    // The kubeconfig context namespace is the default.
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("config");
    std::fs::write(
        &kc,
        "current-context: c\ncontexts:\n- name: c\n  context:\n    namespace: ns1\n",
    )
    .unwrap();
    let (code, out, err) = run_cli(
        &["--cert", &cert(), "--kubeconfig", kc.to_str().unwrap()],
        NO_KUBE,
        &input,
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(open_all(&out).len(), 3);
    golden("seal-two.json", &mask(&out));
    // --name overrides the input's name.
    let (code, out, err) = run_cli(
        &["--cert", &cert(), "--name", "renamed", "-o", "yaml"],
        NO_KUBE,
        &fixture_bytes("secret.yaml"),
    );
    assert_eq!(code, 0, "{err}");
    assert!(open_all(&out).iter().all(|(n, _, _)| n == "renamed"));
}

#[test]
fn input_file_errors_are_clear() {
    let (code, _, err) = run_cli(&["--cert", &cert()], NO_KUBE, b"");
    assert_eq!((code, err.as_str()), (1, "error: no secrets found\n"));
    let (code, _, err) = run_cli(
        &["--cert", &cert()],
        NO_KUBE,
        b"{\"metadata\": {\"name\": \"x\", \"namespace\": \"y\"}, \"data\": {\"k\": \"%%\"}}",
    );
    assert_eq!(
        (code, err.as_str()),
        (1, "error: secret: item \"k\" is not valid base64\n")
    );
    let (code, _, err) = run_cli(&["--cert", &cert()], NO_KUBE, b"{\"metadata\": [1]}");
    assert_eq!(
        (code, err.as_str()),
        (1, "error: secret: field metadata must be an object\n")
    );
    let (code, _, err) = run_cli(
        &["--cert", &cert(), "-f", "/nonexistent/s.yaml"],
        NO_KUBE,
        b"",
    );
    assert_eq!(code, 1);
    assert!(
        err.starts_with("error: cannot read /nonexistent/s.yaml: "),
        "{err}"
    );
    let (code, _, err) = run_cli(
        &[
            "--cert",
            "/nonexistent/cert.pem",
            "-f",
            fixture("secret.yaml").to_str().unwrap(),
        ],
        NO_KUBE,
        b"",
    );
    assert_eq!(code, 1);
    assert!(
        err.starts_with("error: cannot read /nonexistent/cert.pem: "),
        "{err}"
    );
}

#[test]
fn allow_empty_data() {
    let (code, _, err) = run_cli(
        &["--cert", &cert()],
        NO_KUBE,
        &fixture_bytes("empty-secret.yaml"),
    );
    assert_eq!(
        (code, err.as_str()),
        (
            1,
            "error: secret \"empty\" has no data (pass --allow-empty-data to seal it anyway)\n"
        )
    );
    let (code, out, err) = run_cli(
        &["--cert", &cert(), "--allow-empty-data"],
        NO_KUBE,
        &fixture_bytes("empty-secret.yaml"),
    );
    assert_eq!(code, 0, "{err}");
    golden("seal-empty.json", &out);
}

#[test]
fn expired_certificate_is_refused() {
    let key = PrivateKey::generate(2048).unwrap();
    let past = time::OffsetDateTime::now_utc() - time::Duration::days(10);
    let cert = key
        .self_signed_cert("", past, time::Duration::days(1))
        .unwrap();
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), cert.pem()).unwrap();
    let (code, _, err) = run_cli(
        &["--cert", f.path().to_str().unwrap()],
        NO_KUBE,
        &fixture_bytes("secret.yaml"),
    );
    assert_eq!(code, 1);
    assert!(
        err.starts_with("error: failed to encrypt using an expired certificate on "),
        "{err}"
    );
    let (code, _, err) = run_cli(
        &[
            "--cert",
            f.path().to_str().unwrap(),
            "--raw",
            "--scope",
            "cluster-wide",
        ],
        NO_KUBE,
        b"v",
    );
    assert_eq!(code, 1, "{err}");
}

#[test]
fn raw_mode_with_from_file_and_scopes() {
    let ring = ring();
    let dir = tempfile::tempdir().unwrap();
    let value = dir.path().join("value.txt");
    std::fs::write(&value, b"s3cret\n").unwrap();
    let from = format!("password={}", value.display());
    let (code, out, err) = run_cli(
        &[
            "--cert",
            &cert(),
            "--raw",
            "--from-file",
            &from,
            "-n",
            "ns",
            "--name",
            "n",
        ],
        NO_KUBE,
        b"",
    );
    assert_eq!(code, 0, "{err}");
    assert!(!out.ends_with('\n') && out.starts_with("Ag"));
    let blob = coffer_sealed::model::decode_b64(&out).unwrap();
    assert_eq!(&ring.decrypt(&blob, b"ns/n", "").unwrap()[..], b"s3cret\n");
    // stdin, namespace-wide
    let (code, out, err) = run_cli(
        &[
            "--cert",
            &cert(),
            "--raw",
            "--scope",
            "namespace-wide",
            "-n",
            "ns",
        ],
        NO_KUBE,
        b"v",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        &ring
            .decrypt(&coffer_sealed::model::decode_b64(&out).unwrap(), b"ns", "")
            .unwrap()[..],
        b"v"
    );
    // cluster-wide needs neither name nor namespace
    let (code, out, err) = run_cli(
        &["--cert", &cert(), "--raw", "--scope", "cluster-wide"],
        NO_KUBE,
        b"v",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        &ring
            .decrypt(&coffer_sealed::model::decode_b64(&out).unwrap(), b"", "")
            .unwrap()[..],
        b"v"
    );
    // errors
    let (code, _, err) = run_cli(&["--cert", &cert(), "--raw", "-n", "ns"], NO_KUBE, b"v");
    assert_eq!(
        (code, err.as_str()),
        (
            1,
            "error: must provide the --name flag with --raw and --scope strict\n"
        )
    );
    let (code, _, err) = run_cli(&["--cert", &cert(), "--raw", "--name", "n"], NO_KUBE, b"v");
    assert_eq!(
        (code, err.as_str()),
        (
            1,
            "error: must provide the --namespace flag with --raw and --scope strict or namespace-wide\n"
        )
    );
    let (code, _, err) = run_cli(&["--cert", &cert(), "--from-file", &from], NO_KUBE, b"");
    assert_eq!(
        (code, err.as_str()),
        (1, "error: --from-file requires --raw\n")
    );
    let (code, _, err) = run_cli(
        &[
            "--cert",
            &cert(),
            "--raw",
            "--scope",
            "cluster-wide",
            "--from-file",
            &from,
            "--from-file",
            &from,
        ],
        NO_KUBE,
        b"",
    );
    assert_eq!(
        (code, err.as_str()),
        (
            1,
            "error: must provide exactly one --from-file with --raw\n"
        )
    );
}

#[test]
fn merge_into_rewrites_the_target_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("sealed.yaml");
    let (code, out, _) = run_cli(
        &["--cert", &cert(), "-o", "yaml"],
        NO_KUBE,
        &fixture_bytes("secret.yaml"),
    );
    assert_eq!(code, 0);
    std::fs::write(&target, out).unwrap();
    let extra = b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: ignored\n  namespace: team-a\n  labels: {tier: backend}\nstringData:\n  token: t0k\n";
    let (code, out, err) = run_cli(
        &["--cert", &cert(), "--merge-into", target.to_str().unwrap()],
        NO_KUBE,
        extra,
    );
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    let merged = std::fs::read_to_string(&target).unwrap();
    assert!(
        merged.starts_with("{\n  \"kind\": \"SealedSecret\""),
        "default format is json"
    );
    let items: Vec<String> = open_all(&merged)
        .into_iter()
        .map(|(_, k, v)| format!("{k}={v}"))
        .collect();
    assert_eq!(items, vec!["password=hunter2", "token=t0k", "user=admin"]);
    golden("merge-into.json", &mask(&merged));
}

#[test]
fn recovery_unseal_with_pem_secret_and_list_key_files() {
    let sealed = common::compat().join("kubesealpy/sealedsecret-strict.yaml");
    let list = common::compat().join("kubesealpy/sealing-keys.yaml");
    let dir = tempfile::tempdir().unwrap();
    // A single key Secret (JSON) cut out of the List.
    let docs =
        codec::flatten_lists(codec::parse_documents(&std::fs::read(&list).unwrap(), "l").unwrap());
    let one = dir.path().join("one.json");
    std::fs::write(&one, docs[1].to_string()).unwrap();
    for keys in [
        key_path(),
        list.to_str().unwrap().to_owned(),
        format!("{},{}", one.display(), key_path()),
    ] {
        let (code, out, err) = run_cli(
            &[
                "--recovery-unseal",
                "--recovery-private-key",
                &keys,
                "-f",
                sealed.to_str().unwrap(),
            ],
            NO_KUBE,
            b"",
        );
        assert_eq!(code, 0, "{keys}: {err}");
        golden("recovery-unseal.json", &out);
    }
    let (code, out, err) = run_cli(
        &[
            "--recovery-unseal",
            "--recovery-private-key",
            &key_path(),
            "-o",
            "yaml",
        ],
        NO_KUBE,
        &std::fs::read(&sealed).unwrap(),
    );
    assert_eq!(code, 0, "{err}");
    golden("recovery-unseal.yaml", &out);
    // Wrong key: the old key alone cannot open it.
    let old = common::compat().join("kubesealpy/key-old.pem");
    let (code, _, err) = run_cli(
        &[
            "--recovery-unseal",
            "--recovery-private-key",
            old.to_str().unwrap(),
            "-f",
            sealed.to_str().unwrap(),
        ],
        NO_KUBE,
        b"",
    );
    assert_eq!(code, 1);
    assert!(
        err.starts_with("error: binary: no key could decrypt secret, "),
        "{err}"
    );
    let (code, _, err) = run_cli(
        &["--recovery-unseal", "-f", sealed.to_str().unwrap()],
        NO_KUBE,
        b"",
    );
    assert_eq!(
        (code, err.as_str()),
        (
            1,
            "error: --recovery-unseal needs at least one --recovery-private-key\n"
        )
    );
}

#[test]
fn recovery_unseal_round_trip_of_coffer_output() {
    let (code, sealed, err) = run_cli(
        &["--cert", &cert(), "--scope", "namespace-wide"],
        NO_KUBE,
        &fixture_bytes("secret.yaml"),
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run_cli(
        &["--recovery-unseal", "--recovery-private-key", &key_path()],
        NO_KUBE,
        sealed.as_bytes(),
    );
    assert_eq!(code, 0, "{err}");
    golden("recovery-round-trip.json", &out);
}

#[test]
fn env_variables_mirror_flags() {
    let env = [
        ("KUBECONFIG", "/nonexistent"),
        ("SEALED_SECRETS_CERT", cert_static()),
        ("SEALED_SECRETS_FORMAT", "yaml"),
        ("SEALED_SECRETS_SCOPE", "cluster-wide"),
    ];
    let (code, out, err) = run_cli(&[], &env, &fixture_bytes("secret.yaml"));
    assert_eq!(code, 0, "{err}");
    golden("seal-cluster-wide.yaml", &mask(&out));
    // The command line wins over the environment.
    let (code, out, err) = run_cli(
        &["-o", "json", "--scope", "cluster-wide"],
        &env,
        &fixture_bytes("secret.yaml"),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with('{'));
}

fn cert_static() -> &'static str {
    Box::leak(cert().into_boxed_str())
}

#[test]
fn version_and_help() {
    let (code, out, _) = run_cli(&["--version"], NO_KUBE, b"");
    assert_eq!(code, 0);
    assert!(out.starts_with("kubeseal version: v"));
    let (code, out, _) = run_cli(&["--help"], NO_KUBE, b"");
    assert_eq!(code, 0);
    for flag in [
        "--cert",
        "--fetch-cert",
        "--raw",
        "--merge-into",
        "--re-encrypt",
        "--validate",
        "--recovery-unseal",
        "--allow-empty-data",
        "--controller-namespace",
        "--scope",
    ] {
        assert!(out.contains(flag), "help lacks {flag}");
    }
    let (code, _, err) = run_cli(&["--bogus"], NO_KUBE, b"");
    assert_eq!(code, 1);
    assert!(err.contains("--bogus"));
}
