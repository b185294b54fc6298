//! Every vector in compat/sops decrypts through the full stack (format,
//! metadata, age / PGP / Shamir data key, values, MAC) to the plaintext
//! expected.json lists; `no_mac.yaml` needs `--ignore-mac`.

mod common;

use std::path::Path;

use coffer_sops::document;
use coffer_sops::error::Error;
use coffer_sops::format::{self, Format, Style};
use coffer_sops::keys::{KeyContext, age};
use coffer_sops::tree::{Branch, Item, Value};
use coffer_sops::walk::aad_of;

fn gnupg_home() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let key = common::vectors().join("getsops-sops/keys/sops_functional_tests_key.asc");
    let st = std::process::Command::new("gpg")
        .env("GNUPGHOME", dir.path())
        .args(["--batch", "--quiet", "--import"])
        .arg(&key)
        .output()
        .expect("gpg must be installed for the PGP vectors");
    assert!(
        st.status.success(),
        "gpg --import failed: {}",
        String::from_utf8_lossy(&st.stderr)
    );
    dir
}

fn ctx_for(entry: &serde_json::Value, home: &Path) -> KeyContext {
    let mut ctx = KeyContext::with_order("age,pgp");
    ctx.gnupg_home = Some(home.to_owned());
    if entry["master_key_type"] == "age" {
        let text = std::fs::read_to_string(
            common::vectors().join(entry["private_key_file"].as_str().unwrap()),
        )
        .unwrap();
        ctx = ctx.with_identities(age::parse_identities(&text));
    }
    ctx
}

