//! The sealing key held by a coffer transit RSA key (`--key-source coffer`).
//!
//! Coffer keeps the private key; this side only knows the public key of each version
//! (`GET <mount>/keys/<key>`). Unsealing asks `POST <mount>/decrypt/<key>` to open the RSA
//! session-key block with coffer's `oaep_label` extension (the scope label) and does the AES-GCM
//! part locally. The certificate served at `/v1/cert.pem` is made for the newest version and
//! signed by that same key through `POST <mount>/sign/<key>/sha2-256` (PKCS#1 v1.5), so it is a
//! genuine self-signed certificate without the private key ever leaving coffer. Renewal is
//! `POST <mount>/keys/<key>/rotate`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use aws_lc_rs::rsa::{OaepPublicEncryptingKey, PublicEncryptingKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::http::{Base, Transport};
use crate::keyring::{RemoteKeys, RemoteVersion};
use crate::keys::{self, SealingCert};

/// A failure talking to coffer; the message names the address, path or key, never the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CofferError(pub String);

/// How to authenticate to coffer.
#[derive(Debug, Clone)]
pub enum Auth {
    /// A token read from this file at every request (so a rotated file is picked up).
    TokenFile(PathBuf),
    /// AppRole login (`POST auth/<mount>/login`) with ids read from files.
    AppRole {
        /// Auth mount path (default `approle`).
        mount: String,
        /// File holding the role id.
        role_id_file: PathBuf,
        /// File holding the secret id.
        secret_id_file: PathBuf,
    },
}

/// `--key-source coffer` settings.
#[derive(Debug, Clone)]
pub struct CofferKeyConfig {
    /// Coffer's address (`http://HOST:PORT` or `https://…`).
    pub addr: String,
    /// Authentication.
    pub auth: Auth,
    /// Transit mount path (default `transit`).
    pub mount: String,
    /// Transit key name (type `rsa-2048`, `rsa-3072` or `rsa-4096`).
    pub key: String,
    /// CA bundle for https.
    pub ca_file: Option<PathBuf>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Common name of served certificates (empty = empty subject, as upstream).
    pub cert_cn: String,
    /// Validity of served certificates, from the version's creation time.
    pub cert_ttl: Duration,
}

#[derive(Debug, Default)]
struct State {
    versions: Vec<RemoteVersion>,
    latest_cert: Option<SealingCert>,
}

/// The transit key as the key ring's remote key set. Its `Debug` shows the address, mount, key
/// and versions only (never the AppRole token).
pub struct CofferKeys {
    cfg: CofferKeyConfig,
    transport: Transport,
    approle_token: Mutex<Option<Zeroizing<String>>>,
    state: RwLock<State>,
    certs: Mutex<HashMap<u32, SealingCert>>,
}

impl std::fmt::Debug for CofferKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CofferKeys")
            .field("addr", &self.transport.base.display())
            .field("mount", &self.cfg.mount)
            .field("key", &self.cfg.key)
            .field(
                "versions",
                &self
                    .state
                    .read()
                    .map(|s| s.versions.iter().map(|v| v.version).collect::<Vec<_>>())
                    .unwrap_or_default(),
            )
            .finish_non_exhaustive()
    }
}

fn segment_ok(s: &str) -> bool {
    !s.is_empty()
        && s.split('/').all(|p| {
            !p.is_empty()
                && p != ".."
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
}

fn read_secret_file(path: &PathBuf, what: &str) -> Result<Zeroizing<String>, CofferError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CofferError(format!("cannot read {what} file {}: {e}", path.display())))?;
    let t = text.trim();
    if t.is_empty() || t.contains(['\r', '\n']) {
        return Err(CofferError(format!(
            "{what} file {} must hold one non-empty line",
            path.display()
        )));
    }
    Ok(Zeroizing::new(t.to_owned()))
}

fn api_errors(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    match v.get("errors").and_then(Value::as_array) {
        Some(list) if !list.is_empty() => list
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("; "),
        _ => "no error message".into(),
    }
}

impl CofferKeys {
    /// Checks the settings, reads the key's versions and makes the newest certificate.
    pub fn connect(cfg: CofferKeyConfig) -> Result<CofferKeys, CofferError> {
        let base = Base::parse(&cfg.addr).map_err(CofferError)?;
        if !segment_ok(&cfg.mount) {
            return Err(CofferError(format!(
                "invalid transit mount {:?}: use letters, digits, '-', '_', '.' and '/'",
                cfg.mount
            )));
        }
        if !segment_ok(&cfg.key) || cfg.key.contains('/') {
            return Err(CofferError(format!(
                "invalid transit key name {:?}: use letters, digits, '-', '_' and '.'",
                cfg.key
            )));
        }
        let keys = CofferKeys {
            transport: Transport {
                base,
                ca_file: cfg.ca_file.clone(),
                timeout: cfg.timeout,
            },
            cfg,
            approle_token: Mutex::default(),
            state: RwLock::default(),
            certs: Mutex::default(),
        };
        keys.refresh()?;
        Ok(keys)
    }

