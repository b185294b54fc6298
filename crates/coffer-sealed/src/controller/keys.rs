//! Sealing-key Secrets and renewal, as upstream stores them (spec §4): `kubernetes.io/tls`
//! Secrets labelled `sealedsecrets.bitnami.com/sealed-secrets-key=active`, named by
//! `generateName: <prefix>`, plus the legacy Secret named exactly `<prefix>`.

use std::time::Duration;

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::error::KeyError;
use crate::keyring::{KeyRing, RingKey};
use crate::keys::{PrivateKey, SealingCert};
use crate::model::{MetaExt, decode_b64, encode_b64};

/// Label that marks a key Secret.
pub const KEY_LABEL: &str = "sealedsecrets.bitnami.com/sealed-secrets-key";
/// The only label value that loads a key.
pub const KEY_ACTIVE: &str = "active";
/// Default `--key-prefix`.
pub const DEFAULT_KEY_PREFIX: &str = "sealed-secrets-key";
/// Default `--key-renew-period` (30 days).
pub const DEFAULT_RENEW_PERIOD: Duration = Duration::from_secs(720 * 3600);
/// Default `--key-ttl` (10 years).
pub const DEFAULT_KEY_TTL: Duration = Duration::from_secs(87_600 * 3600);

/// `--key-order-priority`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyOrderPriority {
    /// Certificate NotBefore (default).
    #[default]
    CertNotBefore,
    /// The Secret's creationTimestamp.
    SecretCreationTimestamp,
}

impl KeyOrderPriority {
    /// Parses the flag value.
    pub fn parse(s: &str) -> Option<KeyOrderPriority> {
        match s {
            "CertNotBefore" => Some(KeyOrderPriority::CertNotBefore),
            "SecretCreationTimestamp" => Some(KeyOrderPriority::SecretCreationTimestamp),
            _ => None,
        }
    }
}

/// Checks `--key-prefix` (`[a-z0-9-]{0,245}`).
pub fn validate_prefix(prefix: &str) -> Result<(), String> {
    if prefix.len() <= 245
        && prefix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        Ok(())
    } else {
        Err(format!(
            "invalid key prefix {prefix:?}: use at most 245 of a-z, 0-9 and '-'"
        ))
    }
}

/// Whether a Secret is a key to load: labelled active, or the legacy Secret named `<prefix>`.
pub fn is_key_secret(secret: &Value, prefix: &str) -> bool {
    let Some(meta) = secret.get("metadata").and_then(Value::as_object) else {
        return false;
    };
    meta.label(KEY_LABEL) == Some(KEY_ACTIVE) || meta.name() == prefix
}

fn rfc3339(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

/// Reads one key Secret (`data.tls.key`, first certificate of `data.tls.crt`).
pub fn parse_key_secret(secret: &Value, priority: KeyOrderPriority) -> Result<RingKey, KeyError> {
    let meta = secret
        .get("metadata")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let what = format!("key secret {}/{}", meta.namespace(), meta.name());
    let field = |f: &str| -> Result<Vec<u8>, KeyError> {
        let s = secret
            .get("data")
            .and_then(|d| d.get(f))
            .and_then(Value::as_str)
            .ok_or_else(|| KeyError::Malformed {
                what: what.clone(),
                reason: format!("data.{f} is missing"),
            })?;
        decode_b64(s).ok_or_else(|| KeyError::Malformed {
            what: what.clone(),
            reason: format!("data.{f} is not base64"),
        })
    };
    let key = PrivateKey::from_pem(&field("tls.key")?, &what)?;
    let cert = SealingCert::from_pem(&field("tls.crt")?)?;
    if cert.id() != key.id() {
        return Err(KeyError::Malformed {
            what,
            reason: "tls.crt does not match tls.key".into(),
        });
    }
    let order_time = match priority {
        KeyOrderPriority::CertNotBefore => cert.not_before(),
        KeyOrderPriority::SecretCreationTimestamp => meta
            .str_field("creationTimestamp")
            .and_then(rfc3339)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH),
    };
    Ok(RingKey {
        key,
        cert: Some(cert),
        order_time,
    })
}

