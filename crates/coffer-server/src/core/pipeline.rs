//! The one path every API request takes: lifecycle endpoints first, then
//! sealed check -> token -> route by longest mount prefix -> existence check
//! (create vs update) -> ACL (and sudo) -> audit request (fail closed) ->
//! backend -> token issue for logins -> audit response.

use std::net::SocketAddr;
use std::sync::Arc;

use coffer_core::logical::{Error, Object, Operation, Request, Response, Result};
use coffer_core::policy::AuthzRequest;
use serde_json::{Value, json};

use super::{Active, Core};
use crate::framework::Ctx;
use crate::mounts::{MountClass, Mounted};
use crate::token::{NewToken, TokenEntry, render_auth};
use crate::{ids, lifecycle, net, sys, wrapping};

/// A request as the HTTP edge hands it over. `operation` is `Create` for any
/// write until the existence check decides between create and update.
pub struct RawRequest {
    pub id: String,
    pub operation: Operation,
    /// Path below `/v1/`, without a leading slash.
    pub path: String,
    pub data: Object,
    pub null_body: bool,
    pub token: Option<String>,
    pub remote_addr: Option<SocketAddr>,
    /// `X-Vault-Wrap-TTL` in seconds: wrap the response in a single-use token.
    pub wrap_ttl: Option<u64>,
    /// The token's entry when the edge already looked it up.
    pub token_entry: Option<Arc<TokenEntry>>,
}

impl std::fmt::Debug for RawRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawRequest")
            .field("id", &self.id)
            .field("operation", &self.operation)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// What the HTTP edge learns before it reads a request body.
pub enum EarlyAuth {
    /// Read the body; the caller's token entry when it has a live one.
    ReadBody(Option<Arc<TokenEntry>>),
    /// No live token on a path that needs one: the body is not read.
    SkipBody,
}

/// Root-protected paths: the caller needs `sudo` on them besides the capability.
fn needs_sudo(path: &str) -> bool {
    const EXACT: &[&str] = &[
        "sys/remount",
        "sys/audit",
        "sys/raw",
        "sys/rotate",
        "sys/rotate/keyring",
        "sys/rotate/root",
        "sys/config/cors",
        "sys/leases",
        "sys/seal",
        "sys/step-down",
        "auth/token/accessors",
        "auth/token/accessors/",
    ];
    const PREFIX: &[&str] = &[
        "sys/auth/",
        "sys/audit/",
        "sys/raw/",
        "sys/config/auditing/",
        "sys/config/ui/headers/",
        "sys/plugins/catalog/",
        "sys/revoke-prefix/",
        "sys/revoke-force/",
        "sys/leases/revoke-prefix/",
        "sys/leases/revoke-force/",
        "sys/leases/lookup/",
        "sys/internal/inspect/",
        "auth/token/revoke-orphan",
    ];
    EXACT.contains(&path) || PREFIX.iter().any(|p| path.starts_with(p))
}

/// Paths answered without a token (besides the lifecycle ones and auth logins).
fn sys_unauthenticated(path: &str) -> bool {
    path == "sys/internal/ui/mounts"
        || path.starts_with("sys/internal/ui/mounts/")
        || path == "sys/wrapping/lookup"
}

/// What a wrapping token may call: nothing but unwrapping itself.
fn wrapping_token_path(path: &str) -> bool {
    matches!(
        path,
        "sys/wrapping/unwrap" | "sys/wrapping/lookup" | "sys/wrapping/rewrap"
    )
}

fn is_unauthenticated(path: &str, mounted: Option<&Mounted>) -> bool {
    if path == "sys" || path.starts_with("sys/") {
        return sys_unauthenticated(path);
    }
    mounted.is_some_and(|m| m.backend.is_unauthenticated(relative(path, m)))
}

fn check_path(path: &str) -> Result<()> {
    if path.split('/').any(|seg| seg == ".." || seg == ".")
        || path.contains('\0')
        || path.contains("//")
    {
        return Err(Error::bad_request(format!("invalid request path {path:?}")));
    }
    Ok(())
}

