//! Server configuration in Vault's HCL: `listener "tcp"`, `storage`,
//! `audit`, `api_addr`, `log_level`, `max_request_size`. Unknown blocks or
//! fields are errors that name the file, line and field.

use std::path::{Path, PathBuf};

use hcl::{Block, Body, Expression, Structure};

use crate::audit::FileDeviceConfig;

/// Default body limit (Vault's 32 MiB).
pub const DEFAULT_MAX_REQUEST_SIZE: usize = 32 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct ListenerConfig {
    pub address: String,
    pub tls_disable: bool,
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    pub tls_min_version: String,
    pub max_request_size: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StorageConfig {
    Memory,
    File { path: PathBuf },
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listeners: Vec<ListenerConfig>,
    pub storage: StorageConfig,
    pub audit: Vec<FileDeviceConfig>,
    pub api_addr: Option<String>,
    pub log_level: String,
    /// `standard` (human-readable) or `json` (one object per line).
    pub log_format: String,
    pub max_request_size: usize,
    pub allow_api_audit: bool,
    /// Settings accepted for compatibility but without effect here.
    pub ignored: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{file}: invalid HCL: {message}")]
    Syntax { file: String, message: String },
    #[error("{file}:{line}: {message}")]
    Field {
        file: String,
        line: usize,
        message: String,
    },
}

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    /// The first line that mentions `name` as a field or block, for error messages.
    fn line_of(&self, name: &str) -> usize {
        self.text
            .lines()
            .position(|l| {
                let t = l.trim_start();
                t.starts_with(name) && t[name.len()..].trim_start().starts_with(['=', '"', '{'])
            })
            .map_or(0, |i| i + 1)
    }

    fn err(&self, name: &str, message: String) -> ConfigError {
        ConfigError::Field {
            file: self.file.to_owned(),
            line: self.line_of(name),
            message,
        }
    }
}

