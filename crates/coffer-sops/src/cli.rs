//! `coffer sops …` and the binary invoked as `sops`: the sops 3.13 command
//! line (subcommands plus the legacy `-e`/`-d`/`-r`/`-i` flags), with sops'
//! exit codes.

mod commands;
mod edit;
mod exec;

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::error::{Error, Result};
use crate::format::{Format, Style};
use crate::keys::{KeyContext, MasterKey};
use crate::metadata::KeyGroup;
use crate::rules::RuleFields;

#[derive(Parser, Debug)]
#[command(
    name = "sops",
    version = concat!("3.13.2 (coffer ", env!("CARGO_PKG_VERSION"), ")"),
    about = "SOPS-compatible encrypted files (coffer)",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    #[command(flatten)]
    g: Global,
    /// Legacy: encrypt FILE
    #[arg(short = 'e', long = "encrypt")]
    encrypt: bool,
    /// Legacy: decrypt FILE
    #[arg(short = 'd', long = "decrypt")]
    decrypt: bool,
    /// Legacy: rotate the data key of FILE
    #[arg(short = 'r', long = "rotate")]
    rotate: bool,
    /// Legacy: set a value: '["a"]["b"] "json value"'
    #[arg(long = "set")]
    set: Option<String>,
    /// File to work on (legacy form; without a flag it is edited)
    file: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Encrypt a file
    Encrypt { file: Option<PathBuf> },
    /// Decrypt a file
    Decrypt { file: Option<PathBuf> },
    /// Edit a file in $SOPS_EDITOR / $EDITOR
    Edit { file: PathBuf },
    /// Set a value: FILE '["a"]["b"]' '<json value>'
    Set {
        file: PathBuf,
        path: String,
        value: Option<String>,
    },
    /// Remove a value: FILE '["a"]["b"]'
    Unset { file: PathBuf, path: String },
    /// Re-encrypt the data key for the keys of the current creation rule
    Updatekeys {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Generate a new data key and re-encrypt everything
    Rotate { file: PathBuf },
    /// Run a command with the decrypted values in its environment
    ExecEnv { file: PathBuf, command: String },
    /// Run a command with the decrypted file at the path substituted for {}
    ExecFile { file: PathBuf, command: String },
    /// Print {"encrypted": true|false}
    Filestatus { file: PathBuf },
    /// Add or delete key groups
    #[command(subcommand)]
    Groups(GroupsCmd),
}

#[derive(Subcommand, Debug)]
enum GroupsCmd {
    /// Add a key group made of the --age/--pgp/--hc-vault-transit keys
    Add {
        #[arg(long)]
        file: PathBuf,
    },
    /// Delete the key group at INDEX (0-based)
    Delete {
        #[arg(long)]
        file: PathBuf,
        index: usize,
    },
}

