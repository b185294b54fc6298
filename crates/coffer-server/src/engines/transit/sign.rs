//! Signing and verification: ed25519 (optionally derived per context),
//! ECDSA P-256/P-384 over a hash of the input (ASN.1 or JWS `r‖s`), and RSA
//! PSS / PKCS#1 v1.5 over a hash of the input, with OpenBao's salt rules
//! (sign: maximum salt, "auto"; verify "auto": maximum or hash-length salt).

use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::signature::{
    self, ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_FIXED, ECDSA_P384_SHA384_ASN1,
    ECDSA_P384_SHA384_FIXED, ECDSA_P521_SHA512_ASN1, ECDSA_P521_SHA512_FIXED, ED25519,
    Ed25519KeyPair, KeyPair, RsaEncoding, RsaParameters, RsaPssSaltLength, RsaSignatureEncoding,
    UnparsedPublicKey, VerificationAlgorithm,
};
use coffer_core::logical::Result;

use super::aead::{derive, parse_tagged, tagged_version};
use super::codec;
use super::keytype::{HashAlg, KeyType};
use super::material::Secret;
use super::policy::{Policy, bad};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigAlg {
    Pss,
    Pkcs1v15,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marshaling {
    Asn1,
    Jws,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Salt {
    /// Sign with the maximum salt; verify accepting maximum or hash length.
    Auto,
    /// The salt is as long as the hash.
    Hash,
    /// Explicitly the maximum.
    Max,
}

#[derive(Debug, Clone, Copy)]
pub struct SignOpts {
    pub hash: HashAlg,
    pub prehashed: bool,
    pub sig_alg: SigAlg,
    pub marshaling: Marshaling,
    pub salt: Salt,
}

const PSS256_MAX: RsaSignatureEncoding =
    signature::RSA_PSS_SHA256.with_pss_salt_length(RsaPssSaltLength::Max);
const PSS384_MAX: RsaSignatureEncoding =
    signature::RSA_PSS_SHA384.with_pss_salt_length(RsaPssSaltLength::Max);
const PSS512_MAX: RsaSignatureEncoding =
    signature::RSA_PSS_SHA512.with_pss_salt_length(RsaPssSaltLength::Max);
static V_PSS256_MAX: RsaParameters =
    signature::RSA_PSS_2048_8192_SHA256.with_pss_salt_length(RsaPssSaltLength::Max);
static V_PSS384_MAX: RsaParameters =
    signature::RSA_PSS_2048_8192_SHA384.with_pss_salt_length(RsaPssSaltLength::Max);
static V_PSS512_MAX: RsaParameters =
    signature::RSA_PSS_2048_8192_SHA512.with_pss_salt_length(RsaPssSaltLength::Max);

fn rsa_hash_unsupported(h: HashAlg) -> coffer_core::logical::Error {
    bad(format!(
        "hash algorithm {h:?} is not supported for RSA keys by coffer; use sha2-256, sha2-384 or sha2-512"
    ))
}

fn rsa_sign_encoding(h: HashAlg, alg: SigAlg, salt: Salt) -> Result<&'static dyn RsaEncoding> {
    static S256: RsaSignatureEncoding = PSS256_MAX;
    static S384: RsaSignatureEncoding = PSS384_MAX;
    static S512: RsaSignatureEncoding = PSS512_MAX;
    Ok(match (alg, h, salt) {
        (SigAlg::Pkcs1v15, HashAlg::Sha256, _) => &signature::RSA_PKCS1_SHA256,
        (SigAlg::Pkcs1v15, HashAlg::Sha384, _) => &signature::RSA_PKCS1_SHA384,
        (SigAlg::Pkcs1v15, HashAlg::Sha512, _) => &signature::RSA_PKCS1_SHA512,
        (SigAlg::Pss, HashAlg::Sha256, Salt::Hash) => &signature::RSA_PSS_SHA256,
        (SigAlg::Pss, HashAlg::Sha384, Salt::Hash) => &signature::RSA_PSS_SHA384,
        (SigAlg::Pss, HashAlg::Sha512, Salt::Hash) => &signature::RSA_PSS_SHA512,
        (SigAlg::Pss, HashAlg::Sha256, _) => &S256,
        (SigAlg::Pss, HashAlg::Sha384, _) => &S384,
        (SigAlg::Pss, HashAlg::Sha512, _) => &S512,
        (_, other, _) => return Err(rsa_hash_unsupported(other)),
    })
}

fn rsa_verify_params(h: HashAlg, alg: SigAlg, salt: Salt) -> Result<Vec<&'static RsaParameters>> {
    Ok(match (alg, h) {
        (SigAlg::Pkcs1v15, HashAlg::Sha256) => vec![&signature::RSA_PKCS1_2048_8192_SHA256],
        (SigAlg::Pkcs1v15, HashAlg::Sha384) => vec![&signature::RSA_PKCS1_2048_8192_SHA384],
        (SigAlg::Pkcs1v15, HashAlg::Sha512) => vec![&signature::RSA_PKCS1_2048_8192_SHA512],
        (SigAlg::Pss, h) => {
            let (max, digest): (&'static RsaParameters, &'static RsaParameters) = match h {
                HashAlg::Sha256 => (&V_PSS256_MAX, &signature::RSA_PSS_2048_8192_SHA256),
                HashAlg::Sha384 => (&V_PSS384_MAX, &signature::RSA_PSS_2048_8192_SHA384),
                HashAlg::Sha512 => (&V_PSS512_MAX, &signature::RSA_PSS_2048_8192_SHA512),
                other => return Err(rsa_hash_unsupported(other)),
            };
            match salt {
                Salt::Auto => vec![max, digest],
                Salt::Max => vec![max],
                Salt::Hash => vec![digest],
            }
        }
        (_, other) => return Err(rsa_hash_unsupported(other)),
    })
}

