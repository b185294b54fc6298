//! Transit: encryption as a service, as OpenBao 2.7 serves it — named keys
//! with versions, encrypt/decrypt/rewrap/datakey, sign/verify, hmac, random,
//! hash, export and backup/restore. Keys live in the barrier (one entry per
//! key at `policy/<name>`) and, parsed, in an in-memory cache so the hot path
//! neither re-reads storage nor rebuilds AEAD keys. Every write to a key goes
//! through [`Transit::update`], which holds that key's lock, persists, and
//! replaces the cached copy.
//!
//! Layout: `paths` (the route table), `keytype` (types, hashes), `material`
//! (key versions), `policy` (a key and its KEY shape), `aead` and `sign`
//! (the cryptography), `codec` (Go-compatible base64, PEM, DER), `fields`
//! (request fields), `ops` and `sigops` (data-plane handlers), `keys` (key
//! management), `import` (BYOK), `backup` (OpenBao's backup format),
//! `mountcfg` (`config/keys`, `cache-config`). User documentation:
//! `docs/transit.md`.

mod aead;
mod backup;
mod codec;
mod fields;
mod import;
mod keys;
mod keytype;
mod material;
mod mountcfg;
mod ops;
mod paths;
mod policy;
mod sign;
mod sigops;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use coffer_core::logical::{Error, Request, Response, Result};
use tokio::sync::Mutex;
use zeroize::Zeroizing;

use crate::barrier::View;
use crate::framework::{Backend, Ctx};
use paths::{PATHS, Route};

pub use keytype::{HashAlg, KeyType};
pub use policy::{Policy, PolicyMeta};
pub use sign::{Marshaling, Salt, SigAlg, SignOpts};

/// Per-key write serialisation: 64 shards keyed by a hash of the name.
const LOCK_SHARDS: usize = 64;

/// The transit engine of one mount.
pub struct Transit {
    cache: RwLock<HashMap<String, Arc<Policy>>>,
    locks: Vec<Mutex<()>>,
}

impl Default for Transit {
    fn default() -> Self {
        Transit {
            cache: RwLock::new(HashMap::new()),
            locks: (0..LOCK_SHARDS).map(|_| Mutex::new(())).collect(),
        }
    }
}

fn storage_key(name: &str) -> String {
    format!("policy/{name}")
}

impl Transit {
    pub(crate) fn lock_for(&self, name: &str) -> &Mutex<()> {
        let h = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        &self.locks[(h % LOCK_SHARDS as u64) as usize]
    }

