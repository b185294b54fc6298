//! HMAC-SHA256 (audit-log hashing of values with a per-device salt, `sys/audit-hash`).

use aws_lc_rs::hmac;

pub fn sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// Lowercase hex of [`sha256`] (Vault's audit format prefixes it with `hmac-sha256:`).
pub fn sha256_hex(key: &[u8], data: &[u8]) -> String {
    crate::hex::encode(&sha256(key, data))
}

/// Constant-time check of a tag produced by [`sha256`].
pub fn verify_sha256(key: &[u8], data: &[u8], tag: &[u8]) -> bool {
    hmac::verify(&hmac::Key::new(hmac::HMAC_SHA256, key), data, tag).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 4231 test cases 1 and 2.
    #[test]
    fn rfc4231_vectors() {
        assert_eq!(
            sha256_hex(&[0x0b; 20], b"Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            sha256_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn verify_accepts_only_the_right_tag() {
        let tag = sha256(b"salt", b"value");
        assert!(verify_sha256(b"salt", b"value", &tag));
        assert!(!verify_sha256(b"salt", b"value2", &tag));
        assert!(!verify_sha256(b"salt2", b"value", &tag));
        assert!(!verify_sha256(b"salt", b"value", &tag[..31]));
    }
}
