//! Every policy example of the API catalog (§4 capabilities, §5 policy language),
//! replayed against our evaluator. The expected values are what a real OpenBao
//! 2.7.2 answered (`/work/shared/specs/vault-api-catalog.md`).

use base64::Engine as _;
use coffer_core::logical::Operation;
use coffer_core::policy::{Acl, AuthzRequest, Policy};
use serde_json::{Value, json};

const GLOB: &str = r#"
path "g/*"     { capabilities = ["read"] }
path "g/a/*"   { capabilities = ["update"] }
path "g/a/b"   { capabilities = ["list"] }
path "g/+/c"   { capabilities = ["create"] }
path "g/x*"    { capabilities = ["delete"] }
path "m/*/mid" { capabilities = ["read"] }
"#;

const GLOB2: &str = r#"
path "g/a/*" { capabilities = ["sudo"] }
path "g/d"   { capabilities = ["deny"] }
path "g/*"   { capabilities = ["patch"] }
"#;

/// The catalog's `app2` policy, verbatim (HCL 1 one-liners included).
const APP2: &str = r#"
path "secret/data/app/*"      { capabilities = ["create","read","update","patch","delete","list"] }
path "secret/data/app/locked" { capabilities = ["deny"] }
path "secret/metadata/+/team" { capabilities = ["list","read"] }
path "transit/encrypt/k1" { capabilities = ["update"]  allowed_parameters = { "plaintext" = [] "context" = [] } }
path "kv1/params" {
  capabilities = ["create","update"]
  allowed_parameters  = { "color" = ["red","blue"]  "*" = [] }
  denied_parameters   = { "secret" = [] }
  required_parameters = ["color"]
}
path "sys/mounts/*"      { capabilities = ["sudo","create","update"] }
path "auth/token/create" { capabilities = ["update"]  min_wrapping_ttl = "1s"  max_wrapping_ttl = "90s" }
"#;

fn acl(texts: &[(&str, &str)]) -> Acl {
    let policies: Vec<Policy> = texts
        .iter()
        .map(|(name, text)| Policy::parse(name, text).expect("catalog policy parses"))
        .collect();
    Acl::new(&policies)
}

fn app2() -> Acl {
    acl(&[
        ("app2", APP2),
        ("default", coffer_core::policy::DEFAULT_POLICY),
    ])
}

fn params(v: Value) -> serde_json::Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!("test params are objects"),
    }
}

#[test]
fn section5_matching_rules() {
    let acl = acl(&[("glob", GLOB), ("glob2", GLOB2)]);
    let cases: &[(&str, &[&str])] = &[
        ("g/z", &["patch", "read"]),
        ("g/a", &["patch", "read"]),
        ("g/a/q", &["sudo", "update"]),
        ("g/a/c", &["sudo", "update"]),
        ("g/a/b/c", &["sudo", "update"]),
        ("g/a/b", &["list"]),
        ("g/q/c", &["create"]),
        ("g/x", &["delete"]),
        ("g/xyz", &["delete"]),
        ("g/d", &["deny"]),
        ("m/anything/mid", &["deny"]),
        ("m/*/mid", &["read"]),
    ];
    for (path, want) in cases {
        assert_eq!(acl.capabilities(path), *want, "capabilities of {path}");
    }
}

#[test]
fn section4_capabilities_self() {
    let acl = app2();
    let cases: &[(&str, &[&str])] = &[
        (
            "secret/data/app/x",
            &["create", "delete", "list", "patch", "read", "update"],
        ),
        ("secret/data/app/locked", &["deny"]),
        ("secret/metadata/foo/team", &["list", "read"]),
        ("secret/metadata/foo/bar/team", &["deny"]),
        ("kv1/params", &["create", "update"]),
        ("sys/mounts/x", &["create", "sudo", "update"]),
        (
            "cubbyhole/x",
            &["create", "delete", "list", "read", "update"],
        ),
        ("nothing/here", &["deny"]),
    ];
    for (path, want) in cases {
        assert_eq!(acl.capabilities(path), *want, "capabilities of {path}");
    }
}

#[test]
fn root_token_has_root_everywhere() {
    let acl = Acl::root();
    assert_eq!(acl.capabilities("anything/at/all"), ["root"]);
    let a = acl.authorize(Operation::Delete, "sys/audit/x", None);
    assert!(a.allowed && a.sudo && a.is_root);
    assert_eq!(a.granting_policies, ["root"]);
    // A policy named root makes a root ACL too.
    let root = Policy::parse("root", "").expect("empty policy parses");
    assert!(Acl::new(&[root]).is_root());
}

#[test]
fn section5_parameter_constraints() {
    let acl = app2();
    for op in [Operation::Update, Operation::Create] {
        let check = |body: Value| acl.authorize(op, "kv1/params", Some(&params(body))).allowed;
        assert!(
            !check(json!({"color": "green"})),
            "value not in allowed list"
        );
        assert!(check(json!({"color": "red", "x": 1})), "x allowed by \"*\"");
        assert!(!check(json!({"x": 1})), "required parameter missing");
        assert!(
            !check(json!({"color": "red", "secret": 1})),
            "denied parameter"
        );
    }
    let transit = |body: Value| {
        acl.authorize(Operation::Update, "transit/encrypt/k1", Some(&params(body)))
            .allowed
    };
    assert!(!transit(json!({"plaintext": "aGk=", "key_version": 1})));
    assert!(transit(json!({"plaintext": "aGk="})));
    let granted = acl.authorize(
        Operation::Update,
        "transit/encrypt/k1",
        Some(&params(json!({"plaintext": "aGk="}))),
    );
    assert_eq!(granted.granting_policies, ["app2"]);
}

