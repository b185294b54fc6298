//! Unseal throughput with 1 and 12 keys in the ring against the raw RSA-OAEP-SHA256 private-key
//! rate of the same key size (4096 bits, the controller default), all in one run.
//!
//!     cargo bench -p coffer-sealed --bench unseal
//!
//! Cases (each iteration opens one sealed value of 32 bytes):
//! - `raw_rsa_oaep_4096`: one aws-lc-rs RSA-OAEP-SHA256 decryption of a 32-byte session key;
//! - `unseal_1_key`: the full hybrid unseal through the key ring with one key;
//! - `unseal_12_keys_newest`: 12 keys, value sealed with the newest key, no hint;
//! - `unseal_12_keys_remembered`: 12 keys, value sealed with an old key, hint learned (steady
//!   state of the controller: it remembers which key opened each SealedSecret);
//! - `unseal_12_keys_oldest_cold`: 12 keys, value sealed with the oldest key, no hint (what
//!   upstream pays on average for half the keys; here the worst case, 12 RSA operations).

use std::hint::black_box;
use std::time::Duration;

use aws_lc_rs::rsa::OAEP_SHA256_MGF1SHA256;
use coffer_sealed::{KeyRing, PrivateKey, RingKey, hybrid};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn ring_of(keys: &[PrivateKey]) -> KeyRing {
    let mut ring = KeyRing::new();
    for (i, k) in keys.iter().enumerate() {
        // keys[0] is the newest.
        let t = time::OffsetDateTime::from_unix_timestamp(1_000_000 - i as i64)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        ring.add(RingKey {
            key: k.clone(),
            cert: None,
            order_time: t,
        });
    }
    ring
}

fn bench(c: &mut Criterion) {
    let keys: Vec<PrivateKey> = (0..12)
        .map(|_| PrivateKey::generate(4096).expect("keygen"))
        .collect();
    let label = b"team-a/db";
    let value = [7u8; 32];
    let mut g = c.benchmark_group("sealed_unseal_4096");
    g.throughput(Throughput::Elements(1));
    g.sample_size(30)
        .measurement_time(Duration::from_secs(6))
        .warm_up_time(Duration::from_secs(1));

    // Raw RSA-OAEP private-key operation on a session key, same key size.
    let blob = hybrid::encrypt(keys[0].public(), &value, label).expect("seal");
    let (rsa_part, _) = hybrid::split(&blob).expect("split");
    let rsa_part = rsa_part.to_vec();
    let mut out = vec![0u8; keys[0].oaep().min_output_size()];
    g.bench_function("raw_rsa_oaep_4096", |b| {
        b.iter(|| {
            let k = keys[0]
                .oaep()
                .decrypt(
                    &OAEP_SHA256_MGF1SHA256,
                    black_box(&rsa_part),
                    &mut out,
                    Some(label),
                )
                .expect("rsa");
            black_box(k.len())
        })
    });

    let one = ring_of(&keys[..1]);
    g.bench_function("unseal_1_key", |b| {
        b.iter(|| {
            black_box(
                one.decrypt(black_box(&blob), label, "team-a/db")
                    .expect("open")
                    .len(),
            )
        })
    });

    let twelve = ring_of(&keys);
    g.bench_function("unseal_12_keys_newest", |b| {
        b.iter(|| {
            black_box(
                twelve
                    .decrypt(black_box(&blob), label, "")
                    .expect("open")
                    .len(),
            )
        })
    });

    let old_blob = hybrid::encrypt(keys[7].public(), &value, label).expect("seal");
    twelve
        .decrypt(&old_blob, label, "team-a/db")
        .expect("learn");
    g.bench_function("unseal_12_keys_remembered", |b| {
        b.iter(|| {
            black_box(
                twelve
                    .decrypt(black_box(&old_blob), label, "team-a/db")
                    .expect("open")
                    .len(),
            )
        })
    });

    let oldest_blob = hybrid::encrypt(keys[11].public(), &value, label).expect("seal");
    g.bench_function("unseal_12_keys_oldest_cold", |b| {
        b.iter(|| {
            black_box(
                twelve
                    .decrypt(black_box(&oldest_blob), label, "")
                    .expect("open")
                    .len(),
            )
        })
    });
    g.finish();
}

/// Interleaved ratios: on a shared, loaded machine, criterion's sequential groups see different
/// load. Here raw RSA and each unseal case alternate in short batches, and the medians of the
/// per-round ratios are printed (`ratio = unseal rate / raw rate`).
fn interleaved(_c: &mut Criterion) {
    let keys: Vec<PrivateKey> = (0..12)
        .map(|_| PrivateKey::generate(4096).expect("keygen"))
        .collect();
    let label = b"team-a/db";
    let value = [7u8; 32];
    let blob = hybrid::encrypt(keys[0].public(), &value, label).expect("seal");
    let rsa_part = hybrid::split(&blob).expect("split").0.to_vec();
    let mut out = vec![0u8; keys[0].oaep().min_output_size()];
    let one = ring_of(&keys[..1]);
    let twelve = ring_of(&keys);
    let old_blob = hybrid::encrypt(keys[7].public(), &value, label).expect("seal");
    twelve
        .decrypt(&old_blob, label, "team-a/db")
        .expect("learn");
    let batch = 8;
    let time = |f: &mut dyn FnMut()| {
        let t = std::time::Instant::now();
        for _ in 0..batch {
            f();
        }
        t.elapsed().as_secs_f64() / batch as f64
    };
    let cases: [(&str, &dyn Fn()); 3] = [
        ("unseal_1_key", &|| {
            black_box(one.decrypt(&blob, label, "team-a/db").expect("open"));
        }),
        ("unseal_12_keys_newest", &|| {
            black_box(twelve.decrypt(&blob, label, "").expect("open"));
        }),
        ("unseal_12_keys_remembered", &|| {
            black_box(twelve.decrypt(&old_blob, label, "team-a/db").expect("open"));
        }),
    ];
    let rounds = 25;
    let mut raw_rates = Vec::new();
    let mut ratios: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    for _ in 0..rounds {
        for (i, (_, case)) in cases.iter().enumerate() {
            let raw = time(&mut || {
                black_box(
                    keys[0]
                        .oaep()
                        .decrypt(&OAEP_SHA256_MGF1SHA256, &rsa_part, &mut out, Some(label))
                        .expect("rsa")
                        .len(),
                );
            });
            let t = time(&mut || case());
            raw_rates.push(1.0 / raw);
            ratios[i].push(raw / t);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "interleaved (median of {rounds} rounds x {batch} ops): raw RSA-OAEP-4096 {:.1} ops/s",
        median(&mut raw_rates)
    );
    for (i, (name, _)) in cases.iter().enumerate() {
        println!(
            "interleaved ratio {name}: {:.3}x raw",
            median(&mut ratios[i])
        );
    }
}

criterion_group!(benches, bench, interleaved);
criterion_main!(benches);