/// The digest an RSA/ECDSA operation signs: the input itself when prehashed.
fn message_digest(input: &[u8], opts: &SignOpts) -> Vec<u8> {
    if opts.prehashed {
        input.to_vec()
    } else {
        opts.hash.digest(input)
    }
}

/// Go's ECDSA hash-to-integer: truncate to the order size; shorter hashes
/// keep their value (left-padded), imported as the curve's native digest.
fn ecdsa_digest(kt: KeyType, hash: &[u8]) -> Result<Digest> {
    let (alg, width) = match kt {
        KeyType::EcdsaP384 => (&digest::SHA384, 48),
        // Go keeps digests up to the 521-bit order whole: SHA-512 is never truncated.
        KeyType::EcdsaP521 => (&digest::SHA512, 64),
        _ => (&digest::SHA256, 32),
    };
    let mut d = vec![0u8; width];
    if hash.len() >= width {
        d.copy_from_slice(&hash[..width]);
    } else {
        d[width - hash.len()..].copy_from_slice(hash);
    }
    Digest::import_less_safe(&d, alg).map_err(|_| bad("invalid digest"))
}

fn rsa_digest(hash: &[u8], opts: &SignOpts) -> Result<Digest> {
    Digest::import_less_safe(hash, opts.hash.digest_alg()).map_err(|_| {
        bad(format!(
            "input must be a {}-byte hash when prehashed is set",
            opts.hash.output_len()
        ))
    })
}

fn derived_ed25519(raw: &[u8], context: &[u8]) -> Result<Ed25519KeyPair> {
    let seed = derive(raw, context, 32)?;
    Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|_| bad("error deriving key"))
}

/// The public key of a derived ed25519 key for `context` (base64).
pub fn derived_public_key(p: &Policy, ver: u32, context: &[u8]) -> Option<String> {
    match &p.versions.get(&ver)?.secret {
        Secret::Ed25519 { raw, .. } => derived_ed25519(raw, context)
            .ok()
            .map(|k| codec::encode(k.public_key().as_ref())),
        _ => None,
    }
}

