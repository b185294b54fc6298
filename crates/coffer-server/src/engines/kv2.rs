//! KV version 2: versioned secrets with check-and-set, soft delete, undelete,
//! destroy, per-key metadata and JSON merge-patch, as OpenBao serves them.

mod model;

use std::collections::BTreeMap;

use async_trait::async_trait;
use coffer_core::duration::de_opt_secs;
use coffer_core::fields::{self, opt_boolean, opt_uint};
use coffer_core::logical::{Error, Operation, Request, Response, Result};
use coffer_core::paths::{PathSpec, PathTable};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::barrier::View;
use crate::framework::{Backend, Ctx};
use crate::ids;
use model::{Config, KeyMetadata, VersionData, obj};

#[derive(Clone, Copy, Debug)]
enum Route {
    Config,
    Data,
    Metadata,
    Delete,
    Undelete,
    Destroy,
    Subkeys,
    Invalid,
}

use Operation::{Delete, List, Patch, Read, Update};

static PATHS: PathTable<Route> = PathTable(&[
    PathSpec {
        pattern: "config",
        route: Route::Config,
        operations: &[Read, Update],
        fields: &["max_versions", "cas_required", "delete_version_after"],
        existence_check: false,
        help: "mount-wide versioning settings",
    },
    PathSpec {
        pattern: "data/{path*}",
        route: Route::Data,
        operations: &[Read, Update, Patch, Delete],
        fields: &["data", "options", "version"],
        existence_check: true,
        help: "read and write versioned secrets",
    },
    PathSpec {
        pattern: "metadata/{path*}",
        route: Route::Metadata,
        operations: &[Read, Update, Patch, Delete, List],
        fields: &[
            "max_versions",
            "cas_required",
            "delete_version_after",
            "custom_metadata",
        ],
        existence_check: true,
        help: "key metadata and version history",
    },
    PathSpec {
        pattern: "delete/{path*}",
        route: Route::Delete,
        operations: &[Update],
        fields: &["versions"],
        existence_check: false,
        help: "soft-delete versions",
    },
    PathSpec {
        pattern: "undelete/{path*}",
        route: Route::Undelete,
        operations: &[Update],
        fields: &["versions"],
        existence_check: false,
        help: "restore soft-deleted versions",
    },
    PathSpec {
        pattern: "destroy/{path*}",
        route: Route::Destroy,
        operations: &[Update],
        fields: &["versions"],
        existence_check: false,
        help: "destroy versions permanently",
    },
    PathSpec {
        pattern: "subkeys/{path*}",
        route: Route::Subkeys,
        operations: &[Read],
        fields: &["version", "depth"],
        existence_check: false,
        help: "the structure of a secret without its values",
    },
    PathSpec {
        pattern: "{path*}",
        route: Route::Invalid,
        operations: &[Read, Update, Patch, Delete, List],
        fields: &[],
        existence_check: false,
        help: "",
    },
]);

#[derive(Deserialize, Default)]
#[serde(default)]
struct ConfigFields {
    #[serde(deserialize_with = "opt_uint")]
    max_versions: Option<u64>,
    #[serde(deserialize_with = "opt_boolean")]
    cas_required: Option<bool>,
    #[serde(deserialize_with = "de_opt_secs")]
    delete_version_after: Option<u64>,
    #[serde(deserialize_with = "opt_custom_metadata")]
    custom_metadata: Option<BTreeMap<String, String>>,
}

