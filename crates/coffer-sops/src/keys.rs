//! Master keys and the data key: recovering it from any usable key of each
//! group (Shamir-combined when there are several groups) and protecting it
//! for every key of every group.

pub mod age;
pub mod pgp;
pub mod shamir;
pub mod ssh;
pub mod vault;

use zeroize::Zeroizing;

use crate::cipher::DataKey;
use crate::error::{Error, Result};
use crate::metadata::{KeyGroup, Metadata};
use crate::tree::{Item, Value};

/// A Vault/OpenBao transit key entry.
#[derive(Clone, Debug, PartialEq)]
pub struct VaultKey {
    pub vault_address: String,
    pub engine_path: String,
    pub key_name: String,
    pub created_at: String,
    pub enc: String,
}

impl VaultKey {
    pub fn uri(&self) -> String {
        format!(
            "{}/v1/{}/keys/{}",
            self.vault_address, self.engine_path, self.key_name
        )
    }
}

/// One master-key entry of the metadata. `enc` fields hold ciphertext, not
/// secrets, so Debug output is safe.
#[derive(Clone, Debug, PartialEq)]
pub enum MasterKey {
    Age {
        recipient: String,
        enc: String,
    },
    Pgp {
        fp: String,
        created_at: String,
        enc: String,
    },
    Vault(VaultKey),
    /// A key type we keep but cannot use (AWS/GCP/Azure KMS, HuaweiCloud).
    Other {
        kind: String,
        entry: Value,
    },
}

impl MasterKey {
    pub fn kind(&self) -> &str {
        match self {
            MasterKey::Age { .. } => "age",
            MasterKey::Pgp { .. } => "pgp",
            MasterKey::Vault(_) => "hc_vault",
            MasterKey::Other { kind, .. } => kind,
        }
    }

    /// A human-readable identifier (recipient, fingerprint, URI).
    pub fn id(&self) -> String {
        match self {
            MasterKey::Age { recipient, .. } => recipient.clone(),
            MasterKey::Pgp { fp, .. } => fp.clone(),
            MasterKey::Vault(v) => v.uri(),
            MasterKey::Other { kind, entry } => {
                let Value::Map(items) = entry else {
                    return kind.clone();
                };
                ["arn", "resource_id", "vault_url", "key_id"]
                    .iter()
                    .find_map(|f| crate::tree::get(items, f).and_then(crate::metadata::text))
                    .unwrap_or_else(|| kind.clone())
            }
        }
    }

    pub fn new_age(recipient: &str) -> Self {
        MasterKey::Age {
            recipient: recipient.trim().to_owned(),
            enc: String::new(),
        }
    }

    pub fn new_pgp(fp: &str) -> Self {
        MasterKey::Pgp {
            fp: fp.replace(' ', ""),
            created_at: String::new(),
            enc: String::new(),
        }
    }

    pub fn new_vault(uri: &str) -> Result<Self> {
        vault::parse_uri(uri)
            .map(MasterKey::Vault)
            .map_err(Error::Key)
    }

    pub fn to_value(&self) -> Value {
        let s = |k: &str, v: &str| Item::Pair(k.into(), Value::Str(v.into()));
        match self {
            MasterKey::Age { recipient, enc } => {
                Value::Map(vec![s("enc", enc), s("recipient", recipient)])
            }
            MasterKey::Pgp {
                fp,
                created_at,
                enc,
            } => Value::Map(vec![
                s("created_at", created_at),
                s("enc", enc),
                s("fp", fp),
            ]),
            MasterKey::Vault(v) => Value::Map(vec![
                s("created_at", &v.created_at),
                s("enc", &v.enc),
                s("engine_path", &v.engine_path),
                s("key_name", &v.key_name),
                s("vault_address", &v.vault_address),
            ]),
            MasterKey::Other { entry, .. } => entry.clone(),
        }
    }

    fn decrypt(&self, ctx: &mut KeyContext) -> std::result::Result<Zeroizing<Vec<u8>>, String> {
        match self {
            MasterKey::Age { enc, .. } => age::decrypt(enc, ctx.age_identities()),
            MasterKey::Pgp { enc, .. } => pgp::decrypt(enc, ctx.gnupg_home.as_deref()),
            MasterKey::Vault(v) => vault::decrypt(v),
            MasterKey::Other { kind, .. } => {
                Err(format!("{kind} keys are not supported by coffer"))
            }
        }
    }

    fn encrypt(&mut self, secret: &[u8]) -> Result<()> {
        let now = crate::metadata::now();
        match self {
            MasterKey::Age { recipient, enc } => {
                *enc = age::encrypt(recipient, secret).map_err(Error::Key)?
            }
            MasterKey::Pgp {
                fp,
                created_at,
                enc,
            } => {
                *enc = pgp::encrypt(fp, secret).map_err(Error::Key)?;
                *created_at = now;
            }
            MasterKey::Vault(v) => {
                v.enc = vault::encrypt(v, secret).map_err(Error::Key)?;
                v.created_at = now;
            }
            MasterKey::Other { kind, .. } => {
                return Err(Error::Key(format!(
                    "cannot encrypt the data key for a {kind} key (not supported by coffer); remove it with updatekeys or rotate --rm-*"
                )));
            }
        }
        Ok(())
    }
}

