//! Transit engine micro-benchmarks: encrypt, decrypt and sign per key type,
//! driven through `Backend::handle` on an in-memory barrier (request field
//! parsing, the key cache and the cryptography; no HTTP, no ACL, no audit).
//!
//! Run: `cargo bench -p coffer-server --bench transit`

use std::hint::black_box;
use std::sync::Arc;

use coffer_core::logical::{Object, Operation, Request};
use coffer_crypto::keyring::Keyring;
use coffer_server::barrier::{Barrier, View};
use coffer_server::engines::transit::Transit;
use coffer_server::framework::{Backend, Ctx};
use coffer_storage::MemoryStorage;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;

struct Engine {
    rt: tokio::runtime::Runtime,
    transit: Transit,
    view: View,
}

impl Engine {
    fn new() -> Engine {
        let barrier = Arc::new(Barrier::new(Arc::new(MemoryStorage::new())));
        barrier.set_keyring(Some(Arc::new(Keyring::generate())));
        Engine {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime"),
            transit: Transit::default(),
            view: View::new(barrier, "logical/transit/"),
        }
    }

    fn call(&self, op: Operation, path: &str, data: &Object) -> Object {
        let ctx = Ctx {
            view: &self.view,
            token: None,
            client_token: "",
            sudo: false,
            remote_addr: None,
            default_lease_ttl: 0,
            max_lease_ttl: 0,
        };
        let mut req = Request::new(op, path).with_data(data.clone());
        req.mount_point = "transit/".into();
        let resp = self
            .rt
            .block_on(self.transit.handle(&ctx, &mut req))
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        resp.data.unwrap_or_default()
    }
}

fn obj(v: serde_json::Value) -> Object {
    v.as_object().cloned().unwrap_or_default()
}

fn bench_transit(c: &mut Criterion) {
    let engine = Engine::new();
    // 64-byte plaintext: the typical size of a wrapped data key / small secret.
    let plaintext = coffer_crypto_b64(&[7u8; 64]);
    let mut group = c.benchmark_group("transit");
    group.throughput(Throughput::Elements(1));
    for ktype in [
        "aes128-gcm96",
        "aes256-gcm96",
        "chacha20-poly1305",
        "xchacha20-poly1305",
        "rsa-2048",
    ] {
        let name = format!("k-{ktype}");
        engine.call(
            Operation::Update,
            &format!("keys/{name}"),
            &obj(json!({"type": ktype})),
        );
        let enc = obj(json!({"plaintext": plaintext}));
        let ct =
            engine.call(Operation::Update, &format!("encrypt/{name}"), &enc)["ciphertext"].clone();
        let dec = obj(json!({"ciphertext": ct}));
        group.bench_function(format!("encrypt/{ktype}"), |b| {
            b.iter(|| black_box(engine.call(Operation::Update, &format!("encrypt/{name}"), &enc)))
        });
        group.bench_function(format!("decrypt/{ktype}"), |b| {
            b.iter(|| black_box(engine.call(Operation::Update, &format!("decrypt/{name}"), &dec)))
        });
    }
    for ktype in ["ed25519", "ecdsa-p256", "ecdsa-p384", "rsa-2048"] {
        let name = format!("s-{ktype}");
        engine.call(
            Operation::Update,
            &format!("keys/{name}"),
            &obj(json!({"type": ktype})),
        );
        let input = obj(json!({"input": plaintext}));
        let sig =
            engine.call(Operation::Update, &format!("sign/{name}"), &input)["signature"].clone();
        let ver = obj(json!({"input": plaintext, "signature": sig}));
        group.bench_function(format!("sign/{ktype}"), |b| {
            b.iter(|| black_box(engine.call(Operation::Update, &format!("sign/{name}"), &input)))
        });
        group.bench_function(format!("verify/{ktype}"), |b| {
            b.iter(|| black_box(engine.call(Operation::Update, &format!("verify/{name}"), &ver)))
        });
    }
    // Derived keys pay an HKDF per request; batches amortise the request.
    engine.call(
        Operation::Update,
        "keys/derived",
        &obj(json!({"derived": true})),
    );
    let derived = obj(json!({"plaintext": plaintext, "context": "dGVuYW50"}));
    group.bench_function("encrypt/aes256-gcm96-derived", |b| {
        b.iter(|| black_box(engine.call(Operation::Update, "encrypt/derived", &derived)))
    });
    let batch: Vec<_> = (0..100).map(|_| json!({"plaintext": plaintext})).collect();
    let batch = obj(json!({"batch_input": batch}));
    group.throughput(Throughput::Elements(100));
    group.bench_function("encrypt-batch100/aes256-gcm96", |b| {
        b.iter(|| black_box(engine.call(Operation::Update, "encrypt/k-aes256-gcm96", &batch)))
    });
    group.finish();
}

fn coffer_crypto_b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

criterion_group!(benches, bench_transit);
criterion_main!(benches);
