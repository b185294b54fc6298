//! `--key-source coffer` against a real `coffer server -dev` (binary at `$COFFER_BIN`, default
//! `target/debug/coffer` of this workspace; build it with `cargo build -p coffer`): the sealing
//! key is a transit RSA key, the controller side serves its certificate, the CLI seals with it and
//! unsealing goes through `transit/decrypt` with the scope as OAEP label.

#[path = "common/coffer_server.rs"]
mod coffer_server;
mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use coffer_sealed::coffer::{Auth, CofferKeyConfig, CofferKeys};
use coffer_sealed::controller::http::{Handlers, Request};
use coffer_sealed::unseal::{UnsealOptions, unseal};
use coffer_sealed::{KeyRing, SealedSecret, SealingCert, codec};
use coffer_server::{Server, ok, start, transport};

const NO_KUBE: &[(&str, &str)] = &[("KUBECONFIG", "/nonexistent/kubeconfig")];

fn config(s: &Server, token_file: &Path) -> CofferKeyConfig {
    CofferKeyConfig {
        addr: s.addr.clone(),
        auth: Auth::TokenFile(token_file.to_owned()),
        mount: "transit".into(),
        key: "sealing".into(),
        ca_file: None,
        timeout: Duration::from_secs(30),
        cert_cn: "coffer-sealed-test".into(),
        cert_ttl: Duration::from_secs(87_600 * 3600),
    }
}

/// `GET /v1/cert.pem` as the controller serves it.
fn served_cert(ring: &KeyRing) -> String {
    let resp = Handlers::default().handle(
        ring,
        Request {
            method: "GET",
            path: "/v1/cert.pem",
            forwarded_for: None,
            body: b"",
        },
        Instant::now(),
    );
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    String::from_utf8(resp.body).unwrap()
}

/// Checks the certificate independently: its public key is the transit version's, and its
/// signature verifies (aws-lc-rs, PKCS#1 v1.5 SHA-256) with that same key.
fn check_cert(s: &Server, pem: &str, version: u32) {
    use x509_parser::prelude::*;
    let keys = ok(s, "GET", "/v1/transit/keys/sealing", "");
    let v: serde_json::Value = serde_json::from_str(&keys).unwrap();
    let transit_pem = v["data"]["keys"][version.to_string()]["public_key"]
        .as_str()
        .unwrap();
    let (_, pem_block) = parse_x509_pem(pem.as_bytes()).unwrap();
    let (_, cert) = X509Certificate::from_der(&pem_block.contents).unwrap();
    let (_, transit_block) = parse_x509_pem(transit_pem.as_bytes()).unwrap();
    assert_eq!(
        cert.public_key().raw,
        &transit_block.contents[..],
        "certificate carries the transit public key of version {version}"
    );
    let pkcs1 = &cert.public_key().subject_public_key.data;
    let key = aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        pkcs1.as_ref(),
    );
    key.verify(cert.tbs_certificate.as_ref(), &cert.signature_value.data)
        .expect("certificate self-signature verifies with the transit key");
    assert_eq!(cert.issuer(), cert.subject());
}

fn seal_with(cert_pem: &str, dir: &Path, secret: &str) -> SealedSecret {
    let cert_path = dir.join("cert.pem");
    std::fs::write(&cert_path, cert_pem).unwrap();
    let (code, out, err) = common::run_cli(
        &["--cert", cert_path.to_str().unwrap(), "--format", "yaml"],
        NO_KUBE,
        secret.as_bytes(),
    );
    assert_eq!(code, 0, "{err}");
    let docs = codec::parse_documents(out.as_bytes(), "kubeseal output").unwrap();
    SealedSecret::from_value(&docs[0], true).unwrap()
}

fn secret_yaml(name: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: team-a\nstringData:\n  password: {value}\n  user: admin\n"
    )
}

fn opened(ss: &SealedSecret, ring: &KeyRing) -> Vec<(String, String)> {
    let secret = unseal(ss, ring, UnsealOptions::default()).unwrap();
    secret
        .data
        .iter()
        .map(|(k, v)| (k.clone(), String::from_utf8(v.to_vec()).unwrap()))
        .collect()
}

