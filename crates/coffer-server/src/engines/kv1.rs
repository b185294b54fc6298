//! KV version 1: unversioned JSON objects at arbitrary paths.

use async_trait::async_trait;
use coffer_core::logical::{Error, Object, Operation, Request, Response, Result};
use coffer_core::paths::{PathSpec, PathTable};

use crate::barrier::View;
use crate::framework::{Backend, Ctx};

#[derive(Clone, Copy, Debug)]
enum Route {
    Entry,
}

static PATHS: PathTable<Route> = PathTable(&[PathSpec {
    pattern: "{path*}",
    route: Route::Entry,
    operations: &[
        Operation::Read,
        Operation::Update,
        Operation::Delete,
        Operation::List,
    ],
    fields: &[],
    existence_check: true,
    help: "read, write, delete or list secrets",
}]);

pub struct KvV1;

/// Reads, writes, deletes or lists a plain JSON object in `view`; shared by KV v1 and cubbyhole.
pub async fn handle_plain(view: &View, req: &Request) -> Result<Response> {
    let path = req.path.as_str();
    match req.operation {
        Operation::Read => {
            let data: Object = view.get_json(path).await?.ok_or(Error::NotFound)?;
            let lease = data
                .get("ttl")
                .and_then(|v| coffer_core::duration::parse_json_secs(v).ok())
                .unwrap_or(0);
            Ok(Response {
                lease_duration: lease,
                ..Response::data(data)
            })
        }
        Operation::Create | Operation::Update => {
            if req.data.is_empty() {
                return Err(Error::bad_request("missing data fields"));
            }
            if path.is_empty() || path.ends_with('/') {
                return Err(Error::bad_request(
                    "invalid secret path: a path must not be empty or end in '/'",
                ));
            }
            view.put_json(path, &req.data).await?;
            Ok(Response::empty())
        }
        Operation::Delete => {
            view.delete(path).await?;
            Ok(Response::empty())
        }
        Operation::List => {
            let prefix = if path.is_empty() || path.ends_with('/') {
                path.to_owned()
            } else {
                format!("{path}/")
            };
            let keys = view.list(&prefix).await?;
            if keys.is_empty() {
                return Err(Error::NotFound);
            }
            Ok(Response::list(keys))
        }
        Operation::Patch => Err(Error::UnsupportedOperation),
    }
}

#[async_trait]
impl Backend for KvV1 {
    async fn handle(&self, ctx: &Ctx<'_>, req: &mut Request) -> Result<Response> {
        PATHS.resolve(req)?;
        handle_plain(ctx.view, req).await
    }

    async fn exists(&self, ctx: &Ctx<'_>, req: &Request) -> Result<Option<bool>> {
        Ok(Some(ctx.view.get(&req.path).await?.is_some()))
    }
}
