//! FileStorage specifics beyond the shared conformance suite: group commit, file modes,
//! exclusive open, integrity check.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use coffer_storage::{FileStorage, Storage, StorageError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_share_fsyncs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = Arc::new(FileStorage::open(dir.path()).expect("open"));
    let base = s.write_stats();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..64 {
        let s = Arc::clone(&s);
        tasks.spawn(async move {
            for i in 0..10 {
                s.put(&format!("gc/{w}/{i}"), vec![1; 64])
                    .await
                    .expect("put");
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("writer");
    }
    let stats = s.write_stats();
    let (writes, commits) = (stats.requests - base.requests, stats.commits - base.commits);
    assert_eq!(writes, 640);
    // Without group commit this would be 640 commits; with it, concurrent puts pile up behind
    // each fsync. Demand at least 2 writes per fsync on average (typically far more).
    assert!(
        commits * 2 <= writes,
        "{commits} commits for {writes} writes: group commit not working"
    );
}

#[tokio::test]
async fn sequential_writes_are_each_committed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = FileStorage::open(dir.path()).expect("open");
    let base = s.write_stats();
    for i in 0..5 {
        s.put(&format!("seq/{i}"), vec![i]).await.expect("put");
    }
    let stats = s.write_stats();
    assert_eq!(
        (stats.requests - base.requests, stats.commits - base.commits),
        (5, 5)
    );
}

#[test]
fn creates_private_directory_and_file() {
    let parent = tempfile::tempdir().expect("temp dir");
    let dir = parent.path().join("nested/data");
    let s = FileStorage::open(&dir).expect("open");
    assert_eq!(s.kind(), "file");
    let dir_mode = std::fs::metadata(&dir).expect("dir").permissions().mode() & 0o777;
    let file_mode = std::fs::metadata(s.path())
        .expect("file")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(dir_mode, 0o700);
    assert_eq!(file_mode, 0o600);
    assert_eq!(s.path(), dir.join("coffer.redb"));
}

#[test]
fn second_open_of_same_directory_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let _first = FileStorage::open(dir.path()).expect("open");
    let err = FileStorage::open(dir.path()).expect_err("second open must fail");
    assert!(matches!(err, StorageError::Open { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("coffer.redb") && msg.contains("already open"),
        "{msg}"
    );
}

#[test]
fn unusable_directory_is_an_open_error_naming_the_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").expect("write");
    let err = FileStorage::open(&file).expect_err("a file is not a directory");
    assert!(matches!(err, StorageError::Open { .. }), "{err:?}");
    assert!(err.to_string().contains("plain-file"), "{err}");
}

#[test]
fn garbage_database_file_is_refused_not_panicking() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("coffer.redb"), vec![0x42; 10_000]).expect("write");
    let err = FileStorage::open(dir.path()).expect_err("garbage is not a database");
    assert!(matches!(err, StorageError::Open { .. }), "{err:?}");
}

#[tokio::test]
async fn integrity_check_passes_after_clean_close() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let s = FileStorage::open(dir.path()).expect("open");
        s.put("a", vec![1; 10_000]).await.expect("put");
    }
    assert!(FileStorage::check_integrity(dir.path()).expect("check"));
}
