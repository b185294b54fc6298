//! age master keys: the data key (or share) as an ASCII-armored age file to
//! one X25519 recipient; identities from `SOPS_AGE_KEY`, `SOPS_AGE_KEY_FILE`,
//! `SOPS_AGE_KEY_CMD` and `$XDG_CONFIG_HOME/sops/age/keys.txt`.

use std::io::Read;
use std::str::FromStr;

use age::armor::ArmoredReader;
use age::x25519;
use zeroize::Zeroizing;

/// Encrypts `secret` to an `age1…` recipient, armored (64-column lines).
pub fn encrypt(recipient: &str, secret: &[u8]) -> Result<String, String> {
    let r = x25519::Recipient::from_str(recipient.trim()).map_err(|_| {
        if recipient.starts_with("ssh-") {
            format!("age recipient {recipient:?}: SSH recipients are not supported by coffer (use an age1… key)")
        } else {
            format!("invalid age recipient {recipient:?}")
        }
    })?;
    age::encrypt_and_armor(&r, secret)
        .map_err(|e| format!("age encryption to {recipient} failed: {e}"))
}

/// Decrypts an armored `enc` block with any of the identities.
pub fn decrypt(enc: &str, identities: &[x25519::Identity]) -> Result<Zeroizing<Vec<u8>>, String> {
    if identities.is_empty() {
        return Err("no age identity found (set SOPS_AGE_KEY_FILE or SOPS_AGE_KEY, or use ~/.config/sops/age/keys.txt)".into());
    }
    let d = age::Decryptor::new_buffered(ArmoredReader::new(enc.as_bytes()))
        .map_err(|e| format!("malformed age data: {e}"))?;
    let mut r = d
        .decrypt(identities.iter().map(|i| i as &dyn age::Identity))
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
        assert_eq!(&decrypt(&enc, &ids).unwrap()[..], &[7u8; 32]);
        assert!(decrypt(&enc, &[x25519::Identity::generate()]).is_err());
        assert!(
            encrypt("ssh-ed25519 AAAA", b"x")
                .unwrap_err()
                .contains("SSH")
        );
    }
}
