//! `.sops.yaml`: creation rules (first matching `path_regex` wins) giving the
//! key groups, Shamir threshold, encryption rule and `mac_only_encrypted`
//! for new files, plus `stores` indentation.

use std::path::{Path, PathBuf};

use regex::Regex;

use crate::error::{Error, Result};
use crate::keys::MasterKey;
use crate::metadata::{self, KeyGroup};
use crate::rules::RuleFields;
use crate::tree::{self, Item, Value};

/// What a creation rule says about a new file.
#[derive(Clone, Debug, Default)]
pub struct CreationRule {
    pub groups: Vec<KeyGroup>,
    pub shamir_threshold: Option<usize>,
    pub rule: RuleFields,
    pub mac_only_encrypted: bool,
}

/// A loaded config file.
#[derive(Debug)]
pub struct Config {
    pub path: PathBuf,
    rules: Vec<(Option<Regex>, Value)>,
    pub yaml_indent: Option<usize>,
    pub json_indent: Option<usize>,
}

/// Finds the config: `explicit`, else `SOPS_CONFIG`, else `.sops.yaml` in the
/// working directory or a parent (up to 100 levels).
pub fn find(explicit: Option<&Path>) -> Result<Option<Config>> {
    if let Some(p) = explicit {
        return load(p).map(Some);
    }
    if let Some(p) = std::env::var_os("SOPS_CONFIG") {
        return load(Path::new(&p)).map(Some);
    }
    let mut dir = std::env::current_dir().ok();
    for _ in 0..100 {
        let Some(d) = dir else { break };
        let candidate = d.join(".sops.yaml");
        if candidate.is_file() {
            return load(&candidate).map(Some);
        }
        if d.join(".sops.yml").is_file() {
            eprintln!(
                "warning: ignoring {} (sops only reads .sops.yaml)",
                d.join(".sops.yml").display()
            );
        }
        dir = d.parent().map(Path::to_path_buf);
    }
    Ok(None)
}

