//! The token store. A token's plaintext is never stored: entries live under
//! `id/<HMAC-SHA256(salt, token)>`, accessors under `accessor/<HMAC(accessor)>`
//! and the parent/child tree under `parent/<parent hash>/<child hash>`, all
//! inside the barrier. Entries are cached in memory; expiry is enforced on
//! every lookup and by a background sweep.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use coffer_core::duration::format_go;
use coffer_core::logical::{Error, Object, Result};
use coffer_crypto::hmac;
use coffer_crypto::secret::SecretBytes;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::barrier::View;
use crate::ids;

/// The system-wide default and maximum TTL (768h), as in Vault.
pub const SYSTEM_MAX_TTL: u64 = 2_764_800;

/// What is stored for a token. The `id` is never persisted.
#[derive(Clone, Serialize, Deserialize)]
pub struct TokenEntry {
    /// Storage key: HMAC of the token under the store's salt.
    pub hash: String,
    pub accessor: String,
    pub parent: Option<String>,
    pub policies: Vec<String>,
    pub meta: IndexMap<String, String>,
    pub display_name: String,
    pub path: String,
    /// Remaining uses; 0 = unlimited.
    pub num_uses: u64,
    pub creation_time: i64,
    pub creation_ttl: u64,
    pub expire_time: Option<i64>,
    pub explicit_max_ttl: u64,
    /// Hard end of life from max TTLs (None = none, e.g. periodic or root).
    pub max_expire: Option<i64>,
    pub period: u64,
    pub renewable: bool,
    pub orphan: bool,
    pub entity_id: String,
    pub bound_cidrs: Vec<String>,
    /// Login data for renewals (e.g. which user logged in).
    #[serde(default)]
    pub internal: Object,
}

impl std::fmt::Debug for TokenEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenEntry")
            .field("accessor", &self.accessor)
            .field("policies", &self.policies)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl TokenEntry {
    pub fn is_root(&self) -> bool {
        self.policies.iter().any(|p| p == "root")
    }

    /// Seconds left, 0 for a token that does not expire.
    pub fn ttl_remaining(&self, now: i64) -> u64 {
        self.expire_time
            .map_or(0, |e| u64::try_from(e - now).unwrap_or(0))
    }

    /// The `auth/token/lookup*` data shape. `id` is the plaintext when the caller presented it.
    pub fn lookup_data(&self, id: &str) -> Object {
        let now = ids::now_unix();
        let meta = if self.meta.is_empty() {
            Value::Null
        } else {
            json!(self.meta)
        };
        let mut d = json!({
            "accessor": self.accessor,
            "creation_time": self.creation_time,
            "creation_ttl": self.creation_ttl,
            "display_name": self.display_name,
            "entity_id": self.entity_id,
            "expire_time": self.expire_time.map(ids::rfc3339_unix),
            "explicit_max_ttl": self.explicit_max_ttl,
            "id": id,
            "issue_time": ids::rfc3339_unix(self.creation_time),
            "meta": meta,
            "num_uses": self.num_uses,
            "orphan": self.orphan,
            "path": self.path,
            "policies": self.policies,
            "renewable": self.renewable,
            "ttl": self.ttl_remaining(now),
            "type": "service",
        });
        if self.period > 0 {
            d["period"] = json!(self.period);
        }
        d.as_object().cloned().unwrap_or_default()
    }
}

/// Parameters of a new token, already validated by the caller.
#[derive(Debug, Clone, Default)]
pub struct NewToken {
    /// A chosen id (dev root token, `id` field of root callers); else random.
    pub id: Option<String>,
    pub parent: Option<String>,
    pub policies: Vec<String>,
    pub meta: IndexMap<String, String>,
    pub display_name: String,
    pub path: String,
    pub num_uses: u64,
    pub ttl: u64,
    pub explicit_max_ttl: u64,
    /// Mount/system maximum for non-periodic tokens (0 = system max).
    pub max_ttl: u64,
    pub period: u64,
    pub renewable: bool,
    pub bound_cidrs: Vec<String>,
    pub internal: Object,
}

#[derive(Serialize, Deserialize)]
struct AccessorEntry {
    accessor: String,
    hash: String,
}

