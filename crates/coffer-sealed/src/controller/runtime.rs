//! The controller on kube-runtime (feature `kube-controller`): loads or generates the key
//! Secrets, serves the HTTP API, renews keys on schedule or on SIGUSR1, and runs a
//! `Controller` whose reconcile applies [`super::reconcile::reconcile`]'s decision (create /
//! replace the Secret, publish the event, patch the status).
//!
//! With `--key-source coffer` ([`Config::coffer`]) no key Secret is read or created: the ring
//! holds the coffer transit key and [`super::coffer_source`] renews it.
//!
//! Entry points: [`run_controller`] and, for the binary, [`super::cli::main`]. Not wired yet:
//! `--old-gc-behavior`.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret as K8sSecret;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event as KubeEvent, EventType as KubeEventType, Recorder, Reporter};
use kube::runtime::watcher;
use kube::{Api, Client, Resource};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use thiserror::Error;
use time::OffsetDateTime;

use super::http::{Handlers, RateLimiter, Request};
use super::keys::{self, KeyGenConfig, KeyOrderPriority};
use super::metrics::Metrics;
use super::reconcile::{self, EventType, ReconcileOptions, SecretAction};
use crate::keyring::{KeyRing, RingKey};

/// Failures of the controller runtime.
#[derive(Debug, Error)]
pub enum RunError {
    /// Kubernetes API error.
    #[error("kubernetes api: {0}")]
    Kube(#[from] kube::Error),
    /// Key loading or generation failed.
    #[error(transparent)]
    Key(#[from] crate::error::KeyError),
    /// An object could not be converted.
    #[error("cannot convert {what}: {reason}")]
    Convert { what: &'static str, reason: String },
    /// The reconcile decision asks for a retry.
    #[error("{0}")]
    Retry(String),
    /// HTTP listener problem.
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: SocketAddr, reason: String },
}

/// Controller settings (upstream flag names in the field docs).
#[derive(Debug, Clone)]
pub struct Config {
    /// Namespace of the key Secrets (`POD_NAMESPACE`, else the service-account namespace, else `default`).
    pub key_namespace: Option<String>,
    /// `--key-size`, `--key-ttl`, `--my-cn`, `--key-prefix`, `--privatekey-labels/-annotations`.
    pub key_gen: KeyGenConfig,
    /// `--key-renew-period` (zero disables the timer; SIGUSR1 still renews).
    pub renew_period: Duration,
    /// `--key-cutoff-time`.
    pub cutoff: Option<OffsetDateTime>,
    /// `--key-order-priority`.
    pub order_priority: KeyOrderPriority,
    /// `--update-status`, `--accept-deprecated-v1-data`.
    pub reconcile: ReconcileOptions,
    /// `--listen-addr` (default `:8080`).
    pub listen_addr: SocketAddr,
    /// `--listen-metrics-addr` (default `:8081`).
    pub listen_metrics_addr: SocketAddr,
    /// `--rate-limit`, `--rate-limit-burst`.
    pub rate_limit: (u32, u32),
    /// `--label-selector`.
    pub label_selector: Option<String>,
    /// `--skip-recreate`: do not watch Secrets (deleted Secrets are not re-created).
    pub skip_recreate: bool,
    /// `--watch-for-secrets`: pick up key Secrets added at runtime.
    pub watch_for_secrets: bool,
    /// `--max-unseal-retries` (default 5).
    pub max_unseal_retries: u32,
    /// `None` = all namespaces (`--all-namespaces`, default); otherwise the controller's own
    /// namespace plus `--additional-namespaces`.
    pub namespaces: Option<Vec<String>>,
    /// `--key-source coffer`: the sealing key is a coffer transit RSA key (no key Secrets).
    pub coffer: Option<crate::coffer::CofferKeyConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            key_namespace: None,
            key_gen: KeyGenConfig::default(),
            renew_period: keys::DEFAULT_RENEW_PERIOD,
            cutoff: None,
            order_priority: KeyOrderPriority::default(),
            reconcile: ReconcileOptions::default(),
            listen_addr: SocketAddr::from(([0, 0, 0, 0], 8080)),
            listen_metrics_addr: SocketAddr::from(([0, 0, 0, 0], 8081)),
            rate_limit: (2, 2),
            label_selector: None,
            skip_recreate: false,
            watch_for_secrets: false,
            max_unseal_retries: 5,
            namespaces: None,
            coffer: None,
        }
    }
}

