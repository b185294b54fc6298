//! Every vector in `shared/compat/sealed-secrets` unseals to its expected plaintext in the right
//! scope and fails in the wrong one.

use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use coffer_sealed::hybrid::{self, CLUSTER_WIDE_ANNOTATION, NAMESPACE_WIDE_ANNOTATION, Scope};
use coffer_sealed::keys::SealingCert;
use coffer_sealed::unseal::{UnsealOptions, unseal};
use coffer_sealed::{KeyRing, PrivateKey, SealedSecret, codec};
use serde_json::Value;

fn compat() -> PathBuf {
    let p = std::env::var("COFFER_SEALED_COMPAT")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/compat/sealed-secrets")
        });
    assert!(
        p.join("verify.py").exists(),
        "compat vectors not found at {} (set COFFER_SEALED_COMPAT)",
        p.display()
    );
    p
}

fn json(path: PathBuf) -> Value {
    serde_json::from_slice(
        &std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

fn b64(v: &Value) -> Vec<u8> {
    STANDARD.decode(v.as_str().unwrap()).unwrap()
}

fn real_key() -> PrivateKey {
    let docs = codec::parse_documents(
        &std::fs::read(compat().join("real-kubeseal/example-key.yaml")).unwrap(),
        "key",
    )
    .unwrap();
    let pem = b64(&docs[0]["data"]["tls.key"]);
    PrivateKey::from_pem(&pem, "example-key.yaml").unwrap()
}

#[test]
fn real_kubeseal_values_open_only_with_their_strict_label() {
    let key = real_key();
    let exp = json(compat().join("real-kubeseal/expected.json"));
    let cases = exp["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 6);
    for c in cases {
        let blob = b64(&c["ciphertext_b64"]);
        assert_eq!(&blob[..2], &[0x02, 0x00], "4096-bit length prefix");
        let label = c["oaep_label"].as_str().unwrap().as_bytes();
        let plain = hybrid::decrypt(key.oaep(), &blob, label).expect("real kubeseal value opens");
        assert_eq!(&plain[..], &b64(&c["plaintext_b64"])[..]);
        let ns = c["namespace"].as_str().unwrap();
        for wrong in [
            hybrid::label(Scope::NamespaceWide, ns, "x"),
            Vec::new(),
            b"my-namespace/other".to_vec(),
        ] {
            assert!(
                hybrid::decrypt(key.oaep(), &blob, &wrong).is_err(),
                "opened with wrong label {wrong:?}"
            );
        }
    }
}

#[test]
fn real_controller_certificate_is_read() {
    let docs = codec::parse_documents(
        &std::fs::read(compat().join("real-kubeseal/example-key.yaml")).unwrap(),
        "key",
    )
    .unwrap();
    let cert = SealingCert::from_pem(&b64(&docs[0]["data"]["tls.crt"])).unwrap();
    assert_eq!(cert.id(), real_key().id());
    assert_eq!(cert.not_after().year(), 2031);
}

fn kubesealpy_key(file: &str) -> PrivateKey {
    PrivateKey::from_pem(
        &std::fs::read(compat().join("kubesealpy").join(file)).unwrap(),
        file,
    )
    .unwrap()
}

fn load_ss(file: &str) -> SealedSecret {
    let docs = codec::parse_documents(
        &std::fs::read(compat().join("kubesealpy").join(file)).unwrap(),
        file,
    )
    .unwrap();
    SealedSecret::from_value(&docs[0], true).unwrap()
}

#[test]
fn kubesealpy_cases_all_scopes_mutations_and_key_subsets() {
    let exp = json(compat().join("kubesealpy/expected.json"));
    let keyset: Vec<PrivateKey> = exp["controller_keyset"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| kubesealpy_key(f.as_str().unwrap()))
        .collect();
    let mut checked = 0;
    for c in exp["cases"].as_array().unwrap() {
        let file = c["file"].as_str().unwrap();
        let mut ss = load_ss(file);
        if let Some(m) = c.get("mutate_metadata").and_then(Value::as_object) {
            for (k, v) in m {
                if k == "drop_scope_annotations" {
                    if let Some(Value::Object(a)) = ss.metadata.get_mut("annotations") {
                        a.remove(CLUSTER_WIDE_ANNOTATION);
                        a.remove(NAMESPACE_WIDE_ANNOTATION);
                    }
                } else {
                    ss.metadata.insert(k.clone(), v.clone());
                }
            }
        }
        let keys: Vec<PrivateKey> = match c.get("only_keys") {
            Some(only) => only
                .as_array()
                .unwrap()
                .iter()
                .map(|f| kubesealpy_key(f.as_str().unwrap()))
                .collect(),
            None => keyset.clone(),
        };
        let ring = KeyRing::from_keys(keys);
        let what = format!(
            "{file} {:?} {:?}",
            c.get("mutate_metadata"),
            c.get("only_keys")
        );
        let result = unseal(&ss, &ring, UnsealOptions::default());
        if c["expect_error"].as_bool().unwrap_or(false) {
            let err = result.expect_err(&what);
            assert!(
                err.to_string().contains("no key could decrypt secret"),
                "{what}: {err}"
            );
        } else {
            let secret = result.unwrap_or_else(|e| panic!("{what}: {e}"));
            let want = c["expect_data_b64"].as_object().unwrap();
            assert_eq!(secret.data.len(), want.len(), "{what}");
            for (k, v) in want {
                assert_eq!(&secret.data[k][..], &b64(v)[..], "{what} item {k}");
            }
            if let Some(label) = c.get("oaep_label").and_then(Value::as_str) {
                let meta = &ss.metadata;
                let scope = Scope::from_annotations(|k| meta.get("annotations")?.get(k)?.as_str());
                let ns = meta["namespace"].as_str().unwrap();
                assert_eq!(
                    hybrid::label(scope, ns, meta["name"].as_str().unwrap()),
                    label.as_bytes(),
                    "{what}"
                );
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 12);
}

#[test]
fn kubesealpy_raw_values_including_2048_bit() {
    let exp = json(compat().join("kubesealpy/expected.json"));
    for (tag, r) in exp["raw"].as_object().unwrap() {
        let key = kubesealpy_key(r["key"].as_str().unwrap());
        let blob = b64(&r["ciphertext_b64"]);
        let label = r["label"].as_str().unwrap().as_bytes();
        let plain =
            hybrid::decrypt(key.oaep(), &blob, label).unwrap_or_else(|e| panic!("raw {tag}: {e}"));
        assert_eq!(&plain[..], &b64(&r["plaintext_b64"])[..], "raw {tag}");
        assert!(
            hybrid::decrypt(key.oaep(), &blob, b"wrong/label").is_err(),
            "raw {tag} wrong label"
        );
    }
}

#[test]
fn keys_as_controller_secrets_list_load() {
    let docs = codec::parse_documents(
        &std::fs::read(compat().join("kubesealpy/sealing-keys.yaml")).unwrap(),
        "keys",
    )
    .unwrap();
    let items = codec::flatten_lists(docs);
    assert_eq!(items.len(), 2);
    for item in items {
        let key = PrivateKey::from_pem(&b64(&item["data"]["tls.key"]), "key secret").unwrap();
        let cert = SealingCert::from_pem(&b64(&item["data"]["tls.crt"])).unwrap();
        assert_eq!(key.id(), cert.id());
    }
}

#[test]
fn template_case_owner_reference_and_tamper() {
    let ring = KeyRing::from_keys([kubesealpy_key("key.pem"), kubesealpy_key("key-old.pem")]);
    let mut ss = load_ss("sealedsecret-template.yaml");
    ss.metadata.insert("uid".into(), "1234".into());
    let secret = unseal(&ss, &ring, UnsealOptions::default()).unwrap();
    assert_eq!(
        &secret.data["config.json"][..],
        br#"{"user": "admin", "password": "s3cr3t!pa$$"}"#
    );
    assert_eq!(secret.type_.as_deref(), Some("Opaque"));
    let owner = &secret.metadata["ownerReferences"][0];
    assert_eq!(
        owner,
        &serde_json::json!({"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
        "name": "demo-secret", "uid": "1234", "controller": true})
    );
    // One flipped byte in the AES part breaks the item (GCM tag).
    let mut blob = STANDARD.decode(&ss.encrypted_data["username"]).unwrap();
    let last = blob.len() - 1;
    blob[last] ^= 1;
    ss.encrypted_data
        .insert("username".into(), STANDARD.encode(blob));
    let err = unseal(&ss, &ring, UnsealOptions::default()).unwrap_err();
    assert_eq!(err.to_string(), "username: no key could decrypt secret");
}
