//! Data-plane handlers: encrypt, decrypt, rewrap, datakey, random and hash.
//! Batch requests answer every item (errors per item, with its
//! `reference`) and use HTTP 400 when any item failed, like OpenBao.

use coffer_core::logical::{Error, Object, Request, Response, Result};
use serde_json::{Value, json};

use super::Transit;
use super::aead;
use super::codec;
use super::fields::{self, Item, OpFields, b64};
use super::keytype::{HashAlg, KeyType};
use super::material::random_bytes;
use super::policy::{Policy, PolicyMeta, bad};
use crate::barrier::View;

pub use super::sigops::{hmac, sign, verify};

fn obj(v: Value) -> Object {
    match v {
        Value::Object(o) => o,
        _ => Object::new(),
    }
}

/// The batch answer: 400 when an item failed (or the caller's
/// `partial_failure_response_code` when some succeeded).
pub fn batch_response(
    results: Vec<Value>,
    failed: bool,
    succeeded: bool,
    partial: Option<i64>,
) -> Response {
    let mut resp = Response::data(obj(json!({ "batch_results": results })));
    if failed {
        let mut code = 400u16;
        if let Some(c) = partial.filter(|_| succeeded) {
            match u16::try_from(c) {
                Ok(c) if (1..=599).contains(&c) => code = c,
                _ => {
                    resp.warnings.push(
                        "invalid HTTP response code override from partial_failure_response_code, reverting to 400"
                            .to_owned(),
                    )
                }
            }
        }
        resp.status = Some(code);
    }
    resp
}

/// Runs `op` on every item. A single (non-batch) request answers its item's
/// result or error directly; a batch answers every item's result, with
/// per-item errors (`error_fields` adds fields such as an empty `plaintext`)
/// that never fail the whole batch.
fn run_batch(
    items: &[Item],
    is_batch: bool,
    partial_failure_code: Option<i64>,
    error_fields: &Object,
    op: impl Fn(usize, &Item) -> std::result::Result<Object, String>,
) -> Result<Response> {
    let mut results = Vec::with_capacity(items.len());
    let (mut failed, mut succeeded) = (false, false);
    for (i, item) in items.iter().enumerate() {
        let mut fields = match op(i, item) {
            Ok(fields) if !is_batch => return Ok(Response::data(fields)),
            Err(e) if !is_batch => return Err(bad(e)),
            Ok(fields) => {
                succeeded = true;
                fields
            }
            Err(e) => {
                failed = true;
                let mut fields = error_fields.clone();
                fields.insert("error".into(), json!(e));
                fields
            }
        };
        fields.insert("reference".into(), json!(item.reference));
        results.push(Value::Object(fields));
    }
    Ok(batch_response(
        results,
        failed,
        succeeded,
        partial_failure_code,
    ))
}

fn check_context_consistency(items: &[Item]) -> Result<()> {
    let set = !items[0].context.is_empty();
    if items.iter().any(|i| i.context.is_empty() == set) {
        return Err(bad(
            "context should be set either in all the request blocks or in none",
        ));
    }
    Ok(())
}

fn decode_opt(s: &str) -> std::result::Result<Vec<u8>, String> {
    if s.is_empty() { Ok(Vec::new()) } else { b64(s) }
}

async fn existing(t: &Transit, view: &View, name: &str) -> Result<std::sync::Arc<Policy>> {
    t.get(view, name)
        .await?
        .ok_or_else(|| bad("encryption key not found"))
}

fn single_or_batch(f: &OpFields, req: &Request, which: &str) -> Result<(Vec<Item>, bool)> {
    if let Some(items) = fields::batch(&req.data)? {
        return Ok((items, true));
    }
    let (value, missing) = match which {
        "plaintext" => (&f.plaintext, "missing plaintext to encrypt"),
        _ => (&f.ciphertext, "missing ciphertext to decrypt"),
    };
    let v = Item::text(value).ok_or_else(|| bad(missing))?;
    let mut item = Item {
        context: f.context.clone(),
        key_version: f.key_version,
        associated_data: f.associated_data.clone(),
        oaep_label: f.oaep_label.clone(),
        ..Item::default()
    };
    if which == "plaintext" {
        item.plaintext = v;
    } else {
        item.ciphertext = v;
    }
    Ok((vec![item], false))
}

/// Encrypts one item: (ciphertext, version).
fn encrypt_item(
    p: &Policy,
    i: usize,
    item: &Item,
    plaintext: &[u8],
) -> std::result::Result<(String, u32), String> {
    let context = decode_opt(&item.context)?;
    let aad = if item.associated_data.is_empty() {
        Vec::new()
    } else {
        if !p.kt.is_aead() {
            return Err(format!(
                "'[{i}].associated_data' provided for non-AEAD cipher suite {}",
                p.kt.as_str()
            ));
        }
        b64(&item.associated_data)?
    };
    let ver = p
        .encryption_version(item.key_version, "encryption")
        .map_err(|e| e.to_string())?;
    let ct = aead::encrypt(p, ver, plaintext, &context, &aad).map_err(|e| e.to_string())?;
    Ok((ct, ver))
}

