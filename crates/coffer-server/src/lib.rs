//! The coffer secret store server: a Vault/OpenBao-compatible HTTP API over
//! an encrypting barrier and pluggable storage.
//!
//! Request path: [`http`] (wire shapes) -> [`core`] pipeline (seal, token,
//! routing, ACL, audit) -> a [`framework::Backend`] ([`engines`], [`auth`],
//! [`token`], [`sys`]) -> [`barrier`] -> `coffer_storage`.
#![forbid(unsafe_code)]

pub mod audit;
pub mod auth;
pub mod barrier;
pub mod config;
pub mod core;
pub mod engines;
pub mod framework;
pub mod http;
pub mod ids;
mod lifecycle;
pub mod mounts;
pub mod net;
pub mod policy_store;
pub mod seal;
pub mod server;
mod sys;
pub mod token;
pub mod wrapping;

/// The version reported by `sys/seal-status` and `sys/health`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
