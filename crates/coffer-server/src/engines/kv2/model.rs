//! KV v2 storage model: per-key metadata with its version map, version
//! payloads, and the mount-wide configuration.
//!
//! Layout inside the mount's view:
//! - `config`: [`Config`]
//! - `metadata/<path>`: [`KeyMetadata`]
//! - `versions/<path>/<n>`: [`VersionData`]

use std::collections::BTreeMap;

use coffer_core::duration::format_go;
use coffer_core::logical::Object;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::ids;

/// Versions kept when neither the key nor the mount sets `max_versions`.
pub const DEFAULT_MAX_VERSIONS: u64 = 10;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Config {
    pub max_versions: u64,
    pub cas_required: bool,
    pub delete_version_after: u64,
}

impl Config {
    pub fn to_json(&self) -> Object {
        obj(json!({
            "cas_required": self.cas_required,
            "delete_version_after": format_go(self.delete_version_after),
            "max_versions": self.max_versions,
            "metadata_cas_required": false,
        }))
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct VersionMeta {
    pub created_time: String,
    /// Empty while live; RFC 3339 once deleted (or scheduled by delete_version_after).
    pub deletion_time: String,
    pub destroyed: bool,
}

impl VersionMeta {
    /// Deleted now (soft delete, or its scheduled deletion time has passed).
    /// The clock is read only for versions that have a deletion time.
    pub fn is_deleted(&self) -> bool {
        !self.deletion_time.is_empty() && self.deletion_time <= ids::rfc3339_now()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KeyMetadata {
    pub created_time: String,
    pub updated_time: String,
    pub current_version: u64,
    pub oldest_version: u64,
    pub max_versions: u64,
    pub cas_required: bool,
    pub delete_version_after: u64,
    pub custom_metadata: Option<BTreeMap<String, String>>,
    pub current_metadata_version: u64,
    pub versions: BTreeMap<u64, VersionMeta>,
}

impl KeyMetadata {
    pub fn to_json(&self) -> Object {
        let versions: serde_json::Map<String, Value> = self
            .versions
            .iter()
            .map(|(n, v)| (n.to_string(), json!(v)))
            .collect();
        obj(json!({
            "cas_required": self.cas_required,
            "created_time": self.created_time,
            "current_metadata_version": self.current_metadata_version,
            "current_version": self.current_version,
            "custom_metadata": self.custom_metadata,
            "delete_version_after": format_go(self.delete_version_after),
            "max_versions": self.max_versions,
            "metadata_cas_required": false,
            "oldest_version": self.oldest_version,
            "updated_time": self.updated_time,
            "versions": versions,
        }))
    }

    /// The metadata block returned with a version (`data/` reads and writes).
    pub fn version_json(&self, version: u64) -> Object {
        let v = self.versions.get(&version).cloned().unwrap_or_default();
        obj(json!({
            "created_time": v.created_time,
            "custom_metadata": self.custom_metadata,
            "deletion_time": v.deletion_time,
            "destroyed": v.destroyed,
            "version": version,
        }))
    }

    /// Effective version limit given the mount configuration.
    pub fn limit(&self, config: &Config) -> u64 {
        match (self.max_versions, config.max_versions) {
            (0, 0) => DEFAULT_MAX_VERSIONS,
            (0, c) => c,
            (k, 0) => k,
            (k, c) => k.min(c),
        }
    }

    /// Adds a version and returns the versions that fell out of the limit.
    pub fn add_version(&mut self, config: &Config) -> (u64, Vec<u64>) {
        let now = ids::rfc3339_now();
        if self.created_time.is_empty() {
            self.created_time = now.clone();
        }
        self.updated_time = now.clone();
        self.current_version += 1;
        let after = if self.delete_version_after > 0 {
            self.delete_version_after
        } else {
            config.delete_version_after
        };
        let deletion_time = if after > 0 {
            let at = time::OffsetDateTime::now_utc() + time::Duration::seconds(after as i64);
            ids::rfc3339(at)
        } else {
            String::new()
        };
        self.versions.insert(
            self.current_version,
            VersionMeta {
                created_time: now,
                deletion_time,
                destroyed: false,
            },
        );
        let limit = self.limit(config);
        let mut pruned = Vec::new();
        while self.versions.len() as u64 > limit {
            if let Some((&oldest, _)) = self.versions.iter().next() {
                self.versions.remove(&oldest);
                pruned.push(oldest);
            }
        }
        // Vault reports 0 until a version has been pruned.
        if !pruned.is_empty() || self.oldest_version != 0 {
            self.oldest_version = self.versions.keys().next().copied().unwrap_or(0);
        }
        (self.current_version, pruned)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VersionData {
    pub data: Value,
}

pub fn obj(v: Value) -> Object {
    match v {
        Value::Object(m) => m,
        _ => Object::new(),
    }
}
