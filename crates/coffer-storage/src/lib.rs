//! Physical storage for coffer: a small async trait over a flat key space of
//! `/`-separated paths, with backends (memory, embedded redb file) and one
//! conformance suite that every backend must pass.
//!
//! Values handed to storage are already encrypted by the barrier; backends
//! never see plaintext.
#![forbid(unsafe_code)]

use async_trait::async_trait;

mod file;
mod list;
mod memory;

#[cfg(feature = "testing")]
pub mod conformance;
#[cfg(feature = "testing")]
pub mod faults;

pub use file::{FileStorage, WriteStats};
pub use memory::MemoryStorage;

/// One change inside an atomic [`Storage::transaction`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnOp {
    Put { key: String, value: Vec<u8> },
    Delete { key: String },
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage i/o failed: {0}")]
    Io(String),
    /// The backend could not be opened (bad directory, locked or corrupt database file).
    #[error("cannot open storage at {path}: {reason}")]
    Open { path: String, reason: String },
    /// The backend was shut down (its writer thread is gone); no further writes are accepted.
    #[error("storage is closed")]
    Closed,
}

/// Flat key/value storage. Keys are UTF-8 paths such as `core/keyring` or `logical/<uuid>/foo`.
///
/// Contract:
/// - `put` and `transaction` return only once the change is durable for durable backends
///   (fsync'd; concurrent writers may share one fsync through group commit).
/// - `list(prefix)` returns the immediate children below `prefix` (which is empty or ends in `/`),
///   sorted; a child that has keys below it is listed once, with a trailing `/` (Vault semantics).
/// - `delete` of a missing key is not an error.
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError>;
    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), StorageError>;
    async fn delete(&self, key: &str) -> Result<(), StorageError>;
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError>;
    async fn transaction(&self, ops: Vec<TxnOp>) -> Result<(), StorageError>;
    /// A short name for seal-status / metrics, e.g. `inmem` or `file`.
    fn kind(&self) -> &'static str;
}