impl Core {
    pub async fn handle_request(self: &Arc<Self>, mut raw: RawRequest) -> Result<Response> {
        let path = raw.path.trim_start_matches('/').to_owned();
        check_path(&path)?;
        if lifecycle::is_lifecycle_path(&path) {
            return lifecycle::handle(self, &path, raw.operation, &raw.data).await;
        }
        if path == "sys/seal" && self.is_sealed() && raw.operation.is_write() {
            return Ok(Response::empty());
        }
        let active = self.active()?;
        let token = match (
            raw.token_entry.take(),
            raw.token.as_deref().filter(|t| !t.is_empty()),
        ) {
            (Some(entry), _) => Some(entry),
            (None, Some(t)) => active.tokens.lookup(t).await?,
            (None, None) => None,
        };
        let table = active.mount_table();
        let mounted = table.route(&path);
        let is_sys = path == "sys" || path.starts_with("sys/");
        let unauthenticated = is_unauthenticated(&path, mounted);
        if token.is_none() && !unauthenticated {
            self.audit_denied(&active, &raw, &path, mounted)?;
            return Err(Error::PermissionDenied);
        }
        if let Some(t) = &token
            && !net::allowed(&t.bound_cidrs, raw.remote_addr.map(|a| a.ip()))
        {
            return Err(Error::PermissionDenied);
        }
        if !is_sys && mounted.is_none() {
            return Err(Error::NoRoute(path));
        }
        let acl = match &token {
            Some(t) => Some(active.policies.acl(&t.policies).await?),
            None => None,
        };
        let mut req = Request {
            operation: raw.operation,
            path: String::new(),
            data: std::mem::take(&mut raw.data),
            mount_point: String::new(),
            null_body: raw.null_body,
        };
        let (default_ttl, max_ttl) = mounted.map_or((0, 0), |m| {
            (
                m.entry.config.default_lease_ttl,
                m.entry.config.max_lease_ttl,
            )
        });
        let empty_view = crate::barrier::View::new(self.barrier.clone(), "sys/unused/");
        let view = match (is_sys, mounted) {
            (false, Some(m)) => {
                req.path = relative(&path, m).to_owned();
                req.mount_point = m.entry.route_prefix();
                &m.view
            }
            _ => {
                req.path = path.strip_prefix("sys/").unwrap_or("").to_owned();
                req.mount_point = "sys/".into();
                &empty_view
            }
        };
        let mut ctx = Ctx {
            view,
            token: token.as_deref(),
            client_token: raw.token.as_deref().unwrap_or(""),
            sudo: false,
            remote_addr: raw.remote_addr.map(|a| a.ip()),
            default_lease_ttl: default_ttl,
            max_lease_ttl: max_ttl,
        };
        if req.operation == Operation::Create
            && !is_sys
            && let Some(m) = mounted
        {
            req.operation = match m.backend.exists(&ctx, &req).await? {
                Some(false) => Operation::Create,
                _ => Operation::Update,
            };
        }
        let wrapping_token = token.as_deref().is_some_and(wrapping::is_wrapping_token);
        if wrapping_token {
            if !wrapping_token_path(&path) {
                self.audit_denied(&active, &raw, &path, mounted)?;
                return Err(Error::AclDenied);
            }
        } else if let (Some(acl), false) = (&acl, unauthenticated) {
            let decision = acl.check(&AuthzRequest {
                op: req.operation,
                path: &path,
                params: Some(&req.data),
                wrap_ttl: raw.wrap_ttl,
            });
            if !decision.allowed || (needs_sudo(&path) && !decision.sudo) {
                self.audit_denied(&active, &raw, &path, mounted)?;
                return Err(Error::AclDenied);
            }
            ctx.sudo = decision.sudo;
        }
        if let Some(t) = &token
            && !active.tokens.use_token(t).await?
        {
            return Err(Error::PermissionDenied);
        }
        // Audit entries are built only when a device will write them.
        let request_entry = if active.audit.is_enabled() {
            let entry = self.audit_request_entry(&raw, &req, &path, token.as_deref(), mounted);
            active.audit.log(&entry)?;
            Some(entry)
        } else {
            None
        };
        let result = if is_sys {
            sys::handle(self, &active, &ctx, acl.as_deref(), raw.wrap_ttl, &mut req).await
        } else {
            match mounted {
                Some(m) => m.backend.handle(&ctx, &mut req).await,
                None => Err(Error::NoRoute(path.clone())),
            }
        };
        let result = match result {
            Ok(resp) => {
                self.issue_token(&active, resp, &path, token.as_deref(), mounted)
                    .await
            }
            Err(e) => Err(e),
        };
        let result = match (result, raw.wrap_ttl) {
            (Ok(resp), Some(ttl)) if resp.data.is_some() || resp.auth_rendered.is_some() => {
                wrapping::wrap(&active, resp, &path, ttl).await
            }
            (other, _) => other,
        };
        if let Some(entry) = request_entry {
            active.audit.log(&response_entry(entry, &result))?;
        }
        result
    }

