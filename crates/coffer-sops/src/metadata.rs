//! The `sops` metadata block: master keys per key group, Shamir threshold,
//! `lastmodified`, the encrypted MAC, the encryption rule and the version.
//! Unknown fields and key types we cannot use (KMS, …) are kept unchanged.

use crate::error::{Error, Result};
use crate::keys::{MasterKey, VaultKey};
use crate::rules::RuleFields;
use crate::tree::{Item, Value};

/// The version string written into new files (valid semver, as sops requires).
pub const WRITE_VERSION: &str = "3.13.2";

/// Key types as they appear in metadata lists, in sops' field order.
pub const KEY_KINDS: [&str; 7] = [
    "age", "pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "hckms",
];

/// One key group: every key in it can recover the group's secret.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeyGroup {
    pub keys: Vec<MasterKey>,
}

/// Parsed metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct Metadata {
    pub groups: Vec<KeyGroup>,
    pub shamir_threshold: Option<usize>,
    pub lastmodified: String,
    pub mac: Option<String>,
    pub rule: RuleFields,
    pub mac_only_encrypted: bool,
    pub version: String,
    /// Fields we do not interpret, written back as they were.
    pub extra: Vec<(String, Value)>,
}

impl Metadata {
    pub fn new(
        groups: Vec<KeyGroup>,
        rule: RuleFields,
        mac_only_encrypted: bool,
        shamir_threshold: Option<usize>,
    ) -> Self {
        Metadata {
            groups,
            shamir_threshold,
            lastmodified: String::new(),
            mac: None,
            rule,
            mac_only_encrypted,
            version: WRITE_VERSION.into(),
            extra: Vec::new(),
        }
    }

    /// Threshold actually in force (all groups when unset).
    pub fn threshold(&self) -> usize {
        match self.shamir_threshold {
            Some(t) if t > 0 => t,
            _ => self.groups.len(),
        }
    }

    /// Parses the metadata map of a file.
    pub fn from_value(v: &Value) -> Result<Self> {
        let Value::Map(items) = v else {
            return Err(Error::Metadata("the sops entry must be a map".into()));
        };
        let mut m = Metadata::new(Vec::new(), RuleFields::default(), false, None);
        let mut flat = KeyGroup::default();
        let mut key_groups = Vec::new();
        let mut seen_lastmodified = false;
        for it in items {
            let Item::Pair(k, v) = it else { continue };
            match k.as_str() {
                kind if KEY_KINDS.contains(&kind) => flat.keys.extend(parse_keys(kind, v)?),
                "key_groups" => {
                    for g in list(v, "key_groups")? {
                        let Value::Map(gi) = g else {
                            return Err(Error::Metadata(
                                "each key_groups entry must be a map".into(),
                            ));
                        };
                        let mut group = KeyGroup::default();
                        for it in gi {
                            if let Item::Pair(kind, v) = it {
                                if !KEY_KINDS.contains(&kind.as_str()) {
                                    continue;
                                }
                                group.keys.extend(parse_keys(kind, v)?);
                            }
                        }
                        key_groups.push(group);
                    }
                }
                "shamir_threshold" => {
                    let s = text(v).ok_or_else(|| {
                        Error::Metadata("shamir_threshold must be a number".into())
                    })?;
                    let t: usize = s.parse().map_err(|_| {
                        Error::Metadata(format!("shamir_threshold {s:?} is not a number"))
                    })?;
                    m.shamir_threshold = (t > 0).then_some(t);
                }
                "lastmodified" => {
                    m.lastmodified = text(v).unwrap_or_default();
                    seen_lastmodified = true;
                }
                "mac" => m.mac = text(v).filter(|s| !s.is_empty()),
                "mac_only_encrypted" => {
                    m.mac_only_encrypted = match v {
                        Value::Bool(b) => *b,
                        other => {
                            text(other).is_some_and(|s| s == "true" || s == "True" || s == "1")
                        }
                    }
                }
                "version" => m.version = text(v).unwrap_or_default(),
                "unencrypted_suffix" => {
                    m.rule.unencrypted_suffix = text(v).filter(|s| !s.is_empty())
                }
                "encrypted_suffix" => m.rule.encrypted_suffix = text(v).filter(|s| !s.is_empty()),
                "unencrypted_regex" => m.rule.unencrypted_regex = text(v).filter(|s| !s.is_empty()),
                "encrypted_regex" => m.rule.encrypted_regex = text(v).filter(|s| !s.is_empty()),
                "unencrypted_comment_regex" => {
                    m.rule.unencrypted_comment_regex = text(v).filter(|s| !s.is_empty())
                }
                "encrypted_comment_regex" => {
                    m.rule.encrypted_comment_regex = text(v).filter(|s| !s.is_empty())
                }
                _ => m.extra.push((k.clone(), v.clone())),
            }
        }
        m.groups = if !flat.keys.is_empty() {
            vec![flat]
        } else {
            key_groups
        };
        if m.groups.iter().all(|g| g.keys.is_empty()) {
            return Err(Error::Metadata(
                "no master keys found in the file's metadata".into(),
            ));
        }
        if !seen_lastmodified || m.lastmodified.is_empty() {
            return Err(Error::Metadata("missing lastmodified".into()));
        }
        m.lastmodified = normalize_lastmodified(&m.lastmodified)?;
        check_version(&m.version)?;
        if m.groups.len() > 1 && m.threshold() > m.groups.len() {
            return Err(Error::Metadata(format!(
                "shamir_threshold {} is larger than the number of key groups ({})",
                m.threshold(),
                m.groups.len()
            )));
        }
        Ok(m)
    }

