//! The core: seal state, the unsealed subsystems (mounts, tokens, policies,
//! audit) and the one request pipeline every API call goes through
//! (`core/pipeline.rs`).

mod mounts;
mod pipeline;

use std::sync::{Arc, RwLock};

use coffer_core::logical::{Error, Result};
use coffer_crypto::keyring::Keyring;
use coffer_crypto::secret::SecretBytes;
use coffer_storage::Storage;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::audit::{AuditBroker, FileDevice, FileDeviceConfig};
use crate::barrier::{Barrier, View};
use crate::mounts::MountTable;
use crate::policy_store::PolicyStore;
use crate::seal::{self, Progress, SealConfig};
use crate::token::{NewToken, TokenStore};

pub use pipeline::{EarlyAuth, RawRequest};

/// Settings the core needs from the server configuration.
#[derive(Debug, Clone, Default)]
pub struct CoreConfig {
    pub api_addr: String,
    pub audit_devices: Vec<FileDeviceConfig>,
    pub allow_api_audit: bool,
    pub max_request_size: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ClusterInfo {
    name: String,
    id: String,
}

/// Everything that exists only while unsealed.
pub struct Active {
    pub mounts: RwLock<Arc<MountTable>>,
    pub tokens: Arc<TokenStore>,
    pub policies: Arc<PolicyStore>,
    pub audit: AuditBroker,
    root_key: SecretBytes,
    cluster: ClusterInfo,
    sweeper: tokio::task::JoinHandle<()>,
}

impl Active {
    pub fn mount_table(&self) -> Arc<MountTable> {
        self.mounts
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.sweeper.abort();
    }
}

pub struct Core {
    barrier: Arc<Barrier>,
    config: CoreConfig,
    progress: Mutex<Progress>,
    active: RwLock<Option<Arc<Active>>>,
    /// Serialises init/unseal/seal and mount-table changes.
    lifecycle: Mutex<()>,
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

impl Core {
    pub fn new(
        storage: Arc<dyn Storage>,
        config: CoreConfig,
        metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    ) -> Arc<Self> {
        Arc::new(Core {
            barrier: Arc::new(Barrier::new(storage)),
            config,
            progress: Mutex::new(Progress::default()),
            active: RwLock::new(None),
            lifecycle: Mutex::new(()),
            metrics,
        })
    }

    pub fn config(&self) -> &CoreConfig {
        &self.config
    }

    pub fn api_addr(&self) -> &str {
        &self.config.api_addr
    }

    pub fn storage_type(&self) -> &'static str {
        self.barrier.physical().kind()
    }

    pub fn metrics(&self) -> Option<&metrics_exporter_prometheus::PrometheusHandle> {
        self.metrics.as_ref()
    }

    pub fn barrier(&self) -> &Arc<Barrier> {
        &self.barrier
    }

    /// The unsealed state, or `Sealed`.
    pub fn active(&self) -> Result<Arc<Active>> {
        self.active
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or(Error::Sealed)
    }

    /// The mount serving `path`, as a metric label with bounded values
    /// (existing mounts only; anything else is `other`).
    pub fn mount_label(&self, path: &str) -> String {
        if path == "sys" || path.starts_with("sys/") {
            return "sys/".into();
        }
        match self.active() {
            Ok(active) => active
                .mount_table()
                .route(path)
                .map_or_else(|| "other".into(), |m| m.prefix.clone()),
            Err(_) => "other".into(),
        }
    }

    pub fn is_sealed(&self) -> bool {
        self.active
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_none()
    }

    pub fn cluster_name(&self) -> String {
        self.active()
            .map(|a| a.cluster.name.clone())
            .unwrap_or_default()
    }

    pub fn cluster_id(&self) -> String {
        self.active()
            .map(|a| a.cluster.id.clone())
            .unwrap_or_default()
    }

    pub async fn seal_config(&self) -> Result<Option<SealConfig>> {
        seal::config(&self.barrier).await
    }

    pub async fn is_initialized(&self) -> Result<bool> {
        Ok(self.seal_config().await?.is_some())
    }

