//! Symmetric encryption as OpenBao does it: `vault:v<N>:base64(nonce ‖ ct ‖ tag)`,
//! per-context keys via HKDF-SHA256 for derived keys, convergent nonces
//! (HMAC-SHA256 of the plaintext under a derived key, OpenBao's convergent
//! version 3), XChaCha20-Poly1305 through HChaCha20 + ChaCha20-Poly1305,
//! and RSA-OAEP (SHA-256) for RSA keys.

use aws_lc_rs::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, KeyType as HkdfLen, Salt};
use aws_lc_rs::hmac;
use aws_lc_rs::rsa::OAEP_SHA256_MGF1SHA256;
use coffer_core::logical::{Error, Result};
use zeroize::Zeroizing;

use super::codec;
use super::keytype::KeyType;
use super::material::{KeyVersion, Secret, aead_key, random_bytes};
use super::policy::{Policy, bad};

pub const MISSING_CONTEXT: &str = "missing 'context' for key derivation; the key was created using a derived key, which means additional, per-request information must be included in order to perform operations with the key";

struct Len(usize);
impl HkdfLen for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-SHA256(secret = key, salt = none, info = context), `len` bytes.
pub fn derive(key: &[u8], context: &[u8], len: usize) -> Result<Zeroizing<Vec<u8>>> {
    if context.is_empty() {
        return Err(bad(MISSING_CONTEXT));
    }
    let mut out = Zeroizing::new(vec![0u8; len]);
    Salt::new(HKDF_SHA256, &[])
        .extract(key)
        .expand(&[context], Len(len))
        .and_then(|okm| okm.fill(&mut out))
        .map_err(|_| bad("key derivation failed"))?;
    Ok(out)
}

/// The HChaCha20 core: a subkey from a 256-bit key and a 128-bit nonce.
pub fn hchacha20(key: &[u8], nonce: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut s = [0u32; 16];
    s[..4].copy_from_slice(&[0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574]);
    for i in 0..8 {
        s[4 + i] = u32::from_le_bytes([key[4 * i], key[4 * i + 1], key[4 * i + 2], key[4 * i + 3]]);
    }
    for i in 0..4 {
        s[12 + i] = u32::from_le_bytes([
            nonce[4 * i],
            nonce[4 * i + 1],
            nonce[4 * i + 2],
            nonce[4 * i + 3],
        ]);
    }
    fn qr(s: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
        s[a] = s[a].wrapping_add(s[b]);
        s[d] = (s[d] ^ s[a]).rotate_left(16);
        s[c] = s[c].wrapping_add(s[d]);
        s[b] = (s[b] ^ s[c]).rotate_left(12);
        s[a] = s[a].wrapping_add(s[b]);
        s[d] = (s[d] ^ s[a]).rotate_left(8);
        s[c] = s[c].wrapping_add(s[d]);
        s[b] = (s[b] ^ s[c]).rotate_left(7);
    }
    for _ in 0..10 {
        qr(&mut s, 0, 4, 8, 12);
        qr(&mut s, 1, 5, 9, 13);
        qr(&mut s, 2, 6, 10, 14);
        qr(&mut s, 3, 7, 11, 15);
        qr(&mut s, 0, 5, 10, 15);
        qr(&mut s, 1, 6, 11, 12);
        qr(&mut s, 2, 7, 8, 13);
        qr(&mut s, 3, 4, 9, 14);
    }
    let mut out = Zeroizing::new([0u8; 32]);
    for (i, w) in s[..4].iter().chain(&s[12..]).enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&w.to_le_bytes());
    }
    s.iter_mut().for_each(|w| *w = 0);
    out
}

/// The AEAD key and 12-byte nonce actually used for one message.
fn resolve<'k>(
    kt: KeyType,
    prebuilt: Option<&'k LessSafeKey>,
    raw: &[u8],
    nonce: &[u8],
    owned: &'k mut Option<LessSafeKey>,
) -> Result<(&'k LessSafeKey, [u8; 12])> {
    let mut n12 = [0u8; 12];
    if kt == KeyType::XChaCha20Poly1305 {
        let sub = hchacha20(raw, &nonce[..16]);
        n12[4..].copy_from_slice(&nonce[16..24]);
        let key = UnboundKey::new(&CHACHA20_POLY1305, &sub[..])
            .map_err(|_| bad("could not build the cipher"))?;
        return Ok((owned.insert(LessSafeKey::new(key)), n12));
    }
    n12.copy_from_slice(&nonce[..12]);
    match prebuilt {
        Some(k) => Ok((k, n12)),
        None => {
            let key = aead_key(kt, raw).ok_or_else(|| bad("could not build the cipher"))?;
            Ok((owned.insert(key), n12))
        }
    }
}