pub struct TokenStore {
    view: View,
    /// Per-token cubbyhole storage, emptied when a token is revoked.
    cubbyhole: View,
    salt: SecretBytes,
    cache: RwLock<HashMap<String, Arc<TokenEntry>>>,
    expirations: Mutex<BTreeSet<(i64, String)>>,
}

impl TokenStore {
    /// Opens the store, creating its salt on first use and indexing expirations.
    pub async fn open(view: View, cubbyhole: View) -> Result<Self> {
        let salt = match view.get("salt").await? {
            Some(s) => s,
            None => {
                let s = coffer_crypto::random_bytes(32);
                view.put("salt", &s).await?;
                SecretBytes::new(s)
            }
        };
        let store = TokenStore {
            view,
            cubbyhole,
            salt,
            cache: RwLock::new(HashMap::new()),
            expirations: Mutex::new(BTreeSet::new()),
        };
        for hash in store.view.list("id/").await? {
            if let Some(entry) = store
                .view
                .get_json::<TokenEntry>(&format!("id/{hash}"))
                .await?
            {
                store.track_expiry(&entry);
            }
        }
        Ok(store)
    }

    /// Caches an entry. The cache is bounded: when full, one arbitrary entry
    /// is evicted per insert, so memory stays flat and no request ever pays
    /// for dropping the whole cache at once.
    fn cache_put(&self, hash: String, entry: Arc<TokenEntry>) {
        const MAX_CACHED: usize = 65_536;
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= MAX_CACHED
            && !cache.contains_key(&hash)
            && let Some(victim) = cache.keys().next().cloned()
        {
            cache.remove(&victim);
        }
        cache.insert(hash, entry);
    }

    /// The private cubbyhole storage of a token (by its hash).
    pub fn cubbyhole_of(&self, hash: &str) -> View {
        self.cubbyhole.sub(&format!("{hash}/"))
    }

    /// Storage key of a token (or accessor): hex HMAC under the store's salt.
    pub fn hash(&self, token: &str) -> String {
        hmac::sha256_hex(self.salt.expose(), token.as_bytes())
    }

    fn track_expiry(&self, entry: &TokenEntry) {
        if let Some(at) = entry.expire_time {
            self.expirations
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert((at, entry.hash.clone()));
        }
    }

    pub async fn create(&self, new: NewToken) -> Result<(String, Arc<TokenEntry>, Vec<String>)> {
        let now = ids::now_unix();
        let id = new
            .id
            .clone()
            .unwrap_or_else(|| format!("s.{}", ids::base62(24)));
        let hash = self.hash(&id);
        if self.view.get(&format!("id/{hash}")).await?.is_some() {
            return Err(Error::bad_request(
                "cannot create a token with a duplicate ID",
            ));
        }
        let mut warnings = Vec::new();
        let is_root = new.policies.iter().any(|p| p == "root");
        let mut ttl = if new.period > 0 { new.period } else { new.ttl };
        let mut max_expire = None;
        if new.period == 0 {
            let mut max = if new.max_ttl > 0 {
                new.max_ttl
            } else {
                SYSTEM_MAX_TTL
            };
            if new.explicit_max_ttl > 0 {
                max = max.min(new.explicit_max_ttl);
            }
            if ttl == 0 && !is_root {
                ttl = max.min(SYSTEM_MAX_TTL);
            }
            if ttl > max {
                warnings.push(format!(
                    "TTL of {:?} exceeded the effective max_ttl of {:?}; TTL value is capped accordingly",
                    format_go(ttl),
                    format_go(max)
                ));
                ttl = max;
            }
            if !(is_root && ttl == 0) {
                max_expire = Some(now + max as i64);
            }
        }
        let entry = TokenEntry {
            hash: hash.clone(),
            accessor: ids::base62(24),
            parent: new.parent.clone(),
            policies: new.policies,
            meta: new.meta,
            display_name: new.display_name,
            path: new.path,
            num_uses: new.num_uses,
            creation_time: now,
            creation_ttl: ttl,
            expire_time: (ttl > 0).then(|| now + ttl as i64),
            explicit_max_ttl: new.explicit_max_ttl,
            max_expire,
            period: new.period,
            renewable: new.renewable && ttl > 0,
            orphan: new.parent.is_none(),
            entity_id: String::new(),
            bound_cidrs: new.bound_cidrs,
            internal: new.internal,
        };
        let bytes = serde_json::to_vec(&entry).map_err(Error::internal)?;
        let acc = serde_json::to_vec(&AccessorEntry {
            accessor: entry.accessor.clone(),
            hash: hash.clone(),
        })
        .map_err(Error::internal)?;
        let id_key = format!("id/{hash}");
        let acc_key = format!("accessor/{}", self.hash(&entry.accessor));
        let mut ops = vec![
            (id_key.as_str(), Some(bytes)),
            (acc_key.as_str(), Some(acc)),
        ];
        let parent_key = entry.parent.as_ref().map(|p| format!("parent/{p}/{hash}"));
        if let Some(k) = &parent_key {
            ops.push((k.as_str(), Some(Vec::new())));
        }
        self.view.transaction(ops).await?;
        self.track_expiry(&entry);
        let entry = Arc::new(entry);
        self.cache_put(hash, entry.clone());
        Ok((id, entry, warnings))
    }

