//! Sealed secrets compatible with Bitnami sealed-secrets (`kubeseal` and its controller).
//!
//! Layers, bottom up:
//! - [`hybrid`]: the wire format of one value (RSA-OAEP-SHA256 session key with the scope label,
//!   AES-256-GCM payload) on aws-lc-rs;
//! - [`keys`], [`keyring`]: sealing certificates, private keys and the ordered key set;
//! - [`model`], [`codec`], [`emit`]: Secret / SealedSecret objects, JSON and YAML in and out with
//!   kubeseal's field order;
//! - [`seal`], [`unseal`], [`template`]: the operations;
//! - [`controller`]: the controller's IO-free core (key Secrets, renewal, reconcile decision,
//!   HTTP handlers);
//! - [`coffer`]: `--key-source coffer`, the sealing key held by a coffer transit RSA key;
//! - [`cli`]: `coffer seal` / `kubeseal`.
#![forbid(unsafe_code)]

pub mod cli;
pub mod codec;
pub mod coffer;
pub mod controller;
pub mod emit;
pub mod error;
pub mod fetch;
pub mod hybrid;
pub mod keyring;
pub mod keys;
pub mod model;
pub mod seal;
pub mod template;
pub mod unseal;

pub use error::{CryptoError, FormatError, KeyError, SealError, UnsealError};
pub use hybrid::Scope;
pub use keyring::{KeyRing, RingKey};
pub use keys::{PrivateKey, SealingCert};
pub use model::{SealedSecret, Secret};
