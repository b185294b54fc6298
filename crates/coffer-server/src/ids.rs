//! Identifier and time helpers: random base62 tokens and accessors, UUIDs,
//! RFC 3339 timestamps as Vault prints them.

use coffer_crypto::random_bytes;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `n` uniformly random base62 characters (rejection sampling: no modulo bias).
pub fn base62(n: usize) -> String {
    let mut out = String::with_capacity(n);
    while out.len() < n {
        for b in random_bytes(n * 2) {
            // 248 = 4 * 62: bytes at or above it would bias the result.
            if b < 248 && out.len() < n {
                out.push(BASE62[usize::from(b % 62)] as char);
            }
        }
    }
    out
}

pub fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A UUID-shaped request id from a per-thread generator seeded by the OS
/// once: unique, but not a secret (request ids are printed and logged), so it
/// costs no system call per request.
pub fn request_id() -> String {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new(u64::from_le_bytes(coffer_crypto::random_array::<8>()));
    }
    // SplitMix64: two outputs make the 128 bits.
    let next = || {
        STATE.with(|s| {
            let mut z = s.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
            s.set(z);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        })
    };
    let bits = (u128::from(next()) << 64) | u128::from(next());
    uuid::Builder::from_random_bytes(bits.to_le_bytes())
        .into_uuid()
        .to_string()
}

pub fn now_unix() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// RFC 3339 with nanoseconds, as Vault prints `created_time`.
pub fn rfc3339_now() -> String {
    rfc3339(OffsetDateTime::now_utc())
}

pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

pub fn rfc3339_unix(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .map(rfc3339)
        .unwrap_or_default()
}

/// Short random hex suffix used in mount accessors (`kv_1a2b3c4d`).
pub fn hex8() -> String {
    hex::encode(random_bytes(4))
}

#[cfg(test)]
mod tests {
    #[test]
    fn base62_shape() {
        let t = super::base62(24);
        assert_eq!(t.len(), 24);
        assert!(t.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(t, super::base62(24));
    }
}