/// Environment for key operations: loaded age identities, decryption order.
pub struct KeyContext {
    identities: Option<age::Identities>,
    pub decryption_order: Vec<String>,
    /// GnuPG home for PGP keys (default: gpg's own, i.e. `GNUPGHOME`).
    pub gnupg_home: Option<std::path::PathBuf>,
}

impl Default for KeyContext {
    fn default() -> Self {
        let order = std::env::var("SOPS_DECRYPTION_ORDER").unwrap_or_else(|_| "age,pgp".into());
        KeyContext::with_order(&order)
    }
}

impl KeyContext {
    pub fn with_order(order: &str) -> Self {
        KeyContext {
            identities: None,
            gnupg_home: None,
            decryption_order: order
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
        }
    }

    /// Uses these identities instead of the environment's.
    pub fn with_identities(mut self, ids: Vec<::age::x25519::Identity>) -> Self {
        self.identities = Some(age::Identities {
            x25519: ids,
            ssh: Vec::new(),
        });
        self
    }

    /// Adds SSH identities (the environment's are then not loaded).
    pub fn with_ssh_identities(mut self, ids: Vec<ssh::Identity>) -> Self {
        self.identities.get_or_insert_with(Default::default).ssh = ids;
        self
    }

    fn age_identities(&mut self) -> &age::Identities {
        self.identities.get_or_insert_with(|| age::Identities {
            x25519: age::load_identities(),
            ssh: age::load_ssh_identities(),
        })
    }

    fn ordered<'a>(&self, g: &'a KeyGroup) -> Vec<&'a MasterKey> {
        let rank = |k: &MasterKey| {
            let kind = if k.kind() == "hc_vault" {
                "hc_vault"
            } else {
                k.kind()
            };
            self.decryption_order
                .iter()
                .position(|o| o == kind)
                .unwrap_or(usize::MAX)
        };
        let mut keys: Vec<&MasterKey> = g.keys.iter().collect();
        keys.sort_by_key(|k| rank(k)); // stable: file order within a rank
        keys
    }
}

/// Recovers the data key from the metadata's master keys.
pub fn recover_data_key(meta: &Metadata, ctx: &mut KeyContext) -> Result<DataKey> {
    let mut errors = Vec::new();
    let mut parts: Vec<Zeroizing<Vec<u8>>> = Vec::new();
    let need = if meta.groups.len() > 1 {
        meta.threshold()
    } else {
        1
    };
    for (gi, g) in meta.groups.iter().enumerate() {
        if parts.len() >= need {
            break;
        }
        for k in ctx.ordered(g) {
            match k.decrypt(ctx) {
                Ok(p) => {
                    parts.push(p);
                    break;
                }
                Err(e) => errors.push(format!("  group {gi}: {} {}: {e}", k.kind(), k.id())),
            }
        }
    }
    let bytes = if meta.groups.len() > 1 {
        if parts.len() < need {
            errors.push(format!(
                "  only {} of the {need} key groups needed could be decrypted",
                parts.len()
            ));
            return Err(Error::DataKey(errors.join("\n")));
        }
        let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
        shamir::combine(&refs).map_err(|e| Error::DataKey(format!("  {e}")))?
    } else {
        parts
            .into_iter()
            .next()
            .ok_or_else(|| Error::DataKey(errors.join("\n")))?
    };
    DataKey::from_slice(&bytes).ok_or_else(|| {
        Error::DataKey(format!(
            "  recovered data key has {} bytes, expected 32",
            bytes.len()
        ))
    })
}

/// Encrypts the data key (or each group's Shamir share) for every key.
pub fn protect_data_key(meta: &mut Metadata, key: &DataKey) -> Result<()> {
    let groups = meta.groups.len();
    if groups == 0 || meta.groups.iter().any(|g| g.keys.is_empty()) {
        return Err(Error::NoKeys);
    }
    if groups == 1 {
        meta.shamir_threshold = None;
        for k in &mut meta.groups[0].keys {
            k.encrypt(key.as_bytes())?;
        }
        return Ok(());
    }
    let threshold = meta.threshold();
    let shares = shamir::split(key.as_bytes(), groups, threshold).map_err(Error::Usage)?;
    meta.shamir_threshold = Some(threshold);
    for (g, share) in meta.groups.iter_mut().zip(shares.iter()) {
        for k in &mut g.keys {
            k.encrypt(share)?;
        }
    }
    Ok(())
}
