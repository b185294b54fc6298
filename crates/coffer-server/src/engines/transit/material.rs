//! Key material: the stored form of one key version (base64 strings inside
//! the barrier-encrypted policy entry) and its parsed, ready-to-use form
//! (AEAD keys, key pairs) kept in memory. Secrets are zeroized on drop and
//! never printed.

use aws_lc_rs::aead::{AES_128_GCM, AES_256_GCM, CHACHA20_POLY1305, LessSafeKey, UnboundKey};
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::{
    KeySize, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey,
    PublicEncryptingKey,
};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, ECDSA_P521_SHA512_ASN1_SIGNING,
    EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair, RsaKeyPair,
};
use std::sync::OnceLock;

use aws_lc_rs::signature::{ParsedPublicKey, VerificationAlgorithm};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use super::codec;
use super::keytype::KeyType;

/// Failures building or loading key material. Messages never carry key bytes.
#[derive(Debug, thiserror::Error)]
pub enum MaterialError {
    #[error("could not generate a {0} key")]
    Generate(&'static str),
    #[error("stored {0} key material is malformed")]
    Malformed(&'static str),
    #[error("the random number generator failed")]
    Random,
}

/// One key version as persisted (inside the barrier).
#[derive(Serialize, Deserialize, Clone, Default)]
pub struct StoredVersion {
    /// Base64 secret: the raw symmetric or HMAC key, ed25519's 64-byte
    /// seed‖public key (Go's layout), or PKCS#8 DER for ECDSA and RSA.
    pub key: String,
    /// Base64 per-version HMAC key (separate from the encryption key).
    pub hmac_key: String,
    /// Unix creation time (shown for symmetric keys).
    pub time: i64,
    /// RFC 3339 creation time (shown for asymmetric keys).
    pub creation_time: String,
    /// Public key as OpenBao formats it (base64 for ed25519, PEM otherwise).
    #[serde(default)]
    pub public_key: String,
}

impl Drop for StoredVersion {
    fn drop(&mut self) {
        self.key.zeroize();
        self.hmac_key.zeroize();
    }
}

impl std::fmt::Debug for StoredVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredVersion")
            .field("time", &self.time)
            .finish_non_exhaustive()
    }
}

/// The parsed secret of one version, ready for the hot path.
pub enum Secret {
    /// AES-GCM or ChaCha20-Poly1305 (`cipher` is prebuilt unless the key
    /// is xchacha, which derives a subkey per nonce).
    Sym {
        raw: Zeroizing<Vec<u8>>,
        cipher: Option<LessSafeKey>,
    },
    Hmac(Zeroizing<Vec<u8>>),
    Ed25519 {
        raw: Zeroizing<Vec<u8>>,
        pair: Ed25519KeyPair,
    },
    Ecdsa {
        pkcs8: Zeroizing<Vec<u8>>,
        pair: EcdsaKeyPair,
    },
    Rsa {
        pkcs8: Zeroizing<Vec<u8>>,
        pair: RsaKeyPair,
        dec: OaepPrivateDecryptingKey,
        enc: OaepPublicEncryptingKey,
    },
    /// An imported public key without its private part: verification
    /// (and RSA encryption) only. `key` is ed25519's 32 bytes, the ECDSA
    /// uncompressed point or RSA's PKCS#1 `RSAPublicKey`.
    Public {
        key: Vec<u8>,
        enc: Option<OaepPublicEncryptingKey>,
    },
}

/// One usable key version.
pub struct KeyVersion {
    pub stored: StoredVersion,
    pub hmac_key: Zeroizing<Vec<u8>>,
    pub secret: Secret,
    /// Parsed public keys for verification, built on first use: slot 0 is
    /// ed25519 or ECDSA/ASN.1, slot 1 ECDSA/fixed (JWS). The algorithm of a
    /// slot is fixed by the key type, so the cache needs no other key.
    verifiers: [OnceLock<Option<ParsedPublicKey>>; 2],
}

