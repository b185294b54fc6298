//! Fault doubles for tests of code built on [`Storage`]: [`FailingStorage`] fails writes
//! (or every operation) on command, [`CountingStorage`] counts calls per operation.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use async_trait::async_trait;

use crate::{Storage, StorageError, TxnOp};

/// What a [`FailingStorage`] currently fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum FailMode {
    /// Pass everything through.
    Never = 0,
    /// Fail `put`, `delete` and `transaction`; reads pass.
    Writes = 1,
    /// Fail every operation.
    All = 2,
}

/// The message of every injected error, so tests can tell them from real ones.
pub const INJECTED: &str = "injected failure";

/// Wraps a backend and fails operations while told to. Cheap to clone; clones share the switch.
pub struct FailingStorage<S> {
    inner: Arc<S>,
    mode: Arc<AtomicU8>,
}

impl<S> Clone for FailingStorage<S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            mode: Arc::clone(&self.mode),
        }
    }
}

impl<S: Storage> FailingStorage<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner: Arc::new(inner),
            mode: Arc::new(AtomicU8::new(FailMode::Never as u8)),
        }
    }

    pub fn set_mode(&self, mode: FailMode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }

    pub fn fail_writes(&self) {
        self.set_mode(FailMode::Writes);
    }

    pub fn fail_all(&self) {
        self.set_mode(FailMode::All);
    }

    pub fn heal(&self) {
        self.set_mode(FailMode::Never);
    }

    pub fn mode(&self) -> FailMode {
        match self.mode.load(Ordering::SeqCst) {
            0 => FailMode::Never,
            1 => FailMode::Writes,
            _ => FailMode::All,
        }
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn check(&self, write: bool) -> Result<(), StorageError> {
        match (self.mode(), write) {
            (FailMode::All, _) | (FailMode::Writes, true) => Err(StorageError::Io(INJECTED.into())),
            _ => Ok(()),
        }
    }
}

#[async_trait]
impl<S: Storage> Storage for FailingStorage<S> {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        self.check(false)?;
        self.inner.get(key).await
    }

    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), StorageError> {
        self.check(true)?;
        self.inner.put(key, value).await
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.check(true)?;
        self.inner.delete(key).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        self.check(false)?;
        self.inner.list(prefix).await
    }

    async fn transaction(&self, ops: Vec<TxnOp>) -> Result<(), StorageError> {
        self.check(true)?;
        self.inner.transaction(ops).await
    }

    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
}

/// Calls seen by a [`CountingStorage`] (including calls that failed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpCounts {
    pub get: u64,
    pub put: u64,
    pub delete: u64,
    pub list: u64,
    pub transaction: u64,
}

impl OpCounts {
    pub fn writes(&self) -> u64 {
        self.put + self.delete + self.transaction
    }

    pub fn reads(&self) -> u64 {
        self.get + self.list
    }
}

#[derive(Default)]
struct Counters {
    get: AtomicU64,
    put: AtomicU64,
    delete: AtomicU64,
    list: AtomicU64,
    transaction: AtomicU64,
}

/// Wraps a backend and counts calls per operation. Cheap to clone; clones share the counts.
pub struct CountingStorage<S> {
    inner: Arc<S>,
    counts: Arc<Counters>,
}

impl<S> Clone for CountingStorage<S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            counts: Arc::clone(&self.counts),
        }
    }
}

impl<S: Storage> CountingStorage<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner: Arc::new(inner),
            counts: Arc::default(),
        }
    }

    pub fn counts(&self) -> OpCounts {
        let c = &self.counts;
        OpCounts {
            get: c.get.load(Ordering::SeqCst),
            put: c.put.load(Ordering::SeqCst),
            delete: c.delete.load(Ordering::SeqCst),
            list: c.list.load(Ordering::SeqCst),
            transaction: c.transaction.load(Ordering::SeqCst),
        }
    }

    pub fn reset(&self) {
        for c in [
            &self.counts.get,
            &self.counts.put,
            &self.counts.delete,
            &self.counts.list,
            &self.counts.transaction,
        ] {
            c.store(0, Ordering::SeqCst);
        }
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }
}

#[async_trait]
impl<S: Storage> Storage for CountingStorage<S> {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        self.counts.get.fetch_add(1, Ordering::SeqCst);
        self.inner.get(key).await
    }

    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), StorageError> {
        self.counts.put.fetch_add(1, Ordering::SeqCst);
        self.inner.put(key, value).await
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.counts.delete.fetch_add(1, Ordering::SeqCst);
        self.inner.delete(key).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        self.counts.list.fetch_add(1, Ordering::SeqCst);
        self.inner.list(prefix).await
    }

    async fn transaction(&self, ops: Vec<TxnOp>) -> Result<(), StorageError> {
        self.counts.transaction.fetch_add(1, Ordering::SeqCst);
        self.inner.transaction(ops).await
    }

    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
}