fn new_key_for_encrypt(name: &str, f: &OpFields, derived: bool) -> Result<Policy> {
    if f.convergent_encryption && !derived {
        return Err(bad(
            "convergent encryption requires derivation to be enabled, so context is required",
        ));
    }
    let type_name = if f.key_type.is_empty() {
        "aes256-gcm96"
    } else {
        f.key_type.as_str()
    };
    let kt = match KeyType::parse(type_name) {
        Some(k) if k.is_aead() => k,
        Some(k) if k.is_ecdsa() => {
            return Err(bad(format!(
                "key type {type_name} not supported for this operation"
            )));
        }
        _ => return Err(bad(format!("unknown key type {type_name}"))),
    };
    Policy::create(
        PolicyMeta {
            name: name.to_owned(),
            key_type: kt.as_str().to_owned(),
            derived,
            convergent_encryption: f.convergent_encryption,
            ..PolicyMeta::default()
        },
        kt,
    )
}

pub async fn encrypt(t: &Transit, view: &View, req: &Request, name: &str) -> Result<Response> {
    let f: OpFields = fields::top_level(&req.data)?;
    let (items, is_batch) = single_or_batch(&f, req, "plaintext")?;
    check_context_consistency(&items)?;
    let derived = !items[0].context.is_empty();
    let p = match t.get(view, name).await? {
        Some(p) => p,
        None if super::mountcfg::upsert_disabled(view).await? => {
            return Err(bad("encryption key not found"));
        }
        None => {
            t.get_or_create(view, name, || new_key_for_encrypt(name, &f, derived))
                .await?
                .0
        }
    };
    run_batch(
        &items,
        is_batch,
        f.partial_failure_response_code,
        &Object::new(),
        |i, item| {
            let (ct, ver) = b64(&item.plaintext).and_then(|pt| encrypt_item(&p, i, item, &pt))?;
            Ok(obj(json!({"ciphertext": ct, "key_version": ver})))
        },
    )
}

fn decrypt_item(
    p: &Policy,
    i: usize,
    item: &Item,
) -> std::result::Result<zeroize::Zeroizing<Vec<u8>>, String> {
    let context = decode_opt(&item.context)?;
    let aad = if item.associated_data.is_empty() {
        Vec::new()
    } else {
        if !p.kt.is_aead() {
            return Err(format!(
                "'[{i}].associated_data' provided for non-AEAD cipher suite {}",
                p.kt.as_str()
            ));
        }
        b64(&item.associated_data)?
    };
    let label = if item.oaep_label.is_empty() {
        None
    } else {
        if !p.kt.is_rsa() {
            return Err(format!(
                "oaep_label is only valid for RSA keys, not {}",
                p.kt.as_str()
            ));
        }
        Some(b64(&item.oaep_label).map_err(|e| format!("invalid oaep_label: {e}"))?)
    };
    aead::decrypt(p, &item.ciphertext, &context, &aad, label.as_deref()).map_err(|e| e.to_string())
}

pub async fn decrypt(t: &Transit, view: &View, req: &Request, name: &str) -> Result<Response> {
    let f: OpFields = fields::top_level(&req.data)?;
    let (items, is_batch) = single_or_batch(&f, req, "ciphertext")?;
    check_context_consistency(&items)?;
    let p = existing(t, view, name).await?;
    let on_error = obj(json!({"plaintext": ""}));
    run_batch(
        &items,
        is_batch,
        f.partial_failure_response_code,
        &on_error,
        |i, item| {
            let pt = decrypt_item(&p, i, item)?;
            Ok(obj(json!({"plaintext": codec::encode(&pt)})))
        },
    )
}

pub async fn rewrap(t: &Transit, view: &View, req: &Request, name: &str) -> Result<Response> {
    let f: OpFields = fields::top_level(&req.data)?;
    let (items, is_batch) = single_or_batch(&f, req, "ciphertext")?;
    check_context_consistency(&items)?;
    let p = existing(t, view, name).await?;
    run_batch(
        &items,
        is_batch,
        f.partial_failure_response_code,
        &Object::new(),
        |i, item| {
            let (ct, ver) =
                decrypt_item(&p, i, item).and_then(|pt| encrypt_item(&p, i, item, &pt))?;
            Ok(obj(json!({"ciphertext": ct, "key_version": ver})))
        },
    )
}

