//! encrypt, decrypt, set, unset, rotate, updatekeys, filestatus.

use std::io::{BufRead, Write};
use std::path::Path;

use super::{Global, emit_output, read_input, split_list, write_atomic};
use crate::config::{self, Config, CreationRule};
use crate::document;
use crate::error::{Error, Result};
use crate::format::{self, Format, json, yaml_emit};
use crate::keys::MasterKey;
use crate::metadata::{KeyGroup, Metadata};
use crate::tree::Value;
use crate::treepath;

/// The key groups and options for a new file: command-line keys win over
/// the creation rule's; command-line encryption rules win over the rule's.
pub(super) fn creation(
    g: &Global,
    config: Option<&Config>,
    name: Option<&Path>,
) -> Result<CreationRule> {
    creation_with(g, config, name, true)
}

/// `cli_keys = false` (updatekeys): only the config decides the keys, as in sops.
fn creation_with(
    g: &Global,
    config: Option<&Config>,
    name: Option<&Path>,
    cli_keys: bool,
) -> Result<CreationRule> {
    let cli_group = if cli_keys { g.cli_group()? } else { None };
    let matched = match config {
        Some(c) if c.has_rules() => match c.rule_for(name.unwrap_or(Path::new("-"))) {
            Ok(r) => Some(r),
            // keys given on the command line do not need a matching rule
            Err(_) if cli_group.is_some() => None,
            Err(e) => return Err(e),
        },
        _ => None,
    };
    let from_config = matched;
    let mut rule = from_config.unwrap_or_default();
    if let Some(group) = cli_group {
        rule.groups = vec![group];
        rule.shamir_threshold = None;
    }
    if rule.groups.is_empty() {
        return Err(Error::NoKeys);
    }
    let cli_rule = g.rule_fields();
    if !cli_rule.is_empty() {
        rule.rule = cli_rule;
    }
    rule.rule.to_rule()?;
    if g.mac_only_encrypted {
        rule.mac_only_encrypted = true;
    }
    if let Some(t) = g.shamir_secret_sharing_threshold {
        rule.shamir_threshold = Some(t);
    }
    Ok(rule)
}

pub(super) fn encrypt(g: &Global, file: Option<&Path>) -> Result<u8> {
    let bytes = read_input(file)?;
    let fin = g.input_format(file)?;
    let branches = format::load_plain(&bytes, fin)?;
    if fin != Format::Binary && format::has_metadata(&branches, fin) {
        return Err(Error::AlreadyEncrypted);
    }
    let config = config::find(g.config.as_deref())?;
    let cr = creation(g, config.as_ref(), g.name_for(file).as_deref())?;
    let meta = Metadata::new(
        cr.groups,
        cr.rule,
        cr.mac_only_encrypted,
        cr.shamir_threshold,
    );
    let fout = if fin == Format::Binary {
        Format::Binary
    } else {
        g.output_format(fin)?
    };
    let (out, n) = document::encrypt_new(&branches, meta, fout, g.style(fout, config.as_ref()))?;
    if n == 0 && fin != Format::Binary {
        eprintln!(
            "warning: the encryption rule left every value in cleartext (nothing was encrypted)"
        );
    }
    emit_output(g, file, &out)?;
    Ok(0)
}

pub(super) fn decrypt(g: &Global, file: Option<&Path>) -> Result<u8> {
    let bytes = read_input(file)?;
    let fin = g.input_format(file)?;
    let dec = document::decrypt(&bytes, fin, &mut g.key_context(), g.ignore_mac)?;
    let fout = g.output_format(fin)?;
    let style = g.style(fout, None);
    let out = match &g.extract {
        Some(p) => {
            if fin == Format::Binary {
                return Err(Error::Usage(
                    "--extract is not possible for binary files".into(),
                ));
            }
            let path = treepath::parse(p)?;
            let first = dec
                .branches
                .first()
                .ok_or_else(|| Error::Usage("empty file".into()))?;
            extract_bytes(treepath::get(first, &path)?, fout, style.indent)?
        }
        None => dec.plaintext(fout, style)?,
    };
    emit_output(g, file, &out)?;
    Ok(0)
}

