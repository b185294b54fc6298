//! Encrypt and decrypt a 1 MiB YAML file with 10,000 values (parse, walk,
//! AES-256-GCM per value, MAC, age data key, emit) against the raw
//! AES-256-GCM rate over the same 10,000 plaintexts, in the same run.
//!
//! Run: `cargo bench -p coffer-sops --bench sops`

use std::hint::black_box;
use std::time::Duration;

use aes_gcm::aead::AeadInPlace;
use aes_gcm::aead::consts::{U12, U32};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, KeyInit, Nonce};
use age::secrecy::ExposeSecret;
use coffer_sops::cipher::DataKey;
use coffer_sops::document;
use coffer_sops::format::{self, Format, Style};
use coffer_sops::keys::{KeyContext, MasterKey, age as sops_age};
use coffer_sops::metadata::{KeyGroup, Metadata};
use coffer_sops::rules::RuleFields;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const SECTIONS: usize = 100;
const PER_SECTION: usize = 100;

/// 100 sections × 100 keys, values of 90 characters: ≈1 MiB, 10,000 values.
fn sample_yaml() -> (String, Vec<(String, Vec<u8>)>) {
    let mut text = String::new();
    let mut values = Vec::new();
    let mut x: u64 = 42;
    for s in 0..SECTIONS {
        text.push_str(&format!("section_{s:03}:\n"));
        for k in 0..PER_SECTION {
            let v: String = (0..90)
                .map(|_| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (b'a' + ((x >> 33) % 26) as u8) as char
                })
                .collect();
            text.push_str(&format!("    key_{k:04}: {v}\n"));
            values.push((format!("section_{s:03}:key_{k:04}:"), v.into_bytes()));
        }
    }
    (text, values)
}

fn bench(c: &mut Criterion) {
    let (yaml, values) = sample_yaml();
    let total: usize = values.iter().map(|(_, v)| v.len()).sum();
    eprintln!(
        "input: {} bytes of YAML, {} values, {} plaintext bytes",
        yaml.len(),
        values.len(),
        total
    );
    let id = age::x25519::Identity::generate();
    let recipient = id.to_public().to_string();
    let ids = sops_age::parse_identities(id.to_string().expose_secret());
    let meta = || {
        Metadata::new(
            vec![KeyGroup {
                keys: vec![MasterKey::new_age(&recipient)],
            }],
            RuleFields::default(),
            false,
            None,
        )
    };

    let plain = format::load_plain(yaml.as_bytes(), Format::Yaml).unwrap();
    let (encrypted, n) =
        document::encrypt_new(&plain, meta(), Format::Yaml, Style::default()).unwrap();
    assert_eq!(n, values.len());
    eprintln!("encrypted file: {} bytes", encrypted.len());

    let mut g = c.benchmark_group("sops_1MiB_10k_values");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(8))
        .warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Bytes(yaml.len() as u64));
    g.bench_function("encrypt_file", |b| {
        b.iter(|| {
            let plain = format::load_plain(black_box(yaml.as_bytes()), Format::Yaml).unwrap();
            document::encrypt_new(&plain, meta(), Format::Yaml, Style::default()).unwrap()
        })
    });
    g.bench_function("decrypt_file", |b| {
        b.iter(|| {
            let mut ctx = KeyContext::with_order("age").with_identities(ids.clone());
            let d =
                document::decrypt(black_box(&encrypted), Format::Yaml, &mut ctx, false).unwrap();
            d.plaintext(Format::Yaml, Style::default()).unwrap()
        })
    });
    // the AES-256-GCM limit: the same 10,000 values, nothing else
    let key = DataKey::generate();
    let gcm32 = AesGcm::<Aes256, U32>::new(key.as_bytes().into());
    let gcm12 = AesGcm::<Aes256, U12>::new(key.as_bytes().into());
    let iv = [7u8; 32];
    g.bench_function("raw_aes_gcm_iv32_10k_values", |b| {
        b.iter(|| {
            for (aad, v) in &values {
                let mut buf = v.clone();
                let tag = gcm32
                    .encrypt_in_place_detached(
                        Nonce::<U32>::from_slice(&iv),
                        aad.as_bytes(),
                        &mut buf,
                    )
                    .unwrap();
                let _ = black_box((buf, tag));
            }
        })
    });
    g.bench_function("raw_aes_gcm_iv12_10k_values", |b| {
        b.iter(|| {
            for (aad, v) in &values {
                let mut buf = v.clone();
                let tag = gcm12
                    .encrypt_in_place_detached(
                        Nonce::<U12>::from_slice(&iv[..12]),
                        aad.as_bytes(),
                        &mut buf,
                    )
                    .unwrap();
                let _ = black_box((buf, tag));
            }
        })
    });
    let awskey = aws_lc_rs::aead::LessSafeKey::new(
        aws_lc_rs::aead::UnboundKey::new(&aws_lc_rs::aead::AES_256_GCM, key.as_bytes()).unwrap(),
    );
    g.bench_function("raw_aws_lc_aes_gcm_iv12_10k_values", |b| {
        b.iter(|| {
            for (aad, v) in &values {
                let mut buf = v.clone();
                let nonce = aws_lc_rs::aead::Nonce::assume_unique_for_key([7u8; 12]);
                let tag = awskey
                    .seal_in_place_separate_tag(
                        nonce,
                        aws_lc_rs::aead::Aad::from(aad.as_bytes()),
                        &mut buf,
                    )
                    .unwrap();
                let _ = black_box((buf, tag));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
