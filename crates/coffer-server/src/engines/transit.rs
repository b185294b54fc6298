//! Transit: encryption as a service (placeholder; owned by the transit work).

use async_trait::async_trait;
use coffer_core::logical::{Error, Request, Response, Result};

use crate::framework::{Backend, Ctx};

#[derive(Default)]
pub struct Transit;

#[async_trait]
impl Backend for Transit {
    async fn handle(&self, _ctx: &Ctx<'_>, req: &mut Request) -> Result<Response> {
        Err(Error::NoRoute(format!("{}{}", req.mount_point, req.path)))
    }
}
