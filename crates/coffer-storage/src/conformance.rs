//! The conformance suite every [`Storage`] backend must pass (memory, file, and later etcd).
//!
//! Each check starts from and leaves behind an empty key space under its own top-level
//! directory; [`run_all`] runs them in order on one backend that must start empty. Checks
//! panic (assert) on a violation, so they are meant to be called from `#[tokio::test]`s
//! running on the multi-thread runtime:
//!
//! ```text
//! #[tokio::test(flavor = "multi_thread")]
//! async fn conformance() {
//!     coffer_storage::conformance::run_all(Arc::new(MyBackend::new())).await;
//! }
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::{Storage, TxnOp};

/// One named check.
pub type Check = fn(Arc<dyn Storage>) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// Every check, by name, in the order [`run_all`] runs them.
pub fn checks() -> Vec<(&'static str, Check)> {
    vec![
        ("root_list", |s| Box::pin(root_list(s))),
        ("get_put_delete", |s| Box::pin(get_put_delete(s))),
        ("list_semantics", |s| Box::pin(list_semantics(s))),
        ("nested_lists", |s| Box::pin(nested_lists(s))),
        ("transaction_applies_in_order", |s| {
            Box::pin(transaction_applies_in_order(s))
        }),
        ("transaction_is_atomic_to_readers", |s| {
            Box::pin(transaction_is_atomic_to_readers(s))
        }),
        ("binary_values_and_keys", |s| {
            Box::pin(binary_values_and_keys(s))
        }),
        ("large_values", |s| Box::pin(large_values(s))),
        ("concurrent_writers", |s| Box::pin(concurrent_writers(s))),
        ("list_matches_model", |s| Box::pin(list_matches_model(s))),
    ]
}

/// Runs every check on `storage`, which must start empty; it is empty again afterwards.
pub async fn run_all(storage: Arc<dyn Storage>) {
    assert_eq!(
        storage.list("").await.expect("list root"),
        Vec::<String>::new(),
        "backend must start empty"
    );
    for (name, check) in checks() {
        tracing::debug!(check = name, "storage conformance");
        check(Arc::clone(&storage)).await;
        assert_eq!(
            storage.list("").await.expect("list root"),
            Vec::<String>::new(),
            "check {name} left keys behind"
        );
    }
}

/// Deterministic pseudo-random bytes (xorshift64*), so failures reproduce.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

async fn wipe(s: &dyn Storage, keys: &[&str]) {
    for k in keys {
        s.delete(k).await.expect("delete");
    }
}

/// `list("")` sees top-level keys and directories.
pub async fn root_list(s: Arc<dyn Storage>) {
    let keys = ["core/keyring", "core/seal-config", "logical/abc/x", "sys"];
    for k in keys {
        s.put(k, b"v".to_vec()).await.expect("put");
    }
    assert_eq!(
        s.list("").await.expect("list"),
        ["core/", "logical/", "sys"]
    );
    wipe(&*s, &keys).await;
    assert!(s.list("").await.expect("list").is_empty());
}

/// Missing keys read as `None`; put overwrites; delete removes; deleting a missing key is fine;
/// an empty value is a present value.
pub async fn get_put_delete(s: Arc<dyn Storage>) {
    assert_eq!(s.get("gpd/a").await.expect("get"), None);
    s.put("gpd/a", b"one".to_vec()).await.expect("put");
    assert_eq!(
        s.get("gpd/a").await.expect("get").as_deref(),
        Some(&b"one"[..])
    );
    s.put("gpd/a", b"two".to_vec()).await.expect("overwrite");
    assert_eq!(
        s.get("gpd/a").await.expect("get").as_deref(),
        Some(&b"two"[..])
    );
    assert_eq!(
        s.get("gpd").await.expect("get"),
        None,
        "a directory is not a key"
    );
    assert_eq!(s.get("gpd/").await.expect("get"), None);
    s.put("gpd/empty", Vec::new()).await.expect("put empty");
    assert_eq!(s.get("gpd/empty").await.expect("get"), Some(Vec::new()));
    s.delete("gpd/a").await.expect("delete");
    assert_eq!(s.get("gpd/a").await.expect("get"), None);
    s.delete("gpd/a")
        .await
        .expect("deleting a missing key is not an error");
    s.delete("gpd/never")
        .await
        .expect("deleting a missing key is not an error");
    wipe(&*s, &["gpd/empty"]).await;
}

