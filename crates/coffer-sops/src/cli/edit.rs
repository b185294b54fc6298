//! `sops edit`: decrypt into a private temporary file (directory 0700, file
//! 0600), run `$SOPS_EDITOR`/`$EDITOR`, re-encrypt only if the content
//! changed (same data key, IVs of unchanged values reused), remove the file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Global, read_input, write_atomic};
use crate::cipher::{DataKey, IvCache};
use crate::config;
use crate::document::{self, Decrypted};
use crate::error::{Error, Result};
use crate::format::{self, Format};
use crate::keys;
use crate::metadata::Metadata;

const EXAMPLE_YAML: &str =
    "hello: Welcome to SOPS! Edit this file as you please!\nexample_key: example_value\n";

fn example(f: Format) -> &'static str {
    match f {
        Format::Yaml => EXAMPLE_YAML,
        Format::Json => {
            "{\n\t\"hello\": \"Welcome to SOPS! Edit this file as you please!\",\n\t\"example_key\": \"example_value\"\n}\n"
        }
        Format::Dotenv => {
            "hello=Welcome to SOPS! Edit this file as you please!\nexample_key=example_value\n"
        }
        Format::Ini => "[example]\nhello = Welcome to SOPS! Edit this file as you please!\n",
        Format::Binary => "Welcome to SOPS! Edit this file as you please!\n",
    }
}

fn editor() -> Result<String> {
    for var in ["SOPS_EDITOR", "EDITOR"] {
        if let Ok(e) = std::env::var(var)
            && !e.trim().is_empty()
        {
            return Ok(e);
        }
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for cand in ["vim", "nano", "vi"] {
        if std::env::split_paths(&path).any(|d| d.join(cand).is_file()) {
            return Ok(cand.into());
        }
    }
    Err(Error::NoEditor)
}

fn run_editor(editor: &str, file: &Path) -> Result<()> {
    let st = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sops-editor")
        .arg(file)
        .status()
        .map_err(|e| Error::Other(format!("cannot run editor {editor:?}: {e}")))?;
    if !st.success() {
        return Err(Error::Other(format!("editor {editor:?} exited with {st}")));
    }
    Ok(())
}

fn private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Clears and removes the plaintext copy (the directory goes with TempDir).
struct Scrub(PathBuf);

impl Drop for Scrub {
    fn drop(&mut self) {
        if let Ok(m) = std::fs::metadata(&self.0) {
            let _ = std::fs::write(&self.0, vec![0u8; m.len() as usize]);
        }
        let _ = std::fs::remove_file(&self.0);
    }
}

pub(super) fn edit(g: &Global, file: &Path) -> Result<u8> {
    let f = g.input_format(Some(file))?;
    let config = config::find(g.config.as_deref())?;
    let style = g.style(f, config.as_ref());
    let existed = file.exists();
    let mut dec = if existed {
        let bytes = read_input(Some(file))?;
        document::decrypt(&bytes, f, &mut g.key_context(), g.ignore_mac)?
    } else {
        let cr = super::commands::creation(g, config.as_ref(), Some(file))?;
        let mut meta = Metadata::new(
            cr.groups,
            cr.rule,
            cr.mac_only_encrypted,
            cr.shamir_threshold,
        );
        if meta.rule.is_empty() && f != Format::Binary {
            meta.rule = crate::rules::RuleFields::from_rule(&crate::rules::Rule::default());
        }
        let key = DataKey::generate();
        keys::protect_data_key(&mut meta, &key)?;
        let branches = format::load_plain(example(f).as_bytes(), f)?;
        Decrypted {
            branches,
            meta,
            key,
            cache: IvCache::default(),
            format: f,
        }
    };
    let original = dec.plaintext(f, style)?;
    let dir = tempfile::Builder::new()
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .prefix("coffer-sops-edit-")
        .tempdir()
        .map_err(|e| Error::Other(format!("cannot create a temporary directory: {e}")))?;
    let name = file
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("file"));
    let tmp = dir.path().join(name);
    let _scrub = Scrub(tmp.clone());
    private_file(&tmp, &original).map_err(|e| Error::Write {
        path: tmp.clone(),
        source: e,
    })?;
    let editor = editor()?;
    let mut last_bad: Option<Vec<u8>> = None;
    loop {
        run_editor(&editor, &tmp)?;
        let edited = std::fs::read(&tmp).map_err(|e| Error::Read {
            path: tmp.clone(),
            source: e,
        })?;
        if edited == original {
            return Err(Error::NotModified);
        }
        match format::load_plain(&edited, f) {
            Ok(b) if f == Format::Binary || !format::has_metadata(&b, f) => {
                dec.branches = b;
                break;
            }
            Ok(_) => eprintln!(
                "the edited file must not contain a top-level sops key; reopening the editor"
            ),
            Err(e) => {
                if last_bad.as_ref() == Some(&edited) {
                    return Err(e);
                }
                eprintln!("could not parse the edited file: {e}; reopening the editor");
            }
        }
        last_bad = Some(edited);
    }
    let out = dec.reencrypt(style)?;
    write_atomic(file, &out)?;
    Ok(0)
}
