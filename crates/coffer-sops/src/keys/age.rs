//! age master keys: the data key (or share) as an ASCII-armored age file to
//! one X25519 recipient; identities from `SOPS_AGE_KEY`, `SOPS_AGE_KEY_FILE`,
//! `SOPS_AGE_KEY_CMD` and `$XDG_CONFIG_HOME/sops/age/keys.txt`.

use std::io::Read;
use std::str::FromStr;

use age::armor::ArmoredReader;
use age::x25519;
use zeroize::Zeroizing;

/// Encrypts `secret` to an `age1…` recipient, armored (64-column lines).
/// `age1…` X25519 and `ssh-ed25519 …` recipients are supported.
pub fn encrypt(recipient: &str, secret: &[u8]) -> Result<String, String> {
    let recipient = recipient.trim();
    if recipient.starts_with("ssh-ed25519 ") {
        let r = super::ssh::Recipient::parse(recipient)?;
        return armor(&r, secret).map_err(|e| format!("age encryption to {recipient} failed: {e}"));
    }
    let r = x25519::Recipient::from_str(recipient).map_err(|_| {
        if recipient.starts_with("ssh-") {
            format!("age recipient {recipient:?}: only ssh-ed25519 SSH keys are supported")
        } else {
            format!("invalid age recipient {recipient:?}")
        }
    })?;
    age::encrypt_and_armor(&r, secret)
        .map_err(|e| format!("age encryption to {recipient} failed: {e}"))
}

fn armor(r: &dyn age::Recipient, secret: &[u8]) -> Result<String, String> {
    use age::armor::{ArmoredWriter, Format};
    use std::io::Write;
    let enc = age::Encryptor::with_recipients(std::iter::once(r)).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut w = enc
        .wrap_output(
            ArmoredWriter::wrap_output(&mut out, Format::AsciiArmor).map_err(|e| e.to_string())?,
        )
        .map_err(|e| e.to_string())?;
    w.write_all(secret).map_err(|e| e.to_string())?;
    w.finish()
        .and_then(|a| a.finish())
        .map_err(|e| e.to_string())?;
    String::from_utf8(out).map_err(|_| "age armor is not text".into())
}

/// Every identity available for decryption.
#[derive(Default)]
pub struct Identities {
    pub x25519: Vec<x25519::Identity>,
    pub ssh: Vec<super::ssh::Identity>,
}

impl Identities {
    pub fn is_empty(&self) -> bool {
        self.x25519.is_empty() && self.ssh.is_empty()
    }
}

/// Decrypts an armored `enc` block with any of the identities.
pub fn decrypt(enc: &str, identities: &Identities) -> Result<Zeroizing<Vec<u8>>, String> {
    if identities.is_empty() {
        return Err("no age identity found (set SOPS_AGE_KEY_FILE or SOPS_AGE_KEY, or use ~/.config/sops/age/keys.txt)".into());
    }
    let d = age::Decryptor::new_buffered(ArmoredReader::new(enc.as_bytes()))
        .map_err(|e| format!("malformed age data: {e}"))?;
    let mut r = d
        .decrypt(
            identities
                .x25519
                .iter()
                .map(|i| i as &dyn age::Identity)
                .chain(identities.ssh.iter().map(|i| i as &dyn age::Identity)),
        )
        .map_err(|e| format!("no matching age identity: {e}"))?;
    let mut out = Zeroizing::new(Vec::new());
    r.read_to_end(&mut out)
        .map_err(|e| format!("age payload: {e}"))?;
    Ok(out)
}

/// Parses identity lines (`AGE-SECRET-KEY-1…`), ignoring comments and blanks.
pub fn parse_identities(text: &str) -> Vec<x25519::Identity> {
    text.split(['\n', ' ', '\r', '\t'])
        .filter(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .filter_map(|l| x25519::Identity::from_str(l).ok())
        .collect()
}

/// All identities the environment provides, as sops looks them up.
pub fn load_identities() -> Vec<x25519::Identity> {
    let mut ids = Vec::new();
    if let Ok(k) = std::env::var("SOPS_AGE_KEY") {
        ids.extend(parse_identities(&k));
    }
    if let Ok(p) = std::env::var("SOPS_AGE_KEY_FILE")
        && let Ok(t) = std::fs::read_to_string(&p)
    {
        ids.extend(parse_identities(&Zeroizing::new(t)));
    }
    if let Ok(cmd) = std::env::var("SOPS_AGE_KEY_CMD")
        && let Ok(out) = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(&cmd)
            .output()
        && out.status.success()
    {
        ids.extend(parse_identities(&Zeroizing::new(
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".config")));
    if let Some(base) = base
        && let Ok(t) = std::fs::read_to_string(base.join("sops/age/keys.txt"))
    {
        ids.extend(parse_identities(&Zeroizing::new(t)));
    }
    ids
}

/// SSH identities: `SOPS_AGE_SSH_PRIVATE_KEY_FILE`, else `~/.ssh/id_ed25519`
/// (unencrypted OpenSSH Ed25519 keys only).
pub fn load_ssh_identities() -> Vec<super::ssh::Identity> {
    let path = std::env::var_os("SOPS_AGE_SSH_PRIVATE_KEY_FILE")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".ssh/id_ed25519"))
        });
    path.and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| super::ssh::Identity::from_openssh(&Zeroizing::new(t)))
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use age::secrecy::ExposeSecret;

    #[test]
    fn round_trip_armored() {
        let id = x25519::Identity::generate();
        let enc = encrypt(&id.to_public().to_string(), &[7u8; 32]).unwrap();
        assert!(enc.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n"));
        assert!(enc.ends_with("-----END AGE ENCRYPTED FILE-----\n"));
        let ids = parse_identities(&format!("# comment\n{}\n", id.to_string().expose_secret()));
        let ids = Identities {
            x25519: ids,
            ssh: Vec::new(),
        };
        assert_eq!(&decrypt(&enc, &ids).unwrap()[..], &[7u8; 32]);
        let other = Identities {
            x25519: vec![x25519::Identity::generate()],
            ssh: Vec::new(),
        };
        assert!(decrypt(&enc, &other).is_err());
        assert!(encrypt("ssh-ed25519 AAAA", b"x").is_err());
        assert!(
            encrypt("ssh-rsa AAAA", b"x")
                .unwrap_err()
                .contains("ssh-ed25519")
        );
    }
}
