use proptest::prelude::*;

use super::*;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn key32(s: &str) -> [u8; 32] {
    unhex(s).try_into().expect("32-byte key")
}

fn vectors() -> serde_json::Value {
    serde_json::from_str(include_str!("../../tests/vectors/barrier.json")).expect("vector json")
}

/// Entries made by pyca/cryptography (`tests/vectors/barrier_vectors.py`) decrypt here.
#[test]
fn independent_vectors_decrypt() {
    let doc = vectors();
    for e in doc["entries"].as_array().expect("entries") {
        let term = e["term"].as_u64().expect("term") as u32;
        let ring = Keyring::with_key(term, key32(e["key"].as_str().expect("key")), 0);
        let path = e["path"].as_str().expect("path");
        let entry = unhex(e["entry"].as_str().expect("entry"));
        let plain = ring.decrypt(path, &entry).expect("decrypt vector");
        assert!(plain.ct_eq(&unhex(e["plaintext"].as_str().expect("plaintext"))));
        assert_eq!(&entry[..4], &term.to_be_bytes());
        assert_eq!(entry[4], ENTRY_VERSION);
        assert_eq!(
            &entry[5..17],
            &unhex(e["nonce"].as_str().expect("nonce"))[..]
        );
    }
}

/// The keyring blob layout matches the independent encoder, both ways, and the root-key
/// seal made by pyca/cryptography opens with `aead::open`.
#[test]
fn independent_keyring_blob_and_root_seal() {
    let doc = vectors();
    let blob = unhex(doc["keyring"]["blob"].as_str().expect("blob"));
    let ring = Keyring::from_bytes(&blob).expect("parse vector keyring");
    assert_eq!(ring.active_term(), 2);
    assert_eq!(
        ring.term_info(1).map(|t| t.install_time),
        Some(1_763_800_000)
    );
    assert_eq!(
        ring.term_info(2).map(|t| t.install_time),
        Some(1_763_900_000)
    );
    assert!(
        ring.to_bytes().ct_eq(&blob),
        "serialization is byte-identical"
    );
    for e in doc["entries"].as_array().expect("entries") {
        let entry = unhex(e["entry"].as_str().expect("entry"));
        ring.decrypt(e["path"].as_str().expect("path"), &entry)
            .expect("both terms decrypt");
    }
    let seal = &doc["root_seal"];
    let opened = aead::open(
        &key32(seal["key"].as_str().expect("key")),
        &unhex(seal["aad"].as_str().expect("aad")),
        &unhex(seal["sealed"].as_str().expect("sealed")),
    )
    .expect("open vector");
    assert!(opened.ct_eq(&blob));
}

#[test]
fn round_trip_and_layout() {
    let ring = Keyring::generate();
    assert_eq!(ring.active_term(), 1);
    let entry = ring.encrypt("logical/x/foo", b"value");
    assert_eq!(entry.len(), ENTRY_OVERHEAD + 5);
    assert_eq!(&entry[..5], &[0, 0, 0, 1, 2]);
    assert!(
        ring.decrypt("logical/x/foo", &entry)
            .expect("decrypt")
            .ct_eq(b"value")
    );
    assert_ne!(
        ring.encrypt("p", b"v"),
        ring.encrypt("p", b"v"),
        "random nonces"
    );
    let empty = ring.encrypt("p", b"");
    assert!(ring.decrypt("p", &empty).expect("decrypt").is_empty());
    assert_eq!(ring.term_info(1).map(|t| t.encryptions), Some(4));
}

#[test]
fn wrong_path_is_rejected() {
    let ring = Keyring::generate();
    let entry = ring.encrypt("logical/a/secret", b"value");
    let err = ring.decrypt("logical/b/secret", &entry).unwrap_err();
    assert_eq!(
        err,
        BarrierError::Authentication {
            path: "logical/b/secret".into()
        }
    );
    assert!(ring.decrypt("logical/a/secret/", &entry).is_err());
    assert!(ring.decrypt("", &entry).is_err());
}

#[test]
fn tampering_any_byte_is_rejected() {
    let ring = Keyring::generate();
    let entry = ring.encrypt("core/x", b"some secret value");
    for i in 0..entry.len() {
        for bit in [0x01, 0x80] {
            let mut t = entry.clone();
            t[i] ^= bit;
            let err = ring
                .decrypt("core/x", &t)
                .expect_err("tampered entry must fail");
            match i {
                0..=3 => assert!(
                    matches!(err, BarrierError::UnknownTerm { .. }),
                    "byte {i}: {err:?}"
                ),
                4 => assert!(
                    matches!(err, BarrierError::UnknownVersion { .. }),
                    "byte {i}: {err:?}"
                ),
                _ => assert!(
                    matches!(err, BarrierError::Authentication { .. }),
                    "byte {i}: {err:?}"
                ),
            }
        }
    }
    for len in 0..entry.len() {
        assert!(
            ring.decrypt("core/x", &entry[..len]).is_err(),
            "truncated to {len}"
        );
    }
    let mut longer = entry.clone();
    longer.push(0);
    assert!(ring.decrypt("core/x", &longer).is_err());
}

