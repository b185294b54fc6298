//! The CLI end to end: every format round trips through encrypt/decrypt with
//! age keys; in-place, extract, set/unset (IV reuse), rotate, updatekeys,
//! edit, exec-env, exec-file, filestatus, Shamir from `.sops.yaml`, and
//! sops' exit codes.

#[path = "common/cli.rs"]
mod cli;
mod common;

use cli::Env;
use regex::Regex;

const YAML: &str = "# top comment\napp:\n    user: alice\n    port: 8443\n    ratio: 0.25\n    enabled: true\n    # comment inside a mapping\n    password: s3cr3t\n    empty: \"\"\n    nothing: null\n    hosts:\n        # comment inside a sequence\n        - a.example\n        - b.example\nplain_unencrypted:\n    note: stays readable\n";
const JSON: &str = "{\n\t\"a\": \"secret\",\n\t\"n\": 7,\n\t\"f\": 1.5,\n\t\"list\": [\n\t\t1,\n\t\t\"two\"\n\t],\n\t\"nested\": {\n\t\t\"b\": true\n\t}\n}\n";
const ENV: &str = "#comment\nfoo = bar\nDB_PASSWORD=hunter2\nMULTI=a\\nb\n";
const INI: &str = "[name]\nfirst = John\nlast  = Smith\n\n[not private]\nnote_unencrypted = hi\n";

fn enc_values(text: &str) -> Vec<String> {
    Regex::new(r"ENC\[AES256_GCM,[^\]]*\]")
        .unwrap()
        .find_iter(text)
        .map(|m| m.as_str().to_owned())
        .collect()
}

#[test]
fn round_trip_every_format() {
    let env = Env::new(1);
    let r = env.ids[0].1.clone();
    let binary: Vec<u8> = (0..=255u8).chain(b"\n\n".iter().copied()).collect();
    for (name, content) in [
        ("a.yaml", YAML.as_bytes()),
        ("a.json", JSON.as_bytes()),
        ("a.env", ENV.as_bytes()),
        ("a.ini", INI.as_bytes()),
        ("a.bin", binary.as_slice()),
    ] {
        env.write(name, content);
        let o = env.run(&["encrypt", "--age", &r, name], &[]);
        assert_eq!(o.code, 0, "{name}: {}", o.stderr);
        let text = o.text();
        assert!(text.contains("ENC[AES256_GCM,data:"), "{name}");
        for secret in ["alice", "s3cr3t", "hunter2", "John", "comment inside"] {
            assert!(!text.contains(secret), "{name} leaks {secret}");
        }
        let enc_name = format!("enc.{name}");
        env.write(&enc_name, text.as_bytes());
        let o = env.run(&["decrypt", &enc_name], &[0]);
        assert_eq!(o.code, 0, "{name}: {}", o.stderr);
        assert_eq!(o.stdout, content, "{name}: {}", o.text());
        // legacy flags
        let o = env.run(&["-d", &enc_name], &[0]);
        assert_eq!(o.stdout, content, "{name} (legacy -d)");
    }
    let yaml = String::from_utf8(env.read("enc.a.yaml")).unwrap();
    assert!(
        yaml.contains("    note: stays readable\n"),
        "cleartext suffix kept"
    );
    assert!(yaml.contains("    empty: \"\"\n") && yaml.contains("    nothing: null\n"));
    assert!(yaml.contains("        - ENC[") && yaml.contains("type:comment]"));
    assert!(yaml.contains("    unencrypted_suffix: _unencrypted\n    version: 3.13.2\n"));
}

