//! Service account JWTs: compact-JWS decoding, the claims Kubernetes puts in
//! legacy (secret-based) and projected tokens, and the local checks OpenBao
//! applies before any TokenReview call: signature against `pem_keys` (when
//! configured), algorithm, issuer, audience and the time claims with the
//! same leeways (60 s clock skew, 150 s implied expiry).
//!
//! Error texts are OpenBao's (they reach the client as 403 messages).

use aws_lc_rs::signature::{self, ParsedPublicKey, VerificationAlgorithm};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rustls_pki_types::pem::{PemObject, SectionKind};
use serde_json::{Map, Value};

/// Algorithms OpenBao accepts for Kubernetes tokens.
const SUPPORTED_ALGS: &[&str] = &["RS256", "RS384", "RS512", "ES256", "ES384", "ES512"];
/// Algorithms the JWS parser accepts at all (anything else, e.g. `HS256` or
/// `none`, is an unparseable token: a bare `permission denied`).
const PARSE_ALGS: &[&str] = &[
    "ES256", "ES384", "ES512", "EdDSA", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
];
/// go-jose's default clock-skew leeway.
const CLOCK_SKEW: i64 = 60;
/// cap/jwt's default leeway used to derive a missing `exp` or `nbf`.
const DEFAULT_LEEWAY: i64 = 150;

/// Why local validation refused a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// Not a parseable JWS or no configured key verifies it: OpenBao answers
    /// a bare `permission denied`.
    #[error("error verifying token signature")]
    Signature,
    /// A claim check failed: OpenBao answers 403 with this text.
    #[error("{0}")]
    Claims(String),
}

/// One key of `pem_keys`, kept as SubjectPublicKeyInfo DER.
#[derive(Debug, Clone)]
pub enum PublicKey {
    Rsa(Vec<u8>),
    Ec(&'static str, Vec<u8>),
    Ed25519(Vec<u8>),
}

/// Any PEM section, so certificates and bare public keys both parse.
struct AnyPem(SectionKind, Vec<u8>);

impl PemObject for AnyPem {
    fn from_pem(kind: SectionKind, der: Vec<u8>) -> Option<Self> {
        Some(AnyPem(kind, der))
    }
}

const NO_KEY: &str = "data does not contain any valid public keys";

impl PublicKey {
    /// Parses a PEM public key (`PUBLIC KEY`) or certificate (`CERTIFICATE`,
    /// whose key is used). RSA, ECDSA P-256/384/521 and Ed25519.
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        let AnyPem(kind, der) = AnyPem::from_pem_slice(pem.as_bytes()).map_err(|_| NO_KEY)?;
        let spki = match kind {
            SectionKind::PublicKey => der,
            SectionKind::Certificate => {
                let (_, cert) = x509_parser::parse_x509_certificate(&der)
                    .map_err(|e| format!("x509: malformed certificate: {e}"))?;
                cert.tbs_certificate.subject_pki.raw.to_vec()
            }
            _ => return Err(NO_KEY.into()),
        };
        Self::from_spki(spki).ok_or_else(|| NO_KEY.into())
    }