impl std::fmt::Debug for KeyVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyVersion(<redacted>)")
    }
}

/// `n` random bytes from aws-lc's DRBG.
pub fn random_bytes(n: usize) -> Result<Zeroizing<Vec<u8>>, MaterialError> {
    let mut v = Zeroizing::new(vec![0u8; n]);
    aws_lc_rs::rand::fill(&mut v[..]).map_err(|_| MaterialError::Random)?;
    Ok(v)
}

/// The secret to store for key material imported as OpenBao's BYOK sends it:
/// raw bytes for symmetric and HMAC keys, PKCS#8 DER for asymmetric ones.
pub fn secret_from_import(kt: KeyType, bytes: &[u8]) -> Result<Zeroizing<Vec<u8>>, String> {
    let size_error = || {
        format!(
            "invalid key size {} bytes for key type {}",
            bytes.len(),
            kt.as_str()
        )
    };
    let parse_error = || format!("error parsing the imported {} key as PKCS#8", kt.as_str());
    match kt {
        k if k.is_aead() => (bytes.len() == k.key_len())
            .then(|| Zeroizing::new(bytes.to_vec()))
            .ok_or_else(size_error),
        KeyType::Hmac => (32..=512)
            .contains(&bytes.len())
            .then(|| Zeroizing::new(bytes.to_vec()))
            .ok_or_else(size_error),
        KeyType::Ed25519 => {
            // PrivateKeyInfo's privateKey holds an OCTET STRING of the 32-byte seed.
            let inner = codec::pkcs8_inner_key(bytes).ok_or_else(parse_error)?;
            let seed = match inner {
                [0x04, 0x20, seed @ ..] if seed.len() == 32 => seed,
                _ => return Err(parse_error()),
            };
            let pair = Ed25519KeyPair::from_seed_unchecked(seed).map_err(|_| parse_error())?;
            let mut raw = Zeroizing::new(seed.to_vec());
            raw.extend_from_slice(pair.public_key().as_ref());
            Ok(raw)
        }
        k if k.is_ecdsa() => {
            let pair = EcdsaKeyPair::from_pkcs8(ecdsa_alg(k), bytes).map_err(|_| parse_error())?;
            let der = pair.to_pkcs8v1().map_err(|_| parse_error())?;
            Ok(Zeroizing::new(der.as_ref().to_vec()))
        }
        k if k.is_rsa() => {
            let pk = PrivateDecryptingKey::from_pkcs8(bytes).map_err(|_| parse_error())?;
            let want = match k {
                KeyType::Rsa3072 => 3072,
                KeyType::Rsa4096 => 4096,
                _ => 2048,
            };
            if pk.key_size_bits() != want {
                return Err(format!(
                    "the imported RSA key has {} bits, not the {want} of {}",
                    pk.key_size_bits(),
                    k.as_str()
                ));
            }
            let der: Pkcs8V1Der = pk.as_der().map_err(|_| parse_error())?;
            Ok(Zeroizing::new(der.as_ref().to_vec()))
        }
        _ => Err(size_error()),
    }
}