fn extract_bytes(v: &Value, f: Format, indent: Option<usize>) -> Result<Vec<u8>> {
    Ok(match v {
        Value::Str(s) => s.clone().into_bytes(),
        Value::Bytes(b) => b.clone(),
        _ if f == Format::Json => format!("{}\n", json::emit_value(v, indent)?).into_bytes(),
        _ => yaml_emit::emit_value(v, indent.unwrap_or(4))?.into_bytes(),
    })
}

fn read_value(g: &Global, value: Option<String>) -> Result<Value> {
    let text = if g.value_stdin {
        String::from_utf8(read_input(None)?)
            .map_err(|_| Error::Usage("value on stdin is not UTF-8".into()))?
    } else {
        let v = value.ok_or_else(|| Error::Usage("set needs a value (or --value-stdin)".into()))?;
        if g.value_file {
            std::fs::read_to_string(&v).map_err(|e| Error::Read {
                path: v.into(),
                source: e,
            })?
        } else {
            v
        }
    };
    json::load_value(text.trim_end_matches('\n'))
        .map_err(|e| Error::Usage(format!("the value must be JSON: {e}")))
}

fn load_for_update(g: &Global, file: &Path) -> Result<(document::Decrypted, Format)> {
    let bytes = read_input(Some(file))?;
    let f = g.input_format(Some(file))?;
    Ok((
        document::decrypt(&bytes, f, &mut g.key_context(), g.ignore_mac)?,
        f,
    ))
}

pub(super) fn set(g: &Global, file: &Path, path: &str, value: Option<String>) -> Result<u8> {
    let path = treepath::parse(path)?;
    let value = read_value(g, value)?;
    let (mut dec, f) = load_for_update(g, file)?;
    let first = dec
        .branches
        .first_mut()
        .ok_or_else(|| Error::Usage("empty file".into()))?;
    let changed = treepath::set(first, &path, value)?;
    if !changed && g.idempotent {
        return Ok(0);
    }
    let out = dec.reencrypt(g.style(f, None))?;
    write_atomic(file, &out)?;
    Ok(0)
}

pub(super) fn unset(g: &Global, file: &Path, path: &str) -> Result<u8> {
    let comps = treepath::parse(path)?;
    let (mut dec, f) = load_for_update(g, file)?;
    let first = dec
        .branches
        .first_mut()
        .ok_or_else(|| Error::Usage("empty file".into()))?;
    if !treepath::unset(first, &comps)? {
        if g.idempotent {
            return Ok(0);
        }
        return Err(Error::TreePath {
            path: path.to_owned(),
            reason: "not found in the file".into(),
        });
    }
    let out = dec.reencrypt(g.style(f, None))?;
    write_atomic(file, &out)?;
    Ok(0)
}

pub(super) fn rotate(g: &Global, file: &Path) -> Result<u8> {
    let (mut dec, f) = load_for_update(g, file)?;
    let groups = &mut dec.meta.groups;
    let mut adds = Vec::new();
    for r in split_list(g.add_age.as_deref()) {
        adds.push(MasterKey::new_age(&r));
    }
    for fp in split_list(g.add_pgp.as_deref()) {
        adds.push(MasterKey::new_pgp(&fp));
    }
    for uri in split_list(g.add_hc_vault_transit.as_deref()) {
        adds.push(MasterKey::new_vault(&uri)?);
    }
    let mut removes: Vec<MasterKey> = Vec::new();
    for r in split_list(g.rm_age.as_deref()) {
        removes.push(MasterKey::new_age(&r));
    }
    for fp in split_list(g.rm_pgp.as_deref()) {
        removes.push(MasterKey::new_pgp(&fp));
    }
    for uri in split_list(g.rm_hc_vault_transit.as_deref()) {
        removes.push(MasterKey::new_vault(&uri)?);
    }
    if let Some(first) = groups.first_mut() {
        for k in adds {
            if !first
                .keys
                .iter()
                .any(|e| e.kind() == k.kind() && e.id() == k.id())
            {
                first.keys.push(k);
            }
        }
    }
    for g in groups.iter_mut() {
        g.keys.retain(|k| {
            !removes
                .iter()
                .any(|r| r.kind() == k.kind() && r.id() == k.id())
        });
    }
    let out = dec.rotate(g.style(f, None))?;
    if g.output.is_none() && !g.in_place {
        eprintln!(
            "note: rotated file written to stdout (use -i to rewrite {})",
            file.display()
        );
    }
    emit_output(g, Some(file), &out)?;
    Ok(0)
}

