//! The value cipher: AES-256-GCM with sops' 32-byte IV and the
//! `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]` text format.
//!
//! The data is the ciphertext without the tag; the AAD is the value's tree
//! path (`a:b:`) or, for the MAC, the `lastmodified` string.

use std::collections::HashMap;

use aes_gcm::aead::AeadInPlace;
use aes_gcm::aead::consts::{U12, U16, U32};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, KeyInit, Nonce, Tag};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use zeroize::Zeroizing;

/// Prefix every encrypted value starts with.
pub const ENC_PREFIX: &str = "ENC[AES256_GCM,data:";

/// The 32-byte key that encrypts every value of a file.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; 32]>);

impl DataKey {
    /// A fresh random data key.
    pub fn generate() -> Self {
        let mut k = Zeroizing::new([0u8; 32]);
        fill_random(k.as_mut());
        DataKey(k)
    }

    /// Wraps raw key bytes; `None` unless exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let arr: [u8; 32] = bytes.try_into().ok()?;
        Some(DataKey(Zeroizing::new(arr)))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

pub(crate) fn fill_random(buf: &mut [u8]) {
    // aws-lc-rs' system RNG only fails if the OS RNG is unavailable, which
    // leaves no safe way to continue.
    #[allow(clippy::expect_used)]
    aws_lc_rs::rand::fill(buf).expect("operating system random generator unavailable");
}

/// The value types sops records in `type:`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueType {
    Str,
    Int,
    Float,
    Bool,
    Time,
    Comment,
    Bytes,
}

impl ValueType {
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::Str => "str",
            ValueType::Int => "int",
            ValueType::Float => "float",
            ValueType::Bool => "bool",
            ValueType::Time => "time",
            ValueType::Comment => "comment",
            ValueType::Bytes => "bytes",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "str" => ValueType::Str,
            "int" => ValueType::Int,
            "float" => ValueType::Float,
            "bool" => ValueType::Bool,
            "time" => ValueType::Time,
            "comment" => ValueType::Comment,
            "bytes" => ValueType::Bytes,
            _ => return None,
        })
    }
}

/// The parsed fields of an `ENC[...]` string.
pub struct EncValue {
    pub data: Vec<u8>,
    pub iv: Vec<u8>,
    pub tag: Vec<u8>,
    pub ty: ValueType,
}

/// Whether a string looks like an encrypted sops value.
pub fn is_encrypted(s: &str) -> bool {
    s.starts_with(ENC_PREFIX)
}

/// Parses `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]` the way sops does
/// (greedy captures, text after the last `]` ignored).
pub fn parse_enc(s: &str) -> Result<EncValue, String> {
    let rest = s
        .strip_prefix(ENC_PREFIX)
        .ok_or_else(|| "does not start with ENC[AES256_GCM,data:".to_owned())?;
    let (rest, ty) = rsplit_field(rest, ",type:")?;
    let ty = ty
        .rfind(']')
        .map(|i| &ty[..i])
        .ok_or_else(|| "missing closing ]".to_owned())?;
    let (rest, tag) = rsplit_field(rest, ",tag:")?;
    let (data, iv) = rsplit_field(rest, ",iv:")?;
    if data.is_empty() {
        return Err("empty data field".into());
    }
    let ty = ValueType::parse(ty).ok_or_else(|| format!("unknown type {ty:?}"))?;
    let dec = |name: &str, v: &str| {
        B64.decode(v)
            .map_err(|_| format!("{name} is not valid base64"))
    };
    let tag = dec("tag", tag)?;
    if tag.len() != 16 {
        return Err(format!("tag is {} bytes, expected 16", tag.len()));
    }
    let iv = dec("iv", iv)?;
    if ![12, 16, 32].contains(&iv.len()) {
        return Err(format!("iv is {} bytes, expected 32", iv.len()));
    }
    Ok(EncValue {
        data: dec("data", data)?,
        iv,
        tag,
        ty,
    })
}

