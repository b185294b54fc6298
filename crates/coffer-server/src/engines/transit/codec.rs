//! Wire encodings transit shares with OpenBao: Go's `base64.StdEncoding`
//! decoding (lenient trailing bits, newlines ignored, and its exact
//! `illegal base64 data at input byte N` errors), PEM blocks as Go's
//! `pem.EncodeToMemory` writes them, and the two DER rewrites export needs.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// `illegal base64 data at input byte N`, Go's `CorruptInputError`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("illegal base64 data at input byte {0}")]
pub struct B64Error(pub usize);

fn sextet(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Decodes standard padded base64 exactly as Go's `StdEncoding.DecodeString`.
pub fn decode(src: &str) -> Result<Vec<u8>, B64Error> {
    let src = src.as_bytes();
    let mut out = Vec::with_capacity(src.len() / 4 * 3);
    let mut si = 0;
    loop {
        let mut quad = [0u8; 4];
        let mut j = 0;
        while j < 4 {
            if si == src.len() {
                return match j {
                    0 => Ok(out),
                    _ => Err(B64Error(si - j)),
                };
            }
            let c = src[si];
            si += 1;
            if c == b'\n' || c == b'\r' {
                continue;
            }
            if c == b'=' {
                // Padding: only after two or three data characters.
                if j < 2 {
                    return Err(B64Error(si - 1));
                }
                if j == 2 {
                    while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                        si += 1;
                    }
                    if si == src.len() {
                        return Err(B64Error(src.len()));
                    }
                    if src[si] != b'=' {
                        return Err(B64Error(si - 1));
                    }
                    si += 1;
                }
                while si < src.len() && (src[si] == b'\n' || src[si] == b'\r') {
                    si += 1;
                }
                if si < src.len() {
                    return Err(B64Error(si));
                }
                let n = j;
                let v = quad_value(&quad);
                out.extend_from_slice(&v[..n - 1]);
                return Ok(out);
            }
            quad[j] = sextet(c).ok_or(B64Error(si - 1))?;
            j += 1;
        }
        out.extend_from_slice(&quad_value(&quad));
    }
}

fn quad_value(q: &[u8; 4]) -> [u8; 3] {
    let v = (u32::from(q[0]) << 18)
        | (u32::from(q[1]) << 12)
        | (u32::from(q[2]) << 6)
        | u32::from(q[3]);
    [(v >> 16) as u8, (v >> 8) as u8, v as u8]
}

pub fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

pub fn encode_url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn decode_url(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).ok()
}

/// A PEM block with 64-column lines and a trailing newline, like Go.
pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The DER inside the first PEM block of `text` (labels are not checked).
pub fn pem_decode(text: &str) -> Option<Vec<u8>> {
    let body: String = text
        .lines()
        .map(str::trim)
        .skip_while(|l| !l.starts_with("-----BEGIN "))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END "))
        .collect();
    if body.is_empty() {
        return None;
    }
    decode(&body).ok()
}

/// The subject public key (BIT STRING contents) of a SubjectPublicKeyInfo.
pub fn spki_key(spki: &[u8]) -> Option<&[u8]> {
    let (tag, body, rest) = tlv(spki)?;
    if tag != 0x30 || !rest.is_empty() {
        return None;
    }
    let (_, _alg, rest) = tlv(body)?;
    let (tag, bits, _) = tlv(rest)?;
    match bits {
        [0, key @ ..] if tag == 0x03 => Some(key),
        _ => None,
    }
}

/// Reads one DER TLV at the start of `der`: (tag, content, rest).
fn tlv(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *der.first()?;
    let first = *der.get(1)?;
    let (len, hdr) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(*der.get(2 + i)?);
        }
        (len, 2 + n)
    };
    let end = hdr.checked_add(len)?;
    (der.len() >= end).then(|| (tag, &der[hdr..end], &der[end..]))
}

/// The PKCS#1 `RSAPrivateKey` inside a PKCS#8 `PrivateKeyInfo`.
pub fn pkcs8_inner_key(pkcs8: &[u8]) -> Option<&[u8]> {
    let (tag, body, _) = tlv(pkcs8)?;
    if tag != 0x30 {
        return None;
    }
    let (_, _version, rest) = tlv(body)?;
    let (_, _alg, rest) = tlv(rest)?;
    let (tag, key, _) = tlv(rest)?;
    (tag == 0x04).then_some(key)
}

/// An ASN.1 ECDSA signature to fixed-width `r‖s` (JWS form).
pub fn ecdsa_der_to_fixed(der: &[u8], width: usize) -> Option<Vec<u8>> {
    let (tag, body, rest) = tlv(der)?;
    if tag != 0x30 || !rest.is_empty() {
        return None;
    }
    let (t1, r, rest) = tlv(body)?;
    let (t2, s, rest) = tlv(rest)?;
    if t1 != 0x02 || t2 != 0x02 || !rest.is_empty() {
        return None;
    }
    let mut out = vec![0u8; width * 2];
    for (i, v) in [r, s].iter().enumerate() {
        let mut v = *v;
        while v.len() > 1 && v[0] == 0 {
            v = &v[1..];
        }
        if v.len() > width {
            return None;
        }
        let end = width * (i + 1);
        out[end - v.len()..end].copy_from_slice(v);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_base64_errors() {
        assert_eq!(decode("aGVsbG8gd29ybGQ=").unwrap(), b"hello world");
        assert_eq!(decode("not base64!").unwrap_err(), B64Error(3));
        assert_eq!(decode("!!bad").unwrap_err(), B64Error(0));
        assert_eq!(decode("AAA").unwrap_err(), B64Error(0));
        assert_eq!(decode("AAAAA").unwrap_err(), B64Error(4));
        assert_eq!(decode("AA=A").unwrap_err(), B64Error(2));
        assert_eq!(decode("AA==AA").unwrap_err(), B64Error(4));
        assert_eq!(decode("").unwrap(), b"");
        assert_eq!(decode("AB==").unwrap(), vec![0]); // lenient trailing bits, like Go
        assert_eq!(decode("aGVs\nbG8=").unwrap(), b"hello");
    }

    #[test]
    fn ecdsa_der_to_fixed_pads() {
        // SEQUENCE { INTEGER 0x00 0x80, INTEGER 0x01 }
        let der = [0x30, 0x07, 0x02, 0x02, 0x00, 0x80, 0x02, 0x01, 0x01];
        let fixed = ecdsa_der_to_fixed(&der, 4).unwrap();
        assert_eq!(fixed, vec![0, 0, 0, 0x80, 0, 0, 0, 1]);
        assert!(ecdsa_der_to_fixed(&der[..5], 4).is_none());
    }

    #[test]
    fn pem_lines() {
        let p = pem("PUBLIC KEY", &[0u8; 60]);
        assert!(p.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert!(p.ends_with("-----END PUBLIC KEY-----\n"));
        assert!(p.lines().all(|l| l.len() <= 64));
    }
}
