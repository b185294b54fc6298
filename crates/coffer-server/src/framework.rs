//! The shared backend trait every secrets engine and auth method implements.
//! Each backend routes with its own declarative [`PathTable`]
//! (`coffer_core::paths`) and parses fields into typed structs
//! (`coffer_core::fields`); the core only calls [`Backend::handle`] and
//! [`Backend::exists`].

use std::net::IpAddr;

use async_trait::async_trait;
use coffer_core::logical::{Request, Response, Result};
use coffer_core::paths::{Matched, PathTable};

use crate::barrier::View;
use crate::token::TokenEntry;

/// Everything a backend may use while handling one request.
pub struct Ctx<'a> {
    /// Storage private to this mount.
    pub view: &'a View,
    /// The calling token (absent on unauthenticated login paths).
    pub token: Option<&'a TokenEntry>,
    /// The calling token's plaintext as presented (for lookup-self style answers).
    pub client_token: &'a str,
    /// The caller's policies grant `sudo` on this path.
    pub sudo: bool,
    pub remote_addr: Option<IpAddr>,
    /// Mount-level TTL settings (seconds; 0 = system default).
    pub default_lease_ttl: u64,
    pub max_lease_ttl: u64,
}

#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Handles a request whose `path` is relative to the mount.
    async fn handle(&self, ctx: &Ctx<'_>, req: &mut Request) -> Result<Response>;

    /// For writes on paths with an existence check: does the target exist?
    /// `None` when the path has no existence check (writes are `update`).
    async fn exists(&self, _ctx: &Ctx<'_>, _req: &Request) -> Result<Option<bool>> {
        Ok(None)
    }

    /// Paths (relative to the mount) served without a token, e.g. `login`.
    fn is_unauthenticated(&self, _path: &str) -> bool {
        false
    }
}

/// The usual existence check: for a row of `table` marked `existence_check`,
/// whether the stored item at `key_of(row)` exists; other rows have none.
pub async fn stored_item_exists<R>(
    table: &PathTable<R>,
    ctx: &Ctx<'_>,
    req: &Request,
    key_of: impl Fn(&Matched<'_, R>) -> String,
) -> Result<Option<bool>> {
    match table.lookup(&req.path) {
        Some(m) if m.spec.existence_check => Ok(Some(ctx.view.get(&key_of(&m)).await?.is_some())),
        _ => Ok(None),
    }
}
