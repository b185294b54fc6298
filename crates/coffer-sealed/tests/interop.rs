//! A second implementation confirms the format: values coffer seals open with the vectors'
//! `verify.py` and with kubesealpy (PyPI); values kubesealpy seals for a coffer-made
//! certificate open with coffer.

mod common;

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use coffer_sealed::codec::{self, OutputFormat};
use coffer_sealed::seal::{SealOptions, seal_raw, seal_secret};
use coffer_sealed::unseal::{UnsealOptions, unseal};
use coffer_sealed::{KeyRing, PrivateKey, Scope, SealedSecret, SealingCert, Secret, hybrid};
use serde_json::Value;

fn expected_items() -> BTreeMap<String, String> {
    [
        ("username", "YWRtaW4="),
        ("password", "czNjcjN0IXBhJCQ="),
        ("binary", "AP8QgH/DKA=="),
        ("empty", ""),
        ("note", "aGVsbG8gZnJvbSBzdHJpbmdEYXRh"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

#[test]
fn coffer_sealed_documents_open_with_verify_py_and_kubesealpy() {
    let dir = common::compat().join("kubesealpy");
    let cert = SealingCert::from_pem(&std::fs::read(dir.join("cert.pem")).unwrap()).unwrap();
    let input = codec::parse_documents(
        &std::fs::read(dir.join("secret.yaml")).unwrap(),
        "secret.yaml",
    )
    .unwrap();
    let secret = Secret::from_value(&input[0]).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    let mut wrong = Vec::new();
    for (i, scope) in [Scope::Strict, Scope::NamespaceWide, Scope::ClusterWide]
        .into_iter()
        .enumerate()
    {
        let opts = SealOptions {
            scope: Some(scope),
            ..Default::default()
        };
        let ss = seal_secret(&secret, &cert, &opts).unwrap();
        let format = if i % 2 == 0 {
            OutputFormat::Yaml
        } else {
            OutputFormat::Json
        };
        let path = tmp.path().join(format!("{}.out", scope.as_str()));
        std::fs::write(&path, codec::render(&ss.to_value(), format)).unwrap();
        files.push(path);
        // The same document moved to another namespace must not open (any scope but cluster-wide).
        let mut moved = ss.clone();
        moved
            .metadata
            .insert("namespace".into(), "elsewhere".into());
        let path = tmp.path().join(format!("{}-moved.yaml", scope.as_str()));
        std::fs::write(&path, codec::render(&moved.to_value(), OutputFormat::Yaml)).unwrap();
        wrong.push((scope, path));
    }
    let key = dir.join("key.pem");
    let compat = common::compat();
    let mut args = vec!["unseal", compat.to_str().unwrap(), key.to_str().unwrap()];
    args.extend(files.iter().map(|p| p.to_str().unwrap()));
    args.extend(wrong.iter().map(|(_, p)| p.to_str().unwrap()));
    let out = common::interop(&args, b"");
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6);
    let want: Value = serde_json::to_value(expected_items()).unwrap();
    for line in &lines[..3] {
        assert_eq!(line["verify"], want, "verify.py: {line}");
        assert_eq!(line["kubesealpy"], want, "kubesealpy: {line}");
    }
    for ((scope, _), line) in wrong.iter().zip(&lines[3..]) {
        if *scope == Scope::ClusterWide {
            assert_eq!(line["verify"], want, "cluster-wide moves freely: {line}");
        } else {
            assert!(
                line["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("decrypt")),
                "{scope:?} moved must fail: {line}"
            );
        }
    }
}

#[test]
fn coffer_raw_values_open_with_kubesealpy_and_verify_py_2048_and_4096() {
    let dir = common::compat().join("kubesealpy");
    for (certf, keyf) in [("cert.pem", "key.pem"), ("cert-2048.pem", "key-2048.pem")] {
        let cert = SealingCert::from_pem(&std::fs::read(dir.join(certf)).unwrap()).unwrap();
        // A raw value is put into a SealedSecret by hand, as users do, and checked by both.
        let blob = seal_raw(
            b"raw \xe2\x9c\x93",
            &cert,
            Scope::NamespaceWide,
            "team-a",
            "",
        )
        .unwrap();
        let doc = serde_json::json!({"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
            "metadata": {"name": "anything", "namespace": "team-a",
                "annotations": {"sealedsecrets.bitnami.com/namespace-wide": "true"}},
            "spec": {"encryptedData": {"v": blob}, "template": {"metadata": {"name": "anything", "namespace": "team-a"}}}});
        let tmp = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(tmp.path(), doc.to_string()).unwrap();
        let compat = common::compat();
        let key = dir.join(keyf);
        let out = common::interop(
            &[
                "unseal",
                compat.to_str().unwrap(),
                key.to_str().unwrap(),
                tmp.path().to_str().unwrap(),
            ],
            b"",
        );
        let line: Value = serde_json::from_slice(&out.stdout).unwrap();
        let want = STANDARD.encode(b"raw \xe2\x9c\x93");
        assert_eq!(line["verify"]["v"], want.as_str(), "{certf}: {line}");
        assert_eq!(line["kubesealpy"]["v"], want.as_str(), "{certf}: {line}");
    }
}

#[test]
fn kubesealpy_seals_for_a_coffer_generated_certificate() {
    let key = PrivateKey::generate(4096).unwrap();
    let cert = key
        .self_signed_cert(
            "",
            time::OffsetDateTime::now_utc(),
            time::Duration::days(3650),
        )
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let cert_path = tmp.path().join("cert.pem");
    std::fs::write(&cert_path, cert.pem()).unwrap();
    let ring = KeyRing::from_keys([key.clone()]);
    let data =
        serde_json::json!({"a": STANDARD.encode(b"alpha"), "bin": STANDARD.encode([0u8, 255, 7])});
    for scope in ["strict", "namespace-wide", "cluster-wide"] {
        let out = common::interop(
            &["seal", cert_path.to_str().unwrap(), scope, "ns1", "s1"],
            data.to_string().as_bytes(),
        );
        let docs = codec::parse_documents(&out.stdout, "kubesealpy output").unwrap();
        let ss = SealedSecret::from_value(&docs[0], true).unwrap();
        let secret =
            unseal(&ss, &ring, UnsealOptions::default()).unwrap_or_else(|e| panic!("{scope}: {e}"));
        assert_eq!(&secret.data["a"][..], b"alpha");
        assert_eq!(&secret.data["bin"][..], &[0u8, 255, 7]);
    }
    let raw = common::interop(
        &[
            "raw",
            cert_path.to_str().unwrap(),
            "strict",
            "ns1",
            "s1",
            &STANDARD.encode("x"),
        ],
        b"",
    );
    let blob = STANDARD.decode(raw.stdout).unwrap();
    assert_eq!(
        &hybrid::decrypt(key.oaep(), &blob, b"ns1/s1").unwrap()[..],
        b"x"
    );
    assert!(hybrid::decrypt(key.oaep(), &blob, b"ns1").is_err());
}