/// The public-only secret of a `kt` key from its formatted public key
/// (base64 for ed25519, PEM SubjectPublicKeyInfo otherwise).
fn public_secret(kt: KeyType, formatted: &str) -> Result<Secret, String> {
    let mismatch = || format!("the public key is not a {} key", kt.as_str());
    match kt {
        KeyType::Ed25519 => {
            let key = codec::decode(formatted).map_err(|_| mismatch())?;
            if key.len() != 32 {
                return Err(mismatch());
            }
            Ok(Secret::Public { key, enc: None })
        }
        k if k.is_ecdsa() => {
            let spki = codec::pem_decode(formatted).ok_or_else(mismatch)?;
            let point = codec::spki_key(&spki).ok_or_else(mismatch)?;
            let want = match k {
                KeyType::EcdsaP384 => 97,
                KeyType::EcdsaP521 => 133,
                _ => 65,
            };
            if point.len() != want || point[0] != 0x04 {
                return Err(mismatch());
            }
            Ok(Secret::Public {
                key: point.to_vec(),
                enc: None,
            })
        }
        k if k.is_rsa() => {
            let spki = codec::pem_decode(formatted).ok_or_else(mismatch)?;
            let pkcs1 = codec::spki_key(&spki).ok_or_else(mismatch)?.to_vec();
            let public = PublicEncryptingKey::from_der(&spki).map_err(|_| mismatch())?;
            let want = match k {
                KeyType::Rsa3072 => 3072,
                KeyType::Rsa4096 => 4096,
                _ => 2048,
            };
            if public.key_size_bits() != want {
                return Err(mismatch());
            }
            let enc = OaepPublicEncryptingKey::new(public).map_err(|_| mismatch())?;
            Ok(Secret::Public {
                key: pkcs1,
                enc: Some(enc),
            })
        }
        _ => Err(format!(
            "public keys cannot be imported for key type {}",
            kt.as_str()
        )),
    }
}

/// An AEAD key for AES-GCM / ChaCha20-Poly1305 key types.
pub fn aead_key(kt: KeyType, raw: &[u8]) -> Option<LessSafeKey> {
    let alg = match kt {
        KeyType::Aes128Gcm96 => &AES_128_GCM,
        KeyType::Aes256Gcm96 => &AES_256_GCM,
        KeyType::ChaCha20Poly1305 | KeyType::XChaCha20Poly1305 => &CHACHA20_POLY1305,
        _ => return None,
    };
    UnboundKey::new(alg, raw).ok().map(LessSafeKey::new)
}

fn ecdsa_alg(kt: KeyType) -> &'static EcdsaSigningAlgorithm {
    match kt {
        KeyType::EcdsaP384 => &ECDSA_P384_SHA384_ASN1_SIGNING,
        KeyType::EcdsaP521 => &ECDSA_P521_SHA512_ASN1_SIGNING,
        _ => &ECDSA_P256_SHA256_ASN1_SIGNING,
    }
}

fn rsa_size(kt: KeyType) -> KeySize {
    match kt {
        KeyType::Rsa3072 => KeySize::Rsa3072,
        KeyType::Rsa4096 => KeySize::Rsa4096,
        _ => KeySize::Rsa2048,
    }
}