    /// Authentication before the body is read: the HTTP edge refuses to parse
    /// anything an unknown caller sent, and hands the looked-up token entry on
    /// so the pipeline does not look it up again.
    pub async fn authenticate_early(&self, path: &str, token: Option<&str>) -> EarlyAuth {
        let path = path.trim_start_matches('/');
        if lifecycle::is_lifecycle_path(path) {
            return EarlyAuth::ReadBody(None);
        }
        let Ok(active) = self.active() else {
            return EarlyAuth::ReadBody(None);
        };
        let entry = match token.filter(|t| !t.is_empty()) {
            Some(t) => active.tokens.lookup(t).await.ok().flatten(),
            None => None,
        };
        let table = active.mount_table();
        if entry.is_some() || is_unauthenticated(path, table.route(path)) {
            EarlyAuth::ReadBody(entry)
        } else {
            EarlyAuth::SkipBody
        }
    }

    /// Turns a backend's `auth` into a real token.
    async fn issue_token(
        &self,
        active: &Active,
        mut resp: Response,
        path: &str,
        caller: Option<&TokenEntry>,
        mounted: Option<&Mounted>,
    ) -> Result<Response> {
        let Some(auth) = resp.auth.take() else {
            return Ok(resp);
        };
        let (mount_default, mount_max) = mounted.map_or((0, 0), |m| {
            (
                m.entry.config.default_lease_ttl,
                m.entry.config.max_lease_ttl,
            )
        });
        let auth_child_of_caller = auth.child_of_caller;
        let parent = if auth.child_of_caller {
            caller.map(|c| c.hash.clone())
        } else {
            None
        };
        let ttl = if auth.ttl > 0 {
            auth.ttl
        } else {
            mount_default
        };
        let max_ttl = if auth.max_ttl > 0 {
            auth.max_ttl
        } else {
            mount_max
        };
        let new = NewToken {
            id: auth.id,
            parent,
            policies: auth.policies,
            meta: auth.metadata,
            display_name: auth.display_name,
            path: path.to_owned(),
            num_uses: auth.num_uses,
            ttl,
            explicit_max_ttl: auth.explicit_max_ttl,
            max_ttl,
            period: auth.period,
            renewable: auth.renewable,
            bound_cidrs: auth.bound_cidrs,
            internal: auth.internal,
        };
        if path.starts_with("auth/token/create") {
            for p in new
                .policies
                .iter()
                .filter(|p| *p != "default" && *p != "root")
            {
                if active.policies.get(p).await?.is_none() {
                    resp.warnings.push(format!("Policy {p:?} does not exist"));
                }
            }
        }
        let login_mount = mounted.filter(|m| !auth_child_of_caller && m.entry.kind != "token");
        let (id, mut entry, warnings) = active.tokens.create(new).await?;
        if let Some(m) = login_mount {
            // The entity follows the login's alias (e.g. a service account UID), else its display name.
            let alias = entry
                .internal
                .get("alias")
                .and_then(serde_json::Value::as_str)
                .unwrap_or(&entry.display_name)
                .to_owned();
            entry = active
                .tokens
                .set_entity(&entry, entity_id(&m.entry.accessor, &alias))
                .await?;
        }
        resp.warnings.extend(warnings);
        resp.auth_rendered = Some(render_auth(&id, &entry));
        Ok(resp)
    }

