//! Plaintext backups in OpenBao's format, so a backup from coffer restores
//! into OpenBao and the other way round: base64 of
//! `{"policy": <keysutil.Policy JSON>, "archived_keys": {"keys": [...]}}`.
//! Symmetric, hmac and ed25519 keys use OpenBao's key entry fields as they
//! are. ECDSA and RSA entries carry coffer's PKCS#8 in `coffer_pkcs8`
//! (OpenBao stores Go big integers there, which coffer does not produce),
//! so those backups restore into coffer only.

use std::collections::BTreeMap;

use coffer_core::logical::Result;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::codec;
use super::keytype::KeyType;
use super::material::{KeyVersion, StoredVersion};
use super::policy::{Policy, PolicyMeta, bad};

/// OpenBao's `KeyType` enumeration values.
const TYPE_CODES: &[(KeyType, i64)] = &[
    (KeyType::Aes256Gcm96, 0),
    (KeyType::EcdsaP256, 1),
    (KeyType::Ed25519, 2),
    (KeyType::Rsa2048, 3),
    (KeyType::Rsa4096, 4),
    (KeyType::ChaCha20Poly1305, 5),
    (KeyType::EcdsaP384, 6),
    (KeyType::EcdsaP521, 7),
    (KeyType::Aes128Gcm96, 8),
    (KeyType::Rsa3072, 9),
    (KeyType::Hmac, 10),
    (KeyType::XChaCha20Poly1305, 11),
];

/// OpenBao's HKDF-SHA256 KDF id.
const KDF_HKDF_SHA256: i64 = 1;
/// OpenBao's current convergent scheme.
const CONVERGENT_VERSION: i64 = 3;

fn entry_json(p: &Policy, kv: &KeyVersion) -> Value {
    let portable = p.kt.is_aead() || matches!(p.kt, KeyType::Hmac | KeyType::Ed25519);
    let mut e = json!({
        "key": if portable { json!(kv.stored.key) } else { Value::Null },
        "hmac_key": kv.stored.hmac_key,
        "time": kv.stored.creation_time,
        "ec_x": null, "ec_y": null, "ec_d": null,
        "rsa_key": null, "rsa_public_key": null,
        "public_key": kv.stored.public_key,
        "convergent_version": if p.meta.convergent_encryption { CONVERGENT_VERSION } else { 0 },
        "creation_time": kv.stored.time,
    });
    if !portable {
        e["coffer_pkcs8"] = json!(kv.stored.key);
    }
    e
}

/// The backup string of `p`.
pub fn encode(p: &Policy) -> String {
    let m = &p.meta;
    let code = TYPE_CODES
        .iter()
        .find(|(k, _)| *k == p.kt)
        .map(|(_, c)| *c)
        .unwrap_or(0);
    let keys: serde_json::Map<String, Value> = p
        .versions
        .iter()
        .filter(|(v, _)| **v >= m.min_decryption_version)
        .map(|(v, kv)| (v.to_string(), entry_json(p, kv)))
        .collect();
    let mut archived = vec![json!({})];
    for ver in 1..=m.latest_version {
        archived.push(
            p.versions
                .get(&ver)
                .map(|kv| entry_json(p, kv))
                .unwrap_or(json!({})),
        );
    }
    let doc = json!({
        "policy": {
            "name": m.name,
            "keys": keys,
            "derived": m.derived,
            "kdf": if m.derived { KDF_HKDF_SHA256 } else { 0 },
            "convergent_encryption": m.convergent_encryption,
            "exportable": m.exportable,
            "min_decryption_version": m.min_decryption_version,
            "min_encryption_version": m.min_encryption_version,
            "latest_version": m.latest_version,
            "archive_version": m.latest_version,
            "archive_min_version": m.min_available_version,
            "min_available_version": m.min_available_version,
            "deletion_allowed": m.deletion_allowed,
            "convergent_version": if m.convergent_encryption { -1 } else { 0 },
            "type": code,
            "backup_info": m.backup_info,
            "restore_info": m.restore_info,
            "allow_plaintext_backup": m.allow_plaintext_backup,
            "version_template": "",
            "storage_prefix": "",
            "auto_rotate_period": m.auto_rotate_period.saturating_mul(1_000_000_000),
            "soft_deleted": m.soft_deleted,
            "imported_key": m.imported_key,
            "allow_imported_key_rotation": m.allow_imported_key_rotation,
            "key_size": m.key_size,
        },
        "archived_keys": {"keys": archived},
    });
    let bytes = Zeroizing::new(serde_json::to_vec(&doc).unwrap_or_default());
    codec::encode(&bytes)
}

fn int(v: &Value, key: &str) -> i64 {
    v.get(key).and_then(Value::as_i64).unwrap_or(0)
}

