//! The barrier keyring: numbered key terms (from 1), each a 32-byte AES-256-GCM key with its
//! install time. Every value written to storage is encrypted under the active term with the
//! storage path as associated data, so a ciphertext cannot be replayed under another key.
//! Rotation adds a term; older terms stay for decryption.
//!
//! Barrier entry (Vault's AESGCMVersion2 layout):
//! `term: u32 BE ‖ version: 0x02 ‖ nonce(12) ‖ ciphertext ‖ tag(16)`.
//!
//! Keyring blob (this crate's own, encrypted by the server under the root key):
//! `0x01 ‖ active: u32 BE ‖ count: u32 BE ‖ count × (term: u32 BE ‖ install_time: u64 BE ‖ key(32))`,
//! terms strictly ascending. Full spec: `docs/storage-format.md`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::aead::LessSafeKey;
use zeroize::Zeroizing;

use crate::aead::{self, KEY_LEN, NONCE_LEN, TAG_LEN};
use crate::random::random_array;
use crate::secret::SecretBytes;

/// Version byte of barrier entries (AES-GCM with the path as associated data).
pub const ENTRY_VERSION: u8 = 0x02;
/// Bytes before the ciphertext: term(4) + version(1) + nonce(12).
pub const ENTRY_HEADER_LEN: usize = 4 + 1 + NONCE_LEN;
/// Size added to every plaintext.
pub const ENTRY_OVERHEAD: usize = ENTRY_HEADER_LEN + TAG_LEN;
/// Version byte of the serialized keyring.
pub const KEYRING_VERSION: u8 = 0x01;
const KEYRING_HEADER_LEN: usize = 1 + 4 + 4;
const KEYRING_TERM_LEN: usize = 4 + 8 + KEY_LEN;

/// Why a barrier entry or keyring blob was refused. Never contains key or value bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BarrierError {
    #[error(
        "barrier entry at {path} is {len} bytes, shorter than the {ENTRY_OVERHEAD}-byte minimum"
    )]
    TooShort { path: String, len: usize },
    #[error("barrier entry at {path} has unsupported version byte {version:#04x}")]
    UnknownVersion { path: String, version: u8 },
    #[error(
        "barrier entry at {path} was encrypted under key term {term}, which the keyring does not have"
    )]
    UnknownTerm { path: String, term: u32 },
    #[error(
        "barrier entry at {path} failed authentication (tampered, moved from another path, or wrong keyring)"
    )]
    Authentication { path: String },
    #[error("the keyring has reached the last possible term and cannot rotate")]
    TermOverflow,
    #[error("keyring blob is malformed: {0}")]
    MalformedKeyring(&'static str),
}

/// Public facts about one term (for `sys/key-status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TermInfo {
    pub term: u32,
    /// Unix seconds.
    pub install_time: u64,
    /// Encryptions under this term by this process since it was loaded (not persisted).
    pub encryptions: u64,
}

struct Term {
    key: Zeroizing<[u8; KEY_LEN]>,
    install_time: u64,
    /// Expanded AES key schedule, built once.
    cipher: LessSafeKey,
    encryptions: AtomicU64,
}

impl Term {
    fn new(key: [u8; KEY_LEN], install_time: u64) -> Self {
        let key = Zeroizing::new(key);
        let cipher = aead::key(&key);
        Self {
            key,
            install_time,
            cipher,
            encryptions: AtomicU64::new(0),
        }
    }
}

/// The set of barrier key terms. `Debug` shows term numbers only.
pub struct Keyring {
    terms: BTreeMap<u32, Term>,
    active: u32,
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Keyring {
    /// A new keyring with term 1 holding a fresh random key installed now.
    pub fn generate() -> Self {
        Self::with_key(1, random_array(), now_unix())
    }

    /// A keyring with a single given term (tests, migrations).
    pub fn with_key(term: u32, key: [u8; KEY_LEN], install_time: u64) -> Self {
        let mut terms = BTreeMap::new();
        terms.insert(term, Term::new(key, install_time));
        Self {
            terms,
            active: term,
        }
    }

    /// Adds a term (highest + 1) with a fresh random key and makes it active. Returns it.
    pub fn rotate(&mut self) -> Result<u32, BarrierError> {
        let next = self
            .terms
            .keys()
            .next_back()
            .copied()
            .unwrap_or(0)
            .checked_add(1)
            .ok_or(BarrierError::TermOverflow)?;
        self.terms
            .insert(next, Term::new(random_array(), now_unix()));
        self.active = next;
        Ok(next)
    }

    pub fn active_term(&self) -> u32 {
        self.active
    }

    pub fn term_info(&self, term: u32) -> Option<TermInfo> {
        self.terms.get(&term).map(|t| TermInfo {
            term,
            install_time: t.install_time,
            encryptions: t.encryptions.load(Ordering::Relaxed),
        })
    }

    /// Every term, ascending.
    pub fn terms(&self) -> impl Iterator<Item = TermInfo> + '_ {
        self.terms.keys().filter_map(|&t| self.term_info(t))
    }

