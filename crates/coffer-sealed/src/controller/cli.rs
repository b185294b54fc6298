//! `coffer controller` (sealed-secrets part): upstream's controller flags (spec §5.4), each also
//! settable as `SEALED_SECRETS_<FLAG>`; the command line wins.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::{ArgAction, CommandFactory, Parser};

use super::keys::{self, KeyGenConfig, KeyOrderPriority};
use super::reconcile::ReconcileOptions;
use super::runtime::{Config, run_controller};

/// Upstream controller flags.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "controller",
    about = "Sealed-secrets compatible controller (coffer)",
    args_override_self = true
)]
pub struct ControllerArgs {
    /// Prefix of the key Secrets' generateName.
    #[arg(long, default_value = keys::DEFAULT_KEY_PREFIX)]
    pub key_prefix: String,
    /// RSA key size of new keys.
    #[arg(long, default_value_t = 4096)]
    pub key_size: usize,
    /// Validity of new certificates (Go duration).
    #[arg(long, default_value = "87600h")]
    pub key_ttl: String,
    /// Common name of new certificates.
    #[arg(long, default_value = "")]
    pub my_cn: String,
    /// Key renewal period; 0 disables (Go duration).
    #[arg(long, visible_alias = "rotate-period", default_value = "720h")]
    pub key_renew_period: String,
    /// CertNotBefore or SecretCreationTimestamp.
    #[arg(long, default_value = "CertNotBefore")]
    pub key_order_priority: String,
    /// Generate a key at startup if the newest is older (RFC 1123 with numeric zone).
    #[arg(long, default_value = "")]
    pub key_cutoff_time: String,
    /// Accept the deprecated v1 `spec.data`.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true", action = ArgAction::Set)]
    pub accept_deprecated_v1_data: bool,
    /// Write the status subresource.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true", action = ArgAction::Set)]
    pub update_status: bool,
    /// HTTP API address.
    #[arg(long, default_value = ":8080")]
    pub listen_addr: String,
    /// Metrics address.
    #[arg(long, default_value = ":8081")]
    pub listen_metrics_addr: String,
    /// `/v1/verify` requests per second.
    #[arg(long, default_value_t = 2)]
    pub rate_limit: u32,
    /// `/v1/verify` burst.
    #[arg(long, default_value_t = 2)]
    pub rate_limit_burst: u32,
    /// `k=v,…` annotations on new key Secrets.
    #[arg(long, default_value = "")]
    pub privatekey_annotations: String,
    /// `k=v,…` labels on new key Secrets.
    #[arg(long, default_value = "")]
    pub privatekey_labels: String,
    /// Only SealedSecrets and Secrets matching this label selector.
    #[arg(long, default_value = "")]
    pub label_selector: String,
    /// Namespace of the key Secrets (default: POD_NAMESPACE or the service-account namespace).
    #[arg(long, default_value = "")]
    pub key_namespace: String,
    /// Watch all namespaces; with `false`, only the controller's own namespace (plus
    /// `--additional-namespaces`).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true", action = ArgAction::Set)]
    pub all_namespaces: bool,
    /// Comma-separated extra namespaces to watch (implies not watching all namespaces).
    #[arg(long, default_value = "")]
    pub additional_namespaces: String,
    /// Do not watch Secrets (deleted Secrets are not re-created; less RBAC).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", action = ArgAction::Set)]
    pub skip_recreate: bool,
    /// Pick up key Secrets added while running.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", action = ArgAction::Set)]
    pub watch_for_secrets: bool,
    /// Give up on an object after this many consecutive failures (until it changes).
    #[arg(long, default_value_t = 5)]
    pub max_unseal_retries: u32,
    /// Where the sealing key lives: `kubernetes` (key Secrets, upstream's behaviour) or `coffer`
    /// (a coffer transit RSA key; the private key never leaves coffer).
    #[arg(long, default_value = "kubernetes")]
    pub key_source: String,
    /// Coffer's address (`--key-source coffer`; default `COFFER_ADDR`, then `VAULT_ADDR`).
    #[arg(long, default_value = "")]
    pub coffer_addr: String,
    /// File holding the coffer token (re-read at every request).
    #[arg(long, default_value = "")]
    pub coffer_token_file: String,
    /// File holding the AppRole role id (instead of a token file).
    #[arg(long, default_value = "")]
    pub coffer_role_id_file: String,
    /// File holding the AppRole secret id.
    #[arg(long, default_value = "")]
    pub coffer_secret_id_file: String,
    /// Mount path of the AppRole auth method.
    #[arg(long, default_value = "approle")]
    pub coffer_approle_mount: String,
    /// Mount path of the transit engine.
    #[arg(long, default_value = "transit")]
    pub coffer_transit_mount: String,
    /// Name of the transit RSA key (rsa-2048, rsa-3072 or rsa-4096).
    #[arg(long, default_value = "")]
    pub coffer_key: String,
    /// CA bundle to verify coffer's TLS certificate (default: the system bundle).
    #[arg(long, default_value = "")]
    pub coffer_ca_file: String,
    /// Timeout of each coffer request (Go duration).
    #[arg(long, default_value = "30s")]
    pub coffer_timeout: String,
}

