//! Mount-table persistence and changes: loading with the built-in defaults,
//! enabling, disabling, tuning and moving mounts.

use std::sync::Arc;

use coffer_core::logical::{Error, Result};

use super::Core;
use crate::barrier::{Barrier, View};
use crate::framework::Backend;
use crate::mounts::{MountClass, MountEntry, MountTable, Mounted};
use crate::token::{TokenBackend, TokenStore};
use crate::{auth, engines};

const SECRET_TABLE: &str = "core/mounts";
const AUTH_TABLE: &str = "core/auth";

/// `sys/` is routed by the pipeline itself; its mount entry only lists it.
struct Routed;

#[async_trait::async_trait]
impl Backend for Routed {
    async fn handle(
        &self,
        _ctx: &crate::framework::Ctx<'_>,
        _req: &mut coffer_core::logical::Request,
    ) -> Result<coffer_core::logical::Response> {
        Err(Error::UnsupportedOperation)
    }
}

fn backend_for(entry: &MountEntry, tokens: &Arc<TokenStore>) -> Result<Arc<dyn Backend>> {
    let backend: Option<Arc<dyn Backend>> = match (entry.class, entry.kind.as_str()) {
        (MountClass::Secret, "system") => Some(Arc::new(Routed)),
        (MountClass::Auth, "token") => Some(Arc::new(TokenBackend::new(tokens.clone()))),
        (MountClass::Secret, _) => engines::secret_backend(entry),
        (MountClass::Auth, _) => auth::auth_backend(entry),
    };
    backend.ok_or_else(|| {
        Error::bad_request(format!("plugin not found in the catalog: {}", entry.kind))
    })
}

fn defaults() -> (Vec<MountEntry>, Vec<MountEntry>) {
    let mut cubby = MountEntry::new(
        MountClass::Secret,
        "cubbyhole/",
        "cubbyhole",
        "per-token private secret storage",
    );
    cubby.local = true;
    let sys = MountEntry::new(
        MountClass::Secret,
        "sys/",
        "system",
        "system endpoints used for control, policy and debugging",
    );
    let token = MountEntry::new(
        MountClass::Auth,
        "token/",
        "token",
        "token based credentials",
    );
    (vec![cubby, sys], vec![token])
}

pub(super) async fn load_table(
    barrier: &Arc<Barrier>,
    tokens: Arc<TokenStore>,
) -> Result<MountTable> {
    let root = View::new(barrier.clone(), "");
    let secret: Option<Vec<MountEntry>> = root.get_json(SECRET_TABLE).await?;
    let auth_entries: Option<Vec<MountEntry>> = root.get_json(AUTH_TABLE).await?;
    let (secret, auth_entries) = match (secret, auth_entries) {
        (Some(s), Some(a)) => (s, a),
        _ => {
            let (s, a) = defaults();
            root.put_json(SECRET_TABLE, &s).await?;
            root.put_json(AUTH_TABLE, &a).await?;
            (s, a)
        }
    };
    let mut table = MountTable::default();
    for entry in secret.into_iter().chain(auth_entries) {
        let backend = backend_for(&entry, &tokens)?;
        let view = View::new(barrier.clone(), entry.storage_prefix());
        table.insert(Mounted::new(entry, backend, view));
    }
    Ok(table)
}

async fn persist(core: &Core, table: &MountTable) -> Result<()> {
    let root = View::new(core.barrier.clone(), "");
    let secret: Vec<MountEntry> = table
        .entries(MountClass::Secret)
        .into_iter()
        .cloned()
        .collect();
    let auth_entries: Vec<MountEntry> = table
        .entries(MountClass::Auth)
        .into_iter()
        .cloned()
        .collect();
    let s = serde_json::to_vec(&secret).map_err(Error::internal)?;
    let a = serde_json::to_vec(&auth_entries).map_err(Error::internal)?;
    root.transaction(vec![(SECRET_TABLE, Some(s)), (AUTH_TABLE, Some(a))])
        .await?;
    Ok(())
}

/// Paths no user mount may take.
const RESERVED: &[&str] = &["sys/", "auth/", "cubbyhole/", "identity/", "token/"];

