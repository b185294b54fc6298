//! `ssh-ed25519` age recipients and identities, implemented from the age
//! specification (the `age` crate's own `ssh` feature pulls the `rsa` crate,
//! which this project keeps out). Stanza: `-> ssh-ed25519 <tag> <share>`
//! where tag = SHA-256(ssh public key)[..4]; the X25519 key is the Montgomery
//! form of the Ed25519 key, tweaked with HKDF(salt = ssh key, info = label).

use std::collections::HashSet;

use age::{DecryptError, EncryptError};
use age_core::format::{FileKey, Stanza};
use age_core::primitives::{aead_decrypt, aead_encrypt, hkdf};
use age_core::secrecy::ExposeSecret;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use curve25519_dalek::edwards::CompressedEdwardsY;
use x25519_dalek::{X25519_BASEPOINT_BYTES, x25519};
use zeroize::Zeroizing;

const TAG: &str = "ssh-ed25519";
const LABEL: &[u8] = b"age-encryption.org/v1/ssh-ed25519";
const FILE_KEY_BYTES: usize = 16;

fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data).as_ref());
    out
}

/// Reads one SSH wire-format string (u32 length + bytes).
fn read_string<'a>(buf: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = u32::from_be_bytes(buf.get(..4)?.try_into().ok()?) as usize;
    let s = buf.get(4..4 + len)?;
    *buf = &buf[4 + len..];
    Some(s)
}

fn read_u32(buf: &mut &[u8]) -> Option<u32> {
    let v = u32::from_be_bytes(buf.get(..4)?.try_into().ok()?);
    *buf = &buf[4..];
    Some(v)
}

/// An `ssh-ed25519 AAAA… [comment]` recipient.
pub struct Recipient {
    wire: Vec<u8>,
    x25519: [u8; 32],
}

impl Recipient {
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut parts = s.split_whitespace();
        let (Some(TAG), Some(b64)) = (parts.next(), parts.next()) else {
            return Err(format!("invalid ssh-ed25519 recipient {s:?}"));
        };
        let wire = STANDARD
            .decode(b64)
            .map_err(|_| format!("invalid base64 in ssh recipient {s:?}"))?;
        Self::from_wire(wire).ok_or_else(|| format!("invalid ssh-ed25519 public key in {s:?}"))
    }

    fn from_wire(wire: Vec<u8>) -> Option<Self> {
        let mut buf = wire.as_slice();
        if read_string(&mut buf)? != TAG.as_bytes() {
            return None;
        }
        let pk: [u8; 32] = read_string(&mut buf)?.try_into().ok()?;
        if !buf.is_empty() {
            return None;
        }
        let mont = CompressedEdwardsY(pk)
            .decompress()?
            .to_montgomery()
            .to_bytes();
        Some(Recipient { wire, x25519: mont })
    }

    fn tag(&self) -> String {
        STANDARD_NO_PAD.encode(&sha256(&self.wire)[..4])
    }
}

impl age::Recipient for Recipient {
    fn wrap_file_key(
        &self,
        file_key: &FileKey,
    ) -> Result<(Vec<Stanza>, HashSet<String>), EncryptError> {
        let mut eph = Zeroizing::new([0u8; 32]);
        crate::cipher::fill_random(eph.as_mut());
        let share = x25519(*eph, X25519_BASEPOINT_BYTES);
        let tweak = Zeroizing::new(hkdf(&self.wire, LABEL, &[]));
        let shared = Zeroizing::new(x25519(*tweak, x25519(*eph, self.x25519)));
        let mut salt = share.to_vec();
        salt.extend_from_slice(&self.x25519);
        let key = Zeroizing::new(hkdf(&salt, LABEL, shared.as_ref()));
        let body = aead_encrypt(&key, file_key.expose_secret());
        let stanza = Stanza {
            tag: TAG.into(),
            args: vec![self.tag(), STANDARD_NO_PAD.encode(share)],
            body,
        };
        Ok((vec![stanza], HashSet::new()))
    }
}

/// An unencrypted OpenSSH Ed25519 private key.
pub struct Identity {
    recipient: Recipient,
    secret: Zeroizing<[u8; 32]>,
}

impl Identity {
    /// Parses `-----BEGIN OPENSSH PRIVATE KEY-----` text; `None` if it is not
    /// an unencrypted Ed25519 key.
    pub fn from_openssh(text: &str) -> Option<Self> {
        let body: String = text
            .lines()
            .skip_while(|l| !l.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"))
            .skip(1)
            .take_while(|l| !l.starts_with("-----END"))
            .collect();
        let raw = Zeroizing::new(STANDARD.decode(body.trim()).ok()?);
        let mut buf = raw.strip_prefix(b"openssh-key-v1\0".as_slice())?;
        let cipher = read_string(&mut buf)?;
        let _kdf = read_string(&mut buf)?;
        let _kdf_opts = read_string(&mut buf)?;
        if cipher != b"none" || read_u32(&mut buf)? != 1 {
            return None; // passphrase-protected or several keys: not supported
        }
        let public = read_string(&mut buf)?.to_vec();
        let mut private = read_string(&mut buf)?;
        if read_u32(&mut private)? != read_u32(&mut private)?
            || read_string(&mut private)? != TAG.as_bytes()
        {
            return None;
        }
        let _pk = read_string(&mut private)?;
        let sk = read_string(&mut private)?;
        let seed = sk.get(..32)?;
        let h = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA512, seed);
        let mut secret = Zeroizing::new([0u8; 32]);
        secret.copy_from_slice(&h.as_ref()[..32]);
        Some(Identity {
            recipient: Recipient::from_wire(public)?,
            secret,
        })
    }

    /// The matching recipient line (`ssh-ed25519 AAAA…`).
    pub fn recipient_string(&self) -> String {
        format!("{TAG} {}", STANDARD.encode(&self.recipient.wire))
    }
}

impl age::Identity for Identity {
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, DecryptError>> {
        if stanza.tag != TAG || stanza.args.first() != Some(&self.recipient.tag()) {
            return None;
        }
        let share: [u8; 32] = match stanza
            .args
            .get(1)
            .and_then(|s| STANDARD_NO_PAD.decode(s).ok())
        {
            Some(b) if stanza.args.len() == 2 => match b.try_into() {
                Ok(a) => a,
                Err(_) => return Some(Err(DecryptError::InvalidHeader)),
            },
            _ => return Some(Err(DecryptError::InvalidHeader)),
        };
        let tweak = Zeroizing::new(hkdf(&self.recipient.wire, LABEL, &[]));
        let dh = Zeroizing::new(x25519(*self.secret, share));
        if dh.iter().all(|b| *b == 0) {
            return Some(Err(DecryptError::InvalidHeader));
        }
        let shared = Zeroizing::new(x25519(*tweak, *dh));
        let mut salt = share.to_vec();
        salt.extend_from_slice(&self.recipient.x25519);
        let key = Zeroizing::new(hkdf(&salt, LABEL, shared.as_ref()));
        match aead_decrypt(&key, FILE_KEY_BYTES, &stanza.body) {
            Ok(pt) => {
                let pt = Zeroizing::new(pt);
                Some(FileKey::try_init_with_mut(|k| {
                    k.copy_from_slice(&pt);
                    Ok(())
                }))
            }
            Err(_) => Some(Err(DecryptError::DecryptionFailed)),
        }
    }
}