fn opt_custom_metadata<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<BTreeMap<String, String>>, D::Error> {
    Ok(Some(fields::str_map(d)?.into_iter().collect()))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WriteOptions {
    #[serde(deserialize_with = "opt_uint")]
    cas: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WriteFields {
    data: Option<Value>,
    options: Option<WriteOptions>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct VersionsFields {
    #[serde(deserialize_with = "version_list")]
    versions: Vec<u64>,
}

fn version_list<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Vec<u64>, D::Error> {
    let items = fields::str_list(d)?;
    items
        .iter()
        .map(|s| {
            s.parse::<u64>()
                .map_err(|_| serde::de::Error::custom("version numbers must be integers"))
        })
        .collect()
}

/// Serialises writes per key (check-and-set needs read-modify-write) while
/// letting writes to different keys proceed, and share one fsync, concurrently.
const LOCK_SHARDS: usize = 64;

pub struct KvV2 {
    locks: Vec<Mutex<()>>,
}

impl KvV2 {
    pub fn new() -> Self {
        KvV2 {
            locks: (0..LOCK_SHARDS).map(|_| Mutex::new(())).collect(),
        }
    }

    fn lock_for(&self, path: &str) -> &Mutex<()> {
        let h = path.bytes().fold(0xcbf29ce484222325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
        });
        &self.locks[(h % LOCK_SHARDS as u64) as usize]
    }
}

impl Default for KvV2 {
    fn default() -> Self {
        Self::new()
    }
}

async fn load_config(view: &View) -> Result<Config> {
    Ok(view.get_json("config").await?.unwrap_or_default())
}

async fn load_meta(view: &View, path: &str) -> Result<Option<KeyMetadata>> {
    Ok(view.get_json(&format!("metadata/{path}")).await?)
}

fn version_key(path: &str, version: u64) -> String {
    format!("versions/{path}/{version}")
}

fn requested_version(req: &Request) -> Result<u64> {
    match req.data.get("version") {
        None => Ok(0),
        Some(v) => {
            let n = match v {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse::<i64>().ok(),
                _ => None,
            }
            .ok_or_else(|| Error::bad_request("Field validation failed: error converting input for field \"version\": value cannot be parsed as 'int'"))?;
            Ok(u64::try_from(n).unwrap_or(0))
        }
    }
}

fn invalid_path_warning(op: Operation) -> Response {
    let verb = match op {
        Read => "get",
        List => "list",
        Delete => "delete",
        Patch => "patch",
        _ => "put",
    };
    Response {
        status: Some(404),
        ..Response::default()
    }
    .with_warning(format!(
        "Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the OpenBao CLI, use 'bao kv {verb}' for this operation."
    ))
}

fn check_path(path: &str) -> Result<()> {
    if path.is_empty() {
        return Err(Error::bad_request("missing path"));
    }
    Ok(())
}

impl KvV2 {
    async fn read_data(&self, view: &View, path: &str, version: u64) -> Result<Response> {
        check_path(path)?;
        let meta = load_meta(view, path).await?.ok_or(Error::NotFound)?;
        let version = if version == 0 {
            meta.current_version
        } else {
            version
        };
        let Some(vmeta) = meta.versions.get(&version) else {
            return Err(Error::NotFound);
        };
        if vmeta.destroyed || vmeta.is_deleted() {
            return Ok(Response {
                status: Some(404),
                ..Response::data(obj(
                    json!({"data": null, "metadata": meta.version_json(version)}),
                ))
            });
        }
        let data: VersionData = view
            .get_json(&version_key(path, version))
            .await?
            .ok_or(Error::NotFound)?;
        Ok(Response::data(obj(
            json!({"data": data.data, "metadata": meta.version_json(version)}),
        )))
    }

    async fn write_data(
        &self,
        view: &View,
        path: &str,
        data: Value,
        cas: Option<u64>,
    ) -> Result<Response> {
        check_path(path)?;
        if !data.is_object() {
            return Err(Error::bad_request("no data provided"));
        }
        let config = load_config(view).await?;
        let mut meta = load_meta(view, path).await?.unwrap_or_default();
        let cas_required = config.cas_required || meta.cas_required;
        match cas {
            None if cas_required => {
                return Err(Error::bad_request(
                    "check-and-set parameter required for this call",
                ));
            }
            Some(c) if c != meta.current_version => {
                return Err(Error::bad_request(
                    "check-and-set parameter did not match the current version",
                ));
            }
            _ => {}
        }
        let (version, pruned) = meta.add_version(&config);
        let payload = serde_json::to_vec(&VersionData { data }).map_err(Error::internal)?;
        let meta_bytes = serde_json::to_vec(&meta).map_err(Error::internal)?;
        let vkey = version_key(path, version);
        let mkey = format!("metadata/{path}");
        let pruned_keys: Vec<String> = pruned.iter().map(|v| version_key(path, *v)).collect();
        let mut ops: Vec<(&str, Option<Vec<u8>>)> = vec![
            (vkey.as_str(), Some(payload)),
            (mkey.as_str(), Some(meta_bytes)),
        ];
        ops.extend(pruned_keys.iter().map(|k| (k.as_str(), None)));
        view.transaction(ops).await?;
        let mut out = meta.version_json(version);
        out.shift_remove("version");
        out.insert("version".into(), json!(version));
        Ok(Response::data(out))
    }

    async fn set_versions(
        &self,
        view: &View,
        path: &str,
        versions: &[u64],
        route: Route,
    ) -> Result<Response> {
        check_path(path)?;
        if versions.is_empty() {
            return Err(Error::bad_request("no version number provided"));
        }
        let Some(mut meta) = load_meta(view, path).await? else {
            return Ok(Response::empty());
        };
        let now = ids::rfc3339_now();
        let mut destroyed = Vec::new();
        for v in versions {
            if let Some(vm) = meta.versions.get_mut(v) {
                match route {
                    Route::Delete if vm.deletion_time.is_empty() || !vm.is_deleted() => {
                        vm.deletion_time = now.clone()
                    }
                    Route::Undelete if !vm.destroyed => vm.deletion_time.clear(),
                    Route::Destroy => {
                        vm.destroyed = true;
                        destroyed.push(version_key(path, *v));
                    }
                    _ => {}
                }
            }
        }
        let meta_bytes = serde_json::to_vec(&meta).map_err(Error::internal)?;
        let mkey = format!("metadata/{path}");
        let mut ops: Vec<(&str, Option<Vec<u8>>)> = vec![(mkey.as_str(), Some(meta_bytes))];
        ops.extend(destroyed.iter().map(|k| (k.as_str(), None)));
        view.transaction(ops).await?;
        Ok(Response::empty())
    }

    async fn write_metadata(
        &self,
        view: &View,
        path: &str,
        f: ConfigFields,
        patch: bool,
    ) -> Result<Response> {
        check_path(path)?;
        let existing = load_meta(view, path).await?;
        if patch && existing.is_none() {
            return Err(Error::NotFound);
        }
        let mut meta = existing.unwrap_or_else(|| {
            let now = ids::rfc3339_now();
            KeyMetadata {
                created_time: now.clone(),
                updated_time: now,
                ..KeyMetadata::default()
            }
        });
        if let Some(v) = f.max_versions {
            meta.max_versions = v;
        }
        if let Some(v) = f.cas_required {
            meta.cas_required = v;
        }
        if let Some(v) = f.delete_version_after {
            meta.delete_version_after = v;
        }
        if let Some(custom) = f.custom_metadata {
            if patch {
                let mut merged = meta.custom_metadata.take().unwrap_or_default();
                merged.extend(custom);
                meta.custom_metadata = Some(merged);
            } else {
                meta.custom_metadata = Some(custom);
            }
        }
        meta.current_metadata_version += 1;
        meta.updated_time = ids::rfc3339_now();
        view.put_json(&format!("metadata/{path}"), &meta).await?;
        Ok(Response::empty())
    }
}

/// RFC 7396 JSON merge patch.
fn merge_patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.shift_remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

fn subkeys(v: &Value, depth: u64, level: u64) -> Value {
    match v {
        Value::Object(m) if depth == 0 || level < depth => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), subkeys(v, depth, level + 1)))
                .collect(),
        ),
        _ => Value::Null,
    }
}

