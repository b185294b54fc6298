//! Bring-your-own-key as OpenBao does it: `wrapping_key` publishes an
//! RSA-4096 public key; `keys/<name>/import` takes
//! `RSA-OAEP(wrapping key, ephemeral AES-256 key) ‖ AES-KWP(ephemeral, key)`
//! where the key is raw bytes (symmetric, HMAC) or PKCS#8 (asymmetric).

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrapPadded};
use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OAEP_SHA384_MGF1SHA384,
    OAEP_SHA512_MGF1SHA512, OaepAlgorithm, OaepPrivateDecryptingKey, PrivateDecryptingKey,
};
use coffer_core::duration::de_opt_secs;
use coffer_core::fields::{boolean, parse, string};
use coffer_core::logical::{Error, Object, Request, Response, Result};
use serde::Deserialize;
use serde_json::json;
use zeroize::Zeroizing;

use super::Transit;
use super::codec;
use super::keytype::KeyType;
use super::material::{KeyVersion, Secret, random_bytes, secret_from_import};
use super::policy::{Policy, PolicyMeta, bad};
use crate::barrier::View;

/// Storage key of the mount's wrapping key (PKCS#8, base64, in the barrier).
const WRAPPING_KEY: &str = "import/wrapping_key";
/// RSA-4096 OAEP block: the wrapped ephemeral key's length.
const WRAPPED_EPHEMERAL_LEN: usize = 512;

#[derive(Deserialize, Default)]
#[serde(default)]
struct ImportFields {
    #[serde(deserialize_with = "string", rename = "type")]
    key_type: String,
    #[serde(deserialize_with = "string")]
    hash_function: String,
    #[serde(deserialize_with = "string")]
    ciphertext: String,
    #[serde(deserialize_with = "string")]
    public_key: String,
    #[serde(deserialize_with = "boolean")]
    allow_rotation: bool,
    #[serde(deserialize_with = "boolean")]
    derived: bool,
    #[serde(deserialize_with = "boolean")]
    exportable: bool,
    #[serde(deserialize_with = "boolean")]
    allow_plaintext_backup: bool,
    #[serde(deserialize_with = "de_opt_secs")]
    auto_rotate_period: Option<u64>,
}

/// The mount's wrapping key, created on first use.
async fn wrapping_key(t: &Transit, view: &View) -> Result<PrivateDecryptingKey> {
    let _guard = t.lock_for("\0wrapping_key").lock().await;
    if let Some(b64) = view.get_json::<String>(WRAPPING_KEY).await? {
        let der = Zeroizing::new(
            codec::decode(&b64).map_err(|_| Error::internal("malformed wrapping key"))?,
        );
        return PrivateDecryptingKey::from_pkcs8(&der)
            .map_err(|_| Error::internal("malformed wrapping key"));
    }
    let key = tokio::task::spawn_blocking(|| PrivateDecryptingKey::generate(KeySize::Rsa4096))
        .await
        .map_err(|_| Error::internal("wrapping key generation was interrupted"))?
        .map_err(|_| Error::internal("could not generate the wrapping key"))?;
    let der: Pkcs8V1Der = key
        .as_der()
        .map_err(|_| Error::internal("could not encode the wrapping key"))?;
    let b64 = Zeroizing::new(codec::encode(der.as_ref()));
    view.put_json(WRAPPING_KEY, &*b64).await?;
    Ok(key)
}

pub async fn get_wrapping_key(t: &Transit, view: &View) -> Result<Response> {
    let key = wrapping_key(t, view).await?;
    let der = key
        .public_key()
        .as_der()
        .map_err(|_| Error::internal("could not encode the wrapping key"))?;
    let mut data = Object::new();
    data.insert(
        "public_key".into(),
        json!(codec::pem("PUBLIC KEY", der.as_ref())),
    );
    Ok(Response::data(data))
}

fn oaep_alg(name: &str) -> Result<&'static OaepAlgorithm> {
    Ok(match name.to_ascii_uppercase().as_str() {
        "" | "SHA256" => &OAEP_SHA256_MGF1SHA256,
        "SHA1" => &OAEP_SHA1_MGF1SHA1,
        "SHA384" => &OAEP_SHA384_MGF1SHA384,
        "SHA512" => &OAEP_SHA512_MGF1SHA512,
        other => return Err(bad(format!("unsupported hash function: {other}"))),
    })
}

/// The version an import creates: from the wrapped private material, or
/// from `public_key` alone (verification and RSA encryption only). Also
/// returns the HMAC key size for `hmac` keys (0 otherwise).
async fn new_version(
    t: &Transit,
    view: &View,
    kt: KeyType,
    f: &ImportFields,
) -> Result<(KeyVersion, u32)> {
    if f.ciphertext.is_empty() {
        if !kt.supports_signing() {
            return Err(bad(format!(
                "provided type does not support public_key import: {}",
                kt.as_str()
            )));
        }
        return Ok((KeyVersion::from_public(kt, &f.public_key).map_err(bad)?, 0));
    }
    let material = unwrap(t, view, &f.ciphertext, &f.hash_function).await?;
    let size = if kt == KeyType::Hmac {
        material.len() as u32
    } else {
        0
    };
    let secret = secret_from_import(kt, &material).map_err(bad)?;
    let version = KeyVersion::from_secret(kt, secret).map_err(Error::internal)?;
    Ok((version, size))
}