    /// Encrypts `plaintext` for storage at `path` under the active term.
    pub fn encrypt(&self, path: &str, plaintext: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(ENTRY_OVERHEAD + plaintext.len());
        out.extend_from_slice(&self.active.to_be_bytes());
        out.push(ENTRY_VERSION);
        match self.terms.get(&self.active) {
            Some(term) => {
                term.encryptions.fetch_add(1, Ordering::Relaxed);
                aead::seal_into(&term.cipher, path.as_bytes(), plaintext, &mut out);
            }
            // Unreachable: `active` is always a key of `terms` (set only by constructors,
            // `rotate` and a validated `from_bytes`).
            None => unreachable!("active term {} missing from keyring", self.active),
        }
        out
    }

    /// Decrypts a barrier entry read from `path`, with whichever term it names.
    pub fn decrypt(&self, path: &str, entry: &[u8]) -> Result<SecretBytes, BarrierError> {
        if entry.len() < ENTRY_OVERHEAD {
            return Err(BarrierError::TooShort {
                path: path.to_owned(),
                len: entry.len(),
            });
        }
        let term = u32::from_be_bytes([entry[0], entry[1], entry[2], entry[3]]);
        if entry[4] != ENTRY_VERSION {
            return Err(BarrierError::UnknownVersion {
                path: path.to_owned(),
                version: entry[4],
            });
        }
        let key = self
            .terms
            .get(&term)
            .ok_or_else(|| BarrierError::UnknownTerm {
                path: path.to_owned(),
                term,
            })?;
        aead::open_with(&key.cipher, path.as_bytes(), &entry[5..]).map_err(|_| {
            BarrierError::Authentication {
                path: path.to_owned(),
            }
        })
    }

    /// Serializes every term and key (secret: encrypt it under the root key before storing).
    pub fn to_bytes(&self) -> SecretBytes {
        let mut out = Vec::with_capacity(KEYRING_HEADER_LEN + self.terms.len() * KEYRING_TERM_LEN);
        out.push(KEYRING_VERSION);
        out.extend_from_slice(&self.active.to_be_bytes());
        // At most u32::MAX terms exist because terms are u32 keys.
        out.extend_from_slice(&(self.terms.len() as u32).to_be_bytes());
        for (term, t) in &self.terms {
            out.extend_from_slice(&term.to_be_bytes());
            out.extend_from_slice(&t.install_time.to_be_bytes());
            out.extend_from_slice(&t.key[..]);
        }
        SecretBytes::new(out)
    }

    /// Parses [`Keyring::to_bytes`] output, checking every length and invariant.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, BarrierError> {
        use BarrierError::MalformedKeyring as Bad;
        let Some((header, mut rest)) = bytes.split_at_checked(KEYRING_HEADER_LEN) else {
            return Err(Bad("shorter than its 9-byte header"));
        };
        if header[0] != KEYRING_VERSION {
            return Err(Bad("unsupported version byte"));
        }
        let active = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
        let count = u32::from_be_bytes([header[5], header[6], header[7], header[8]]) as usize;
        if count == 0 {
            return Err(Bad("no terms"));
        }
        if rest.len() != count.saturating_mul(KEYRING_TERM_LEN) {
            return Err(Bad("length does not match its term count"));
        }
        let mut terms = BTreeMap::new();
        let mut last = 0u32;
        while let Some((record, tail)) = rest.split_at_checked(KEYRING_TERM_LEN) {
            rest = tail;
            let term = u32::from_be_bytes([record[0], record[1], record[2], record[3]]);
            if term <= last {
                return Err(Bad("terms are not strictly ascending from 1"));
            }
            last = term;
            let mut time = [0u8; 8];
            time.copy_from_slice(&record[4..12]);
            let mut key = Zeroizing::new([0u8; KEY_LEN]);
            key.copy_from_slice(&record[12..]);
            terms.insert(term, Term::new(*key, u64::from_be_bytes(time)));
        }
        if !terms.contains_key(&active) {
            return Err(Bad("active term is not in the keyring"));
        }
        Ok(Self { terms, active })
    }
}

impl Clone for Keyring {
    fn clone(&self) -> Self {
        let terms = self
            .terms
            .iter()
            .map(|(&n, t)| {
                let term = Term::new(*t.key, t.install_time);
                term.encryptions
                    .store(t.encryptions.load(Ordering::Relaxed), Ordering::Relaxed);
                (n, term)
            })
            .collect();
        Self {
            terms,
            active: self.active,
        }
    }
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("active", &self.active)
            .field("terms", &self.terms.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
