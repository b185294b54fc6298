//! Barrier hot path: keyring encrypt/decrypt of 100 B and 4 KiB values (AES-256-GCM with a
//! cached key schedule, random nonce, path as AAD), and Shamir split/combine of a 32-byte key.
//!
//! `cargo bench -p coffer-crypto --bench keyring`

use coffer_crypto::{Keyring, shamir};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn keyring(c: &mut Criterion) {
    let ring = Keyring::generate();
    let path = "logical/5c3f2a1e-0000-4000-8000-000000000000/secret/data/app/config";
    let mut group = c.benchmark_group("keyring");
    for size in [100usize, 4096] {
        let value = vec![0x5Au8; size];
        let entry = ring.encrypt(path, &value);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("encrypt", size), &value, |b, v| {
            b.iter(|| ring.encrypt(path, v))
        });
        group.bench_with_input(BenchmarkId::new("decrypt", size), &entry, |b, e| {
            b.iter(|| ring.decrypt(path, e).expect("decrypt"))
        });
    }
    group.finish();
}

fn shamir_key(c: &mut Criterion) {
    let key = [7u8; 32];
    let shares = shamir::split(&key, 5, 3).expect("split");
    let refs: Vec<&[u8]> = shares.iter().take(3).map(|s| s.expose()).collect();
    c.bench_function("shamir/split_5_of_3_32B", |b| {
        b.iter(|| shamir::split(&key, 5, 3).expect("split"))
    });
    c.bench_function("shamir/combine_3_32B", |b| {
        b.iter(|| shamir::combine(&refs).expect("combine"))
    });
}

criterion_group!(benches, keyring, shamir_key);
criterion_main!(benches);
