//! Sealing keys and certificates: loading PEM private keys (PKCS#1 or PKCS#8), reading the
//! controller certificate (public key and expiry only, spec §4.4) and generating a new key pair
//! with a self-signed certificate in the controller's profile.

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::{
    KeyPair, KeySize, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey,
    PublicEncryptingKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;

use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::error::KeyError;

/// SHA-256 of the SubjectPublicKeyInfo DER: identifies a key (internal only, not on the wire).
pub type KeyId = [u8; 32];

fn malformed(what: &str, reason: impl std::fmt::Display) -> KeyError {
    KeyError::Malformed {
        what: what.to_owned(),
        reason: reason.to_string(),
    }
}

pub(crate) fn key_id(public: &PublicEncryptingKey) -> Result<KeyId, KeyError> {
    let der = public
        .as_der()
        .map_err(|_| malformed("public key", "cannot encode"))?;
    let mut id = [0u8; 32];
    id.copy_from_slice(digest(&SHA256, der.as_ref()).as_ref());
    Ok(id)
}

/// A certificate that values are sealed for.
#[derive(Clone)]
pub struct SealingCert {
    public: Arc<OaepPublicEncryptingKey>,
    id: KeyId,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    pem: String,
}

impl std::fmt::Debug for SealingCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealingCert")
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

impl SealingCert {
    /// Parses the first PEM `CERTIFICATE` in `pem` (later ones are ignored, as upstream).
    pub fn from_pem(pem: &[u8]) -> Result<SealingCert, KeyError> {
        let what = "certificate";
        let der = CertificateDer::pem_slice_iter(pem)
            .next()
            .ok_or(KeyError::NoPem {
                what: what.into(),
                kind: "CERTIFICATE",
            })?
            .map_err(|e| malformed(what, e))?;
        Self::from_der(der.as_ref())
    }

    /// Parses a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<SealingCert, KeyError> {
        let what = "certificate";
        let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| malformed(what, e))?;
        let spki = cert.tbs_certificate.subject_pki.raw;
        let public = PublicEncryptingKey::from_der(spki)
            .map_err(|_| KeyError::NotRsa { what: what.into() })?;
        let id = key_id(&public)?;
        let public = Arc::new(
            OaepPublicEncryptingKey::new(public)
                .map_err(|_| KeyError::NotRsa { what: what.into() })?,
        );
        Ok(SealingCert {
            public,
            id,
            not_before: cert.validity().not_before.to_datetime(),
            not_after: cert.validity().not_after.to_datetime(),
            pem: pem_encode("CERTIFICATE", der),
        })
    }

    /// The RSA-OAEP public key.
    pub fn public(&self) -> &OaepPublicEncryptingKey {
        &self.public
    }
    /// Identifier of the public key.
    pub fn id(&self) -> KeyId {
        self.id
    }
    /// Start of validity (the key's ordering time by default).
    pub fn not_before(&self) -> OffsetDateTime {
        self.not_before
    }
    /// End of validity.
    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }
    /// The certificate as PEM.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// Refuses an expired certificate (kubeseal only checks NotAfter).
    pub fn check_not_expired(&self, now: OffsetDateTime) -> Result<(), KeyError> {
        if now > self.not_after {
            let fmt = time::format_description::well_known::Rfc3339;
            return Err(KeyError::Expired {
                not_after: self.not_after.format(&fmt).unwrap_or_default(),
            });
        }
        Ok(())
    }
}

/// An RSA private key able to unseal.
#[derive(Clone)]
pub struct PrivateKey {
    oaep: Arc<OaepPrivateDecryptingKey>,
    public: Arc<OaepPublicEncryptingKey>,
    id: KeyId,
    pkcs8: Arc<Zeroizing<Vec<u8>>>,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateKey")
            .field("bits", &self.oaep.key_size_bits())
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// Reads the first PEM private key (`RSA PRIVATE KEY` or `PRIVATE KEY`); EC keys are refused.
    pub fn from_pem(pem: &[u8], what: &str) -> Result<PrivateKey, KeyError> {
        let key = PrivateKeyDer::from_pem_slice(pem).map_err(|e| match e {
            rustls_pki_types::pem::Error::NoItemsFound => KeyError::NoPem {
                what: what.into(),
                kind: "PRIVATE KEY",
            },
            e => malformed(what, e),
        })?;
        match key {
            PrivateKeyDer::Pkcs1(der) => Self::from_pkcs1_der(der.secret_pkcs1_der(), what),
            PrivateKeyDer::Pkcs8(der) => Self::from_pkcs8_der(der.secret_pkcs8_der(), what),
            _ => Err(KeyError::NotRsa { what: what.into() }),
        }
    }