pub async fn datakey(
    t: &Transit,
    view: &View,
    req: &Request,
    caps: &coffer_core::paths::Captures,
) -> Result<Response> {
    let f: OpFields = fields::top_level(&req.data)?;
    let with_plaintext = match caps.get("plaintext") {
        "plaintext" => true,
        "wrapped" => false,
        _ => return Err(bad("Invalid path, must be 'plaintext' or 'wrapped'")),
    };
    let context = decode_opt(&f.context).map_err(|_| bad("failed to base64-decode context"))?;
    let p = existing(t, view, caps.get("name")).await?;
    let bits = if f.bits == 0 { 256 } else { f.bits };
    if !matches!(bits, 128 | 256 | 512) {
        return Err(bad("invalid bit length"));
    }
    let aad = if f.associated_data.is_empty() {
        Vec::new()
    } else {
        if !p.kt.is_aead() {
            return Err(bad(format!(
                "'associated_data' provided for non-AEAD cipher suite {}",
                p.kt.as_str()
            )));
        }
        b64(&f.associated_data).map_err(bad)?
    };
    let key = random_bytes(bits as usize / 8).map_err(Error::internal)?;
    let ver = p.encryption_version(f.key_version, "encryption")?;
    let ct = aead::encrypt(&p, ver, &key, &context, &aad)?;
    let mut data = obj(json!({"ciphertext": ct, "key_version": ver}));
    if with_plaintext {
        data.insert("plaintext".into(), json!(codec::encode(&key)));
    }
    Ok(Response::data(data))
}

/// Largest `random` request (OpenBao's limit).
const MAX_RANDOM: i64 = 128 * 1024;

pub async fn random(req: &Request, caps: &coffer_core::paths::Captures) -> Result<Response> {
    let f: OpFields = fields::top_level(&req.data)?;
    let (mut source, mut url_bytes) = (
        caps.get("source").to_owned(),
        caps.get("urlbytes").to_owned(),
    );
    if url_bytes.is_empty() && source.parse::<i64>().is_ok() {
        url_bytes = std::mem::take(&mut source);
    }
    if source.is_empty() {
        source = if f.source.is_empty() {
            "platform".into()
        } else {
            f.source.clone()
        };
    }
    if !matches!(source.as_str(), "platform" | "seal" | "all") {
        return Err(bad(format!(
            "unsupported entropy source {source:?}; must be \"platform\" or \"seal\", or \"all\""
        )));
    }
    let bytes = if url_bytes.is_empty() {
        if f.bytes == 0 { 32 } else { f.bytes }
    } else {
        url_bytes
            .parse::<i64>()
            .map_err(|_| bad(format!("error parsing url-set byte count: strconv.Atoi: parsing {url_bytes:?}: invalid syntax")))?
    };
    if bytes < 1 {
        return Err(bad(format!(
            "number of bytes must be greater than 0; got {bytes}"
        )));
    }
    if bytes > MAX_RANDOM {
        return Err(bad(format!(
            "exceeded maximum number of bytes to generate ({MAX_RANDOM})"
        )));
    }
    let format = if f.format.is_empty() {
        "base64"
    } else {
        f.format.as_str()
    };
    let data = random_bytes(bytes as usize).map_err(Error::internal)?;
    let out = match format {
        "base64" => codec::encode(&data),
        "hex" => hex::encode(&data[..]),
        other => {
            return Err(bad(format!(
                "unsupported encoding format {other:?}; must be \"hex\" or \"base64\""
            )));
        }
    };
    Ok(Response::data(obj(json!({"random_bytes": out}))))
}

pub fn hash(req: &Request, url_alg: &str) -> Result<Response> {
    let f: OpFields = fields::top_level(&req.data)?;
    let input = Item::text(&f.input).ok_or_else(|| bad("input missing"))?;
    let input = b64(&input).map_err(|e| bad(format!("unable to decode input as base64: {e}")))?;
    let format = if f.format.is_empty() {
        "hex"
    } else {
        f.format.as_str()
    };
    if format != "hex" && format != "base64" {
        return Err(bad(format!(
            "unsupported encoding format {format}; must be \"hex\" or \"base64\""
        )));
    }
    let alg_name = [url_alg, f.algorithm.as_str()]
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or("sha2-256");
    // OpenBao's hash endpoint offers the SHA-2 and SHA-3 families, not sha1.
    let alg = HashAlg::parse(alg_name)
        .ok()
        .filter(|a| *a != HashAlg::Sha1)
        .ok_or_else(|| bad(format!("unsupported algorithm {alg_name}")))?;
    let sum = alg.digest(&input);
    let sum = if format == "hex" {
        hex::encode(sum)
    } else {
        codec::encode(&sum)
    };
    Ok(Response::data(obj(json!({"sum": sum}))))
}