/// The `bitnami.com/v1alpha1` SealedSecret as kube sees it: typed metadata, the rest as JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SealedSecretObject {
    /// Standard metadata.
    pub metadata: kube::core::ObjectMeta,
    /// `apiVersion`, `kind`, `spec`, `status`.
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

impl Resource for SealedSecretObject {
    type DynamicType = ();
    type Scope = k8s_openapi::NamespaceResourceScope;
    fn kind(_: &()) -> std::borrow::Cow<'_, str> {
        "SealedSecret".into()
    }
    fn group(_: &()) -> std::borrow::Cow<'_, str> {
        "bitnami.com".into()
    }
    fn version(_: &()) -> std::borrow::Cow<'_, str> {
        "v1alpha1".into()
    }
    fn plural(_: &()) -> std::borrow::Cow<'_, str> {
        "sealedsecrets".into()
    }
    fn meta(&self) -> &kube::core::ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut kube::core::ObjectMeta {
        &mut self.metadata
    }
}

/// The key ring shared by reconcile, HTTP handlers and renewal; replaced as a whole on renewal.
#[derive(Debug, Default)]
pub struct KeyStore(RwLock<Arc<KeyRing>>);

impl KeyStore {
    /// Wraps a ring.
    pub fn new(ring: KeyRing) -> KeyStore {
        KeyStore(RwLock::new(Arc::new(ring)))
    }
    /// The current ring.
    pub fn get(&self) -> Arc<KeyRing> {
        self.0.read().map(|r| r.clone()).unwrap_or_default()
    }
    /// Adds a key (copy-on-write).
    pub fn add(&self, key: RingKey) {
        if let Ok(mut slot) = self.0.write() {
            let mut ring = (**slot).clone();
            ring.add(key);
            *slot = Arc::new(ring);
        }
    }
}

/// Shared reconcile context.
pub struct Context {
    /// API client.
    pub client: Client,
    /// Keys.
    pub keys: Arc<KeyStore>,
    /// Event recorder (component `sealed-secrets`).
    pub recorder: Recorder,
    /// Decision options.
    pub options: ReconcileOptions,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Consecutive failures per `namespace/name` (for `--max-unseal-retries`).
    pub failures: std::sync::Mutex<std::collections::HashMap<String, u32>>,
    /// `--max-unseal-retries`.
    pub max_retries: u32,
}

impl Context {
    /// A context with default retry settings.
    pub fn new(
        client: Client,
        keys: Arc<KeyStore>,
        recorder: Recorder,
        options: ReconcileOptions,
        metrics: Arc<Metrics>,
    ) -> Context {
        Context {
            client,
            keys,
            recorder,
            options,
            metrics,
            failures: Default::default(),
            max_retries: 5,
        }
    }

    /// The error policy: back off exponentially (1 s, 2 s, 4 s, … up to 5 min) and give up after
    /// `max_retries` consecutive failures until the object changes again.
    pub fn on_error(&self, key: &str) -> Action {
        let Ok(mut f) = self.failures.lock() else {
            return Action::requeue(Duration::from_secs(60));
        };
        let n = f.entry(key.to_owned()).or_default();
        *n += 1;
        if *n > self.max_retries {
            tracing::warn!(
                object = key,
                retries = self.max_retries,
                "giving up until the object changes"
            );
            f.remove(key);
            return Action::await_change();
        }
        Action::requeue(Duration::from_secs((1u64 << (*n - 1).min(8)).min(300)))
    }

    fn on_success(&self, key: &str) {
        if let Ok(mut f) = self.failures.lock() {
            f.remove(key);
        }
    }
}

fn convert<T: serde::de::DeserializeOwned>(v: Value, what: &'static str) -> Result<T, RunError> {
    serde_json::from_value(v).map_err(|e| RunError::Convert {
        what,
        reason: e.to_string(),
    })
}