/// Immediate children only, directories once with a trailing `/`, sorted bytewise, a key and a
/// directory of the same name both listed, no prefix-string false positives.
pub async fn list_semantics(s: Arc<dyn Storage>) {
    let keys = [
        "ls/foo",
        "ls/foo/bar",
        "ls/foo/baz/qux",
        "ls/foo-x",
        "ls/fooz",
        "ls/Zeta",
        "ls/a b",
        "lsx/other",
    ];
    for k in keys {
        s.put(k, k.as_bytes().to_vec()).await.expect("put");
    }
    assert_eq!(
        s.list("ls/").await.expect("list"),
        ["Zeta", "a b", "foo", "foo-x", "foo/", "fooz"]
    );
    assert_eq!(s.list("ls/foo/").await.expect("list"), ["bar", "baz/"]);
    assert_eq!(s.list("ls/foo/baz/").await.expect("list"), ["qux"]);
    assert!(s.list("ls/missing/").await.expect("list").is_empty());
    assert!(
        s.list("ls/foo/bar/").await.expect("list").is_empty(),
        "a key has no children"
    );
    s.delete("ls/foo/baz/qux").await.expect("delete");
    assert_eq!(
        s.list("ls/foo/").await.expect("list"),
        ["bar"],
        "empty directories vanish"
    );
    wipe(&*s, &keys).await;
}

/// Deep trees list level by level, and wide directories list every child once.
pub async fn nested_lists(s: Arc<dyn Storage>) {
    let deep = "nest/a/b/c/d/e/leaf";
    s.put(deep, b"x".to_vec()).await.expect("put");
    let levels = [
        "nest/",
        "nest/a/",
        "nest/a/b/",
        "nest/a/b/c/",
        "nest/a/b/c/d/",
        "nest/a/b/c/d/e/",
    ];
    let want = ["a/", "b/", "c/", "d/", "e/", "leaf"];
    for (prefix, child) in levels.iter().zip(want) {
        assert_eq!(
            s.list(prefix).await.expect("list"),
            [child],
            "list {prefix}"
        );
    }
    let mut wide = Vec::new();
    for i in 0..40 {
        for j in 0..3 {
            let k = format!("nest/w/{i:03}/{j}");
            s.put(&k, vec![j as u8]).await.expect("put");
            wide.push(k);
        }
    }
    let listed = s.list("nest/w/").await.expect("list");
    let expected: Vec<String> = (0..40).map(|i| format!("{i:03}/")).collect();
    assert_eq!(listed, expected);
    let refs: Vec<&str> = wide.iter().map(String::as_str).collect();
    wipe(&*s, &refs).await;
    wipe(&*s, &[deep]).await;
}

/// All ops of a transaction apply, in order (a later op on the same key wins).
pub async fn transaction_applies_in_order(s: Arc<dyn Storage>) {
    s.put("txn/old", b"old".to_vec()).await.expect("put");
    s.transaction(vec![
        TxnOp::Put {
            key: "txn/a".into(),
            value: b"1".to_vec(),
        },
        TxnOp::Put {
            key: "txn/b".into(),
            value: b"2".to_vec(),
        },
        TxnOp::Delete {
            key: "txn/old".into(),
        },
        TxnOp::Put {
            key: "txn/c".into(),
            value: b"first".to_vec(),
        },
        TxnOp::Put {
            key: "txn/c".into(),
            value: b"second".to_vec(),
        },
        TxnOp::Put {
            key: "txn/d".into(),
            value: b"gone".to_vec(),
        },
        TxnOp::Delete {
            key: "txn/d".into(),
        },
        TxnOp::Delete {
            key: "txn/never".into(),
        },
    ])
    .await
    .expect("transaction");
    assert_eq!(s.list("txn/").await.expect("list"), ["a", "b", "c"]);
    assert_eq!(
        s.get("txn/c").await.expect("get").as_deref(),
        Some(&b"second"[..])
    );
    s.transaction(Vec::new()).await.expect("empty transaction");
    wipe(&*s, &["txn/a", "txn/b", "txn/c"]).await;
}

/// A reader racing transactions that keep two keys equal never sees them differ.
pub async fn transaction_is_atomic_to_readers(s: Arc<dyn Storage>) {
    let pair = |n: u32| {
        vec![
            TxnOp::Put {
                key: "atomic/x".into(),
                value: n.to_be_bytes().to_vec(),
            },
            TxnOp::Put {
                key: "atomic/y".into(),
                value: n.to_be_bytes().to_vec(),
            },
        ]
    };
    s.transaction(pair(0)).await.expect("transaction");
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (s, stop) = (Arc::clone(&s), Arc::clone(&stop));
        tokio::spawn(async move {
            let mut reads = 0u32;
            while !stop.load(Ordering::SeqCst) || reads == 0 {
                // Read y first: with atomic commits y's value is never older than x's.
                let y = s.get("atomic/y").await.expect("get").expect("y present");
                let x = s.get("atomic/x").await.expect("get").expect("x present");
                let (x, y) = (
                    u32::from_be_bytes(x[..4].try_into().expect("4 bytes")),
                    u32::from_be_bytes(y[..4].try_into().expect("4 bytes")),
                );
                assert!(x >= y, "torn transaction: saw y={y} then x={x}");
                reads += 1;
                tokio::task::yield_now().await;
            }
        })
    };
    for n in 1..=200 {
        s.transaction(pair(n)).await.expect("transaction");
    }
    stop.store(true, Ordering::SeqCst);
    reader.await.expect("reader");
    // All-or-nothing on failure is up to the backend's error path; here both must be final.
    assert_eq!(
        s.get("atomic/x").await.expect("get"),
        Some(200u32.to_be_bytes().to_vec())
    );
    assert_eq!(
        s.get("atomic/y").await.expect("get"),
        Some(200u32.to_be_bytes().to_vec())
    );
    wipe(&*s, &["atomic/x", "atomic/y"]).await;
}

