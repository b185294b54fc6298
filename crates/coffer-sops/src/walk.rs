//! Walks the tree to encrypt or decrypt every leaf (AAD = path of map keys,
//! list elements share their list's path) and computes the MAC on the way.

use aws_lc_rs::digest;

use crate::cipher::{self, DataKey, IvCache, ValueType};
use crate::error::{Error, Result};
use crate::rules::Rule;
use crate::tree::{Branch, Item, Value};

/// SHA-256("sops"), fed first when `mac_only_encrypted` is set.
const MAC_ONLY_ENCRYPTED_INIT: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b,
    0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

/// What a walk produced.
#[derive(Debug)]
pub struct Outcome {
    /// Uppercase hex SHA-512 MAC over the plaintext values.
    pub mac: String,
    /// How many values (not comments) are encrypted.
    pub encrypted_values: usize,
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Encrypt,
    Decrypt,
    MacOnly,
}

struct Walker<'a> {
    key: Option<cipher::KeyedCipher>,
    rule: &'a Rule,
    mac_only_encrypted: bool,
    cache: &'a mut IvCache,
    mac: digest::Context,
    mode: Mode,
    encrypted_values: usize,
}

/// Encrypts every leaf in place; returns the MAC of the plaintext.
pub fn encrypt(
    branches: &mut [Branch],
    key: &DataKey,
    rule: &Rule,
    mac_only_encrypted: bool,
    cache: &mut IvCache,
) -> Result<Outcome> {
    run(
        branches,
        Some(key),
        rule,
        mac_only_encrypted,
        cache,
        Mode::Encrypt,
    )
}

/// Decrypts every leaf in place; returns the MAC computed from the plaintext.
pub fn decrypt(
    branches: &mut [Branch],
    key: &DataKey,
    rule: &Rule,
    mac_only_encrypted: bool,
    cache: &mut IvCache,
) -> Result<Outcome> {
    run(
        branches,
        Some(key),
        rule,
        mac_only_encrypted,
        cache,
        Mode::Decrypt,
    )
}

/// The MAC of a plaintext tree, without changing it.
pub fn mac_of_plaintext(
    branches: &[Branch],
    rule: &Rule,
    mac_only_encrypted: bool,
) -> Result<Outcome> {
    let mut copy = branches.to_vec();
    let mut cache = IvCache::default();
    run(
        &mut copy,
        None,
        rule,
        mac_only_encrypted,
        &mut cache,
        Mode::MacOnly,
    )
}

fn run(
    branches: &mut [Branch],
    key: Option<&DataKey>,
    rule: &Rule,
    mac_only_encrypted: bool,
    cache: &mut IvCache,
    mode: Mode,
) -> Result<Outcome> {
    let mut w = Walker {
        key: key.map(cipher::KeyedCipher::new),
        rule,
        mac_only_encrypted,
        cache,
        mac: digest::Context::new(&digest::SHA512),
        mode,
        encrypted_values: 0,
    };
    if mac_only_encrypted {
        w.mac.update(&MAC_ONLY_ENCRYPTED_INIT);
    }
    for b in branches.iter_mut() {
        let mut path = Vec::new();
        let mut active = Vec::new();
        w.map(b, &mut path, &mut active)?;
    }
    let mac = hex::encode_upper(w.mac.finish().as_ref());
    Ok(Outcome {
        mac,
        encrypted_values: w.encrypted_values,
    })
}

/// `a:b:` from a path; `:` for the root.
pub fn aad_of(path: &[String]) -> String {
    let mut s = String::with_capacity(path.iter().map(|p| p.len() + 1).sum::<usize>() + 1);
    for p in path {
        s.push_str(p);
        s.push(':');
    }
    if s.is_empty() {
        s.push(':');
    }
    s
}

