//! Handlers for hmac, sign and verify (signatures and HMACs). Batch answers
//! keep OpenBao's shapes: per-item `error` and `reference`, HTTP 200.

use coffer_core::logical::{Object, Request, Response, Result};
use coffer_core::paths::Captures;
use serde_json::{Value, json};

use super::Transit;
use super::codec;
use super::fields::{self, Item, OpFields, b64, sign_opts};
use super::keytype::HashAlg;
use super::policy::{Policy, bad};
use super::sign::{self as signing, SignOpts};
use crate::barrier::View;

fn obj(v: Value) -> Object {
    match v {
        Value::Object(o) => o,
        _ => Object::new(),
    }
}

/// Items for hmac/sign/verify: the batch, or one item from top-level fields.
fn items(f: &OpFields, req: &Request) -> Result<(Vec<Item>, bool)> {
    if let Some(items) = fields::batch(&req.data)? {
        return Ok((items, true));
    }
    Ok((
        vec![Item {
            input: f.input.clone(),
            signature: f.signature.clone(),
            hmac: f.hmac.clone(),
            context: f.context.clone(),
            key_version: f.key_version,
            ..Item::default()
        }],
        false,
    ))
}

fn finish(
    results: Vec<Value>,
    is_batch: bool,
    errors: Vec<Option<String>>,
    single: impl FnOnce(Value) -> Object,
) -> Result<Response> {
    if is_batch {
        return Ok(Response::data(obj(json!({"batch_results": results}))));
    }
    if let Some(Some(e)) = errors.into_iter().next() {
        return Err(bad(e));
    }
    Ok(Response::data(single(
        results.into_iter().next().unwrap_or(Value::Null),
    )))
}

fn hmac_hash(url_alg: &str, f: &OpFields) -> Result<HashAlg> {
    let name = [url_alg, f.algorithm.as_str(), f.hash_algorithm.as_str()]
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or("sha2-256");
    HashAlg::parse(name).map_err(|_| bad(format!("unsupported algorithm {name:?}")))
}

fn hmac_key(p: &Policy, ver: u32) -> Result<&[u8]> {
    p.usable()?;
    if ver > p.meta.latest_version {
        return Err(bad(format!(
            "key version does not exist; latest key version is {}",
            p.meta.latest_version
        )));
    }
    Ok(&p.version(ver)?.hmac_key)
}

fn input_of(item: &Item, missing: &str) -> std::result::Result<Vec<u8>, String> {
    let raw = Item::text(&item.input).ok_or_else(|| missing.to_owned())?;
    b64(&raw).map_err(|e| format!("unable to decode input as base64: {e}"))
}

pub async fn hmac(t: &Transit, view: &View, req: &Request, caps: &Captures) -> Result<Response> {
    let f: OpFields = fields::top_level(&req.data)?;
    let p = t
        .get(view, caps.get("name"))
        .await?
        .ok_or_else(|| bad("encryption key not found"))?;
    let ver = match f.key_version {
        0 => p.meta.latest_version,
        v if v < 0 => return Err(bad("key version does not exist (cannot be negative)")),
        v if v < i64::from(p.meta.min_encryption_version) => {
            return Err(bad(
                "cannot generate HMAC: version is too old (disallowed by policy)",
            ));
        }
        v => u32::try_from(v).unwrap_or(u32::MAX),
    };
    let hash = hmac_hash(caps.get("urlalgorithm"), &f)?;
    let key = hmac_key(&p, ver)?;
    let (items, is_batch) = items(&f, req)?;
    let mut results = Vec::with_capacity(items.len());
    let mut errors = Vec::with_capacity(items.len());
    for item in &items {
        match input_of(item, "missing input for HMAC") {
            Ok(input) => {
                let tag = hash.mac(key, &input);
                let out = format!("vault:v{ver}:{}", codec::encode(&tag));
                results.push(json!({"hmac": out, "reference": item.reference}));
                errors.push(None);
            }
            Err(e) => {
                results.push(json!({"error": e, "reference": item.reference}));
                errors.push(Some(e));
            }
        }
    }
    finish(results, is_batch, errors, |r| {
        obj(json!({"hmac": r["hmac"]}))
    })
}

fn context_of(item: &Item) -> std::result::Result<Vec<u8>, String> {
    if item.context.is_empty() {
        return Ok(Vec::new());
    }
    b64(&item.context).map_err(|_| "failed to base64-decode context".to_owned())
}

fn sign_item(p: &Policy, item: &Item, opts: &SignOpts) -> std::result::Result<Value, String> {
    let input = input_of(item, "missing input")?;
    let context = context_of(item)?;
    let ver = p
        .encryption_version(item.key_version, "signing")
        .map_err(|e| e.to_string())?;
    let (sig, public) = signing::sign(p, ver, &input, &context, opts).map_err(|e| e.to_string())?;
    let mut out = json!({"signature": sig, "key_version": ver});
    if let Some(pk) = public {
        out["publickey"] = json!(codec::encode(&pk));
    }
    Ok(out)
}