fn audit_decrypts(s: &Server) -> usize {
    let log = std::fs::read_to_string(s.dir.path().join("audit.log")).unwrap_or_default();
    log.lines()
        .filter(|l| l.contains("\"type\":\"request\"") || l.contains("\"type\": \"request\""))
        .filter(|l| l.contains("transit/decrypt/sealing"))
        .count()
}

#[test]
fn seal_unseal_rotate_through_coffer_transit() {
    let s = start("rsa-2048");
    let keys = Arc::new(CofferKeys::connect(config(&s, &s.dir.path().join("token"))).unwrap());
    assert_eq!(keys.latest_version(), Some(1));
    let ring = KeyRing::with_remote(keys.clone());

    // The controller's certificate is a genuine self-signed certificate of the transit key.
    let cert1 = served_cert(&ring);
    check_cert(&s, &cert1, 1);
    assert!(SealingCert::from_pem(cert1.as_bytes()).is_ok());
    assert_eq!(served_cert(&ring), cert1, "the certificate is stable");

    // A second implementation (kubesealpy) accepts the served certificate; coffer unseals what it
    // sealed, in every scope.
    let cert_path = s.dir.path().join("served.pem");
    std::fs::write(&cert_path, &cert1).unwrap();
    for scope in ["strict", "namespace-wide", "cluster-wide"] {
        let out = common::interop(
            &["seal", cert_path.to_str().unwrap(), scope, "ns1", "s1"],
            br#"{"k": "a3ViZXNlYWxweQ=="}"#,
        );
        let docs = codec::parse_documents(&out.stdout, "kubesealpy output").unwrap();
        let ss = SealedSecret::from_value(&docs[0], true).unwrap();
        assert_eq!(
            opened(&ss, &ring),
            vec![("k".to_owned(), "kubesealpy".to_owned())],
            "{scope}"
        );
    }
    let pre = ring.rsa_ops();

    // Seal with the CLI, unseal through coffer in the right scope.
    let old = seal_with(&cert1, s.dir.path(), &secret_yaml("db", "hunter2"));
    let before = audit_decrypts(&s);
    assert_eq!(
        opened(&old, &ring),
        vec![
            ("password".to_owned(), "hunter2".to_owned()),
            ("user".to_owned(), "admin".to_owned())
        ]
    );
    let ops = ring.rsa_ops() - pre;
    assert_eq!(ops, 2, "one transit decrypt per item");

    // Wrong scope: the OAEP label differs, coffer refuses, the error says so.
    let mut moved = old.clone();
    moved.metadata.insert("name".into(), "other".into());
    let err = unseal(&moved, &ring, UnsealOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("no key could decrypt"), "{err}");
    let mut moved_ns = old.clone();
    moved_ns
        .metadata
        .insert("namespace".into(), "team-b".into());
    assert!(unseal(&moved_ns, &ring, UnsealOptions::default()).is_err());

    // Renewal = transit rotate: a new version, a new certificate; old and new values unseal.
    keys.rotate().unwrap();
    assert_eq!(keys.latest_version(), Some(2));
    let cert2 = served_cert(&ring);
    assert_ne!(cert2, cert1);
    check_cert(&s, &cert2, 2);
    let new = seal_with(&cert2, s.dir.path(), &secret_yaml("api", "s3cret"));
    let ops = ring.rsa_ops();
    assert_eq!(
        opened(&new, &ring)[0],
        ("password".to_owned(), "s3cret".to_owned())
    );
    assert_eq!(
        ring.rsa_ops() - ops,
        3,
        "first item: the namespace's remembered version (v1), then v2; second item: the object's (v2)"
    );
    let ops = ring.rsa_ops();
    assert_eq!(
        opened(&old, &ring)[0],
        ("password".to_owned(), "hunter2".to_owned())
    );
    assert_eq!(
        ring.rsa_ops() - ops,
        2,
        "the remembered version (v1) is tried first for the old object"
    );

    // Every RSA operation was a transit request, in coffer's audit log.
    let logged = audit_decrypts(&s) - before;
    assert_eq!(
        logged as u64,
        ring.rsa_ops() - pre,
        "one audited transit/decrypt request per transit decrypt"
    );
    let log = std::fs::read_to_string(s.dir.path().join("audit.log")).unwrap();
    assert!(!log.contains(&s.token), "the audit log hashes the token");

    // Throughput figure (debug build, loopback): items unsealed per second through coffer.
    let started = Instant::now();
    for _ in 0..20 {
        assert_eq!(opened(&new, &ring).len(), 2);
    }
    eprintln!(
        "coffer-held rsa-2048 key: {:.0} items/s unsealed (debug build)",
        40.0 / started.elapsed().as_secs_f64()
    );

    // Offline recovery with an exportable key: transit's PKCS#1 export opens the old value
    // with `kubeseal --recovery-unseal`.
    ok(
        &s,
        "POST",
        "/v1/transit/keys/sealing/config",
        r#"{"exportable": true}"#,
    );
    let v: serde_json::Value = serde_json::from_str(&ok(
        &s,
        "GET",
        "/v1/transit/export/encryption-key/sealing/1",
        "",
    ))
    .unwrap();
    let pem = v["data"]["keys"]["1"].as_str().unwrap();
    let key_file = s.dir.path().join("v1.pem");
    std::fs::write(&key_file, pem).unwrap();
    let sealed_file = s.dir.path().join("old.json");
    std::fs::write(
        &sealed_file,
        serde_json::to_string(&old.to_value()).unwrap(),
    )
    .unwrap();
    let (code, out, err) = common::run_cli(
        &[
            "--recovery-unseal",
            "--recovery-private-key",
            key_file.to_str().unwrap(),
            "-f",
            sealed_file.to_str().unwrap(),
            "-o",
            "yaml",
        ],
        NO_KUBE,
        b"",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("password: aHVudGVyMg=="), "{out}");

    // A fresh ring (controller restart) finds both versions again.
    let keys2 = Arc::new(CofferKeys::connect(config(&s, &s.dir.path().join("token"))).unwrap());
    let ring2 = KeyRing::with_remote(keys2);
    assert_eq!(
        opened(&old, &ring2)[1],
        ("user".to_owned(), "admin".to_owned())
    );
    check_cert(&s, &served_cert(&ring2), 2);
}

