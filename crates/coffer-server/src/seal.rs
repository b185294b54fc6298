//! Shamir seal: initialisation (root key, keyring, unseal key shares), the
//! unseal progress state machine and sealing. Only wrapped keys and the seal
//! configuration touch physical storage; the root key never does in clear.
//!
//! Physical layout (not through the barrier):
//! - `core/seal-config`: JSON `{"type":"shamir","secret_shares":n,"secret_threshold":t}`
//! - `core/root-key`: root key sealed (AES-256-GCM) under the unseal key
//! - `core/keyring`: keyring bytes sealed under the root key

use std::sync::Arc;

use coffer_core::logical::Error;
use coffer_crypto::keyring::Keyring;
use coffer_crypto::secret::SecretBytes;
use coffer_crypto::{aead, random_array, shamir};
use serde::{Deserialize, Serialize};

use crate::barrier::Barrier;

const SEAL_CONFIG: &str = "core/seal-config";
const ROOT_KEY: &str = "core/root-key";
const KEYRING: &str = "core/keyring";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SealConfig {
    #[serde(rename = "type")]
    pub kind: String,
    pub secret_shares: u8,
    pub secret_threshold: u8,
}

/// Unseal keys handed out once by `sys/init`.
pub struct InitResult {
    pub shares: Vec<SecretBytes>,
    /// The combined key, so the caller can generate the root token before sealing.
    pub unseal_key: SecretBytes,
}

/// Shares collected so far by `sys/unseal`.
#[derive(Default)]
pub struct Progress {
    shares: Vec<SecretBytes>,
    pub nonce: String,
}

impl Progress {
    pub fn count(&self) -> usize {
        self.shares.len()
    }

    pub fn reset(&mut self) {
        self.shares.clear();
        self.nonce.clear();
    }
}

pub async fn config(barrier: &Barrier) -> Result<Option<SealConfig>, Error> {
    match barrier
        .physical()
        .get(SEAL_CONFIG)
        .await
        .map_err(Error::internal)?
    {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|_| Error::internal("seal configuration in storage is malformed")),
    }
}

/// Creates the root key and keyring and splits the unseal key. The barrier is
/// left sealed; the caller unseals with the returned shares (or the key).
pub async fn initialize(barrier: &Barrier, shares: u8, threshold: u8) -> Result<InitResult, Error> {
    if config(barrier).await?.is_some() {
        return Err(Error::bad_request("Vault is already initialized"));
    }
    validate(shares, threshold)?;
    let unseal_key = SecretBytes::new(random_array::<32>().to_vec());
    let root_key = SecretBytes::new(random_array::<32>().to_vec());
    let keyring = Keyring::generate();
    let key_shares = if shares == 1 {
        vec![unseal_key.clone()]
    } else {
        shamir::split(unseal_key.expose(), shares, threshold)
            .map_err(|e| Error::bad_request(e.to_string()))?
    };
    let physical = barrier.physical();
    let wrapped_root = aead::seal(key32(&unseal_key)?, ROOT_KEY.as_bytes(), root_key.expose());
    let wrapped_keyring = aead::seal(
        key32(&root_key)?,
        KEYRING.as_bytes(),
        keyring.to_bytes().expose(),
    );
    let cfg = SealConfig {
        kind: "shamir".into(),
        secret_shares: shares,
        secret_threshold: threshold,
    };
    let cfg = serde_json::to_vec(&cfg).map_err(Error::internal)?;
    physical
        .transaction(vec![
            coffer_storage::TxnOp::Put {
                key: ROOT_KEY.into(),
                value: wrapped_root,
            },
            coffer_storage::TxnOp::Put {
                key: KEYRING.into(),
                value: wrapped_keyring,
            },
            coffer_storage::TxnOp::Put {
                key: SEAL_CONFIG.into(),
                value: cfg,
            },
        ])
        .await
        .map_err(Error::internal)?;
    Ok(InitResult {
        shares: key_shares,
        unseal_key,
    })
}