    pub async fn unseal_progress(&self) -> (usize, String) {
        let p = self.progress.lock().await;
        (p.count(), p.nonce.clone())
    }

    pub async fn reset_unseal(&self) {
        self.progress.lock().await.reset();
    }

    /// `sys/init`: returns the unseal key shares and the initial root token; the server stays sealed.
    pub async fn initialize(
        &self,
        shares: u8,
        threshold: u8,
    ) -> Result<(Vec<SecretBytes>, String)> {
        let _guard = self.lifecycle.lock().await;
        let init = seal::initialize(&self.barrier, shares, threshold).await?;
        let unlocked = seal::open_keyring(&self.barrier, &init.unseal_key).await?;
        let active = self.activate(unlocked.root_key, unlocked.keyring).await?;
        let (root_token, _, _) = active.tokens.create(root_token_params(None)).await?;
        self.deactivate();
        Ok((init.shares, root_token))
    }

    /// Dev mode: initialise with one share, unseal, create the chosen root token.
    pub async fn initialize_dev(
        &self,
        root_token_id: Option<String>,
    ) -> Result<(SecretBytes, String)> {
        let _guard = self.lifecycle.lock().await;
        let init = seal::initialize(&self.barrier, 1, 1).await?;
        let unlocked = seal::open_keyring(&self.barrier, &init.unseal_key).await?;
        let active = self.activate(unlocked.root_key, unlocked.keyring).await?;
        // OpenBao's dev root token is made like any `token create` by root.
        let params = NewToken {
            display_name: "token".into(),
            path: "auth/token/create".into(),
            ..root_token_params(root_token_id)
        };
        let (root_token, _, _) = active.tokens.create(params).await?;
        Ok((init.unseal_key, root_token))
    }

    pub async fn submit_unseal_share(&self, share: SecretBytes) -> Result<()> {
        let _guard = self.lifecycle.lock().await;
        if !self.is_sealed() {
            return Ok(());
        }
        let mut progress = self.progress.lock().await;
        if let Some(unlocked) = seal::submit_share(&self.barrier, &mut progress, share).await? {
            drop(progress);
            self.activate(unlocked.root_key, unlocked.keyring).await?;
            tracing::info!("core: vault is unsealed");
        }
        Ok(())
    }

    /// `sys/seal`: drops every key from memory.
    pub async fn seal(&self) {
        let _guard = self.lifecycle.lock().await;
        self.deactivate();
        tracing::info!("core: vault is sealed");
    }

    fn deactivate(&self) {
        self.barrier.set_keyring(None);
        *self.active.write().unwrap_or_else(|e| e.into_inner()) = None;
        metrics::gauge!("coffer_core_unsealed").set(0.0);
    }

    /// Brings up every subsystem after the keyring is opened.
    async fn activate(&self, root_key: SecretBytes, keyring: Arc<Keyring>) -> Result<Arc<Active>> {
        self.barrier.set_keyring(Some(keyring));
        match self.build_active(root_key).await {
            Ok(active) => {
                *self.active.write().unwrap_or_else(|e| e.into_inner()) = Some(active.clone());
                metrics::gauge!("coffer_core_unsealed").set(1.0);
                Ok(active)
            }
            Err(e) => {
                self.barrier.set_keyring(None);
                Err(e)
            }
        }
    }