#[test]
fn unreachable_coffer_and_bad_token_are_clear_errors() {
    let s = start("rsa-2048");
    // Bad token: connect fails with the status and a hint, never the token.
    let bad = s.dir.path().join("bad-token");
    std::fs::write(&bad, "s.wrong-token-value\n").unwrap();
    let err = CofferKeys::connect(config(&s, &bad))
        .unwrap_err()
        .to_string();
    assert!(err.contains("403") && err.contains("token"), "{err}");
    assert!(!err.contains("wrong-token-value"), "token leaked: {err}");
    // Missing token file.
    let err = CofferKeys::connect(config(&s, &s.dir.path().join("none")))
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot read coffer token file"), "{err}");
    // A key of the wrong type.
    ok(&s, "POST", "/v1/transit/keys/aes", "{}");
    let mut cfg = config(&s, &s.dir.path().join("token"));
    cfg.key = "aes".into();
    let err = CofferKeys::connect(cfg).unwrap_err().to_string();
    assert!(err.contains("needs rsa-2048"), "{err}");
    // Nothing listening.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cfg = config(&s, &s.dir.path().join("token"));
    cfg.addr = format!("http://127.0.0.1:{dead}");
    let err = CofferKeys::connect(cfg).unwrap_err().to_string();
    assert!(
        err.contains("cannot connect to coffer at http://127.0.0.1:"),
        "{err}"
    );

    // coffer goes away after start: unsealing fails with the key service's error, no panic.
    let keys = Arc::new(CofferKeys::connect(config(&s, &s.dir.path().join("token"))).unwrap());
    let ring = KeyRing::with_remote(keys.clone());
    let ss = seal_with(&served_cert(&ring), s.dir.path(), &secret_yaml("db", "x"));
    // The token is revoked: 403 is a key-service failure, not "wrong key".
    std::fs::write(&bad, "s.revoked-token-value\n").unwrap();
    let keys_bad = {
        let mut cfg = config(&s, &s.dir.path().join("token"));
        cfg.auth = Auth::TokenFile(s.dir.path().join("token"));
        CofferKeys::connect(cfg).unwrap()
    };
    std::fs::write(s.dir.path().join("token"), "s.revoked-token-value\n").unwrap();
    let ring_bad = KeyRing::with_remote(Arc::new(keys_bad));
    let err = unseal(&ss, &ring_bad, UnsealOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("key service failed") && err.contains("403"),
        "{err}"
    );
    assert!(!err.contains("revoked-token-value"), "token leaked: {err}");
    let mut s = s;
    s.child.kill().unwrap();
    s.child.wait().unwrap();
    let err = unseal(&ss, &ring, UnsealOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("key service failed") && err.contains("cannot connect to coffer"),
        "{err}"
    );
}

