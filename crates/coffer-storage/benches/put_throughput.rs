//! Group commit, measured: durable `put` throughput on `FileStorage` with 1 and 32 concurrent
//! writers (each write fsync'd before it is acknowledged), the fsyncs each write cost, and the
//! latency of an inline `get` next to a bare `spawn_blocking` round trip (why `get` is inline).
//!
//! `cargo bench -p coffer-storage --bench put_throughput`

use std::sync::Arc;
use std::time::{Duration, Instant};

use coffer_storage::{FileStorage, MemoryStorage, Storage};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn puts(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
    let file = Arc::new(FileStorage::open(dir.path()).expect("open"));
    let value = vec![0xA5u8; 256];
    let mut group = c.benchmark_group("file_put");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(6));
    for writers in [1u64, 32] {
        group.throughput(Throughput::Elements(writers));
        let before = file.write_stats();
        group.bench_function(BenchmarkId::new("writers", writers), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    let mut tasks = tokio::task::JoinSet::new();
                    for w in 0..writers {
                        let (file, value) = (Arc::clone(&file), value.clone());
                        tasks.spawn(async move {
                            for i in 0..iters {
                                file.put(&format!("bench/{w}/{}", i % 1000), value.clone())
                                    .await
                                    .expect("put");
                            }
                        });
                    }
                    while let Some(res) = tasks.join_next().await {
                        res.expect("writer");
                    }
                    start.elapsed()
                })
            });
        });
        let after = file.write_stats();
        let (commits, writes) = (
            after.commits - before.commits,
            after.requests - before.requests,
        );
        println!(
            "file_put/writers/{writers}: {writes} writes, {commits} fsync'd commits, {:.3} fsyncs per write",
            commits as f64 / writes.max(1) as f64
        );
    }
    group.finish();
}

fn gets(c: &mut Criterion) {
    let rt = runtime();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
    let file = Arc::new(FileStorage::open(dir.path()).expect("open"));
    let mem = Arc::new(MemoryStorage::new());
    rt.block_on(async {
        let ops = (0..10_000)
            .map(|i| coffer_storage::TxnOp::Put {
                key: format!("logical/x/{i}"),
                value: vec![7u8; 512],
            })
            .collect();
        file.transaction(ops).await.expect("fill");
        for i in 0..10_000 {
            mem.put(&format!("logical/x/{i}"), vec![7u8; 512])
                .await
                .expect("fill");
        }
    });
    let mut group = c.benchmark_group("get");
    let mut i = 0u64;
    group.bench_function("file_inline", |b| {
        b.iter(|| {
            i = (i + 7919) % 10_000;
            rt.block_on(file.get(&format!("logical/x/{i}")))
                .expect("get")
        })
    });
    group.bench_function("memory", |b| {
        b.iter(|| {
            i = (i + 7919) % 10_000;
            rt.block_on(mem.get(&format!("logical/x/{i}")))
                .expect("get")
        })
    });
    group.bench_function("spawn_blocking_noop_round_trip", |b| {
        b.iter(|| rt.block_on(async { tokio::task::spawn_blocking(|| 1u8).await.expect("join") }))
    });
    group.bench_function("block_on_noop", |b| b.iter(|| rt.block_on(async { 1u8 })));
    group.finish();
}

criterion_group!(benches, puts, gets);
criterion_main!(benches);
