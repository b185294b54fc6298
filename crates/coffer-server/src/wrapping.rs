//! Response wrapping: a response is stored in the cubbyhole of a new
//! single-use token (policy `response-wrapping`) and the caller gets only
//! `wrap_info`; `sys/wrapping/unwrap` hands it out once.

use coffer_core::logical::{Error, Object, Response, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::core::Active;
use crate::ids;
use crate::token::{NewToken, TokenEntry};

/// The policy wrapping tokens carry; it grants nothing but unwrapping.
pub const WRAPPING_POLICY: &str = "response-wrapping";

/// What a wrapping token's cubbyhole holds.
#[derive(Serialize, Deserialize)]
struct Wrapped {
    data: Option<Object>,
    auth: Option<Object>,
    warnings: Vec<String>,
    lease_duration: u64,
}

pub fn is_wrapping_token(entry: &TokenEntry) -> bool {
    entry.policies.len() == 1 && entry.policies[0] == WRAPPING_POLICY
}

/// Parses `X-Vault-Wrap-TTL`: seconds (`300`) or a Go duration (`5m`).
pub fn parse_ttl(header: &str) -> Result<u64> {
    let ttl = coffer_core::duration::parse_secs(header.trim()).map_err(|_| {
        Error::bad_request(format!(
            "invalid wrap TTL {header:?}: use seconds or a duration such as 5m"
        ))
    })?;
    if ttl == 0 {
        return Err(Error::bad_request("wrap TTL must be greater than zero"));
    }
    Ok(ttl)
}

/// Replaces `resp` by its wrap info; the response waits in a new token's cubbyhole.
pub async fn wrap(
    active: &Active,
    resp: Response,
    creation_path: &str,
    ttl: u64,
) -> Result<Response> {
    let wrapped_accessor = resp
        .auth_rendered
        .as_ref()
        .and_then(|a| a.get("accessor"))
        .or_else(|| resp.data.as_ref().and_then(|d| d.get("secret_id_accessor")))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let (token, entry, _) = active
        .tokens
        .create(NewToken {
            policies: vec![WRAPPING_POLICY.into()],
            display_name: "response-wrapping".into(),
            path: creation_path.to_owned(),
            ttl,
            max_ttl: ttl,
            ..NewToken::default()
        })
        .await?;
    let stored = Wrapped {
        data: resp.data,
        auth: resp.auth_rendered,
        warnings: resp.warnings,
        lease_duration: resp.lease_duration,
    };
    active
        .tokens
        .cubbyhole_of(&entry.hash)
        .put_json("response", &stored)
        .await?;
    let mut info = json!({
        "token": token,
        "accessor": entry.accessor,
        "ttl": ttl,
        "creation_time": ids::rfc3339_unix(entry.creation_time),
        "creation_path": creation_path,
    });
    if let Some(acc) = wrapped_accessor {
        info["wrapped_accessor"] = json!(acc);
    }
    Ok(Response {
        wrap_info: info.as_object().cloned(),
        ..Response::default()
    })
}

async fn live_wrapping_token(active: &Active, token: &str) -> Result<std::sync::Arc<TokenEntry>> {
    let invalid = || Error::bad_request("wrapping token is not valid or does not exist");
    let entry = active.tokens.lookup(token).await?.ok_or_else(invalid)?;
    if !is_wrapping_token(&entry) {
        return Err(invalid());
    }
    Ok(entry)
}

/// `sys/wrapping/unwrap`: the wrapped response, once.
pub async fn unwrap(active: &Active, token: &str) -> Result<Response> {
    let entry = live_wrapping_token(active, token).await?;
    let stored: Wrapped = active
        .tokens
        .cubbyhole_of(&entry.hash)
        .get_json("response")
        .await?
        .ok_or_else(|| Error::bad_request("wrapping token is not valid or does not exist"))?;
    active.tokens.revoke_tree(&entry.hash).await?;
    Ok(Response {
        data: stored.data,
        auth_rendered: stored.auth,
        warnings: stored.warnings,
        lease_duration: stored.lease_duration,
        ..Response::default()
    })
}

/// `sys/wrapping/lookup`: creation facts without consuming the token.
pub async fn lookup(active: &Active, token: &str) -> Result<Response> {
    let entry = live_wrapping_token(active, token).await?;
    let data = json!({
        "creation_path": entry.path,
        "creation_time": ids::rfc3339_unix(entry.creation_time),
        "creation_ttl": entry.creation_ttl,
    });
    Ok(Response::data(
        data.as_object().cloned().unwrap_or_default(),
    ))
}

/// `sys/wrapping/rewrap`: the same response under a new token.
pub async fn rewrap(active: &Active, token: &str) -> Result<Response> {
    let entry = live_wrapping_token(active, token).await?;
    let path = entry.path.clone();
    let ttl = entry.creation_ttl;
    let inner = unwrap(active, token).await?;
    wrap(active, inner, &path, ttl).await
}