/// A signature of `input`: (`vault:v<N>:...`, derived public key if any).
pub fn sign(
    p: &Policy,
    ver: u32,
    input: &[u8],
    context: &[u8],
    opts: &SignOpts,
) -> Result<(String, Option<Vec<u8>>)> {
    p.usable()?;
    let kv = p.version(ver)?;
    let mut public = None;
    let sig: Vec<u8> = match &kv.secret {
        Secret::Ed25519 { raw, pair } => {
            if p.meta.derived {
                let k = derived_ed25519(raw, context)?;
                public = Some(k.public_key().as_ref().to_vec());
                k.sign(input).as_ref().to_vec()
            } else {
                pair.sign(input).as_ref().to_vec()
            }
        }
        Secret::Ecdsa { pair, .. } => {
            let d = ecdsa_digest(p.kt, &message_digest(input, opts))?;
            let der = pair
                .sign_digest(&d)
                .map_err(|_| bad("signing failed"))?
                .as_ref()
                .to_vec();
            match opts.marshaling {
                Marshaling::Asn1 => der,
                Marshaling::Jws => {
                    let width = match p.kt {
                        KeyType::EcdsaP384 => 48,
                        KeyType::EcdsaP521 => 66,
                        _ => 32,
                    };
                    codec::ecdsa_der_to_fixed(&der, width).ok_or_else(|| bad("signing failed"))?
                }
            }
        }
        Secret::Rsa { pair, .. } => {
            let d = rsa_digest(&message_digest(input, opts), opts)?;
            let enc = rsa_sign_encoding(opts.hash, opts.sig_alg, opts.salt)?;
            let mut out = vec![0u8; pair.public_modulus_len()];
            pair.sign_digest(enc, &d, &mut out)
                .map_err(|_| bad("signing failed"))?;
            out
        }
        Secret::Public { .. } => {
            return Err(bad(
                "requested version for signing does not contain a private part",
            ));
        }
        _ => {
            return Err(bad(format!(
                "key type {} does not support signing",
                p.kt.as_str()
            )));
        }
    };
    let encoded = match opts.marshaling {
        Marshaling::Asn1 => codec::encode(&sig),
        Marshaling::Jws => codec::encode_url(&sig),
    };
    Ok((format!("vault:v{ver}:{encoded}"), public))
}

fn check(alg: &'static dyn VerificationAlgorithm, public: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    UnparsedPublicKey::new(alg, public).verify(msg, sig).is_ok()
}

fn check_digest(
    alg: &'static dyn VerificationAlgorithm,
    public: &[u8],
    d: &Digest,
    sig: &[u8],
) -> bool {
    UnparsedPublicKey::new(alg, public)
        .verify_digest(d, sig)
        .is_ok()
}

