//! Key management handlers: create/read/list/delete, config, rotate, trim,
//! export, backup and restore.

use coffer_core::fields::parse;
use coffer_core::logical::{Error, Object, Request, Response, Result};
use coffer_core::paths::Captures;
use serde_json::{Value, json};

use super::Transit;
use super::backup;
use super::codec;
use super::fields::{KeyFields, b64};
use super::keytype::KeyType;
use super::material::Secret;
use super::policy::{Policy, PolicyMeta, bad, generate_version};
use super::sign::derived_public_key;
use crate::barrier::View;
use coffer_core::logical::Operation;

/// HMAC key sizes OpenBao accepts (bytes).
const HMAC_MIN: i64 = 32;
const HMAC_MAX: i64 = 512;

fn key_response(p: &Policy, context: &[u8]) -> Response {
    let data = p.to_json(|ver| {
        if context.is_empty() {
            Some(String::new())
        } else {
            derived_public_key(p, ver, context)
        }
    });
    Response::data(data)
}

pub async fn list(view: &View) -> Result<Response> {
    let keys = view.list("policy/").await?;
    if keys.is_empty() {
        return Err(Error::NotFound);
    }
    Ok(Response::list(keys))
}

fn valid_name(name: &str) -> Result<()> {
    if name.is_empty() || name.contains('/') {
        return Err(bad("invalid key name"));
    }
    Ok(())
}

/// Validates a create request: the new key's settings and type.
fn new_policy(name: &str, f: &KeyFields) -> Result<(PolicyMeta, KeyType)> {
    let type_name = if f.key_type.is_empty() {
        "aes256-gcm96"
    } else {
        f.key_type.as_str()
    };
    let kt =
        KeyType::parse(type_name).ok_or_else(|| bad(format!("unknown key type {type_name}")))?;
    let period = f.auto_rotate_period.unwrap_or(0);
    if period != 0 && period < 3600 {
        return Err(bad(
            "auto rotate period must be 0 to disable or at least an hour",
        ));
    }
    if f.convergent_encryption && !f.derived {
        return Err(bad(
            "convergent encryption requires derivation to be enabled",
        ));
    }
    if f.derived && !kt.supports_derivation() {
        return Err(bad(format!(
            "key derivation and convergent encryption not supported for keys of type {type_name}"
        )));
    }
    if f.convergent_encryption && !kt.is_aead() {
        return Err(bad(format!(
            "convergent encryption not supported for keys of type {type_name}"
        )));
    }
    let key_size = match (kt, f.key_size) {
        (KeyType::Hmac, n) if n != 0 && !(HMAC_MIN..=HMAC_MAX).contains(&n) => {
            return Err(bad(format!("invalid key_size {n}")));
        }
        (KeyType::Hmac, n) if !(HMAC_MIN..=HMAC_MAX).contains(&n) => {
            return Err(bad(format!(
                "1 error occurred:\n\t* invalid key size for HMAC key, must be between {HMAC_MIN} and {HMAC_MAX} bytes\n\n"
            )));
        }
        (KeyType::Hmac, n) => n as u32,
        (_, 0) => 0,
        _ => {
            return Err(bad(format!(
                "key_size is not valid for algorithm {type_name}"
            )));
        }
    };
    Ok((
        PolicyMeta {
            name: name.to_owned(),
            key_type: kt.as_str().to_owned(),
            derived: f.derived,
            convergent_encryption: f.convergent_encryption,
            exportable: f.exportable.unwrap_or(false),
            allow_plaintext_backup: f.allow_plaintext_backup.unwrap_or(false),
            auto_rotate_period: period,
            key_size,
            ..PolicyMeta::default()
        },
        kt,
    ))
}