    /// The settings.
    pub fn config(&self) -> &CofferKeyConfig {
        &self.cfg
    }

    fn token(&self) -> Result<Zeroizing<String>, CofferError> {
        match &self.cfg.auth {
            Auth::TokenFile(p) => read_secret_file(p, "coffer token"),
            Auth::AppRole {
                mount,
                role_id_file,
                secret_id_file,
            } => {
                if let Ok(guard) = self.approle_token.lock()
                    && let Some(t) = guard.as_ref()
                {
                    return Ok(t.clone());
                }
                let role_id = read_secret_file(role_id_file, "approle role id")?;
                let secret_id = read_secret_file(secret_id_file, "approle secret id")?;
                let body = Zeroizing::new(
                    json!({"role_id": *role_id, "secret_id": *secret_id}).to_string(),
                );
                let path = format!("/v1/auth/{mount}/login");
                let (status, resp) = self
                    .transport
                    .request(
                        "POST",
                        &path,
                        &[("Content-Type", "application/json")],
                        body.as_bytes(),
                    )
                    .map_err(CofferError)?;
                let resp = Zeroizing::new(resp);
                if status != 200 {
                    return Err(CofferError(format!(
                        "approle login at {} failed with status {status}: {}",
                        self.transport.base.display(),
                        api_errors(&resp)
                    )));
                }
                let v: Value = serde_json::from_slice(&resp).unwrap_or(Value::Null);
                let token = v
                    .pointer("/auth/client_token")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        CofferError("approle login answered without auth.client_token".into())
                    })?;
                let token = Zeroizing::new(token.to_owned());
                if let Ok(mut guard) = self.approle_token.lock() {
                    *guard = Some(token.clone());
                }
                Ok(token)
            }
        }
    }

    /// One authenticated API call below `/v1/`; 403 with AppRole logs in again once.
    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), CofferError> {
        let payload = Zeroizing::new(body.map(Value::to_string).unwrap_or_default().into_bytes());
        for attempt in 0..2 {
            let token = self.token()?;
            let (status, resp) = self
                .transport
                .request(
                    method,
                    &format!("/v1/{path}"),
                    &[
                        ("X-Vault-Token", token.as_str()),
                        ("Content-Type", "application/json"),
                    ],
                    &payload,
                )
                .map_err(CofferError)?;
            let resp = Zeroizing::new(resp);
            if status == 403 && attempt == 0 && matches!(self.cfg.auth, Auth::AppRole { .. }) {
                if let Ok(mut guard) = self.approle_token.lock() {
                    *guard = None;
                }
                continue;
            }
            if status == 403 {
                return Err(CofferError(format!(
                    "coffer at {} denied {method} {path} (403): check the token and its policy: {}",
                    self.transport.base.display(),
                    api_errors(&resp)
                )));
            }
            if !(200..300).contains(&status) {
                return Ok((status, json!({"errors": [api_errors(&resp)]})));
            }
            let v = if resp.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&resp).map_err(|_| {
                    CofferError(format!("coffer answered {method} {path} with invalid json"))
                })?
            };
            return Ok((status, v));
        }
        Err(CofferError(format!("coffer denied {method} {path}")))
    }

    fn key_path(&self, op: &str) -> String {
        format!("{}/{op}/{}", self.cfg.mount, self.cfg.key)
    }

    /// Reads the key's versions again (and makes the certificate of a new newest version).
    pub fn refresh(&self) -> Result<(), CofferError> {
        let path = self.key_path("keys");
        let (status, v) = self.call("GET", &path, None)?;
        if status != 200 {
            return Err(CofferError(format!(
                "cannot read transit key {path} (status {status}): {}",
                api_errors(v.to_string().as_bytes())
            )));
        }
        let data = &v["data"];
        let ty = data["type"].as_str().unwrap_or("");
        if !ty.starts_with("rsa-") {
            return Err(CofferError(format!(
                "transit key {path} has type {ty:?}: sealing needs rsa-2048, rsa-3072 or rsa-4096"
            )));
        }
        let min = data["min_decryption_version"].as_u64().unwrap_or(1);
        let mut parsed = Vec::new();
        for (ver, entry) in data["keys"].as_object().into_iter().flatten() {
            let Ok(version) = ver.parse::<u32>() else {
                continue;
            };
            if u64::from(version) < min {
                continue;
            }
            let pem = entry["public_key"].as_str().ok_or_else(|| {
                CofferError(format!(
                    "transit key {path} version {version} has no public_key"
                ))
            })?;
            let created = entry["creation_time"]
                .as_str()
                .and_then(|t| {
                    OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
                })
                .ok_or_else(|| {
                    CofferError(format!(
                        "transit key {path} version {version} has no rfc 3339 creation_time"
                    ))
                })?;
            parsed.push((version, parse_public(pem, version)?, created));
        }
        parsed.sort_by_key(|p| std::cmp::Reverse(p.0));
        let Some((latest, (_, _, pkcs1), created)) = parsed.first().cloned() else {
            return Err(CofferError(format!(
                "transit key {path} has no usable version"
            )));
        };
        let cert = self.cert_for(latest, pkcs1, created)?;
        let versions = parsed
            .into_iter()
            .map(|(version, (id, size_bytes, _), _)| RemoteVersion {
                version,
                id,
                size_bytes,
            })
            .collect();
        if let Ok(mut st) = self.state.write() {
            *st = State {
                versions,
                latest_cert: Some(cert),
            };
        }
        Ok(())
    }

    fn cert_for(
        &self,
        version: u32,
        pkcs1: Vec<u8>,
        created: OffsetDateTime,
    ) -> Result<SealingCert, CofferError> {
        if let Some(c) = self
            .certs
            .lock()
            .ok()
            .and_then(|c| c.get(&version).cloned())
        {
            return Ok(c);
        }
        let signer = TransitSigner {
            keys: self,
            version,
            pkcs1,
            error: Mutex::default(),
        };
        let ttl = time::Duration::try_from(self.cfg.cert_ttl).unwrap_or(time::Duration::MAX);
        let cert =
            keys::controller_cert(&signer, &self.cfg.cert_cn, created, ttl).map_err(|e| {
                let detail = signer.error.lock().ok().and_then(|g| g.clone());
                CofferError(match detail {
                    Some(d) => {
                        format!("cannot make the certificate of transit key version {version}: {d}")
                    }
                    None => {
                        format!("cannot make the certificate of transit key version {version}: {e}")
                    }
                })
            })?;
        if let Ok(mut c) = self.certs.lock() {
            c.insert(version, cert.clone());
        }
        Ok(cert)
    }

    fn sign(&self, version: u32, msg: &[u8]) -> Result<Vec<u8>, CofferError> {
        let path = format!("{}/sha2-256", self.key_path("sign"));
        let body = json!({
            "input": STANDARD.encode(msg),
            "signature_algorithm": "pkcs1v15",
            "key_version": version,
        });
        let (status, v) = self.call("POST", &path, Some(&body))?;
        if status != 200 {
            return Err(CofferError(format!(
                "transit sign {path} failed (status {status}): {}",
                api_errors(v.to_string().as_bytes())
            )));
        }
        let sig = v["data"]["signature"].as_str().unwrap_or("");
        let b64 = sig
            .strip_prefix(&format!("vault:v{version}:"))
            .ok_or_else(|| {
                CofferError(format!(
                    "transit sign {path} answered an unexpected signature"
                ))
            })?;
        STANDARD
            .decode(b64)
            .map_err(|_| CofferError(format!("transit sign {path} answered invalid base64")))
    }

    /// Adds a version (`keys/<key>/rotate`) and reads the versions again: the renewal of
    /// `--key-source coffer`.
    pub fn rotate(&self) -> Result<(), CofferError> {
        let path = format!("{}/rotate", self.key_path("keys"));
        let (status, v) = self.call("POST", &path, Some(&json!({})))?;
        if !(200..300).contains(&status) {
            return Err(CofferError(format!(
                "cannot rotate transit key ({path}, status {status}): {}",
                api_errors(v.to_string().as_bytes())
            )));
        }
        self.refresh()
    }

    /// The newest version number.
    pub fn latest_version(&self) -> Option<u32> {
        self.state.read().ok()?.versions.first().map(|v| v.version)
    }

    /// PEM of the newest version's certificate.
    pub fn latest_cert_pem(&self) -> Option<String> {
        RemoteKeys::latest_cert(self).map(|c| c.pem().to_owned())
    }

    /// Creation time of the newest version's certificate (its NotBefore), for renewal timing.
    pub fn latest_not_before(&self) -> Option<OffsetDateTime> {
        self.state
            .read()
            .ok()?
            .latest_cert
            .as_ref()
            .map(SealingCert::not_before)
    }
}

