//! `sys/mounts`, `sys/auth`, `sys/remount` and the `sys/internal/ui/mounts`
//! preflight that `bao kv` and agents call.

use coffer_core::duration::de_opt_secs;
use coffer_core::fields::{self, boolean};
use coffer_core::logical::{Error, Object, Operation, Request, Response, Result};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Route, SysCtx};
use crate::mounts::{MountClass, MountEntry, normalize_path};
use crate::token::SYSTEM_MAX_TTL;
use crate::{auth, engines, ids};

pub const ENABLE_FIELDS: &[&str] = &[
    "type",
    "description",
    "config",
    "local",
    "seal_wrap",
    "external_entropy_access",
    "options",
    "plugin_name",
    "plugin_version",
    "default_lease_ttl",
    "max_lease_ttl",
    "force_no_cache",
    "listing_visibility",
    "audit_non_hmac_request_keys",
    "audit_non_hmac_response_keys",
    "passthrough_request_headers",
    "allowed_response_headers",
    "token_type",
    "from",
    "to",
];

#[derive(Deserialize, Default)]
#[serde(default)]
struct TuneFields {
    #[serde(deserialize_with = "de_opt_secs")]
    default_lease_ttl: Option<u64>,
    #[serde(deserialize_with = "de_opt_secs")]
    max_lease_ttl: Option<u64>,
    description: Option<String>,
    listing_visibility: Option<String>,
    options: Option<Object>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EnableFields {
    #[serde(rename = "type", deserialize_with = "fields::string")]
    kind: String,
    #[serde(deserialize_with = "fields::string")]
    description: String,
    config: Option<TuneFields>,
    #[serde(deserialize_with = "boolean")]
    local: bool,
    #[serde(deserialize_with = "boolean")]
    seal_wrap: bool,
    options: Option<Object>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RemountFields {
    #[serde(deserialize_with = "fields::string")]
    from: String,
    #[serde(deserialize_with = "fields::string")]
    to: String,
}

fn listing(entries: Vec<&MountEntry>) -> Object {
    entries
        .into_iter()
        .map(|e| (e.path.clone(), e.to_json()))
        .collect()
}

fn tune_json(e: &MountEntry) -> Object {
    let or_system = |v: u64| if v == 0 { SYSTEM_MAX_TTL } else { v };
    let mut out = json!({
        "description": e.description,
        "default_lease_ttl": or_system(e.config.default_lease_ttl),
        "max_lease_ttl": or_system(e.config.max_lease_ttl),
        "force_no_cache": e.config.force_no_cache,
    });
    if let Some(v) = &e.config.listing_visibility {
        out["listing_visibility"] = json!(v);
    }
    if let Some(o) = &e.options {
        out["options"] = json!(o);
    }
    if e.class == MountClass::Auth {
        out["token_type"] = json!("default-service");
    }
    out.as_object().cloned().unwrap_or_default()
}

fn options_of(v: Option<Object>) -> Option<Object> {
    v.map(|o| {
        o.into_iter()
            .map(|(k, v)| {
                (
                    k,
                    Value::String(
                        v.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| v.to_string()),
                    ),
                )
            })
            .collect()
    })
    .filter(|o: &Object| !o.is_empty())
}

pub(super) async fn handle(
    sys: &SysCtx<'_>,
    route: Route,
    path: &str,
    req: &Request,
) -> Result<Response> {
    let core = sys.core;
    let class = if matches!(route, Route::Auths | Route::Auth) {
        MountClass::Auth
    } else {
        MountClass::Secret
    };
    match route {
        Route::Mounts | Route::Auths => {
            Ok(Response::data(listing(sys.active.mount_table().entries(class))).legacy())
        }
        Route::Mount | Route::Auth => {
            let (mount_path, tune) = match path.strip_suffix("/tune") {
                Some(p) => (p, true),
                None => (path, false),
            };
            let mount_path = normalize_path(mount_path)?;
            let route_prefix = match class {
                MountClass::Secret => mount_path.clone(),
                MountClass::Auth => format!("auth/{mount_path}"),
            };
            match (req.operation, tune) {
                (Operation::Read, _) => {
                    let table = sys.active.mount_table();
                    let m = table.get(&route_prefix).ok_or_else(|| {
                        Error::bad_request(format!("cannot fetch sysview for path {mount_path:?}"))
                    })?;
                    let data = if tune {
                        tune_json(&m.entry)
                    } else {
                        m.entry.to_json().as_object().cloned().unwrap_or_default()
                    };
                    Ok(Response::data(data).legacy())
                }
                (Operation::Delete, false) => {
                    core.disable_mount(&route_prefix).await?;
                    Ok(Response::empty())
                }
                (Operation::Delete, true) => Err(Error::UnsupportedOperation),
                (_, true) => {
                    let f: TuneFields = fields::parse(&req.data)?;
                    core.update_mount(&route_prefix, |e| {
                        if let Some(v) = f.default_lease_ttl {
                            e.config.default_lease_ttl = v;
                        }
                        if let Some(v) = f.max_lease_ttl {
                            e.config.max_lease_ttl = v;
                        }
                        if e.config.max_lease_ttl > 0 && e.config.default_lease_ttl > e.config.max_lease_ttl {
                            return Err(Error::bad_request("backend max lease TTL cannot be less than backend default lease TTL"));
                        }
                        if let Some(v) = f.description {
                            e.description = v;
                        }
                        if let Some(v) = f.listing_visibility {
                            e.config.listing_visibility = Some(v);
                        }
                        if let Some(o) = options_of(f.options) {
                            if e.kind == "kv" && o.get("version").and_then(Value::as_str) == Some("1") && e.kv_version() == Some("2") {
                                return Err(Error::bad_request("cannot downgrade mount from KV version 2 to version 1"));
                            }
                            let mut merged = e.options.take().unwrap_or_default();
                            merged.extend(o);
                            e.options = Some(merged);
                        }
                        Ok(())
                    })
                    .await?;
                    Ok(Response::empty())
                }
                (_, false) => {
                    let f: EnableFields = fields::parse(&req.data)?;
                    let known = match class {
                        MountClass::Secret => engines::SECRET_TYPES.contains(&f.kind.as_str()),
                        MountClass::Auth => auth::AUTH_TYPES.contains(&f.kind.as_str()),
                    };
                    if !known {
                        return Err(Error::bad_request(format!(
                            "plugin not found in the catalog: {}",
                            f.kind
                        )));
                    }
                    let mut entry = MountEntry::new(class, &mount_path, &f.kind, &f.description);
                    entry.local = f.local;
                    entry.seal_wrap = f.seal_wrap;
                    entry.options = options_of(f.options);
                    if let Some(cfg) = f.config {
                        entry.config.default_lease_ttl = cfg.default_lease_ttl.unwrap_or(0);
                        entry.config.max_lease_ttl = cfg.max_lease_ttl.unwrap_or(0);
                        entry.config.listing_visibility =
                            cfg.listing_visibility.filter(|v| !v.is_empty());
                    }
                    core.enable_mount(entry).await?;
                    Ok(Response::empty())
                }
            }
        }
        Route::Remount => {
            let f: RemountFields = fields::parse(&req.data)?;
            let from = normalize_path(&f.from)?;
            let to = normalize_path(&f.to)?;
            core.remount(&from, &to).await?;
            let mut data = Object::new();
            data.insert("migration_id".into(), ids::uuid().into());
            Ok(Response::data(data)
                .legacy()
                .with_warning("Mount move has been queued. Progress will be reported in OpenBao's server log, tagged with the returned migration_id"))
        }
        Route::UiMounts => {
            let table = sys.active.mount_table();
            let visible = |e: &&MountEntry| {
                sys.ctx.token.is_some() || e.config.listing_visibility.as_deref() == Some("unauth")
            };
            let secret: Object = table
                .entries(MountClass::Secret)
                .into_iter()
                .filter(visible)
                .map(|e| (e.path.clone(), e.to_json()))
                .collect();
            let auth: Object = table
                .entries(MountClass::Auth)
                .into_iter()
                .filter(visible)
                .map(|e| (e.path.clone(), e.to_json()))
                .collect();
            Ok(Response::data(
                json!({"auth": auth, "secret": secret})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ))
        }
        Route::UiMount => {
            let target = path.trim_start_matches('/');
            let table = sys.active.mount_table();
            let allowed = |prefix: &str| match (sys.acl, sys.ctx.token) {
                (Some(acl), Some(_)) => acl.has_mount_access(prefix),
                _ => false,
            };
            match table.route(target) {
                Some(m) if allowed(&m.entry.route_prefix()) => {
                    let mut data = m.entry.to_json().as_object().cloned().unwrap_or_default();
                    data.insert("path".into(), m.entry.route_prefix().into());
                    Ok(Response::data(data))
                }
                Some(_) => Err(Error::PermissionDenied),
                None => Err(Error::Forbidden(format!(
                    "preflight capability check returned 403, please ensure client's policies grant access to path {:?}",
                    format!("{}/", target.trim_end_matches('/'))
                ))),
            }
        }
        _ => Err(Error::UnsupportedOperation),
    }
}