/// The `--key-source coffer` settings, or `None` for `--key-source kubernetes`.
fn coffer_config(
    a: &ControllerArgs,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<crate::coffer::CofferKeyConfig>, String> {
    use crate::coffer::{Auth, CofferKeyConfig};
    match a.key_source.as_str() {
        "kubernetes" => return Ok(None),
        "coffer" => {}
        other => {
            return Err(format!(
                "invalid --key-source {other:?}: use kubernetes or coffer"
            ));
        }
    }
    let addr = Some(a.coffer_addr.clone())
        .filter(|s| !s.is_empty())
        .or_else(|| env("COFFER_ADDR"))
        .or_else(|| env("VAULT_ADDR"))
        .filter(|s| !s.is_empty())
        .ok_or("--key-source coffer needs --coffer-addr (or COFFER_ADDR)")?;
    if a.coffer_key.is_empty() {
        return Err("--key-source coffer needs --coffer-key (the transit rsa key name)".into());
    }
    let auth = match (
        a.coffer_token_file.as_str(),
        a.coffer_role_id_file.as_str(),
        a.coffer_secret_id_file.as_str(),
    ) {
        (t, "", "") if !t.is_empty() => Auth::TokenFile(t.into()),
        ("", r, s) if !r.is_empty() && !s.is_empty() => Auth::AppRole {
            mount: a.coffer_approle_mount.clone(),
            role_id_file: r.into(),
            secret_id_file: s.into(),
        },
        _ => {
            return Err(
                "--key-source coffer needs either --coffer-token-file or both \
                 --coffer-role-id-file and --coffer-secret-id-file"
                    .into(),
            );
        }
    };
    let timeout = keys::parse_go_duration(&a.coffer_timeout)?;
    if timeout.is_zero() {
        return Err("--coffer-timeout must be greater than 0".into());
    }
    Ok(Some(CofferKeyConfig {
        addr,
        auth,
        mount: a.coffer_transit_mount.trim_matches('/').to_owned(),
        key: a.coffer_key.clone(),
        ca_file: (!a.coffer_ca_file.is_empty()).then(|| a.coffer_ca_file.clone().into()),
        timeout,
        cert_cn: a.my_cn.clone(),
        cert_ttl: keys::parse_go_duration(&a.key_ttl)?,
    }))
}

/// Applies `SEALED_SECRETS_<FLAG>` for every long flag not on the command line.
fn with_env(mut args: Vec<OsString>) -> Vec<OsString> {
    let cmd = ControllerArgs::command();
    let mut extra = Vec::new();
    for a in cmd.get_arguments() {
        let Some(long) = a.get_long() else { continue };
        let flag = format!("--{long}");
        let given = args
            .iter()
            .skip(1)
            .filter_map(|x| x.to_str())
            .any(|x| x == flag || x.starts_with(&format!("{flag}=")));
        let var = format!(
            "SEALED_SECRETS_{}",
            long.replace('-', "_").to_ascii_uppercase()
        );
        if !given && let Ok(v) = std::env::var(&var) {
            extra.push(OsString::from(format!("{flag}={v}")));
        }
    }
    let rest = args.split_off(args.len().min(1));
    args.extend(extra);
    args.extend(rest);
    args
}

fn addr(s: &str) -> Result<SocketAddr, String> {
    let full = if s.starts_with(':') {
        format!("0.0.0.0{s}")
    } else {
        s.to_owned()
    };
    full.parse()
        .map_err(|_| format!("invalid listen address {s:?} (use :8080 or HOST:PORT)"))
}

/// Turns the flags into a runtime [`Config`].
pub fn config(a: &ControllerArgs) -> Result<Config, String> {
    keys::validate_prefix(&a.key_prefix)?;
    let extra: Vec<String> = a
        .additional_namespaces
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let namespaces = if a.all_namespaces && extra.is_empty() {
        None
    } else {
        let own = super::runtime::key_namespace(
            (!a.key_namespace.is_empty()).then_some(a.key_namespace.as_str()),
        );
        let mut list = vec![own];
        for n in extra {
            if !list.contains(&n) {
                list.push(n);
            }
        }
        Some(list)
    };
    Ok(Config {
        key_namespace: (!a.key_namespace.is_empty()).then(|| a.key_namespace.clone()),
        key_gen: KeyGenConfig {
            bits: a.key_size,
            ttl: keys::parse_go_duration(&a.key_ttl)?,
            cn: a.my_cn.clone(),
            prefix: a.key_prefix.clone(),
            labels: keys::parse_kv_list(&a.privatekey_labels)?,
            annotations: keys::parse_kv_list(&a.privatekey_annotations)?,
        },
        renew_period: keys::parse_go_duration(&a.key_renew_period)?,
        cutoff: if a.key_cutoff_time.is_empty() {
            None
        } else {
            Some(keys::parse_cutoff(&a.key_cutoff_time)?)
        },
        order_priority: KeyOrderPriority::parse(&a.key_order_priority).ok_or_else(|| {
            format!(
                "invalid --key-order-priority {:?}: use CertNotBefore or SecretCreationTimestamp",
                a.key_order_priority
            )
        })?,
        reconcile: ReconcileOptions {
            update_status: a.update_status,
            accept_v1_data: a.accept_deprecated_v1_data,
        },
        listen_addr: addr(&a.listen_addr)?,
        listen_metrics_addr: addr(&a.listen_metrics_addr)?,
        rate_limit: (a.rate_limit, a.rate_limit_burst),
        label_selector: (!a.label_selector.is_empty()).then(|| a.label_selector.clone()),
        skip_recreate: a.skip_recreate,
        watch_for_secrets: a.watch_for_secrets,
        max_unseal_retries: a.max_unseal_retries,
        namespaces,
        coffer: coffer_config(a, |k| std::env::var(k).ok())?,
    })
}

/// `coffer controller ARGS…` (`args[0]` = program name): parses flags and runs the controller
/// on a tokio runtime until SIGTERM/SIGINT.
pub fn main(args: Vec<OsString>) -> ExitCode {
    let parsed = match ControllerArgs::try_parse_from(with_env(args)) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 1 } else { 0 });
        }
    };
    let cfg = match config(&parsed) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run_controller(cfg)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_to_config() {
        let a = ControllerArgs::try_parse_from([
            "controller",
            "--key-renew-period=0",
            "--listen-addr",
            "127.0.0.1:9000",
            "--privatekey-labels",
            "a=b",
        ])
        .unwrap();
        let c = config(&a).unwrap();
        assert!(c.renew_period.is_zero());
        assert_eq!(c.listen_addr.to_string(), "127.0.0.1:9000");
        assert_eq!(c.listen_metrics_addr.to_string(), "0.0.0.0:8081");
        assert_eq!(c.key_gen.labels, vec![("a".to_owned(), "b".to_owned())]);
        let a = ControllerArgs::try_parse_from([
            "controller",
            "--key-namespace",
            "sys",
            "--additional-namespaces",
            "a, b,sys",
        ])
        .unwrap();
        assert_eq!(
            config(&a).unwrap().namespaces,
            Some(vec!["sys".to_owned(), "a".to_owned(), "b".to_owned()])
        );
        let a = ControllerArgs::try_parse_from([
            "controller",
            "--key-namespace",
            "sys",
            "--all-namespaces=false",
        ])
        .unwrap();
        assert_eq!(config(&a).unwrap().namespaces, Some(vec!["sys".to_owned()]));
        let a = ControllerArgs::try_parse_from(["controller"]).unwrap();
        assert_eq!(config(&a).unwrap().namespaces, None);
        let a =
            ControllerArgs::try_parse_from(["controller", "--key-order-priority", "x"]).unwrap();
        assert!(config(&a).unwrap_err().contains("--key-order-priority"));
    }

    #[test]
    fn coffer_key_source_flags() {
        let none = |_: &str| None;
        let parse = |extra: &[&str]| {
            let mut argv = vec!["controller", "--key-source", "coffer"];
            argv.extend_from_slice(extra);
            ControllerArgs::try_parse_from(argv).unwrap()
        };
        let a = parse(&[
            "--coffer-addr",
            "https://coffer:8200",
            "--coffer-token-file",
            "/var/run/token",
            "--coffer-key",
            "sealed-secrets",
            "--coffer-transit-mount",
            "/kv-transit/",
        ]);
        let c = coffer_config(&a, none).unwrap().unwrap();
        assert_eq!(
            (c.addr.as_str(), c.mount.as_str(), c.key.as_str()),
            ("https://coffer:8200", "kv-transit", "sealed-secrets")
        );
        assert!(
            matches!(c.auth, crate::coffer::Auth::TokenFile(ref p) if p.to_str() == Some("/var/run/token"))
        );
        assert_eq!(c.timeout, std::time::Duration::from_secs(30));
        let a = parse(&[
            "--coffer-key",
            "k",
            "--coffer-role-id-file",
            "/r",
            "--coffer-secret-id-file",
            "/s",
        ]);
        let env = |k: &str| (k == "COFFER_ADDR").then(|| "http://c:1".to_owned());
        let c = coffer_config(&a, env).unwrap().unwrap();
        assert_eq!(c.addr, "http://c:1");
        assert!(
            matches!(c.auth, crate::coffer::Auth::AppRole { ref mount, .. } if mount == "approle")
        );
        assert!(
            coffer_config(&a, none)
                .unwrap_err()
                .contains("--coffer-addr")
        );
        let a = parse(&["--coffer-addr", "http://c:1", "--coffer-key", "k"]);
        assert!(
            coffer_config(&a, none)
                .unwrap_err()
                .contains("--coffer-token-file")
        );
        let a = parse(&["--coffer-addr", "http://c:1", "--coffer-token-file", "/t"]);
        assert!(
            coffer_config(&a, none)
                .unwrap_err()
                .contains("--coffer-key")
        );
        let a = ControllerArgs::try_parse_from(["controller", "--key-source", "vault"]).unwrap();
        assert!(
            coffer_config(&a, none)
                .unwrap_err()
                .contains("--key-source")
        );
        let a = ControllerArgs::try_parse_from(["controller"]).unwrap();
        assert!(coffer_config(&a, none).unwrap().is_none());
    }
}