    fn from_spki(spki: Vec<u8>) -> Option<Self> {
        if ParsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &spki).is_ok() {
            return Some(PublicKey::Rsa(spki));
        }
        for (alg, name) in [
            (&signature::ECDSA_P256_SHA256_FIXED, "P-256"),
            (&signature::ECDSA_P384_SHA384_FIXED, "P-384"),
            (&signature::ECDSA_P521_SHA512_FIXED, "P-521"),
        ] {
            if ParsedPublicKey::new(alg, &spki).is_ok() {
                return Some(PublicKey::Ec(name, spki));
            }
        }
        if ParsedPublicKey::new(&signature::ED25519, &spki).is_ok() {
            return Some(PublicKey::Ed25519(spki));
        }
        None
    }

    /// The verification algorithm for a JWS `alg` with this key, if they fit.
    fn algorithm(&self, alg: &str) -> Option<(&'static dyn VerificationAlgorithm, &[u8])> {
        let a: &'static dyn VerificationAlgorithm = match (self, alg) {
            (PublicKey::Rsa(_), "RS256") => &signature::RSA_PKCS1_2048_8192_SHA256,
            (PublicKey::Rsa(_), "RS384") => &signature::RSA_PKCS1_2048_8192_SHA384,
            (PublicKey::Rsa(_), "RS512") => &signature::RSA_PKCS1_2048_8192_SHA512,
            (PublicKey::Rsa(_), "PS256") => &signature::RSA_PSS_2048_8192_SHA256,
            (PublicKey::Rsa(_), "PS384") => &signature::RSA_PSS_2048_8192_SHA384,
            (PublicKey::Rsa(_), "PS512") => &signature::RSA_PSS_2048_8192_SHA512,
            (PublicKey::Ec("P-256", _), "ES256") => &signature::ECDSA_P256_SHA256_FIXED,
            (PublicKey::Ec("P-384", _), "ES384") => &signature::ECDSA_P384_SHA384_FIXED,
            (PublicKey::Ec("P-521", _), "ES512") => &signature::ECDSA_P521_SHA512_FIXED,
            (PublicKey::Ed25519(_), "EdDSA") => &signature::ED25519,
            _ => return None,
        };
        let der = match self {
            PublicKey::Rsa(d) | PublicKey::Ec(_, d) | PublicKey::Ed25519(d) => d,
        };
        Some((a, der))
    }
}

/// A decoded compact JWS (signature not yet checked).
pub struct Jws {
    alg: String,
    signing_input: String,
    signature: Vec<u8>,
    pub claims: Map<String, Value>,
}

fn b64_json(part: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

impl Jws {
    /// Splits and decodes a compact JWS; anything malformed is a signature
    /// error. Whitespace anywhere is ignored, as go-jose does (a token read
    /// from a file with a trailing newline still parses).
    pub fn parse(token: &str) -> Result<Self, JwtError> {
        let stripped: String;
        let token = if token.chars().any(char::is_whitespace) {
            stripped = token.chars().filter(|c| !c.is_whitespace()).collect();
            stripped.as_str()
        } else {
            token
        };
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Signature);
        };
        let header = b64_json(h).ok_or(JwtError::Signature)?;
        let alg = header
            .get("alg")
            .and_then(Value::as_str)
            .filter(|a| PARSE_ALGS.contains(a))
            .ok_or(JwtError::Signature)?
            .to_owned();
        let claims = b64_json(p).ok_or(JwtError::Signature)?;
        let signature = URL_SAFE_NO_PAD
            .decode(s.trim_end_matches('='))
            .map_err(|_| JwtError::Signature)?;
        Ok(Jws {
            alg,
            signing_input: token[..h.len() + 1 + p.len()].to_owned(),
            signature,
            claims,
        })
    }

    /// Verifies the signature against any of `keys`.
    pub fn verify(&self, keys: &[PublicKey]) -> Result<(), JwtError> {
        let ok = keys.iter().any(|k| {
            k.algorithm(&self.alg).is_some_and(|(alg, der)| {
                ParsedPublicKey::new(alg, der).is_ok_and(|pk| {
                    pk.verify_sig(self.signing_input.as_bytes(), &self.signature)
                        .is_ok()
                })
            })
        });
        if ok { Ok(()) } else { Err(JwtError::Signature) }
    }
}

/// What the claims are checked against.
pub struct Expected<'a> {
    /// Required `iss` (empty: not checked).
    pub issuer: &'a str,
    /// Required `aud` member (empty: not checked).
    pub audience: &'a str,
    /// Current Unix time.
    pub now: i64,
}

fn claim_err(msg: &str) -> JwtError {
    JwtError::Claims(msg.to_owned())
}

/// `aud` as a list (a single string is a one-element list).
pub fn audiences(claims: &Map<String, Value>) -> Vec<String> {
    match claims.get("aud") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

fn numeric(claims: &Map<String, Value>, name: &str) -> Result<i64, JwtError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .ok_or_else(|| claim_err(&format!("invalid {name} claim: not a number"))),
        Some(_) => Err(claim_err(
            "go-jose/go-jose/jwt: expected number value to unmarshal NumericDate",
        )),
    }
}