/// (key id, modulus bytes, PKCS#1 RSAPublicKey DER) of a `PUBLIC KEY` PEM.
fn parse_public(pem: &str, version: u32) -> Result<(keys::KeyId, usize, Vec<u8>), CofferError> {
    use rustls_pki_types::pem::PemObject;
    use x509_parser::prelude::FromDer;
    let bad = |why: &str| CofferError(format!("transit key version {version}: public_key {why}"));
    let spki = rustls_pki_types::SubjectPublicKeyInfoDer::from_pem_slice(pem.as_bytes())
        .map_err(|_| bad("is not a PUBLIC KEY pem"))?;
    let public =
        PublicEncryptingKey::from_der(spki.as_ref()).map_err(|_| bad("is not an rsa key"))?;
    let id = keys::key_id(&public).map_err(|_| bad("cannot be encoded"))?;
    let size = OaepPublicEncryptingKey::new(public)
        .map_err(|_| bad("is not an rsa key"))?
        .ciphertext_size();
    let (_, parsed) = x509_parser::x509::SubjectPublicKeyInfo::from_der(spki.as_ref())
        .map_err(|_| bad("is malformed"))?;
    Ok((id, size, parsed.subject_public_key.data.to_vec()))
}

struct TransitSigner<'a> {
    keys: &'a CofferKeys,
    version: u32,
    pkcs1: Vec<u8>,
    error: Mutex<Option<String>>,
}