/// Unwraps the imported key material.
async fn unwrap(
    t: &Transit,
    view: &View,
    ciphertext: &str,
    hash: &str,
) -> Result<Zeroizing<Vec<u8>>> {
    let alg = oaep_alg(hash)?;
    let data =
        codec::decode(ciphertext).map_err(|e| bad(format!("error decoding ciphertext: {e}")))?;
    if data.len() <= WRAPPED_EPHEMERAL_LEN {
        return Err(bad("provided ciphertext is too short"));
    }
    let (wrapped_eph, wrapped_key) = data.split_at(WRAPPED_EPHEMERAL_LEN);
    let oaep = OaepPrivateDecryptingKey::new(wrapping_key(t, view).await?)
        .map_err(|_| Error::internal("malformed wrapping key"))?;
    let mut eph = Zeroizing::new(vec![0u8; oaep.min_output_size()]);
    let len = oaep
        .decrypt(alg, wrapped_eph, &mut eph, Some(&[]))
        .map_err(|_| bad("crypto/rsa: decryption error"))?
        .len();
    eph.truncate(len);
    if eph.len() != 32 {
        return Err(bad("expected ephemeral AES key to be 256-bit"));
    }
    let kek = AesKek::new(&AES_256, &eph).map_err(|_| bad("invalid ephemeral key"))?;
    let mut out = Zeroizing::new(vec![0u8; wrapped_key.len()]);
    let len = kek
        .unwrap_with_padding(wrapped_key, &mut out)
        .map_err(|_| bad("failed to unwrap the imported key: integrity check failed"))?
        .len();
    out.truncate(len);
    Ok(out)
}

pub async fn import(t: &Transit, view: &View, req: &Request, name: &str) -> Result<Response> {
    let f: ImportFields = parse(&req.data)?;
    if req.data.contains_key("convergent_encryption") {
        return Err(bad(
            "import cannot be used on keys with convergent encryption enabled",
        ));
    }
    let period = f.auto_rotate_period.unwrap_or(0);
    if period > 0 && !f.allow_rotation {
        return Err(bad(
            "allow_rotation must be set to true if auto-rotation is enabled",
        ));
    }
    if period != 0 && period < 3600 {
        return Err(bad(
            "auto rotate period must be 0 to disable or at least an hour",
        ));
    }
    if f.ciphertext.is_empty() && f.public_key.is_empty() {
        return Err(bad(
            "at least one of 'ciphertext' or 'public_key' must be set",
        ));
    }
    let type_name = if f.key_type.is_empty() {
        "aes256-gcm96"
    } else {
        f.key_type.as_str()
    };
    let kt = KeyType::parse(&type_name.to_ascii_lowercase())
        .ok_or_else(|| bad(format!("unknown key type: {type_name}")))?;
    if f.derived && !kt.supports_derivation() {
        return Err(bad(format!(
            "key derivation and convergent encryption not supported for keys of type {}",
            kt.as_str()
        )));
    }
    if t.get(view, name).await?.is_some() {
        return Err(bad(
            "the import path cannot be used with an existing key; use import-version to rotate an existing imported key",
        ));
    }
    let (version, hmac_size) = new_version(t, view, kt, &f).await?;
    let meta = PolicyMeta {
        name: name.to_owned(),
        key_type: kt.as_str().to_owned(),
        derived: f.derived,
        exportable: f.exportable,
        allow_plaintext_backup: f.allow_plaintext_backup,
        auto_rotate_period: period,
        key_size: hmac_size,
        latest_version: 1,
        min_decryption_version: 1,
        imported_key: true,
        allow_imported_key_rotation: f.allow_rotation,
        ..PolicyMeta::default()
    };
    let policy = Policy {
        meta,
        kt,
        versions: [(1, std::sync::Arc::new(version))].into_iter().collect(),
    };
    let (_, created) = t.get_or_create(view, name, || Ok(policy)).await?;
    if !created {
        return Err(bad(
            "the import path cannot be used with an existing key; use import-version to rotate an existing imported key",
        ));
    }
    Ok(Response::empty())
}

