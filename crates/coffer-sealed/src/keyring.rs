//! The set of private keys that may unseal, with an order that usually tries the right key first.
//!
//! The wire format carries no key identifier, so upstream tries every key for every item (one RSA
//! private operation each). Here keys are tried in this order, without changing the format:
//! 1. keys whose modulus size differs from the blob's RSA part are skipped for free;
//! 2. the key that last opened an item of the same object (hint `namespace/name`);
//! 3. the key that last opened an item in the same namespace (objects sealed together usually
//!    share a key);
//! 4. the remaining keys, newest first (new values are sealed with the newest key).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::error::CryptoError;
use crate::hybrid;
use crate::keys::{KeyId, PrivateKey, SealingCert};

/// Upper bound on remembered hints; the cache is cleared when it grows beyond.
const MAX_HINTS: usize = 100_000;

/// One key of the ring.
#[derive(Debug, Clone)]
pub struct RingKey {
    /// The private key.
    pub key: PrivateKey,
    /// Its certificate, when known.
    pub cert: Option<SealingCert>,
    /// Ordering time (certificate NotBefore or Secret creation time).
    pub order_time: OffsetDateTime,
}

/// One version of a key held by a remote service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteVersion {
    /// The service's version number.
    pub version: u32,
    /// Identifier of its public key (same scheme as local keys).
    pub id: KeyId,
    /// RSA modulus size in bytes.
    pub size_bytes: usize,
}

/// RSA keys whose private halves live in another service (coffer transit): the ring asks it to
/// decrypt the session-key block and does the AES-GCM part itself.
pub trait RemoteKeys: Send + Sync + std::fmt::Debug {
    /// The versions that may decrypt, newest first.
    fn versions(&self) -> Vec<RemoteVersion>;
    /// RSA-OAEP-SHA256 decryption of `rsa_part` with `version` and the OAEP `label`:
    /// `Ok(None)` when the key or label does not fit, `Err` (a message naming the service, never
    /// a secret) when the service could not answer.
    fn decrypt_session_key(
        &self,
        version: u32,
        rsa_part: &[u8],
        label: &[u8],
    ) -> Result<Option<Zeroizing<Vec<u8>>>, String>;
    /// The certificate of the newest version (what `/v1/cert.pem` serves).
    fn latest_cert(&self) -> Option<SealingCert>;
}

enum Candidate<'a> {
    Local(&'a RingKey),
    Remote(&'a RemoteVersion),
}

impl Candidate<'_> {
    fn id(&self) -> KeyId {
        match self {
            Candidate::Local(k) => k.key.id(),
            Candidate::Remote(v) => v.id,
        }
    }
    fn is_remote(&self) -> bool {
        matches!(self, Candidate::Remote(_))
    }
    fn size_bytes(&self) -> usize {
        match self {
            Candidate::Local(k) => k.key.oaep().key_size_bytes(),
            Candidate::Remote(v) => v.size_bytes,
        }
    }
}

/// Private keys, newest first, plus the "which key opened what" memory.
#[derive(Debug, Default)]
pub struct KeyRing {
    keys: Vec<RingKey>,
    remote: Option<Arc<dyn RemoteKeys>>,
    hints: RwLock<HashMap<String, KeyId>>,
    rsa_ops: AtomicU64,
}

impl Clone for KeyRing {
    fn clone(&self) -> Self {
        let hints = self.hints.read().map(|h| h.clone()).unwrap_or_default();
        KeyRing {
            keys: self.keys.clone(),
            remote: self.remote.clone(),
            hints: RwLock::new(hints),
            rsa_ops: AtomicU64::new(self.rsa_ops()),
        }
    }
}

impl KeyRing {
    /// An empty ring.
    pub fn new() -> KeyRing {
        KeyRing::default()
    }

    /// A ring from bare keys (all with the same ordering time, order kept).
    pub fn from_keys(keys: impl IntoIterator<Item = PrivateKey>) -> KeyRing {
        let mut ring = KeyRing::new();
        for key in keys {
            ring.add(RingKey {
                key,
                cert: None,
                order_time: OffsetDateTime::UNIX_EPOCH,
            });
        }
        ring
    }

