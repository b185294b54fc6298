//! Key types and hash algorithms transit understands, with the capability
//! flags OpenBao reports for each.

/// A transit key type, spelled on the wire as OpenBao spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    Aes128Gcm96,
    Aes256Gcm96,
    ChaCha20Poly1305,
    XChaCha20Poly1305,
    Ed25519,
    EcdsaP256,
    EcdsaP384,
    EcdsaP521,
    Rsa2048,
    Rsa3072,
    Rsa4096,
    Hmac,
}

impl KeyType {
    pub fn parse(s: &str) -> Option<KeyType> {
        Some(match s {
            "aes128-gcm96" => KeyType::Aes128Gcm96,
            "aes256-gcm96" => KeyType::Aes256Gcm96,
            "chacha20-poly1305" => KeyType::ChaCha20Poly1305,
            "xchacha20-poly1305" => KeyType::XChaCha20Poly1305,
            "ed25519" => KeyType::Ed25519,
            "ecdsa-p256" => KeyType::EcdsaP256,
            "ecdsa-p384" => KeyType::EcdsaP384,
            "ecdsa-p521" => KeyType::EcdsaP521,
            "rsa-2048" => KeyType::Rsa2048,
            "rsa-3072" => KeyType::Rsa3072,
            "rsa-4096" => KeyType::Rsa4096,
            "hmac" => KeyType::Hmac,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Aes128Gcm96 => "aes128-gcm96",
            KeyType::Aes256Gcm96 => "aes256-gcm96",
            KeyType::ChaCha20Poly1305 => "chacha20-poly1305",
            KeyType::XChaCha20Poly1305 => "xchacha20-poly1305",
            KeyType::Ed25519 => "ed25519",
            KeyType::EcdsaP256 => "ecdsa-p256",
            KeyType::EcdsaP384 => "ecdsa-p384",
            KeyType::EcdsaP521 => "ecdsa-p521",
            KeyType::Rsa2048 => "rsa-2048",
            KeyType::Rsa3072 => "rsa-3072",
            KeyType::Rsa4096 => "rsa-4096",
            KeyType::Hmac => "hmac",
        }
    }

    pub fn is_aead(self) -> bool {
        matches!(
            self,
            KeyType::Aes128Gcm96
                | KeyType::Aes256Gcm96
                | KeyType::ChaCha20Poly1305
                | KeyType::XChaCha20Poly1305
        )
    }

    pub fn is_rsa(self) -> bool {
        matches!(self, KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096)
    }

    pub fn is_ecdsa(self) -> bool {
        matches!(
            self,
            KeyType::EcdsaP256 | KeyType::EcdsaP384 | KeyType::EcdsaP521
        )
    }

    pub fn supports_encryption(self) -> bool {
        self.is_aead() || self.is_rsa()
    }

    pub fn supports_signing(self) -> bool {
        matches!(self, KeyType::Ed25519) || self.is_ecdsa() || self.is_rsa()
    }

    pub fn supports_derivation(self) -> bool {
        self.is_aead() || self == KeyType::Ed25519
    }

    /// Signing hashes the input first (ECDSA, RSA); ed25519 signs the message.
    pub fn hashes_signature_input(self) -> bool {
        self.is_ecdsa() || self.is_rsa()
    }

    /// Symmetric key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            KeyType::Aes128Gcm96 => 16,
            _ => 32,
        }
    }

    pub fn nonce_len(self) -> usize {
        match self {
            KeyType::XChaCha20Poly1305 => 24,
            _ => 12,
        }
    }

    /// The `name` shown for asymmetric key versions (Go's curve names).
    pub fn version_name(self) -> &'static str {
        match self {
            KeyType::EcdsaP256 => "P-256",
            KeyType::EcdsaP384 => "P-384",
            KeyType::EcdsaP521 => "P-521",
            other => other.as_str(),
        }
    }
}

/// Hash algorithms for hmac, sign/verify and hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
    Sha3_256,
    Sha3_384,
    Sha3_512,
}

impl HashAlg {
    /// Parses OpenBao's spelling; `Err(true)` for names OpenBao knows but
    /// coffer does not implement (`sha3-224`, `none`).
    pub fn parse(s: &str) -> Result<HashAlg, bool> {
        match s {
            "sha1" => Ok(HashAlg::Sha1),
            "sha2-224" => Ok(HashAlg::Sha224),
            "sha2-256" => Ok(HashAlg::Sha256),
            "sha2-384" => Ok(HashAlg::Sha384),
            "sha2-512" => Ok(HashAlg::Sha512),
            "sha3-256" => Ok(HashAlg::Sha3_256),
            "sha3-384" => Ok(HashAlg::Sha3_384),
            "sha3-512" => Ok(HashAlg::Sha3_512),
            "sha3-224" | "none" => Err(true),
            _ => Err(false),
        }
    }