/// `keys/<name>/import_version`: a new latest version from wrapped material.
pub async fn import_version(
    t: &Transit,
    view: &View,
    req: &Request,
    name: &str,
) -> Result<Response> {
    let f: ImportFields = parse(&req.data)?;
    let p = t.get(view, name).await?.ok_or_else(|| {
        bad(format!(
            "no key found with name {name}; to import a new key, use the import/ endpoint"
        ))
    })?;
    if !p.meta.imported_key {
        return Err(bad(
            "the import_version endpoint can only be used with an imported key",
        ));
    }
    if p.meta.convergent_encryption {
        return Err(bad(
            "import_version cannot be used on keys with convergent encryption enabled",
        ));
    }
    if req.data.contains_key("version") {
        return Err(bad(
            "coffer imports private keys only, so existing versions cannot be updated; omit 'version' to add a new one",
        ));
    }
    if f.ciphertext.is_empty() && f.public_key.is_empty() {
        return Err(bad(
            "at least one of 'ciphertext' or 'public_key' must be set",
        ));
    }
    p.usable()?;
    let kt = p.kt;
    let (version, hmac_size) = new_version(t, view, kt, &f).await?;
    if kt == KeyType::Hmac && hmac_size != p.meta.key_size {
        return Err(bad(format!(
            "invalid key size {hmac_size} bytes for key type hmac"
        )));
    }
    t.update(view, name, |p| {
        p.usable()?;
        p.add_version(version);
        Ok(())
    })
    .await?;
    Ok(Response::empty())
}

/// The material a version exports for BYOK: the raw key for symmetric and
/// HMAC keys, PKCS#8 for asymmetric ones.
fn byok_material(kv: &KeyVersion) -> Result<Zeroizing<Vec<u8>>> {
    Ok(match &kv.secret {
        Secret::Sym { raw, .. } | Secret::Hmac(raw) => raw.clone(),
        Secret::Ed25519 { pair, .. } => Zeroizing::new(
            pair.to_pkcs8v1()
                .map_err(|_| Error::internal("could not encode the ed25519 key"))?
                .as_ref()
                .to_vec(),
        ),
        Secret::Ecdsa { pkcs8, .. } | Secret::Rsa { pkcs8, .. } => pkcs8.clone(),
        Secret::Public { .. } => {
            return Err(bad(
                "failed to wrap target key for import: the key version has no private part",
            ));
        }
    })
}

/// `byok-export/<destination>/<source>[/<version>]`: the source key's
/// versions wrapped for the destination RSA key, in the import format.
pub async fn byok_export(
    t: &Transit,
    view: &View,
    req: &Request,
    caps: &coffer_core::paths::Captures,
) -> Result<Response> {
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct F {
        #[serde(deserialize_with = "string")]
        hash: String,
    }
    let f: F = parse(&req.data)?;
    let alg = oaep_alg(&f.hash)?;
    let dst = t
        .get(view, caps.get("destination"))
        .await?
        .ok_or_else(|| bad("no such destination key to export to"))?;
    if dst.meta.soft_deleted {
        return Err(bad("for destination key: refusing to use soft-deleted key"));
    }
    let src = t
        .get(view, caps.get("source"))
        .await?
        .ok_or_else(|| bad("no such source key for export"))?;
    if !src.meta.exportable {
        return Err(bad("key is not exportable"));
    }
    if src.meta.soft_deleted {
        return Err(bad("for source key: refusing to use soft-deleted key"));
    }
    if !dst.kt.supports_signing() {
        return Err(bad(format!(
            "key wrapping (requring message signing) is not supported for key type {}",
            dst.kt.as_str()
        )));
    }
    let wrapping = match &dst.version(dst.meta.latest_version)?.secret {
        Secret::Rsa { enc, .. } | Secret::Public { enc: Some(enc), .. } => enc,
        _ => return Err(bad("unsupported key type in use; must be a rsa key")),
    };
    let versions: Vec<u32> = match caps.get("version") {
        "" => src
            .versions
            .keys()
            .copied()
            .filter(|v| *v >= src.meta.min_decryption_version)
            .collect(),
        v => {
            let ver: u32 = if v == "latest" {
                src.meta.latest_version
            } else {
                v.trim_start_matches('v')
                    .parse()
                    .map_err(|_| bad("invalid key version"))?
            };
            if ver < src.meta.min_decryption_version {
                return Err(bad(
                    "version for export is below minimum decryption version",
                ));
            }
            if !src.versions.contains_key(&ver) {
                return Err(bad("version does not exist or cannot be found"));
            }
            vec![ver]
        }
    };
    let mut keys = serde_json::Map::new();
    for ver in versions {
        let material = byok_material(src.version(ver)?)?;
        let eph = random_bytes(32).map_err(Error::internal)?;
        let mut wrapped_eph = vec![0u8; wrapping.ciphertext_size()];
        let wrapped_eph = wrapping
            .encrypt(alg, &eph, &mut wrapped_eph, None)
            .map_err(|_| Error::internal("failed to encrypt the ephemeral wrapping key"))?
            .to_vec();
        let kek =
            AesKek::new(&AES_256, &eph).map_err(|_| Error::internal("invalid ephemeral key"))?;
        let mut out = vec![0u8; material.len() + 16];
        let wrapped_key = kek
            .wrap_with_padding(&material, &mut out)
            .map_err(|_| Error::internal("failed to wrap target key with KWP"))?;
        let mut blob = wrapped_eph;
        blob.extend_from_slice(wrapped_key);
        keys.insert(ver.to_string(), json!(codec::encode(&blob)));
    }
    let mut data = Object::new();
    data.insert("keys".into(), serde_json::Value::Object(keys));
    data.insert("name".into(), json!(src.meta.name));
    data.insert("type".into(), json!(src.kt.as_str()));
    Ok(Response::data(data))
}