pub fn load(path: &Path) -> Result<Config> {
    let err = |m: String| Error::Config {
        path: path.to_owned(),
        message: m,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
    let branches = crate::format::yaml_load::load(&text).map_err(|e| err(e.to_string()))?;
    let root = branches.into_iter().next().unwrap_or_default();
    let mut rules = Vec::new();
    if let Some(Value::Seq(list)) = tree::get(&root, "creation_rules") {
        for r in list {
            let Value::Map(items) = r else {
                return Err(err("each creation rule must be a map".into()));
            };
            let re = match tree::get(items, "path_regex").and_then(metadata::text) {
                Some(s) => Some(
                    Regex::new(&s).map_err(|e| err(format!("invalid path_regex {s:?}: {e}")))?,
                ),
                None => None,
            };
            rules.push((re, r.clone()));
        }
    }
    let indent = |store: &str| match tree::get(&root, "stores") {
        Some(Value::Map(s)) => match tree::get(s, store) {
            Some(Value::Map(m)) => tree::get(m, "indent")
                .and_then(metadata::text)
                .and_then(|t| t.parse().ok()),
            _ => None,
        },
        _ => None,
    };
    Ok(Config {
        path: path.to_owned(),
        yaml_indent: indent("yaml"),
        json_indent: indent("json"),
        rules,
    })
}

impl Config {
    pub fn has_rules(&self) -> bool {
        !self.rules.is_empty()
    }

    /// The first rule matching `file` (path relative to the config's directory).
    pub fn rule_for(&self, file: &Path) -> Result<CreationRule> {
        let err = |m: String| Error::Config {
            path: self.path.clone(),
            message: m,
        };
        let base = self
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let abs = std::path::absolute(file).unwrap_or_else(|_| file.to_owned());
        let base_abs = std::path::absolute(&base).unwrap_or(base);
        let rel = abs
            .strip_prefix(&base_abs)
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| file.to_owned());
        let rel = rel.to_string_lossy();
        let Some((_, rule)) = self
            .rules
            .iter()
            .find(|(re, _)| re.as_ref().is_none_or(|r| r.is_match(&rel)))
        else {
            return Err(err(format!("no matching creation rules found for {rel}")));
        };
        let Value::Map(items) = rule else {
            return Err(err("creation rule must be a map".into()));
        };
        parse_rule(items).map_err(|e| match e {
            Error::Config { .. } => e,
            other => err(other.to_string()),
        })
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Seq(s)) => s
            .iter()
            .filter_map(metadata::text)
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        Some(v) => metadata::text(v)
            .map(|s| {
                s.split(',')
                    .map(|p| p.trim().to_owned())
                    .filter(|p| !p.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
        None => Vec::new(),
    }
}

fn group_from(items: &[Item], vault_field: &str) -> Result<KeyGroup> {
    let mut g = KeyGroup::default();
    for r in strings(tree::get(items, "age")) {
        g.keys.push(MasterKey::new_age(&r));
    }
    for fp in strings(tree::get(items, "pgp")) {
        g.keys.push(MasterKey::new_pgp(&fp));
    }
    for uri in strings(tree::get(items, vault_field)) {
        g.keys.push(MasterKey::new_vault(&uri)?);
    }
    for kind in ["kms", "gcp_kms", "azure_keyvault", "hckms"] {
        if tree::get(items, kind).is_some_and(|v| {
            !matches!(v, Value::Null) && !strings(Some(v)).is_empty()
                || matches!(v, Value::Seq(s) if !s.is_empty())
        }) {
            return Err(Error::Usage(format!(
                "{kind} keys in .sops.yaml are not supported by coffer (age, pgp and hc_vault are)"
            )));
        }
    }
    if let Some(Value::Seq(merge)) = tree::get(items, "merge") {
        for m in merge {
            if let Value::Map(mi) = m {
                g.keys.extend(group_from(mi, "hc_vault")?.keys);
            }
        }
    }
    dedup(&mut g);
    Ok(g)
}

fn dedup(g: &mut KeyGroup) {
    let mut seen = std::collections::HashSet::new();
    g.keys
        .retain(|k| seen.insert((k.kind().to_owned(), k.id())));
}

fn parse_rule(items: &[Item]) -> Result<CreationRule> {
    let s = |k: &str| {
        tree::get(items, k)
            .and_then(metadata::text)
            .filter(|s| !s.is_empty())
    };
    let rule = RuleFields {
        unencrypted_suffix: s("unencrypted_suffix"),
        encrypted_suffix: s("encrypted_suffix"),
        unencrypted_regex: s("unencrypted_regex"),
        encrypted_regex: s("encrypted_regex"),
        unencrypted_comment_regex: s("unencrypted_comment_regex"),
        encrypted_comment_regex: s("encrypted_comment_regex"),
    };
    rule.to_rule()?;
    let groups = match tree::get(items, "key_groups") {
        Some(Value::Seq(gs)) if !gs.is_empty() => gs
            .iter()
            .map(|g| match g {
                Value::Map(gi) => group_from(gi, "hc_vault"),
                _ => Err(Error::Usage("each key_groups entry must be a map".into())),
            })
            .collect::<Result<Vec<_>>>()?,
        _ => {
            let g = group_from(items, "hc_vault_transit_uri")?;
            if g.keys.is_empty() {
                Vec::new()
            } else {
                vec![g]
            }
        }
    };
    let shamir_threshold = s("shamir_threshold")
        .map(|t| {
            t.parse::<usize>()
                .map_err(|_| Error::Usage(format!("shamir_threshold {t:?} is not a number")))
        })
        .transpose()?;
    let mac_only_encrypted = matches!(
        tree::get(items, "mac_only_encrypted"),
        Some(Value::Bool(true))
    );
    Ok(CreationRule {
        groups,
        shamir_threshold,
        rule,
        mac_only_encrypted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_matching_rule() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join(".sops.yaml");
        std::fs::write(
            &cfg,
            "creation_rules:\n  - path_regex: prod/.*\\.yaml$\n    encrypted_regex: ^(data|stringData)$\n    mac_only_encrypted: true\n    age: age1aaa, age1bbb\n  - shamir_threshold: 2\n    key_groups:\n      - age: [age1ccc]\n      - age: [age1ddd]\n        hc_vault: [http://127.0.0.1:8200/v1/transit/keys/k]\nstores:\n  yaml:\n    indent: 2\n",
        )
        .unwrap();
        let c = load(&cfg).unwrap();
        assert_eq!(c.yaml_indent, Some(2));
        let r = c.rule_for(&dir.path().join("prod/a.yaml")).unwrap();
        assert_eq!(r.groups.len(), 1);
        assert_eq!(r.groups[0].keys.len(), 2);
        assert!(r.mac_only_encrypted);
        assert_eq!(
            r.rule.encrypted_regex.as_deref(),
            Some("^(data|stringData)$")
        );
        let r = c.rule_for(&dir.path().join("dev/a.yaml")).unwrap();
        assert_eq!((r.groups.len(), r.shamir_threshold), (2, Some(2)));
        assert_eq!(r.groups[1].keys[1].kind(), "hc_vault");
    }
}
