//! One-shot AES-256-GCM with a random 96-bit nonce, output `nonce(12) ‖ ciphertext ‖ tag(16)`.
//! Nonces come straight from the OS CSPRNG (getrandom), so nothing here waits for
//! aws-lc's own DRBG to gather its CPU-jitter seed (tens of milliseconds at start-up).
//! Used where a key encrypts rarely (the root key wrapping the keyring blob), so the
//! expanded key is not cached; the barrier's hot path is [`crate::keyring`].

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

use crate::secret::SecretBytes;

pub const KEY_LEN: usize = 32;
pub const NONCE_LEN: usize = 12;
pub const TAG_LEN: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AeadError {
    #[error("sealed data is {0} bytes, shorter than the {min} bytes of nonce and tag", min = NONCE_LEN + TAG_LEN)]
    TooShort(usize),
    #[error("sealed data failed authentication (wrong key, wrong associated data, or tampered)")]
    Authentication,
}

pub(crate) fn key(bytes: &[u8; KEY_LEN]) -> LessSafeKey {
    // aws-lc only rejects a key of the wrong length; the type makes it exactly 32 bytes.
    #[allow(clippy::expect_used)]
    LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, bytes).expect("a 32-byte AES-256-GCM key is always valid"),
    )
}

/// Appends `nonce ‖ ciphertext ‖ tag` of `plaintext` to `out`.
pub(crate) fn seal_into(key: &LessSafeKey, aad: &[u8], plaintext: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    // A fresh random 96-bit nonce per message; keys are rotated (new terms) long
    // before the birthday bound of random nonces matters.
    let nonce: [u8; NONCE_LEN] = crate::random::random_array();
    out.reserve(NONCE_LEN + plaintext.len() + TAG_LEN);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    // Sealing fails only for inputs beyond GCM's 64 GiB limit, far above any request size.
    #[allow(clippy::expect_used)]
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut out[start + NONCE_LEN..],
        )
        .expect("AES-GCM input within the 64 GiB limit");
    out.extend_from_slice(tag.as_ref());
}

/// Opens `nonce ‖ ciphertext ‖ tag`.
pub(crate) fn open_with(
    key: &LessSafeKey,
    aad: &[u8],
    sealed: &[u8],
) -> Result<SecretBytes, AeadError> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(AeadError::TooShort(sealed.len()));
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    let nonce =
        Nonce::try_assume_unique_for_key(nonce).map_err(|_| AeadError::TooShort(sealed.len()))?;
    let mut buf = SecretBytes::new(body.to_vec());
    let plain_len = {
        let bytes = buf.expose_mut();
        key.open_in_place(nonce, Aad::from(aad), bytes)
            .map_err(|_| AeadError::Authentication)?
            .len()
    };
    buf.truncate(plain_len);
    Ok(buf)
}

/// Encrypts `plaintext` under `key`, binding `aad`. Output: `nonce(12) ‖ ciphertext ‖ tag(16)`.
pub fn seal(key_bytes: &[u8; KEY_LEN], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    seal_into(&key(key_bytes), aad, plaintext, &mut out);
    out
}

/// Decrypts the output of [`seal`] with the same key and `aad`.
pub fn open(
    key_bytes: &[u8; KEY_LEN],
    aad: &[u8],
    sealed: &[u8],
) -> Result<SecretBytes, AeadError> {
    open_with(&key(key_bytes), aad, sealed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_layout() {
        let k = [9u8; 32];
        let sealed = seal(&k, b"core/keyring", b"hello");
        assert_eq!(sealed.len(), NONCE_LEN + 5 + TAG_LEN);
        assert!(
            open(&k, b"core/keyring", &sealed)
                .expect("open")
                .ct_eq(b"hello")
        );
        assert_ne!(
            seal(&k, b"", b"hello")[..NONCE_LEN],
            seal(&k, b"", b"hello")[..NONCE_LEN],
            "fresh nonces"
        );
        let empty = seal(&k, b"", b"");
        assert!(open(&k, b"", &empty).expect("open").is_empty());
    }

    #[test]
    fn rejects_wrong_key_aad_tamper_and_truncation() {
        let k = [1u8; 32];
        let sealed = seal(&k, b"a", b"payload");
        assert_eq!(
            open(&[2u8; 32], b"a", &sealed).unwrap_err(),
            AeadError::Authentication
        );
        assert_eq!(
            open(&k, b"b", &sealed).unwrap_err(),
            AeadError::Authentication
        );
        for i in 0..sealed.len() {
            let mut t = sealed.clone();
            t[i] ^= 0x01;
            assert_eq!(
                open(&k, b"a", &t).unwrap_err(),
                AeadError::Authentication,
                "byte {i}"
            );
        }
        assert_eq!(
            open(&k, b"a", &sealed[..27]).unwrap_err(),
            AeadError::TooShort(27)
        );
        assert_eq!(
            open(&k, b"a", &sealed[..sealed.len() - 1]).unwrap_err(),
            AeadError::Authentication
        );
    }
}