impl Walker<'_> {
    fn encrypts(&self, path: &[String], active: &[String]) -> bool {
        let p: Vec<&str> = path.iter().map(String::as_str).collect();
        let a: Vec<&str> = active.iter().map(String::as_str).collect();
        self.rule.encrypts(&p, &a)
    }

    fn map(
        &mut self,
        items: &mut [Item],
        path: &mut Vec<String>,
        active: &mut Vec<String>,
    ) -> Result<()> {
        let base = active.len();
        for item in items.iter_mut() {
            match item {
                Item::Comment(text) => {
                    let enc = self.encrypts(path, active);
                    self.comment(text, path, enc)?;
                    if self.rule.uses_comments() {
                        active.push(text.clone());
                    }
                }
                Item::Pair(k, v) => {
                    path.push(k.clone());
                    self.value(v, path, active)?;
                    path.pop();
                    active.truncate(base);
                }
            }
        }
        Ok(())
    }

    fn comment(&mut self, text: &mut String, path: &[String], enc: bool) -> Result<()> {
        if !enc {
            return Ok(());
        }
        let aad = aad_of(path);
        match self.mode {
            Mode::Encrypt => {
                *text = self.seal(text.as_bytes(), &aad, ValueType::Comment, path)?;
            }
            Mode::Decrypt if cipher::is_encrypted(text) => {
                // A comment that does not decrypt (written by an old sops that
                // left comments in clear) is kept as it is, like sops does.
                if let Some((bytes, ValueType::Comment)) = self.open(text, &aad).ok().flatten()
                    && let Ok(s) = String::from_utf8(bytes.to_vec())
                {
                    *text = s;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn value(
        &mut self,
        v: &mut Value,
        path: &mut Vec<String>,
        active: &mut Vec<String>,
    ) -> Result<()> {
        match v {
            Value::Map(items) => self.map(items, path, active),
            Value::Seq(elems) => {
                let base = active.len();
                for e in elems.iter_mut() {
                    if let Value::Comment(text) = e {
                        let enc = self.encrypts(path, active);
                        if enc && self.mode == Mode::Encrypt {
                            let aad = aad_of(path);
                            *e = Value::Str(self.seal(
                                text.as_bytes(),
                                &aad,
                                ValueType::Comment,
                                path,
                            )?);
                        } else if self.rule.uses_comments() {
                            active.push(text.clone());
                        }
                        continue;
                    }
                    self.value(e, path, active)?;
                    if !matches!(e, Value::Comment(_)) {
                        active.truncate(base);
                    }
                }
                Ok(())
            }
            Value::Null => Ok(()),
            _ => self.leaf(v, path, active),
        }
    }

    fn leaf(&mut self, v: &mut Value, path: &[String], active: &[String]) -> Result<()> {
        let enc = self.encrypts(path, active);
        match self.mode {
            Mode::Encrypt | Mode::MacOnly => {
                let Some((bytes, ty)) = v.plaintext() else {
                    return Ok(());
                };
                if enc || !self.mac_only_encrypted {
                    self.mac.update(&bytes);
                }
                if !enc || bytes.is_empty() && ty == ValueType::Str {
                    return Ok(());
                }
                self.encrypted_values += 1;
                if self.mode == Mode::Encrypt {
                    let aad = aad_of(path);
                    *v = Value::Str(self.seal(&bytes, &aad, ty, path)?);
                }
                Ok(())
            }
            Mode::Decrypt => {
                if !enc {
                    if !self.mac_only_encrypted
                        && let Some((bytes, _)) = v.plaintext()
                    {
                        self.mac.update(&bytes);
                    }
                    return Ok(());
                }
                let s = match v {
                    Value::Str(s) if s.is_empty() => return Ok(()),
                    Value::Str(s) if s.starts_with("ENC[") => s,
                    _ => {
                        return Err(Error::BadEncValue {
                            path: aad_of(path),
                            reason: "value is in cleartext but the file's rule says it must be encrypted".into(),
                        });
                    }
                };
                let aad = aad_of(path);
                let Some((bytes, ty)) = self.open(s, &aad)? else {
                    return Err(Error::Decrypt { path: aad });
                };
                let nv =
                    Value::from_plaintext(&bytes, ty).map_err(|reason| Error::BadEncValue {
                        path: aad.clone(),
                        reason,
                    })?;
                if ty != ValueType::Comment {
                    self.encrypted_values += 1;
                    if let Some((b, _)) = nv.plaintext() {
                        self.mac.update(&b);
                    }
                }
                *v = nv;
                Ok(())
            }
        }
    }

    fn seal(&mut self, bytes: &[u8], aad: &str, ty: ValueType, path: &[String]) -> Result<String> {
        let key = self
            .key
            .as_ref()
            .ok_or_else(|| Error::Other("internal: no data key".into()))?;
        let iv = self.cache.get(ty, aad, bytes);
        key.encrypt(bytes, aad, ty, iv).map_err(|_| Error::Encrypt {
            path: aad_of(path),
            reason: "aes-gcm failed".into(),
        })
    }

    /// `Ok(None)` = authentication failed; `Err` = malformed value.
    #[allow(clippy::type_complexity)]
    fn open(
        &mut self,
        s: &str,
        aad: &str,
    ) -> Result<Option<(zeroize::Zeroizing<Vec<u8>>, ValueType)>> {
        let key = self
            .key
            .as_ref()
            .ok_or_else(|| Error::Other("internal: no data key".into()))?;
        let ev = cipher::parse_enc(s).map_err(|reason| Error::BadEncValue {
            path: aad.to_owned(),
            reason,
        })?;
        match key.decrypt(&ev, aad) {
            Ok(pt) => {
                self.cache.remember(ev.ty, aad, &pt, &ev.iv);
                Ok(Some((pt, ev.ty)))
            }
            Err(_) => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(with_comments: bool) -> Vec<Branch> {
        let mut seq = vec![Value::Str("a".into()), Value::Str("b".into())];
        let mut map = vec![Item::Pair("k".into(), Value::Seq(Vec::new()))];
        if with_comments {
            seq.insert(1, Value::Comment(" in list".into()));
            map.insert(0, Item::Comment(" in map".into()));
        }
        map[if with_comments { 1 } else { 0 }] = Item::Pair("k".into(), Value::Seq(seq));
        vec![map]
    }

    /// Comments (also inside lists) never reach the MAC, on encrypt and on
    /// decrypt: the sops 3.13.2 regression (#2243) is not reproduced.
    #[test]
    fn comments_are_not_in_the_mac() {
        let rule = Rule::default();
        let plain = mac_of_plaintext(&tree(false), &rule, false).unwrap().mac;
        assert_eq!(
            mac_of_plaintext(&tree(true), &rule, false).unwrap().mac,
            plain
        );
        let key = DataKey::generate();
        let mut b = tree(true);
        let enc = encrypt(&mut b, &key, &rule, false, &mut IvCache::default()).unwrap();
        assert_eq!(enc.mac, plain);
        let Item::Pair(_, Value::Seq(s)) = &b[0][1] else {
            panic!()
        };
        assert!(matches!(&s[1], Value::Str(x) if x.ends_with("type:comment]")));
        let dec = decrypt(&mut b, &key, &rule, false, &mut IvCache::default()).unwrap();
        assert_eq!(dec.mac, plain);
        assert_eq!(b, tree(true));
    }

    #[test]
    fn aads() {
        assert_eq!(aad_of(&[]), ":");
        assert_eq!(aad_of(&["a".into(), "b ".into()]), "a:b :");
    }
}
