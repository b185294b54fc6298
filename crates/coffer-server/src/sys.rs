//! The `sys/` backend: mounts, auth mounts, policies, capabilities, audit
//! devices, key status and rotation, sealing and metrics. Lifecycle
//! endpoints that work while sealed live in `lifecycle.rs`.

mod audit;
mod mounts;
mod policies;
mod wrapping;

use std::sync::Arc;

use coffer_core::logical::{Error, Operation, Request, Response, Result};
use coffer_core::paths::{PathSpec, PathTable};
use coffer_core::policy::Acl;

use crate::core::{Active, Core};
use crate::framework::Ctx;

#[derive(Clone, Copy, Debug)]
pub(crate) enum Route {
    Mounts,
    Mount,
    Auths,
    Auth,
    Remount,
    UiMounts,
    UiMount,
    ResultantAcl,
    PoliciesAcl,
    PolicyAcl,
    LegacyPolicies,
    LegacyPolicy,
    Capabilities,
    CapabilitiesSelf,
    CapabilitiesAccessor,
    Audits,
    Audit,
    AuditHash,
    KeyStatus,
    Rotate,
    Seal,
    Metrics,
    WrappingWrap,
    WrappingUnwrap,
    WrappingLookup,
    WrappingRewrap,
}

use Operation::{Delete, List, Read, Update};

static PATHS: PathTable<Route> = PathTable(&[
    PathSpec {
        pattern: "mounts",
        route: Route::Mounts,
        operations: &[Read],
        fields: &[],
        existence_check: false,
        help: "list secrets engines",
    },
    PathSpec {
        pattern: "mounts/{path*}",
        route: Route::Mount,
        operations: &[Read, Update, Delete],
        fields: mounts::ENABLE_FIELDS,
        existence_check: false,
        help: "enable, read, tune or disable a secrets engine",
    },
    PathSpec {
        pattern: "auth",
        route: Route::Auths,
        operations: &[Read],
        fields: &[],
        existence_check: false,
        help: "list auth methods",
    },
    PathSpec {
        pattern: "auth/{path*}",
        route: Route::Auth,
        operations: &[Read, Update, Delete],
        fields: mounts::ENABLE_FIELDS,
        existence_check: false,
        help: "enable, read, tune or disable an auth method",
    },
    PathSpec {
        pattern: "remount",
        route: Route::Remount,
        operations: &[Update],
        fields: &["from", "to"],
        existence_check: false,
        help: "move a mount",
    },
    PathSpec {
        pattern: "internal/ui/mounts",
        route: Route::UiMounts,
        operations: &[Read],
        fields: &[],
        existence_check: false,
        help: "mounts visible to the caller",
    },
    PathSpec {
        pattern: "internal/ui/mounts/{path*}",
        route: Route::UiMount,
        operations: &[Read],
        fields: &[],
        existence_check: false,
        help: "the mount serving a path",
    },
    PathSpec {
        pattern: "internal/ui/resultant-acl",
        route: Route::ResultantAcl,
        operations: &[Read],
        fields: &[],
        existence_check: false,
        help: "the caller's merged ACL",
    },
    PathSpec {
        pattern: "policies/acl",
        route: Route::PoliciesAcl,
        operations: &[List, Read],
        fields: &[],
        existence_check: false,
        help: "list ACL policies",
    },
    PathSpec {
        pattern: "policies/acl/{name}",
        route: Route::PolicyAcl,
        operations: &[Read, Update, Delete],
        fields: &["policy", "cas", "name"],
        existence_check: false,
        help: "manage an ACL policy",
    },
    PathSpec {
        pattern: "policy",
        route: Route::LegacyPolicies,
        operations: &[Read, List],
        fields: &[],
        existence_check: false,
        help: "list policies (legacy)",
    },
    PathSpec {
        pattern: "policy/{name}",
        route: Route::LegacyPolicy,
        operations: &[Read, Update, Delete],
        fields: &["policy", "rules", "name"],
        existence_check: false,
        help: "manage a policy (legacy)",
    },
    PathSpec {
        pattern: "capabilities",
        route: Route::Capabilities,
        operations: &[Update],
        fields: &["token", "path", "paths"],
        existence_check: false,
        help: "a token's capabilities on paths",
    },
    PathSpec {
        pattern: "capabilities-self",
        route: Route::CapabilitiesSelf,
        operations: &[Update],
        fields: &["token", "path", "paths"],
        existence_check: false,
        help: "the caller's capabilities on paths",
    },
    PathSpec {
        pattern: "capabilities-accessor",
        route: Route::CapabilitiesAccessor,
        operations: &[Update],
        fields: &["accessor", "path", "paths"],
        existence_check: false,
        help: "capabilities of a token by accessor",
    },
    PathSpec {
        pattern: "audit",
        route: Route::Audits,
        operations: &[Read],
        fields: &[],
        existence_check: false,
        help: "list audit devices",
    },
    PathSpec {
        pattern: "audit/{path*}",
        route: Route::Audit,
        operations: &[Update, Delete],
        fields: &["type", "description", "options", "local"],
        existence_check: false,
        help: "enable or disable an audit device",
    },
    PathSpec {
        pattern: "audit-hash/{path*}",
        route: Route::AuditHash,
        operations: &[Update],
        fields: &["input"],
        existence_check: false,
        help: "hash a value as an audit device would",
    },
    PathSpec {
        pattern: "key-status",
        route: Route::KeyStatus,
        operations: &[Read],
        fields: &[],
        existence_check: false,
        help: "the barrier keyring's active term",
    },
    PathSpec {
        pattern: "rotate",
        route: Route::Rotate,
        operations: &[Update],
        fields: &[],
        existence_check: false,
        help: "add a keyring term",
    },
    PathSpec {
        pattern: "seal",
        route: Route::Seal,
        operations: &[Update],
        fields: &[],
        existence_check: false,
        help: "seal the server",
    },
    PathSpec {
        pattern: "metrics",
        route: Route::Metrics,
        operations: &[Read],
        fields: &["format"],
        existence_check: false,
        help: "Prometheus metrics",
    },
    PathSpec {
        pattern: "wrapping/wrap",
        route: Route::WrappingWrap,
        operations: &[Update],
        fields: &[],
        existence_check: false,
        help: "wrap arbitrary data in a single-use token",
    },
    PathSpec {
        pattern: "wrapping/unwrap",
        route: Route::WrappingUnwrap,
        operations: &[Update],
        fields: &["token"],
        existence_check: false,
        help: "return a wrapped response, once",
    },
    PathSpec {
        pattern: "wrapping/lookup",
        route: Route::WrappingLookup,
        operations: &[Read, Update],
        fields: &["token"],
        existence_check: false,
        help: "creation facts of a wrapping token",
    },
    PathSpec {
        pattern: "wrapping/rewrap",
        route: Route::WrappingRewrap,
        operations: &[Update],
        fields: &["token"],
        existence_check: false,
        help: "move a wrapped response to a new token",
    },
]);

