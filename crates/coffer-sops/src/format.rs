//! The file formats (stores): YAML, JSON, dotenv, INI and binary. Each turns
//! bytes into branches (and the metadata map for encrypted files) and back.

pub mod dotenv;
pub mod flatten;
pub mod ini;
pub mod json;
pub mod yaml_emit;
pub mod yaml_load;

use std::path::Path;

use crate::error::{Error, Result};
use crate::tree::{self, Branch, Item, Value};

/// A store, chosen by `--input-type`/`--output-type` or the file suffix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Json,
    Dotenv,
    Ini,
    Binary,
}

impl Format {
    pub fn from_path(p: &Path) -> Format {
        match p.extension().and_then(|e| e.to_str()) {
            Some("yaml" | "yml") => Format::Yaml,
            Some("json") => Format::Json,
            Some("env") => Format::Dotenv,
            Some("ini") => Format::Ini,
            _ => Format::Binary,
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        Some(match s {
            "yaml" => Format::Yaml,
            "json" => Format::Json,
            "dotenv" => Format::Dotenv,
            "ini" => Format::Ini,
            "binary" => Format::Binary,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Format::Yaml => "yaml",
            Format::Json => "json",
            Format::Dotenv => "dotenv",
            Format::Ini => "ini",
            Format::Binary => "binary",
        }
    }
}

/// Output options (indentation).
#[derive(Clone, Copy, Debug, Default)]
pub struct Style {
    pub indent: Option<usize>,
}

fn utf8(bytes: &[u8], f: Format) -> Result<&str> {
    std::str::from_utf8(bytes).map_err(|_| Error::parse(f.name(), "input is not valid UTF-8"))
}

/// Parses a plaintext file.
pub fn load_plain(bytes: &[u8], f: Format) -> Result<Vec<Branch>> {
    Ok(match f {
        Format::Yaml => yaml_load::load(utf8(bytes, f)?)?,
        Format::Json => vec![json::load(utf8(bytes, f)?)?],
        Format::Dotenv => vec![dotenv::load(utf8(bytes, f)?)?],
        Format::Ini => vec![ini::load(utf8(bytes, f)?)?],
        Format::Binary => {
            let v = match std::str::from_utf8(bytes) {
                Ok(s) => Value::Str(s.to_owned()),
                Err(_) => Value::Bytes(bytes.to_vec()),
            };
            vec![vec![Item::Pair("data".into(), v)]]
        }
    })
}

/// Whether a plaintext tree already carries sops metadata.
pub fn has_metadata(branches: &[Branch], f: Format) -> bool {
    let Some(first) = branches.first() else {
        return false;
    };
    match f {
        Format::Dotenv => first
            .iter()
            .any(|i| matches!(i, Item::Pair(k, _) if k.starts_with("sops_"))),
        _ => tree::get(first, "sops").is_some(),
    }
}

/// Parses an encrypted file: the branches (metadata removed) and the
/// metadata map (unflattened for dotenv and INI).
pub fn load_encrypted(bytes: &[u8], f: Format) -> Result<(Vec<Branch>, Value)> {
    let mut branches = match f {
        Format::Binary => vec![json::load(utf8(bytes, f)?)?],
        _ => load_plain(bytes, f)?,
    };
    let meta = match f {
        Format::Dotenv => {
            let first = &mut branches[0];
            let mut flat = Vec::new();
            first.retain(|i| match i {
                Item::Pair(k, v) if k.starts_with("sops_") => {
                    let text = match v {
                        Value::Str(s) => s.clone(),
                        _ => String::new(),
                    };
                    flat.push((k["sops_".len()..].to_owned(), text));
                    false
                }
                _ => true,
            });
            if flat.is_empty() {
                return Err(Error::NotEncrypted);
            }
            flatten::unflatten(&flat)?
        }
        Format::Ini => {
            let Some(Value::Map(items)) = tree::take(&mut branches[0], "sops") else {
                return Err(Error::NotEncrypted);
            };
            let flat: Vec<(String, String)> = items
                .into_iter()
                .filter_map(|i| match i {
                    Item::Pair(k, Value::Str(s)) => Some((k, s.replace("\\n", "\n"))),
                    _ => None,
                })
                .collect();
            flatten::unflatten(&flat)?
        }
        _ => {
            let first = &branches[0];
            let n = first
                .iter()
                .filter(|i| matches!(i, Item::Pair(k, _) if k == "sops"))
                .count();
            if n > 1 {
                return Err(Error::Metadata("duplicate top-level sops key".into()));
            }
            let meta = tree::take(&mut branches[0], "sops").ok_or(Error::NotEncrypted)?;
            for b in branches.iter_mut().skip(1) {
                tree::take(b, "sops");
            }
            meta
        }
    };
    Ok((branches, meta))
}

/// Writes an encrypted file: branches plus the metadata map.
pub fn emit_encrypted(
    branches: &[Branch],
    meta: &Value,
    f: Format,
    style: Style,
) -> Result<Vec<u8>> {
    let mut branches = branches.to_vec();
    match f {
        Format::Dotenv => {
            let b = branches
                .first_mut()
                .ok_or_else(|| Error::Other("no document".into()))?;
            for (k, v) in flatten::flatten(meta) {
                b.push(Item::Pair(format!("sops_{k}"), Value::Str(v)));
            }
        }
        Format::Ini => {
            let b = branches
                .first_mut()
                .ok_or_else(|| Error::Other("no document".into()))?;
            let items = flatten::flatten(meta)
                .into_iter()
                .map(|(k, v)| Item::Pair(k, Value::Str(v.replace('\n', "\\n"))))
                .collect();
            b.push(Item::Pair("sops".into(), Value::Map(items)));
        }
        _ => {
            for b in branches.iter_mut() {
                b.push(Item::Pair("sops".into(), meta.clone()));
            }
        }
    }
    let f = if f == Format::Binary { Format::Json } else { f };
    emit_plain(&branches, f, style)
}

/// Writes a plaintext tree.
pub fn emit_plain(branches: &[Branch], f: Format, style: Style) -> Result<Vec<u8>> {
    let one = || {
        branches.first().ok_or_else(|| Error::Emit {
            format: f.name(),
            message: "no document".into(),
        })
    };
    if f != Format::Yaml && branches.len() > 1 {
        return Err(Error::Emit {
            format: f.name(),
            message: "multi-document input can only be written as YAML".into(),
        });
    }
    Ok(match f {
        Format::Yaml => yaml_emit::emit(branches, style.indent.unwrap_or(4))?.into_bytes(),
        Format::Json => json::emit(one()?, style.indent)?.into_bytes(),
        Format::Dotenv => dotenv::emit(one()?)?.into_bytes(),
        Format::Ini => ini::emit(one()?)?.into_bytes(),
        Format::Binary => match tree::get(one()?, "data") {
            Some(Value::Str(s)) => s.clone().into_bytes(),
            Some(Value::Bytes(b)) => b.clone(),
            _ => {
                return Err(Error::Emit {
                    format: "binary",
                    message: "no string \"data\" key to write".into(),
                });
            }
        },
    })
}