    /// The metadata map, keys in alphabetical order as sops ≥ 3.13 writes it.
    pub fn to_value(&self) -> Value {
        let mut items: Vec<(String, Value)> = Vec::new();
        if self.groups.len() == 1 {
            items.extend(group_lists(&self.groups[0], false));
        } else {
            let groups = self
                .groups
                .iter()
                .map(|g| {
                    Value::Map(
                        group_lists(g, true)
                            .into_iter()
                            .map(|(k, v)| Item::Pair(k, v))
                            .collect(),
                    )
                })
                .collect();
            items.push(("key_groups".into(), Value::Seq(groups)));
            items.push((
                "shamir_threshold".into(),
                Value::Int(self.threshold() as i64),
            ));
        }
        items.push(("lastmodified".into(), Value::Str(self.lastmodified.clone())));
        if let Some(mac) = &self.mac {
            items.push(("mac".into(), Value::Str(mac.clone())));
        }
        if self.mac_only_encrypted {
            items.push(("mac_only_encrypted".into(), Value::Bool(true)));
        }
        let r = &self.rule;
        for (k, v) in [
            ("unencrypted_suffix", &r.unencrypted_suffix),
            ("encrypted_suffix", &r.encrypted_suffix),
            ("unencrypted_regex", &r.unencrypted_regex),
            ("encrypted_regex", &r.encrypted_regex),
            ("unencrypted_comment_regex", &r.unencrypted_comment_regex),
            ("encrypted_comment_regex", &r.encrypted_comment_regex),
        ] {
            if let Some(v) = v {
                items.push((k.into(), Value::Str(v.clone())));
            }
        }
        items.push(("version".into(), Value::Str(self.version.clone())));
        items.extend(self.extra.iter().cloned());
        items.sort_by(|a, b| a.0.cmp(&b.0));
        Value::Map(items.into_iter().map(|(k, v)| Item::Pair(k, v)).collect())
    }
}

fn group_lists(g: &KeyGroup, in_key_groups: bool) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for kind in KEY_KINDS {
        let entries: Vec<Value> = g
            .keys
            .iter()
            .filter(|k| k.kind() == kind)
            .map(MasterKey::to_value)
            .collect();
        // sops always writes `age` and `hc_vault` inside key groups
        if !entries.is_empty() || in_key_groups && (kind == "age" || kind == "hc_vault") {
            out.push((kind.to_owned(), Value::Seq(entries)));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn list<'a>(v: &'a Value, field: &str) -> Result<&'a [Value]> {
    match v {
        Value::Seq(s) => Ok(s),
        Value::Null => Ok(&[]),
        Value::Str(s) if s.is_empty() => Ok(&[]),
        _ => Err(Error::Metadata(format!("{field} must be a list"))),
    }
}

/// A scalar as text (weakly typed, as the flat formats need).
pub fn text(v: &Value) -> Option<String> {
    match v {
        Value::Str(s) | Value::Time(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Float(f) => Some(crate::tree::format_float(*f)),
        _ => None,
    }
}

fn field(entry: &[Item], name: &str) -> String {
    crate::tree::get(entry, name)
        .and_then(text)
        .unwrap_or_default()
}

fn parse_keys(kind: &str, v: &Value) -> Result<Vec<MasterKey>> {
    let mut out = Vec::new();
    for e in list(v, kind)? {
        let Value::Map(entry) = e else {
            return Err(Error::Metadata(format!("{kind} entries must be maps")));
        };
        out.push(match kind {
            "age" => MasterKey::Age {
                recipient: field(entry, "recipient"),
                enc: field(entry, "enc"),
            },
            "pgp" => MasterKey::Pgp {
                fp: field(entry, "fp"),
                created_at: field(entry, "created_at"),
                enc: field(entry, "enc"),
            },
            "hc_vault" => MasterKey::Vault(VaultKey {
                vault_address: field(entry, "vault_address"),
                engine_path: field(entry, "engine_path"),
                key_name: field(entry, "key_name"),
                created_at: field(entry, "created_at"),
                enc: field(entry, "enc"),
            }),
            _ => MasterKey::Other {
                kind: kind.to_owned(),
                entry: e.clone(),
            },
        });
    }
    Ok(out)
}

/// RFC 3339 → `YYYY-MM-DDTHH:MM:SSZ` in UTC (what sops uses as MAC AAD).
pub fn normalize_lastmodified(s: &str) -> Result<String> {
    use time::format_description::well_known::Rfc3339;
    let t = time::OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|_| Error::Metadata(format!("lastmodified {s:?} is not an RFC 3339 time")))?;
    Ok(format_time(t))
}

pub fn format_time(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

pub fn now() -> String {
    format_time(time::OffsetDateTime::now_utc())
}

/// sops refuses files whose version is not semver; we also refuse a major
/// version other than 3 (a format we do not know).
pub fn check_version(v: &str) -> Result<()> {
    let core = v.strip_prefix('v').unwrap_or(v);
    let core = core.split(['+', '-']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    let numeric = !parts.is_empty()
        && parts.len() <= 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if !numeric {
        return Err(Error::Metadata(format!(
            "version {v:?} is not a valid sops version"
        )));
    }
    if parts[0] != "3" {
        return Err(Error::Metadata(format!(
            "unsupported sops format version {v:?} (only 3.x is known)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert!(check_version("3.13.2").is_ok());
        assert!(check_version("v3.7.0+coffer").is_ok());
        assert!(check_version("4.0.0").is_err());
        assert!(check_version("abc").is_err());
        assert!(check_version("").is_err());
    }

    #[test]
    fn lastmodified_normalized() {
        assert_eq!(
            normalize_lastmodified("2019-12-10T22:45:52.123+01:00").unwrap(),
            "2019-12-10T21:45:52Z"
        );
        assert!(normalize_lastmodified("yesterday").is_err());
    }
}
