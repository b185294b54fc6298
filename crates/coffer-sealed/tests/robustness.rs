//! No panics on hostile input: arbitrary bytes through the document parsers, the object model,
//! the hybrid cipher, the template engine and the controller handlers; plus the deprecated v1
//! `spec.data` path.

use std::sync::OnceLock;

use coffer_sealed::controller::http::{Handlers, Request};
use coffer_sealed::unseal::{UnsealOptions, unseal};
use coffer_sealed::{
    KeyRing, PrivateKey, SealedSecret, Secret, UnsealError, codec, hybrid, model, template,
};
use proptest::prelude::*;

fn key() -> &'static PrivateKey {
    static K: OnceLock<PrivateKey> = OnceLock::new();
    K.get_or_init(|| PrivateKey::generate(2048).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(docs) = codec::parse_documents(&bytes, "fuzz") {
            for d in &docs {
                let _ = Secret::from_value(d);
                if let Ok(ss) = SealedSecret::from_value(d, false) {
                    let _ = codec::render(&ss.to_value(), codec::OutputFormat::Yaml);
                    let _ = unseal(&ss, &KeyRing::from_keys([key().clone()]), UnsealOptions::default());
                }
            }
        }
    }

    #[test]
    fn yaml_like_text_never_panics(s in "[a-z:{}\\[\\]\\-'\" \\n#|>&*!]{0,200}") {
        let _ = codec::parse_documents(s.as_bytes(), "fuzz");
    }

    #[test]
    fn hybrid_decrypt_rejects_garbage(blob in proptest::collection::vec(any::<u8>(), 0..700), label in proptest::collection::vec(any::<u8>(), 0..20)) {
        prop_assert!(hybrid::decrypt(key().oaep(), &blob, &label).is_err());
    }

    #[test]
    fn templates_never_panic(t in "[a-z .|{}\"()$-]{0,80}") {
        let data = [("a".to_owned(), "x".to_owned())].into_iter().collect();
        let _ = template::render(&t, &data);
    }

    #[test]
    fn handlers_never_panic(body in proptest::collection::vec(any::<u8>(), 0..300), path in "/(v1/(verify|rotate|cert\\.pem)|healthz|x)") {
        let h = Handlers::default();
        let ring = KeyRing::from_keys([key().clone()]);
        let r = h.handle(&ring, Request { method: "POST", path: &path, forwarded_for: None, body: &body }, std::time::Instant::now());
        prop_assert!(r.status != 200 || path == "/healthz");
    }

    #[test]
    fn long_folded_yaml_strings_round_trip(s in "[a-z' ]{0,300}", k in "[a-z]{1,30}") {
        let v = serde_json::json!({"metadata": {"annotations": {k: s}}, "l": [s.clone()]});
        let text = codec::render(&v, codec::OutputFormat::Yaml);
        prop_assert_eq!(&codec::parse_documents(text.as_bytes(), "rt").unwrap()[0], &v, "yaml: {}", text);
    }

    #[test]
    fn yaml_strings_round_trip(s in "\\PC{0,40}") {
        let v = serde_json::json!({"k": s});
        let text = codec::render(&v, codec::OutputFormat::Yaml);
        let back = codec::parse_documents(text.as_bytes(), "rt").unwrap();
        prop_assert_eq!(&back[0], &v, "yaml: {}", text);
        let json = codec::render(&v, codec::OutputFormat::Json);
        prop_assert_eq!(&codec::parse_documents(json.as_bytes(), "rt").unwrap()[0], &v);
    }
}

#[test]
fn deprecated_v1_data_is_read_by_the_controller_only() {
    let ring = KeyRing::from_keys([key().clone()]);
    let secret = serde_json::json!({"kind": "Secret", "apiVersion": "v1", "metadata": {"name": "old", "namespace": "ns"},
        "data": {"k": "djE="}, "type": "Opaque"});
    let blob = hybrid::encrypt(key().public(), secret.to_string().as_bytes(), b"ns/old").unwrap();
    let doc = serde_json::json!({"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
        "metadata": {"name": "old", "namespace": "ns"}, "spec": {"data": model::encode_b64(&blob), "encryptedData": {}}});
    let ss = SealedSecret::from_value(&doc, true).unwrap();
    let s = unseal(
        &ss,
        &ring,
        UnsealOptions {
            accept_v1_data: true,
        },
    )
    .unwrap();
    assert_eq!(&s.data["k"][..], b"v1");
    assert_eq!(
        unseal(
            &ss,
            &ring,
            UnsealOptions {
                accept_v1_data: false
            }
        )
        .unwrap_err(),
        UnsealError::DeprecatedData
    );
    let mut both = ss.clone();
    both.encrypted_data.insert("x".into(), "QQ==".into());
    assert_eq!(
        unseal(&both, &ring, UnsealOptions::default()).unwrap_err(),
        UnsealError::BothData("old".into())
    );
}

#[test]
fn yaml_tricky_strings_round_trip() {
    let tricky = [
        "- a",
        "? x",
        ": y",
        "#c",
        "a: b",
        "'q",
        "\"",
        " lead",
        "trail ",
        "null",
        "~",
        "1e3",
        "0x1F",
        "tab\there",
        "\u{85}",
        "é",
        "a\nb",
        "\n",
        "",
        "- ",
        "@x",
        "`x",
        "%x",
        "---",
        "...",
        "a #b",
        "key:",
        "0o17",
        ".5",
        "+1",
        "1_000",
        "\u{2028}",
        "\r",
        "line\n\n",
        " \n",
        "x\r\ny",
        "-",
        "?",
        ":",
        "yes",
        "Off",
        "=",
        "<<",
        "[a]",
        "{a}",
        "!tag",
        "&a",
        "*a",
        "|",
        ">",
        "a\u{0}b",
    ];
    for s in tricky {
        let v = serde_json::json!({"k": s, s: 1});
        let text = codec::render(&v, codec::OutputFormat::Yaml);
        let back = codec::parse_documents(text.as_bytes(), "rt")
            .unwrap_or_else(|e| panic!("{s:?}: {e}\n{text}"));
        assert_eq!(back[0], v, "{s:?}:\n{text}");
    }
}
