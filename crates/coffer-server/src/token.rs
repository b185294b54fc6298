//! Tokens: the store (entries kept only under salted hashes, accessors,
//! parent/child tree, expiry) and the `auth/token/` backend.

mod backend;
mod store;

pub use backend::{TokenBackend, normalize_policies as normalize, render_auth};
pub use store::{NewToken, SYSTEM_MAX_TTL, TokenEntry, TokenStore};