fn rsplit_field<'a>(s: &'a str, sep: &str) -> Result<(&'a str, &'a str), String> {
    let i = s
        .rfind(sep)
        .ok_or_else(|| format!("missing {} field", sep.trim_matches([',', ':'])))?;
    let v = &s[i + sep.len()..];
    if v.is_empty() {
        return Err(format!("empty {} field", sep.trim_matches([',', ':'])));
    }
    Ok((&s[..i], v))
}

/// AES-GCM failure (authentication or unsupported IV).
#[derive(Debug)]
pub struct AeadError;

fn seal(key: &DataKey, iv: &[u8], aad: &[u8], buf: &mut [u8]) -> Result<Vec<u8>, AeadError> {
    macro_rules! run {
        ($n:ty) => {{
            let c = AesGcm::<Aes256, $n>::new(key.as_bytes().into());
            c.encrypt_in_place_detached(Nonce::<$n>::from_slice(iv), aad, buf)
                .map(|t| t.to_vec())
                .map_err(|_| AeadError)
        }};
    }
    match iv.len() {
        32 => run!(U32),
        12 => run!(U12),
        16 => run!(U16),
        _ => Err(AeadError),
    }
}

fn open(key: &DataKey, iv: &[u8], aad: &[u8], buf: &mut [u8], tag: &[u8]) -> Result<(), AeadError> {
    if tag.len() != 16 {
        return Err(AeadError);
    }
    let tag = Tag::from_slice(tag);
    macro_rules! run {
        ($n:ty) => {{
            let c = AesGcm::<Aes256, $n>::new(key.as_bytes().into());
            c.decrypt_in_place_detached(Nonce::<$n>::from_slice(iv), aad, buf, tag)
                .map_err(|_| AeadError)
        }};
    }
    match iv.len() {
        32 => run!(U32),
        12 => run!(U12),
        16 => run!(U16),
        _ => Err(AeadError),
    }
}

/// A data key with its AES key schedule prepared once, for walking a whole
/// file (the per-call functions below rebuild it every time).
pub struct KeyedCipher {
    key: DataKey,
    gcm: AesGcm<Aes256, U32>,
}

impl KeyedCipher {
    pub fn new(key: &DataKey) -> Self {
        KeyedCipher {
            key: key.clone(),
            gcm: AesGcm::<Aes256, U32>::new(key.as_bytes().into()),
        }
    }

    pub fn encrypt(
        &self,
        plaintext: &[u8],
        aad: &str,
        ty: ValueType,
        iv: Option<&[u8]>,
    ) -> Result<String, AeadError> {
        match iv {
            Some(iv) if iv.len() != 32 => encrypt(&self.key, plaintext, aad, ty, Some(iv)),
            _ => {
                let mut ivb = [0u8; 32];
                match iv {
                    Some(iv) => ivb.copy_from_slice(iv),
                    None => fill_random(&mut ivb),
                }
                let mut buf = plaintext.to_vec();
                let tag = self
                    .gcm
                    .encrypt_in_place_detached(
                        Nonce::<U32>::from_slice(&ivb),
                        aad.as_bytes(),
                        &mut buf,
                    )
                    .map_err(|_| AeadError)?;
                Ok(format_enc(&buf, &ivb, &tag, ty))
            }
        }
    }

    pub fn decrypt(&self, v: &EncValue, aad: &str) -> Result<Zeroizing<Vec<u8>>, AeadError> {
        if v.iv.len() != 32 || v.tag.len() != 16 {
            return decrypt(&self.key, v, aad);
        }
        let mut buf = Zeroizing::new(v.data.clone());
        self.gcm
            .decrypt_in_place_detached(
                Nonce::<U32>::from_slice(&v.iv),
                aad.as_bytes(),
                &mut buf,
                Tag::from_slice(&v.tag),
            )
            .map_err(|_| AeadError)?;
        Ok(buf)
    }
}

fn format_enc(data: &[u8], iv: &[u8], tag: &[u8], ty: ValueType) -> String {
    let mut out =
        String::with_capacity(ENC_PREFIX.len() + (data.len() + iv.len() + tag.len()) * 4 / 3 + 40);
    out.push_str(ENC_PREFIX);
    B64.encode_string(data, &mut out);
    out.push_str(",iv:");
    B64.encode_string(iv, &mut out);
    out.push_str(",tag:");
    B64.encode_string(tag, &mut out);
    out.push_str(",type:");
    out.push_str(ty.as_str());
    out.push(']');
    out
}

