//! A named transit key ("policy" in OpenBao's words): its configuration, its
//! versions, the persisted form, and the KEY shape reads return.

use std::collections::BTreeMap;
use std::sync::Arc;

use coffer_core::logical::{Error, Object, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::keytype::KeyType;
use super::material::{KeyVersion, StoredVersion};

/// Too-old ciphertext or signature (OpenBao's `ErrTooOld`).
pub const ERR_TOO_OLD: &str = "ciphertext or signature version is disallowed by policy (too old)";

/// Everything about a key except its versions.
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct PolicyMeta {
    pub name: String,
    #[serde(rename = "type")]
    pub key_type: String,
    pub derived: bool,
    pub convergent_encryption: bool,
    pub exportable: bool,
    pub allow_plaintext_backup: bool,
    pub deletion_allowed: bool,
    pub min_decryption_version: u32,
    pub min_encryption_version: u32,
    pub min_available_version: u32,
    pub latest_version: u32,
    /// Seconds; 0 disables automatic rotation.
    pub auto_rotate_period: u64,
    /// HMAC key size in bytes (hmac keys only).
    pub key_size: u32,
    pub backup_info: Option<Value>,
    pub restore_info: Option<Value>,
    /// The key material came from `keys/<name>/import`.
    pub imported_key: bool,
    /// Imported keys rotate only when this was set at import.
    pub allow_imported_key_rotation: bool,
    /// Soft-deleted keys are kept but refuse every cryptographic use.
    pub soft_deleted: bool,
}

/// The persisted form (one barrier entry per key, at `policy/<name>`).
#[derive(Serialize, Deserialize)]
pub struct StoredPolicy {
    #[serde(flatten)]
    pub meta: PolicyMeta,
    pub versions: BTreeMap<u32, StoredVersion>,
}

/// A loaded key: immutable once shared; changes build a new one.
#[derive(Clone, Debug)]
pub struct Policy {
    pub meta: PolicyMeta,
    pub kt: KeyType,
    pub versions: BTreeMap<u32, Arc<KeyVersion>>,
}

/// Generates a key version on the blocking pool (RSA generation takes from
/// tens of milliseconds to seconds and must not stall the async workers).
pub async fn generate_version(kt: KeyType, size: u32) -> Result<KeyVersion> {
    tokio::task::spawn_blocking(move || KeyVersion::generate(kt, size as usize))
        .await
        .map_err(|_| Error::internal("key generation was interrupted"))?
        .map_err(Error::internal)
}

pub fn bad(msg: impl Into<String>) -> Error {
    Error::BadRequest(msg.into())
}

impl Policy {
    /// A new key with its first version.
    pub fn create(meta: PolicyMeta, kt: KeyType) -> Result<Policy> {
        let version = KeyVersion::generate(kt, meta.key_size as usize).map_err(Error::internal)?;
        Ok(Policy::create_with(meta, kt, version))
    }

    /// A new key whose first version is `version`.
    pub fn create_with(meta: PolicyMeta, kt: KeyType, version: KeyVersion) -> Policy {
        let mut p = Policy {
            meta,
            kt,
            versions: BTreeMap::new(),
        };
        p.add_version(version);
        p
    }

    pub fn from_stored(stored: StoredPolicy) -> Result<Policy> {
        let kt = KeyType::parse(&stored.meta.key_type)
            .ok_or_else(|| Error::internal("stored transit key has an unknown type"))?;
        let mut versions = BTreeMap::new();
        for (v, sv) in stored.versions {
            versions.insert(
                v,
                Arc::new(KeyVersion::load(kt, sv).map_err(Error::internal)?),
            );
        }
        Ok(Policy {
            meta: stored.meta,
            kt,
            versions,
        })
    }

    pub fn to_stored(&self) -> StoredPolicy {
        StoredPolicy {
            meta: self.meta.clone(),
            versions: self
                .versions
                .iter()
                .map(|(v, k)| (*v, k.stored.clone()))
                .collect(),
        }
    }

    /// Adds a new latest version.
    pub fn rotate(&mut self) -> Result<()> {
        self.check_rotatable()?;
        let version =
            KeyVersion::generate(self.kt, self.meta.key_size as usize).map_err(Error::internal)?;
        self.add_version(version);
        Ok(())
    }

    /// Refuses any use of a soft-deleted key (OpenBao's `ErrSoftDeleted`).
    pub fn usable(&self) -> Result<()> {
        if self.meta.soft_deleted {
            return Err(bad("refusing to use soft-deleted key"));
        }
        Ok(())
    }

    /// Imported keys rotate only when the import allowed it.
    pub fn check_rotatable(&self) -> Result<()> {
        self.usable()?;
        if self.meta.imported_key && !self.meta.allow_imported_key_rotation {
            return Err(bad(format!(
                "imported key {} does not allow rotation within Vault",
                self.meta.name
            )));
        }
        Ok(())
    }

    /// Appends `version` as the new latest version.
    pub fn add_version(&mut self, version: KeyVersion) {
        self.meta.latest_version += 1;
        self.versions
            .insert(self.meta.latest_version, Arc::new(version));
        if self.meta.min_decryption_version == 0 {
            self.meta.min_decryption_version = 1;
        }
    }

    /// Is automatic rotation due?
    pub fn rotation_due(&self, now: i64) -> bool {
        let period = self.meta.auto_rotate_period;
        if period == 0 || (self.meta.imported_key && !self.meta.allow_imported_key_rotation) {
            return false;
        }
        let last = self
            .versions
            .get(&self.meta.latest_version)
            .map(|v| v.stored.time)
            .unwrap_or(0);
        now.saturating_sub(last) >= period as i64
    }

    /// The version an encrypting/signing operation uses (0 = latest).
    pub fn encryption_version(&self, requested: i64, what: &str) -> Result<u32> {
        let latest = i64::from(self.meta.latest_version);
        let v = match requested {
            0 => latest,
            n if n < 0 => return Err(bad(format!("requested version for {what} is negative"))),
            n if n > latest => {
                return Err(bad(format!(
                    "requested version for {what} is higher than the latest key version"
                )));
            }
            n if n < i64::from(self.meta.min_encryption_version) => {
                return Err(bad(format!(
                    "requested version for {what} is less than the minimum encryption key version"
                )));
            }
            n => n,
        };
        Ok(v as u32)
    }

    /// A version usable for decryption/verification of data tagged `ver`.
    pub fn decryption_version(&self, ver: u32, what: &str) -> Result<&Arc<KeyVersion>> {
        let ver = ver.max(1);
        if ver > self.meta.latest_version {
            return Err(bad(format!("invalid {what}: version is too new")));
        }
        if self.meta.min_decryption_version > 0 && ver < self.meta.min_decryption_version {
            return Err(bad(ERR_TOO_OLD));
        }
        self.versions.get(&ver).ok_or_else(|| {
            bad(format!(
                "invalid {what}: key version {ver} has been trimmed"
            ))
        })
    }

    pub fn version(&self, ver: u32) -> Result<&Arc<KeyVersion>> {
        self.versions
            .get(&ver)
            .ok_or_else(|| bad("invalid key version"))
    }

    /// The KEY object reads, creates, rotates and config writes return.
    pub fn to_json(&self, derived_pub: impl Fn(u32) -> Option<String>) -> Object {
        let m = &self.meta;
        let kt = self.kt;
        let mut d: BTreeMap<&str, Value> = BTreeMap::new();
        d.insert("name", json!(m.name));
        d.insert("type", json!(kt.as_str()));
        d.insert("derived", json!(m.derived));
        d.insert("deletion_allowed", json!(m.deletion_allowed));
        d.insert("min_available_version", json!(m.min_available_version));
        d.insert("min_decryption_version", json!(m.min_decryption_version));
        d.insert("min_encryption_version", json!(m.min_encryption_version));
        d.insert("latest_version", json!(m.latest_version));
        d.insert("exportable", json!(m.exportable));
        d.insert("allow_plaintext_backup", json!(m.allow_plaintext_backup));
        d.insert("supports_encryption", json!(kt.supports_encryption()));
        d.insert("supports_decryption", json!(kt.supports_encryption()));
        d.insert("supports_signing", json!(kt.supports_signing()));
        d.insert("supports_derivation", json!(kt.supports_derivation()));
        d.insert("auto_rotate_period", json!(m.auto_rotate_period));
        d.insert("imported_key", json!(m.imported_key));
        if m.imported_key {
            d.insert(
                "imported_key_allow_rotation",
                json!(m.allow_imported_key_rotation),
            );
        }
        d.insert("soft_deleted", json!(m.soft_deleted));
        if m.key_size != 0 {
            d.insert("key_size", json!(m.key_size));
        }
        if let Some(b) = &m.backup_info {
            d.insert("backup_info", b.clone());
        }
        if let Some(r) = &m.restore_info {
            d.insert("restore_info", r.clone());
        }
        if m.derived {
            d.insert("kdf", json!("hkdf_sha256"));
            d.insert("convergent_encryption", json!(m.convergent_encryption));
            if m.convergent_encryption {
                d.insert("convergent_encryption_version", json!(-1));
            }
        }
        let shown = self
            .versions
            .iter()
            .filter(|(v, _)| **v >= m.min_decryption_version);
        if kt.is_aead() {
            let keys: BTreeMap<String, Value> = shown
                .map(|(v, k)| (v.to_string(), json!(k.stored.time)))
                .collect();
            d.insert("keys", json!(keys));
        } else if kt.supports_signing() {
            let keys: BTreeMap<String, Value> = shown
                .map(|(v, k)| {
                    let public_key = if kt == KeyType::Ed25519 && m.derived {
                        derived_pub(*v).unwrap_or_default()
                    } else {
                        k.stored.public_key.clone()
                    };
                    let entry = json!({
                        "certificate_chain": "",
                        "creation_time": k.stored.creation_time,
                        "name": kt.version_name(),
                        "public_key": public_key,
                    });
                    (v.to_string(), entry)
                })
                .collect();
            d.insert("keys", json!(keys));
        }
        d.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(kt: KeyType) -> PolicyMeta {
        PolicyMeta {
            name: "k".into(),
            key_type: kt.as_str().into(),
            ..PolicyMeta::default()
        }
    }

    #[test]
    fn key_json_is_sorted_and_complete() {
        let p = Policy::create(meta(KeyType::Aes256Gcm96), KeyType::Aes256Gcm96).unwrap();
        let j = p.to_json(|_| None);
        let keys: Vec<&String> = j.keys().collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert_eq!(j["latest_version"], 1);
        assert_eq!(j["min_decryption_version"], 1);
        assert!(j["keys"]["1"].is_i64());
        assert!(!j.contains_key("kdf"));
    }

    #[test]
    fn rotation_falls_due_after_the_period() {
        let mut p = Policy::create(meta(KeyType::Aes256Gcm96), KeyType::Aes256Gcm96).unwrap();
        let created = p.versions[&1].stored.time;
        assert!(!p.rotation_due(created + 10_000_000));
        p.meta.auto_rotate_period = 3600;
        assert!(!p.rotation_due(created + 3599));
        assert!(p.rotation_due(created + 3600));
    }

    #[test]
    fn versions_and_limits() {
        let mut p = Policy::create(meta(KeyType::Aes128Gcm96), KeyType::Aes128Gcm96).unwrap();
        p.rotate().unwrap();
        assert_eq!(p.encryption_version(0, "encryption").unwrap(), 2);
        assert!(p.encryption_version(3, "encryption").is_err());
        p.meta.min_decryption_version = 2;
        p.meta.min_encryption_version = 2;
        assert_eq!(
            p.decryption_version(1, "ciphertext").unwrap_err(),
            bad(ERR_TOO_OLD)
        );
        assert_eq!(
            p.encryption_version(1, "encryption").unwrap_err(),
            bad("requested version for encryption is less than the minimum encryption key version")
        );
        let stored = p.to_stored();
        let back = Policy::from_stored(stored).unwrap();
        assert_eq!(back.versions[&1].raw(), p.versions[&1].raw());
        assert_eq!(back.to_json(|_| None)["keys"].as_object().unwrap().len(), 1);
    }
}