#[test]
fn rotation_keeps_old_terms_decryptable() {
    let mut ring = Keyring::generate();
    let old = ring.encrypt("k", b"old");
    assert_eq!(ring.rotate().expect("rotate"), 2);
    assert_eq!(ring.rotate().expect("rotate"), 3);
    assert_eq!(ring.active_term(), 3);
    let new = ring.encrypt("k", b"new");
    assert_eq!(&new[..4], &3u32.to_be_bytes());
    assert!(ring.decrypt("k", &old).expect("old term").ct_eq(b"old"));
    assert!(ring.decrypt("k", &new).expect("new term").ct_eq(b"new"));
    assert_eq!(ring.terms().map(|t| t.term).collect::<Vec<_>>(), [1, 2, 3]);
    // A keyring that never had term 3 cannot read the new entry.
    let other = Keyring::generate();
    assert_eq!(
        other.decrypt("k", &new).unwrap_err(),
        BarrierError::UnknownTerm {
            path: "k".into(),
            term: 3
        }
    );
    // Serialized and restored, every term still decrypts.
    let restored = Keyring::from_bytes(ring.to_bytes().expose()).expect("restore");
    assert_eq!(restored.active_term(), 3);
    assert!(restored.decrypt("k", &old).expect("old").ct_eq(b"old"));
    assert!(restored.decrypt("k", &new).expect("new").ct_eq(b"new"));
    assert_eq!(
        restored.term_info(2),
        ring.term_info(2).map(|t| TermInfo {
            encryptions: 0,
            ..t
        })
    );
    let cloned = ring.clone();
    assert!(cloned.decrypt("k", &old).is_ok());
}

#[test]
fn rotation_stops_at_the_last_term() {
    let mut ring = Keyring::with_key(u32::MAX, [0; 32], 0);
    assert_eq!(ring.rotate().unwrap_err(), BarrierError::TermOverflow);
    assert_eq!(ring.active_term(), u32::MAX);
}

#[test]
fn malformed_keyring_blobs_are_rejected() {
    let good = Keyring::generate().to_bytes();
    let g = good.expose();
    assert!(Keyring::from_bytes(g).is_ok());
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (Vec::new(), "header"),
        (g[..8].to_vec(), "header"),
        (g[..g.len() - 1].to_vec(), "length"),
        ([g, &[0]].concat(), "length"),
        ([&[2], &g[1..]].concat(), "version"),
        ([&g[..5], &[0, 0, 0, 0]].concat(), "no terms"),
        ([&g[..1], &[0, 0, 0, 9], &g[5..]].concat(), "active term"),
        ([&g[..9], &[0, 0, 0, 0], &g[13..]].concat(), "ascending"),
    ];
    for (bytes, want) in cases {
        let err = Keyring::from_bytes(&bytes).expect_err("malformed");
        assert!(err.to_string().contains(want), "{err} (wanted {want})");
    }
    let two = {
        let mut r = Keyring::generate();
        r.rotate().expect("rotate");
        r.to_bytes()
    };
    // Swap the two term records: terms no longer ascending.
    let t = two.expose();
    let swapped = [&t[..9], &t[9 + 44..], &t[9..9 + 44]].concat();
    assert!(Keyring::from_bytes(&swapped).is_err());
}

#[test]
fn debug_and_errors_hide_keys() {
    let ring = Keyring::with_key(1, [0xAB; 32], 0);
    let dbg = format!("{ring:?}");
    assert!(
        !dbg.to_lowercase().contains("ab, ") && !dbg.contains("171"),
        "{dbg}"
    );
    assert_eq!(dbg, "Keyring { active: 1, terms: [1], .. }");
    let err = ring.decrypt("p", &[0; 40]).unwrap_err().to_string();
    assert!(!err.contains("171") && !err.contains("0xab"), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn encrypt_decrypt_round_trips(path in ".{0,40}", value in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let ring = Keyring::generate();
        let entry = ring.encrypt(&path, &value);
        prop_assert_eq!(entry.len(), value.len() + ENTRY_OVERHEAD);
        prop_assert!(ring.decrypt(&path, &entry).expect("decrypt").ct_eq(&value));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let ring = Keyring::generate();
        prop_assert!(ring.decrypt("p", &bytes).is_err());
        let _ = Keyring::from_bytes(&bytes);
    }
}
