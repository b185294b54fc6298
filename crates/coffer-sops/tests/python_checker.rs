//! Files coffer writes decrypt with an independent implementation: the
//! Python checker `tests/sops_check.py` (pyrage + cryptography + PyYAML,
//! written from the spec). The checker itself is first validated on the real
//! sops vectors. Needs the test venv (`$COFFER_TEST_VENV`, default
//! `/root/.cache/coffer/venv`) with `tests/requirements.txt` installed.

#[path = "common/cli.rs"]
mod cli;
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use cli::Env;
use coffer_sops::format::{self, Format};
use coffer_sops::tree::{Item, Value};

fn python() -> PathBuf {
    let venv = std::env::var_os("COFFER_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root/.cache/coffer/venv"));
    let py = venv.join("bin/python");
    assert!(
        py.is_file(),
        "the Python test venv is missing at {}: create it and `pip install -r crates/coffer-sops/tests/requirements.txt` (or set COFFER_TEST_VENV)",
        venv.display()
    );
    let ok = Command::new(&py)
        .args(["-c", "import pyrage, cryptography, yaml"])
        .status()
        .unwrap()
        .success();
    assert!(
        ok,
        "the venv lacks pyrage/cryptography/PyYAML: pip install -r crates/coffer-sops/tests/requirements.txt"
    );
    py
}

fn check(fmt: &str, file: &Path, keys: &Path) -> Result<serde_json::Value, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sops_check.py");
    let o = Command::new(python())
        .arg(script)
        .arg(fmt)
        .arg(file)
        .env("SOPS_AGE_KEY_FILE", keys)
        .output()
        .unwrap();
    if !o.status.success() {
        return Err(String::from_utf8_lossy(&o.stderr).into_owned());
    }
    Ok(serde_json::from_slice(&o.stdout).unwrap())
}

fn to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(J::Number)
            .unwrap_or(J::Null),
        Value::Str(s) | Value::Time(s) => J::String(s.clone()),
        Value::Bytes(b) => {
            serde_json::json!({ "bytes_b64": base64::engine::general_purpose::STANDARD.encode(b) })
        }
        Value::Map(items) => J::Object(
            items
                .iter()
                .filter_map(|i| match i {
                    Item::Pair(k, v) => Some((k.clone(), to_json(v))),
                    Item::Comment(_) => None,
                })
                .collect(),
        ),
        Value::Seq(e) => J::Array(
            e.iter()
                .filter(|x| !matches!(x, Value::Comment(_)))
                .map(to_json)
                .collect(),
        ),
        Value::Comment(_) => J::Null,
    }
}

fn expected(plain: &[u8], f: Format) -> serde_json::Value {
    let docs: Vec<serde_json::Value> = format::load_plain(plain, f)
        .unwrap()
        .iter()
        .map(|b| to_json(&Value::Map(b.clone())))
        .collect();
    serde_json::Value::Array(docs)
}

