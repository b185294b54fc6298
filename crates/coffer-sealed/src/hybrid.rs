//! The sealed-secrets hybrid cipher (spec §1.1–1.3) and the scope labels.
//!
//! One value = `u16_be(n) ‖ RSA-OAEP-SHA256(session key, label) ‖ AES-256-GCM(value)` with a fresh
//! 32-byte session key per value and an all-zero 96-bit nonce (safe because the key is single use).
//! The OAEP label binds the value to its scope: `"<namespace>/<name>"` (strict), `"<namespace>"`
//! (namespace-wide) or empty (cluster-wide).

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::{OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, OaepPublicEncryptingKey};
use zeroize::Zeroizing;

use crate::error::CryptoError;

/// Length of the AES-256 session key.
const SESSION_KEY_LEN: usize = 32;
/// Annotation that makes a SealedSecret cluster-wide when its value is exactly `"true"`.
pub const CLUSTER_WIDE_ANNOTATION: &str = "sealedsecrets.bitnami.com/cluster-wide";
/// Annotation that makes a SealedSecret namespace-wide when its value is exactly `"true"`.
pub const NAMESPACE_WIDE_ANNOTATION: &str = "sealedsecrets.bitnami.com/namespace-wide";

/// Where a sealed value may be unsealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// Bound to one namespace and name (the default).
    #[default]
    Strict,
    /// Bound to a namespace; the Secret may be renamed.
    NamespaceWide,
    /// Not bound at all.
    ClusterWide,
}

impl Scope {
    /// Parses the CLI spelling (`strict`, `namespace-wide`, `cluster-wide`).
    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "strict" => Some(Scope::Strict),
            "namespace-wide" => Some(Scope::NamespaceWide),
            "cluster-wide" => Some(Scope::ClusterWide),
            _ => None,
        }
    }

    /// The CLI spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Strict => "strict",
            Scope::NamespaceWide => "namespace-wide",
            Scope::ClusterWide => "cluster-wide",
        }
    }

    /// Scope from annotations, exactly as upstream: only the value `"true"` counts and
    /// cluster-wide wins over namespace-wide.
    pub fn from_annotations<'a>(mut get: impl FnMut(&str) -> Option<&'a str>) -> Scope {
        if get(CLUSTER_WIDE_ANNOTATION) == Some("true") {
            Scope::ClusterWide
        } else if get(NAMESPACE_WIDE_ANNOTATION) == Some("true") {
            Scope::NamespaceWide
        } else {
            Scope::Strict
        }
    }

    /// The annotation that marks this scope, if any.
    pub fn annotation(self) -> Option<&'static str> {
        match self {
            Scope::Strict => None,
            Scope::NamespaceWide => Some(NAMESPACE_WIDE_ANNOTATION),
            Scope::ClusterWide => Some(CLUSTER_WIDE_ANNOTATION),
        }
    }
}

/// The OAEP label for a scope (spec §1.2).
pub fn label(scope: Scope, namespace: &str, name: &str) -> Vec<u8> {
    match scope {
        Scope::Strict => format!("{namespace}/{name}").into_bytes(),
        Scope::NamespaceWide => namespace.as_bytes().to_vec(),
        Scope::ClusterWide => Vec::new(),
    }
}

fn oaep_label(label: &[u8]) -> Option<&[u8]> {
    // Empty label and no label are the same thing in OAEP; pass None for empty.
    if label.is_empty() { None } else { Some(label) }
}

fn gcm_key(session_key: &[u8]) -> Result<LessSafeKey, CryptoError> {
    let key =
        UnboundKey::new(&AES_256_GCM, session_key).map_err(|_| CryptoError::Internal("aes key"))?;
    Ok(LessSafeKey::new(key))
}