#[derive(Args, Debug, Default, Clone)]
struct Global {
    /// Path to the .sops.yaml config
    #[arg(long, global = true, env = "SOPS_CONFIG")]
    config: Option<PathBuf>,
    /// Input format: yaml, json, dotenv, ini, binary (default: from the file suffix)
    #[arg(long, global = true)]
    input_type: Option<String>,
    /// Output format (default: the input format)
    #[arg(long, global = true)]
    output_type: Option<String>,
    /// Use this name to pick the format and creation rule (stdin input)
    #[arg(long, global = true)]
    filename_override: Option<PathBuf>,
    /// Indentation of YAML/JSON output
    #[arg(long, global = true)]
    indent: Option<usize>,
    /// Decrypt even if the MAC does not match
    #[arg(long, global = true)]
    ignore_mac: bool,
    #[arg(
        long,
        global = true,
        env = "SOPS_DECRYPTION_ORDER",
        default_value = "age,pgp"
    )]
    decryption_order: String,
    /// Write the result back to the file
    #[arg(short = 'i', long, global = true)]
    in_place: bool,
    /// Write the result to this file
    #[arg(long, global = true)]
    output: Option<PathBuf>,
    /// Extract one value: '["a"]["b"]'
    #[arg(long, global = true)]
    extract: Option<String>,
    /// age recipients, comma separated
    #[arg(short = 'a', long, global = true, env = "SOPS_AGE_RECIPIENTS")]
    age: Option<String>,
    /// PGP fingerprints, comma separated
    #[arg(short = 'p', long, global = true, env = "SOPS_PGP_FP")]
    pgp: Option<String>,
    /// Vault transit URIs, comma separated
    #[arg(long, global = true, env = "SOPS_VAULT_URIS")]
    hc_vault_transit: Option<String>,
    /// AWS KMS (not supported by coffer)
    #[arg(short = 'k', long, global = true)]
    kms: Option<String>,
    #[arg(long, global = true)]
    gcp_kms: Option<String>,
    #[arg(long, global = true)]
    azure_kv: Option<String>,
    /// Leave keys ending with this suffix in cleartext (default _unencrypted)
    #[arg(long, global = true)]
    unencrypted_suffix: Option<String>,
    /// Encrypt only keys ending with this suffix
    #[arg(long, global = true)]
    encrypted_suffix: Option<String>,
    /// Leave keys matching this regex in cleartext
    #[arg(long, global = true)]
    unencrypted_regex: Option<String>,
    /// Encrypt only keys matching this regex
    #[arg(long, global = true)]
    encrypted_regex: Option<String>,
    #[arg(long, global = true)]
    unencrypted_comment_regex: Option<String>,
    #[arg(long, global = true)]
    encrypted_comment_regex: Option<String>,
    /// Compute the MAC over encrypted values only
    #[arg(long, global = true)]
    mac_only_encrypted: bool,
    /// Key groups needed to decrypt (default: all)
    #[arg(long, global = true)]
    shamir_secret_sharing_threshold: Option<usize>,
    #[arg(long, global = true)]
    add_age: Option<String>,
    #[arg(long, global = true)]
    rm_age: Option<String>,
    #[arg(long, global = true)]
    add_pgp: Option<String>,
    #[arg(long, global = true)]
    rm_pgp: Option<String>,
    #[arg(long, global = true)]
    add_hc_vault_transit: Option<String>,
    #[arg(long, global = true)]
    rm_hc_vault_transit: Option<String>,
    /// updatekeys: do not ask for confirmation
    #[arg(short = 'y', long, global = true)]
    yes: bool,
    /// set/unset: do not rewrite the file when nothing changes
    #[arg(long, global = true)]
    idempotent: bool,
    /// set: the value argument is a file holding the JSON value
    #[arg(long, global = true)]
    value_file: bool,
    /// set: read the JSON value from stdin
    #[arg(long, global = true)]
    value_stdin: bool,
    /// Accepted for compatibility (metadata is never shown in the editor)
    #[arg(short = 's', long, global = true)]
    show_master_keys: bool,
    /// exec-env: start from an empty environment
    #[arg(long, global = true)]
    pristine: bool,
    /// exec-env: replace this process instead of spawning
    #[arg(long, global = true)]
    same_process: bool,
    /// exec-file: write a regular file (always done; FIFOs are not used)
    #[arg(long, global = true)]
    no_fifo: bool,
    /// exec-file: name of the decrypted file
    #[arg(long, global = true)]
    filename: Option<String>,
    #[arg(long, global = true)]
    verbose: bool,
}

/// Runs the sops CLI; `args[0]` is the program name (`sops`).
pub fn main(args: Vec<OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 1 } else { 0 });
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn run(cli: Cli) -> Result<u8> {
    let g = cli.g;
    if g.kms.is_some() || g.gcp_kms.is_some() || g.azure_kv.is_some() {
        return Err(Error::Usage("AWS/GCP/Azure KMS keys are not supported by coffer sops (use --age, --pgp or --hc-vault-transit)".into()));
    }
    match cli.cmd {
        Some(Cmd::Encrypt { file }) => commands::encrypt(&g, file.as_deref()),
        Some(Cmd::Decrypt { file }) => commands::decrypt(&g, file.as_deref()),
        Some(Cmd::Edit { file }) => edit::edit(&g, &file),
        Some(Cmd::Set { file, path, value }) => commands::set(&g, &file, &path, value),
        Some(Cmd::Unset { file, path }) => commands::unset(&g, &file, &path),
        Some(Cmd::Updatekeys { files }) => commands::updatekeys(&g, &files),
        Some(Cmd::Rotate { file }) => commands::rotate(&g, &file),
        Some(Cmd::ExecEnv { file, command }) => exec::exec_env(&g, &file, &command),
        Some(Cmd::ExecFile { file, command }) => exec::exec_file(&g, &file, &command),
        Some(Cmd::Filestatus { file }) => commands::filestatus(&g, &file),
        Some(Cmd::Groups(GroupsCmd::Add { file })) => commands::groups(&g, &file, None),
        Some(Cmd::Groups(GroupsCmd::Delete { file, index })) => {
            commands::groups(&g, &file, Some(index))
        }
        None => {
            let file = cli.file.as_deref();
            if cli.encrypt {
                commands::encrypt(&g, file)
            } else if cli.decrypt {
                commands::decrypt(&g, file)
            } else if cli.rotate {
                commands::rotate(&g, file.ok_or(Error::NoFile)?)
            } else if let Some(set) = cli.set {
                let file = file.ok_or(Error::NoFile)?;
                let (path, value) = split_legacy_set(&set)?;
                commands::set(&g, file, &path, Some(value))
            } else if let Some(file) = file {
                edit::edit(&g, file)
            } else {
                Err(Error::NoFile)
            }
        }
    }
}