/// Values are opaque bytes (every byte value, not UTF-8); keys are any UTF-8.
pub async fn binary_values_and_keys(s: Arc<dyn Storage>) {
    let all: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
    let keys = [
        "bin/all",
        "bin/ünïcødé ☃",
        "bin/with space",
        "bin/trailing.dot.",
    ];
    for k in keys {
        s.put(k, all.clone()).await.expect("put");
    }
    for k in keys {
        assert_eq!(
            s.get(k).await.expect("get"),
            Some(all.clone()),
            "value of {k}"
        );
    }
    assert_eq!(
        s.list("bin/").await.expect("list"),
        ["all", "trailing.dot.", "with space", "ünïcødé ☃"]
    );
    wipe(&*s, &keys).await;
}

/// 1 MiB and 4 MiB values round-trip exactly and can be replaced by small ones.
pub async fn large_values(s: Arc<dyn Storage>) {
    for (i, len) in [1usize << 20, 4 << 20].into_iter().enumerate() {
        let v = pattern(i as u64 + 7, len);
        s.put("large/v", v.clone()).await.expect("put large");
        let got = s.get("large/v").await.expect("get large").expect("present");
        assert!(got == v, "large value of {len} bytes changed");
    }
    s.put("large/v", b"small".to_vec()).await.expect("put");
    assert_eq!(
        s.get("large/v").await.expect("get").as_deref(),
        Some(&b"small"[..])
    );
    wipe(&*s, &["large/v"]).await;
}

/// 64 concurrent writers: every write lands; racing writes to one key leave one of the values.
pub async fn concurrent_writers(s: Arc<dyn Storage>) {
    const WRITERS: u64 = 64;
    const EACH: u64 = 20;
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..WRITERS {
        let s = Arc::clone(&s);
        tasks.spawn(async move {
            for i in 0..EACH {
                s.put(&format!("conc/w{w:02}/{i:02}"), pattern(w * 1000 + i, 100))
                    .await
                    .expect("put");
                s.put("conc/shared", w.to_be_bytes().to_vec())
                    .await
                    .expect("put shared");
            }
        });
    }
    while let Some(res) = tasks.join_next().await {
        res.expect("writer task");
    }
    let dirs = s.list("conc/").await.expect("list");
    assert_eq!(dirs.len() as u64, WRITERS + 1);
    for w in 0..WRITERS {
        let children = s.list(&format!("conc/w{w:02}/")).await.expect("list");
        assert_eq!(children.len() as u64, EACH);
        for i in 0..EACH {
            let k = format!("conc/w{w:02}/{i:02}");
            assert_eq!(
                s.get(&k).await.expect("get"),
                Some(pattern(w * 1000 + i, 100)),
                "value of {k}"
            );
            s.delete(&k).await.expect("delete");
        }
    }
    let shared = s.get("conc/shared").await.expect("get").expect("present");
    let w = u64::from_be_bytes(shared[..].try_into().expect("8 bytes"));
    assert!(w < WRITERS);
    wipe(&*s, &["conc/shared"]).await;
}

/// `list` agrees with a naive model on a pseudo-random tree (names from a small alphabet that
/// includes bytes sorting just before and after `/`), for every directory prefix.
pub async fn list_matches_model(s: Arc<dyn Storage>) {
    use std::collections::{BTreeMap, BTreeSet};
    const ALPHABET: [&str; 6] = ["a", "a-", "a.", "a0", "b", "."];
    let noise = pattern(99, 4 * 300);
    let mut keys = BTreeSet::new();
    for chunk in noise.chunks(4) {
        let depth = 1 + usize::from(chunk[0] % 4);
        let parts: Vec<&str> = chunk[..depth]
            .iter()
            .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()])
            .collect();
        keys.insert(format!("model/{}", parts.join("/")));
    }
    for k in &keys {
        s.put(k, k.as_bytes().to_vec()).await.expect("put");
    }
    // Model: children of every directory prefix, computed from the full key set.
    let mut model: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for k in &keys {
        let mut start = 0;
        while let Some(pos) = k[start..].find('/') {
            let prefix = &k[..=start + pos];
            let rest = &k[prefix.len()..];
            let child = rest.find('/').map_or(rest, |i| &rest[..=i]);
            model
                .entry(prefix.to_owned())
                .or_default()
                .insert(child.to_owned());
            start += pos + 1;
        }
    }
    assert!(
        model.len() > 20,
        "the generated tree is too small to mean anything"
    );
    for (prefix, children) in &model {
        let want: Vec<String> = children.iter().cloned().collect();
        assert_eq!(s.list(prefix).await.expect("list"), want, "list {prefix}");
    }
    for k in &keys {
        s.delete(k).await.expect("delete");
    }
}