impl KeyVersion {
    /// A fresh version of type `kt` (`hmac_size` bytes for `hmac` keys).
    pub fn generate(kt: KeyType, hmac_size: usize) -> Result<KeyVersion, MaterialError> {
        let err = || MaterialError::Generate(kt.as_str());
        let key: Zeroizing<Vec<u8>> = match kt {
            k if k.is_aead() => random_bytes(k.key_len())?,
            KeyType::Hmac => random_bytes(hmac_size)?,
            KeyType::Ed25519 => {
                let seed = random_bytes(32)?;
                let pair = Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|_| err())?;
                let mut raw = Zeroizing::new(seed.to_vec());
                raw.extend_from_slice(pair.public_key().as_ref());
                raw
            }
            k if k.is_ecdsa() => {
                let pair = EcdsaKeyPair::generate(ecdsa_alg(k)).map_err(|_| err())?;
                Zeroizing::new(pair.to_pkcs8v1().map_err(|_| err())?.as_ref().to_vec())
            }
            k if k.is_rsa() => {
                let pk = PrivateDecryptingKey::generate(rsa_size(k)).map_err(|_| err())?;
                let der: Pkcs8V1Der = pk.as_der().map_err(|_| err())?;
                Zeroizing::new(der.as_ref().to_vec())
            }
            _ => return Err(err()),
        };
        KeyVersion::from_secret(kt, key)
    }

    /// A new version holding `key` (raw symmetric/HMAC key, ed25519's
    /// 64-byte seed‖public key, or PKCS#8 for ECDSA/RSA) and a fresh HMAC key.
    pub fn from_secret(kt: KeyType, key: Zeroizing<Vec<u8>>) -> Result<KeyVersion, MaterialError> {
        let hmac_key = if kt == KeyType::Hmac {
            key.clone()
        } else {
            random_bytes(32)?
        };
        let stored = StoredVersion {
            key: codec::encode(&key),
            hmac_key: codec::encode(&hmac_key),
            time: crate::ids::now_unix(),
            creation_time: crate::ids::rfc3339_now(),
            public_key: String::new(),
        };
        let mut version = KeyVersion::load(kt, stored)?;
        version.stored.public_key = version.public_key_formatted();
        Ok(version)
    }

    /// Parses a stored version.
    pub fn load(kt: KeyType, stored: StoredVersion) -> Result<KeyVersion, MaterialError> {
        let bad = || MaterialError::Malformed(kt.as_str());
        if stored.key.is_empty() && kt.supports_signing() {
            let secret = public_secret(kt, &stored.public_key).map_err(|_| bad())?;
            let hmac_key = Zeroizing::new(codec::decode(&stored.hmac_key).map_err(|_| bad())?);
            return Ok(KeyVersion {
                stored,
                hmac_key,
                secret,
                verifiers: Default::default(),
            });
        }
        let key = Zeroizing::new(codec::decode(&stored.key).map_err(|_| bad())?);
        let hmac_key = Zeroizing::new(codec::decode(&stored.hmac_key).map_err(|_| bad())?);
        let secret = match kt {
            k if k.is_aead() => {
                if key.len() != k.key_len() {
                    return Err(bad());
                }
                let cipher = if k == KeyType::XChaCha20Poly1305 {
                    None
                } else {
                    Some(aead_key(k, &key).ok_or_else(bad)?)
                };
                Secret::Sym { raw: key, cipher }
            }
            KeyType::Hmac => Secret::Hmac(key),
            KeyType::Ed25519 => {
                if key.len() != 64 {
                    return Err(bad());
                }
                let pair = Ed25519KeyPair::from_seed_and_public_key(&key[..32], &key[32..])
                    .map_err(|_| bad())?;
                Secret::Ed25519 { raw: key, pair }
            }
            k if k.is_ecdsa() => {
                let pair = EcdsaKeyPair::from_pkcs8(ecdsa_alg(k), &key).map_err(|_| bad())?;
                Secret::Ecdsa { pkcs8: key, pair }
            }
            k if k.is_rsa() => {
                let pair = RsaKeyPair::from_pkcs8(&key).map_err(|_| bad())?;
                let pk = PrivateDecryptingKey::from_pkcs8(&key).map_err(|_| bad())?;
                let enc = OaepPublicEncryptingKey::new(pk.public_key()).map_err(|_| bad())?;
                let dec = OaepPrivateDecryptingKey::new(pk).map_err(|_| bad())?;
                Secret::Rsa {
                    pkcs8: key,
                    pair,
                    dec,
                    enc,
                }
            }
            _ => return Err(bad()),
        };
        Ok(KeyVersion {
            stored,
            hmac_key,
            secret,
            verifiers: Default::default(),
        })
    }

    /// A version holding only an imported public key (`public_key` as
    /// OpenBao takes it: a PEM SubjectPublicKeyInfo).
    pub fn from_public(kt: KeyType, pem: &str) -> Result<KeyVersion, String> {
        let spki = codec::pem_decode(pem)
            .ok_or_else(|| "error parsing public key: no PEM data found".to_owned())?;
        let key = codec::spki_key(&spki)
            .ok_or_else(|| "error parsing public key: not a SubjectPublicKeyInfo".to_owned())?;
        let formatted = match kt {
            KeyType::Ed25519 => codec::encode(key),
            _ => codec::pem("PUBLIC KEY", &spki),
        };
        let secret = public_secret(kt, &formatted)?;
        let hmac_key = random_bytes(32).map_err(|e| e.to_string())?;
        let stored = StoredVersion {
            key: String::new(),
            hmac_key: codec::encode(&hmac_key),
            time: crate::ids::now_unix(),
            creation_time: crate::ids::rfc3339_now(),
            public_key: formatted,
        };
        Ok(KeyVersion {
            stored,
            hmac_key,
            secret,
            verifiers: Default::default(),
        })
    }

    /// Has this version a private part (imported public keys have not)?
    pub fn has_private(&self) -> bool {
        !matches!(self.secret, Secret::Public { .. })
    }

    /// The cached parsed public key of `slot` (see [`KeyVersion::verifiers`]).
    pub fn verifier(
        &self,
        slot: usize,
        alg: &'static dyn VerificationAlgorithm,
        public: &[u8],
    ) -> Option<&ParsedPublicKey> {
        self.verifiers
            .get(slot)?
            .get_or_init(|| ParsedPublicKey::new(alg, public).ok())
            .as_ref()
    }

    /// PKIX DER of the public key (ECDSA and RSA).
    pub fn public_der(&self) -> Option<Vec<u8>> {
        match &self.secret {
            Secret::Ecdsa { pair, .. } => {
                pair.public_key().as_der().ok().map(|d| d.as_ref().to_vec())
            }
            Secret::Rsa { pkcs8, .. } => PrivateDecryptingKey::from_pkcs8(pkcs8)
                .ok()
                .and_then(|k| k.public_key().as_der().ok().map(|d| d.as_ref().to_vec())),
            _ => None,
        }
    }

    /// The public key as the key read shows it.
    pub fn public_key_formatted(&self) -> String {
        match &self.secret {
            Secret::Ed25519 { pair, .. } => codec::encode(pair.public_key().as_ref()),
            Secret::Ecdsa { .. } | Secret::Rsa { .. } => self
                .public_der()
                .map(|d| codec::pem("PUBLIC KEY", &d))
                .unwrap_or_default(),
            _ => String::new(),
        }
    }

    /// The raw symmetric (or HMAC, or ed25519 64-byte) key.
    pub fn raw(&self) -> &[u8] {
        match &self.secret {
            Secret::Sym { raw, .. } | Secret::Hmac(raw) | Secret::Ed25519 { raw, .. } => raw,
            Secret::Ecdsa { pkcs8, .. } | Secret::Rsa { pkcs8, .. } => pkcs8,
            Secret::Public { .. } => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_generates_and_reloads() {
        for kt in [
            KeyType::Aes128Gcm96,
            KeyType::Aes256Gcm96,
            KeyType::ChaCha20Poly1305,
            KeyType::XChaCha20Poly1305,
            KeyType::Ed25519,
            KeyType::EcdsaP256,
            KeyType::EcdsaP384,
            KeyType::EcdsaP521,
            KeyType::Rsa2048,
            KeyType::Hmac,
        ] {
            let v = KeyVersion::generate(kt, 32).unwrap();
            let again = KeyVersion::load(kt, v.stored.clone()).unwrap();
            assert_eq!(again.raw(), v.raw(), "{kt:?}");
            assert_eq!(v.hmac_key.len(), 32);
            if kt.supports_signing() {
                assert!(!v.stored.public_key.is_empty());
            }
            assert!(!format!("{v:?}").contains(&v.stored.key));
        }
    }

    #[test]
    fn malformed_material_is_an_error() {
        let mut s = KeyVersion::generate(KeyType::Aes256Gcm96, 0)
            .unwrap()
            .stored
            .clone();
        s.key = codec::encode(&[1, 2, 3]);
        assert!(KeyVersion::load(KeyType::Aes256Gcm96, s).is_err());
    }
}