/// `--set '["a"]["b"] "value"'`: path, a space, then the JSON value.
fn split_legacy_set(s: &str) -> Result<(String, String)> {
    let end = s.rfind(']').ok_or_else(|| Error::TreePath {
        path: s.into(),
        reason: "expected '[\"key\"] value'".into(),
    })?;
    let (p, v) = s.split_at(end + 1);
    Ok((p.trim().to_owned(), v.trim().to_owned()))
}

impl Global {
    fn key_context(&self) -> KeyContext {
        KeyContext::with_order(&self.decryption_order)
    }

    fn style(&self, f: Format, config: Option<&crate::config::Config>) -> Style {
        let from_config = config.and_then(|c| match f {
            Format::Yaml => c.yaml_indent,
            Format::Json | Format::Binary => c.json_indent,
            _ => None,
        });
        Style {
            indent: self.indent.or(from_config),
        }
    }

    fn name_for(&self, file: Option<&Path>) -> Option<PathBuf> {
        self.filename_override
            .clone()
            .or_else(|| file.map(Path::to_path_buf))
    }

    fn input_format(&self, file: Option<&Path>) -> Result<Format> {
        if let Some(t) = &self.input_type {
            return Format::parse(t)
                .ok_or_else(|| Error::Usage(format!("unknown --input-type {t:?}")));
        }
        match self.name_for(file) {
            Some(p) if p.as_os_str() != "-" => Ok(Format::from_path(&p)),
            _ => Err(Error::Usage(
                "reading stdin needs --input-type or --filename-override".into(),
            )),
        }
    }

    fn output_format(&self, input: Format) -> Result<Format> {
        match &self.output_type {
            Some(t) => {
                Format::parse(t).ok_or_else(|| Error::Usage(format!("unknown --output-type {t:?}")))
            }
            None => Ok(input),
        }
    }

    fn rule_fields(&self) -> RuleFields {
        RuleFields {
            unencrypted_suffix: self.unencrypted_suffix.clone(),
            encrypted_suffix: self.encrypted_suffix.clone(),
            unencrypted_regex: self.unencrypted_regex.clone(),
            encrypted_regex: self.encrypted_regex.clone(),
            unencrypted_comment_regex: self.unencrypted_comment_regex.clone(),
            encrypted_comment_regex: self.encrypted_comment_regex.clone(),
        }
    }

    /// Keys given on the command line (or SOPS_* variables): one group.
    fn cli_group(&self) -> Result<Option<KeyGroup>> {
        let mut g = KeyGroup::default();
        for r in split_list(self.age.as_deref()) {
            g.keys.push(MasterKey::new_age(&r));
        }
        for fp in split_list(self.pgp.as_deref()) {
            g.keys.push(MasterKey::new_pgp(&fp));
        }
        for uri in split_list(self.hc_vault_transit.as_deref()) {
            g.keys.push(MasterKey::new_vault(&uri)?);
        }
        Ok((!g.keys.is_empty()).then_some(g))
    }
}

pub(crate) fn split_list(s: Option<&str>) -> Vec<String> {
    s.map(|s| {
        s.split(',')
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

/// Reads a file, or stdin for `None`/`-`.
fn read_input(file: Option<&Path>) -> Result<Vec<u8>> {
    match file {
        Some(p) if p.as_os_str() != "-" => std::fs::read(p).map_err(|e| Error::Read {
            path: p.to_owned(),
            source: e,
        }),
        _ => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| Error::Read {
                    path: "<stdin>".into(),
                    source: e,
                })?;
            Ok(buf)
        }
    }
}

/// Replaces `path` atomically (temp file in the same directory, then
/// rename), keeping its permissions; on any error the file is untouched.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    // write through a symlink to its target, as sops does, instead of
    // replacing the link
    let resolved = std::fs::canonicalize(path).ok();
    let path = resolved.as_deref().unwrap_or(path);
    let werr = |e: std::io::Error| Error::Write {
        path: path.to_owned(),
        source: e,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".coffer-sops-")
        .tempfile_in(dir)
        .map_err(werr)?;
    tmp.write_all(bytes).map_err(werr)?;
    tmp.as_file().sync_all().map_err(werr)?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(tmp.path(), meta.permissions());
    }
    tmp.persist(path).map_err(|e| werr(e.error))?;
    Ok(())
}

/// Writes output to `--output`, in place, or stdout.
fn emit_output(g: &Global, file: Option<&Path>, bytes: &[u8]) -> Result<()> {
    if let Some(out) = &g.output {
        return write_atomic(out, bytes);
    }
    if g.in_place {
        let p = file
            .filter(|p| p.as_os_str() != "-")
            .ok_or_else(|| Error::Usage("--in-place needs a file".into()))?;
        return write_atomic(p, bytes);
    }
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|_| out.flush())
        .map_err(|e| Error::Write {
            path: "<stdout>".into(),
            source: e,
        })
}