fn ids(g: &KeyGroup) -> Vec<String> {
    g.keys
        .iter()
        .map(|k| format!("{}: {}", k.kind(), k.id()))
        .collect()
}

pub(super) fn updatekeys(g: &Global, files: &[std::path::PathBuf]) -> Result<u8> {
    let config = config::find(g.config.as_deref())?;
    for file in files {
        let bytes = read_input(Some(file))?;
        let f = g.input_format(Some(file))?;
        let (_, meta) = document::parse_encrypted(&bytes, f)?;
        let cr = creation_with(g, config.as_ref(), Some(file), false)?;
        let changed = meta.groups.len() != cr.groups.len()
            || meta.groups.iter().zip(&cr.groups).any(|(a, b)| {
                let (mut x, mut y) = (ids(a), ids(b));
                x.sort();
                y.sort();
                x != y
            })
            || (cr.groups.len() > 1
                && Some(meta.threshold()) != cr.shamir_threshold.or(Some(cr.groups.len())));
        if !changed {
            eprintln!("{}: already up to date", file.display());
            continue;
        }
        eprintln!("The following changes will be made to the file's groups:");
        for (i, new) in cr.groups.iter().enumerate() {
            let old = meta.groups.get(i).map(ids).unwrap_or_default();
            let newer = ids(new);
            eprintln!("Group {}", i + 1);
            for k in &newer {
                eprintln!("    {}{k}", if old.contains(k) { "  " } else { "+++" });
            }
            for k in old.iter().filter(|k| !newer.contains(k)) {
                eprintln!("    ---{k}");
            }
        }
        if !g.yes {
            eprint!("Is this okay? (y/n): ");
            let _ = std::io::stderr().flush();
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| Error::Read {
                    path: "<stdin>".into(),
                    source: e,
                })?;
            if !line.trim().eq_ignore_ascii_case("y") {
                eprintln!("{}: changes not applied", file.display());
                continue;
            }
        }
        let style = g.style(f, config.as_ref());
        let out = document::update_keys(
            &bytes,
            f,
            &mut g.key_context(),
            cr.groups,
            cr.shamir_threshold,
            style,
        )?;
        write_atomic(file, &out)?;
        eprintln!("{}: keys updated", file.display());
    }
    Ok(0)
}

/// `groups add` (`delete = None`, keys from the command line) or
/// `groups delete INDEX`: same data key, re-protected for the new groups.
pub(super) fn groups(g: &Global, file: &Path, delete: Option<usize>) -> Result<u8> {
    let bytes = read_input(Some(file))?;
    let f = g.input_format(Some(file))?;
    let (_, meta) = document::parse_encrypted(&bytes, f)?;
    let mut groups = meta.groups.clone();
    match delete {
        Some(i) => {
            if i >= groups.len() {
                return Err(Error::Usage(format!(
                    "no key group {i}: the file has {} (indexes start at 0)",
                    groups.len()
                )));
            }
            groups.remove(i);
        }
        None => {
            let group = g.cli_group()?.ok_or(Error::NoKeys)?;
            groups.push(group);
        }
    }
    if groups.is_empty() {
        return Err(Error::Usage("cannot delete the last key group".into()));
    }
    let threshold = match g.shamir_secret_sharing_threshold {
        Some(t) => Some(t),
        None if groups.len() > 1 => Some(meta.threshold().clamp(2, groups.len())),
        None => None,
    };
    let out = document::update_keys(
        &bytes,
        f,
        &mut g.key_context(),
        groups,
        threshold,
        g.style(f, None),
    )?;
    write_atomic(file, &out)?;
    Ok(0)
}

pub(super) fn filestatus(g: &Global, file: &Path) -> Result<u8> {
    let bytes = read_input(Some(file))?;
    let f = g.input_format(Some(file))?;
    let encrypted = document::parse_encrypted(&bytes, f)
        .map(|(_, m)| !m.version.is_empty() && m.mac.is_some())
        .unwrap_or(false);
    println!("{{\"encrypted\":{encrypted}}}");
    Ok(0)
}