    /// The live entry of a token; expired tokens are revoked and answer `None`.
    pub async fn lookup(&self, token: &str) -> Result<Option<Arc<TokenEntry>>> {
        self.lookup_hash(&self.hash(token)).await
    }

    pub async fn lookup_hash(&self, hash: &str) -> Result<Option<Arc<TokenEntry>>> {
        let cached = self
            .cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(hash)
            .cloned();
        let entry = match cached {
            Some(e) => e,
            None => match self
                .view
                .get_json::<TokenEntry>(&format!("id/{hash}"))
                .await?
            {
                None => return Ok(None),
                Some(e) => {
                    let e = Arc::new(e);
                    self.cache_put(hash.to_owned(), e.clone());
                    e
                }
            },
        };
        if entry.expire_time.is_some_and(|at| at <= ids::now_unix()) {
            self.revoke_tree(hash).await?;
            return Ok(None);
        }
        Ok(Some(entry))
    }

    pub async fn lookup_accessor(&self, accessor: &str) -> Result<Option<Arc<TokenEntry>>> {
        let key = format!("accessor/{}", self.hash(accessor));
        match self.view.get_json::<AccessorEntry>(&key).await? {
            None => Ok(None),
            Some(a) => self.lookup_hash(&a.hash).await,
        }
    }

    pub async fn accessors(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for key in self.view.list("accessor/").await? {
            if let Some(a) = self
                .view
                .get_json::<AccessorEntry>(&format!("accessor/{key}"))
                .await?
            {
                out.push(a.accessor);
            }
        }
        out.sort();
        Ok(out)
    }

    async fn store(&self, entry: TokenEntry) -> Result<Arc<TokenEntry>> {
        self.view
            .put_json(&format!("id/{}", entry.hash), &entry)
            .await?;
        self.track_expiry(&entry);
        let entry = Arc::new(entry);
        self.cache_put(entry.hash.clone(), entry.clone());
        Ok(entry)
    }

    /// Records the identity entity a login token belongs to.
    pub async fn set_entity(
        &self,
        entry: &TokenEntry,
        entity_id: String,
    ) -> Result<Arc<TokenEntry>> {
        let mut next = entry.clone();
        next.entity_id = entity_id;
        self.store(next).await
    }

    /// Counts one use of a limited-use token; the last use revokes it.
    /// Returns false when the token had no uses left.
    pub async fn use_token(&self, entry: &TokenEntry) -> Result<bool> {
        if entry.num_uses == 0 {
            return Ok(true);
        }
        let Some(current) = self.lookup_hash(&entry.hash).await? else {
            return Ok(false);
        };
        if current.num_uses <= 1 {
            self.revoke_tree(&entry.hash).await?;
        } else {
            let mut next = (*current).clone();
            next.num_uses -= 1;
            self.store(next).await?;
        }
        Ok(true)
    }