fn flag(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn unix_of(rfc3339: &str) -> Option<i64> {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

fn version_from(kt: KeyType, e: &Value) -> Result<Option<StoredVersion>> {
    let text = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let key = if kt.is_ecdsa() || kt.is_rsa() {
        text("coffer_pkcs8")
    } else {
        text("key")
    };
    if key.is_empty() && kt.supports_signing() && !text("public_key").is_empty() {
        // A version imported as a public key only.
        if e.get("ec_d").is_none_or(Value::is_null) && e.get("rsa_key").is_none_or(Value::is_null) {
            return Ok(Some(StoredVersion {
                key: String::new(),
                hmac_key: text("hmac_key"),
                time: int(e, "creation_time"),
                creation_time: text("time"),
                public_key: text("public_key"),
            }));
        }
    }
    if key.is_empty() {
        if e.get("ec_d").is_some_and(|d| !d.is_null())
            || e.get("rsa_key").is_some_and(|d| !d.is_null())
        {
            return Err(bad(format!(
                "restoring OpenBao backups of {} keys is not supported by coffer",
                kt.as_str()
            )));
        }
        return Ok(None);
    }
    let created = text("time");
    let unix = match int(e, "creation_time") {
        0 => unix_of(&created).unwrap_or(0),
        n => n,
    };
    Ok(Some(StoredVersion {
        key,
        hmac_key: text("hmac_key"),
        time: unix,
        creation_time: if created.is_empty() {
            crate::ids::rfc3339_unix(unix)
        } else {
            created
        },
        public_key: text("public_key"),
    }))
}

/// Parses a backup made by coffer or by OpenBao.
pub fn decode(backup: &str) -> Result<Policy> {
    let malformed = || bad("invalid backup: not a transit key backup");
    let bytes = Zeroizing::new(codec::decode(backup).map_err(|e| bad(e.to_string()))?);
    let doc: Value = serde_json::from_slice(&bytes).map_err(|_| malformed())?;
    let pol = doc.get("policy").ok_or_else(malformed)?;
    let code = int(pol, "type");
    let kt = TYPE_CODES
        .iter()
        .find(|(_, c)| *c == code)
        .map(|(k, _)| *k)
        .ok_or_else(|| {
            bad(format!(
                "restoring keys of OpenBao type {code} is not supported by coffer"
            ))
        })?;
    let derived = flag(pol, "derived");
    if derived && int(pol, "kdf") != KDF_HKDF_SHA256 {
        return Err(bad(
            "restoring keys derived with the legacy hmac-sha256-counter KDF is not supported",
        ));
    }
    let convergent = flag(pol, "convergent_encryption");
    let mut versions: BTreeMap<u32, StoredVersion> = BTreeMap::new();
    if let Some(list) = doc.pointer("/archived_keys/keys").and_then(Value::as_array) {
        for (ver, e) in list.iter().enumerate().skip(1) {
            if let Some(sv) = version_from(kt, e)? {
                versions.insert(ver as u32, sv);
            }
        }
    }
    if let Some(map) = pol.get("keys").and_then(Value::as_object) {
        for (ver, e) in map {
            let ver: u32 = ver.parse().map_err(|_| malformed())?;
            if convergent && int(e, "convergent_version") != CONVERGENT_VERSION {
                return Err(bad(
                    "restoring keys with an old convergent encryption version is not supported",
                ));
            }
            if let Some(sv) = version_from(kt, e)? {
                versions.insert(ver, sv);
            }
        }
    }
    let u = |k: &str| u32::try_from(int(pol, k)).unwrap_or(0);
    let meta = PolicyMeta {
        name: pol
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        key_type: kt.as_str().to_owned(),
        derived,
        convergent_encryption: convergent,
        exportable: flag(pol, "exportable"),
        allow_plaintext_backup: flag(pol, "allow_plaintext_backup"),
        deletion_allowed: flag(pol, "deletion_allowed"),
        min_decryption_version: u("min_decryption_version"),
        min_encryption_version: u("min_encryption_version"),
        min_available_version: u("min_available_version"),
        latest_version: u("latest_version"),
        auto_rotate_period: u64::try_from(int(pol, "auto_rotate_period") / 1_000_000_000)
            .unwrap_or(0),
        key_size: u("key_size"),
        backup_info: pol.get("backup_info").filter(|v| !v.is_null()).cloned(),
        restore_info: None,
        imported_key: flag(pol, "imported_key"),
        allow_imported_key_rotation: flag(pol, "allow_imported_key_rotation"),
        soft_deleted: flag(pol, "soft_deleted"),
    };
    if meta.latest_version == 0 || !versions.contains_key(&meta.latest_version) {
        return Err(bad("invalid backup: the latest key version is missing"));
    }
    if meta.key_size == 0 && kt == KeyType::Hmac {
        return Err(bad("invalid backup: hmac key without a key size"));
    }
    Policy::from_stored(super::policy::StoredPolicy { meta, versions })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_every_type() {
        for kt in [
            KeyType::Aes256Gcm96,
            KeyType::XChaCha20Poly1305,
            KeyType::Ed25519,
            KeyType::EcdsaP256,
            KeyType::Rsa2048,
        ] {
            let mut p = Policy::create(
                PolicyMeta {
                    name: "k".into(),
                    key_type: kt.as_str().into(),
                    exportable: true,
                    allow_plaintext_backup: true,
                    ..PolicyMeta::default()
                },
                kt,
            )
            .unwrap();
            p.rotate().unwrap();
            let back = decode(&encode(&p)).unwrap();
            assert_eq!(back.meta.latest_version, 2);
            assert_eq!(back.versions[&2].raw(), p.versions[&2].raw(), "{kt:?}");
            assert_eq!(back.versions[&1].hmac_key, p.versions[&1].hmac_key);
        }
        assert!(decode("bm90IGpzb24=").is_err());
    }
}
