//! Cryptography for the server core: the barrier keyring (AES-256-GCM with
//! terms, path-bound), Shamir secret sharing in Vault's share layout, and
//! zeroizing secret wrappers. aws-lc-rs is the only primitive provider.
//!
//! Byte layouts of everything this crate produces are specified in
//! `docs/storage-format.md`.
#![forbid(unsafe_code)]

pub mod aead;
pub mod digest;
mod gf256;
mod hex;
pub mod hmac;
pub mod keyring;
pub mod random;
pub mod secret;
pub mod shamir;

pub use keyring::{BarrierError, Keyring, TermInfo};
pub use random::{random_array, random_bytes};
pub use secret::SecretBytes;