    fn audit_denied(
        &self,
        active: &Active,
        raw: &RawRequest,
        path: &str,
        mounted: Option<&Mounted>,
    ) -> Result<()> {
        if !active.audit.is_enabled() {
            return Ok(());
        }
        let req = Request {
            operation: raw.operation,
            path: path.to_owned(),
            data: raw.data.clone(),
            mount_point: String::new(),
            null_body: raw.null_body,
        };
        let mut entry = self.audit_request_entry(raw, &req, path, None, mounted);
        entry["error"] = json!("permission denied");
        active.audit.log(&entry)?;
        let resp = response_entry(entry, &Err(Error::PermissionDenied));
        active.audit.log(&resp)
    }

    fn audit_request_entry(
        &self,
        raw: &RawRequest,
        req: &Request,
        path: &str,
        token: Option<&TokenEntry>,
        mounted: Option<&Mounted>,
    ) -> Value {
        let auth = match token {
            Some(t) => json!({
                "client_token": raw.token.clone().unwrap_or_default(),
                "accessor": t.accessor,
                "display_name": t.display_name,
                "policies": t.policies,
                "token_policies": t.policies,
                "metadata": t.meta,
                "entity_id": t.entity_id,
                "token_type": "service",
                "token_ttl": t.creation_ttl,
                "token_issue_time": ids::rfc3339_unix(t.creation_time),
            }),
            None => json!({"token_type": "default"}),
        };
        let (mount_point, mount_type, mount_accessor, mount_class) = match mounted {
            Some(m) if !path.starts_with("sys/") => (
                m.entry.route_prefix(),
                m.entry.kind.clone(),
                m.entry.accessor.clone(),
                if m.entry.class == MountClass::Auth {
                    "auth"
                } else {
                    "secret"
                },
            ),
            _ => (
                "sys/".to_owned(),
                "system".to_owned(),
                String::new(),
                "secret",
            ),
        };
        let mut request = json!({
            "id": raw.id,
            "operation": req.operation.as_str(),
            "mount_point": mount_point,
            "mount_type": mount_type,
            "mount_accessor": mount_accessor,
            "mount_class": mount_class,
            "namespace": {"id": "root"},
            "path": path,
            "remote_address": raw.remote_addr.map(|a| a.ip().to_string()).unwrap_or_default(),
            "remote_port": raw.remote_addr.map(|a| a.port()).unwrap_or(0),
        });
        if let Some(t) = raw.token.as_ref().filter(|t| !t.is_empty()) {
            request["client_token"] = json!(t);
            if let Some(entry) = token {
                request["client_token_accessor"] = json!(entry.accessor);
            }
        }
        if !req.data.is_empty() {
            request["data"] = Value::Object(req.data.clone());
        }
        json!({"time": ids::rfc3339_now(), "type": "request", "auth": auth, "request": request})
    }
}

fn response_entry(mut entry: Value, result: &Result<Response>) -> Value {
    entry["type"] = json!("response");
    entry["time"] = json!(ids::rfc3339_now());
    let mut response = json!({
        "mount_point": entry.pointer("/request/mount_point").cloned().unwrap_or(Value::Null),
        "mount_type": entry.pointer("/request/mount_type").cloned().unwrap_or(Value::Null),
        "mount_class": entry.pointer("/request/mount_class").cloned().unwrap_or(Value::Null),
    });
    match result {
        Ok(resp) => {
            if let Some(data) = &resp.data {
                response["data"] = Value::Object(data.clone());
            } else if let Some(raw) = &resp.raw {
                response["data"] = raw.clone();
            }
            if let Some(auth) = &resp.auth_rendered {
                response["auth"] = Value::Object(auth.clone());
            }
            if !resp.warnings.is_empty() {
                response["warnings"] = json!(resp.warnings);
            }
        }
        Err(e) => {
            response["data"] = json!({"error": e.to_string()});
            entry["error"] = json!(e.to_string());
        }
    }
    entry["response"] = response;
    entry
}

/// A stable entity id per login identity (mount accessor and alias), in UUID form.
fn entity_id(mount_accessor: &str, alias: &str) -> String {
    let h = coffer_crypto::digest::sha256(format!("{mount_accessor}\0{alias}").as_bytes());
    let x = hex::encode(&h[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

fn relative<'a>(path: &'a str, m: &Mounted) -> &'a str {
    path.strip_prefix(m.prefix.as_str()).unwrap_or("")
}