    async fn build_active(&self, root_key: SecretBytes) -> Result<Arc<Active>> {
        let sys = View::new(self.barrier.clone(), "");
        let cluster = match sys.get_json::<ClusterInfo>("core/cluster").await? {
            Some(c) => c,
            None => {
                let c = ClusterInfo {
                    name: format!("vault-cluster-{}", crate::ids::hex8()),
                    id: crate::ids::uuid(),
                };
                sys.put_json("core/cluster", &c).await?;
                c
            }
        };
        let tokens = Arc::new(
            TokenStore::open(
                View::new(self.barrier.clone(), "sys/token/"),
                View::new(self.barrier.clone(), "sys/cubbyhole/"),
            )
            .await?,
        );
        let policies =
            Arc::new(PolicyStore::open(View::new(self.barrier.clone(), "sys/policy/")).await?);
        let audit = AuditBroker::default();
        for device in &self.config.audit_devices {
            audit.add(self.open_audit_device(device.clone()).await?);
        }
        for device in self.stored_audit_devices().await? {
            if audit.device(&device.path).is_none() {
                audit.add(self.open_audit_device(device).await?);
            }
        }
        let table = mounts::load_table(&self.barrier, tokens.clone()).await?;
        let sweeper = {
            let tokens = tokens.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
                loop {
                    tick.tick().await;
                    if let Err(e) = tokens.sweep_expired().await {
                        tracing::warn!(error = %e, "expiration: sweep failed");
                    }
                }
            })
        };
        Ok(Arc::new(Active {
            mounts: RwLock::new(Arc::new(table)),
            tokens,
            policies,
            audit,
            root_key,
            cluster,
            sweeper,
        }))
    }

    /// Opens an audit device with its persistent salt.
    pub async fn open_audit_device(&self, config: FileDeviceConfig) -> Result<Arc<FileDevice>> {
        let view = View::new(self.barrier.clone(), "core/audit-salt/");
        let key = config.path.trim_end_matches('/').to_owned();
        let salt = match view.get(&key).await? {
            Some(s) => s.expose().to_vec(),
            None => {
                let s = crate::ids::uuid().into_bytes();
                view.put(&key, &s).await?;
                s
            }
        };
        FileDevice::open(config, salt)
            .map(Arc::new)
            .map_err(|e| Error::bad_request(e.to_string()))
    }

    async fn stored_audit_devices(&self) -> Result<Vec<FileDeviceConfig>> {
        let stored: Option<Vec<StoredAudit>> = View::new(self.barrier.clone(), "")
            .get_json("core/audit")
            .await?;
        Ok(stored
            .unwrap_or_default()
            .into_iter()
            .map(Into::into)
            .collect())
    }

    pub async fn persist_api_audit_devices(&self, devices: &[FileDeviceConfig]) -> Result<()> {
        let stored: Vec<StoredAudit> = devices.iter().map(StoredAudit::from).collect();
        View::new(self.barrier.clone(), "")
            .put_json("core/audit", &stored)
            .await?;
        Ok(())
    }

    /// `sys/rotate`: adds a keyring term and re-wraps the keyring under the root key.
    pub async fn rotate_keyring(&self) -> Result<()> {
        let _guard = self.lifecycle.lock().await;
        let active = self.active()?;
        let current = self.barrier.keyring()?;
        let mut next = (*current).clone();
        next.rotate().map_err(Error::internal)?;
        seal::store_keyring(&self.barrier, &active.root_key, &next).await?;
        self.barrier.set_keyring(Some(Arc::new(next)));
        Ok(())
    }
}

fn root_token_params(id: Option<String>) -> NewToken {
    NewToken {
        id,
        policies: vec!["root".into()],
        display_name: "root".into(),
        path: "auth/token/root".into(),
        ..NewToken::default()
    }
}

#[derive(Serialize, Deserialize)]
struct StoredAudit {
    path: String,
    file_path: String,
    log_raw: bool,
    hmac_accessor: bool,
    prefix: String,
    description: String,
}

impl From<StoredAudit> for FileDeviceConfig {
    fn from(s: StoredAudit) -> Self {
        FileDeviceConfig {
            path: s.path,
            file_path: s.file_path,
            log_raw: s.log_raw,
            hmac_accessor: s.hmac_accessor,
            prefix: s.prefix,
            mode: None,
            description: s.description,
        }
    }
}

impl From<&FileDeviceConfig> for StoredAudit {
    fn from(c: &FileDeviceConfig) -> Self {
        StoredAudit {
            path: c.path.clone(),
            file_path: c.file_path.clone(),
            log_raw: c.log_raw,
            hmac_accessor: c.hmac_accessor,
            prefix: c.prefix.clone(),
            description: c.description.clone(),
        }
    }
}
