//! The shared conformance suite, run against every backend in this crate and through the
//! fault doubles (passing through when healthy).

use std::sync::Arc;

use coffer_storage::conformance;
use coffer_storage::faults::{CountingStorage, FailingStorage};
use coffer_storage::{FileStorage, MemoryStorage, Storage};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_backend_conforms() {
    conformance::run_all(Arc::new(MemoryStorage::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_backend_conforms() {
    let dir = tempfile::tempdir().expect("temp dir");
    conformance::run_all(Arc::new(FileStorage::open(dir.path()).expect("open"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_backend_conforms_after_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let s = FileStorage::open(dir.path()).expect("open");
        s.put("persist/a", b"kept".to_vec()).await.expect("put");
        s.put("persist/b", b"gone".to_vec()).await.expect("put");
        s.delete("persist/b").await.expect("delete");
    }
    let s = Arc::new(FileStorage::open(dir.path()).expect("reopen"));
    assert_eq!(
        s.get("persist/a").await.expect("get").as_deref(),
        Some(&b"kept"[..])
    );
    assert_eq!(s.list("persist/").await.expect("list"), ["a"]);
    s.delete("persist/a").await.expect("delete");
    conformance::run_all(s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_doubles_conform_while_healthy() {
    conformance::run_all(Arc::new(FailingStorage::new(MemoryStorage::new()))).await;
    let counting = CountingStorage::new(MemoryStorage::new());
    conformance::run_all(Arc::new(counting.clone())).await;
    let counts = counting.counts();
    assert!(
        counts.put > 1000 && counts.get > 1000 && counts.list > 10 && counts.transaction > 200,
        "{counts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_check_passes_alone_on_both_backends() {
    for (name, check) in conformance::checks() {
        let dir = tempfile::tempdir().expect("temp dir");
        let backends: [Arc<dyn Storage>; 2] = [
            Arc::new(MemoryStorage::new()),
            Arc::new(FileStorage::open(dir.path()).expect("open")),
        ];
        for s in backends {
            eprintln!("{name} on {}", s.kind());
            check(s).await;
        }
    }
}