#[test]
fn section5_sudo_protected_paths() {
    let without = acl(&[(
        "p",
        r#"path "auth/token/accessors" { capabilities = ["list"] }
           path "sys/audit" { capabilities = ["read"] }"#,
    )]);
    let a = without.authorize(Operation::List, "auth/token/accessors", None);
    assert!(
        a.allowed && !a.sudo,
        "list allowed but sudo missing: the server must refuse"
    );
    let a = without.authorize(Operation::Read, "sys/audit", None);
    assert!(a.allowed && !a.sudo);

    let with = acl(&[(
        "p",
        r#"path "auth/token/accessors" { capabilities = ["list", "sudo"] }
           path "sys/audit" { capabilities = ["read", "sudo"] }"#,
    )]);
    let a = with.authorize(Operation::List, "auth/token/accessors", None);
    assert!(a.allowed && a.sudo);
    let a = with.authorize(Operation::Read, "sys/audit", None);
    assert!(a.allowed && a.sudo);
}

#[test]
fn section5_wrapping_ttl_bounds() {
    let acl = app2();
    let at = |wrap_ttl| {
        acl.check(&AuthzRequest {
            op: Operation::Update,
            path: "auth/token/create",
            params: None,
            wrap_ttl,
        })
        .allowed
    };
    assert!(!at(None), "no wrap header");
    assert!(!at(Some(300)), "X-Vault-Wrap-TTL: 5m");
    assert!(at(Some(60)), "X-Vault-Wrap-TTL: 60s");
    assert!(!at(Some(0)));
    assert!(at(Some(1)) && at(Some(90)) && !at(Some(91)));
    let a = acl.authorize(Operation::Update, "auth/token/create", None);
    assert!(!a.allowed);
    assert_eq!(
        (a.min_wrapping_ttl, a.max_wrapping_ttl),
        (Some(1), Some(90))
    );
}

#[test]
fn section4_policy_texts() {
    // JSON policy text.
    let json_acl = acl(&[(
        "jsonpol",
        r#"{"path":{"kv1/*":{"capabilities":["read","list"]}}}"#,
    )]);
    assert_eq!(json_acl.capabilities("kv1/a"), ["list", "read"]);
    // base64 of HCL: accepted, stored decoded.
    let hcl = r#"path "b/*" { capabilities = ["read"] }"#;
    let encoded = base64::engine::general_purpose::STANDARD.encode(hcl);
    let p = Policy::parse("b64", &encoded).expect("base64 policy parses");
    assert_eq!(p.text, hcl);
    assert_eq!(Acl::new(&[p]).capabilities("b/c"), ["read"]);
}

#[test]
fn section4_error_messages() {
    let err = Policy::parse("x", r#"path "x" { capabilities = ["bogus"] }"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"failed to parse policy: path "x": path "x": invalid capability "bogus""#
    );
    let err = Policy::parse("x", "not hcl {").unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to parse policy: At 1:11: object expected closing RBRACE got: EOF"
    );
}

#[test]
fn section4_resultant_acl() {
    let acl = app2();
    let view = acl.resultant();
    assert_eq!(view["root"], json!(false));
    assert_eq!(
        view["exact_paths"]["auth/token/create"],
        json!({"capabilities": ["update"], "min_wrapping_ttl": 1, "max_wrapping_ttl": 90})
    );
    assert_eq!(
        view["exact_paths"]["kv1/params"],
        json!({
            "allowed_parameters": {"*": [], "color": ["red", "blue"]},
            "capabilities": ["create", "update"],
            "denied_parameters": {"secret": []},
            "required_parameters": ["color"]
        })
    );
    assert_eq!(
        view["exact_paths"]["secret/data/app/locked"],
        json!({"capabilities": ["deny"]})
    );
    assert_eq!(
        view["glob_paths"]["secret/data/app/"]["capabilities"],
        json!(["create", "delete", "list", "read", "update", "patch"])
    );
    assert_eq!(
        view["glob_paths"]["cubbyhole/"]["capabilities"]
            .as_array()
            .map(Vec::len),
        Some(5)
    );
    // `+` patterns are not listed, as in OpenBao.
    assert!(view["glob_paths"].get("secret/metadata/+/team").is_none());
    assert!(view["exact_paths"].get("secret/metadata/+/team").is_none());
    // Templated default-policy paths are skipped.
    assert!(
        view["exact_paths"]
            .get("identity/entity/id/{{identity.entity.id}}")
            .is_none()
    );
    assert_eq!(Acl::root().resultant(), json!({"root": true}));
}

#[test]
fn default_policy_grants() {
    let acl = acl(&[("default", coffer_core::policy::DEFAULT_POLICY)]);
    assert_eq!(acl.capabilities("auth/token/lookup-self"), ["read"]);
    assert_eq!(acl.capabilities("sys/capabilities-self"), ["update"]);
    assert_eq!(
        acl.capabilities("identity/oidc/provider/p1/authorize"),
        ["read", "update"]
    );
    assert_eq!(acl.capabilities("sys/tools/hash/sha2-256"), ["update"]);
    assert_eq!(acl.capabilities("secret/data/x"), ["deny"]);
}
