//! Bad input gives a clear error and the sops exit code, never a panic, a
//! leaked secret, or a partially written file.

#[path = "common/cli.rs"]
mod cli;

use cli::Env;
use coffer_sops::document;
use coffer_sops::format::Format;
use coffer_sops::keys::{KeyContext, age};

const PLAIN: &str = "app:\n    user: alice\n    password: s3cr3t\nnote_unencrypted: visible\n";

fn setup() -> (Env, String) {
    let env = Env::new(1);
    let r = env.ids[0].1.clone();
    env.write("a.yaml", PLAIN.as_bytes());
    let o = env.run(&["encrypt", "-i", "--age", &r, "a.yaml"], &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let text = String::from_utf8(env.read("a.yaml")).unwrap();
    (env, text)
}

/// Writes `bad`, runs decrypt (stdout and -i) and set: expected exit code,
/// message fragment, no secret in stderr, file byte-identical afterwards.
fn expect_failure(env: &Env, bad: &str, code: i32, fragment: &str) {
    env.write("bad.yaml", bad.as_bytes());
    for args in [
        vec!["decrypt", "bad.yaml"],
        vec!["decrypt", "-i", "bad.yaml"],
        vec!["set", "bad.yaml", r#"["x"]"#, r#""y""#],
        vec!["rotate", "-i", "bad.yaml"],
    ] {
        let o = env.run(&args, &[0]);
        assert_eq!(o.code, code, "{args:?}: {}", o.stderr);
        assert!(
            o.stderr.to_lowercase().contains(&fragment.to_lowercase()),
            "{args:?}: {}",
            o.stderr
        );
        assert!(o.stdout.is_empty(), "{args:?}: no partial output");
        for secret in ["alice", "s3cr3t"] {
            assert!(
                !o.stderr.contains(secret),
                "{args:?} leaks a secret: {}",
                o.stderr
            );
        }
        assert_eq!(
            env.read("bad.yaml"),
            bad.as_bytes(),
            "{args:?} must not touch the file"
        );
    }
}

fn value_line<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find(|l| l.trim_start().starts_with(key))
        .unwrap()
}

#[test]
fn truncated_enc_value() {
    let (env, text) = setup();
    let line = value_line(&text, "password:");
    let cut = &line[..line.find(",tag:").unwrap()];
    expect_failure(
        &env,
        &text.replace(line, cut),
        25,
        "invalid encrypted value at \"app:password:\"",
    );
}

#[test]
fn tampered_ciphertext() {
    let (env, text) = setup();
    let line = value_line(&text, "user:");
    let i = line.find("data:").unwrap() + 5;
    let mut b = line.as_bytes().to_vec();
    b[i] = if b[i] == b'A' { b'B' } else { b'A' };
    let bad = text.replace(line, std::str::from_utf8(&b).unwrap());
    expect_failure(&env, &bad, 25, "authentication failed");
}

#[test]
fn value_moved_to_another_key() {
    let (env, text) = setup();
    let user = value_line(&text, "user:")
        .trim_start()
        .trim_start_matches("user: ")
        .to_owned();
    let pw = value_line(&text, "password:");
    let bad = text.replace(pw, &format!("    password: {user}"));
    expect_failure(&env, &bad, 25, "app:password:");
}

#[test]
fn cleartext_where_encryption_is_required() {
    let (env, text) = setup();
    let pw = value_line(&text, "password:");
    expect_failure(
        &env,
        &text.replace(pw, "    password: plain"),
        25,
        "cleartext",
    );
}

#[test]
fn tampered_cleartext_breaks_the_mac() {
    let (env, text) = setup();
    expect_failure(
        &env,
        &text.replace("visible", "changed"),
        51,
        "MAC mismatch",
    );
    // --ignore-mac still decrypts
    let o = env.run(&["decrypt", "--ignore-mac", "bad.yaml"], &[0]);
    assert_eq!(o.code, 0);
}

#[test]
fn wrong_key() {
    let (env, text) = setup();
    let other = Env::new(1);
    env.write("bad.yaml", text.as_bytes());
    let mut c = env.cmd(&["decrypt", "-i", "bad.yaml"]);
    c.env("SOPS_AGE_KEY_FILE", other.key_file(&[0]));
    let o = cli::run_cmd(c, None);
    assert_eq!(o.code, 128, "{}", o.stderr);
    assert!(
        o.stderr.contains("age1"),
        "names the recipient tried: {}",
        o.stderr
    );
    assert_eq!(env.read("bad.yaml"), text.as_bytes());
}

#[test]
fn malformed_metadata() {
    let (env, text) = setup();
    let lm = value_line(&text, "lastmodified:");
    expect_failure(&env, &text.replace(lm, ""), 2, "missing lastmodified");
    expect_failure(
        &env,
        &text.replace(lm, "    lastmodified: yesterday"),
        2,
        "not an RFC 3339 time",
    );
    let mac = value_line(&text, "mac:");
    expect_failure(
        &env,
        &text.replace(mac, "    mac: ENC[AES256_GCM,data:AAAA"),
        24,
        "malformed mac",
    );
    let begin = "-----BEGIN AGE ENCRYPTED FILE-----\n";
    let start = text.find(begin).unwrap() + begin.len();
    let line_end = start + text[start..].find('\n').unwrap();
    let first_b64 = text[start..line_end].trim();
    let bad = text.replacen(first_b64, &"Z".repeat(first_b64.len()), 1);
    expect_failure(&env, &bad, 128, "age");
    let sops = text.find("sops:").unwrap();
    expect_failure(
        &env,
        &format!("{}sops: 1\n", &text[..sops]),
        2,
        "must be a map",
    );
    expect_failure(&env, &text[..sops], 2, "no sops metadata");
    expect_failure(&env, &format!("{}\n  - ]", text), 2, "cannot parse yaml");
}

#[test]
fn unknown_version_and_type() {
    let (env, text) = setup();
    expect_failure(
        &env,
        &text.replace("version: 3.13.2", "version: 4.0.0"),
        2,
        "unsupported sops format version",
    );
    expect_failure(
        &env,
        &text.replace("version: 3.13.2", "version: banana"),
        2,
        "not a valid sops version",
    );
    let user = value_line(&text, "user:");
    expect_failure(
        &env,
        &text.replace(user, &user.replace("type:str", "type:blob")),
        25,
        "unknown type",
    );
}

/// Random single-byte corruptions of an encrypted file never panic.
#[test]
fn corruptions_never_panic() {
    let (env, text) = setup();
    let ids = age::parse_identities(
        &String::from_utf8(std::fs::read(env.key_file(&[0])).unwrap()).unwrap(),
    );
    let bytes = text.into_bytes();
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    let mut failures = 0;
    for _ in 0..300 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut b = bytes.clone();
        let i = (seed as usize) % b.len();
        let table = b"A:]\n[,\"x=0 ";
        b[i] = table[(seed >> 32) as usize % table.len()];
        let mut ctx = KeyContext::with_order("age").with_identities(ids.clone());
        if document::decrypt(&b, Format::Yaml, &mut ctx, false).is_err() {
            failures += 1;
        }
    }
    assert!(
        failures > 200,
        "most corruptions are detected ({failures}/300)"
    );
}