pub async fn sign(t: &Transit, view: &View, req: &Request, caps: &Captures) -> Result<Response> {
    let f: OpFields = fields::top_level(&req.data)?;
    // OpenBao 2.7.2 checks the key before the signing options.
    let p = t
        .get(view, caps.get("name"))
        .await?
        .ok_or_else(|| bad("signing key not found"))?;
    if !p.kt.supports_signing() {
        return Err(bad(format!(
            "key type {} does not support signing",
            p.kt.as_str()
        )));
    }
    let opts = sign_opts(&f, caps.get("urlalgorithm"))?;
    let (items, is_batch) = items(&f, req)?;
    let mut results = Vec::with_capacity(items.len());
    let mut errors = Vec::with_capacity(items.len());
    for item in &items {
        match sign_item(&p, item, &opts) {
            Ok(mut v) => {
                v["reference"] = json!(item.reference);
                results.push(v);
                errors.push(None);
            }
            Err(e) => {
                results.push(json!({"key_version": 0, "error": e, "reference": item.reference}));
                errors.push(Some(e));
            }
        }
    }
    finish(results, is_batch, errors, |r| {
        let mut o = obj(json!({"key_version": r["key_version"], "signature": r["signature"]}));
        if let Some(pk) = r.get("publickey") {
            o.insert("public_key".into(), pk.clone());
        }
        o
    })
}

fn verify_hmac(
    p: &Policy,
    item: &Item,
    hash: HashAlg,
    value: &str,
) -> std::result::Result<bool, String> {
    // OpenBao's own checks and texts for HMAC verification, in its order.
    p.usable().map_err(|e| e.to_string())?;
    let input = input_of(item, "missing input")?;
    let rest = value
        .strip_prefix("vault:v")
        .ok_or("invalid HMAC to verify: no prefix")?;
    let (ver, payload) = rest
        .split_once(':')
        .ok_or("invalid HMAC: wrong number of fields")?;
    let ver: i64 = ver
        .parse()
        .map_err(|_| "invalid HMAC: version number could not be decoded")?;
    let expected = codec::decode(payload)
        .map_err(|e| format!("unable to decode verification HMAC as base64: {e}"))?;
    if ver > i64::from(p.meta.latest_version) {
        return Err("invalid HMAC: version is too new".into());
    }
    let min = i64::from(p.meta.min_decryption_version);
    if ver < 0 || (min > 0 && ver < min) {
        return Err("cannot verify HMAC: version is too old (disallowed by policy)".into());
    }
    let key = &p.version(ver as u32).map_err(|e| e.to_string())?.hmac_key;
    Ok(hash.mac_verify(key, &input, &expected))
}

fn verify_sig(
    p: &Policy,
    item: &Item,
    opts: &SignOpts,
    value: &str,
) -> std::result::Result<bool, String> {
    let input = input_of(item, "missing input")?;
    let context = context_of(item)?;
    signing::verify(p, &input, value, &context, opts).map_err(|e| e.to_string())
}

/// Checks one verify item: `Ok(valid)` or the item's error text.
type ItemCheck = Box<dyn Fn(&Item) -> std::result::Result<bool, String>>;

pub async fn verify(t: &Transit, view: &View, req: &Request, caps: &Captures) -> Result<Response> {
    let f: OpFields = fields::top_level(&req.data)?;
    let (items, is_batch) = items(&f, req)?;
    // OpenBao's classification: an item with a signature is a signature
    // item even when it also has an hmac.
    let (mut sig_found, mut hmac_found, mut missing) = (false, false, false);
    for item in &items {
        if Item::text(&item.signature).is_some() {
            sig_found = true;
        } else if Item::text(&item.hmac).is_some() {
            hmac_found = true;
        } else {
            missing = true;
        }
    }
    let use_hmac = match (sig_found, hmac_found, missing) {
        (true, true, _) if !is_batch => return Err(bad("provide one of 'signature' or 'hmac'")),
        (false, false, _) if !is_batch => {
            return Err(bad(
                "neither a 'signature' nor an 'hmac' were given to verify",
            ));
        }
        (true, true, _) => {
            return Err(bad(
                "elements of batch_input must all provide 'signature' or all provide 'hmac'",
            ));
        }
        (true, _, true) => return Err(bad("some elements of batch_input are missing 'signature'")),
        (_, true, true) => return Err(bad("some elements of batch_input are missing 'hmac'")),
        (_, _, true) => return Err(bad("no batch_input elements have 'signature' or 'hmac'")),
        (_, hmac, _) => hmac,
    };
    let p = t.get(view, caps.get("name")).await?.ok_or_else(|| {
        bad(if use_hmac {
            "encryption key not found"
        } else {
            "signature verification key not found"
        })
    })?;
    let mut results = Vec::with_capacity(items.len());
    let mut errors = Vec::with_capacity(items.len());
    let outcome: ItemCheck = if use_hmac {
        let hash = hmac_hash(caps.get("urlalgorithm"), &f)?;
        let p = p.clone();
        Box::new(move |item| {
            verify_hmac(&p, item, hash, &Item::text(&item.hmac).unwrap_or_default())
        })
    } else {
        if !p.kt.supports_signing() {
            return Err(bad(format!(
                "key type {} does not support verification",
                p.kt.as_str()
            )));
        }
        let opts = sign_opts(&f, caps.get("urlalgorithm"))?;
        let p = p.clone();
        Box::new(move |item| {
            verify_sig(
                &p,
                item,
                &opts,
                &Item::text(&item.signature).unwrap_or_default(),
            )
        })
    };
    for item in &items {
        match outcome(item) {
            Ok(valid) => {
                results.push(json!({"valid": valid, "reference": item.reference}));
                errors.push(None);
            }
            Err(e) => {
                results.push(json!({"valid": false, "error": e, "reference": item.reference}));
                errors.push(Some(e));
            }
        }
    }
    finish(results, is_batch, errors, |r| {
        obj(json!({"valid": r["valid"]}))
    })
}
