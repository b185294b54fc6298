//! The encrypting barrier: every value an engine stores passes through the
//! keyring (AES-256-GCM, storage path as associated data) before it reaches
//! physical storage. A [`View`] is a prefix-scoped window of the barrier that
//! an engine owns; it cannot see outside its prefix.

use std::sync::{Arc, RwLock};

use coffer_core::logical::Error;
use coffer_crypto::keyring::Keyring;
use coffer_crypto::secret::SecretBytes;
use coffer_storage::{Storage, StorageError, TxnOp};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Barrier failures, mapped to HTTP once in [`From<BarrierError> for Error`].
#[derive(Debug, thiserror::Error)]
pub enum BarrierError {
    #[error("Vault is sealed")]
    Sealed,
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("stored entry at {path} could not be decrypted")]
    Decrypt { path: String },
    #[error("stored entry at {path} is malformed")]
    Decode { path: String },
}

impl From<BarrierError> for Error {
    fn from(e: BarrierError) -> Self {
        match e {
            BarrierError::Sealed => Error::Sealed,
            other => Error::internal(other),
        }
    }
}

/// Physical storage plus the keyring that exists only while unsealed.
pub struct Barrier {
    storage: Arc<dyn Storage>,
    keyring: RwLock<Option<Arc<Keyring>>>,
}

impl Barrier {
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        Barrier {
            storage,
            keyring: RwLock::new(None),
        }
    }

    /// The physical storage below the barrier (seal configuration, wrapped keys).
    pub fn physical(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    pub fn set_keyring(&self, keyring: Option<Arc<Keyring>>) {
        // A poisoned lock only means a panic elsewhere; the value is still consistent.
        *self.keyring.write().unwrap_or_else(|e| e.into_inner()) = keyring;
    }

    pub fn keyring(&self) -> Result<Arc<Keyring>, BarrierError> {
        self.keyring
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or(BarrierError::Sealed)
    }

    /// The decrypted value, in a buffer that is zeroized when dropped.
    pub async fn get(&self, path: &str) -> Result<Option<SecretBytes>, BarrierError> {
        let keyring = self.keyring()?;
        match self.storage.get(path).await? {
            None => Ok(None),
            Some(blob) => {
                keyring
                    .decrypt(path, &blob)
                    .map(Some)
                    .map_err(|_| BarrierError::Decrypt {
                        path: path.to_owned(),
                    })
            }
        }
    }

    pub async fn put(&self, path: &str, value: &[u8]) -> Result<(), BarrierError> {
        let blob = self.keyring()?.encrypt(path, value);
        Ok(self.storage.put(path, blob).await?)
    }

    pub async fn delete(&self, path: &str) -> Result<(), BarrierError> {
        self.keyring()?;
        Ok(self.storage.delete(path).await?)
    }

    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, BarrierError> {
        self.keyring()?;
        Ok(self.storage.list(prefix).await?)
    }

    /// Atomically applies puts (encrypted here) and deletes.
    pub async fn transaction(
        &self,
        ops: Vec<(String, Option<Vec<u8>>)>,
    ) -> Result<(), BarrierError> {
        let keyring = self.keyring()?;
        let ops = ops
            .into_iter()
            .map(|(key, value)| match value {
                Some(v) => TxnOp::Put {
                    value: keyring.encrypt(&key, &v),
                    key,
                },
                None => TxnOp::Delete { key },
            })
            .collect();
        Ok(self.storage.transaction(ops).await?)
    }
}

/// A prefix-scoped window of the barrier, handed to one engine or subsystem.
#[derive(Clone)]
pub struct View {
    barrier: Arc<Barrier>,
    prefix: String,
}

impl View {
    pub fn new(barrier: Arc<Barrier>, prefix: impl Into<String>) -> Self {
        View {
            barrier,
            prefix: prefix.into(),
        }
    }

    /// A narrower view below this one.
    pub fn sub(&self, prefix: &str) -> View {
        View {
            barrier: self.barrier.clone(),
            prefix: format!("{}{}", self.prefix, prefix),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn key(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }

    pub async fn get(&self, key: &str) -> Result<Option<SecretBytes>, BarrierError> {
        self.barrier.get(&self.key(key)).await
    }

    pub async fn put(&self, key: &str, value: &[u8]) -> Result<(), BarrierError> {
        self.barrier.put(&self.key(key), value).await
    }

    pub async fn delete(&self, key: &str) -> Result<(), BarrierError> {
        self.barrier.delete(&self.key(key)).await
    }

    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, BarrierError> {
        self.barrier.list(&self.key(prefix)).await
    }

    pub async fn get_json<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, BarrierError> {
        match self.get(key).await? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(bytes.expose())
                .map(Some)
                .map_err(|_| BarrierError::Decode {
                    path: self.key(key),
                }),
        }
    }

    pub async fn put_json<T: Serialize>(&self, key: &str, value: &T) -> Result<(), BarrierError> {
        let bytes = serde_json::to_vec(value).map_err(|_| BarrierError::Decode {
            path: self.key(key),
        })?;
        self.put(key, &bytes).await
    }

    /// Atomic multi-key write: `Some(bytes)` puts, `None` deletes.
    pub async fn transaction(&self, ops: Vec<(&str, Option<Vec<u8>>)>) -> Result<(), BarrierError> {
        let ops = ops.into_iter().map(|(k, v)| (self.key(k), v)).collect();
        self.barrier.transaction(ops).await
    }

    /// Deletes every key below `prefix` (recursively).
    pub async fn delete_prefix(&self, prefix: &str) -> Result<(), BarrierError> {
        let mut stack = vec![prefix.to_owned()];
        while let Some(dir) = stack.pop() {
            for child in self.list(&dir).await? {
                let full = format!("{dir}{child}");
                if child.ends_with('/') {
                    stack.push(full);
                } else {
                    self.delete(&full).await?;
                }
            }
        }
        Ok(())
    }
}