    fn cached(&self, name: &str) -> Option<Arc<Policy>> {
        self.cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    fn set_cached(&self, name: &str, p: Option<Arc<Policy>>) {
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        match p {
            Some(p) => cache.insert(name.to_owned(), p),
            None => cache.remove(name),
        };
    }

    /// Reads storage; the caller holds the key's lock.
    async fn load_locked(&self, view: &View, name: &str) -> Result<Option<Arc<Policy>>> {
        if let Some(p) = self.cached(name) {
            return Ok(Some(p));
        }
        // The plaintext entry holds key material: keep it in zeroizing buffers.
        let Some(bytes) = view.get(&storage_key(name)).await? else {
            return Ok(None);
        };
        let stored: policy::StoredPolicy = serde_json::from_slice(bytes.expose())
            .map_err(|_| Error::internal(format!("stored transit key {name:?} is malformed")))?;
        let p = Arc::new(Policy::from_stored(stored)?);
        self.set_cached(name, Some(p.clone()));
        Ok(Some(p))
    }

    /// The key `name`, from the cache when possible; rotates it first when
    /// its auto-rotation period has passed.
    pub async fn get(&self, view: &View, name: &str) -> Result<Option<Arc<Policy>>> {
        let now = crate::ids::now_unix();
        if let Some(p) = self.cached(name)
            && !p.rotation_due(now)
        {
            return Ok(Some(p));
        }
        let guard = self.lock_for(name).lock().await;
        let Some(p) = self.load_locked(view, name).await? else {
            return Ok(None);
        };
        if !p.rotation_due(now) {
            return Ok(Some(p));
        }
        drop(guard);
        let version = policy::generate_version(p.kt, p.meta.key_size).await?;
        self.update(view, name, |p| {
            // Another request may have rotated it meanwhile.
            if p.rotation_due(now) {
                p.add_version(version);
            }
            Ok(())
        })
        .await
        .map(Some)
    }

    /// Persists `p` and makes it the cached copy; the caller holds the lock.
    async fn store_locked(&self, view: &View, p: Policy) -> Result<Arc<Policy>> {
        let bytes = Zeroizing::new(serde_json::to_vec(&p.to_stored()).map_err(Error::internal)?);
        view.put(&storage_key(&p.meta.name), &bytes).await?;
        let p = Arc::new(p);
        self.set_cached(&p.meta.name, Some(p.clone()));
        Ok(p)
    }

    /// Applies `f` to a copy of key `name` and persists it.
    pub async fn update(
        &self,
        view: &View,
        name: &str,
        f: impl FnOnce(&mut Policy) -> Result<()>,
    ) -> Result<Arc<Policy>> {
        let _guard = self.lock_for(name).lock().await;
        let current = self
            .load_locked(view, name)
            .await?
            .ok_or_else(|| Error::bad_request("key not found"))?;
        let mut next = (*current).clone();
        f(&mut next)?;
        self.store_locked(view, next).await
    }

    /// Returns key `name`, creating it with `make` when absent; the flag is
    /// true when this call created it.
    pub async fn get_or_create(
        &self,
        view: &View,
        name: &str,
        make: impl FnOnce() -> Result<Policy>,
    ) -> Result<(Arc<Policy>, bool)> {
        if let Some(p) = self.get(view, name).await? {
            return Ok((p, false));
        }
        let _guard = self.lock_for(name).lock().await;
        if let Some(p) = self.load_locked(view, name).await? {
            return Ok((p, false));
        }
        let p = self.store_locked(view, make()?).await?;
        Ok((p, true))
    }

    /// Removes key `name` from storage and cache.
    async fn remove(&self, view: &View, name: &str) -> Result<()> {
        let _guard = self.lock_for(name).lock().await;
        view.delete(&storage_key(name)).await?;
        self.set_cached(name, None);
        Ok(())
    }

    /// Stores a restored key (replacing any cached copy).
    async fn put_restored(&self, view: &View, p: Policy, force: bool) -> Result<Arc<Policy>> {
        let name = p.meta.name.clone();
        let _guard = self.lock_for(&name).lock().await;
        if !force && self.load_locked(view, &name).await?.is_some() {
            return Err(Error::bad_request(format!("key \"{name}\" already exists")));
        }
        self.store_locked(view, p).await
    }
}

#[async_trait]
impl Backend for Transit {
    async fn handle(&self, ctx: &Ctx<'_>, req: &mut Request) -> Result<Response> {
        let matched = PATHS.resolve(req)?;
        let view = ctx.view;
        // OpenBao's transit answers a literal `null` body (`bao write -f`)
        // without the unrecognized-parameter warning (checked against 2.7.2).
        let warnings: Vec<String> = matched
            .warnings(req)
            .into_iter()
            .filter(|w| !w.ends_with("parameters: [null]"))
            .collect();
        let route = matched.spec.route;
        let caps = &matched.captures;
        let mut resp = match route {
            Route::KeysList => keys::list(view).await?,
            Route::Key => keys::key(self, view, req, caps).await?,
            Route::KeyConfig => keys::config(self, view, req, caps.get("name")).await?,
            Route::KeyRotate => keys::rotate(self, view, caps.get("name")).await?,
            Route::KeyTrim => keys::trim(self, view, req, caps.get("name")).await?,
            Route::Export => keys::export(self, view, req, caps).await?,
            Route::Backup => keys::backup(self, view, caps.get("name")).await?,
            Route::Restore => keys::restore(self, view, req, caps.get("name")).await?,
            Route::Import => import::import(self, view, req, caps.get("name")).await?,
            Route::ImportVersion => {
                import::import_version(self, view, req, caps.get("name")).await?
            }
            Route::ByokExport => import::byok_export(self, view, req, caps).await?,
            Route::WrappingKey => import::get_wrapping_key(self, view).await?,
            Route::Unsupported => {
                return Err(Error::Status(
                    404,
                    "1 error occurred:\n\t* unsupported path\n\n".into(),
                ));
            }
            Route::SoftDelete => keys::soft_delete(self, view, caps.get("name"), false).await?,
            Route::SoftDeleteRestore => {
                keys::soft_delete(self, view, caps.get("name"), true).await?
            }
            Route::KeysConfig => mountcfg::keys_config(view, req).await?,
            Route::CacheConfig => mountcfg::cache_config(view, req).await?,
            Route::Random => ops::random(req, caps).await?,
            Route::Hash => ops::hash(req, caps.get("urlalgorithm"))?,
            Route::Encrypt => ops::encrypt(self, view, req, caps.get("name")).await?,
            Route::Decrypt => ops::decrypt(self, view, req, caps.get("name")).await?,
            Route::Rewrap => ops::rewrap(self, view, req, caps.get("name")).await?,
            Route::Datakey => ops::datakey(self, view, req, caps).await?,
            Route::Hmac => ops::hmac(self, view, req, caps).await?,
            Route::Sign => ops::sign(self, view, req, caps).await?,
            Route::Verify => ops::verify(self, view, req, caps).await?,
        };
        resp.warnings.extend(warnings);
        Ok(resp)
    }

