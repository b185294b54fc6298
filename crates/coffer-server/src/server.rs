//! Starting a server: storage from config, the core, dev-mode bootstrap, and
//! the HTTP(S) listeners (rustls) with graceful shutdown.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use axum::extract::ConnectInfo;
use coffer_storage::Storage;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::config::{ListenerConfig, ServerConfig, StorageConfig};
use crate::core::{Core, CoreConfig};

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
    #[error("cannot load TLS files for listener {address}: {message}")]
    Tls { address: String, message: String },
    #[error("cannot open storage: {0}")]
    Storage(String),
    #[error("{0}")]
    Core(String),
}

/// The process-wide Prometheus recorder (installed once).
pub fn metrics_handle() -> Option<metrics_exporter_prometheus::PrometheusHandle> {
    static HANDLE: OnceLock<Option<metrics_exporter_prometheus::PrometheusHandle>> =
        OnceLock::new();
    HANDLE
        .get_or_init(|| {
            // Fixed buckets keep histograms at constant size (no raw samples kept).
            let buckets = [
                0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                1.0, 2.5,
            ];
            let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
                .set_buckets(&buckets)
                .ok()?
                .install_recorder()
                .ok()?;
            // Upkeep drains recorded samples into the buckets; without it they pile up.
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(std::time::Duration::from_secs(5));
                        upkeep.run_upkeep();
                    }
                })
                .ok()?;
            Some(handle)
        })
        .clone()
}

pub fn open_storage(cfg: &StorageConfig) -> Result<Arc<dyn Storage>, ServerError> {
    match cfg {
        StorageConfig::Memory => Ok(Arc::new(coffer_storage::MemoryStorage::new())),
        StorageConfig::File { path } => coffer_storage::FileStorage::open(path)
            .map(|s| Arc::new(s) as Arc<dyn Storage>)
            .map_err(|e| ServerError::Storage(format!("{}: {e}", path.display()))),
    }
}

pub fn core_config(cfg: &ServerConfig) -> CoreConfig {
    let listener_limit = cfg
        .listeners
        .iter()
        .filter_map(|l| l.max_request_size)
        .min();
    CoreConfig {
        api_addr: cfg.api_addr.clone().unwrap_or_else(|| {
            let l = &cfg.listeners[0];
            let scheme = if l.tls_disable { "http" } else { "https" };
            format!("{scheme}://{}", l.address)
        }),
        audit_devices: cfg.audit.clone(),
        allow_api_audit: cfg.allow_api_audit,
        max_request_size: listener_limit.unwrap_or(cfg.max_request_size),
    }
}

/// A bound listener, ready to serve.
pub struct Bound {
    pub listener: TcpListener,
    pub tls: Option<TlsAcceptor>,
    pub local_addr: SocketAddr,
}

pub async fn bind(l: &ListenerConfig) -> Result<Bound, ServerError> {
    let tls = if l.tls_disable {
        None
    } else {
        Some(tls_acceptor(l)?)
    };
    let listener = TcpListener::bind(&l.address)
        .await
        .map_err(|source| ServerError::Bind {
            address: l.address.clone(),
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| ServerError::Bind {
        address: l.address.clone(),
        source,
    })?;
    Ok(Bound {
        listener,
        tls,
        local_addr,
    })
}

fn tls_acceptor(l: &ListenerConfig) -> Result<TlsAcceptor, ServerError> {
    let err = |message: String| ServerError::Tls {
        address: l.address.clone(),
        message,
    };
    let cert_file = l
        .tls_cert_file
        .as_ref()
        .ok_or_else(|| err("tls_cert_file is missing".into()))?;
    let key_file = l
        .tls_key_file
        .as_ref()
        .ok_or_else(|| err("tls_key_file is missing".into()))?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .map_err(|e| err(format!("{}: {e}", cert_file.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| err(format!("{}: {e}", cert_file.display())))?;
    if certs.is_empty() {
        return Err(err(format!(
            "{}: no certificate found",
            cert_file.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| err(format!("{}: {e}", key_file.display())))?;
    let versions: &[&rustls::SupportedProtocolVersion] = if l.tls_min_version == "tls13" {
        &[&rustls::version::TLS13]
    } else {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(|e| err(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| err(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Serves `core` on a bound listener until `shutdown` resolves.
pub async fn serve(
    bound: Bound,
    core: Arc<Core>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let router = crate::http::router(core);
    let Bound { listener, tls, .. } = bound;
    tokio::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let svc = router.clone().map_request(
            move |mut req: axum::http::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(remote));
                req
            },
        );
        let tls = tls.clone();
        tokio::spawn(async move {
            let service = TowerToHyperService::new(svc);
            let builder = hyper::server::conn::http1::Builder::new();
            let result = match tls {
                None => {
                    builder
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                }
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(s) => builder.serve_connection(TokioIo::new(s), service).await,
                    Err(e) => {
                        tracing::debug!(error = %e, "TLS handshake failed");
                        return;
                    }
                },
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// What dev mode prints once it is ready.
pub struct DevInfo {
    pub unseal_key_b64: String,
    pub root_token: String,
}

/// Builds an in-memory, initialised, unsealed core with kv-v2 at `secret/`.
pub async fn dev_core(
    root_token_id: Option<String>,
    config: CoreConfig,
) -> Result<(Arc<Core>, DevInfo), ServerError> {
    use base64::Engine;
    let core = Core::new(
        Arc::new(coffer_storage::MemoryStorage::new()),
        config,
        metrics_handle(),
    );
    let (key, root_token) = core
        .initialize_dev(root_token_id)
        .await
        .map_err(|e| ServerError::Core(e.to_string()))?;
    let mut entry = crate::mounts::MountEntry::new(
        crate::mounts::MountClass::Secret,
        "secret/",
        "kv",
        "key/value secret storage",
    );
    let mut opts = serde_json::Map::new();
    opts.insert("version".into(), "2".into());
    entry.options = Some(opts);
    core.enable_mount(entry)
        .await
        .map_err(|e| ServerError::Core(e.to_string()))?;
    Ok((
        core,
        DevInfo {
            unseal_key_b64: base64::engine::general_purpose::STANDARD.encode(key.expose()),
            root_token,
        },
    ))
}