    /// Adds a key (ignored if the same public key is already present); keeps newest first,
    /// stable among equal times.
    pub fn add(&mut self, key: RingKey) {
        if self.keys.iter().any(|k| k.key.id() == key.key.id()) {
            return;
        }
        let pos = self
            .keys
            .iter()
            .position(|k| k.order_time < key.order_time)
            .unwrap_or(self.keys.len());
        self.keys.insert(pos, key);
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }
    /// True when there is no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
    /// Keys, newest first.
    pub fn keys(&self) -> &[RingKey] {
        &self.keys
    }
    /// The most recent key (the one to seal with).
    pub fn latest(&self) -> Option<&RingKey> {
        self.keys.first()
    }

    /// Decrypts `blob` with the first key that works; `hint` names the object the value belongs
    /// to as `namespace/name` (use `""` for none). Keys are tried in this order: the key that
    /// last opened a value of the same object, then the one that last opened a value in the same
    /// namespace, then the rest newest first (remote versions before local keys). Returns the
    /// plaintext; when no key opened the value and a remote key could not be asked, the remote
    /// failure is returned instead of [`CryptoError::WrongKey`].
    pub fn decrypt(
        &self,
        blob: &[u8],
        label: &[u8],
        hint: &str,
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let (rsa_part, _) = hybrid::split(blob)?;
        let ns_hint = hint.split_once('/').map(|(ns, _)| format!("{ns}/"));
        let (by_object, by_namespace) = if hint.is_empty() {
            (None, None)
        } else {
            let hints = self.hints.read().ok();
            let get = |k: &str| hints.as_ref().and_then(|h| h.get(k).copied());
            (get(hint), ns_hint.as_deref().and_then(get))
        };
        let remote_versions = self
            .remote
            .as_ref()
            .map(|r| r.versions())
            .unwrap_or_default();
        let candidates: Vec<Candidate<'_>> = remote_versions
            .iter()
            .map(Candidate::Remote)
            .chain(self.keys.iter().map(Candidate::Local))
            .filter(|c| c.size_bytes() == rsa_part.len())
            .collect();
        // Once the remote service failed, its other versions are not asked (same service:
        // same failure, and each attempt may cost a timeout).
        let mut backend_error = None;
        let mut tried: [Option<KeyId>; 2] = [None, None];
        for (slot, id) in [by_object, by_namespace].into_iter().enumerate() {
            let Some(id) = id else { continue };
            if tried.contains(&Some(id)) {
                continue;
            }
            tried[slot] = Some(id);
            if let Some(c) = candidates.iter().find(|c| c.id() == id)
                && !(backend_error.is_some() && c.is_remote())
            {
                match self.try_candidate(c, blob, label) {
                    Ok(plain) => {
                        if slot == 1 {
                            self.remember(hint, id, None);
                        }
                        return Ok(plain);
                    }
                    Err(e @ CryptoError::Backend(_)) => backend_error = Some(e),
                    Err(_) => {}
                }
            }
        }
        for c in candidates.iter().filter(|c| !tried.contains(&Some(c.id()))) {
            if backend_error.is_some() && c.is_remote() {
                continue;
            }
            match self.try_candidate(c, blob, label) {
                Ok(plain) => {
                    if !hint.is_empty() {
                        self.remember(hint, c.id(), ns_hint.as_deref());
                    }
                    return Ok(plain);
                }
                Err(e @ CryptoError::Backend(_)) => backend_error = Some(e),
                Err(_) => {}
            }
        }
        Err(backend_error.unwrap_or(CryptoError::WrongKey))
    }

    fn try_candidate(
        &self,
        c: &Candidate<'_>,
        blob: &[u8],
        label: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        match c {
            Candidate::Local(k) => self.try_key(k, blob, label),
            Candidate::Remote(v) => {
                let remote = self.remote.as_ref().ok_or(CryptoError::WrongKey)?;
                let (rsa_part, aes_part) = hybrid::split(blob)?;
                self.rsa_ops.fetch_add(1, Ordering::Relaxed);
                match remote.decrypt_session_key(v.version, rsa_part, label) {
                    Ok(Some(session_key)) => hybrid::open_with_session_key(&session_key, aes_part),
                    Ok(None) => Err(CryptoError::WrongKey),
                    Err(msg) => Err(CryptoError::Backend(msg)),
                }
            }
        }
    }

    /// A ring whose keys are held by a remote service (coffer transit); it may also hold local
    /// keys.
    pub fn with_remote(remote: Arc<dyn RemoteKeys>) -> KeyRing {
        KeyRing {
            remote: Some(remote),
            ..KeyRing::default()
        }
    }

    /// The remote key set, if any.
    pub fn remote(&self) -> Option<&Arc<dyn RemoteKeys>> {
        self.remote.as_ref()
    }