/// Encrypts one value for `public` with the given OAEP label.
pub fn encrypt(
    public: &OaepPublicEncryptingKey,
    plaintext: &[u8],
    label: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let rng = SystemRandom::new();
    let mut session_key = Zeroizing::new([0u8; SESSION_KEY_LEN]);
    rng.fill(session_key.as_mut())
        .map_err(|_| CryptoError::Internal("random"))?;
    let n = public.ciphertext_size();
    let n16 = u16::try_from(n).map_err(|_| CryptoError::KeyTooLarge(public.key_size_bits()))?;
    let mut out = Vec::with_capacity(2 + n + plaintext.len() + 16);
    out.extend_from_slice(&n16.to_be_bytes());
    out.resize(2 + n, 0);
    let written = public
        .encrypt(
            &OAEP_SHA256_MGF1SHA256,
            session_key.as_ref(),
            &mut out[2..],
            oaep_label(label),
        )
        .map_err(|_| CryptoError::Internal("rsa-oaep encrypt"))?
        .len();
    if written != n {
        return Err(CryptoError::Internal("rsa-oaep length"));
    }
    let mut body = plaintext.to_vec();
    gcm_key(session_key.as_ref())?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key([0u8; 12]),
            Aad::empty(),
            &mut body,
        )
        .map_err(|_| CryptoError::Internal("aes-gcm seal"))?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// Splits a blob into its RSA and AES parts.
pub fn split(blob: &[u8]) -> Result<(&[u8], &[u8]), CryptoError> {
    if blob.len() < 2 {
        return Err(CryptoError::TooShort);
    }
    let n = usize::from(u16::from_be_bytes([blob[0], blob[1]]));
    if blob.len() < 2 + n {
        return Err(CryptoError::TooShort);
    }
    Ok((&blob[2..2 + n], &blob[2 + n..]))
}

/// Decrypts one value with one private key; `Err(CryptoError::WrongKey)` when the key or label
/// does not fit (the two are indistinguishable by design).
pub fn decrypt(
    private: &OaepPrivateDecryptingKey,
    blob: &[u8],
    label: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let (rsa_part, aes_part) = split(blob)?;
    if rsa_part.len() != private.key_size_bytes() {
        return Err(CryptoError::WrongKey);
    }
    let mut buf = Zeroizing::new(vec![0u8; private.min_output_size()]);
    let session_key = private
        .decrypt(
            &OAEP_SHA256_MGF1SHA256,
            rsa_part,
            &mut buf,
            oaep_label(label),
        )
        .map_err(|_| CryptoError::WrongKey)?;
    open_with_session_key(session_key, aes_part)
}

/// The AES-GCM half of [`decrypt`]: opens `aes_part` with an already recovered session key
/// (used when the RSA half is decrypted elsewhere, e.g. by coffer's transit engine).
pub fn open_with_session_key(
    session_key: &[u8],
    aes_part: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if session_key.len() != SESSION_KEY_LEN {
        return Err(CryptoError::WrongKey);
    }
    let key = gcm_key(session_key)?;
    let mut body = Zeroizing::new(aes_part.to_vec());
    let plain_len = key
        .open_in_place(
            Nonce::assume_unique_for_key([0u8; 12]),
            Aad::empty(),
            &mut body,
        )
        .map_err(|_| CryptoError::WrongKey)?
        .len();
    body.truncate(plain_len);
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_per_scope() {
        assert_eq!(label(Scope::Strict, "ns", "n"), b"ns/n");
        assert_eq!(label(Scope::NamespaceWide, "ns", "n"), b"ns");
        assert_eq!(label(Scope::ClusterWide, "ns", "n"), b"");
    }

    #[test]
    fn scope_annotations_need_exact_true() {
        fn anno(k: &'static str, v: &'static str) -> impl FnMut(&str) -> Option<&'static str> {
            move |q| (q == k).then_some(v)
        }
        assert_eq!(
            Scope::from_annotations(anno(CLUSTER_WIDE_ANNOTATION, "true")),
            Scope::ClusterWide
        );
        assert_eq!(
            Scope::from_annotations(anno(CLUSTER_WIDE_ANNOTATION, "True")),
            Scope::Strict
        );
        assert_eq!(
            Scope::from_annotations(anno(NAMESPACE_WIDE_ANNOTATION, "true")),
            Scope::NamespaceWide
        );
        assert_eq!(
            Scope::from_annotations(|_| Some("true")),
            Scope::ClusterWide
        );
    }

    #[test]
    fn short_blobs_are_rejected() {
        assert!(matches!(split(b""), Err(CryptoError::TooShort)));
        assert!(matches!(
            split(&[0x02, 0x00, 1, 2]),
            Err(CryptoError::TooShort)
        ));
        assert_eq!(split(&[0, 1, 9, 8]).unwrap(), (&[9u8][..], &[8u8][..]));
    }
}