fn now_rfc3339() -> String {
    OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Reconciles one SealedSecret: decide, then apply the decision through the API.
pub async fn reconcile_object(obj: &SealedSecretObject, ctx: &Context) -> Result<Action, RunError> {
    let ns = obj.metadata.namespace.clone().unwrap_or_default();
    let name = obj.metadata.name.clone().unwrap_or_default();
    let sealed = serde_json::to_value(obj).map_err(|e| RunError::Convert {
        what: "sealedsecret",
        reason: e.to_string(),
    })?;
    let secrets: Api<K8sSecret> = Api::namespaced(ctx.client.clone(), &ns);
    let existing = match secrets.get_opt(&name).await? {
        Some(s) => Some(serde_json::to_value(&s).map_err(|e| RunError::Convert {
            what: "secret",
            reason: e.to_string(),
        })?),
        None => None,
    };
    let ring = ctx.keys.get();
    ctx.metrics.unseal_request();
    // RSA private operations cost milliseconds each; keep them off the async workers.
    let options = ctx.options;
    let decision = tokio::task::spawn_blocking(move || {
        reconcile::reconcile(&sealed, existing.as_ref(), &ring, options, &now_rfc3339())
    })
    .await
    .map_err(|e| RunError::Retry(format!("unseal task failed: {e}")))?;
    if let Some(reason) = decision.error_reason {
        ctx.metrics.unseal_error(reason, &ns);
    }
    let mut event = decision.event.clone();
    let mut retry = decision.retry;
    let applied = match &decision.action {
        SecretAction::None => Ok(()),
        SecretAction::Create(v) => secrets
            .create(
                &PostParams::default(),
                &convert::<K8sSecret>(v.clone(), "secret")?,
            )
            .await
            .map(|_| ()),
        SecretAction::Update(v) => secrets
            .replace(
                &name,
                &PostParams::default(),
                &convert::<K8sSecret>(v.clone(), "secret")?,
            )
            .await
            .map(|_| ()),
    };
    let mut status = decision.status.clone();
    if let Err(e) = applied {
        let msg = e.to_string();
        event = reconcile::Event {
            type_: EventType::Warning,
            reason: "ErrUpdateFailed",
            message: msg.clone(),
        };
        let generation = obj.metadata.generation.unwrap_or(0);
        status = reconcile::next_status(
            obj.rest.get("status"),
            generation,
            false,
            &msg,
            &now_rfc3339(),
        );
        retry = true;
        ctx.metrics.unseal_error("update", &ns);
    }
    let instance = obj
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("app.kubernetes.io/instance"))
        .cloned()
        .unwrap_or_default();
    ctx.metrics.condition(
        &ns,
        &name,
        Some(event.type_ == EventType::Normal),
        &instance,
    );
    let kube_event = KubeEvent {
        type_: if event.type_ == EventType::Normal {
            KubeEventType::Normal
        } else {
            KubeEventType::Warning
        },
        reason: event.reason.into(),
        note: Some(event.message.chars().take(1000).collect()),
        action: "Unseal".into(),
        secondary: None,
    };
    // The controller also wakes up for our own status writes; only publish when something
    // happened, so a synced object does not collect an `Unsealed` event per status change.
    let noteworthy = !matches!(decision.action, SecretAction::None) || status.is_some() || retry;
    if noteworthy
        && let Err(e) = ctx
            .recorder
            .publish(&kube_event, &obj.object_ref(&()))
            .await
    {
        tracing::warn!(namespace = %ns, name = %name, error = %e, "cannot publish event");
    }
    if let Some(st) = status {
        let api: Api<SealedSecretObject> = Api::namespaced(ctx.client.clone(), &ns);
        let patch = serde_json::json!({"status": st});
        if let Err(e) = api
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            ctx.metrics.unseal_error("status", &ns);
            tracing::warn!(namespace = %ns, name = %name, error = %e, "cannot update status");
        }
    }
    if retry {
        return Err(RunError::Retry(event.message));
    }
    ctx.on_success(&format!("{ns}/{name}"));
    Ok(Action::await_change())
}

/// The key namespace: explicit, `POD_NAMESPACE`, the service-account namespace, or `default`.
pub fn key_namespace(explicit: Option<&str>) -> String {
    if let Some(ns) = explicit.filter(|s| !s.is_empty()) {
        return ns.to_owned();
    }
    if let Ok(ns) = std::env::var("POD_NAMESPACE")
        && !ns.is_empty()
    {
        return ns;
    }
    std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "default".into())
}

/// Lists key Secrets and loads them; creates a new key when there is none or the newest is
/// older than the cutoff.
pub async fn load_or_create_keys(
    client: &Client,
    ns: &str,
    cfg: &Config,
) -> Result<KeyRing, RunError> {
    let api: Api<K8sSecret> = Api::namespaced(client.clone(), ns);
    let list = api.list(&ListParams::default()).await?;
    let mut values: Vec<Value> = list
        .items
        .iter()
        .filter_map(|s| serde_json::to_value(s).ok())
        .collect();
    values.sort_by(|a, b| {
        a.pointer("/metadata/creationTimestamp")
            .map(Value::to_string)
            .cmp(
                &b.pointer("/metadata/creationTimestamp")
                    .map(Value::to_string),
            )
    });
    let (mut ring, errors) = keys::load_ring(&values, &cfg.key_gen.prefix, cfg.order_priority);
    for e in errors {
        tracing::warn!(error = %e, "skipping unusable key secret");
    }
    if keys::needs_new_key(&ring, cfg.cutoff) {
        ring.add(create_key(client, ns, cfg).await?);
    }
    Ok(ring)
}