fn as_string(e: &Expression) -> Option<String> {
    match e {
        Expression::String(s) => Some(s.clone()),
        Expression::Number(n) => Some(n.to_string()),
        Expression::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn as_bool(e: &Expression) -> Option<bool> {
    match e {
        Expression::Bool(b) => Some(*b),
        Expression::Number(n) => n.as_u64().map(|v| v != 0),
        Expression::String(s) => match s.as_str() {
            "true" | "1" => Some(true),
            "false" | "0" | "" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn as_size(e: &Expression) -> Option<usize> {
    match e {
        Expression::Number(n) => n.as_u64().and_then(|v| usize::try_from(v).ok()),
        Expression::String(s) => s.parse().ok(),
        _ => None,
    }
}

impl ServerConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&path.display().to_string(), &text)
    }

    pub fn parse(file: &str, text: &str) -> Result<Self, ConfigError> {
        let ctx = Ctx { file, text };
        let body: Body = hcl::parse(text).map_err(|e| ConfigError::Syntax {
            file: file.to_owned(),
            message: e.to_string(),
        })?;
        let mut cfg = ServerConfig {
            listeners: Vec::new(),
            storage: StorageConfig::Memory,
            audit: Vec::new(),
            api_addr: None,
            log_level: "info".into(),
            log_format: "standard".into(),
            max_request_size: DEFAULT_MAX_REQUEST_SIZE,
            allow_api_audit: false,
            ignored: Vec::new(),
        };
        let mut storage_seen = false;
        for structure in body.iter() {
            match structure {
                Structure::Attribute(attr) => {
                    let key = attr.key.as_str();
                    let bad = |what: &str| ctx.err(key, format!("field {key:?} must be {what}"));
                    match key {
                        "api_addr" => {
                            cfg.api_addr =
                                Some(as_string(&attr.expr).ok_or_else(|| bad("a string"))?)
                        }
                        "log_level" => {
                            let level = as_string(&attr.expr)
                                .ok_or_else(|| bad("a string"))?
                                .to_lowercase();
                            if !["trace", "debug", "info", "warn", "error"]
                                .contains(&level.as_str())
                            {
                                return Err(ctx.err(key, format!("unknown log_level {level:?}: use trace, debug, info, warn or error")));
                            }
                            cfg.log_level = level;
                        }
                        "log_format" => {
                            let format = as_string(&attr.expr).ok_or_else(|| bad("a string"))?;
                            if format != "standard" && format != "json" {
                                return Err(ctx.err(key, format!("unknown log_format {format:?}: use \"standard\" or \"json\"")));
                            }
                            cfg.log_format = format;
                        }
                        "max_request_size" => {
                            cfg.max_request_size =
                                as_size(&attr.expr).ok_or_else(|| bad("a number of bytes"))?
                        }
                        "unsafe_allow_api_audit_creation" => {
                            cfg.allow_api_audit =
                                as_bool(&attr.expr).ok_or_else(|| bad("a boolean"))?
                        }
                        "ui" | "disable_mlock" | "cluster_addr" | "cluster_name"
                        | "default_lease_ttl" | "max_lease_ttl" | "pid_file" | "disable_cache" => {
                            cfg.ignored.push(key.to_owned())
                        }
                        other => return Err(ctx.err(other, format!("unknown field {other:?}"))),
                    }
                }
                Structure::Block(block) => match block.identifier.as_str() {
                    "listener" => cfg.listeners.push(parse_listener(&ctx, block)?),
                    "storage" | "backend" => {
                        if storage_seen {
                            return Err(
                                ctx.err("storage", "only one storage block is allowed".into())
                            );
                        }
                        storage_seen = true;
                        cfg.storage = parse_storage(&ctx, block)?;
                    }
                    "audit" => cfg.audit.push(parse_audit(&ctx, block)?),
                    "telemetry" | "seal" if block.body.iter().next().is_none() => {
                        cfg.ignored.push(block.identifier.to_string())
                    }
                    other => return Err(ctx.err(other, format!("unknown block {other:?}"))),
                },
            }
        }
        if cfg.listeners.is_empty() {
            return Err(ConfigError::Field {
                file: file.to_owned(),
                line: 0,
                message: "no listener \"tcp\" block: at least one listener is required".into(),
            });
        }
        if !storage_seen {
            return Err(ConfigError::Field {
                file: file.to_owned(),
                line: 0,
                message: "no storage block: use storage \"file\" { path = \"...\" } or storage \"inmem\" {}".into(),
            });
        }
        Ok(cfg)
    }
}

fn label(block: &Block, i: usize) -> Option<&str> {
    block.labels.get(i).map(|l| l.as_str())
}

fn parse_listener(ctx: &Ctx<'_>, block: &Block) -> Result<ListenerConfig, ConfigError> {
    match label(block, 0) {
        Some("tcp") => {}
        other => {
            return Err(ctx.err(
                "listener",
                format!(
                    "unsupported listener type {:?}: only \"tcp\"",
                    other.unwrap_or("")
                ),
            ));
        }
    }
    let mut l = ListenerConfig {
        address: "127.0.0.1:8200".into(),
        tls_disable: false,
        tls_cert_file: None,
        tls_key_file: None,
        tls_min_version: "tls12".into(),
        max_request_size: None,
    };
    for attr in block.body.attributes() {
        let key = attr.key.as_str();
        let bad = |what: &str| ctx.err(key, format!("listener field {key:?} must be {what}"));
        match key {
            "address" => l.address = as_string(&attr.expr).ok_or_else(|| bad("a string"))?,
            "tls_disable" => l.tls_disable = as_bool(&attr.expr).ok_or_else(|| bad("a boolean"))?,
            "tls_cert_file" => {
                l.tls_cert_file = Some(as_string(&attr.expr).ok_or_else(|| bad("a path"))?.into())
            }
            "tls_key_file" => {
                l.tls_key_file = Some(as_string(&attr.expr).ok_or_else(|| bad("a path"))?.into())
            }
            "tls_min_version" => {
                let v = as_string(&attr.expr).ok_or_else(|| bad("a string"))?;
                if v != "tls12" && v != "tls13" {
                    return Err(ctx.err(
                        key,
                        format!("unsupported tls_min_version {v:?}: use \"tls12\" or \"tls13\""),
                    ));
                }
                l.tls_min_version = v;
            }
            "max_request_size" => {
                l.max_request_size =
                    Some(as_size(&attr.expr).ok_or_else(|| bad("a number of bytes"))?)
            }
            "cluster_address" | "proxy_protocol_behavior" => {}
            other => {
                return Err(ctx.err(
                    other,
                    format!("unknown field {other:?} in listener \"tcp\""),
                ));
            }
        }
    }
    if let Some(block) = block.body.blocks().next() {
        let name = block.identifier.as_str();
        return Err(ctx.err(name, format!("unknown block {name:?} in listener \"tcp\"")));
    }
    if !l.tls_disable && (l.tls_cert_file.is_none() || l.tls_key_file.is_none()) {
        return Err(ctx.err(
            "listener",
            "listener \"tcp\" needs tls_cert_file and tls_key_file, or tls_disable = true".into(),
        ));
    }
    Ok(l)
}

fn parse_storage(ctx: &Ctx<'_>, block: &Block) -> Result<StorageConfig, ConfigError> {
    let kind = label(block, 0).unwrap_or("");
    let attrs: Vec<_> = block.body.attributes().collect();
    match kind {
        "inmem" => {
            if let Some(a) = attrs.first() {
                return Err(ctx.err(
                    a.key.as_str(),
                    format!("unknown field {:?} in storage \"inmem\"", a.key.as_str()),
                ));
            }
            Ok(StorageConfig::Memory)
        }
        "file" | "raft" => {
            let mut path = None;
            for attr in attrs {
                match attr.key.as_str() {
                    "path" => path = as_string(&attr.expr),
                    "node_id" if kind == "raft" => {}
                    other => {
                        return Err(ctx.err(
                            other,
                            format!("unknown field {other:?} in storage {kind:?}"),
                        ));
                    }
                }
            }
            let path = path.ok_or_else(|| {
                ctx.err("storage", format!("storage {kind:?} needs path = \"DIR\""))
            })?;
            Ok(StorageConfig::File { path: path.into() })
        }
        other => Err(ctx.err(
            "storage",
            format!(
                "unsupported storage type {other:?}: use \"file\" (embedded, durable) or \"inmem\""
            ),
        )),
    }
}

fn parse_audit(ctx: &Ctx<'_>, block: &Block) -> Result<FileDeviceConfig, ConfigError> {
    let kind = label(block, 0).unwrap_or("");
    if kind != "file" {
        return Err(ctx.err(
            "audit",
            format!("unsupported audit device type {kind:?}: only \"file\""),
        ));
    }
    let path = label(block, 1).unwrap_or(kind).trim_matches('/').to_owned() + "/";
    let mut device = FileDeviceConfig {
        path,
        hmac_accessor: true,
        ..FileDeviceConfig::default()
    };
    let mut apply = |key: &str, expr: &Expression| -> Result<(), ConfigError> {
        let value = as_string(expr)
            .ok_or_else(|| ctx.err(key, format!("audit option {key:?} must be a string")))?;
        match key {
            "file_path" | "path" if !value.is_empty() => device.file_path = value,
            "log_raw" => device.log_raw = value == "true",
            "hmac_accessor" => device.hmac_accessor = value != "false",
            "prefix" => device.prefix = value,
            "mode" => {
                device.mode = Some(
                    u32::from_str_radix(&value, 8)
                        .map_err(|_| ctx.err(key, format!("audit mode {value:?} must be octal")))?,
                )
            }
            "description" => device.description = value,
            "format" if value == "json" => {}
            "format" => {
                return Err(ctx.err(
                    key,
                    format!("unsupported audit format {value:?}: only \"json\""),
                ));
            }
            "local" => {}
            other => return Err(ctx.err(other, format!("unknown audit option {other:?}"))),
        }
        Ok(())
    };
    for attr in block.body.attributes() {
        apply(attr.key.as_str(), &attr.expr)?;
    }
    for inner in block.body.blocks() {
        if inner.identifier.as_str() != "options" {
            let name = inner.identifier.as_str();
            return Err(ctx.err(name, format!("unknown block {name:?} in audit")));
        }
        for attr in inner.body.attributes() {
            apply(attr.key.as_str(), &attr.expr)?;
        }
    }
    if device.file_path.is_empty() {
        return Err(ctx.err(
            "audit",
            "audit \"file\" needs options { file_path = \"...\" } (a path or \"stdout\")".into(),
        ));
    }
    Ok(device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_config_parses() {
        let text = r#"
api_addr = "http://127.0.0.1:8200"
log_level = "debug"
ui = true
listener "tcp" {
  address = "127.0.0.1:8200"
  tls_disable = "true"
}
storage "file" {
  path = "/tmp/coffer"
}
audit "file" "main" {
  options {
    file_path = "/tmp/audit.log"
  }
}
"#;
        let c = ServerConfig::parse("c.hcl", text).unwrap();
        assert_eq!(c.listeners[0].address, "127.0.0.1:8200");
        assert!(c.listeners[0].tls_disable);
        assert_eq!(
            c.storage,
            StorageConfig::File {
                path: "/tmp/coffer".into()
            }
        );
        assert_eq!(c.audit[0].path, "main/");
        assert_eq!(c.audit[0].file_path, "/tmp/audit.log");
        assert_eq!(c.log_level, "debug");
    }

    #[test]
    fn unknown_field_names_file_and_line() {
        let text = "listener \"tcp\" {\n  address = \"x\"\n  tls_disable = true\n  bogus = 1\n}\nstorage \"inmem\" {}\n";
        let e = ServerConfig::parse("c.hcl", text).unwrap_err().to_string();
        assert_eq!(e, "c.hcl:4: unknown field \"bogus\" in listener \"tcp\"");
        let e = ServerConfig::parse("c.hcl", "nope \"x\" {}\n")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "c.hcl:1: unknown block \"nope\"");
        let e = ServerConfig::parse(
            "c.hcl",
            "listener \"tcp\" {\n address = \"x\"\n}\nstorage \"inmem\" {}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("tls_cert_file"), "{e}");
    }
}
