//! `sys/audit`, `sys/audit-hash`, `sys/key-status`, `sys/rotate`, `sys/metrics`.

use coffer_core::fields;
use coffer_core::logical::{Error, Object, Operation, Request, Response, Result};
use serde::Deserialize;
use serde_json::json;

use super::{Route, SysCtx};
use crate::audit::FileDeviceConfig;
use crate::mounts::normalize_path;

#[derive(Deserialize, Default)]
#[serde(default)]
struct AuditFields {
    #[serde(rename = "type", deserialize_with = "fields::string")]
    kind: String,
    #[serde(deserialize_with = "fields::string")]
    description: String,
    options: Object,
    #[serde(deserialize_with = "fields::string")]
    input: String,
}

fn option(options: &Object, key: &str) -> String {
    options
        .get(key)
        .map(|v| {
            v.as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| v.to_string())
        })
        .unwrap_or_default()
}

pub(super) async fn handle(
    sys: &SysCtx<'_>,
    route: Route,
    path: &str,
    req: &Request,
) -> Result<Response> {
    let active = sys.active;
    match (route, req.operation) {
        (Route::Audits, _) => {
            let mut data = Object::new();
            for d in active.audit.devices() {
                let c = d.config();
                let mut options = json!({"file_path": c.file_path});
                if c.log_raw {
                    options["log_raw"] = json!("true");
                }
                data.insert(
                    c.path.clone(),
                    json!({"description": c.description, "local": false, "options": options, "path": c.path, "type": "file"}),
                );
            }
            Ok(Response::data(data).legacy())
        }
        (Route::Audit, Operation::Delete) => {
            let p = normalize_path(path)?;
            if sys.core.config().audit_devices.iter().any(|d| d.path == p) {
                return Err(Error::bad_request(
                    "cannot disable an audit device declared in the server configuration",
                ));
            }
            active.audit.remove(&p);
            persist(sys).await?;
            Ok(Response::empty())
        }
        (Route::Audit, _) => {
            if !sys.core.config().allow_api_audit {
                return Err(Error::bad_request(
                    "cannot enable audit device via API; use declarative, config-based audit device management instead",
                ));
            }
            let f: AuditFields = fields::parse(&req.data)?;
            if f.kind != "file" {
                return Err(Error::bad_request(format!(
                    "unknown backend type: {:?}",
                    f.kind
                )));
            }
            let p = normalize_path(path)?;
            if active.audit.device(&p).is_some() {
                return Err(Error::bad_request(format!("path already in use: {p}")));
            }
            let config = FileDeviceConfig {
                path: p,
                file_path: option(&f.options, "file_path"),
                log_raw: option(&f.options, "log_raw") == "true",
                hmac_accessor: option(&f.options, "hmac_accessor") != "false",
                prefix: option(&f.options, "prefix"),
                mode: None,
                description: f.description,
            };
            if config.file_path.is_empty() {
                return Err(Error::bad_request("file_path is required"));
            }
            active.audit.add(sys.core.open_audit_device(config).await?);
            persist(sys).await?;
            Ok(Response::empty())
        }
        (Route::AuditHash, _) => {
            let f: AuditFields = fields::parse(&req.data)?;
            let p = normalize_path(path)?;
            let device = active
                .audit
                .device(&p)
                .ok_or_else(|| Error::bad_request(format!("unknown audit backend {p}")))?;
            let mut data = Object::new();
            data.insert("hash".into(), device.hash(&f.input).into());
            Ok(Response::data(data).legacy())
        }
        (Route::KeyStatus, _) => {
            let keyring = sys.core.barrier().keyring()?;
            let term = keyring.active_term();
            let info = keyring.term_info(term);
            let data = json!({
                "term": term,
                "install_time": crate::ids::rfc3339_unix(info.map_or(0, |i| i.install_time as i64)),
                "encryptions": info.map_or(0, |i| i.encryptions),
            });
            Ok(Response::data(data.as_object().cloned().unwrap_or_default()).legacy())
        }
        (Route::Rotate, _) => {
            sys.core.rotate_keyring().await?;
            Ok(Response::empty())
        }
        (Route::Metrics, _) => {
            let handle = sys
                .core
                .metrics()
                .ok_or_else(|| Error::bad_request("metrics are not enabled"))?;
            Ok(Response {
                raw: Some(serde_json::Value::String(handle.render())),
                status: Some(200),
                ..Response::default()
            })
        }
        _ => Err(Error::UnsupportedOperation),
    }
}

async fn persist(sys: &SysCtx<'_>) -> Result<()> {
    let declared: Vec<String> = sys
        .core
        .config()
        .audit_devices
        .iter()
        .map(|d| d.path.clone())
        .collect();
    let api: Vec<FileDeviceConfig> = sys
        .active
        .audit
        .devices()
        .iter()
        .map(|d| d.config().clone())
        .filter(|c| !declared.contains(&c.path))
        .collect();
    sys.core.persist_api_audit_devices(&api).await
}
