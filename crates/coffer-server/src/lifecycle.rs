//! The endpoints that work while sealed or without a token: `sys/init`,
//! `sys/seal-status`, `sys/unseal`, `sys/health`, `sys/leader`.

use coffer_core::fields::{self, boolean, uint};
use coffer_core::logical::{Error, Object, Operation, Response, Result};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::core::Core;
use crate::{VERSION, ids, seal};

/// Paths served here, before sealing and token checks.
pub fn is_lifecycle_path(path: &str) -> bool {
    matches!(
        path,
        "sys/init" | "sys/seal-status" | "sys/unseal" | "sys/health" | "sys/leader"
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct InitFields {
    #[serde(deserialize_with = "uint")]
    secret_shares: u64,
    #[serde(deserialize_with = "uint")]
    secret_threshold: u64,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct UnsealFields {
    #[serde(deserialize_with = "fields::string")]
    key: String,
    #[serde(deserialize_with = "boolean")]
    reset: bool,
}

pub async fn handle(core: &Core, path: &str, op: Operation, data: &Object) -> Result<Response> {
    match (path, op) {
        ("sys/init", Operation::Read) => {
            let initialized = core.is_initialized().await?;
            Ok(Response::raw(json!({ "initialized": initialized })))
        }
        ("sys/init", Operation::Create | Operation::Update) => {
            let f: InitFields = fields::parse(data)?;
            let shares = u8::try_from(f.secret_shares)
                .map_err(|_| Error::bad_request("secret_shares must be at most 255"))?;
            let threshold = u8::try_from(f.secret_threshold)
                .map_err(|_| Error::bad_request("secret_threshold must be at most 255"))?;
            let (keys, root_token) = core.initialize(shares, threshold).await?;
            use base64::Engine;
            let hex_keys: Vec<String> = keys.iter().map(|k| hex::encode(k.expose())).collect();
            let b64_keys: Vec<String> = keys
                .iter()
                .map(|k| base64::engine::general_purpose::STANDARD.encode(k.expose()))
                .collect();
            Ok(Response::raw(
                json!({"keys": hex_keys, "keys_base64": b64_keys, "root_token": root_token}),
            ))
        }
        ("sys/seal-status", Operation::Read) => Ok(Response::raw(seal_status(core).await?)),
        ("sys/unseal", Operation::Create | Operation::Update) => {
            let f: UnsealFields = fields::parse(data)?;
            if f.reset {
                core.reset_unseal().await;
            } else {
                if f.key.is_empty() {
                    return Err(Error::bad_request(
                        "'key' must be specified in request body as JSON, or 'reset' set to true",
                    ));
                }
                let share = seal::decode_share(&f.key)?;
                core.submit_unseal_share(share).await?;
            }
            Ok(Response::raw(seal_status(core).await?))
        }
        ("sys/health", Operation::Read) => health(core, data).await,
        ("sys/leader", Operation::Read) => {
            if core.is_sealed() {
                return Err(Error::Sealed);
            }
            // No HA storage yet: the same answer as an OpenBao server without HA.
            Ok(Response::raw(json!({"ha_enabled": false})))
        }
        (_, _) => Err(Error::Status(405, String::new())),
    }
}

pub async fn seal_status(core: &Core) -> Result<Value> {
    let config = core.seal_config().await?;
    let initialized = config.is_some();
    let (t, n) = config.map_or((0, 0), |c| (c.secret_threshold, c.secret_shares));
    let (progress, nonce) = core.unseal_progress().await;
    let sealed = core.is_sealed();
    let mut v = json!({
        "type": "shamir",
        "initialized": initialized,
        "sealed": sealed,
        "t": t,
        "n": n,
        "progress": progress,
        "nonce": nonce,
        "version": VERSION,
        "build_date": "",
        "commit_date": "",
        "migration": false,
        "recovery_seal": false,
        "storage_type": core.storage_type(),
    });
    if !sealed {
        v["cluster_name"] = json!(core.cluster_name());
        v["cluster_id"] = json!(core.cluster_id());
    }
    Ok(v)
}

fn status_param(data: &Object, name: &str, default: u16) -> Result<u16> {
    match data.get(name) {
        None => Ok(default),
        Some(v) => {
            let s = v
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| v.to_string());
            s.parse::<u16>()
                .ok()
                .filter(|c| (100..=599).contains(c))
                .ok_or_else(|| Error::bad_request(format!("bad code value {s:?} for {name}")))
        }
    }
}

async fn health(core: &Core, data: &Object) -> Result<Response> {
    let initialized = core.is_initialized().await?;
    let sealed = core.is_sealed();
    let uninit = status_param(data, "uninitcode", 501)?;
    let sealed_code = status_param(data, "sealedcode", 503)?;
    let active = status_param(data, "activecode", 200)?;
    // Validate the other documented codes even though this server is never a standby.
    for name in [
        "standbycode",
        "drsecondarycode",
        "performancestandbycode",
        "removedcode",
        "haunhealthycode",
    ] {
        status_param(data, name, 200)?;
    }
    let code = if !initialized {
        uninit
    } else if sealed {
        sealed_code
    } else {
        active
    };
    let replication = if initialized && !sealed {
        "disabled"
    } else {
        "unknown"
    };
    let mut body = json!({
        "initialized": initialized,
        "sealed": sealed,
        "standby": !initialized || sealed,
        "performance_standby": false,
        "replication_performance_mode": replication,
        "replication_dr_mode": replication,
        "server_time_utc": ids::now_unix(),
        "version": VERSION,
        "enterprise": false,
        "echo_duration_ms": 0,
        "clock_skew_ms": 0,
    });
    if initialized && !sealed {
        body["cluster_name"] = json!(core.cluster_name());
        body["cluster_id"] = json!(core.cluster_id());
    }
    Ok(Response {
        status: Some(code),
        ..Response::raw(body)
    })
}
