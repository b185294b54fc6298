//! [`MemoryStorage`]: a sorted map behind a lock, for dev mode and tests.
//! Nothing is durable; every operation completes without awaiting.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;

use crate::{Storage, StorageError, TxnOp, list};

/// In-memory backend (`storage "inmem" {}`).
#[derive(Debug, Default)]
pub struct MemoryStorage {
    map: RwLock<BTreeMap<String, Vec<u8>>>,
}

impl MemoryStorage {
    pub fn new() -> Self {
        Self::default()
    }

    // A panic while holding the lock cannot leave the map half-updated (every
    // mutation is a single insert/remove or a loop over already-validated ops),
    // so a poisoned lock is safe to keep using.
    fn read(&self) -> RwLockReadGuard<'_, BTreeMap<String, Vec<u8>>> {
        self.map.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<String, Vec<u8>>> {
        self.map.write().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl Storage for MemoryStorage {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.read().get(key).cloned())
    }

    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), StorageError> {
        self.write().insert(key.to_owned(), value);
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.write().remove(key);
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let map = self.read();
        list::children::<StorageError>(prefix, |bound| {
            Ok(map
                .range::<str, _>((bound, Bound::Unbounded))
                .next()
                .map(|(k, _)| k.clone()))
        })
    }

    async fn transaction(&self, ops: Vec<TxnOp>) -> Result<(), StorageError> {
        let mut map = self.write();
        for op in ops {
            match op {
                TxnOp::Put { key, value } => {
                    map.insert(key, value);
                }
                TxnOp::Delete { key } => {
                    map.remove(&key);
                }
            }
        }
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "inmem"
    }
}