async fn create_key(client: &Client, ns: &str, cfg: &Config) -> Result<RingKey, RunError> {
    let api: Api<K8sSecret> = Api::namespaced(client.clone(), ns);
    let (key, secret) = keys::generate_key_secret(&cfg.key_gen, ns, OffsetDateTime::now_utc())?;
    let created = api
        .create(
            &PostParams::default(),
            &convert::<K8sSecret>(secret, "key secret")?,
        )
        .await?;
    if let Some(cert) = &key.cert {
        tracing::info!(
            secret = created.metadata.name.as_deref().unwrap_or(""),
            "new sealing key; certificate:\n{}",
            cert.pem()
        );
    }
    Ok(key)
}

async fn serve_http(
    addr: SocketAddr,
    store: Arc<KeyStore>,
    handlers: Arc<Handlers>,
    metrics: Arc<Metrics>,
) -> Result<(), RunError> {
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let (store, handlers, metrics) = (store.clone(), handlers.clone(), metrics.clone());
        async move {
            let (parts, body) = req.into_parts();
            let body = axum::body::to_bytes(body, 2 << 20)
                .await
                .unwrap_or_default();
            let xff = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok());
            let started = std::time::Instant::now();
            let ring = store.get();
            let (method, path) = (parts.method.to_string(), parts.uri.path().to_owned());
            let xff = xff.map(str::to_owned);
            // Unsealing may call coffer (blocking HTTP) or spend RSA time: off the async threads.
            let resp = tokio::task::spawn_blocking(move || {
                let req = Request {
                    method: &method,
                    path: &path,
                    forwarded_for: xff.as_deref(),
                    body: &body,
                };
                handlers.handle(&ring, req, std::time::Instant::now())
            })
            .await
            .unwrap_or_else(|_| super::http::Response {
                status: 500,
                content_type: "text/plain; charset=utf-8",
                body: b"internal error\n".to_vec(),
            });
            // Only the API routes, as upstream (unknown paths must not grow the label set).
            if matches!(
                parts.uri.path(),
                "/v1/cert.pem" | "/v1/verify" | "/v1/rotate"
            ) {
                metrics.http_request(parts.uri.path(), resp.status, parts.method.as_str());
                metrics.http_duration(
                    parts.uri.path(),
                    parts.method.as_str(),
                    started.elapsed().as_secs_f64(),
                );
            }
            let status = axum::http::StatusCode::from_u16(resp.status)
                .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
            (
                status,
                [(axum::http::header::CONTENT_TYPE, resp.content_type)],
                resp.body,
            )
        }
    });
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| RunError::Listen {
            addr,
            reason: e.to_string(),
        })?;
    axum::serve(listener, app)
        .await
        .map_err(|e| RunError::Listen {
            addr,
            reason: e.to_string(),
        })
}

async fn serve_metrics(addr: SocketAddr, metrics: Arc<Metrics>) -> Result<(), RunError> {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = metrics.clone();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4",
                    )],
                    metrics.render(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| RunError::Listen {
            addr,
            reason: e.to_string(),
        })?;
    axum::serve(listener, app)
        .await
        .map_err(|e| RunError::Listen {
            addr,
            reason: e.to_string(),
        })
}

async fn watch_key_secrets(client: Client, ns: String, cfg: Config, store: Arc<KeyStore>) {
    use kube::runtime::WatchStreamExt;
    let api: Api<K8sSecret> = Api::namespaced(client, &ns);
    let wc =
        watcher::Config::default().labels(&format!("{}={}", keys::KEY_LABEL, keys::KEY_ACTIVE));
    let mut stream = std::pin::pin!(watcher(api, wc).default_backoff().applied_objects());
    while let Some(item) = stream.next().await {
        let Ok(secret) = item else { continue };
        let Ok(value) = serde_json::to_value(&secret) else {
            continue;
        };
        match keys::parse_key_secret(&value, cfg.order_priority) {
            Ok(k) => store.add(k),
            Err(e) => tracing::warn!(error = %e, "skipping unusable key secret"),
        }
    }
}

