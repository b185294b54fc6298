//! SOPS-compatible file encryption: reads files written by the real `sops`
//! and writes files it accepts. Values are encrypted with AES-256-GCM (32-byte
//! IV) under one data key per file; the data key is protected by age, PGP
//! (via `gpg`) or Vault/OpenBao transit master keys, optionally split across
//! key groups with Shamir's scheme. See `docs/sops.md`.
#![forbid(unsafe_code)]

pub mod cipher;
pub mod config;
pub mod document;
pub mod error;
pub mod format;
pub mod http;
pub mod keys;
pub mod metadata;
pub mod rules;
pub mod tree;
pub mod walk;

pub mod cli {
    //! `coffer sops ...` and the binary invoked as `sops`.
    use std::ffi::OsString;
    use std::process::ExitCode;

    /// Runs the sops CLI; `args[0]` is the program name (`sops`).
    pub fn main(_args: Vec<OsString>) -> ExitCode {
        eprintln!("coffer sops: not implemented yet");
        ExitCode::from(1)
    }
}

pub use error::{Error, Result};
