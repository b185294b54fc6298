//! Error types, grouped by operation. Messages are lowercase, name the offending field or value
//! and never contain secret material.

use thiserror::Error;

/// Failures of the hybrid cipher.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CryptoError {
    /// The blob is shorter than its own length prefix says.
    #[error("sealedsecret data is too short")]
    TooShort,
    /// Wrong key or wrong scope label (indistinguishable on purpose).
    #[error("no key could decrypt secret")]
    WrongKey,
    /// RSA modulus larger than the 16-bit length prefix allows.
    #[error("rsa key of {0} bits is too large for the sealed-secrets format")]
    KeyTooLarge(usize),
    /// The service holding the private key (coffer transit) could not be asked; the message
    /// names the address and the reason, never a token.
    #[error("key service failed: {0}")]
    Backend(String),
    /// The crypto library failed where it should not.
    #[error("internal crypto failure ({0})")]
    Internal(&'static str),
}

/// Failures reading or making keys and certificates.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// No PEM block of the expected kind.
    #[error("{what}: no pem {kind} block found")]
    NoPem { what: String, kind: &'static str },
    /// The PEM or DER could not be parsed.
    #[error("{what}: {reason}")]
    Malformed { what: String, reason: String },
    /// A key that is not RSA (EC keys parse but cannot seal).
    #[error("{what}: not an rsa key")]
    NotRsa { what: String },
    /// The certificate's NotAfter lies in the past.
    #[error("failed to encrypt using an expired certificate on {not_after}")]
    Expired { not_after: String },
    /// Key generation or certificate signing failed.
    #[error("cannot generate sealing key: {0}")]
    Generate(String),
}

/// Failures decoding or encoding SealedSecret / Secret documents.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FormatError {
    /// Neither valid JSON nor YAML.
    #[error("cannot parse {what}: {reason}")]
    Parse { what: String, reason: String },
    /// A field has the wrong type or is missing.
    #[error("{what}: field {field} {problem}")]
    Field {
        what: String,
        field: String,
        problem: String,
    },
    /// Invalid base64 in a named item.
    #[error("{what}: item {item:?} is not valid base64")]
    Base64 { what: String, item: String },
    /// Nothing to process.
    #[error("no secrets found")]
    NoSecrets,
}

/// Failures of sealing a Secret.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SealError {
    /// Bad input document.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// The Secret has no name and none was given.
    #[error("secret must declare a name (set metadata.name or pass --name)")]
    MissingName,
    /// The Secret has no namespace and none could be derived.
    #[error(
        "secret {name:?} must declare a namespace (set metadata.namespace or pass --namespace)"
    )]
    MissingNamespace { name: String },
    /// `-n` disagrees with the document.
    #[error(
        "namespace mismatch: the secret declares namespace {declared:?} but --namespace is {given:?}"
    )]
    NamespaceMismatch { declared: String, given: String },
    /// Secret without data (needs --allow-empty-data).
    #[error("secret {name:?} has no data (pass --allow-empty-data to seal it anyway)")]
    EmptyData { name: String },
    /// Encryption failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// Failures of unsealing a SealedSecret; collects one message per failed item.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum UnsealError {
    /// Item-level failures (deduplicated, in item order).
    #[error("{}", .0.join(", "))]
    Items(Vec<String>),
    /// The document itself is unusable.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// The deprecated v1 `spec.data` field is present but not accepted.
    #[error("using deprecated 'data' field, which is not accepted here; re-seal the secret")]
    DeprecatedData,
    /// Both `spec.data` and `spec.encryptedData` are set.
    #[error("sealedsecret {0:?} has both 'data' and 'encryptedData'")]
    BothData(String),
    /// A `template.data` entry did not render.
    #[error("template.data[{key:?}]: {reason}")]
    Template { key: String, reason: String },
}