    /// Reads a PKCS#1 `RSAPrivateKey`.
    pub fn from_pkcs1_der(der: &[u8], what: &str) -> Result<PrivateKey, KeyError> {
        let pair = KeyPair::from_der(der).map_err(|e| malformed(what, e))?;
        let pkcs8: Pkcs8V1Der<'static> = pair
            .as_der()
            .map_err(|_| malformed(what, "cannot re-encode"))?;
        Self::from_pkcs8_der(pkcs8.as_ref(), what)
    }

    /// Reads a PKCS#8 `PrivateKeyInfo` holding an RSA key.
    pub fn from_pkcs8_der(der: &[u8], what: &str) -> Result<PrivateKey, KeyError> {
        let key = PrivateDecryptingKey::from_pkcs8(der)
            .map_err(|_| KeyError::NotRsa { what: what.into() })?;
        let public = key.public_key();
        let id = key_id(&public)?;
        Ok(PrivateKey {
            oaep: Arc::new(OaepPrivateDecryptingKey::new(key).map_err(|e| malformed(what, e))?),
            public: Arc::new(OaepPublicEncryptingKey::new(public).map_err(|e| malformed(what, e))?),
            id,
            pkcs8: Arc::new(Zeroizing::new(der.to_vec())),
        })
    }

    /// Generates a fresh RSA key (e = 65537) of `bits` (2048, 3072, 4096 or 8192).
    pub fn generate(bits: usize) -> Result<PrivateKey, KeyError> {
        let size = match bits {
            2048 => KeySize::Rsa2048,
            3072 => KeySize::Rsa3072,
            4096 => KeySize::Rsa4096,
            8192 => KeySize::Rsa8192,
            other => {
                return Err(KeyError::Generate(format!(
                    "unsupported key size {other}, use 2048, 3072, 4096 or 8192"
                )));
            }
        };
        let key =
            PrivateDecryptingKey::generate(size).map_err(|_| KeyError::Generate("rsa".into()))?;
        let der = key
            .as_der()
            .map_err(|_| KeyError::Generate("encode".into()))?;
        Self::from_pkcs8_der(der.as_ref(), "generated key")
    }

    /// The decryption key.
    pub fn oaep(&self) -> &OaepPrivateDecryptingKey {
        &self.oaep
    }
    /// The matching public key.
    pub fn public(&self) -> &OaepPublicEncryptingKey {
        &self.public
    }
    /// Identifier of the public key.
    pub fn id(&self) -> KeyId {
        self.id
    }
    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        self.oaep.key_size_bits()
    }
    /// The key as PKCS#8 DER.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The key as PEM `RSA PRIVATE KEY` (PKCS#1), the form the controller stores.
    pub fn to_pkcs1_pem(&self) -> Result<Zeroizing<String>, KeyError> {
        let inner = pkcs8_inner_key(&self.pkcs8)
            .ok_or_else(|| malformed("private key", "bad pkcs#8 structure"))?;
        Ok(Zeroizing::new(pem_encode("RSA PRIVATE KEY", inner)))
    }

    /// Makes the self-signed certificate of the controller profile (spec §4.4): empty subject
    /// unless `cn` is given, KeyUsage encipherOnly (critical), CA:TRUE (critical), random serial.
    pub fn self_signed_cert(
        &self,
        cn: &str,
        not_before: OffsetDateTime,
        ttl: time::Duration,
    ) -> Result<SealingCert, KeyError> {
        let signer = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
            &self.pkcs8.as_slice().into(),
            &rcgen::PKCS_RSA_SHA256,
        )
        .map_err(|e| KeyError::Generate(e.to_string()))?;
        controller_cert(&signer, cn, not_before, ttl)
    }
}

