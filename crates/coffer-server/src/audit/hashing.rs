//! Which values of an audit entry are HMAC'd, and how.

use serde_json::Value;

/// `hmac-sha256:<hex>` of a value under a device salt.
pub fn hmac_value(salt: &[u8], value: &str) -> String {
    format!(
        "hmac-sha256:{}",
        coffer_crypto::hmac::sha256_hex(salt, value.as_bytes())
    )
}

/// Replaces every string leaf with its HMAC, except timestamps in `*_time` keys.
pub fn hash_tree(salt: &[u8], value: &mut Value) {
    match value {
        Value::String(s) => *s = hmac_value(salt, s),
        Value::Array(items) => items.iter_mut().for_each(|v| hash_tree(salt, v)),
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                let is_time = k.ends_with("_time")
                    && v.as_str().is_some_and(|s| {
                        !s.is_empty()
                            && time::OffsetDateTime::parse(
                                s,
                                &time::format_description::well_known::Rfc3339,
                            )
                            .is_ok()
                    });
                if !is_time {
                    hash_tree(salt, v);
                }
            }
        }
        _ => {}
    }
}

/// Hashes a single string field at `pointer` (e.g. `/auth/client_token`) if present.
pub fn hash_field(salt: &[u8], entry: &mut Value, pointer: &str) {
    if let Some(Value::String(s)) = entry.pointer_mut(pointer) {
        *s = hmac_value(salt, s);
    }
}

/// HMACs the sensitive parts of a whole audit entry in place.
pub fn hash_entry(salt: &[u8], entry: &mut Value, hmac_accessor: bool) {
    for p in [
        "/auth/client_token",
        "/request/client_token",
        "/response/auth/client_token",
        "/response/wrap_info/token",
    ] {
        hash_field(salt, entry, p);
    }
    if hmac_accessor {
        for p in [
            "/auth/accessor",
            "/request/client_token_accessor",
            "/response/auth/accessor",
            "/response/wrap_info/accessor",
        ] {
            hash_field(salt, entry, p);
        }
    }
    for p in ["/request/data", "/response/data"] {
        if let Some(v) = entry.pointer_mut(p) {
            hash_tree(salt, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_hashed_numbers_kept() {
        let mut e = json!({"request":{"data":{"data":{"password":"hunter2","n":5}}},"response":{"data":{"created_time":"2026-01-01T00:00:00Z","deletion_time":""}}});
        hash_entry(b"salt", &mut e, true);
        let pw = e
            .pointer("/request/data/data/password")
            .and_then(Value::as_str)
            .unwrap();
        assert!(pw.starts_with("hmac-sha256:") && !pw.contains("hunter2"));
        assert_eq!(e.pointer("/request/data/data/n"), Some(&json!(5)));
        assert_eq!(
            e.pointer("/response/data/created_time"),
            Some(&json!("2026-01-01T00:00:00Z"))
        );
        assert!(
            e.pointer("/response/data/deletion_time")
                .and_then(Value::as_str)
                .unwrap()
                .starts_with("hmac-sha256:")
        );
    }
}