/// What a sys handler may use.
pub(crate) struct SysCtx<'a> {
    pub core: &'a Arc<Core>,
    pub active: &'a Arc<Active>,
    pub ctx: &'a Ctx<'a>,
    pub acl: Option<&'a Acl>,
    /// The requested response-wrapping TTL, if any.
    pub wrap_ttl: Option<u64>,
}

pub async fn handle(
    core: &Arc<Core>,
    active: &Arc<Active>,
    ctx: &Ctx<'_>,
    acl: Option<&Acl>,
    wrap_ttl: Option<u64>,
    req: &mut Request,
) -> Result<Response> {
    let matched = PATHS.resolve(req)?;
    let sys = SysCtx {
        core,
        active,
        ctx,
        acl,
        wrap_ttl,
    };
    let route = matched.spec.route;
    let warnings = matched.warnings(req);
    let name = matched.get("name").to_owned();
    let path = matched.get("path").to_owned();
    let resp = match route {
        Route::Mounts
        | Route::Mount
        | Route::Auths
        | Route::Auth
        | Route::Remount
        | Route::UiMounts
        | Route::UiMount => mounts::handle(&sys, route, &path, req).await?,
        Route::ResultantAcl
        | Route::PoliciesAcl
        | Route::PolicyAcl
        | Route::LegacyPolicies
        | Route::LegacyPolicy
        | Route::Capabilities
        | Route::CapabilitiesSelf
        | Route::CapabilitiesAccessor => policies::handle(&sys, route, &name, req).await?,
        Route::Audits
        | Route::Audit
        | Route::AuditHash
        | Route::KeyStatus
        | Route::Rotate
        | Route::Metrics => audit::handle(&sys, route, &path, req).await?,
        Route::WrappingWrap
        | Route::WrappingUnwrap
        | Route::WrappingLookup
        | Route::WrappingRewrap => wrapping::handle(&sys, route, req, sys.wrap_ttl).await?,
        Route::Seal => {
            if !ctx.sudo && !ctx.token.is_some_and(|t| t.is_root()) {
                return Err(Error::AclDenied);
            }
            core.seal().await;
            Response::empty()
        }
    };
    Ok(resp.with_warnings(warnings))
}
