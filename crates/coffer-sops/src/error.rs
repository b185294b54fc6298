//! Errors of the SOPS layer and the exit codes sops uses for them.
//!
//! Messages name the offending path, field or file, never a secret value.

use std::path::PathBuf;

/// Exit codes of the real `sops` (cmd/sops/codes), kept so scripts keep working.
pub mod codes {
    pub const GENERIC: u8 = 1;
    pub const COULD_NOT_READ_INPUT: u8 = 2;
    pub const COULD_NOT_WRITE_OUTPUT: u8 = 3;
    pub const ERROR_DUMPING_TREE: u8 = 4;
    pub const ERROR_READING_CONFIG: u8 = 5;
    pub const INVALID_SET_FORMAT: u8 = 7;
    pub const CONFLICTING_PARAMETERS: u8 = 8;
    pub const ERROR_ENCRYPTING_TREE: u8 = 23;
    pub const ERROR_DECRYPTING_MAC: u8 = 24;
    pub const ERROR_DECRYPTING_TREE: u8 = 25;
    pub const MAC_MISMATCH: u8 = 51;
    pub const CONFIG_FILE_NOT_FOUND: u8 = 61;
    pub const INVALID_TREE_PATH: u8 = 91;
    pub const NO_FILE_SPECIFIED: u8 = 100;
    pub const NO_ENCRYPTION_KEY_FOUND: u8 = 111;
    pub const COULD_NOT_RETRIEVE_KEY: u8 = 128;
    pub const FILE_NOT_MODIFIED: u8 = 200;
    pub const NO_EDITOR_FOUND: u8 = 201;
    pub const FILE_ALREADY_ENCRYPTED: u8 = 203;
}

/// Everything that can go wrong reading, transforming or writing a SOPS file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot parse {format} input: {message}")]
    Parse {
        format: &'static str,
        message: String,
    },
    #[error("cannot emit {format} output: {message}")]
    Emit {
        format: &'static str,
        message: String,
    },
    #[error("invalid encrypted value at {path:?}: {reason}")]
    BadEncValue { path: String, reason: String },
    #[error(
        "cannot decrypt value at {path:?}: authentication failed (wrong data key, tampered value or renamed key)"
    )]
    Decrypt { path: String },
    #[error("cannot encrypt value at {path:?}: {reason}")]
    Encrypt { path: String, reason: String },
    #[error(
        "MAC mismatch: file has {stored}, computed {computed}\n(the MAC covers every value in order, \
         cleartext ones included: a hand-edited unencrypted value, reordered keys or list items, or \
         a merge of two encrypted versions cause this; use --ignore-mac to decrypt anyway)"
    )]
    MacMismatch { stored: String, computed: String },
    /// sops treats a missing MAC as a mismatch (exit 51).
    #[error("MAC mismatch: the file has no MAC (use --ignore-mac to decrypt anyway)")]
    MacNotFound,
    #[error("cannot decrypt the MAC: {0}")]
    MacDecrypt(String),
    #[error("invalid sops metadata: {0}")]
    Metadata(String),
    #[error("file has no sops metadata: it is not encrypted")]
    NotEncrypted,
    #[error("file is already encrypted (it has sops metadata)")]
    AlreadyEncrypted,
    #[error("failed to get the data key required to decrypt the file:\n{0}")]
    DataKey(String),
    #[error(
        "no master key given: use --age, --pgp, --hc-vault-transit or a .sops.yaml creation rule"
    )]
    NoKeys,
    #[error("key error: {0}")]
    Key(String),
    #[error("invalid tree path {path:?}: {reason}")]
    TreePath { path: String, reason: String },
    #[error("config {path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error("{0}")]
    Usage(String),
    #[error("no file specified (see --help)")]
    NoFile,
    #[error("file has not been modified")]
    NotModified,
    #[error("no editor found: set SOPS_EDITOR or EDITOR")]
    NoEditor,
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// The process exit code sops uses for this kind of failure.
    pub fn exit_code(&self) -> u8 {
        use codes::*;
        match self {
            Error::Read { .. } | Error::Parse { .. } => COULD_NOT_READ_INPUT,
            Error::Write { .. } => COULD_NOT_WRITE_OUTPUT,
            Error::Emit { .. } => ERROR_DUMPING_TREE,
            Error::BadEncValue { .. } | Error::Decrypt { .. } => ERROR_DECRYPTING_TREE,
            Error::Encrypt { .. } => ERROR_ENCRYPTING_TREE,
            Error::MacMismatch { .. } => MAC_MISMATCH,
            Error::MacNotFound => MAC_MISMATCH,
            Error::MacDecrypt(_) => ERROR_DECRYPTING_MAC,
            Error::Metadata(_) | Error::NotEncrypted => COULD_NOT_READ_INPUT,
            Error::AlreadyEncrypted => FILE_ALREADY_ENCRYPTED,
            Error::DataKey(_) => COULD_NOT_RETRIEVE_KEY,
            Error::NoKeys => NO_ENCRYPTION_KEY_FOUND,
            Error::Key(_) => GENERIC,
            Error::TreePath { .. } => INVALID_TREE_PATH,
            Error::Config { .. } => ERROR_READING_CONFIG,
            Error::Usage(_) => GENERIC,
            Error::NoFile => NO_FILE_SPECIFIED,
            Error::NotModified => FILE_NOT_MODIFIED,
            Error::NoEditor => NO_EDITOR_FOUND,
            Error::Other(_) => GENERIC,
        }
    }

    pub(crate) fn parse(format: &'static str, message: impl Into<String>) -> Self {
        Error::Parse {
            format,
            message: message.into(),
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