/// Builds the ring from the Secrets of the key namespace; unusable key Secrets are reported and
/// skipped (one broken Secret must not stop unsealing with the others).
pub fn load_ring(
    secrets: &[Value],
    prefix: &str,
    priority: KeyOrderPriority,
) -> (KeyRing, Vec<KeyError>) {
    let mut ring = KeyRing::new();
    let mut errors = Vec::new();
    for s in secrets.iter().filter(|s| is_key_secret(s, prefix)) {
        match parse_key_secret(s, priority) {
            Ok(k) => ring.add(k),
            Err(e) => errors.push(e),
        }
    }
    (ring, errors)
}

/// Settings for new keys.
#[derive(Debug, Clone)]
pub struct KeyGenConfig {
    /// `--key-size`.
    pub bits: usize,
    /// `--key-ttl`.
    pub ttl: Duration,
    /// `--my-cn`.
    pub cn: String,
    /// `--key-prefix`.
    pub prefix: String,
    /// `--privatekey-labels` (the key label itself cannot be overridden).
    pub labels: Vec<(String, String)>,
    /// `--privatekey-annotations`.
    pub annotations: Vec<(String, String)>,
}

impl Default for KeyGenConfig {
    fn default() -> Self {
        KeyGenConfig {
            bits: 4096,
            ttl: DEFAULT_KEY_TTL,
            cn: String::new(),
            prefix: DEFAULT_KEY_PREFIX.into(),
            labels: Vec::new(),
            annotations: Vec::new(),
        }
    }
}

/// Parses `k=v,k=v` (`--privatekey-labels` / `--privatekey-annotations`).
pub fn parse_kv_list(s: &str) -> Result<Vec<(String, String)>, String> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .ok_or_else(|| format!("invalid key=value pair {p:?}"))
        })
        .collect()
}

/// Generates a key and the Secret to create for it (in `namespace`).
pub fn generate_key_secret(
    cfg: &KeyGenConfig,
    namespace: &str,
    now: OffsetDateTime,
) -> Result<(RingKey, Value), KeyError> {
    let key = PrivateKey::generate(cfg.bits)?;
    let ttl = time::Duration::try_from(cfg.ttl).map_err(|e| KeyError::Generate(e.to_string()))?;
    let cert = key.self_signed_cert(&cfg.cn, now, ttl)?;
    let pem = key.to_pkcs1_pem()?;
    let mut labels: Map<String, Value> = cfg
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    labels.insert(KEY_LABEL.into(), KEY_ACTIVE.into());
    let mut meta = json!({"generateName": cfg.prefix, "namespace": namespace, "labels": labels});
    if !cfg.annotations.is_empty() {
        meta["annotations"] = cfg
            .annotations
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect::<Map<_, _>>()
            .into();
    }
    let secret = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta,
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": encode_b64(cert.pem().as_bytes()), "tls.key": encode_b64(pem.as_bytes())},
    });
    Ok((
        RingKey {
            key,
            cert: Some(cert),
            order_time: now,
        },
        secret,
    ))
}

/// Parses `--key-cutoff-time` (RFC 1123 with numeric zone, as `date -R` prints).
pub fn parse_cutoff(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc2822).map_err(|e| {
        format!(
            "invalid key cutoff time {s:?} (expected e.g. \"Mon, 02 Jan 2006 15:04:05 -0700\"): {e}"
        )
    })
}

/// Whether a key must be generated at startup: none yet, or the newest is older than the cutoff.
pub fn needs_new_key(ring: &KeyRing, cutoff: Option<OffsetDateTime>) -> bool {
    match ring.latest() {
        None => true,
        Some(k) => cutoff.is_some_and(|c| k.order_time < c),
    }
}

/// Delay until the next renewal: `period − age(newest key)`, clamped at zero; `None` when
/// renewal is disabled (period 0) — a signal or `/v1/renew`-style trigger can still renew.
pub fn next_renewal(ring: &KeyRing, period: Duration, now: OffsetDateTime) -> Option<Duration> {
    if period.is_zero() {
        return None;
    }
    let age = ring
        .latest()
        .map_or(time::Duration::ZERO, |k| now - k.order_time);
    let left = time::Duration::try_from(period).unwrap_or(time::Duration::MAX) - age;
    Some(Duration::try_from(left).unwrap_or(Duration::ZERO))
}