/// The least-privilege policy documented in docs/sealed-secrets.md.
const POLICY: &str = r#"
path "transit/keys/sealing" { capabilities = ["read"] }
path "transit/keys/sealing/rotate" { capabilities = ["update"] }
path "transit/decrypt/sealing" { capabilities = ["update"] }
path "transit/sign/sealing/sha2-256" { capabilities = ["update"] }
"#;

#[test]
fn approle_with_least_privilege_policy() {
    let s = start("rsa-4096");
    ok(
        &s,
        "PUT",
        "/v1/sys/policies/acl/sealed-secrets",
        &serde_json::json!({ "policy": POLICY }).to_string(),
    );
    ok(&s, "POST", "/v1/sys/auth/approle", r#"{"type": "approle"}"#);
    ok(
        &s,
        "POST",
        "/v1/auth/approle/role/controller",
        r#"{"token_policies": ["sealed-secrets"]}"#,
    );
    let v: serde_json::Value = serde_json::from_str(&ok(
        &s,
        "GET",
        "/v1/auth/approle/role/controller/role-id",
        "",
    ))
    .unwrap();
    let role_id = v["data"]["role_id"].as_str().unwrap().to_owned();
    let v: serde_json::Value = serde_json::from_str(&ok(
        &s,
        "POST",
        "/v1/auth/approle/role/controller/secret-id",
        "{}",
    ))
    .unwrap();
    let secret_id = v["data"]["secret_id"].as_str().unwrap().to_owned();
    let (r, sid) = (s.dir.path().join("role-id"), s.dir.path().join("secret-id"));
    std::fs::write(&r, &role_id).unwrap();
    std::fs::write(&sid, &secret_id).unwrap();
    let mut cfg = config(&s, Path::new("/unused"));
    cfg.auth = Auth::AppRole {
        mount: "approle".into(),
        role_id_file: r.clone(),
        secret_id_file: sid.clone(),
    };
    let keys = Arc::new(CofferKeys::connect(cfg.clone()).unwrap());
    let ring = KeyRing::with_remote(keys.clone());
    let cert = served_cert(&ring);
    check_cert(&s, &cert, 1);
    let parsed = SealingCert::from_pem(cert.as_bytes()).unwrap();
    let age = time::OffsetDateTime::now_utc() - parsed.not_before();
    assert!(
        age < time::Duration::minutes(10) && age > time::Duration::seconds(-60),
        "NotBefore is the version's creation time, got {}",
        parsed.not_before()
    );
    let ss = seal_with(&cert, s.dir.path(), &secret_yaml("db", "4096-bit"));
    assert_eq!(opened(&ss, &ring)[0].1, "4096-bit");
    keys.rotate().unwrap();
    assert_eq!(keys.latest_version(), Some(2));
    assert_eq!(opened(&ss, &ring)[0].1, "4096-bit");
    let debug = format!("{ring:?}");
    assert!(debug.contains("versions: [2, 1]"), "{debug}");
    let token: serde_json::Value = serde_json::from_slice(
        &transport(&s.addr)
            .request(
                "POST",
                "/v1/auth/approle/login",
                &[],
                serde_json::json!({"role_id": role_id, "secret_id": secret_id})
                    .to_string()
                    .as_bytes(),
            )
            .unwrap()
            .1,
    )
    .unwrap();
    let prefix = &token["auth"]["client_token"].as_str().unwrap()[..6];
    assert!(
        !debug.contains(&secret_id) && !debug.contains(prefix),
        "{debug}"
    );

    // A wrong secret id is a clear login error that names neither id.
    std::fs::write(&sid, "00000000-0000-0000-0000-000000000000").unwrap();
    let err = CofferKeys::connect(cfg).unwrap_err().to_string();
    assert!(
        err.contains("approle login") && err.contains("failed"),
        "{err}"
    );
    assert!(
        !err.contains(&role_id) && !err.contains("00000000-0000"),
        "{err}"
    );
}