impl Core {
    pub async fn enable_mount(&self, mut entry: MountEntry) -> Result<()> {
        let _guard = self.lifecycle.lock().await;
        let active = self.active()?;
        if entry.kind == "kv-v2" {
            entry.kind = "kv".into();
            let mut opts = entry.options.take().unwrap_or_default();
            opts.insert("version".into(), "2".into());
            entry.options = Some(opts);
        }
        let prefix = entry.route_prefix();
        if entry.class == MountClass::Secret && RESERVED.iter().any(|r| prefix.starts_with(r)) {
            return Err(Error::bad_request(format!(
                "cannot mount {:?} of type {:?}: reserved path",
                prefix, entry.kind
            )));
        }
        if entry.class == MountClass::Auth && entry.kind == "token" {
            return Err(Error::bad_request(
                "token credential backend cannot be instantiated",
            ));
        }
        let mut table = (*active.mount_table()).clone();
        if table.conflicts(&prefix) {
            return Err(Error::bad_request(format!(
                "path is already in use at {}",
                entry.path
            )));
        }
        let backend = backend_for(&entry, &active.tokens)?;
        let view = View::new(self.barrier.clone(), entry.storage_prefix());
        table.insert(Mounted::new(entry, backend, view));
        persist(self, &table).await?;
        *active.mounts.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(table);
        Ok(())
    }

    /// Removes a mount and all its data; missing mounts are not an error.
    pub async fn disable_mount(&self, route_prefix: &str) -> Result<()> {
        let _guard = self.lifecycle.lock().await;
        let active = self.active()?;
        let mut table = (*active.mount_table()).clone();
        let Some(existing) = table.get(route_prefix) else {
            return Ok(());
        };
        if matches!(
            existing.entry.kind.as_str(),
            "system" | "cubbyhole" | "token" | "identity"
        ) {
            return Err(Error::bad_request(format!(
                "cannot unmount {route_prefix:?}"
            )));
        }
        let Some(removed) = table.remove(route_prefix) else {
            return Ok(());
        };
        persist(self, &table).await?;
        *active.mounts.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(table);
        removed.view.delete_prefix("").await?;
        Ok(())
    }

    /// Applies `f` to a mount entry and persists the table.
    pub async fn update_mount(
        &self,
        route_prefix: &str,
        f: impl FnOnce(&mut MountEntry) -> Result<()>,
    ) -> Result<()> {
        let _guard = self.lifecycle.lock().await;
        let active = self.active()?;
        let mut table = (*active.mount_table()).clone();
        let mut mounted = table
            .remove(route_prefix)
            .ok_or_else(|| Error::bad_request(format!("no mount at {route_prefix:?}")))?;
        f(&mut mounted.entry)?;
        table.insert(mounted);
        persist(self, &table).await?;
        *active.mounts.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(table);
        Ok(())
    }

    /// `sys/remount`: moves a mount (its storage stays under its UUID).
    pub async fn remount(&self, from: &str, to: &str) -> Result<()> {
        let _guard = self.lifecycle.lock().await;
        let active = self.active()?;
        let mut table = (*active.mount_table()).clone();
        if table.get(to).is_some() || table.conflicts(to) {
            return Err(Error::bad_request(format!("path already in use at {to:?}")));
        }
        let mut mounted = table
            .remove(from)
            .ok_or_else(|| Error::bad_request(format!("no matching mount at {from:?}")))?;
        if matches!(
            mounted.entry.kind.as_str(),
            "system" | "cubbyhole" | "token" | "identity"
        ) {
            return Err(Error::bad_request(format!("cannot remount {from:?}")));
        }
        let to_auth = to.starts_with("auth/");
        if to_auth != (mounted.entry.class == MountClass::Auth) {
            return Err(Error::bad_request(
                "cannot move a mount between secret and auth paths",
            ));
        }
        mounted.entry.path = to.strip_prefix("auth/").unwrap_or(to).to_owned();
        table.insert(mounted);
        persist(self, &table).await?;
        *active.mounts.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(table);
        Ok(())
    }
}