#[test]
fn checker_accepts_real_sops_vectors() {
    let v = common::vectors();
    for (file, fmt, keys) in [
        (
            "humphd-sops-age/secret.enc.yaml",
            "yaml",
            "humphd-sops-age/key.txt",
        ),
        (
            "humphd-sops-age/secret.enc.json",
            "json",
            "humphd-sops-age/key.txt",
        ),
        (
            "humphd-sops-age/secret.enc.env",
            "dotenv",
            "humphd-sops-age/key.txt",
        ),
        (
            "synthetic/shamir-2of3.enc.yaml",
            "yaml",
            "synthetic/keys-group1-and-3-only.txt",
        ),
        (
            "synthetic/mac-only-encrypted.enc.yaml",
            "yaml",
            "synthetic/keys.txt",
        ),
    ] {
        check(fmt, &v.join(file), &v.join(keys)).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
}

#[test]
fn coffer_output_decrypts_with_the_python_checker() {
    let env = Env::new(3);
    let r0 = env.ids[0].1.clone();
    let binary: Vec<u8> = (0..=255u8).collect();
    let yaml = "# top\napp:\n    user: alice\n    port: 8443\n    ratio: 0.25\n    enabled: false\n    # in map\n    password: s3cr3t\n    empty: \"\"\n    nothing: null\n    hosts:\n        # in list\n        - a.example\n        - b.example\n    multi: |\n        line one\n        line two\nkeep_unencrypted:\n    note: readable\n---\nsecond: doc\n";
    let cases: Vec<(&str, &str, Vec<u8>, Format)> = vec![
        ("a.yaml", "yaml", yaml.as_bytes().to_vec(), Format::Yaml),
        (
            "a.json",
            "json",
            br#"{"a": "s", "n": 7, "f": 1.5, "l": [1, "x", {"k": true}], "e": ""}"#.to_vec(),
            Format::Json,
        ),
        (
            "a.env",
            "dotenv",
            b"#c\nfoo = bar\nB=x\\ny\n".to_vec(),
            Format::Dotenv,
        ),
        (
            "a.ini",
            "ini",
            b"[s]\nk = v\n[t_unencrypted]\nz = 1\n".to_vec(),
            Format::Ini,
        ),
        ("a.bin", "binary", binary.clone(), Format::Binary),
    ];
    let keys = env.key_file(&[0]);
    for (name, fmt, plain, f) in &cases {
        env.write(name, plain);
        let o = env.run(&["encrypt", "-i", "--age", &r0, name], &[]);
        assert_eq!(o.code, 0, "{name}: {}", o.stderr);
        let got = check(fmt, &env.path(name), &keys).unwrap_or_else(|e| panic!("{name}: {e}"));
        let want = if *f == Format::Binary {
            serde_json::json!([{ "data": { "bytes_b64": base64::engine::general_purpose::STANDARD.encode(&binary) } }])
        } else {
            expected(plain, *f)
        };
        assert_eq!(got["documents"], want, "{name}");
        if *f == Format::Yaml {
            assert_eq!(got["comments_checked"], 2, "{name}: the two map comments");
        }
        // after set (IV reuse) the file still checks
        if *f != Format::Binary && *f != Format::Ini {
            let o = env.run(&["set", name, r#"["added"]"#, r#""v""#], &[0]);
            assert_eq!(o.code, 0, "{name}: {}", o.stderr);
            let got = check(fmt, &env.path(name), &keys)
                .unwrap_or_else(|e| panic!("{name} after set: {e}"));
            assert_eq!(got["documents"][0]["added"], "v");
        }
    }
    // tampering a cleartext value must make the checker fail (MAC)
    let t = String::from_utf8(env.read("a.yaml"))
        .unwrap()
        .replace("note: readable", "note: changed");
    env.write("t.yaml", t.as_bytes());
    assert!(
        check("yaml", &env.path("t.yaml"), &keys)
            .unwrap_err()
            .contains("MAC")
    );

    // Shamir 2-of-3 and mac_only_encrypted from .sops.yaml
    env.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: k8s\n    encrypted_regex: ^(data|stringData)$\n    mac_only_encrypted: true\n    age: {r0}\n  - shamir_threshold: 2\n    key_groups:\n      - age: [{}]\n      - age: [{}]\n      - age: [{}]\n",
            env.ids[0].1, env.ids[1].1, env.ids[2].1
        )
        .as_bytes(),
    );
    env.write("s.yaml", b"a: secret\nb:\n    - 1\n    - 2\n");
    assert_eq!(env.run(&["encrypt", "-i", "s.yaml"], &[]).code, 0);
    let got = check("yaml", &env.path("s.yaml"), &env.key_file(&[1, 2])).unwrap();
    assert_eq!(
        got["documents"],
        expected(b"a: secret\nb:\n    - 1\n    - 2\n", Format::Yaml)
    );
    env.write("k8s.yaml", b"kind: Secret\nstringData:\n    password: p\n");
    assert_eq!(env.run(&["encrypt", "-i", "k8s.yaml"], &[]).code, 0);
    let got = check("yaml", &env.path("k8s.yaml"), &keys).unwrap();
    assert_eq!(got["documents"][0]["stringData"]["password"], "p");
    // rotated file
    assert_eq!(env.run(&["rotate", "-i", "s.yaml"], &[0, 1]).code, 0);
    check("yaml", &env.path("s.yaml"), &env.key_file(&[0, 2])).unwrap();
}