/// (aad, plaintext value) of every leaf that is encrypted in `enc`.
fn encrypted_leaves(enc: &[Branch], dec: &[Branch]) -> Vec<(String, Value)> {
    fn map(e: &[Item], d: &[Item], path: &mut Vec<String>, out: &mut Vec<(String, Value)>) {
        let dp: Vec<&Item> = d.iter().filter(|i| matches!(i, Item::Pair(..))).collect();
        let ep: Vec<&Item> = e.iter().filter(|i| matches!(i, Item::Pair(..))).collect();
        for (ei, di) in ep.iter().zip(dp) {
            if let (Item::Pair(k, ev), Item::Pair(_, dv)) = (ei, di) {
                path.push(k.clone());
                value(ev, dv, path, out);
                path.pop();
            }
        }
    }
    fn value(e: &Value, d: &Value, path: &mut Vec<String>, out: &mut Vec<(String, Value)>) {
        match (e, d) {
            (Value::Map(ei), Value::Map(di)) => map(ei, di, path, out),
            (Value::Seq(es), Value::Seq(ds)) => {
                for (ev, dv) in es.iter().zip(ds) {
                    value(ev, dv, path, out);
                }
            }
            (Value::Str(s), dv) if s.starts_with("ENC[") => out.push((aad_of(path), dv.clone())),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (e, d) in enc.iter().zip(dec) {
        map(e, d, &mut Vec::new(), &mut out);
    }
    out
}

fn matches_expected(v: &Value, leaf: &serde_json::Value) -> bool {
    let pt = &leaf["plaintext"];
    match (leaf["type"].as_str().unwrap(), v) {
        ("str", Value::Str(s)) => pt.as_str() == Some(s),
        ("int", Value::Int(i)) => pt.as_i64() == Some(*i),
        ("float", Value::Float(f)) => pt.as_f64() == Some(*f),
        ("bool", Value::Bool(b)) => pt.as_bool() == Some(*b),
        ("comment", Value::Comment(c)) => pt.as_str() == Some(c),
        _ => false,
    }
}

#[test]
fn all_vectors_decrypt_and_verify() {
    let home = gnupg_home();
    let mut n = 0;
    for e in common::expected() {
        let file = e["file"].as_str().unwrap();
        let path = common::vectors().join(file);
        let bytes = std::fs::read(&path).unwrap();
        let f = Format::parse(e["format"].as_str().unwrap()).unwrap();
        let mut ctx = ctx_for(&e, home.path());
        let no_mac = file.ends_with("no_mac.yaml");
        let res = document::decrypt(&bytes, f, &mut ctx, false);
        let dec = if no_mac {
            assert!(
                matches!(res, Err(Error::MacNotFound)),
                "{file}: must need --ignore-mac"
            );
            assert_eq!(Error::MacNotFound.exit_code(), 51);
            document::decrypt(&bytes, f, &mut ctx_for(&e, home.path()), true).unwrap()
        } else {
            res.unwrap_or_else(|err| panic!("{file}: {err}"))
        };
        assert_eq!(
            hex::encode(dec.key.as_bytes()),
            e["data_key_hex"].as_str().unwrap(),
            "{file}"
        );
        let (enc_branches, _) = document::parse_encrypted(&bytes, f).unwrap();
        let got = encrypted_leaves(&enc_branches, &dec.branches);
        let want: Vec<&serde_json::Value> = e["encrypted_leaves_in_order"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["plaintext"] != "")
            .collect();
        assert_eq!(got.len(), want.len(), "{file}: {got:?}");
        for ((aad, v), l) in got.iter().zip(want) {
            assert_eq!(aad, l["aad"].as_str().unwrap(), "{file}");
            assert!(
                matches_expected(v, l),
                "{file}: {aad} decrypted to {v:?}, expected {l}"
            );
        }
        // the plaintext output parses back to the same tree
        let out = dec.plaintext(f, Style::default()).unwrap();
        if f != Format::Binary {
            let mut again = format::load_plain(&out, f).unwrap();
            let mut want = strip_seq_comments(&dec.branches, f);
            // JSON writes the float 7.0 as 7, read back as an int (sops ≥ 3.13.2 does the same)
            normalize_numbers(&mut again);
            normalize_numbers(&mut want);
            assert_eq!(again, want, "{file}");
        }
        n += 1;
    }
    assert_eq!(n, 18);
}

/// JSON drops comments; everything else keeps them.
fn strip_seq_comments(b: &[Branch], f: Format) -> Vec<Branch> {
    if f == Format::Json {
        b.iter()
            .map(|br| {
                br.iter()
                    .filter(|i| !matches!(i, Item::Comment(_)))
                    .cloned()
                    .collect()
            })
            .collect()
    } else {
        b.to_vec()
    }
}

fn plain_tree(path: &str, f: Format) -> Vec<Branch> {
    format::load_plain(&std::fs::read(common::vectors().join(path)).unwrap(), f).unwrap()
}

#[test]
fn decrypted_files_equal_their_plaintext() {
    let home = gnupg_home();
    let cases = [
        (
            "getsops-sops/functional-tests/comments.enc.yaml",
            "getsops-sops/functional-tests/comments.yaml",
            Format::Yaml,
            false,
        ),
        (
            "humphd-sops-age/secret.enc.json",
            "humphd-sops-age/secret.json",
            Format::Json,
            true,
        ),
        (
            "synthetic/shamir-2of3.enc.yaml",
            "synthetic/shamir-2of3.yaml",
            Format::Yaml,
            true,
        ),
        (
            "synthetic/mac-only-encrypted.enc.yaml",
            "synthetic/mac-only-encrypted.yaml",
            Format::Yaml,
            true,
        ),
    ];
    for (enc, plain, f, age_key) in cases {
        let mut ctx = KeyContext::with_order("age,pgp");
        ctx.gnupg_home = Some(home.path().to_owned());
        if age_key {
            let kf = if enc.contains("humphd") {
                "humphd-sops-age/key.txt"
            } else {
                "synthetic/keys.txt"
            };
            ctx = ctx.with_identities(age::parse_identities(
                &std::fs::read_to_string(common::vectors().join(kf)).unwrap(),
            ));
        }
        let dec = document::decrypt(
            &std::fs::read(common::vectors().join(enc)).unwrap(),
            f,
            &mut ctx,
            false,
        )
        .unwrap_or_else(|e| panic!("{enc}: {e}"));
        let mut want = plain_tree(plain, f);
        let mut got = dec.branches.clone();
        if f == Format::Json {
            // secret.json has the int 7 that sops ≤ 3.13.1 stored as a float
            normalize_numbers(&mut want);
            normalize_numbers(&mut got);
        }
        assert_eq!(got, want, "{enc}");
    }
    // binary: exact bytes
    let mut ctx = KeyContext::with_order("pgp");
    ctx.gnupg_home = Some(home.path().to_owned());
    let dec = document::decrypt(
        &std::fs::read(common::vectors().join("getsops-sops/examples/example.txt")).unwrap(),
        Format::Binary,
        &mut ctx,
        false,
    )
    .unwrap();
    let out = dec.plaintext(Format::Binary, Style::default()).unwrap();
    assert!(out.starts_with(b"Welcome to SOPS!\n\nSOPS is a manager"));
    assert!(out.ends_with(b"github.com/mozilla/sops\n\n"));
}

#[test]
fn shamir_with_two_of_three_groups() {
    let text =
        std::fs::read_to_string(common::vectors().join("synthetic/keys-group1-and-3-only.txt"))
            .unwrap();
    let bytes = std::fs::read(common::vectors().join("synthetic/shamir-2of3.enc.yaml")).unwrap();
    let mut ctx = KeyContext::with_order("age").with_identities(age::parse_identities(&text));
    let dec = document::decrypt(&bytes, Format::Yaml, &mut ctx, false).unwrap();
    let want = std::fs::read_to_string(common::vectors().join("synthetic/shamir-2of3.datakey.hex"))
        .unwrap();
    assert_eq!(hex::encode(dec.key.as_bytes()), want.trim());
    // one group only is not enough
    let one: Vec<_> = age::parse_identities(&text).into_iter().take(1).collect();
    let err = document::decrypt(
        &bytes,
        Format::Yaml,
        &mut KeyContext::with_order("age").with_identities(one),
        false,
    )
    .err()
    .unwrap();
    assert!(matches!(err, Error::DataKey(_)));
    assert_eq!(err.exit_code(), 128);
}

fn normalize_numbers(b: &mut [Branch]) {
    fn v(x: &mut Value) {
        match x {
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => *x = Value::Int(*f as i64),
            Value::Map(items) => items.iter_mut().for_each(|i| {
                if let Item::Pair(_, val) = i {
                    v(val)
                }
            }),
            Value::Seq(s) => s.iter_mut().for_each(v),
            _ => {}
        }
    }
    for br in b {
        for i in br.iter_mut() {
            if let Item::Pair(_, val) = i {
                v(val)
            }
        }
    }
}
