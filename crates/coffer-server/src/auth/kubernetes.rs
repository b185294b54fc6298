//! `auth/kubernetes` (placeholder; owned by the Kubernetes auth work).

use async_trait::async_trait;
use coffer_core::logical::{Error, Request, Response, Result};

use crate::framework::{Backend, Ctx};

#[derive(Default)]
pub struct Kubernetes;

#[async_trait]
impl Backend for Kubernetes {
    async fn handle(&self, _ctx: &Ctx<'_>, req: &mut Request) -> Result<Response> {
        Err(Error::NoRoute(format!("{}{}", req.mount_point, req.path)))
    }

    fn is_unauthenticated(&self, path: &str) -> bool {
        path == "login"
    }
}