impl rcgen::PublicKeyData for TransitSigner<'_> {
    fn der_bytes(&self) -> &[u8] {
        &self.pkcs1
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_RSA_SHA256
    }
}

impl rcgen::SigningKey for TransitSigner<'_> {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.keys.sign(self.version, msg).map_err(|e| {
            if let Ok(mut g) = self.error.lock() {
                *g = Some(e.0);
            }
            rcgen::Error::RemoteKeyError
        })
    }
}

impl RemoteKeys for CofferKeys {
    fn versions(&self) -> Vec<RemoteVersion> {
        self.state
            .read()
            .map(|s| s.versions.clone())
            .unwrap_or_default()
    }

    fn decrypt_session_key(
        &self,
        version: u32,
        rsa_part: &[u8],
        label: &[u8],
    ) -> Result<Option<Zeroizing<Vec<u8>>>, String> {
        let path = self.key_path("decrypt");
        let mut body =
            json!({"ciphertext": format!("vault:v{version}:{}", STANDARD.encode(rsa_part))});
        if !label.is_empty() {
            body["oaep_label"] = STANDARD.encode(label).into();
        }
        let (status, v) = self.call("POST", &path, Some(&body)).map_err(|e| e.0)?;
        match status {
            200 => {}
            // Wrong key version or label: OAEP decryption fails, transit answers 400.
            400 => return Ok(None),
            s => {
                return Err(format!(
                    "transit decrypt {path} failed (status {s}): {}",
                    api_errors(v.to_string().as_bytes())
                ));
            }
        }
        // Move the session key out of the JSON tree so it is wiped when dropped.
        let mut v = v;
        let b64 = match v.pointer_mut("/data/plaintext").map(Value::take) {
            Some(Value::String(text)) => Zeroizing::new(text),
            _ => return Err(format!("transit decrypt {path} answered without plaintext")),
        };
        let plain = Zeroizing::new(
            STANDARD
                .decode(b64.as_bytes())
                .map_err(|_| format!("transit decrypt {path} answered invalid base64"))?,
        );
        Ok(Some(plain))
    }

    fn latest_cert(&self) -> Option<SealingCert> {
        self.state.read().ok()?.latest_cert.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_errors() {
        assert!(segment_ok("transit") && segment_ok("team/transit") && segment_ok("k-1.a_b"));
        assert!(
            !segment_ok("") && !segment_ok("../x") && !segment_ok("a b") && !segment_ok("a//b")
        );
        assert_eq!(api_errors(br#"{"errors":["a","b"]}"#), "a; b");
        assert_eq!(api_errors(b"junk"), "no error message");
        let cfg = CofferKeyConfig {
            addr: "http://127.0.0.1:1".into(),
            auth: Auth::TokenFile("/nonexistent".into()),
            mount: "transit".into(),
            key: "../k".into(),
            ca_file: None,
            timeout: Duration::from_secs(1),
            cert_cn: String::new(),
            cert_ttl: Duration::from_secs(3600),
        };
        assert!(
            CofferKeys::connect(cfg)
                .unwrap_err()
                .0
                .contains("invalid transit key name")
        );
    }
}
