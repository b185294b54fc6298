//! Cubbyhole: a private KV v1 space per token, destroyed with the token.

use async_trait::async_trait;
use coffer_core::logical::{Error, Request, Response, Result};

use super::kv1::handle_plain;
use crate::framework::{Backend, Ctx};

pub struct Cubbyhole;

#[async_trait]
impl Backend for Cubbyhole {
    async fn handle(&self, ctx: &Ctx<'_>, req: &mut Request) -> Result<Response> {
        let token = ctx.token.ok_or(Error::PermissionDenied)?;
        let view = ctx.view.sub(&format!("{}/", token.hash));
        handle_plain(&view, req).await
    }

    async fn exists(&self, ctx: &Ctx<'_>, req: &Request) -> Result<Option<bool>> {
        let Some(token) = ctx.token else {
            return Ok(Some(false));
        };
        let view = ctx.view.sub(&format!("{}/", token.hash));
        Ok(Some(view.get(&req.path).await?.is_some()))
    }
}
