//! `sys/wrapping/wrap|unwrap|lookup|rewrap`.

use coffer_core::fields;
use coffer_core::logical::{Error, Request, Response, Result};
use serde::Deserialize;

use super::{Route, SysCtx};
use crate::wrapping;

#[derive(Deserialize, Default)]
#[serde(default)]
struct TokenField {
    #[serde(deserialize_with = "fields::string")]
    token: String,
}

pub(super) async fn handle(
    sys: &SysCtx<'_>,
    route: Route,
    req: &Request,
    wrap_ttl: Option<u64>,
) -> Result<Response> {
    let active = sys.active;
    match route {
        Route::WrappingWrap => {
            if wrap_ttl.is_none() {
                return Err(Error::bad_request(
                    "endpoint requires response wrapping to be used",
                ));
            }
            // The pipeline wraps this response on the way out.
            Ok(Response::data(req.data.clone()))
        }
        _ => {
            let f: TokenField = fields::parse(&req.data)?;
            let token = if f.token.is_empty() {
                sys.ctx.client_token.to_owned()
            } else {
                f.token
            };
            if token.is_empty() {
                return Err(Error::PermissionDenied);
            }
            match route {
                Route::WrappingUnwrap => wrapping::unwrap(active, &token).await,
                Route::WrappingLookup => wrapping::lookup(active, &token).await,
                _ => wrapping::rewrap(active, &token).await,
            }
        }
    }
}
