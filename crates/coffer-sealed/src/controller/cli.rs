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
}