/// Makes a certificate of the controller profile (spec §4.4) for `signer`'s public key, signed by
/// `signer` (a local key, or a key held by coffer transit).
pub(crate) fn controller_cert(
    signer: &impl rcgen::SigningKey,
    cn: &str,
    not_before: OffsetDateTime,
    ttl: time::Duration,
) -> Result<SealingCert, KeyError> {
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyUsagePurpose,
        SerialNumber,
    };
    let gen_err = |e: rcgen::Error| KeyError::Generate(e.to_string());
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    if !cn.is_empty() {
        dn.push(DnType::CommonName, cn);
    }
    params.distinguished_name = dn;
    params.not_before = not_before;
    params.not_after = not_before + ttl;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::EncipherOnly];
    let mut serial = [0u8; 16];
    aws_lc_rs::rand::fill(&mut serial).map_err(|_| KeyError::Generate("random".into()))?;
    serial[0] &= 0x7f;
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    let cert = params.self_signed(signer).map_err(gen_err)?;
    SealingCert::from_der(cert.der())
}

/// Extracts the OCTET STRING `privateKey` from a PKCS#8 v1 `PrivateKeyInfo`.
fn pkcs8_inner_key(der: &[u8]) -> Option<&[u8]> {
    fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = input.split_first()?;
        let (&len0, rest) = rest.split_first()?;
        let (len, rest) = if len0 < 0x80 {
            (usize::from(len0), rest)
        } else {
            let n = usize::from(len0 & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            (
                rest[..n]
                    .iter()
                    .fold(0usize, |a, &b| (a << 8) | usize::from(b)),
                &rest[n..],
            )
        };
        (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
    }
    let (tag, seq, _) = tlv(der)?;
    if tag != 0x30 {
        return None;
    }
    let (version_tag, _, rest) = tlv(seq)?;
    let (alg_tag, _, rest) = tlv(rest)?;
    let (key_tag, key, _) = tlv(rest)?;
    (version_tag == 0x02 && alg_tag == 0x30 && key_tag == 0x04).then_some(key)
}

/// PEM-encodes DER with 64-column lines.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_round_trips_through_pkcs1_pem_and_cert() {
        let key = PrivateKey::generate(2048).unwrap();
        let pem = key.to_pkcs1_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
        let again = PrivateKey::from_pem(pem.as_bytes(), "test").unwrap();
        assert_eq!(again.id(), key.id());
        let now = OffsetDateTime::now_utc();
        let cert = key
            .self_signed_cert("", now, time::Duration::days(1))
            .unwrap();
        assert_eq!(cert.id(), key.id());
        assert!(cert.check_not_expired(now).is_ok());
        assert!(matches!(
            cert.check_not_expired(now + time::Duration::days(2)),
            Err(KeyError::Expired { .. })
        ));
        // Profile: empty subject, KeyUsage = encipherOnly only (DER 03 02 00 01), CA true.
        let der = CertificateDer::from_pem_slice(cert.pem().as_bytes()).unwrap();
        let (_, parsed) = x509_parser::parse_x509_certificate(der.as_ref()).unwrap();
        assert_eq!(parsed.subject().iter().count(), 0);
        let ku = parsed.key_usage().unwrap().unwrap();
        assert!(ku.critical && ku.value.encipher_only() && !ku.value.key_encipherment());
        let bc = parsed.basic_constraints().unwrap().unwrap();
        assert!(bc.critical && bc.value.ca);
    }

    #[test]
    fn ec_keys_are_refused() {
        let ec = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIIm0F0mQ6S3kA8pT5QmA0GjvP0dV3l1eV0pN2W8n2nqJoAoGCCqGSM49\nAwEHoUQDQgAEdWm8x6Wc7aRZk4M9v7lq2b3Bv1m3pEJ8c5+Qe8u5G3fY8tIuF0qV\nxg3kqM7qvY2j7u9Fz6w3Jw3m3xqg3bq3Bg==\n-----END EC PRIVATE KEY-----\n";
        assert!(PrivateKey::from_pem(ec.as_bytes(), "k").is_err());
        assert!(matches!(
            PrivateKey::from_pem(b"nothing", "k"),
            Err(KeyError::NoPem { .. })
        ));
    }
}