/// `nonce ‖ ct ‖ tag` under `raw` (or the prebuilt cipher).
pub fn seal(
    kt: KeyType,
    prebuilt: Option<&LessSafeKey>,
    raw: &[u8],
    nonce: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    let mut owned = None;
    let (key, n12) = resolve(kt, prebuilt, raw, nonce, &mut owned)?;
    let mut out = Vec::with_capacity(nonce.len() + plaintext.len() + 16);
    out.extend_from_slice(nonce);
    out.extend_from_slice(plaintext);
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(n12),
            Aad::from(aad),
            &mut out[nonce.len()..],
        )
        .map_err(|_| bad("encryption failed"))?;
    out.extend_from_slice(tag.as_ref());
    Ok(out)
}

/// Opens `nonce ‖ ct ‖ tag`.
pub fn open(
    kt: KeyType,
    prebuilt: Option<&LessSafeKey>,
    raw: &[u8],
    data: &[u8],
    aad: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let nlen = kt.nonce_len();
    if data.len() < nlen {
        return Err(bad("invalid ciphertext length"));
    }
    let auth_failed = || {
        bad(if kt.as_str().contains("chacha") {
            "chacha20poly1305: message authentication failed"
        } else {
            "cipher: message authentication failed"
        })
    };
    let (nonce, body) = data.split_at(nlen);
    if body.len() < 16 {
        return Err(auth_failed());
    }
    let mut owned = None;
    let (key, n12) = resolve(kt, prebuilt, raw, nonce, &mut owned)?;
    let mut buf = Zeroizing::new(body.to_vec());
    let len = key
        .open_in_place(
            Nonce::assume_unique_for_key(n12),
            Aad::from(aad),
            &mut buf[..],
        )
        .map_err(|_| auth_failed())?
        .len();
    buf.truncate(len);
    Ok(buf)
}

/// Splits `vault:v<N>:<payload>`; `what` is "ciphertext" or "signature".
pub fn parse_tagged<'a>(value: &'a str, what: &str) -> Result<(i64, &'a str)> {
    let rest = value
        .strip_prefix("vault:v")
        .ok_or_else(|| bad(format!("invalid {what}: no prefix")))?;
    let (ver, payload) = rest
        .split_once(':')
        .ok_or_else(|| bad(format!("invalid {what}: wrong number of fields")))?;
    let ver: i64 = ver.parse().map_err(|_| {
        bad(format!(
            "invalid {what}: version number could not be decoded"
        ))
    })?;
    Ok((ver, payload))
}

/// Resolves the version a tagged value names, with OpenBao's checks.
pub fn tagged_version(p: &Policy, ver: i64, what: &str) -> Result<u32> {
    if ver < 0 {
        return Err(bad(super::policy::ERR_TOO_OLD));
    }
    let v = u32::try_from(ver).map_err(|_| bad(format!("invalid {what}: version is too new")))?;
    p.decryption_version(v, what)?;
    Ok(v.max(1))
}

/// Encrypts `plaintext` with version `ver` of `p`, returning the tagged ciphertext.
pub fn encrypt(
    p: &Policy,
    ver: u32,
    plaintext: &[u8],
    context: &[u8],
    aad: &[u8],
) -> Result<String> {
    p.usable()?;
    let kt = p.kt;
    let kv: &KeyVersion = p.version(ver)?;
    let body = match &kv.secret {
        Secret::Rsa { enc, .. } | Secret::Public { enc: Some(enc), .. } => {
            let mut out = vec![0u8; enc.ciphertext_size()];
            let ct = enc
                .encrypt(&OAEP_SHA256_MGF1SHA256, plaintext, &mut out, None)
                .map_err(|_| {
                    bad("failed to RSA encrypt the plaintext: message too long for RSA key size")
                })?;
            ct.to_vec()
        }
        Secret::Sym { raw, cipher } => {
            let nlen = kt.nonce_len();
            if p.meta.derived {
                let enc_len = kt.key_len();
                let extra = if p.meta.convergent_encryption { 32 } else { 0 };
                let key = derive(raw, context, enc_len + extra)?;
                let nonce = if p.meta.convergent_encryption {
                    let mac = hmac::sign(
                        &hmac::Key::new(hmac::HMAC_SHA256, &key[enc_len..]),
                        plaintext,
                    );
                    Zeroizing::new(mac.as_ref()[..nlen].to_vec())
                } else {
                    random_bytes(nlen).map_err(Error::internal)?
                };
                seal(kt, None, &key[..enc_len], &nonce, aad, plaintext)?
            } else {
                seal(
                    kt,
                    cipher.as_ref(),
                    raw,
                    &random_bytes(nlen).map_err(Error::internal)?,
                    aad,
                    plaintext,
                )?
            }
        }
        _ => {
            return Err(bad(format!(
                "message encryption not supported for key type {}",
                kt.as_str()
            )));
        }
    };
    Ok(format!("vault:v{ver}:{}", codec::encode(&body)))
}

