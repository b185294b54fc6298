//! Whole-file operations: decrypt an encrypted file (MAC verified), encrypt
//! a plaintext tree with a data key, and re-encrypt after edits (same data
//! key, IVs of unchanged values reused, new `lastmodified` and MAC).

use crate::cipher::{self, DataKey, IvCache, ValueType};
use crate::error::{Error, Result};
use crate::format::{self, Format, Style};
use crate::keys::{self, KeyContext};
use crate::metadata::{self, Metadata};
use crate::rules::{Rule, RuleFields};
use crate::tree::Branch;
use crate::walk;

/// A decrypted file: plaintext branches plus what is needed to re-encrypt.
pub struct Decrypted {
    pub branches: Vec<Branch>,
    pub meta: Metadata,
    pub key: DataKey,
    pub cache: IvCache,
    pub format: Format,
}

/// The rule a file is walked with (binary files encrypt their one value).
pub fn rule_for(fields: &RuleFields, f: Format) -> Result<Rule> {
    if f == Format::Binary {
        Ok(Rule::All)
    } else {
        fields.to_rule()
    }
}

/// Parses an encrypted file and its metadata without decrypting anything.
pub fn parse_encrypted(bytes: &[u8], f: Format) -> Result<(Vec<Branch>, Metadata)> {
    let (branches, meta) = format::load_encrypted(bytes, f)?;
    Ok((branches, Metadata::from_value(&meta)?))
}

/// Decrypts a file: recovers the data key, decrypts every value, verifies
/// the MAC unless `ignore_mac`.
pub fn decrypt(
    bytes: &[u8],
    f: Format,
    ctx: &mut KeyContext,
    ignore_mac: bool,
) -> Result<Decrypted> {
    let (branches, meta) = parse_encrypted(bytes, f)?;
    let key = keys::recover_data_key(&meta, ctx)?;
    decrypt_with_key(branches, meta, key, f, ignore_mac)
}

/// Decrypts parsed branches with a known data key.
pub fn decrypt_with_key(
    mut branches: Vec<Branch>,
    meta: Metadata,
    key: DataKey,
    f: Format,
    ignore_mac: bool,
) -> Result<Decrypted> {
    let rule = rule_for(&meta.rule, f)?;
    let mut cache = IvCache::default();
    let out = walk::decrypt(
        &mut branches,
        &key,
        &rule,
        meta.mac_only_encrypted,
        &mut cache,
    )?;
    if !ignore_mac {
        verify_mac(&meta, &key, &out.mac)?;
    }
    Ok(Decrypted {
        branches,
        meta,
        key,
        cache,
        format: f,
    })
}

fn verify_mac(meta: &Metadata, key: &DataKey, computed: &str) -> Result<()> {
    let Some(stored) = &meta.mac else {
        return Err(Error::MacNotFound);
    };
    let ev = cipher::parse_enc(stored)
        .map_err(|e| Error::MacDecrypt(format!("malformed mac field: {e}")))?;
    let pt = cipher::decrypt(key, &ev, &meta.lastmodified).map_err(|_| {
        Error::MacDecrypt("authentication failed (tampered mac or lastmodified)".into())
    })?;
    let stored = String::from_utf8_lossy(&pt).into_owned();
    if stored != computed {
        return Err(Error::MacMismatch {
            stored,
            computed: computed.to_owned(),
        });
    }
    Ok(())
}

/// Encrypts plaintext branches with `key`, setting `lastmodified` to now and
/// a fresh MAC. Returns the encrypted branches and how many values were
/// encrypted (zero means the rule matched nothing).
pub fn encrypt_branches(
    plain: &[Branch],
    meta: &mut Metadata,
    key: &DataKey,
    cache: &mut IvCache,
    f: Format,
) -> Result<(Vec<Branch>, usize)> {
    let rule = rule_for(&meta.rule, f)?;
    let mut branches = plain.to_vec();
    let out = walk::encrypt(&mut branches, key, &rule, meta.mac_only_encrypted, cache)?;
    meta.lastmodified = metadata::now();
    let mac = cipher::encrypt(
        key,
        out.mac.as_bytes(),
        &meta.lastmodified,
        ValueType::Str,
        None,
    )
    .map_err(|_| Error::Encrypt {
        path: "sops:mac".into(),
        reason: "aes-gcm failed".into(),
    })?;
    meta.mac = Some(mac);
    Ok((branches, out.encrypted_values))
}

/// Emits an encrypted file.
pub fn emit(branches: &[Branch], meta: &Metadata, f: Format, style: Style) -> Result<Vec<u8>> {
    format::emit_encrypted(branches, &meta.to_value(), f, style)
}

/// Encrypts a plaintext file for the key groups in `meta` with a new data key.
pub fn encrypt_new(
    plain: &[Branch],
    mut meta: Metadata,
    f: Format,
    style: Style,
) -> Result<(Vec<u8>, usize)> {
    if f == Format::Binary {
        // binary files record no rule (sops ≥ 3.11): the one value is always encrypted
        meta.rule = RuleFields::default();
    } else if meta.rule.is_empty() {
        meta.rule = RuleFields::from_rule(&Rule::default());
    }
    let key = DataKey::generate();
    keys::protect_data_key(&mut meta, &key)?;
    let mut cache = IvCache::default();
    let (branches, n) = encrypt_branches(plain, &mut meta, &key, &mut cache, f)?;
    Ok((emit(&branches, &meta, f, style)?, n))
}

impl Decrypted {
    /// Re-encrypts (after an edit) with the same data key and IVs.
    pub fn reencrypt(&mut self, style: Style) -> Result<Vec<u8>> {
        let mut meta = self.meta.clone();
        let (branches, _) = encrypt_branches(
            &self.branches,
            &mut meta,
            &self.key,
            &mut self.cache,
            self.format,
        )?;
        self.meta = meta;
        emit(&branches, &self.meta, self.format, style)
    }

    /// Re-encrypts everything under a new data key (rotate).
    pub fn rotate(&mut self, style: Style) -> Result<Vec<u8>> {
        self.key = DataKey::generate();
        self.cache = IvCache::default();
        keys::protect_data_key(&mut self.meta, &self.key)?;
        self.reencrypt(style)
    }

    /// The plaintext file.
    pub fn plaintext(&self, f: Format, style: Style) -> Result<Vec<u8>> {
        format::emit_plain(&self.branches, f, style)
    }
}

/// `updatekeys`: new key groups, same data key; values, `lastmodified` and
/// MAC untouched. Returns the rewritten file.
pub fn update_keys(
    bytes: &[u8],
    f: Format,
    ctx: &mut KeyContext,
    groups: Vec<crate::metadata::KeyGroup>,
    threshold: Option<usize>,
    style: Style,
) -> Result<Vec<u8>> {
    let (branches, mut meta) = parse_encrypted(bytes, f)?;
    let key = keys::recover_data_key(&meta, ctx)?;
    meta.groups = groups;
    meta.shamir_threshold = threshold;
    keys::protect_data_key(&mut meta, &key)?;
    emit(&branches, &meta, f, style)
}
