//! The request pipeline without HTTP: KV v2 read and write, token create and
//! token lookup through `Core::handle_request` on memory storage. Shows how
//! much of a request's cost is ours (the rest is HTTP and the kernel).

use std::sync::Arc;

use coffer_core::logical::{Object, Operation};
use coffer_server::core::{Core, CoreConfig, RawRequest};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

fn obj(v: serde_json::Value) -> Object {
    v.as_object().cloned().unwrap_or_default()
}

fn raw(op: Operation, path: &str, data: Object, token: &str) -> RawRequest {
    RawRequest {
        id: String::new(),
        operation: op,
        path: path.to_owned(),
        data,
        null_body: false,
        token: Some(token.to_owned()),
        remote_addr: None,
        wrap_ttl: None,
        token_entry: None,
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let core: Arc<Core> = rt.block_on(async {
        let config = CoreConfig {
            max_request_size: 1 << 20,
            ..CoreConfig::default()
        };
        let (core, _) = coffer_server::server::dev_core(Some("root".into()), config)
            .await
            .expect("dev core");
        for i in 0..1000 {
            let data = obj(json!({"data": {"value": format!("{i:032}")}}));
            core.handle_request(raw(
                Operation::Create,
                &format!("secret/data/hot/{i}"),
                data,
                "root",
            ))
            .await
            .expect("write");
        }
        core
    });
    let user_token = rt.block_on(async {
        let resp = core
            .handle_request(raw(
                Operation::Create,
                "auth/token/create",
                obj(json!({"policies": ["default"]})),
                "root",
            ))
            .await
            .expect("token");
        resp.auth_rendered
            .and_then(|a| {
                a.get("client_token")
                    .and_then(|t| t.as_str().map(str::to_owned))
            })
            .expect("client token")
    });
    let mut n = 0u64;
    c.bench_function("kv_read", |b| {
        b.iter(|| {
            n += 1;
            rt.block_on(core.handle_request(raw(
                Operation::Read,
                &format!("secret/data/hot/{}", n % 1000),
                Object::new(),
                "root",
            )))
            .expect("read")
        })
    });
    c.bench_function("kv_write", |b| {
        b.iter(|| {
            n += 1;
            let data = obj(json!({"data": {"value": "0123456789abcdef0123456789abcdef", "n": n}}));
            rt.block_on(core.handle_request(raw(
                Operation::Create,
                &format!("secret/data/bench/{n}"),
                data,
                "root",
            )))
            .expect("write")
        })
    });
    c.bench_function("token_create", |b| {
        b.iter(|| {
            let data = obj(json!({"policies": ["default"], "ttl": "1h"}));
            rt.block_on(core.handle_request(raw(
                Operation::Create,
                "auth/token/create",
                data,
                "root",
            )))
            .expect("create")
        })
    });
    c.bench_function("token_lookup_self", |b| {
        b.iter(|| {
            rt.block_on(core.handle_request(raw(
                Operation::Read,
                "auth/token/lookup-self",
                Object::new(),
                &user_token,
            )))
            .expect("lookup")
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