/// Decrypts a tagged ciphertext. `oaep_label` is coffer's RSA extension.
pub fn decrypt(
    p: &Policy,
    value: &str,
    context: &[u8],
    aad: &[u8],
    oaep_label: Option<&[u8]>,
) -> Result<Zeroizing<Vec<u8>>> {
    p.usable()?;
    let kt = p.kt;
    if !kt.supports_encryption() {
        return Err(bad(format!(
            "message decryption not supported for key type {}",
            kt.as_str()
        )));
    }
    let (ver, payload) = parse_tagged(value, "ciphertext")?;
    let ver = tagged_version(p, ver, "ciphertext")?;
    let kv = p.version(ver)?;
    let data =
        codec::decode(payload).map_err(|_| bad("invalid ciphertext: could not decode base64"))?;
    match &kv.secret {
        Secret::Public { .. } => Err(bad(
            "cannot decrypt ciphertext, key version does not have a private counterpart",
        )),
        Secret::Rsa { dec, .. } => {
            let mut out = Zeroizing::new(vec![0u8; dec.min_output_size()]);
            let len = dec
                .decrypt(&OAEP_SHA256_MGF1SHA256, &data, &mut out, oaep_label)
                .map_err(|_| {
                    bad("failed to RSA decrypt the ciphertext: crypto/rsa: decryption error")
                })?
                .len();
            out.truncate(len);
            Ok(out)
        }
        Secret::Sym { raw, cipher } => {
            if p.meta.derived {
                let key = derive(raw, context, kt.key_len())?;
                open(kt, None, &key, &data, aad)
            } else {
                open(kt, cipher.as_ref(), raw, &data, aad)
            }
        }
        _ => Err(bad("unsupported key type")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hchacha20_draft_vector() {
        // draft-irtf-cfrg-xchacha-03 §2.2.1
        let key: Vec<u8> = (0u8..32).collect();
        let nonce = hex::decode("000000090000004a0000000031415927").unwrap();
        assert_eq!(
            hex::encode(&hchacha20(&key, &nonce)[..]),
            "82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc"
        );
    }

    #[test]
    fn hkdf_matches_rfc5869_without_salt() {
        // RFC 5869 test case 3 (zero-length salt and info) uses info ""; here
        // the same construction with a non-empty info is checked against
        // HMAC-based expansion written out by hand.
        let ikm = [0x0bu8; 22];
        let okm = derive(&ikm, b"ctx", 32).unwrap();
        let prk = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &[0u8; 32]), &ikm);
        let t1 = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, prk.as_ref()), b"ctx\x01");
        assert_eq!(&okm[..], t1.as_ref());
        assert_eq!(derive(&ikm, b"", 32).unwrap_err(), bad(MISSING_CONTEXT));
    }

    #[test]
    fn tagged_parsing() {
        assert_eq!(
            parse_tagged("vault:v2:abc", "ciphertext").unwrap(),
            (2, "abc")
        );
        assert_eq!(
            parse_tagged("garbage", "ciphertext").unwrap_err(),
            bad("invalid ciphertext: no prefix")
        );
        assert_eq!(
            parse_tagged("vault:vX:abc", "signature").unwrap_err(),
            bad("invalid signature: version number could not be decoded")
        );
        assert_eq!(
            parse_tagged("vault:v1", "ciphertext").unwrap_err(),
            bad("invalid ciphertext: wrong number of fields")
        );
    }

    #[test]
    fn seal_open_every_aead() {
        for kt in [
            KeyType::Aes128Gcm96,
            KeyType::Aes256Gcm96,
            KeyType::ChaCha20Poly1305,
            KeyType::XChaCha20Poly1305,
        ] {
            let raw = random_bytes(kt.key_len()).unwrap();
            let nonce = random_bytes(kt.nonce_len()).unwrap();
            let ct = seal(kt, None, &raw, &nonce, b"ad", b"hello world").unwrap();
            assert_eq!(ct.len(), kt.nonce_len() + 11 + 16);
            assert_eq!(
                &open(kt, None, &raw, &ct, b"ad").unwrap()[..],
                b"hello world"
            );
            assert!(open(kt, None, &raw, &ct, b"other").is_err());
            assert_eq!(
                open(kt, None, &raw, &ct[..3], b"").unwrap_err(),
                bad("invalid ciphertext length")
            );
        }
    }
}
