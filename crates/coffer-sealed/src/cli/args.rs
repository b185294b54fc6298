//! kubeseal's flags (clap) and the `SEALED_SECRETS_*` environment mirror.

use std::ffi::OsString;

use clap::{ArgAction, Parser};

/// kubeseal-compatible command line.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "kubeseal",
    about = "Seal Kubernetes Secrets into SealedSecrets (kubeseal compatible, by coffer)",
    version = concat!("v", env!("CARGO_PKG_VERSION"), " (coffer)"),
    args_override_self = true,
    disable_version_flag = true
)]
pub struct Args {
    /// Certificate / public key file or URL (http://, https://, file://) to use for encryption.
    #[arg(long, default_value = "")]
    pub cert: String,
    /// Name of the sealed-secrets controller.
    #[arg(long, default_value = "sealed-secrets-controller")]
    pub controller_name: String,
    /// Namespace of the sealed-secrets controller.
    #[arg(long, default_value = "kube-system")]
    pub controller_namespace: String,
    /// Base URL of the controller's HTTP API (coffer extension; instead of the API-server proxy).
    #[arg(long, default_value = "")]
    pub controller_url: String,
    /// Write the certificate (public key) that would be used to seal and exit.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", action = ArgAction::Set)]
    pub fetch_cert: bool,
    /// Output format for the sealed secret: json or yaml.
    #[arg(short = 'o', long = "format", default_value = "json")]
    pub format: String,
    /// Secret (JSON/YAML) input file; default stdin.
    #[arg(short = 'f', long = "secret-file", default_value = "")]
    pub secret_file: String,
    /// SealedSecret output file; default stdout. A .yaml/.yml name forces YAML.
    #[arg(short = 'w', long = "sealed-secret-file", default_value = "")]
    pub sealed_secret_file: String,
    /// Scope: strict, namespace-wide or cluster-wide.
    #[arg(long, default_value = "strict")]
    pub scope: String,
    /// Encrypt one raw value (stdin or --from-file) and print its base64.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", action = ArgAction::Set)]
    pub raw: bool,
    /// Secret name (required with --raw in strict scope; else overrides the input's name).
    #[arg(long, default_value = "")]
    pub name: String,
    /// With --raw: [key=]path of the value to seal (exactly one).
    #[arg(long = "from-file", action = ArgAction::Append)]
    pub from_file: Vec<String>,
    /// Merge the sealed items into this existing SealedSecret file (rewritten in place).
    #[arg(long, default_value = "")]
    pub merge_into: String,
    /// Re-encrypt SealedSecrets with the controller's newest key.
    #[arg(long = "re-encrypt", visible_alias = "rotate", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", action = ArgAction::Set)]
    pub re_encrypt: bool,
    /// Ask the controller whether SealedSecrets decrypt.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", action = ArgAction::Set)]
    pub validate: bool,
    /// Unseal offline with --recovery-private-key (disaster recovery).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", action = ArgAction::Set)]
    pub recovery_unseal: bool,
    /// Private key files: PEM, key Secret (JSON/YAML) or a List of them; repeatable or comma separated.
    #[arg(long, value_delimiter = ',', action = ArgAction::Append)]
    pub recovery_private_key: Vec<String>,
    /// Allow sealing a Secret without data.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", action = ArgAction::Set)]
    pub allow_empty_data: bool,
    /// Path to the kubeconfig file (only its context namespace is used).
    #[arg(long, default_value = "")]
    pub kubeconfig: String,
    /// Namespace (also the default namespace of input Secrets).
    #[arg(short = 'n', long, default_value = "")]
    pub namespace: String,
    /// Kubeconfig context.
    #[arg(long, default_value = "")]
    pub context: String,
    /// Accepted for kubectl compatibility (no API-server connection is made).
    #[arg(long, default_value = "")]
    pub cluster: String,
    /// Accepted for kubectl compatibility.
    #[arg(long, default_value = "")]
    pub user: String,
    /// Accepted for kubectl compatibility.
    #[arg(short = 's', long, default_value = "")]
    pub server: String,
    /// Accepted for kubectl compatibility.
    #[arg(long, default_value = "")]
    pub token: String,
    /// Accepted for kubectl compatibility.
    #[arg(long = "as", default_value = "")]
    pub as_user: String,
    /// Accepted for kubectl compatibility.
    #[arg(long = "as-group", action = ArgAction::Append)]
    pub as_group: Vec<String>,
    /// Accepted for kubectl compatibility.
    #[arg(long, default_value = "")]
    pub certificate_authority: String,
    /// Accepted for kubectl compatibility.
    #[arg(long, default_value = "")]
    pub client_certificate: String,
    /// Accepted for kubectl compatibility.
    #[arg(long, default_value = "")]
    pub client_key: String,
    /// Accepted for kubectl compatibility.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", action = ArgAction::Set)]
    pub insecure_skip_tls_verify: bool,
    /// Accepted for kubectl compatibility.
    #[arg(long, default_value = "")]
    pub tls_server_name: String,
    /// Accepted for kubectl compatibility.
    #[arg(long, default_value = "0")]
    pub request_timeout: String,
    /// Log verbosity (accepted for compatibility).
    #[arg(short = 'v', long = "v", default_value = "0")]
    pub verbosity: String,
    /// Print the version and exit.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", action = ArgAction::Set)]
    pub version: bool,
}