pub async fn key(t: &Transit, view: &View, req: &Request, caps: &Captures) -> Result<Response> {
    let name = caps.get("name");
    valid_name(name)?;
    let f: KeyFields = parse(&req.data)?;
    match req.operation {
        Operation::Read => {
            let p = t.get(view, name).await?.ok_or(Error::NotFound)?;
            let context = if f.context.is_empty() {
                Vec::new()
            } else {
                b64(&f.context).map_err(|_| bad("failed to base64-decode context"))?
            };
            Ok(key_response(&p, &context))
        }
        Operation::Delete => {
            let p = t.get(view, name).await?.ok_or_else(|| {
                bad(format!(
                    "error deleting policy {name}: could not delete key; not found"
                ))
            })?;
            if !p.meta.deletion_allowed {
                return Err(bad(format!(
                    "error deleting policy {name}: deletion is not allowed for this key"
                )));
            }
            t.remove(view, name).await?;
            Ok(Response::empty())
        }
        _ => {
            // OpenBao 2.7.2 answers an existing key as it is, without a warning.
            if let Some(p) = t.get(view, name).await? {
                return Ok(key_response(&p, &[]));
            }
            let (meta, kt) = new_policy(name, &f)?;
            let version = generate_version(kt, meta.key_size).await?;
            let (p, _created) = t
                .get_or_create(view, name, || Ok(Policy::create_with(meta, kt, version)))
                .await?;
            Ok(key_response(&p, &[]))
        }
    }
}

pub async fn config(t: &Transit, view: &View, req: &Request, name: &str) -> Result<Response> {
    let f: KeyFields = parse(&req.data)?;
    if t.get(view, name).await?.is_none() {
        return Err(bad(format!("no existing key named {name} could be found")));
    }
    let p = t
        .update(view, name, |p| {
            let latest = i64::from(p.meta.latest_version);
            if let Some(v) = f.min_decryption_version {
                if v < 0 {
                    return Err(bad("min decryption version cannot be negative"));
                }
                let v = if v == 0 { 1 } else { v };
                if v > latest {
                    return Err(bad(format!(
                        "cannot set min decryption version of {v}, latest key version is {latest}"
                    )));
                }
                p.meta.min_decryption_version = v as u32;
            }
            if let Some(v) = f.min_encryption_version {
                if v < 0 {
                    return Err(bad("min encryption version cannot be negative"));
                }
                if v > latest {
                    return Err(bad(format!(
                        "cannot set min encryption version of {v}, latest key version is {latest}"
                    )));
                }
                p.meta.min_encryption_version = v as u32;
            }
            let (enc, dec) = (p.meta.min_encryption_version, p.meta.min_decryption_version);
            if enc > 0 && enc < dec {
                return Err(bad(format!(
                    "cannot set min encryption/decryption values; min encryption version of {enc} must be greater than or equal to min decryption version of {dec}"
                )));
            }
            if let Some(v) = f.deletion_allowed {
                p.meta.deletion_allowed = v;
            }
            // Like OpenBao, these can be switched on but never off (false is ignored).
            p.meta.exportable |= f.exportable.unwrap_or(false);
            p.meta.allow_plaintext_backup |= f.allow_plaintext_backup.unwrap_or(false);
            if let Some(v) = f.auto_rotate_period {
                if v != 0 && v < 3600 {
                    return Err(bad("auto rotate period must be 0 to disable or at least an hour"));
                }
                p.meta.auto_rotate_period = v;
            }
            let avail = p.meta.min_available_version;
            if enc > 0 && enc < avail {
                return Err(bad("min encryption version should not be less than min available version"));
            }
            if dec < avail {
                return Err(bad("min decryption version should not be less then min available version"));
            }
            Ok(())
        })
        .await?;
    Ok(key_response(&p, &[]))
}

pub async fn rotate(t: &Transit, view: &View, name: &str) -> Result<Response> {
    let current = t
        .get(view, name)
        .await?
        .ok_or_else(|| bad("key not found"))?;
    current.check_rotatable()?;
    let version = generate_version(current.kt, current.meta.key_size).await?;
    let p = t
        .update(view, name, |p| {
            p.check_rotatable()?;
            p.add_version(version);
            Ok(())
        })
        .await?;
    Ok(key_response(&p, &[]))
}