/// Verifies a tagged signature; a wrong signature is `Ok(false)`.
pub fn verify(
    p: &Policy,
    input: &[u8],
    sig: &str,
    context: &[u8],
    opts: &SignOpts,
) -> Result<bool> {
    p.usable()?;
    let (ver, payload) = parse_tagged(sig, "signature")?;
    let ver = tagged_version(p, ver, "signature")?;
    let kv = p.version(ver)?;
    let sig = match opts.marshaling {
        Marshaling::Asn1 => codec::decode(payload).ok(),
        Marshaling::Jws => codec::decode_url(payload),
    }
    .ok_or_else(|| bad("invalid base64 signature value"))?;
    if p.kt == KeyType::Ed25519 && p.meta.derived {
        return Ok(match &kv.secret {
            Secret::Ed25519 { raw, .. } => {
                let k = derived_ed25519(raw, context)?;
                check(&ED25519, k.public_key().as_ref(), input, &sig)
            }
            _ => false,
        });
    }
    let public: &[u8] = match &kv.secret {
        Secret::Ed25519 { pair, .. } => pair.public_key().as_ref(),
        Secret::Ecdsa { pair, .. } => pair.public_key().as_ref(),
        Secret::Rsa { pair, .. } => pair.public_key().as_ref(),
        Secret::Public { key, .. } => key,
        _ => {
            return Err(bad(format!(
                "key type {} does not support verification",
                p.kt.as_str()
            )));
        }
    };
    Ok(match p.kt {
        KeyType::Ed25519 => kv
            .verifier(0, &ED25519, public)
            .is_some_and(|key| key.verify_sig(input, &sig).is_ok()),
        k if k.is_ecdsa() => {
            let d = ecdsa_digest(k, &message_digest(input, opts))?;
            let alg: &'static dyn VerificationAlgorithm = match (k, opts.marshaling) {
                (KeyType::EcdsaP384, Marshaling::Asn1) => &ECDSA_P384_SHA384_ASN1,
                (KeyType::EcdsaP384, Marshaling::Jws) => &ECDSA_P384_SHA384_FIXED,
                (KeyType::EcdsaP521, Marshaling::Asn1) => &ECDSA_P521_SHA512_ASN1,
                (KeyType::EcdsaP521, Marshaling::Jws) => &ECDSA_P521_SHA512_FIXED,
                (_, Marshaling::Asn1) => &ECDSA_P256_SHA256_ASN1,
                (_, Marshaling::Jws) => &ECDSA_P256_SHA256_FIXED,
            };
            let slot = usize::from(opts.marshaling == Marshaling::Jws);
            kv.verifier(slot, alg, public)
                .is_some_and(|key| key.verify_digest_sig(&d, &sig).is_ok())
        }
        _ => {
            let d = rsa_digest(&message_digest(input, opts), opts)?;
            rsa_verify_params(opts.hash, opts.sig_alg, opts.salt)?
                .into_iter()
                .any(|alg| check_digest(alg, public, &d, &sig))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engines::transit::policy::PolicyMeta;

    fn key(kt: KeyType, derived: bool) -> Policy {
        Policy::create(
            PolicyMeta {
                name: "k".into(),
                key_type: kt.as_str().into(),
                derived,
                ..PolicyMeta::default()
            },
            kt,
        )
        .unwrap()
    }

    fn opts(hash: HashAlg, sig_alg: SigAlg, marshaling: Marshaling) -> SignOpts {
        SignOpts {
            hash,
            prehashed: false,
            sig_alg,
            marshaling,
            salt: Salt::Auto,
        }
    }

    #[test]
    fn sign_verify_every_type() {
        for kt in [
            KeyType::Ed25519,
            KeyType::EcdsaP256,
            KeyType::EcdsaP384,
            KeyType::EcdsaP521,
            KeyType::Rsa2048,
        ] {
            let p = key(kt, false);
            for hash in [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512] {
                for m in [Marshaling::Asn1, Marshaling::Jws] {
                    for alg in [SigAlg::Pss, SigAlg::Pkcs1v15] {
                        let o = opts(hash, alg, m);
                        let (sig, _) = sign(&p, 1, b"hello", b"", &o).unwrap();
                        assert!(sig.starts_with("vault:v1:"));
                        assert!(
                            verify(&p, b"hello", &sig, b"", &o).unwrap(),
                            "{kt:?} {hash:?} {m:?} {alg:?}"
                        );
                        assert!(!verify(&p, b"other", &sig, b"", &o).unwrap());
                    }
                }
            }
        }
    }

    #[test]
    fn public_only_versions_verify_but_never_sign() {
        use crate::engines::transit::material::KeyVersion;
        for kt in [KeyType::EcdsaP256, KeyType::EcdsaP521, KeyType::Rsa2048] {
            let full = key(kt, false);
            let o = opts(HashAlg::Sha256, SigAlg::Pss, Marshaling::Asn1);
            let (sig, _) = sign(&full, 1, b"m", b"", &o).unwrap();
            let pem = &full.versions[&1].stored.public_key;
            let public = KeyVersion::from_public(kt, pem).unwrap();
            assert!(!public.has_private());
            let reloaded = KeyVersion::load(kt, public.stored.clone()).unwrap();
            let mut only = full.clone();
            only.versions.insert(1, std::sync::Arc::new(reloaded));
            assert!(verify(&only, b"m", &sig, b"", &o).unwrap(), "{kt:?}");
            assert!(!verify(&only, b"n", &sig, b"", &o).unwrap());
            assert_eq!(
                sign(&only, 1, b"m", b"", &o).unwrap_err(),
                bad("requested version for signing does not contain a private part")
            );
        }
        assert!(KeyVersion::from_public(KeyType::EcdsaP384, "not pem").is_err());
    }

    #[test]
    fn ecdsa_jws_is_fixed_width() {
        let p = key(KeyType::EcdsaP256, false);
        let (sig, _) = sign(
            &p,
            1,
            b"x",
            b"",
            &opts(HashAlg::Sha256, SigAlg::Pss, Marshaling::Jws),
        )
        .unwrap();
        let raw = codec::decode_url(sig.trim_start_matches("vault:v1:")).unwrap();
        assert_eq!(raw.len(), 64);
    }

    #[test]
    fn derived_ed25519_depends_on_context() {
        let p = key(KeyType::Ed25519, true);
        let o = opts(HashAlg::Sha256, SigAlg::Pss, Marshaling::Asn1);
        let (sig, public) = sign(&p, 1, b"m", b"ctx1", &o).unwrap();
        assert_eq!(public.unwrap().len(), 32);
        assert!(verify(&p, b"m", &sig, b"ctx1", &o).unwrap());
        assert!(!verify(&p, b"m", &sig, b"ctx2", &o).unwrap());
        assert!(sign(&p, 1, b"m", b"", &o).is_err());
    }
}
