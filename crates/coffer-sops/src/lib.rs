//! SOPS-compatible file encryption: reads files written by the real `sops`
//! and writes files it accepts. Values are encrypted with AES-256-GCM (32-byte
//! IV) under one data key per file; the data key is protected by age, PGP
//! (via `gpg`) or Vault/OpenBao transit master keys, optionally split across
//! key groups with Shamir's scheme. See `docs/sops.md`.
#![forbid(unsafe_code)]

pub mod cipher;
pub mod cli;
pub mod config;
pub mod document;
pub mod error;
pub mod format;
pub mod http;
pub mod keys;
pub mod metadata;
pub mod rules;
pub mod tree;
pub mod treepath;
pub mod walk;

pub use error::{Error, Result};
