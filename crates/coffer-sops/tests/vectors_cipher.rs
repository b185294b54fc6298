//! The AES/MAC layer alone against `expected.json`: every `ENC[...]` string
//! of every vector decrypts, with the AAD expected.json gives and the data key
//! it lists, to the expected plaintext; the stored MAC decrypts under the
//! `lastmodified` AAD to the expected MAC; the MAC algorithm reproduces it.

mod common;

use coffer_sops::cipher::{self, DataKey, ValueType};
use regex::Regex;

fn lastmodified(text: &str) -> String {
    let re = Regex::new(r#"lastmodified["']?\s*[:=]\s*["']?([0-9TZ:+\-\.]+)"#).unwrap();
    re.captures(text).expect("lastmodified present")[1].to_owned()
}

#[test]
fn every_value_decrypts_with_expected_aad() {
    let enc_re = Regex::new(r"ENC\[AES256_GCM,data:[^\]]*\]").unwrap();
    let mut files = 0;
    for e in common::expected() {
        let file = e["file"].as_str().unwrap();
        let text = std::fs::read_to_string(common::vectors().join(file)).unwrap();
        let key = DataKey::from_slice(&hex::decode(e["data_key_hex"].as_str().unwrap()).unwrap())
            .unwrap();
        let lm = lastmodified(&text);
        let leaves = e["encrypted_leaves_in_order"].as_array().unwrap();
        let comments = e["yaml_comment_lines"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let (mut li, mut ci, mut macs) = (0, 0, 0);
        for m in enc_re.find_iter(&text) {
            let v = cipher::parse_enc(m.as_str()).unwrap_or_else(|err| panic!("{file}: {err}"));
            while leaves.get(li).is_some_and(|l| l["plaintext"] == "") {
                li += 1;
            }
            let line_start = text[..m.start()].rfind('\n').map_or(0, |i| i + 1);
            if text[line_start..m.start()].contains("mac") {
                let mac = cipher::decrypt(&key, &v, &lm).unwrap_or_else(|_| panic!("{file}: mac"));
                assert_eq!(
                    std::str::from_utf8(&mac).unwrap(),
                    e["stored_mac"].as_str().unwrap(),
                    "{file}"
                );
                macs += 1;
            } else if v.ty == ValueType::Comment
                && leaves.get(li).is_none_or(|l| l["type"] != "comment")
            {
                // comments inside sequences are not listed in expected.json
                if e["format"] == "yaml" && ci < comments.len() {
                    let c = &comments[ci];
                    let pt = cipher::decrypt(&key, &v, c["aad"].as_str().unwrap())
                        .unwrap_or_else(|_| panic!("{file} comment {ci}"));
                    assert_eq!(&pt[..], common::leaf_bytes(c).as_slice(), "{file}");
                    ci += 1;
                }
            } else {
                let l = leaves
                    .get(li)
                    .unwrap_or_else(|| panic!("{file}: extra value {}", m.as_str()));
                assert_eq!(
                    v.ty.as_str(),
                    l["type"].as_str().unwrap(),
                    "{file} leaf {li}"
                );
                let pt = cipher::decrypt(&key, &v, l["aad"].as_str().unwrap())
                    .unwrap_or_else(|_| panic!("{file} leaf {li} aad {}", l["aad"]));
                assert_eq!(
                    &pt[..],
                    common::leaf_bytes(l).as_slice(),
                    "{file} leaf {li}"
                );
                // the wrong AAD must fail
                assert!(cipher::decrypt(&key, &v, "other:").is_err());
                li += 1;
            }
        }
        while leaves.get(li).is_some_and(|l| l["plaintext"] == "") {
            li += 1;
        }
        assert_eq!(li, leaves.len(), "{file}: all leaves seen");
        let enc_comments = comments.iter().filter(|c| c["type"] == "comment").count();
        assert!(ci <= enc_comments, "{file}");
        assert_eq!(macs, usize::from(!file.ends_with("no_mac.yaml")), "{file}");
        files += 1;
    }
    assert_eq!(files, 18);
}

/// For files whose every MAC-relevant value is encrypted, the MAC is the
/// SHA-512 of the leaves' plaintexts in order.
#[test]
fn mac_from_leaves_matches_expected() {
    let with_cleartext = [
        "example.yaml",
        "example.json",
        "example.ini",
        "shamir-2of3",
        "mac-only-encrypted",
        "no_mac",
    ];
    let mut checked = 0;
    for e in common::expected() {
        let file = e["file"].as_str().unwrap();
        if with_cleartext.iter().any(|s| file.contains(s)) {
            continue;
        }
        let mut h = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA512);
        for l in e["encrypted_leaves_in_order"].as_array().unwrap() {
            h.update(&common::leaf_bytes(l));
        }
        assert_eq!(
            hex::encode_upper(h.finish().as_ref()),
            e["computed_mac"].as_str().unwrap(),
            "{file}"
        );
        checked += 1;
    }
    assert!(checked >= 11);
}