/// Encrypts `plaintext` under `aad`, with `iv` if given (IV reuse for
/// unchanged values) or a fresh random 32-byte IV.
pub fn encrypt(
    key: &DataKey,
    plaintext: &[u8],
    aad: &str,
    ty: ValueType,
    iv: Option<&[u8]>,
) -> Result<String, AeadError> {
    let iv = match iv {
        Some(iv) => iv.to_vec(),
        None => {
            let mut v = vec![0u8; 32];
            fill_random(&mut v);
            v
        }
    };
    let mut buf = plaintext.to_vec();
    let tag = seal(key, &iv, aad.as_bytes(), &mut buf)?;
    Ok(format_enc(&buf, &iv, &tag, ty))
}

/// Decrypts a parsed value; the plaintext is zeroized when dropped.
pub fn decrypt(key: &DataKey, v: &EncValue, aad: &str) -> Result<Zeroizing<Vec<u8>>, AeadError> {
    let mut buf = Zeroizing::new(v.data.clone());
    open(key, &v.iv, aad.as_bytes(), &mut buf, &v.tag)?;
    Ok(buf)
}

/// Remembers the IV of every value decrypted in this run so that unchanged
/// values re-encrypt to identical text (small git diffs), as sops does.
/// Keyed by a SHA-256 of (type, aad, plaintext), never the plaintext itself.
#[derive(Default)]
pub struct IvCache {
    map: HashMap<[u8; 32], Vec<u8>>,
}

impl IvCache {
    fn id(ty: ValueType, aad: &str, plaintext: &[u8]) -> [u8; 32] {
        let mut c = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        c.update(ty.as_str().as_bytes());
        c.update(&[0]);
        c.update(&(aad.len() as u64).to_be_bytes());
        c.update(aad.as_bytes());
        c.update(plaintext);
        let mut out = [0u8; 32];
        out.copy_from_slice(c.finish().as_ref());
        out
    }

    pub fn remember(&mut self, ty: ValueType, aad: &str, plaintext: &[u8], iv: &[u8]) {
        self.map.insert(Self::id(ty, aad, plaintext), iv.to_vec());
    }

    pub fn get(&self, ty: ValueType, aad: &str, plaintext: &[u8]) -> Option<&[u8]> {
        self.map
            .get(&Self::id(ty, aad, plaintext))
            .map(Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let k = DataKey::generate();
        let s = encrypt(&k, b"hello", "a:b:", ValueType::Str, None).unwrap();
        let v = parse_enc(&s).unwrap();
        assert_eq!(v.iv.len(), 32);
        assert_eq!(&decrypt(&k, &v, "a:b:").unwrap()[..], b"hello");
        assert!(decrypt(&k, &v, "a:c:").is_err());
        let mut t = parse_enc(&s).unwrap();
        t.data[0] ^= 1;
        assert!(decrypt(&k, &t, "a:b:").is_err());
        let kc = KeyedCipher::new(&k);
        let s2 = kc
            .encrypt(b"hello", "a:b:", ValueType::Str, Some(&v.iv))
            .unwrap();
        assert_eq!(s2, s, "same key, IV and AAD give the same text");
        assert_eq!(&kc.decrypt(&v, "a:b:").unwrap()[..], b"hello");
        assert!(kc.decrypt(&t, "a:b:").is_err());
    }

    #[test]
    fn parse_errors() {
        assert!(parse_enc("ENC[AES256_GCM,data:,iv:a,tag:b,type:str]").is_err());
        assert!(parse_enc("ENC[AES256_GCM,data:AAAA,iv:AAAA").is_err());
        let k = DataKey::generate();
        let s = encrypt(&k, b"x", "", ValueType::Int, None).unwrap();
        assert!(parse_enc(&s.replace("type:int", "type:wat")).is_err());
        assert!(parse_enc(&s[..s.len() - 30]).is_err());
        // trailing text after ] is ignored, as in sops
        assert!(parse_enc(&format!("{s}junk")).is_ok());
    }
}
