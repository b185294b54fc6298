//! `--key-source coffer`: the sealing key lives in a coffer transit RSA key and never leaves
//! coffer ([`transit`]), reached with a small blocking HTTP client ([`http`]).

pub mod http;
pub mod transit;

pub use transit::{Auth, CofferError, CofferKeyConfig, CofferKeys};