    /// Revokes a token and all its descendants.
    pub async fn revoke_tree(&self, hash: &str) -> Result<()> {
        let mut stack = vec![hash.to_owned()];
        let mut order = Vec::new();
        while let Some(h) = stack.pop() {
            for child in self.view.list(&format!("parent/{h}/")).await? {
                stack.push(child.trim_end_matches('/').to_owned());
            }
            order.push(h);
        }
        for h in order.iter().rev() {
            self.revoke_one(h).await?;
        }
        Ok(())
    }

    /// Revokes only this token; its children become orphans.
    pub async fn revoke_orphan(&self, hash: &str) -> Result<()> {
        for child in self.view.list(&format!("parent/{hash}/")).await? {
            let child = child.trim_end_matches('/').to_owned();
            if let Some(e) = self
                .view
                .get_json::<TokenEntry>(&format!("id/{child}"))
                .await?
            {
                let mut e = e;
                e.parent = None;
                e.orphan = true;
                self.store(e).await?;
            }
            self.view.delete(&format!("parent/{hash}/{child}")).await?;
        }
        self.revoke_one(hash).await
    }

    async fn revoke_one(&self, hash: &str) -> Result<()> {
        let entry = self
            .view
            .get_json::<TokenEntry>(&format!("id/{hash}"))
            .await?;
        self.cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(hash);
        let Some(entry) = entry else {
            return Ok(());
        };
        let id_key = format!("id/{hash}");
        let acc_key = format!("accessor/{}", self.hash(&entry.accessor));
        let parent_key = entry.parent.as_ref().map(|p| format!("parent/{p}/{hash}"));
        let mut ops = vec![(id_key.as_str(), None), (acc_key.as_str(), None)];
        if let Some(k) = &parent_key {
            ops.push((k.as_str(), None));
        }
        self.view.transaction(ops).await?;
        // The token's cubbyhole goes with it.
        self.cubbyhole.delete_prefix(&format!("{hash}/")).await?;
        Ok(())
    }

    /// Extends a token's TTL. `increment` 0 means the original TTL (or period).
    pub async fn renew(
        &self,
        hash: &str,
        increment: u64,
    ) -> Result<(Arc<TokenEntry>, Vec<String>)> {
        let entry = self
            .lookup_hash(hash)
            .await?
            .ok_or_else(|| Error::bad_request("token not found"))?;
        if !entry.renewable {
            return Err(Error::bad_request("lease is not renewable"));
        }
        let now = ids::now_unix();
        let mut warnings = Vec::new();
        let mut ttl = if entry.period > 0 {
            entry.period
        } else if increment > 0 {
            increment
        } else {
            entry.creation_ttl
        };
        if let Some(max_at) = entry.max_expire {
            let left = u64::try_from(max_at - now).unwrap_or(0);
            if ttl > left {
                if increment > 0 {
                    warnings.push(format!(
                        "TTL of {:?} exceeded the effective max_ttl of {:?}; TTL value is capped accordingly",
                        format_go(increment),
                        format_go(left)
                    ));
                }
                ttl = left;
            }
        }
        let mut next = (*entry).clone();
        next.expire_time = Some(now + ttl as i64);
        let next = self.store(next).await?;
        Ok((next, warnings))
    }

    /// Revokes every token whose expiry has passed (called periodically).
    pub async fn sweep_expired(&self) -> Result<usize> {
        let now = ids::now_unix();
        let due: Vec<(i64, String)> = {
            // Take only the due entries: O(due · log n) under the lock, so token
            // creation (which inserts here) never waits for a scan of every token.
            let mut exp = self.expirations.lock().unwrap_or_else(|e| e.into_inner());
            let mut due = Vec::new();
            while exp.first().is_some_and(|(at, _)| *at <= now) {
                due.extend(exp.pop_first());
            }
            due
        };
        let mut revoked = 0;
        for (_, hash) in due {
            // A renewed token has a later entry in the set; check the stored expiry.
            if let Some(e) = self
                .view
                .get_json::<TokenEntry>(&format!("id/{hash}"))
                .await?
                && e.expire_time.is_some_and(|at| at <= now)
            {
                self.revoke_tree(&hash).await?;
                revoked += 1;
            }
        }
        Ok(revoked)
    }
}