#[test]
fn exit_codes_and_guards() {
    let env = Env::new(2);
    let r = env.ids[0].1.clone();
    env.write("a.yaml", YAML.as_bytes());
    assert_eq!(
        env.run(&["encrypt", "-i", "--age", &r, "a.yaml"], &[]).code,
        0
    );
    // already encrypted
    assert_eq!(env.run(&["encrypt", "--age", &r, "a.yaml"], &[]).code, 203);
    // wrong key: could not retrieve key
    let o = env.run(&["decrypt", "a.yaml"], &[1]);
    assert_eq!(o.code, 128, "{}", o.stderr);
    assert!(!o.stderr.contains("alice"));
    // no file, no keys
    assert_eq!(env.run(&[], &[]).code, 100);
    env.write("p.yaml", b"a: b\n");
    assert_eq!(env.run(&["encrypt", "p.yaml"], &[]).code, 111);
    // filestatus
    assert_eq!(
        env.run(&["filestatus", "a.yaml"], &[]).text(),
        "{\"encrypted\":true}\n"
    );
    assert_eq!(
        env.run(&["filestatus", "p.yaml"], &[]).text(),
        "{\"encrypted\":false}\n"
    );
    // extract
    let o = env.run(
        &["decrypt", "--extract", r#"["app"]["user"]"#, "a.yaml"],
        &[0],
    );
    assert_eq!(o.text(), "alice");
    let o = env.run(
        &["decrypt", "--extract", r#"["app"]["port"]"#, "a.yaml"],
        &[0],
    );
    assert_eq!(o.text(), "8443\n");
    let o = env.run(
        &["decrypt", "--extract", r#"["app"]["nope"]"#, "a.yaml"],
        &[0],
    );
    assert_eq!(o.code, 91);
    // in place through a symlink: the target is rewritten, the link stays
    std::os::unix::fs::symlink("a.yaml", env.path("link.yaml")).unwrap();
    assert_eq!(env.run(&["decrypt", "-i", "link.yaml"], &[0]).code, 0);
    assert!(
        std::fs::symlink_metadata(env.path("link.yaml"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(env.read("a.yaml"), YAML.as_bytes());
}

#[test]
fn no_mac_vector_needs_ignore_mac() {
    let env = Env::new(0);
    let home = tempfile::tempdir().unwrap();
    let key = common::vectors().join("getsops-sops/keys/sops_functional_tests_key.asc");
    let st = std::process::Command::new("gpg")
        .env("GNUPGHOME", home.path())
        .args(["--batch", "--quiet", "--import"])
        .arg(key)
        .status()
        .unwrap();
    assert!(st.success());
    let file = common::vectors().join("getsops-sops/functional-tests/no_mac.yaml");
    let mut c = env.cmd(&["decrypt", file.to_str().unwrap()]);
    c.env("GNUPGHOME", home.path());
    let o = cli::run_cmd(c, None);
    assert_eq!(o.code, 51, "{}", o.stderr);
    let mut c = env.cmd(&["decrypt", "--ignore-mac", file.to_str().unwrap()]);
    c.env("GNUPGHOME", home.path());
    let o = cli::run_cmd(c, None);
    assert_eq!(o.code, 0, "{}", o.stderr);
}

#[test]
fn set_unset_keep_unchanged_ciphertexts() {
    let env = Env::new(1);
    let r = env.ids[0].1.clone();
    env.write("a.yaml", YAML.as_bytes());
    assert_eq!(
        env.run(&["encrypt", "-i", "--age", &r, "a.yaml"], &[]).code,
        0
    );
    let before = enc_values(&String::from_utf8(env.read("a.yaml")).unwrap());
    let o = env.run(&["set", "a.yaml", r#"["app"]["user"]"#, r#""bob""#], &[0]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let after_text = String::from_utf8(env.read("a.yaml")).unwrap();
    let after = enc_values(&after_text);
    // all but the changed value (and the MAC) are byte-identical
    let same = before.iter().filter(|v| after.contains(v)).count();
    assert_eq!(same, before.len() - 2, "only user and mac change");
    let o = env.run(
        &["decrypt", "--extract", r#"["app"]["user"]"#, "a.yaml"],
        &[0],
    );
    assert_eq!(o.text(), "bob");
    // JSON subtree and append
    assert_eq!(
        env.run(
            &["set", "a.yaml", r#"["new"]["list"][3]"#, r#"{"k": [1, 2]}"#],
            &[0]
        )
        .code,
        0
    );
    let o = env.run(
        &[
            "decrypt",
            "--extract",
            r#"["new"]["list"][0]["k"][1]"#,
            "a.yaml",
        ],
        &[0],
    );
    assert_eq!(o.text(), "2\n");
    // idempotent set does not rewrite
    let snapshot = env.read("a.yaml");
    assert_eq!(
        env.run(
            &[
                "set",
                "--idempotent",
                "a.yaml",
                r#"["app"]["user"]"#,
                r#""bob""#
            ],
            &[0]
        )
        .code,
        0
    );
    assert_eq!(env.read("a.yaml"), snapshot);
    // unset
    assert_eq!(env.run(&["unset", "a.yaml", r#"["new"]"#], &[0]).code, 0);
    assert_eq!(env.run(&["unset", "a.yaml", r#"["new"]"#], &[0]).code, 91);
    assert_eq!(
        env.run(&["unset", "--idempotent", "a.yaml", r#"["new"]"#], &[0])
            .code,
        0
    );
    // bad JSON value
    assert_ne!(
        env.run(&["set", "a.yaml", r#"["x"]"#, "not json"], &[0])
            .code,
        0
    );
}

#[test]
fn rotate_and_updatekeys() {
    let env = Env::new(2);
    let (r0, r1) = (env.ids[0].1.clone(), env.ids[1].1.clone());
    env.write("a.yaml", YAML.as_bytes());
    assert_eq!(
        env.run(&["encrypt", "-i", "--age", &r0, "a.yaml"], &[])
            .code,
        0
    );
    let before = String::from_utf8(env.read("a.yaml")).unwrap();
    // rotate with an added recipient: every ciphertext changes
    let o = env.run(&["rotate", "-i", "--add-age", &r1, "a.yaml"], &[0]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let after = String::from_utf8(env.read("a.yaml")).unwrap();
    let old = enc_values(&before);
    assert!(enc_values(&after).iter().all(|v| !old.contains(v)));
    assert_eq!(
        env.run(&["decrypt", "a.yaml"], &[1]).stdout,
        YAML.as_bytes()
    );
    // updatekeys from .sops.yaml: only r1 remains; values, lastmodified and MAC untouched
    env.write(
        ".sops.yaml",
        format!("creation_rules:\n  - path_regex: \\.yaml$\n    age: {r1}\n").as_bytes(),
    );
    let o = env.run(&["updatekeys", "-y", "a.yaml"], &[1]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let updated = String::from_utf8(env.read("a.yaml")).unwrap();
    assert_eq!(enc_values(&updated), enc_values(&after));
    assert!(!updated.contains(&r0) && updated.contains(&r1));
    let lm = |t: &str| {
        t.lines()
            .find(|l| l.contains("lastmodified"))
            .unwrap()
            .to_owned()
    };
    assert_eq!(lm(&updated), lm(&after));
    assert_eq!(env.run(&["decrypt", "a.yaml"], &[0]).code, 128);
    assert_eq!(
        env.run(&["decrypt", "a.yaml"], &[1]).stdout,
        YAML.as_bytes()
    );
}

#[test]
fn sops_yaml_rules_and_shamir() {
    let env = Env::new(3);
    let r: Vec<String> = env.ids.iter().map(|i| i.1.clone()).collect();
    env.write(
        ".sops.yaml",
        format!(
            "creation_rules:\n  - path_regex: k8s/.*\\.yaml$\n    encrypted_regex: ^(data|stringData)$\n    mac_only_encrypted: true\n    age: {}\n  - path_regex: .*\n    shamir_threshold: 2\n    key_groups:\n      - age: [{}]\n      - age: [{}]\n      - age: [{}]\n",
            r[0], r[0], r[1], r[2]
        )
        .as_bytes(),
    );
    std::fs::create_dir(env.path("k8s")).unwrap();
    env.write(
        "k8s/s.yaml",
        b"apiVersion: v1\nkind: Secret\nstringData:\n    password: hunter2\n",
    );
    assert_eq!(env.run(&["encrypt", "-i", "k8s/s.yaml"], &[]).code, 0);
    let t = String::from_utf8(env.read("k8s/s.yaml")).unwrap();
    assert!(t.contains("kind: Secret") && !t.contains("hunter2"));
    assert!(
        t.contains("mac_only_encrypted: true")
            && t.contains("encrypted_regex: ^(data|stringData)$")
    );
    // editing a cleartext field by hand keeps the MAC valid with mac_only_encrypted
    std::fs::write(
        env.path("k8s/s.yaml"),
        t.replace("kind: Secret", "kind: Other"),
    )
    .unwrap();
    assert_eq!(env.run(&["decrypt", "k8s/s.yaml"], &[0]).code, 0);

    env.write("s.yaml", b"a: secret\n");
    assert_eq!(env.run(&["encrypt", "-i", "s.yaml"], &[]).code, 0);
    let t = String::from_utf8(env.read("s.yaml")).unwrap();
    assert!(t.contains("key_groups:") && t.contains("shamir_threshold: 2"));
    for pair in [[0, 1], [1, 2], [0, 2]] {
        let o = env.run(&["decrypt", "s.yaml"], &pair);
        assert_eq!(o.text(), "a: secret\n", "{pair:?}: {}", o.stderr);
    }
    assert_eq!(env.run(&["decrypt", "s.yaml"], &[2]).code, 128);
}

#[test]
fn edit_uses_private_temp_file() {
    let env = Env::new(1);
    let r = env.ids[0].1.clone();
    env.write("a.yaml", YAML.as_bytes());
    assert_eq!(
        env.run(&["encrypt", "-i", "--age", &r, "a.yaml"], &[]).code,
        0
    );
    let dir = env.dir.path().display().to_string();
    let script = format!(
        "#!/bin/sh\nstat -c %a \"$1\" > '{dir}/perms'\nstat -c %a \"$(dirname \"$1\")\" > '{dir}/dirperms'\necho \"$1\" > '{dir}/path'\nsed -i 's/alice/carol/' \"$1\"\n"
    );
    let ed = env.write("editor.sh", script.as_bytes());
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&ed)
        .status()
        .unwrap();
    let before = enc_values(&String::from_utf8(env.read("a.yaml")).unwrap());
    let mut c = env.cmd(&["edit", "a.yaml"]);
    c.env("EDITOR", &ed)
        .env("SOPS_AGE_KEY_FILE", env.key_file(&[0]));
    let o = cli::run_cmd(c, None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(String::from_utf8(env.read("perms")).unwrap().trim(), "600");
    assert_eq!(
        String::from_utf8(env.read("dirperms")).unwrap().trim(),
        "700"
    );
    let tmp = String::from_utf8(env.read("path")).unwrap();
    assert!(
        !std::path::Path::new(tmp.trim()).exists(),
        "temp file removed"
    );
    let o = env.run(&["decrypt", "a.yaml"], &[0]);
    assert_eq!(o.text(), YAML.replace("alice", "carol"));
    let after = enc_values(&String::from_utf8(env.read("a.yaml")).unwrap());
    assert_eq!(
        before.iter().filter(|v| after.contains(v)).count(),
        before.len() - 2
    );
    // unchanged → exit 200, file untouched
    let snapshot = env.read("a.yaml");
    let mut c = env.cmd(&["edit", "a.yaml"]);
    c.env("EDITOR", "true")
        .env("SOPS_AGE_KEY_FILE", env.key_file(&[0]));
    assert_eq!(cli::run_cmd(c, None).code, 200);
    assert_eq!(env.read("a.yaml"), snapshot);
}

#[test]
fn exec_env_and_exec_file() {
    let env = Env::new(1);
    let r = env.ids[0].1.clone();
    env.write("a.env", ENV.as_bytes());
    assert_eq!(
        env.run(&["encrypt", "-i", "--age", &r, "a.env"], &[]).code,
        0
    );
    let o = env.run(
        &["exec-env", "a.env", "printf %s \"$DB_PASSWORD\"; exit 3"],
        &[0],
    );
    assert_eq!((o.code, o.text().as_str()), (3, "hunter2"));
    let o = env.run(&["exec-file", "a.env", "cat {}; stat -c %a {} >&2"], &[0]);
    assert_eq!(o.code, 0);
    assert_eq!(o.stdout, ENV.as_bytes());
    assert!(o.stderr.contains("600"));
}

#[test]
fn pgp_keys_through_gpg() {
    let env = Env::new(0);
    let home = tempfile::tempdir().unwrap();
    let key = common::vectors().join("getsops-sops/keys/sops_functional_tests_key.asc");
    let st = std::process::Command::new("gpg")
        .env("GNUPGHOME", home.path())
        .args(["--batch", "--quiet", "--import"])
        .arg(key)
        .output()
        .unwrap();
    assert!(st.status.success());
    env.write("a.yaml", YAML.as_bytes());
    let fp = "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4";
    let mut c = env.cmd(&["encrypt", "-i", "--pgp", fp, "a.yaml"]);
    c.env("GNUPGHOME", home.path());
    let o = cli::run_cmd(c, None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let t = String::from_utf8(env.read("a.yaml")).unwrap();
    assert!(
        t.contains("-----BEGIN PGP MESSAGE-----")
            && t.contains(&format!("fp: {fp}"))
            && t.contains("created_at: \"")
    );
    let mut c = env.cmd(&["decrypt", "a.yaml"]);
    c.env("GNUPGHOME", home.path());
    assert_eq!(cli::run_cmd(c, None).stdout, YAML.as_bytes());
    // without the key ring: exit 128
    let empty = tempfile::tempdir().unwrap();
    let mut c = env.cmd(&["decrypt", "a.yaml"]);
    c.env("GNUPGHOME", empty.path());
    assert_eq!(cli::run_cmd(c, None).code, 128);
}

#[test]
fn edit_new_file_and_stdin() {
    let env = Env::new(1);
    let r = env.ids[0].1.clone();
    let ed = env.write("editor.sh", b"#!/bin/sh\nprintf 'token: abc\\n' > \"$1\"\n");
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&ed)
        .status()
        .unwrap();
    let mut c = env.cmd(&["edit", "--age", &r, "new.yaml"]);
    c.env("EDITOR", &ed);
    let o = cli::run_cmd(c, None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        env.run(&["decrypt", "new.yaml"], &[0]).text(),
        "token: abc\n"
    );
    // stdin in, stdout out
    let mut c = env.cmd(&[
        "encrypt",
        "--age",
        &r,
        "--input-type",
        "json",
        "--output-type",
        "json",
    ]);
    c.env_remove("SOPS_AGE_KEY_FILE");
    let o = cli::run_cmd(c, Some(br#"{"a": 1}"#));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let mut c = env.cmd(&["decrypt", "--filename-override", "x.json"]);
    c.env("SOPS_AGE_KEY_FILE", env.key_file(&[0]));
    let o = cli::run_cmd(c, Some(&o.stdout));
    assert_eq!(o.text(), "{\n\t\"a\": 1\n}\n");
    // stdin without a type is refused
    assert_ne!(cli::run_cmd(env.cmd(&["decrypt"]), Some(b"a: 1\n")).code, 0);
}

#[test]
fn groups_add_and_delete() {
    let env = Env::new(2);
    let (r0, r1) = (env.ids[0].1.clone(), env.ids[1].1.clone());
    env.write("a.yaml", b"k: v\n");
    assert_eq!(
        env.run(&["encrypt", "-i", "--age", &r0, "a.yaml"], &[])
            .code,
        0
    );
    let o = env.run(&["groups", "add", "--file", "a.yaml", "--age", &r1], &[0]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let t = String::from_utf8(env.read("a.yaml")).unwrap();
    assert!(
        t.contains("key_groups:") && t.contains("shamir_threshold: 2"),
        "{t}"
    );
    // both groups are now needed
    assert_eq!(env.run(&["decrypt", "a.yaml"], &[0]).code, 128);
    assert_eq!(env.run(&["decrypt", "a.yaml"], &[0, 1]).text(), "k: v\n");
    let o = env.run(&["groups", "delete", "--file", "a.yaml", "0"], &[0, 1]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(env.run(&["decrypt", "a.yaml"], &[1]).text(), "k: v\n");
    assert_eq!(env.run(&["decrypt", "a.yaml"], &[0]).code, 128);
    assert_ne!(
        env.run(&["groups", "delete", "--file", "a.yaml", "0"], &[1])
            .code,
        0
    );
}
