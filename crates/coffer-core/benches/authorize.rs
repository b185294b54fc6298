//! ACL evaluation cost with a realistic token: 20 policies (the default policy
//! plus 19 application policies mixing exact, `*` and `+` patterns).
//!
//! `cargo bench -p coffer-core --bench authorize`

use std::hint::black_box;

use coffer_core::logical::Operation;
use coffer_core::policy::{Acl, AuthzRequest, DEFAULT_POLICY, Policy};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

fn policies() -> Vec<Policy> {
    let mut out = vec![Policy::parse("default", DEFAULT_POLICY).expect("default parses")];
    for i in 0..19 {
        let text = format!(
            r#"
path "secret/data/team{i}/*"        {{ capabilities = ["create", "read", "update", "patch", "delete", "list"] }}
path "secret/metadata/team{i}/*"    {{ capabilities = ["read", "list", "delete"] }}
path "secret/data/team{i}/locked"   {{ capabilities = ["deny"] }}
path "secret/data/+/shared/team{i}" {{ capabilities = ["read"] }}
path "kv{i}/+/config"               {{ capabilities = ["read"] }}
path "transit/encrypt/key{i}" {{
  capabilities = ["update"]
  allowed_parameters = {{ "plaintext" = [] "context" = [] "key_version" = [] }}
}}
path "transit/decrypt/key{i}"       {{ capabilities = ["update"] }}
path "database/creds/role{i}"       {{ capabilities = ["read"] }}
path "sys/mounts/team{i}*"          {{ capabilities = ["create", "update", "sudo"] }}
"#
        );
        out.push(Policy::parse(&format!("team{i}"), &text).expect("bench policy parses"));
    }
    out
}

fn bench(c: &mut Criterion) {
    let policies = policies();
    let acl = Acl::new(&policies);
    let body = json!({"plaintext": "aGVsbG8=", "context": "Y3R4"});
    let body = body.as_object().cloned().unwrap_or_default();

    c.bench_function("acl_new_20_policies", |b| {
        b.iter(|| Acl::new(black_box(&policies)))
    });

    let mut check = |name: &str, op: Operation, path: &'static str, params| {
        let req = AuthzRequest {
            op,
            path,
            params,
            wrap_ttl: None,
        };
        c.bench_function(&format!("check_{name}"), |b| {
            b.iter(|| acl.check(black_box(&req)).allowed)
        });
        c.bench_function(&format!("authorize_{name}"), |b| {
            b.iter(|| {
                acl.authorize(black_box(op), black_box(path), params)
                    .allowed
            })
        });
    };
    check("exact", Operation::Read, "database/creds/role7", None);
    check(
        "prefix",
        Operation::Read,
        "secret/data/team12/app/config",
        None,
    );
    check("segment", Operation::Read, "kv3/prod/config", None);
    check(
        "params",
        Operation::Update,
        "transit/encrypt/key5",
        Some(&body),
    );
    check("miss", Operation::Read, "nothing/matches/here", None);
    check("deny", Operation::Read, "secret/data/team4/locked", None);

    c.bench_function("capabilities_prefix", |b| {
        b.iter(|| acl.capabilities(black_box("secret/data/team12/app/config")))
    });
    let root = Acl::root();
    c.bench_function("authorize_root", |b| {
        b.iter(|| {
            root.authorize(
                black_box(Operation::Update),
                black_box("sys/mounts/x"),
                None,
            )
            .allowed
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
