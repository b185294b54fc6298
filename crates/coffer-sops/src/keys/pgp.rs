//! PGP master keys through the `gpg` binary, as sops itself does in
//! practice (`SOPS_GPG_EXEC` overrides the binary; `GNUPGHOME` is honoured).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use zeroize::Zeroizing;

fn gpg() -> String {
    std::env::var("SOPS_GPG_EXEC").unwrap_or_else(|_| "gpg".into())
}

fn run(args: &[&str], input: &[u8], home: Option<&Path>) -> Result<Zeroizing<Vec<u8>>, String> {
    let mut cmd = Command::new(gpg());
    if let Some(h) = home {
        cmd.env("GNUPGHOME", h);
    }
    let mut child = cmd
        .args(["--batch", "--no-tty", "--quiet", "--yes"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", gpg()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input)
            .map_err(|e| format!("gpg stdin: {e}"))?;
    }
    let out = child.wait_with_output().map_err(|e| format!("gpg: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or("").trim().to_owned();
        return Err(format!("gpg failed: {last}"));
    }
    Ok(Zeroizing::new(out.stdout))
}

/// Decrypts an armored PGP message.
pub fn decrypt(enc: &str, home: Option<&Path>) -> Result<Zeroizing<Vec<u8>>, String> {
    run(&["--decrypt"], enc.as_bytes(), home)
}

/// Encrypts to the key with fingerprint `fp` (armored).
pub fn encrypt(fp: &str, secret: &[u8]) -> Result<String, String> {
    let out = run(
        &[
            "--armor",
            "--trust-model",
            "always",
            "--encrypt",
            "--recipient",
            fp,
        ],
        secret,
        None,
    )?;
    String::from_utf8(out.to_vec()).map_err(|_| "gpg produced non-text armor".into())
}