/// Parses a Go duration such as `720h`, `1h30m`, `90s`, `0`.
pub fn parse_go_duration(s: &str) -> Result<Duration, String> {
    let err = || format!("invalid duration {s:?} (use e.g. 720h, 30m, 45s)");
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = 0f64;
    let mut rest = s;
    if rest.is_empty() {
        return Err(err());
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(err)?;
        let n: f64 = rest[..num_end].parse().map_err(|_| err())?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_end] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return Err(err()),
        };
        total += n * mult;
        rest = &rest[unit_end..];
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_cutoff_prefix_kv() {
        assert_eq!(parse_go_duration("720h").unwrap(), DEFAULT_RENEW_PERIOD);
        assert_eq!(
            parse_go_duration("1h30m").unwrap(),
            Duration::from_secs(5400)
        );
        assert_eq!(parse_go_duration("0").unwrap(), Duration::ZERO);
        assert!(parse_go_duration("3600").is_err());
        let t = parse_cutoff("Mon, 02 Jan 2006 15:04:05 -0700").unwrap();
        assert_eq!(t.unix_timestamp(), 1_136_239_445);
        assert!(parse_cutoff("2006-01-02").is_err());
        assert!(validate_prefix("sealed-secrets-key").is_ok() && validate_prefix("Bad_").is_err());
        assert_eq!(
            parse_kv_list("a=1, b=2").unwrap(),
            vec![("a".into(), "1".into()), ("b".into(), "2".into())]
        );
        assert!(parse_kv_list("a").is_err());
    }

    #[test]
    fn generated_secret_loads_back_and_renewal_schedule() {
        let now = OffsetDateTime::now_utc();
        let cfg = KeyGenConfig {
            bits: 2048,
            labels: vec![
                (KEY_LABEL.into(), "retired".into()),
                ("x".into(), "y".into()),
            ],
            ..Default::default()
        };
        let (key, mut secret) = generate_key_secret(&cfg, "kube-system", now).unwrap();
        assert_eq!(
            secret["metadata"]["labels"][KEY_LABEL], KEY_ACTIVE,
            "key label cannot be overridden"
        );
        assert_eq!(secret["type"], "kubernetes.io/tls");
        let pem = decode_b64(secret["data"]["tls.key"].as_str().unwrap()).unwrap();
        assert!(pem.starts_with(b"-----BEGIN RSA PRIVATE KEY-----"));
        secret["metadata"]["name"] = "sealed-secrets-keyabcde".into();
        let legacy = json!({"metadata": {"name": "sealed-secrets-key"}, "data": {"tls.key": "", "tls.crt": ""}});
        let retired = json!({"metadata": {"name": "old", "labels": {KEY_LABEL: "compromised"}}});
        let (ring, errors) = load_ring(
            &[secret, legacy, retired],
            DEFAULT_KEY_PREFIX,
            KeyOrderPriority::CertNotBefore,
        );
        assert_eq!(ring.len(), 1);
        assert_eq!(errors.len(), 1, "the broken legacy secret is reported");
        assert_eq!(ring.latest().unwrap().key.id(), key.key.id());
        assert!(!needs_new_key(&ring, None));
        assert!(needs_new_key(&ring, Some(now + time::Duration::hours(1))));
        assert!(needs_new_key(&KeyRing::new(), None));
        let left =
            next_renewal(&ring, DEFAULT_RENEW_PERIOD, now + time::Duration::days(10)).unwrap();
        assert!(
            left <= Duration::from_secs(20 * 86400) && left > Duration::from_secs(20 * 86400 - 5)
        );
        assert_eq!(
            next_renewal(&ring, DEFAULT_RENEW_PERIOD, now + time::Duration::days(40)),
            Some(Duration::ZERO)
        );
        assert_eq!(next_renewal(&ring, Duration::ZERO, now), None);
    }
}
