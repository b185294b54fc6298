//! Request fields of the transit paths, parsed leniently as OpenBao does
//! (numbers and booleans may arrive as strings from the CLI), and batch
//! items, which may arrive as a JSON array or as a JSON-encoded string.

use coffer_core::duration::de_opt_secs;
use coffer_core::fields::{boolean, int, opt_boolean, opt_int, string};
use coffer_core::logical::{Error, Object, Result};
use serde::Deserialize;
use serde_json::Value;

use super::codec;
use super::keytype::HashAlg;
use super::policy::bad;
use super::sign::{Marshaling, Salt, SigAlg, SignOpts};

/// Items per batch request; larger batches are refused with a 400.
pub const MAX_BATCH: usize = 10_000;

/// One batch item (the union of every operation's item fields).
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct Item {
    #[serde(deserialize_with = "string")]
    pub plaintext: String,
    #[serde(deserialize_with = "string")]
    pub ciphertext: String,
    #[serde(deserialize_with = "string")]
    pub context: String,
    #[serde(deserialize_with = "int")]
    pub key_version: i64,
    #[serde(deserialize_with = "string")]
    pub associated_data: String,
    #[serde(deserialize_with = "string")]
    pub reference: String,
    #[serde(deserialize_with = "string")]
    pub oaep_label: String,
    pub input: Option<Value>,
    pub signature: Option<Value>,
    pub hmac: Option<Value>,
}

impl Item {
    pub fn text(v: &Option<Value>) -> Option<String> {
        match v {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
        }
    }
}

/// Top-level fields shared by the data-plane paths.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct OpFields {
    pub plaintext: Option<Value>,
    pub ciphertext: Option<Value>,
    #[serde(deserialize_with = "string")]
    pub context: String,
    #[serde(deserialize_with = "int")]
    pub key_version: i64,
    #[serde(deserialize_with = "string")]
    pub associated_data: String,
    #[serde(deserialize_with = "string", rename = "type")]
    pub key_type: String,
    #[serde(deserialize_with = "boolean")]
    pub convergent_encryption: bool,
    #[serde(deserialize_with = "opt_int")]
    pub partial_failure_response_code: Option<i64>,
    #[serde(deserialize_with = "string")]
    pub oaep_label: String,
    #[serde(deserialize_with = "int")]
    pub bits: i64,
    pub input: Option<Value>,
    pub signature: Option<Value>,
    pub hmac: Option<Value>,
    #[serde(deserialize_with = "string")]
    pub hash_algorithm: String,
    #[serde(deserialize_with = "string")]
    pub algorithm: String,
    #[serde(deserialize_with = "boolean")]
    pub prehashed: bool,
    #[serde(deserialize_with = "string")]
    pub signature_algorithm: String,
    #[serde(deserialize_with = "string")]
    pub marshaling_algorithm: String,
    #[serde(deserialize_with = "string")]
    pub salt_length: String,
    #[serde(deserialize_with = "string")]
    pub format: String,
    #[serde(deserialize_with = "string")]
    pub source: String,
    #[serde(deserialize_with = "int")]
    pub bytes: i64,
}

/// Fields of `keys/<name>` writes and `keys/<name>/config`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct KeyFields {
    #[serde(deserialize_with = "string", rename = "type")]
    pub key_type: String,
    #[serde(deserialize_with = "boolean")]
    pub derived: bool,
    #[serde(deserialize_with = "boolean")]
    pub convergent_encryption: bool,
    #[serde(deserialize_with = "opt_boolean")]
    pub exportable: Option<bool>,
    #[serde(deserialize_with = "opt_boolean")]
    pub allow_plaintext_backup: Option<bool>,
    #[serde(deserialize_with = "de_opt_secs")]
    pub auto_rotate_period: Option<u64>,
    #[serde(deserialize_with = "int")]
    pub key_size: i64,
    #[serde(deserialize_with = "string")]
    pub context: String,
    #[serde(deserialize_with = "opt_int")]
    pub min_decryption_version: Option<i64>,
    #[serde(deserialize_with = "opt_int")]
    pub min_encryption_version: Option<i64>,
    #[serde(deserialize_with = "opt_boolean")]
    pub deletion_allowed: Option<bool>,
    #[serde(deserialize_with = "opt_int")]
    pub min_available_version: Option<i64>,
    #[serde(deserialize_with = "string")]
    pub format: String,
    #[serde(deserialize_with = "string")]
    pub backup: String,
    #[serde(deserialize_with = "string")]
    pub name: String,
    #[serde(deserialize_with = "boolean")]
    pub force: bool,
}