async fn renew_loop(client: Client, ns: String, cfg: Config, store: Arc<KeyStore>) {
    let mut usr1 =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1()).ok();
    loop {
        let wait = keys::next_renewal(&store.get(), cfg.renew_period, OffsetDateTime::now_utc());
        let timer = async {
            match wait {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        let signal = async {
            match usr1.as_mut() {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = timer => {}
            _ = signal => tracing::info!("SIGUSR1: generating a new sealing key"),
        }
        match create_key(&client, &ns, &cfg).await {
            Ok(k) => store.add(k),
            Err(e) => {
                tracing::error!(error = %e, "key renewal failed; retrying in 1m");
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
        }
    }
}

/// Runs the controller until the process is stopped (SIGTERM/SIGINT end the Controller stream).
pub async fn run_controller(cfg: Config) -> Result<(), RunError> {
    let client = Client::try_default().await?;
    let ns = key_namespace(cfg.key_namespace.as_deref());
    let store = match &cfg.coffer {
        Some(coffer) => {
            let (keys, ring) = super::coffer_source::start(coffer.clone()).await?;
            tokio::spawn(super::coffer_source::renew_loop(keys, cfg.renew_period));
            Arc::new(KeyStore::new(ring))
        }
        None => Arc::new(KeyStore::new(
            load_or_create_keys(&client, &ns, &cfg).await?,
        )),
    };
    let handlers = Arc::new(Handlers::new(RateLimiter::new(
        cfg.rate_limit.0,
        cfg.rate_limit.1,
    )));
    let metrics = Arc::new(Metrics::default());
    let http = tokio::spawn(serve_http(
        cfg.listen_addr,
        store.clone(),
        handlers,
        metrics.clone(),
    ));
    let metrics_http = tokio::spawn(serve_metrics(cfg.listen_metrics_addr, metrics.clone()));
    if cfg.coffer.is_none() {
        tokio::spawn(renew_loop(client.clone(), ns, cfg.clone(), store.clone()));
    }
    let reporter = Reporter {
        controller: "sealed-secrets".into(),
        instance: std::env::var("HOSTNAME").ok(),
    };
    if cfg.watch_for_secrets && cfg.coffer.is_none() {
        tokio::spawn(watch_key_secrets(
            client.clone(),
            key_namespace(cfg.key_namespace.as_deref()),
            cfg.clone(),
            store.clone(),
        ));
    }
    let mut ctx = Context::new(
        client.clone(),
        store,
        Recorder::new(client.clone(), reporter),
        cfg.reconcile,
        metrics,
    );
    ctx.max_retries = cfg.max_unseal_retries;
    let ctx = Arc::new(ctx);
    let mut wc = watcher::Config::default();
    if let Some(sel) = &cfg.label_selector {
        wc = wc.labels(sel);
    }
    // One Controller per watched namespace (or one for all), sharing the context.
    let scopes: Vec<Option<String>> = match &cfg.namespaces {
        None => vec![None],
        Some(list) => list.iter().map(|n| Some(n.clone())).collect(),
    };
    let runs = scopes.into_iter().map(|scope| {
        let (client, ctx, wc, skip) = (client.clone(), ctx.clone(), wc.clone(), cfg.skip_recreate);
        async move {
            let (sealed, secrets): (Api<SealedSecretObject>, Api<K8sSecret>) = match &scope {
                Some(ns) => (
                    Api::namespaced(client.clone(), ns),
                    Api::namespaced(client, ns),
                ),
                None => (Api::all(client.clone()), Api::all(client)),
            };
            let mut controller = Controller::new(sealed, wc.clone());
            if !skip {
                controller = controller.owns(secrets, wc);
            }
            controller
                .shutdown_on_signal()
                .run(
                    |obj, ctx: Arc<Context>| async move { reconcile_object(&obj, &ctx).await },
                    |obj, err, ctx| {
                        let key = format!(
                            "{}/{}",
                            obj.metadata.namespace.as_deref().unwrap_or(""),
                            obj.metadata.name.as_deref().unwrap_or("")
                        );
                        tracing::warn!(object = %key, error = %err, "reconcile failed");
                        ctx.on_error(&key)
                    },
                    ctx,
                )
                .for_each(|_| async {})
                .await;
        }
    });
    futures::future::join_all(runs).await;
    http.abort();
    metrics_http.abort();
    Ok(())
}
