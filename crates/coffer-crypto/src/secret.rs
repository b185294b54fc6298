//! [`SecretBytes`]: owned secret bytes that are wiped on drop, never printed, and compared in
//! constant time. Also re-exports the CSPRNG helpers for convenience.

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

pub use crate::random::{random_array, random_bytes};

/// Secret bytes (keys, unseal shares, decrypted values). Zeroized on drop; `Debug` prints
/// `[redacted]`; there is deliberately no `Display`. Equality is constant time in the
/// contents (the length is not secret).
#[derive(Clone, Default, Zeroize, ZeroizeOnDrop)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// Copies `bytes` (the caller remains responsible for wiping its copy).
    pub fn from_slice(bytes: &[u8]) -> Self {
        Self(bytes.to_vec())
    }

    /// `n` bytes from the OS CSPRNG.
    pub fn random(n: usize) -> Self {
        Self(random_bytes(n))
    }

    /// The secret itself. Keep the borrow short and never log it.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn expose_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }

    /// Shortens the secret in place (the cut bytes are wiped first).
    pub(crate) fn truncate(&mut self, len: usize) {
        if len < self.0.len() {
            self.0[len..].zeroize();
            self.0.truncate(len);
        }
    }

    /// Constant-time comparison of the contents (lengths may differ; that is not hidden).
    pub fn ct_eq(&self, other: &[u8]) -> bool {
        self.0.as_slice().ct_eq(other).into()
    }
}

impl From<Vec<u8>> for SecretBytes {
    fn from(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
}

impl AsRef<[u8]> for SecretBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl PartialEq for SecretBytes {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(&other.0)
    }
}

impl Eq for SecretBytes {}

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = SecretBytes::from_slice(b"hunter2");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(s)), "Some([redacted])");
    }

    #[test]
    fn ct_eq_compares_contents_and_length() {
        let s = SecretBytes::from_slice(b"abc");
        assert!(s.ct_eq(b"abc"));
        assert!(!s.ct_eq(b"abd"));
        assert!(!s.ct_eq(b"ab"));
        assert!(!s.ct_eq(b"abcd"));
        assert_eq!(s, SecretBytes::new(b"abc".to_vec()));
        assert_ne!(s, SecretBytes::new(b"xbc".to_vec()));
    }

    #[test]
    fn zeroize_wipes_contents() {
        let mut s = SecretBytes::from_slice(&[7; 32]);
        s.zeroize();
        assert!(s.is_empty(), "zeroize clears the vector after wiping it");
    }

    #[test]
    fn random_secrets_differ() {
        assert_ne!(SecretBytes::random(32), SecretBytes::random(32));
        assert_eq!(SecretBytes::random(17).len(), 17);
    }
}