/// `batch_input` as items, `None` when absent.
pub fn batch(data: &Object) -> Result<Option<Vec<Item>>> {
    let parsed;
    let items = match data.get("batch_input") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => {
            parsed = serde_json::from_str::<Value>(s)
                .map_err(|e| bad(format!("failed to parse batch input: {e}")))?;
            &parsed
        }
        Some(v) => v,
    };
    let Value::Array(items) = items else {
        return Err(bad(
            "failed to parse batch input: batch_input must be a list",
        ));
    };
    if items.is_empty() {
        return Err(bad("missing batch input to process"));
    }
    if items.len() > MAX_BATCH {
        return Err(bad(format!(
            "batch_input has {} items; at most {MAX_BATCH} are allowed per request",
            items.len()
        )));
    }
    // Items are read in place (no copy of the batch).
    items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            if !v.is_object() {
                return Err(bad(format!(
                    "failed to parse batch input: item {i} is not an object"
                )));
            }
            Item::deserialize(v)
                .map_err(|e| bad(format!("failed to parse batch input: item {i}: {e}")))
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// The request's top-level fields without `batch_input`, so parsing them
/// does not copy a large batch.
pub fn top_level<T: serde::de::DeserializeOwned>(data: &Object) -> Result<T> {
    if !data.contains_key("batch_input") {
        return coffer_core::fields::parse(data);
    }
    let top: Object = data
        .iter()
        .filter(|(k, _)| k.as_str() != "batch_input")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    coffer_core::fields::parse(&top)
}

/// Decodes a base64 field, Go's error text on failure.
pub fn b64(s: &str) -> std::result::Result<Vec<u8>, String> {
    codec::decode(s).map_err(|e| e.to_string())
}

/// Signing options from the request (with the URL's hash algorithm first).
pub fn sign_opts(f: &OpFields, url_alg: &str) -> Result<SignOpts> {
    let name = [url_alg, &f.hash_algorithm, &f.algorithm]
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or("sha2-256");
    let hash = HashAlg::parse(name).map_err(|known| {
        if known {
            bad(format!(
                "hash algorithm {name:?} is not supported by coffer"
            ))
        } else {
            bad(format!("invalid hash algorithm {name:?}"))
        }
    })?;
    let marshaling = match f.marshaling_algorithm.as_str() {
        "" | "asn1" => Marshaling::Asn1,
        "jws" => Marshaling::Jws,
        other => return Err(bad(format!("invalid marshaling type {other:?}"))),
    };
    let sig_alg = match f.signature_algorithm.as_str() {
        "" | "pss" => SigAlg::Pss,
        "pkcs1v15" => SigAlg::Pkcs1v15,
        other => return Err(bad(format!("unsupported rsa signature algorithm {other}"))),
    };
    let salt = match f.salt_length.to_ascii_lowercase().as_str() {
        "" | "auto" => Salt::Auto,
        "hash" => Salt::Hash,
        n if n.parse::<i64>().ok() == Some(i64::try_from(hash.output_len()).unwrap_or(0)) => {
            Salt::Hash
        }
        "-1" => Salt::Hash,
        "0" => Salt::Auto,
        n => {
            return Err(Error::bad_request(format!(
                "salt length {n} is not supported; use \"auto\" or \"hash\""
            )));
        }
    };
    Ok(SignOpts {
        hash,
        prehashed: f.prehashed,
        sig_alg,
        marshaling,
        salt,
    })
}