/// The algorithm, issuer, audience and time checks of cap/jwt, in its order.
pub fn check_claims(jws: &Jws, exp: &Expected<'_>) -> Result<(), JwtError> {
    if jws.signature.is_empty() {
        return Err(claim_err(
            "invalid algorithm (alg) header parameter: token must be signed",
        ));
    }
    if !SUPPORTED_ALGS.contains(&jws.alg.as_str()) {
        return Err(claim_err(
            "invalid algorithm (alg) header parameter: token signed with unexpected algorithm",
        ));
    }
    let claims = &jws.claims;
    if !exp.issuer.is_empty()
        && claims.get("iss").and_then(Value::as_str).unwrap_or("") != exp.issuer
    {
        return Err(claim_err("invalid issuer (iss) claim"));
    }
    if !exp.audience.is_empty() && !audiences(claims).iter().any(|a| a == exp.audience) {
        return Err(claim_err(
            "invalid audience (aud) claim: audience claim does not match any expected audience",
        ));
    }
    let iat = numeric(claims, "iat")?;
    let mut expiry = numeric(claims, "exp")?;
    let mut nbf = numeric(claims, "nbf")?;
    if iat == 0 && expiry == 0 && nbf == 0 {
        return Ok(());
    }
    if expiry == 0 {
        expiry = iat.max(nbf) + DEFAULT_LEEWAY;
    }
    if nbf == 0 {
        nbf = if iat != 0 {
            iat
        } else {
            expiry - DEFAULT_LEEWAY
        };
    }
    if exp.now + CLOCK_SKEW < nbf {
        return Err(claim_err(
            "invalid not before (nbf) claim: token not yet valid",
        ));
    }
    if exp.now - CLOCK_SKEW > expiry {
        return Err(claim_err(
            "invalid expiration time (exp) claim: token is expired",
        ));
    }
    if exp.now + CLOCK_SKEW < iat {
        return Err(claim_err(
            "invalid issued at (iat) claim: token issued in the future",
        ));
    }
    Ok(())
}

/// The service account a token names, from either claim layout.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    pub name: String,
    pub namespace: String,
    pub uid: String,
    pub secret_name: String,
    pub audiences: Vec<String>,
}

fn str_claim(m: &Map<String, Value>, key: &str) -> Result<String, String> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(format!("claim {key:?} is not a string")),
    }
}

impl ServiceAccount {
    /// Reads legacy claims (`kubernetes.io/serviceaccount/...`) and, when
    /// present, the projected `kubernetes.io` object, which wins.
    pub fn from_claims(claims: &Map<String, Value>) -> Result<Self, String> {
        let mut sa = ServiceAccount {
            name: str_claim(claims, "kubernetes.io/serviceaccount/service-account.name")?,
            namespace: str_claim(claims, "kubernetes.io/serviceaccount/namespace")?,
            uid: str_claim(claims, "kubernetes.io/serviceaccount/service-account.uid")?,
            secret_name: str_claim(claims, "kubernetes.io/serviceaccount/secret.name")?,
            audiences: audiences(claims),
        };
        match claims.get("kubernetes.io") {
            None | Some(Value::Null) => {}
            Some(Value::Object(k8s)) => {
                sa.namespace = str_claim(k8s, "namespace")?;
                match k8s.get("serviceaccount") {
                    None | Some(Value::Null) => {}
                    Some(Value::Object(acct)) => {
                        sa.name = str_claim(acct, "name")?;
                        sa.uid = str_claim(acct, "uid")?;
                    }
                    Some(_) => {
                        return Err(
                            "claim \"kubernetes.io.serviceaccount\" is not an object".into()
                        );
                    }
                }
            }
            Some(_) => return Err("claim \"kubernetes.io\" is not an object".into()),
        }
        Ok(sa)
    }
}

#[cfg(test)]
mod tests;