fn validate(shares: u8, threshold: u8) -> Result<(), Error> {
    if shares == 0 || threshold == 0 {
        return Err(Error::bad_request(
            "invalid seal configuration: secret shares and threshold must be at least 1",
        ));
    }
    if threshold > shares {
        return Err(Error::bad_request(
            "invalid seal configuration: threshold cannot be larger than shares",
        ));
    }
    if shares > 1 && threshold < 2 {
        return Err(Error::bad_request(
            "invalid seal configuration: threshold must be greater than one for multiple shares",
        ));
    }
    Ok(())
}

fn key32(key: &SecretBytes) -> Result<&[u8; 32], Error> {
    key.expose()
        .try_into()
        .map_err(|_| Error::bad_request("unseal key has the wrong length"))
}

/// Decodes a share given as hex or base64.
pub fn decode_share(key: &str) -> Result<SecretBytes, Error> {
    use base64::Engine;
    let invalid = || Error::bad_request("'key' must be a valid hex or base64 string");
    if let Ok(bytes) = hex::decode(key) {
        return Ok(SecretBytes::new(bytes));
    }
    base64::engine::general_purpose::STANDARD
        .decode(key)
        .map(SecretBytes::new)
        .map_err(|_| invalid())
}

/// The keys that exist only while unsealed.
pub struct Unlocked {
    pub root_key: SecretBytes,
    pub keyring: Arc<Keyring>,
}

/// Adds one share. Returns the unlocked keys once the threshold is reached and the
/// shares open the root key; on a wrong key, progress is reset and an error returned.
pub async fn submit_share(
    barrier: &Barrier,
    progress: &mut Progress,
    share: SecretBytes,
) -> Result<Option<Unlocked>, Error> {
    let cfg = config(barrier)
        .await?
        .ok_or_else(|| Error::bad_request("Vault is not initialized"))?;
    if progress.shares.iter().any(|s| s.ct_eq(share.expose())) {
        return Ok(None);
    }
    if progress.nonce.is_empty() {
        progress.nonce = uuid::Uuid::new_v4().to_string();
    }
    progress.shares.push(share);
    if progress.shares.len() < usize::from(cfg.secret_threshold) {
        return Ok(None);
    }
    let unseal_key = if cfg.secret_shares == 1 {
        progress.shares[0].clone()
    } else {
        let refs: Vec<&[u8]> = progress.shares.iter().map(|s| s.expose()).collect();
        match shamir::combine(&refs) {
            Ok(k) => k,
            Err(e) => {
                progress.reset();
                return Err(Error::bad_request(format!(
                    "failed to combine unseal key shares: {e}"
                )));
            }
        }
    };
    progress.reset();
    open_keyring(barrier, &unseal_key).await.map(Some)
}

/// Unseals with the combined unseal key (dev mode keeps it in memory for restarts).
pub async fn open_keyring(barrier: &Barrier, unseal_key: &SecretBytes) -> Result<Unlocked, Error> {
    let physical = barrier.physical();
    let wrong = || Error::bad_request("Error unsealing: cipher: message authentication failed");
    let wrapped_root = physical
        .get(ROOT_KEY)
        .await
        .map_err(Error::internal)?
        .ok_or_else(wrong)?;
    let root = aead::open(
        key32(unseal_key).map_err(|_| wrong())?,
        ROOT_KEY.as_bytes(),
        &wrapped_root,
    )
    .map_err(|_| wrong())?;
    let wrapped_keyring = physical
        .get(KEYRING)
        .await
        .map_err(Error::internal)?
        .ok_or_else(wrong)?;
    let keyring_bytes = aead::open(key32(&root)?, KEYRING.as_bytes(), &wrapped_keyring)
        .map_err(|_| Error::internal("keyring could not be opened with the root key"))?;
    let keyring = Keyring::from_bytes(keyring_bytes.expose())
        .map_err(|_| Error::internal("keyring in storage is malformed"))?;
    Ok(Unlocked {
        root_key: root,
        keyring: Arc::new(keyring),
    })
}

/// Persists a rotated keyring under the root key (needs the unseal key's root key).
pub async fn store_keyring(
    barrier: &Barrier,
    root_key: &SecretBytes,
    keyring: &Keyring,
) -> Result<(), Error> {
    let wrapped = aead::seal(
        key32(root_key)?,
        KEYRING.as_bytes(),
        keyring.to_bytes().expose(),
    );
    barrier
        .physical()
        .put(KEYRING, wrapped)
        .await
        .map_err(Error::internal)
}