    async fn exists(&self, ctx: &Ctx<'_>, req: &Request) -> Result<Option<bool>> {
        let Some(matched) = PATHS.lookup(&req.path) else {
            return Ok(None);
        };
        match matched.spec.route {
            Route::Encrypt => Ok(Some(
                self.get(ctx.view, matched.get("name")).await?.is_some(),
            )),
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coffer_core::logical::{Object, Operation};
    use coffer_crypto::keyring::Keyring;
    use coffer_storage::MemoryStorage;
    use serde_json::json;

    use crate::barrier::Barrier;

    fn view() -> View {
        let barrier = Arc::new(Barrier::new(Arc::new(MemoryStorage::new())));
        barrier.set_keyring(Some(Arc::new(Keyring::generate())));
        View::new(barrier, "logical/transit/")
    }

    async fn call(
        t: &Transit,
        view: &View,
        op: Operation,
        path: &str,
        body: serde_json::Value,
    ) -> Result<Object> {
        let ctx = Ctx {
            view,
            token: None,
            client_token: "",
            sudo: false,
            remote_addr: None,
            default_lease_ttl: 0,
            max_lease_ttl: 0,
        };
        let mut req =
            Request::new(op, path).with_data(body.as_object().cloned().unwrap_or_default());
        req.mount_point = "transit/".into();
        Ok(t.handle(&ctx, &mut req).await?.data.unwrap_or_default())
    }

    /// Concurrent rotations and encryptions lose no version, and what the
    /// cache serves is what storage holds (a fresh engine reads the same).
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_rotate_and_encrypt_stay_consistent() {
        let t = Arc::new(Transit::default());
        let v = view();
        call(&t, &v, Operation::Update, "keys/k", json!({}))
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for i in 0..40 {
            let (t, v) = (t.clone(), v.clone());
            tasks.push(tokio::spawn(async move {
                if i % 4 == 0 {
                    call(&t, &v, Operation::Update, "keys/k/rotate", json!({}))
                        .await
                        .map(|_| None)
                } else {
                    let out = call(
                        &t,
                        &v,
                        Operation::Update,
                        "encrypt/k",
                        json!({"plaintext": "aGk="}),
                    )
                    .await?;
                    Ok(Some(
                        out["ciphertext"].as_str().unwrap_or_default().to_owned(),
                    ))
                }
            }));
        }
        let mut cts = Vec::new();
        for task in tasks {
            if let Some(ct) = task.await.unwrap().unwrap() {
                cts.push(ct);
            }
        }
        let key = call(&t, &v, Operation::Read, "keys/k", json!({}))
            .await
            .unwrap();
        assert_eq!(key["latest_version"], 11);
        let fresh = Transit::default();
        let reread = call(&fresh, &v, Operation::Read, "keys/k", json!({}))
            .await
            .unwrap();
        assert_eq!(reread["keys"], key["keys"]);
        for ct in cts {
            let out = call(
                &fresh,
                &v,
                Operation::Update,
                "decrypt/k",
                json!({"ciphertext": ct}),
            )
            .await
            .unwrap();
            assert_eq!(out["plaintext"], "aGk=");
        }
    }

    #[tokio::test]
    async fn delete_drops_the_cached_key() {
        let t = Transit::default();
        let v = view();
        call(&t, &v, Operation::Update, "keys/d", json!({}))
            .await
            .unwrap();
        call(
            &t,
            &v,
            Operation::Update,
            "keys/d/config",
            json!({"deletion_allowed": true}),
        )
        .await
        .unwrap();
        call(&t, &v, Operation::Delete, "keys/d", json!({}))
            .await
            .unwrap();
        assert_eq!(
            call(&t, &v, Operation::Read, "keys/d", json!({}))
                .await
                .unwrap_err(),
            Error::NotFound
        );
        let err = call(
            &t,
            &v,
            Operation::Update,
            "decrypt/d",
            json!({"ciphertext": "vault:v1:AAAA"}),
        )
        .await
        .unwrap_err();
        assert_eq!(err, Error::bad_request("encryption key not found"));
    }
}