    /// The certificate to seal with: the remote key's newest version when there is a remote key
    /// set, else the newest local key's certificate.
    pub fn latest_cert(&self) -> Option<SealingCert> {
        match &self.remote {
            Some(r) => r.latest_cert(),
            None => self.latest().and_then(|k| k.cert.clone()),
        }
    }

    fn remember(&self, hint: &str, id: KeyId, ns_hint: Option<&str>) {
        if let Ok(mut hints) = self.hints.write() {
            if hints.len() >= MAX_HINTS {
                hints.clear();
            }
            hints.insert(hint.to_owned(), id);
            if let Some(ns) = ns_hint {
                hints.insert(ns.to_owned(), id);
            }
        }
    }

    /// RSA private-key operations performed so far (what the key ordering saves).
    pub fn rsa_ops(&self) -> u64 {
        self.rsa_ops.load(Ordering::Relaxed)
    }

    fn try_key(
        &self,
        k: &RingKey,
        blob: &[u8],
        label: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        self.rsa_ops.fetch_add(1, Ordering::Relaxed);
        hybrid::decrypt(k.key.oaep(), blob, label)
    }

    /// Forgets all hints (e.g. after keys were removed).
    pub fn forget_hints(&self) {
        if let Ok(mut h) = self.hints.write() {
            h.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    fn keys() -> &'static [PrivateKey] {
        static KEYS: OnceLock<Vec<PrivateKey>> = OnceLock::new();
        KEYS.get_or_init(|| {
            (0..3)
                .map(|_| PrivateKey::generate(2048).unwrap())
                .collect()
        })
    }

    fn at(key: &PrivateKey, secs: i64) -> RingKey {
        RingKey {
            key: key.clone(),
            cert: None,
            order_time: OffsetDateTime::from_unix_timestamp(secs).unwrap(),
        }
    }

    #[test]
    fn ordering_saves_rsa_operations() {
        let k = keys();
        let mut ring = KeyRing::new();
        for (i, key) in k.iter().enumerate() {
            ring.add(at(key, 100 - i as i64));
        }
        // Newest key: one operation, even without a hint.
        let fresh = hybrid::encrypt(k[0].public(), b"n", b"").unwrap();
        ring.decrypt(&fresh, b"", "").unwrap();
        assert_eq!(ring.rsa_ops(), 1);
        // Oldest key: the first time costs every key, then the object's hint makes it one.
        let old = hybrid::encrypt(k[2].public(), b"o", b"ns/a").unwrap();
        ring.decrypt(&old, b"ns/a", "ns/a").unwrap();
        assert_eq!(ring.rsa_ops(), 1 + 3);
        ring.decrypt(&old, b"ns/a", "ns/a").unwrap();
        assert_eq!(ring.rsa_ops(), 1 + 3 + 1);
        // Another object of the namespace starts with the namespace's key.
        let sibling = hybrid::encrypt(k[2].public(), b"s", b"ns/b").unwrap();
        ring.decrypt(&sibling, b"ns/b", "ns/b").unwrap();
        assert_eq!(ring.rsa_ops(), 1 + 3 + 1 + 1);
        // A blob of another modulus size is never tried (no RSA operation).
        let other = PrivateKey::generate(3072).unwrap();
        let blob = hybrid::encrypt(other.public(), b"x", b"").unwrap();
        assert!(ring.decrypt(&blob, b"", "").is_err());
        assert_eq!(ring.rsa_ops(), 6);
    }

    /// A remote key set backed by local keys, counting calls; `down` makes every call fail.
    #[derive(Debug)]
    struct FakeRemote {
        keys: Vec<PrivateKey>,
        calls: AtomicU64,
        down: bool,
    }

    impl RemoteKeys for FakeRemote {
        fn versions(&self) -> Vec<RemoteVersion> {
            (0..self.keys.len())
                .rev()
                .map(|i| RemoteVersion {
                    version: i as u32 + 1,
                    id: self.keys[i].id(),
                    size_bytes: self.keys[i].oaep().key_size_bytes(),
                })
                .collect()
        }
        fn decrypt_session_key(
            &self,
            version: u32,
            rsa_part: &[u8],
            label: &[u8],
        ) -> Result<Option<Zeroizing<Vec<u8>>>, String> {
            use aws_lc_rs::rsa::OAEP_SHA256_MGF1SHA256;
            self.calls.fetch_add(1, Ordering::Relaxed);
            if self.down {
                return Err("cannot connect to coffer at http://x:1".into());
            }
            let key = self.keys[version as usize - 1].oaep();
            let mut out = vec![0u8; key.min_output_size()];
            let label = (!label.is_empty()).then_some(label);
            Ok(key
                .decrypt(&OAEP_SHA256_MGF1SHA256, rsa_part, &mut out, label)
                .ok()
                .map(|p| Zeroizing::new(p.to_vec())))
        }
        fn latest_cert(&self) -> Option<SealingCert> {
            None
        }
    }

    #[test]
    fn remote_versions_use_hints_and_stop_on_service_failure() {
        let k = keys();
        // Versions 1..3 = keys 0..2; version 3 (k[2]) is the newest.
        let remote = Arc::new(FakeRemote {
            keys: k.to_vec(),
            calls: AtomicU64::new(0),
            down: false,
        });
        let ring = KeyRing::with_remote(remote.clone());
        let old = hybrid::encrypt(k[0].public(), b"v1", b"ns/a").unwrap();
        assert_eq!(&ring.decrypt(&old, b"ns/a", "ns/a").unwrap()[..], b"v1");
        assert_eq!(
            remote.calls.load(Ordering::Relaxed),
            3,
            "newest first: v3, v2, v1"
        );
        assert_eq!(&ring.decrypt(&old, b"ns/a", "ns/a").unwrap()[..], b"v1");
        assert_eq!(
            remote.calls.load(Ordering::Relaxed),
            4,
            "remembered version first"
        );
        assert_eq!(
            ring.decrypt(&old, b"ns/b", "ns/a"),
            Err(CryptoError::WrongKey)
        );
        let down = Arc::new(FakeRemote {
            keys: k.to_vec(),
            calls: AtomicU64::new(0),
            down: true,
        });
        let ring = KeyRing::with_remote(down.clone());
        let err = ring.decrypt(&old, b"ns/a", "ns/a").unwrap_err();
        assert!(matches!(err, CryptoError::Backend(ref m) if m.contains("cannot connect")));
        assert_eq!(
            down.calls.load(Ordering::Relaxed),
            1,
            "a failed service is asked once"
        );
    }

    #[test]
    fn newest_first_and_dedup() {
        let k = keys();
        let mut ring = KeyRing::new();
        ring.add(at(&k[0], 10));
        ring.add(at(&k[1], 30));
        ring.add(at(&k[2], 20));
        ring.add(at(&k[1], 40));
        let ids: Vec<_> = ring.keys().iter().map(|r| r.key.id()).collect();
        assert_eq!(ids, vec![k[1].id(), k[2].id(), k[0].id()]);
        assert_eq!(ring.latest().unwrap().key.id(), k[1].id());
    }

    #[test]
    fn any_key_opens_and_hint_is_remembered() {
        let k = keys();
        let ring = KeyRing::from_keys(k.iter().cloned());
        let blob = hybrid::encrypt(k[2].public(), b"v", b"ns/n").unwrap();
        assert_eq!(&ring.decrypt(&blob, b"ns/n", "ns/n").unwrap()[..], b"v");
        assert_eq!(ring.hints.read().unwrap().get("ns/n"), Some(&k[2].id()));
        // With the hint the right key is found first; the wrong label still fails.
        assert_eq!(&ring.decrypt(&blob, b"ns/n", "ns/n").unwrap()[..], b"v");
        assert_eq!(
            ring.decrypt(&blob, b"ns/x", "ns/n"),
            Err(CryptoError::WrongKey)
        );
        // A stale hint (key of another value) falls back to the full scan.
        let blob0 = hybrid::encrypt(k[0].public(), b"w", b"ns/n").unwrap();
        assert_eq!(&ring.decrypt(&blob0, b"ns/n", "ns/n").unwrap()[..], b"w");
        assert_eq!(ring.hints.read().unwrap().get("ns/n"), Some(&k[0].id()));
        // Another object of the same namespace starts with the namespace's key.
        assert_eq!(ring.hints.read().unwrap().get("ns/"), Some(&k[0].id()));
        let other = hybrid::encrypt(k[0].public(), b"z", b"ns/m").unwrap();
        assert_eq!(&ring.decrypt(&other, b"ns/m", "ns/m").unwrap()[..], b"z");
        assert_eq!(ring.hints.read().unwrap().get("ns/m"), Some(&k[0].id()));
    }
}
