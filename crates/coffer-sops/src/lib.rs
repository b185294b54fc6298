//! SOPS-compatible file encryption: reads files written by the real `sops`
//! and writes files it accepts. Values are encrypted with AES-256-GCM (32-byte
//! IV) under one data key per file; the data key is protected by age, PGP
//! (via `gpg`) or Vault/OpenBao transit master keys, optionally split across
//! key groups with Shamir's scheme. See `docs/sops.md`.
//!
//! Code map (data flows top to bottom on decrypt, bottom to top on encrypt):
//! - [`cli`]: the sops command line (thin; every command is a few calls below).
//! - [`config`]: `.sops.yaml` creation rules → key groups, rule, options.
//! - [`document`]: whole-file operations (decrypt + MAC check, encrypt,
//!   re-encrypt with IV reuse, rotate, updatekeys).
//! - [`format`](mod@format): stores (YAML, JSON, dotenv, INI, binary) ↔ [`tree`] plus the
//!   metadata map; [`metadata`] parses and writes the `sops` block.
//! - [`keys`]: master keys (age, PGP, Vault transit, kept-unchanged KMS
//!   entries), data-key recovery and protection, Shamir.
//! - [`walk`]: the tree walk (AAD paths, [`rules`], MAC); [`cipher`]: the
//!   `ENC[...]` value format and AES-256-GCM with a 32-byte IV.
//! - [`treepath`]: `["a"][0]` paths; [`http`]: the small Vault HTTP client.
//!
//! Invariants: plaintext never reaches error messages or `Debug` output
//! ([`tree::Value`]'s `Debug` redacts); files are replaced atomically only
//! after everything succeeded; the MAC never covers comments.
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