#[async_trait]
impl Backend for KvV2 {
    async fn handle(&self, ctx: &Ctx<'_>, req: &mut Request) -> Result<Response> {
        let matched = PATHS.resolve(req)?;
        let view = ctx.view;
        let path = matched.get("path").to_owned();
        let warnings = matched.warnings(req);
        let resp = match (matched.spec.route, req.operation) {
            (Route::Invalid, op) => return Ok(invalid_path_warning(op)),
            (Route::Config, Read) => Response::data(load_config(view).await?.to_json()),
            (Route::Config, _) => {
                let f: ConfigFields = fields::parse(&req.data)?;
                let mut config = load_config(view).await?;
                if let Some(v) = f.max_versions {
                    config.max_versions = v;
                }
                if let Some(v) = f.cas_required {
                    config.cas_required = v;
                }
                if let Some(v) = f.delete_version_after {
                    config.delete_version_after = v;
                }
                view.put_json("config", &config).await?;
                Response::empty()
            }
            (Route::Data, Read) => self.read_data(view, &path, requested_version(req)?).await?,
            (Route::Data, Delete) => {
                let _guard = self.lock_for(&path).lock().await;
                let meta = load_meta(view, &path).await?;
                match meta {
                    Some(m) if m.current_version > 0 => {
                        self.set_versions(view, &path, &[m.current_version], Route::Delete)
                            .await?
                    }
                    _ => Response::empty(),
                }
            }
            (Route::Data, Patch) => {
                let f: WriteFields = fields::parse(&req.data)?;
                let patch = f
                    .data
                    .ok_or_else(|| Error::bad_request("no data provided"))?;
                let _guard = self.lock_for(&path).lock().await;
                let current = self.read_data(view, &path, 0).await?;
                if current.status == Some(404) {
                    return Err(Error::NotFound);
                }
                let data = current.data.unwrap_or_default();
                let mut body = data.get("data").cloned().unwrap_or(Value::Null);
                let current_version = data
                    .get("metadata")
                    .and_then(|m| m.get("version"))
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                merge_patch(&mut body, &patch);
                let cas = f.options.and_then(|o| o.cas).or(Some(current_version));
                self.write_data(view, &path, body, cas).await?
            }
            (Route::Data, _) => {
                let f: WriteFields = fields::parse(&req.data)?;
                let data = f
                    .data
                    .ok_or_else(|| Error::bad_request("no data provided"))?;
                let _guard = self.lock_for(&path).lock().await;
                self.write_data(view, &path, data, f.options.and_then(|o| o.cas))
                    .await?
            }
            (Route::Metadata, Read) => {
                check_path(&path)?;
                let meta = load_meta(view, &path).await?.ok_or(Error::NotFound)?;
                Response::data(meta.to_json())
            }
            (Route::Metadata, List) => {
                let prefix = if path.is_empty() || path.ends_with('/') {
                    path.clone()
                } else {
                    format!("{path}/")
                };
                let keys = view.list(&format!("metadata/{prefix}")).await?;
                if keys.is_empty() {
                    return Err(Error::NotFound);
                }
                Response::list(keys)
            }
            (Route::Metadata, Delete) => {
                check_path(&path)?;
                let _guard = self.lock_for(&path).lock().await;
                if let Some(meta) = load_meta(view, &path).await? {
                    let keys: Vec<String> = meta
                        .versions
                        .keys()
                        .map(|v| version_key(&path, *v))
                        .collect();
                    let mkey = format!("metadata/{path}");
                    let mut ops: Vec<(&str, Option<Vec<u8>>)> = vec![(mkey.as_str(), None)];
                    ops.extend(keys.iter().map(|k| (k.as_str(), None)));
                    view.transaction(ops).await?;
                }
                Response::empty()
            }
            (Route::Metadata, op) => {
                let f: ConfigFields = fields::parse(&req.data)?;
                let _guard = self.lock_for(&path).lock().await;
                self.write_metadata(view, &path, f, op == Patch).await?
            }
            (route @ (Route::Delete | Route::Undelete | Route::Destroy), _) => {
                let f: VersionsFields = fields::parse(&req.data)?;
                let _guard = self.lock_for(&path).lock().await;
                self.set_versions(view, &path, &f.versions, route).await?
            }
            (Route::Subkeys, _) => {
                let depth = req
                    .data
                    .get("depth")
                    .and_then(|d| d.as_u64().or_else(|| d.as_str()?.parse().ok()))
                    .unwrap_or(0);
                let read = self.read_data(view, &path, requested_version(req)?).await?;
                if read.status == Some(404) {
                    return Err(Error::NotFound);
                }
                let data = read.data.unwrap_or_default();
                let sub = subkeys(data.get("data").unwrap_or(&Value::Null), depth, 0);
                Response::data(obj(
                    json!({"metadata": data.get("metadata"), "subkeys": sub}),
                ))
            }
        };
        Ok(resp.with_warnings(warnings))
    }

    async fn exists(&self, ctx: &Ctx<'_>, req: &Request) -> Result<Option<bool>> {
        let Some(matched) = PATHS.lookup(&req.path) else {
            return Ok(None);
        };
        match matched.spec.route {
            Route::Data | Route::Metadata => Ok(Some(
                load_meta(ctx.view, matched.get("path")).await?.is_some(),
            )),
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_removes_nulls() {
        let mut v = json!({"a":1,"b":{"c":2,"d":3}});
        merge_patch(&mut v, &json!({"a":null,"b":{"c":null,"e":4},"f":"x"}));
        assert_eq!(v, json!({"b":{"d":3,"e":4},"f":"x"}));
    }

    #[test]
    fn subkeys_hide_values() {
        let v = json!({"a":"x","b":{"c":1}});
        assert_eq!(subkeys(&v, 0, 0), json!({"a":null,"b":{"c":null}}));
        assert_eq!(subkeys(&v, 1, 0), json!({"a":null,"b":null}));
    }
}