/// Long flags mirrored from `SEALED_SECRETS_<UPPER_SNAKE>`.
const ENV_FLAGS: &[&str] = &[
    "cert",
    "controller-name",
    "controller-namespace",
    "controller-url",
    "fetch-cert",
    "format",
    "secret-file",
    "sealed-secret-file",
    "scope",
    "raw",
    "name",
    "from-file",
    "merge-into",
    "re-encrypt",
    "validate",
    "recovery-unseal",
    "recovery-private-key",
    "allow-empty-data",
    "kubeconfig",
    "namespace",
    "context",
];

/// Short forms, to see whether a flag was given on the command line.
fn short_of(flag: &str) -> Option<&'static str> {
    match flag {
        "format" => Some("-o"),
        "secret-file" => Some("-f"),
        "sealed-secret-file" => Some("-w"),
        "namespace" => Some("-n"),
        _ => None,
    }
}

/// Inserts `--flag=value` for every `SEALED_SECRETS_*` variable whose flag is not on the
/// command line (pflagenv semantics: the command line wins).
pub fn with_env(mut args: Vec<OsString>, env: &dyn Fn(&str) -> Option<String>) -> Vec<OsString> {
    let given = |flag: &str| {
        let long = format!("--{flag}");
        args.iter().skip(1).filter_map(|a| a.to_str()).any(|a| {
            a == long
                || a.starts_with(&format!("{long}="))
                || short_of(flag)
                    .is_some_and(|s| a == s || (a.starts_with(s) && !a.starts_with("--")))
                || (flag == "re-encrypt" && (a == "--rotate" || a.starts_with("--rotate=")))
        })
    };
    let mut extra = Vec::new();
    for flag in ENV_FLAGS {
        let var = format!(
            "SEALED_SECRETS_{}",
            flag.replace('-', "_").to_ascii_uppercase()
        );
        if let Some(v) = env(&var)
            && !given(flag)
        {
            extra.push(OsString::from(format!("--{flag}={v}")));
        }
    }
    if !extra.is_empty() {
        let rest = args.split_off(args.len().min(1));
        args.extend(extra);
        args.extend(rest);
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: &[(&str, &str)]) -> Args {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        Args::try_parse_from(with_env(args.iter().map(OsString::from).collect(), &lookup)).unwrap()
    }

    #[test]
    fn defaults() {
        let a = parse(&["kubeseal"], &[]);
        assert_eq!(
            (a.controller_name.as_str(), a.controller_namespace.as_str()),
            ("sealed-secrets-controller", "kube-system")
        );
        assert_eq!(
            (a.format.as_str(), a.scope.as_str(), a.raw),
            ("json", "strict", false)
        );
    }

    #[test]
    fn env_mirror_and_command_line_wins() {
        let a = parse(
            &["kubeseal", "-n", "cli"],
            &[
                ("SEALED_SECRETS_NAMESPACE", "env"),
                ("SEALED_SECRETS_CERT", "c.pem"),
                ("SEALED_SECRETS_RAW", "true"),
            ],
        );
        assert_eq!(
            (a.namespace.as_str(), a.cert.as_str(), a.raw),
            ("cli", "c.pem", true)
        );
        let a = parse(
            &["kubeseal", "--rotate"],
            &[("SEALED_SECRETS_RE_ENCRYPT", "false")],
        );
        assert!(a.re_encrypt);
        let a = parse(
            &[
                "kubeseal",
                "--recovery-private-key",
                "a,b",
                "--recovery-private-key=c",
            ],
            &[],
        );
        assert_eq!(a.recovery_private_key, vec!["a", "b", "c"]);
    }
}
