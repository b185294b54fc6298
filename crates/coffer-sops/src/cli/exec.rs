//! `exec-env` and `exec-file`: hand the decrypted values to a command
//! through its environment or a private temporary file.

use std::path::Path;
use std::process::Command;

use super::{Global, read_input};
use crate::document;
use crate::error::{Error, Result};
use crate::format::dotenv;
use crate::tree::Item;

fn status_code(st: std::process::ExitStatus) -> u8 {
    st.code().map(|c| c.clamp(0, 255) as u8).unwrap_or(1)
}

pub(super) fn exec_env(g: &Global, file: &Path, command: &str) -> Result<u8> {
    let bytes = read_input(Some(file))?;
    let f = g.input_format(Some(file))?;
    let dec = document::decrypt(&bytes, f, &mut g.key_context(), g.ignore_mac)?;
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(command);
    if g.pristine {
        cmd.env_clear();
    }
    for item in dec.branches.first().map(Vec::as_slice).unwrap_or_default() {
        if let Item::Pair(k, v) = item {
            if k.contains('=') || k.is_empty() {
                return Err(Error::Usage(format!(
                    "cannot use key {k:?} as an environment variable name"
                )));
            }
            cmd.env(k, dotenv::scalar_text(v, k)?);
        }
    }
    if g.same_process {
        use std::os::unix::process::CommandExt;
        let err = cmd.exec();
        return Err(Error::Other(format!("cannot exec /bin/sh: {err}")));
    }
    let st = cmd
        .status()
        .map_err(|e| Error::Other(format!("cannot run /bin/sh: {e}")))?;
    Ok(status_code(st))
}

pub(super) fn exec_file(g: &Global, file: &Path, command: &str) -> Result<u8> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let bytes = read_input(Some(file))?;
    let f = g.input_format(Some(file))?;
    let dec = document::decrypt(&bytes, f, &mut g.key_context(), g.ignore_mac)?;
    let fout = g.output_format(f)?;
    let plain = zeroize::Zeroizing::new(dec.plaintext(fout, g.style(fout, None))?);
    let name = g.filename.clone().unwrap_or_else(|| "tmp-file".into());
    if name.is_empty() || name.contains('/') || name == ".." || name == "." {
        return Err(Error::Usage(format!(
            "--filename {name:?} must be a plain file name"
        )));
    }
    let dir = tempfile::Builder::new()
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .prefix("coffer-sops-exec-")
        .tempdir()
        .map_err(|e| Error::Other(format!("cannot create a temporary directory: {e}")))?;
    let path = dir.path().join(&name);
    let mut fh = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| Error::Write {
            path: path.clone(),
            source: e,
        })?;
    fh.write_all(&plain).map_err(|e| Error::Write {
        path: path.clone(),
        source: e,
    })?;
    drop(fh);
    let cmdline = command.replace("{}", &path.to_string_lossy());
    let st = Command::new("/bin/sh")
        .arg("-c")
        .arg(cmdline)
        .status()
        .map_err(|e| Error::Other(format!("cannot run /bin/sh: {e}")))?;
    let _ = std::fs::write(&path, vec![0u8; plain.len()]);
    Ok(status_code(st))
}