pub async fn trim(t: &Transit, view: &View, req: &Request, name: &str) -> Result<Response> {
    let f: KeyFields = parse(&req.data)?;
    let min = f
        .min_available_version
        .ok_or_else(|| bad("missing min_available_version"))?;
    if t.get(view, name).await?.is_none() {
        return Err(bad("invalid key name"));
    }
    let p = t
        .update(view, name, |p| {
            let m = &p.meta;
            let (enc, dec) = (i64::from(m.min_encryption_version), i64::from(m.min_decryption_version));
            if min < i64::from(m.min_available_version) {
                return Err(bad("minimum available version cannot be decremented"));
            }
            if enc == 0 {
                return Err(bad("minimum available version cannot be set when minimum encryption version is not set"));
            }
            if dec == 0 {
                return Err(bad("minimum available version cannot be set when minimum decryption version is not set"));
            }
            if min > enc {
                return Err(bad("minimum available version cannot be greater than minmum encryption version"));
            }
            if min > dec {
                return Err(bad("minimum available version cannot be greater than minimum decryption version"));
            }
            if min < 0 {
                return Err(bad("minimum available version cannot be negative"));
            }
            if min == 0 {
                return Err(bad("minimum available version should be positive"));
            }
            p.meta.min_available_version = min as u32;
            p.versions.retain(|v, _| i64::from(*v) >= min);
            Ok(())
        })
        .await?;
    Ok(key_response(&p, &[]))
}

/// One exported value in OpenBao's formats.
fn export_value(p: &Policy, ver: u32, kind: &str) -> Result<String> {
    let kv = p.version(ver)?;
    Ok(match (kind, &kv.secret) {
        // OpenBao exports an empty string for a version without a private part.
        ("encryption-key" | "signing-key", Secret::Public { .. }) => String::new(),
        ("public-key", Secret::Public { .. }) if p.kt.is_ecdsa() => {
            kv.stored.public_key.trim_end().to_owned()
        }
        ("public-key", Secret::Public { .. }) => kv.stored.public_key.clone(),
        ("hmac-key", _) => codec::encode(&kv.hmac_key),
        ("encryption-key", Secret::Sym { raw, .. }) => codec::encode(raw),
        ("encryption-key" | "signing-key", Secret::Rsa { pkcs8, .. }) => codec::pem(
            "RSA PRIVATE KEY",
            codec::pkcs8_inner_key(pkcs8).ok_or_else(|| Error::internal("malformed RSA key"))?,
        ),
        ("signing-key", Secret::Ed25519 { raw, .. }) => codec::encode(raw),
        ("signing-key", Secret::Ecdsa { pair, .. }) => {
            use aws_lc_rs::encoding::AsDer;
            let der = pair
                .private_key()
                .as_der()
                .map_err(|_| Error::internal("could not encode the EC key"))?;
            codec::pem("EC PRIVATE KEY", der.as_ref())
                .trim_end()
                .to_owned()
        }
        ("public-key", Secret::Ed25519 { .. }) => kv.stored.public_key.clone(),
        ("public-key", Secret::Ecdsa { .. }) => kv.stored.public_key.trim_end().to_owned(),
        ("public-key", Secret::Rsa { .. }) => kv.stored.public_key.clone(),
        _ => {
            return Err(bad(format!(
                "unknown key type {} for export type {kind}",
                p.kt.as_str()
            )));
        }
    })
}

