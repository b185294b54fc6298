//! Mount-wide transit settings: `config/keys` (`disable_upsert`) and
//! `cache-config` (`size`, stored and reported; coffer's key cache is
//! unbounded and holds only this mount's keys).

use coffer_core::fields::{boolean, int, parse};
use coffer_core::logical::{Object, Operation, Request, Response, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::policy::bad;
use crate::barrier::View;

const KEYS_CONFIG: &str = "config/keys";
const CACHE_CONFIG: &str = "config/cache";
/// OpenBao's smallest non-zero cache size.
const MIN_CACHE_SIZE: i64 = 10;

#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
struct KeysConfig {
    disable_upsert: bool,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Fields {
    #[serde(deserialize_with = "boolean")]
    disable_upsert: bool,
    #[serde(deserialize_with = "int")]
    size: i64,
}

/// Does this mount refuse to create keys on encrypt?
pub async fn upsert_disabled(view: &View) -> Result<bool> {
    Ok(view
        .get_json::<KeysConfig>(KEYS_CONFIG)
        .await?
        .unwrap_or_default()
        .disable_upsert)
}

fn data(v: serde_json::Value) -> Response {
    Response::data(v.as_object().cloned().unwrap_or_else(Object::new))
}

pub async fn keys_config(view: &View, req: &Request) -> Result<Response> {
    if req.operation != Operation::Read {
        let f: Fields = parse(&req.data)?;
        view.put_json(
            KEYS_CONFIG,
            &KeysConfig {
                disable_upsert: f.disable_upsert,
            },
        )
        .await?;
    }
    Ok(data(
        json!({"disable_upsert": upsert_disabled(view).await?}),
    ))
}

pub async fn cache_config(view: &View, req: &Request) -> Result<Response> {
    if req.operation != Operation::Read {
        let f: Fields = parse(&req.data)?;
        if f.size != 0 && f.size < MIN_CACHE_SIZE {
            return Err(bad(format!(
                "size must be 0 or a value greater or equal to {MIN_CACHE_SIZE}"
            )));
        }
        view.put_json(CACHE_CONFIG, &f.size).await?;
        return Ok(data(json!({"size": f.size})));
    }
    let size = view.get_json::<i64>(CACHE_CONFIG).await?.unwrap_or(0);
    Ok(data(json!({"size": size})))
}