    pub fn digest_alg(self) -> &'static aws_lc_rs::digest::Algorithm {
        use aws_lc_rs::digest;
        match self {
            HashAlg::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            HashAlg::Sha224 => &digest::SHA224,
            HashAlg::Sha256 => &digest::SHA256,
            HashAlg::Sha384 => &digest::SHA384,
            HashAlg::Sha512 => &digest::SHA512,
            HashAlg::Sha3_256 => &digest::SHA3_256,
            HashAlg::Sha3_384 => &digest::SHA3_384,
            HashAlg::Sha3_512 => &digest::SHA3_512,
        }
    }

    /// HMAC of `data` under `key` (RFC 2104 over this hash).
    pub fn mac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        use aws_lc_rs::{digest, hmac};
        let native = match self {
            HashAlg::Sha1 => Some(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY),
            HashAlg::Sha224 => Some(hmac::HMAC_SHA224),
            HashAlg::Sha256 => Some(hmac::HMAC_SHA256),
            HashAlg::Sha384 => Some(hmac::HMAC_SHA384),
            HashAlg::Sha512 => Some(hmac::HMAC_SHA512),
            _ => None,
        };
        if let Some(alg) = native {
            return hmac::sign(&hmac::Key::new(alg, key), data)
                .as_ref()
                .to_vec();
        }
        // SHA-3: aws-lc-rs has the digests but no HMAC; build it from them.
        let alg = self.digest_alg();
        let block = alg.block_len();
        let mut k = zeroize::Zeroizing::new(vec![0u8; block]);
        if key.len() > block {
            let d = digest::digest(alg, key);
            k[..d.as_ref().len()].copy_from_slice(d.as_ref());
        } else {
            k[..key.len()].copy_from_slice(key);
        }
        let pad = |byte: u8| -> zeroize::Zeroizing<Vec<u8>> {
            zeroize::Zeroizing::new(k.iter().map(|b| b ^ byte).collect())
        };
        let mut inner = digest::Context::new(alg);
        inner.update(&pad(0x36));
        inner.update(data);
        let inner = inner.finish();
        let mut outer = digest::Context::new(alg);
        outer.update(&pad(0x5c));
        outer.update(inner.as_ref());
        outer.finish().as_ref().to_vec()
    }

    /// Constant-time check of an HMAC.
    pub fn mac_verify(self, key: &[u8], data: &[u8], expected: &[u8]) -> bool {
        let actual = self.mac(key, data);
        actual.len() == expected.len()
            && subtle::ConstantTimeEq::ct_eq(actual.as_slice(), expected).into()
    }

    pub fn digest(self, input: &[u8]) -> Vec<u8> {
        aws_lc_rs::digest::digest(self.digest_alg(), input)
            .as_ref()
            .to_vec()
    }

    pub fn output_len(self) -> usize {
        self.digest_alg().output_len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha3_matches_the_rfc2104_construction() {
        // NIST's HMAC-SHA3-256 example (key 0x00..0x1f, "Sample message for keylen<blocklen").
        let key: Vec<u8> = (0u8..32).collect();
        let mac = HashAlg::Sha3_256.mac(&key, b"Sample message for keylen<blocklen");
        assert_eq!(
            hex::encode(mac),
            "4fe8e202c4f058e8dddc23d8c34e467343e23555e24fc2f025d598f558f67205"
        );
        let long_key = vec![7u8; 300];
        assert_eq!(HashAlg::Sha256.mac(&long_key, b"x").len(), 32);
        assert!(HashAlg::Sha3_512.mac_verify(
            &long_key,
            b"x",
            &HashAlg::Sha3_512.mac(&long_key, b"x")
        ));
        assert!(!HashAlg::Sha3_512.mac_verify(
            &long_key,
            b"y",
            &HashAlg::Sha3_512.mac(&long_key, b"x")
        ));
    }

    #[test]
    fn names_round_trip() {
        for name in [
            "aes128-gcm96",
            "aes256-gcm96",
            "chacha20-poly1305",
            "xchacha20-poly1305",
            "ed25519",
            "ecdsa-p256",
            "ecdsa-p384",
            "ecdsa-p521",
            "rsa-2048",
            "rsa-3072",
            "rsa-4096",
            "hmac",
        ] {
            assert_eq!(KeyType::parse(name).unwrap().as_str(), name);
        }
        assert!(KeyType::parse("des").is_none());
        assert!(KeyType::Rsa2048.supports_encryption() && KeyType::Rsa2048.supports_signing());
        assert!(!KeyType::Ed25519.supports_encryption());
    }
}