pub async fn export(t: &Transit, view: &View, req: &Request, caps: &Captures) -> Result<Response> {
    let kind = caps.get("type");
    if !matches!(
        kind,
        "encryption-key" | "signing-key" | "hmac-key" | "public-key"
    ) {
        return Err(bad(format!("invalid export type: {kind}")));
    }
    let f: KeyFields = parse(&req.data)?;
    if !f.format.is_empty() {
        return Err(bad(format!("invalid format: {}", f.format)));
    }
    let p = t
        .get(view, caps.get("name"))
        .await?
        .ok_or(Error::NotFound)?;
    if !p.meta.exportable && kind != "public-key" {
        return Err(bad("private key material is not exportable"));
    }
    p.usable()?;
    match kind {
        "encryption-key" if !p.kt.supports_encryption() => {
            return Err(bad("encryption not supported for the key"));
        }
        "signing-key" if !p.kt.supports_signing() => {
            return Err(bad("signing not supported for the key"));
        }
        "public-key" if !p.kt.supports_signing() => {
            return Err(bad(format!(
                "unknown key type {} for export type public-key",
                p.kt.as_str()
            )));
        }
        _ => {}
    }
    let mut keys = serde_json::Map::new();
    match caps.get("version") {
        "" => {
            for ver in p
                .versions
                .keys()
                .filter(|v| **v >= p.meta.min_decryption_version)
            {
                keys.insert(ver.to_string(), json!(export_value(&p, *ver, kind)?));
            }
        }
        v => {
            let ver: u32 = if v == "latest" {
                p.meta.latest_version
            } else {
                v.trim_start_matches('v')
                    .parse()
                    .map_err(|_| bad("invalid key version"))?
            };
            if ver < p.meta.min_decryption_version {
                return Err(bad(
                    "version for export is below minimum decryption version",
                ));
            }
            if !p.versions.contains_key(&ver) {
                return Err(bad("version does not exist or cannot be found"));
            }
            keys.insert(ver.to_string(), json!(export_value(&p, ver, kind)?));
        }
    }
    let mut data = Object::new();
    data.insert("keys".into(), Value::Object(keys));
    data.insert("name".into(), json!(p.meta.name));
    data.insert("type".into(), json!(p.kt.as_str()));
    Ok(Response::data(data))
}

pub async fn backup(t: &Transit, view: &View, name: &str) -> Result<Response> {
    let p = t
        .get(view, name)
        .await?
        .ok_or_else(|| bad(format!("key {name:?} not found")))?;
    p.usable()?;
    if !p.meta.exportable {
        return Err(Error::Status(
            500,
            "1 error occurred:\n\t* exporting is disallowed on the policy\n\n".into(),
        ));
    }
    if !p.meta.allow_plaintext_backup {
        return Err(Error::Status(
            500,
            "1 error occurred:\n\t* plaintext backup is disallowed on the policy\n\n".into(),
        ));
    }
    let now = crate::ids::rfc3339_now();
    let version = p.meta.latest_version;
    let p = t
        .update(view, name, |p| {
            p.meta.backup_info = Some(json!({"time": now, "version": version}));
            Ok(())
        })
        .await?;
    let mut data = Object::new();
    data.insert("backup".into(), json!(backup::encode(&p)));
    Ok(Response::data(data))
}

pub async fn restore(t: &Transit, view: &View, req: &Request, url_name: &str) -> Result<Response> {
    let f: KeyFields = parse(&req.data)?;
    if f.backup.is_empty() {
        return Err(bad("'backup' must be supplied"));
    }
    let name = if url_name.is_empty() {
        f.name.as_str()
    } else {
        url_name
    };
    if name.contains('/') {
        return Err(bad("key names cannot be paths"));
    }
    let mut p = backup::decode(&f.backup)?;
    if !name.is_empty() {
        p.meta.name = name.to_owned();
    }
    p.meta.restore_info = Some(json!({
        "time": crate::ids::rfc3339_now(),
        "version": p.meta.latest_version,
    }));
    t.put_restored(view, p, f.force).await?;
    Ok(Response::empty())
}

/// `keys/<name>/soft-delete` (`restore = false`) and `soft-delete-restore`.
pub async fn soft_delete(t: &Transit, view: &View, name: &str, restore: bool) -> Result<Response> {
    let Some(current) = t.get(view, name).await? else {
        return Ok(Response::empty());
    };
    let changed = current.meta.soft_deleted == restore;
    let p = t
        .update(view, name, |p| {
            p.meta.soft_deleted = !restore;
            Ok(())
        })
        .await?;
    let mut resp = key_response(&p, &[]);
    if !changed {
        resp.warnings.push(
            if restore {
                "key was already restored"
            } else {
                "key was already marked as soft deleted"
            }
            .to_owned(),
        );
    }
    Ok(resp)
}
