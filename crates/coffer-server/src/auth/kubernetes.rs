//! `auth/kubernetes`: pods log in with their service account JWT.
//!
//! As OpenBao 2.7: the JWT's claims are decoded (and its signature checked
//! against `pem_keys` when configured), issuer/audience/time claims and the
//! role's bound names and namespaces are checked locally, then the API
//! server confirms the token through TokenReview. Split into
//! [`model`] (config and roles), [`jwt`] (claims and local checks),
//! [`review`] (the TokenReview client) and [`login`] (the flow).

pub mod jwt;
pub mod login;
pub mod model;
pub mod review;
pub mod selector;

use async_trait::async_trait;
use coffer_core::fields;
use coffer_core::logical::{Error, Operation, Request, Response, Result};
use coffer_core::paths::{PathSpec, PathTable, concat_fields};
use tokio::sync::Mutex;

use self::model::{CONFIG_FIELDS, Config, ConfigFields, ROLE_FIELDS, Role, RoleFields};
use super::token_params::{self, TokenFields};
use crate::framework::{Backend, Ctx, stored_item_exists};

#[derive(Clone, Copy, Debug)]
enum Route {
    Config,
    Roles,
    Role,
    Login,
}

use Operation::{Delete, List, Read, Update};

const ROLE_ALL_FIELDS: [&str; 6 + token_params::FIELDS.len()] =
    concat_fields(ROLE_FIELDS, token_params::FIELDS);

static PATHS: PathTable<Route> = PathTable(&[
    PathSpec {
        pattern: "config",
        route: Route::Config,
        operations: &[Read, Update],
        fields: CONFIG_FIELDS,
        existence_check: false,
        help: "configure the Kubernetes API server and token checks",
    },
    PathSpec {
        pattern: "role",
        route: Route::Roles,
        operations: &[List],
        fields: &[],
        existence_check: false,
        help: "list roles",
    },
    PathSpec {
        pattern: "role/{name}",
        route: Route::Role,
        operations: &[Read, Update, Delete],
        fields: &ROLE_ALL_FIELDS,
        existence_check: true,
        help: "manage a role binding service accounts to token settings",
    },
    PathSpec {
        pattern: "login",
        route: Route::Login,
        operations: &[Update],
        fields: &["role", "jwt"],
        existence_check: false,
        help: "log in with a service account JWT",
    },
]);

/// Storage key of the configuration.
pub(crate) const CONFIG_KEY: &str = "config";
/// System-wide maximum lease TTL used when the mount sets none (768h).
const SYSTEM_MAX_TTL: u64 = 2_764_800;

pub(crate) fn role_key(name: &str) -> String {
    format!("role/{}", name.to_lowercase())
}

#[derive(Default)]
pub struct Kubernetes {
    /// Serialises config and role writes (read-modify-write).
    lock: Mutex<()>,
    reviewer: review::Reviewer,
}

#[async_trait]
impl Backend for Kubernetes {
    async fn handle(&self, ctx: &Ctx<'_>, req: &mut Request) -> Result<Response> {
        let matched = PATHS.resolve(req)?;
        let view = ctx.view;
        let warnings = matched.warnings(req);
        let resp = match (matched.spec.route, req.operation) {
            (Route::Config, Read) => {
                let cfg: Config = view.get_json(CONFIG_KEY).await?.ok_or(Error::NotFound)?;
                Response::data(cfg.to_json())
            }
            (Route::Config, _) => {
                let f: ConfigFields = fields::parse(&req.data)?;
                let cfg = f.into_config().map_err(Error::BadRequest)?;
                login::local_ca(&cfg).await.map_err(Error::BadRequest)?;
                let _guard = self.lock.lock().await;
                view.put_json(CONFIG_KEY, &cfg).await?;
                Response::empty()
            }
            (Route::Roles, _) => {
                let keys = view.list("role/").await?;
                if keys.is_empty() {
                    return Err(Error::NotFound);
                }
                Response::list(keys)
            }
            (Route::Role, Read) => {
                let name = matched.get("name");
                let role: Role = view
                    .get_json(&role_key(name))
                    .await?
                    .ok_or(Error::NotFound)?;
                Response::data(role.to_json())
            }
            (Route::Role, Delete) => {
                let _guard = self.lock.lock().await;
                view.delete(&role_key(matched.get("name"))).await?;
                Response::empty()
            }
            (Route::Role, _) => {
                let rf: RoleFields = fields::parse(&req.data)?;
                let tf: TokenFields = fields::parse(&req.data)?;
                let key = role_key(matched.get("name"));
                let _guard = self.lock.lock().await;
                let mut role: Role = view.get_json(&key).await?.unwrap_or_default();
                let max = if ctx.max_lease_ttl > 0 {
                    ctx.max_lease_ttl
                } else {
                    SYSTEM_MAX_TTL
                };
                let extra = role
                    .update(rf, &tf, &req.data, max)
                    .map_err(Error::BadRequest)?;
                view.put_json(&key, &role).await?;
                Response::empty().with_warnings(extra)
            }
            (Route::Login, _) => {
                let f: login::LoginFields = fields::parse(&req.data)?;
                login::login(ctx, &self.reviewer, &req.mount_point, f).await?
            }
        };
        Ok(resp.with_warnings(warnings))
    }

    async fn exists(&self, ctx: &Ctx<'_>, req: &Request) -> Result<Option<bool>> {
        stored_item_exists(&PATHS, ctx, req, |m| role_key(m.get("name"))).await
    }

    fn is_unauthenticated(&self, path: &str) -> bool {
        path == "login" || path == "login/"
    }
}
