//! The controller's HTTP API as plain functions (spec §5.3): `/healthz`, `/v1/cert.pem`,
//! `/v1/verify` (rate-limited, 409 when not decryptable) and `/v1/rotate`. A server (axum or
//! hyper) only has to turn its request into [`Request`] and write back the [`Response`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::codec;
use crate::emit;
use crate::keyring::KeyRing;
use crate::model::{MetaExt, SealedSecret};
use crate::seal::{self, SealOptions};
use crate::unseal::{self, UnsealOptions};

/// A request as the handlers need it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Path without query.
    pub path: &'a str,
    /// `X-Forwarded-For`, if any (part of the rate-limit key, as upstream).
    pub forwarded_for: Option<&'a str>,
    /// Body.
    pub body: &'a [u8],
}

/// A response to write back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Body.
    pub body: Vec<u8>,
}

impl Response {
    fn text(status: u16, body: impl Into<String>) -> Response {
        let mut body = body.into();
        if !body.ends_with('\n') {
            body.push('\n');
        }
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into_bytes(),
        }
    }
}

/// Per-key token bucket equivalent to upstream's GCRA limiter (rate per second, burst).
#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// `--rate-limit` / `--rate-limit-burst` (upstream defaults 2 and 2).
    pub fn new(per_second: u32, burst: u32) -> RateLimiter {
        RateLimiter {
            per_second: f64::from(per_second.max(1)),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::default(),
        }
    }

    /// Takes one token for `key` at `now`; false when limited.
    pub fn allow(&self, key: &str, now: Instant) -> bool {
        let Ok(mut buckets) = self.buckets.lock() else {
            return false;
        };
        if buckets.len() > 10_000 {
            buckets.retain(|_, (_, t)| now.duration_since(*t) < Duration::from_secs(60));
        }
        let (tokens, last) = buckets.entry(key.to_owned()).or_insert((self.burst, now));
        *tokens = (*tokens + now.saturating_duration_since(*last).as_secs_f64() * self.per_second)
            .min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The handlers with their shared limiter.
#[derive(Debug)]
pub struct Handlers {
    limiter: RateLimiter,
}

impl Default for Handlers {
    fn default() -> Self {
        Handlers {
            limiter: RateLimiter::new(2, 2),
        }
    }
}

impl Handlers {
    /// Handlers with a custom `/v1/verify` rate limit.
    pub fn new(limiter: RateLimiter) -> Handlers {
        Handlers { limiter }
    }

    /// Routes one request; `ring` is the current key set (newest first).
    pub fn handle(&self, ring: &KeyRing, req: Request<'_>, now: Instant) -> Response {
        match (req.method, req.path) {
            (_, "/healthz") => Response::text(200, "ok"),
            ("GET", "/v1/cert.pem") => cert_pem(ring),
            ("POST", "/v1/verify") => {
                let key = format!("{}|{}", req.path, req.forwarded_for.unwrap_or(""));
                if !self.limiter.allow(&key, now) {
                    return Response::text(429, "too many requests");
                }
                verify(ring, req.body)
            }
            ("POST", "/v1/rotate") => rotate(ring, req.body),
            (_, "/v1/cert.pem" | "/v1/verify" | "/v1/rotate") => {
                Response::text(405, "method not allowed")
            }
            _ => Response::text(404, "404 page not found"),
        }
    }
}

/// `GET /v1/cert.pem`: the newest certificate.
pub fn cert_pem(ring: &KeyRing) -> Response {
    match ring.latest_cert() {
        Some(cert) => Response {
            status: 200,
            content_type: "application/x-pem-file",
            body: cert.pem().as_bytes().to_vec(),
        },
        None => Response::text(500, "cannot get certificate"),
    }
}

fn one_sealed_secret(body: &[u8]) -> Result<SealedSecret, Response> {
    let docs = codec::parse_documents(body, "request body")
        .map_err(|e| Response::text(500, e.to_string()))?;
    let [doc]: [Value; 1] = docs
        .try_into()
        .map_err(|_| Response::text(500, "expected exactly one sealedsecret"))?;
    SealedSecret::from_value(&doc, true).map_err(|e| Response::text(500, e.to_string()))
}

/// `POST /v1/verify`: 200 when every item decrypts with the current keys, 409 otherwise.
pub fn verify(ring: &KeyRing, body: &[u8]) -> Response {
    let ss = match one_sealed_secret(body) {
        Ok(ss) => ss,
        Err(r) => return r,
    };
    match unseal::unseal(&ss, ring, UnsealOptions::default()) {
        Ok(_) => Response::text(200, "ok"),
        Err(_) => Response::text(409, "sealed secret cannot be decrypted"),
    }
}

/// `POST /v1/rotate`: unseals and re-seals with the newest key (templates flattened).
///
/// Deliberate difference from upstream: instead of replacing the whole template metadata with the
/// top-level metadata when they differ, only name, namespace and the scope annotations are taken
/// from the top level. That blocks the same scope-escalation trick (the label always comes from
/// the top level) without dropping the template's labels and annotations.
pub fn rotate(ring: &KeyRing, body: &[u8]) -> Response {
    let ss = match one_sealed_secret(body) {
        Ok(ss) => ss,
        Err(r) => return r,
    };
    let Some(cert) = ring.latest_cert() else {
        return Response::text(500, "cannot get certificate");
    };
    let mut secret = match unseal::unseal(&ss, ring, UnsealOptions::default()) {
        Ok(s) => s,
        Err(e) => return Response::text(500, format!("error unsealing secret: {e}")),
    };
    let scope = ss.metadata.scope();
    let annos = crate::model::string_map_mut(&mut secret.metadata, "annotations");
    annos.remove(crate::hybrid::CLUSTER_WIDE_ANNOTATION);
    annos.remove(crate::hybrid::NAMESPACE_WIDE_ANNOTATION);
    if let Some(a) = scope.annotation() {
        annos.insert(a.into(), "true".into());
    }
    crate::model::drop_empty_maps(&mut secret.metadata);
    let opts = SealOptions {
        scope: Some(scope),
        allow_empty_data: true,
        ..Default::default()
    };
    match seal::seal_secret(&secret, &cert, &opts) {
        Ok(fresh) => Response {
            status: 200,
            content_type: "application/json",
            body: emit::to_go_json(&fresh.to_value()).into_bytes(),
        },
        Err(e) => Response::text(500, format!("error re-sealing secret: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_allows_burst_then_refills() {
        let l = RateLimiter::new(2, 2);
        let t0 = Instant::now();
        assert!(l.allow("a", t0) && l.allow("a", t0));
        assert!(!l.allow("a", t0));
        assert!(l.allow("b", t0), "keys are independent");
        assert!(l.allow("a", t0 + Duration::from_millis(500)));
        assert!(!l.allow("a", t0 + Duration::from_millis(500)));
    }

    #[test]
    fn routes_without_keys() {
        let h = Handlers::default();
        let ring = KeyRing::new();
        let req = |method, path, body: &'static [u8]| Request {
            method,
            path,
            forwarded_for: None,
            body,
        };
        let now = Instant::now();
        assert_eq!(
            h.handle(&ring, req("GET", "/healthz", b""), now),
            Response::text(200, "ok")
        );
        assert_eq!(
            h.handle(&ring, req("GET", "/v1/cert.pem", b""), now).status,
            500
        );
        assert_eq!(
            h.handle(&ring, req("GET", "/v1/verify", b""), now).status,
            405
        );
        assert_eq!(h.handle(&ring, req("GET", "/nope", b""), now).status, 404);
        assert_eq!(
            h.handle(&ring, req("POST", "/v1/verify", b"{}\n{}"), now)
                .status,
            500
        );
        assert_eq!(
            h.handle(&ring, req("POST", "/v1/verify", b"kind: Secret"), now)
                .status,
            500
        );
        assert_eq!(
            h.handle(&ring, req("POST", "/v1/verify", b"x"), now).status,
            429
        );
    }
}
