//! `coffer server` (dev mode or `-config=FILE`), `coffer audit verify`, and
//! `coffer version`. Flags accept Vault's single-dash style (`-dev`).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use coffer_server::config::{ListenerConfig, ServerConfig};
use coffer_server::server;

#[derive(Parser)]
#[command(
    name = "coffer",
    version,
    about = "Secret management for Kubernetes, compatible with Vault/OpenBao, sealed-secrets and SOPS"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the secret store server.
    Server(ServerArgs),
    /// Audit log tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Print the version.
    Version,
}

#[derive(clap::Args)]
struct ServerArgs {
    /// Development mode: in memory, unsealed, kv-v2 at secret/, root token printed.
    #[arg(long)]
    dev: bool,
    /// Root token id in dev mode (random if unset).
    #[arg(long = "dev-root-token-id", env = "VAULT_DEV_ROOT_TOKEN_ID")]
    dev_root_token_id: Option<String>,
    /// Listen address in dev mode.
    #[arg(
        long = "dev-listen-address",
        default_value = "127.0.0.1:8200",
        env = "VAULT_DEV_LISTEN_ADDRESS"
    )]
    dev_listen_address: String,
    /// Server configuration file (Vault HCL).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Log level: trace, debug, info, warn, error.
    #[arg(long = "log-level")]
    log_level: Option<String>,
    /// Log format: standard or json.
    #[arg(long = "log-format")]
    log_format: Option<String>,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Verify the hash chain of a file audit log; reports the first broken or missing line.
    Verify { file: PathBuf },
}

/// Vault spells long flags with one dash; clap wants two.
fn normalize_flags(args: Vec<OsString>) -> Vec<OsString> {
    args.into_iter()
        .enumerate()
        .map(|(i, a)| match a.to_str() {
            Some(s) if i > 0 && s.starts_with('-') && !s.starts_with("--") && s.len() > 2 => {
                OsString::from(format!("-{s}"))
            }
            _ => a,
        })
        .collect()
}

pub fn main(args: Vec<OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(normalize_flags(args)) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let result = match cli.command {
        Command::Server(args) => run_server(args),
        Command::Audit {
            command: AuditCommand::Verify { file },
        } => verify_audit(&file),
        Command::Version => {
            println!("coffer v{}", coffer_server::VERSION);
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn init_logging(level: &str, json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("{level},hyper=warn,h2=warn"))
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

fn run_server(args: ServerArgs) -> anyhow::Result<ExitCode> {
    let config = match (&args.config, args.dev) {
        (Some(path), _) => Some(ServerConfig::load(path)?),
        (None, true) => None,
        (None, false) => {
            anyhow::bail!("a configuration file must be given with -config=FILE, or use -dev")
        }
    };
    let level = args
        .log_level
        .clone()
        .or_else(|| config.as_ref().map(|c| c.log_level.clone()))
        .unwrap_or_else(|| "info".into());
    let format = args
        .log_format
        .clone()
        .or_else(|| config.as_ref().map(|c| c.log_format.clone()))
        .unwrap_or_else(|| "standard".into());
    init_logging(&level, format == "json");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        match config {
            None => run_dev(args).await,
            Some(cfg) => run_with_config(cfg).await,
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn run_dev(args: ServerArgs) -> anyhow::Result<()> {
    let listener = ListenerConfig {
        address: args.dev_listen_address.clone(),
        tls_disable: true,
        tls_cert_file: None,
        tls_key_file: None,
        tls_min_version: "tls12".into(),
        max_request_size: None,
    };
    let bound = server::bind(&listener).await?;
    let core_config = coffer_server::core::CoreConfig {
        api_addr: format!("http://{}", bound.local_addr),
        max_request_size: coffer_server::config::DEFAULT_MAX_REQUEST_SIZE,
        ..Default::default()
    };
    let (core, info) = server::dev_core(args.dev_root_token_id.clone(), core_config).await?;
    println!("WARNING! dev mode is enabled! In this mode, coffer runs entirely in-memory");
    println!("and starts unsealed with a single unseal key. Do not run dev mode in production.");
    println!();
    println!("    export VAULT_ADDR='http://{}'", bound.local_addr);
    println!("    export BAO_ADDR='http://{}'", bound.local_addr);
    println!();
    println!("Unseal Key: {}", info.unseal_key_b64);
    println!("Root Token: {}", info.root_token);
    println!();
    println!("==> coffer server started! Log data will stream in below:");
    tracing::info!(address = %bound.local_addr, "dev server listening");
    server::serve(bound, core, server::shutdown_signal()).await;
    Ok(())
}

async fn run_with_config(cfg: ServerConfig) -> anyhow::Result<()> {
    for name in &cfg.ignored {
        tracing::warn!(setting = %name, "configuration setting accepted but has no effect in coffer");
    }
    let storage = server::open_storage(&cfg.storage)?;
    let core = coffer_server::core::Core::new(
        storage,
        server::core_config(&cfg),
        server::metrics_handle(),
    );
    let mut bound = Vec::new();
    for l in &cfg.listeners {
        bound.push(server::bind(l).await?);
    }
    let (tx, rx) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    for b in bound {
        tracing::info!(address = %b.local_addr, tls = b.tls.is_some(), "listening");
        let core = Arc::clone(&core);
        let mut rx = rx.clone();
        tasks.push(tokio::spawn(server::serve(b, core, async move {
            let _ = rx.changed().await;
        })));
    }
    println!(
        "==> coffer server started (storage: {})",
        core.storage_type()
    );
    server::shutdown_signal().await;
    let _ = tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    Ok(())
}

fn verify_audit(file: &PathBuf) -> anyhow::Result<ExitCode> {
    let f = std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let report = coffer_server::audit::verify_file(std::io::BufReader::new(f))?;
    match report.first_error {
        None => {
            println!("{}: {} lines, chain intact", file.display(), report.lines);
            Ok(ExitCode::SUCCESS)
        }
        Some((line, why)) => {
            println!("{}:{}: {}", file.display(), line, why);
            Ok(ExitCode::from(2))
        }
    }
}
