//! The fault doubles behave as documented.

use coffer_storage::faults::{CountingStorage, FailMode, FailingStorage, INJECTED, OpCounts};
use coffer_storage::{MemoryStorage, Storage, StorageError, TxnOp};

#[tokio::test]
async fn failing_storage_fails_writes_then_all_then_heals() {
    let s = FailingStorage::new(MemoryStorage::new());
    s.put("k", b"v".to_vec()).await.expect("healthy put");

    s.fail_writes();
    assert_eq!(s.mode(), FailMode::Writes);
    let err = s.put("k", b"w".to_vec()).await.expect_err("put fails");
    assert!(
        matches!(&err, StorageError::Io(m) if m == INJECTED),
        "{err:?}"
    );
    assert!(s.delete("k").await.is_err());
    assert!(
        s.transaction(vec![TxnOp::Delete { key: "k".into() }])
            .await
            .is_err()
    );
    assert_eq!(
        s.get("k").await.expect("reads pass").as_deref(),
        Some(&b"v"[..])
    );
    assert_eq!(s.list("").await.expect("reads pass"), ["k"]);

    s.fail_all();
    assert!(s.get("k").await.is_err());
    assert!(s.list("").await.is_err());

    s.heal();
    assert_eq!(
        s.get("k").await.expect("healed").as_deref(),
        Some(&b"v"[..]),
        "failed writes changed nothing"
    );
    assert_eq!(s.kind(), "inmem");
}

#[tokio::test]
async fn clones_share_the_switch() {
    let s = FailingStorage::new(MemoryStorage::new());
    let handle = s.clone();
    handle.fail_writes();
    assert!(s.put("k", vec![]).await.is_err());
}

#[tokio::test]
async fn counting_storage_counts_each_operation() {
    let s = CountingStorage::new(MemoryStorage::new());
    s.put("a", vec![1]).await.expect("put");
    s.put("b", vec![2]).await.expect("put");
    s.get("a").await.expect("get");
    s.list("").await.expect("list");
    s.delete("a").await.expect("delete");
    s.transaction(vec![]).await.expect("txn");
    assert_eq!(
        s.counts(),
        OpCounts {
            get: 1,
            put: 2,
            delete: 1,
            list: 1,
            transaction: 1
        }
    );
    assert_eq!((s.counts().writes(), s.counts().reads()), (4, 2));
    s.reset();
    assert_eq!(s.counts(), OpCounts::default());
}
