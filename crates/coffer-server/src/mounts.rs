//! The mount table: which engine or auth method serves which path prefix,
//! persisted in `core/mounts` and `core/auth`, routed by longest prefix.

use std::sync::Arc;

use coffer_core::logical::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::barrier::View;
use crate::framework::Backend;
use crate::ids;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountClass {
    Secret,
    Auth,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MountConfig {
    #[serde(default)]
    pub default_lease_ttl: u64,
    #[serde(default)]
    pub max_lease_ttl: u64,
    #[serde(default)]
    pub force_no_cache: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listing_visibility: Option<String>,
}

/// One persisted mount.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MountEntry {
    /// Path with trailing `/`, without `auth/` for auth mounts (e.g. `userpass/`).
    pub path: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
    pub accessor: String,
    pub uuid: String,
    pub config: MountConfig,
    pub options: Option<serde_json::Map<String, Value>>,
    pub local: bool,
    pub seal_wrap: bool,
    pub class: MountClass,
}

impl MountEntry {
    pub fn new(class: MountClass, path: &str, kind: &str, description: &str) -> Self {
        let prefix = match class {
            MountClass::Secret => kind.to_owned(),
            MountClass::Auth => format!("auth_{kind}"),
        };
        MountEntry {
            path: path.to_owned(),
            kind: kind.to_owned(),
            description: description.to_owned(),
            accessor: format!("{prefix}_{}", ids::hex8()),
            uuid: ids::uuid(),
            config: MountConfig::default(),
            options: None,
            local: false,
            seal_wrap: false,
            class,
        }
    }

    /// The full routing prefix (`auth/userpass/` for auth mounts).
    pub fn route_prefix(&self) -> String {
        match self.class {
            MountClass::Secret => self.path.clone(),
            MountClass::Auth => format!("auth/{}", self.path),
        }
    }

    /// The storage prefix of this mount's view.
    pub fn storage_prefix(&self) -> String {
        match (self.class, self.kind.as_str()) {
            (_, "cubbyhole") => "sys/cubbyhole/".to_owned(),
            (MountClass::Secret, _) => format!("logical/{}/", self.uuid),
            (MountClass::Auth, _) => format!("auth/{}/", self.uuid),
        }
    }

    pub fn kv_version(&self) -> Option<&str> {
        self.options.as_ref()?.get("version")?.as_str()
    }

    /// The `sys/mounts` / `sys/auth` JSON of this mount.
    pub fn to_json(&self) -> Value {
        let mut config = json!({
            "default_lease_ttl": self.config.default_lease_ttl,
            "force_no_cache": self.config.force_no_cache,
            "max_lease_ttl": self.config.max_lease_ttl,
        });
        if self.class == MountClass::Auth {
            config["token_type"] = json!("default-service");
        }
        if let Some(v) = &self.config.listing_visibility {
            config["listing_visibility"] = json!(v);
        }
        let mut out = json!({
            "accessor": self.accessor,
            "config": config,
            "deprecation_status": "supported",
            "description": self.description,
            "external_entropy_access": false,
            "local": self.local,
            "options": self.options,
            "plugin_version": "",
            "running_plugin_version": format!("v{}+builtin.coffer", crate::VERSION),
            "running_sha256": "",
            "seal_wrap": self.seal_wrap,
            "type": self.kind,
            "uuid": self.uuid,
        });
        match self.kind.as_str() {
            "system" => out["passthrough_request_headers"] = json!(["Accept"]),
            "identity" => out["passthrough_request_headers"] = json!(["Authorization"]),
            "token" => {
                if let Some(o) = out.as_object_mut() {
                    o.remove("deprecation_status");
                }
            }
            _ => {}
        }
        out
    }
}

/// A mount with its running backend.
#[derive(Clone)]
pub struct Mounted {
    pub entry: MountEntry,
    pub backend: Arc<dyn Backend>,
    pub view: View,
    /// `entry.route_prefix()`, computed once for routing.
    pub prefix: String,
}

impl Mounted {
    pub fn new(entry: MountEntry, backend: Arc<dyn Backend>, view: View) -> Self {
        let prefix = entry.route_prefix();
        Mounted {
            entry,
            backend,
            view,
            prefix,
        }
    }
}

/// All mounts, ordered for longest-prefix routing.
#[derive(Clone, Default)]
pub struct MountTable {
    mounts: Vec<Mounted>,
}

impl MountTable {
    pub fn insert(&mut self, mut m: Mounted) {
        m.prefix = m.entry.route_prefix();
        self.mounts.push(m);
        self.mounts
            .sort_by_key(|m| std::cmp::Reverse(m.prefix.len()));
    }

    pub fn remove(&mut self, route_prefix: &str) -> Option<Mounted> {
        let idx = self.mounts.iter().position(|m| m.prefix == route_prefix)?;
        Some(self.mounts.remove(idx))
    }

    /// The mount serving `path` (longest matching prefix).
    pub fn route(&self, path: &str) -> Option<&Mounted> {
        self.mounts
            .iter()
            .find(|m| path.starts_with(&m.prefix) || path == m.prefix.trim_end_matches('/'))
    }

    pub fn get(&self, route_prefix: &str) -> Option<&Mounted> {
        self.mounts.iter().find(|m| m.prefix == route_prefix)
    }

    pub fn entries(&self, class: MountClass) -> Vec<&MountEntry> {
        let mut out: Vec<&MountEntry> = self
            .mounts
            .iter()
            .map(|m| &m.entry)
            .filter(|e| e.class == class)
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }

    /// Whether a new mount at `route_prefix` would overlap an existing one.
    pub fn conflicts(&self, route_prefix: &str) -> bool {
        self.mounts
            .iter()
            .any(|m| m.prefix.starts_with(route_prefix) || route_prefix.starts_with(&m.prefix))
    }
}

/// Normalises a user-given mount path: no leading `/`, one trailing `/`.
pub fn normalize_path(path: &str) -> Result<String> {
    let p = path.trim_matches('/');
    if p.is_empty() {
        return Err(Error::bad_request("missing mount path"));
    }
    if p.split('/')
        .any(|seg| seg == ".." || seg == "." || seg.is_empty())
    {
        return Err(Error::bad_request(format!("invalid mount path {path:?}")));
    }
    Ok(format!("{p}/"))
}
