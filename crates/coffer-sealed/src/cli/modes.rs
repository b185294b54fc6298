//! The kubeseal modes, checked in upstream's order (spec §6.1): version, recovery unseal,
//! validate, re-encrypt, fetch cert, merge, raw, seal.

use std::io::{Read, Write};
use std::path::Path;

use serde_json::Value;
use thiserror::Error;

use super::args::Args;
use super::kubeconfig;
use crate::codec::{self, OutputFormat};
use crate::error::{FormatError, KeyError, SealError, UnsealError};
use crate::fetch::{self, FetchError, HttpOptions};
use crate::hybrid::Scope;
use crate::keyring::KeyRing;
use crate::keys::{PrivateKey, SealingCert};
use crate::model::{MetaExt, SealedSecret, Secret, decode_b64};
use crate::seal::{self, SealOptions};
use crate::unseal::{self, UnsealOptions};

/// Everything that can stop the CLI; printed as `error: <message>`.
#[derive(Debug, Error)]
pub enum CliError {
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error(transparent)]
    Unseal(#[from] UnsealError),
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("{0}")]
    Usage(String),
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("unable to decrypt sealed secret: {0}")]
    Invalid(String),
}

type Result<T> = std::result::Result<T, CliError>;

fn usage(s: impl Into<String>) -> CliError {
    CliError::Usage(s.into())
}

fn read_path(path: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| CliError::Io {
        what: "read",
        path: path.into(),
        source,
    })
}

/// Input bytes: `-f FILE` or stdin.
fn read_input(args: &Args, stdin: &mut dyn Read) -> Result<Vec<u8>> {
    if args.secret_file.is_empty() {
        let mut buf = Vec::new();
        stdin.read_to_end(&mut buf).map_err(|source| CliError::Io {
            what: "read",
            path: "stdin".into(),
            source,
        })?;
        Ok(buf)
    } else {
        read_path(&args.secret_file)
    }
}

/// Writes `bytes` to `path` atomically (temp file in the same directory, then rename).
fn write_atomic(path: &str, bytes: &[u8]) -> Result<()> {
    let p = Path::new(path);
    let dir = p
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let io = |source| CliError::Io {
        what: "write",
        path: path.into(),
        source,
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    tmp.persist(p).map_err(|e| io(e.error))?;
    Ok(())
}

fn output_format(args: &Args) -> Result<OutputFormat> {
    let w = args.sealed_secret_file.to_ascii_lowercase();
    if w.ends_with(".yaml") || w.ends_with(".yml") {
        return Ok(OutputFormat::Yaml);
    }
    OutputFormat::parse(&args.format).ok_or_else(|| {
        usage(format!(
            "unsupported output format: {:?} (use json or yaml)",
            args.format
        ))
    })
}

fn scope_arg(args: &Args) -> Result<Scope> {
    Scope::parse(&args.scope).ok_or_else(|| {
        usage(format!(
            "invalid --scope {:?}: use strict, namespace-wide or cluster-wide",
            args.scope
        ))
    })
}

/// Emits the output: `-w FILE` (atomic) or stdout.
fn emit(args: &Args, stdout: &mut dyn Write, bytes: &[u8]) -> Result<()> {
    if args.sealed_secret_file.is_empty() {
        stdout.write_all(bytes).map_err(|source| CliError::Io {
            what: "write",
            path: "stdout".into(),
            source,
        })
    } else {
        write_atomic(&args.sealed_secret_file, bytes)
    }
}

/// Where the controller's HTTP API is, and how to talk to it.
struct Endpoint {
    base: String,
    options: HttpOptions,
}

impl Endpoint {
    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<(&str, &[u8])>,
    ) -> Result<fetch::Response> {
        Ok(fetch::request_with(
            method,
            &format!("{}{path}", self.base),
            body,
            &self.options,
        )?)
    }
}

/// The controller API: `--controller-url`, else the base of an `…/v1/cert.pem` URL, else the
/// API server's service proxy for `--controller-namespace`/`--controller-name` (kubeconfig).
fn controller(args: &Args, env: &dyn Fn(&str) -> Option<String>) -> Result<Endpoint> {
    if !args.controller_url.is_empty() {
        return Ok(Endpoint {
            base: args.controller_url.trim_end_matches('/').to_owned(),
            options: HttpOptions::default(),
        });
    }
    if fetch::is_http_url(&args.cert)
        && let Some(base) = args.cert.strip_suffix("/v1/cert.pem")
    {
        return Ok(Endpoint {
            base: base.to_owned(),
            options: HttpOptions::default(),
        });
    }
    let (ns, name) = (&args.controller_namespace, &args.controller_name);
    let Some(access) = kubeconfig::cluster_access(args, env).map_err(usage)? else {
        return Err(usage(format!(
            "cannot reach controller {ns}/{name}: no kubeconfig found; pass --cert FILE|URL, --controller-url http://HOST:PORT or --kubeconfig"
        )));
    };
    let svc_url = format!("{}/api/v1/namespaces/{ns}/services/{name}", access.server);
    let r = fetch::request_with("GET", &svc_url, None, &access.options)?;
    if r.status != 200 {
        let body: String = String::from_utf8_lossy(&r.body)
            .trim()
            .chars()
            .take(200)
            .collect();
        return Err(usage(format!(
            "cannot get service {ns}/{name} (http {}): {body}; check --controller-namespace/--controller-name (the Helm chart's default service is \"sealed-secrets\")",
            r.status
        )));
    }
    let svc: Value = serde_json::from_slice(&r.body)
        .map_err(|e| usage(format!("service {ns}/{name}: invalid json: {e}")))?;
    let port = svc
        .pointer("/spec/ports/0/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let base = format!(
        "{}/api/v1/namespaces/{ns}/services/http:{name}:{port}/proxy",
        access.server
    );
    Ok(Endpoint {
        base,
        options: access.options,
    })
}

fn cert_bytes(args: &Args, env: &dyn Fn(&str) -> Option<String>) -> Result<Vec<u8>> {
    if !args.cert.is_empty() {
        return Ok(fetch::read_source(&args.cert)?);
    }
    let ep = controller(args, env)?;
    let r = ep.call("GET", "/v1/cert.pem", None)?;
    if r.status != 200 {
        let body = String::from_utf8_lossy(&r.body)
            .trim()
            .chars()
            .take(200)
            .collect();
        return Err(FetchError::Status {
            url: format!("{}/v1/cert.pem", ep.base),
            status: r.status,
            body,
        }
        .into());
    }
    Ok(r.body)
}

fn sealing_cert(args: &Args, env: &dyn Fn(&str) -> Option<String>) -> Result<SealingCert> {
    let cert = SealingCert::from_pem(&cert_bytes(args, env)?)?;
    cert.check_not_expired(time::OffsetDateTime::now_utc())?;
    Ok(cert)
}

/// Runs the selected mode.
pub fn dispatch(
    args: &Args,
    env: &dyn Fn(&str) -> Option<String>,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
) -> Result<()> {
    let out_io = |source| CliError::Io {
        what: "write",
        path: "stdout".into(),
        source,
    };
    if args.version {
        return writeln!(
            stdout,
            "kubeseal version: v{} (coffer)",
            env!("CARGO_PKG_VERSION")
        )
        .map_err(out_io);
    }
    if !args.from_file.is_empty() && !args.raw {
        return Err(usage("--from-file requires --raw"));
    }
    if args.recovery_unseal {
        return recovery_unseal(args, stdin, stdout);
    }
    if args.validate {
        return validate(args, env, stdin);
    }
    if args.re_encrypt {
        return re_encrypt(args, env, stdin, stdout);
    }
    if args.fetch_cert {
        let pem = cert_bytes(args, env)?;
        return stdout.write_all(&pem).map_err(out_io);
    }
    let default_ns = || -> Option<String> {
        if !args.namespace.is_empty() {
            return Some(args.namespace.clone());
        }
        kubeconfig::context_namespace(&args.kubeconfig, &args.context, env)
    };
    if !args.merge_into.is_empty() {
        return merge(args, env, stdin, default_ns());
    }
    if args.raw {
        return raw(args, env, stdin, stdout, default_ns());
    }
    seal_stream(args, env, stdin, stdout, default_ns())
}

fn seal_options(args: &Args, default_ns: Option<String>) -> Result<SealOptions> {
    Ok(SealOptions {
        scope: Some(scope_arg(args)?),
        name: (!args.name.is_empty()).then(|| args.name.clone()),
        namespace: (!args.namespace.is_empty()).then(|| args.namespace.clone()),
        default_namespace: default_ns,
        allow_empty_data: args.allow_empty_data,
    })
}

fn parse_secrets(bytes: &[u8]) -> Result<Vec<Secret>> {
    let docs = codec::parse_documents(bytes, "input secret")?;
    if docs.is_empty() {
        return Err(FormatError::NoSecrets.into());
    }
    Ok(docs
        .iter()
        .map(Secret::from_value)
        .collect::<std::result::Result<_, _>>()?)
}

fn seal_stream(
    args: &Args,
    env: &dyn Fn(&str) -> Option<String>,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    default_ns: Option<String>,
) -> Result<()> {
    let format = output_format(args)?;
    let opts = seal_options(args, default_ns)?;
    let secrets = parse_secrets(&read_input(args, stdin)?)?;
    let cert = sealing_cert(args, env)?;
    let mut out = String::new();
    for s in &secrets {
        out.push_str(&codec::render(
            &seal::seal_secret(s, &cert, &opts)?.to_value(),
            format,
        ));
    }
    emit(args, stdout, out.as_bytes())
}

fn raw(
    args: &Args,
    env: &dyn Fn(&str) -> Option<String>,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    default_ns: Option<String>,
) -> Result<()> {
    let scope = scope_arg(args)?;
    let namespace = match scope {
        Scope::ClusterWide => String::new(),
        _ => default_ns.ok_or_else(|| {
            usage(
                "must provide the --namespace flag with --raw and --scope strict or namespace-wide",
            )
        })?,
    };
    if scope == Scope::Strict && args.name.is_empty() {
        return Err(usage(
            "must provide the --name flag with --raw and --scope strict",
        ));
    }
    let value = match args.from_file.as_slice() {
        [] => {
            let mut buf = Vec::new();
            stdin.read_to_end(&mut buf).map_err(|source| CliError::Io {
                what: "read",
                path: "stdin".into(),
                source,
            })?;
            buf
        }
        [one] => read_path(one.split_once('=').map_or(one.as_str(), |(_, p)| p))?,
        _ => return Err(usage("must provide exactly one --from-file with --raw")),
    };
    let cert = sealing_cert(args, env)?;
    let b64 = seal::seal_raw(&value, &cert, scope, &namespace, &args.name)?;
    emit(args, stdout, b64.as_bytes())
}

fn merge(
    args: &Args,
    env: &dyn Fn(&str) -> Option<String>,
    stdin: &mut dyn Read,
    default_ns: Option<String>,
) -> Result<()> {
    let format = output_format(args)?;
    let target_bytes = read_path(&args.merge_into)?;
    let docs = codec::parse_documents(&target_bytes, &args.merge_into)?;
    let first = docs
        .first()
        .ok_or_else(|| usage(format!("{} holds no sealedsecret", args.merge_into)))?;
    let mut target = SealedSecret::from_value(first, false)?;
    let opts = seal_options(args, default_ns)?;
    let secrets = parse_secrets(&read_input(args, stdin)?)?;
    let cert = sealing_cert(args, env)?;
    for s in &secrets {
        seal::merge_into(&mut target, s, &cert, &opts)?;
    }
    write_atomic(
        &args.merge_into,
        codec::render(&target.to_value(), format).as_bytes(),
    )
}

fn parse_sealed(bytes: &[u8]) -> Result<Vec<SealedSecret>> {
    let docs = codec::parse_documents(bytes, "input sealedsecret")?;
    if docs.is_empty() {
        return Err(usage("no sealedsecret found in the input"));
    }
    Ok(docs
        .iter()
        .map(|d| SealedSecret::from_value(d, false))
        .collect::<std::result::Result<_, _>>()?)
}

/// Loads `--recovery-private-key` files: PEM keys, key Secrets, Lists or streams of them.
fn recovery_keys(paths: &[String]) -> Result<KeyRing> {
    let mut ring = KeyRing::new();
    let mut keys = Vec::new();
    for path in paths.iter().filter(|p| !p.is_empty()) {
        let bytes = read_path(path)?;
        if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
            keys.push(PrivateKey::from_pem(&bytes, path)?);
            continue;
        }
        for item in codec::flatten_lists(codec::parse_documents(&bytes, path)?) {
            let tls_key = item
                .get("data")
                .and_then(|d| d.get("tls.key"))
                .and_then(Value::as_str)
                .ok_or_else(|| FormatError::Field {
                    what: path.clone(),
                    field: "data.tls.key".into(),
                    problem: "is missing".into(),
                })?;
            let pem = decode_b64(tls_key).ok_or_else(|| FormatError::Base64 {
                what: path.clone(),
                item: "tls.key".into(),
            })?;
            keys.push(PrivateKey::from_pem(&pem, path)?);
        }
    }
    if keys.is_empty() {
        return Err(usage(
            "--recovery-unseal needs at least one --recovery-private-key",
        ));
    }
    for k in keys {
        ring.add(crate::keyring::RingKey {
            key: k,
            cert: None,
            order_time: time::OffsetDateTime::UNIX_EPOCH,
        });
    }
    Ok(ring)
}

fn recovery_unseal(args: &Args, stdin: &mut dyn Read, stdout: &mut dyn Write) -> Result<()> {
    let format = output_format(args)?;
    let ring = recovery_keys(&args.recovery_private_key)?;
    let sealed = parse_sealed(&read_input(args, stdin)?)?;
    let mut out = String::new();
    for ss in &sealed {
        let secret = unseal::unseal(
            ss,
            &ring,
            UnsealOptions {
                accept_v1_data: false,
            },
        )?;
        out.push_str(&codec::render(&secret.to_value(), format));
    }
    emit(args, stdout, out.as_bytes())
}

fn validate(args: &Args, env: &dyn Fn(&str) -> Option<String>, stdin: &mut dyn Read) -> Result<()> {
    let sealed = parse_sealed(&read_input(args, stdin)?)?;
    let ep = controller(args, env)?;
    for ss in sealed {
        let body = crate::emit::to_go_json(&ss.to_value());
        let r = ep.call(
            "POST",
            "/v1/verify",
            Some(("application/json", body.as_bytes())),
        )?;
        match r.status {
            200 => {}
            409 => return Err(CliError::Invalid(ss.metadata.name().to_owned())),
            status => {
                let body = String::from_utf8_lossy(&r.body)
                    .trim()
                    .chars()
                    .take(200)
                    .collect();
                return Err(FetchError::Status {
                    url: format!("{}/v1/verify", ep.base),
                    status,
                    body,
                }
                .into());
            }
        }
    }
    Ok(())
}

fn re_encrypt(
    args: &Args,
    env: &dyn Fn(&str) -> Option<String>,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
) -> Result<()> {
    let format = output_format(args)?;
    let sealed = parse_sealed(&read_input(args, stdin)?)?;
    let ep = controller(args, env)?;
    let mut out = String::new();
    for ss in sealed {
        let body = crate::emit::to_go_json(&ss.to_value());
        let r = ep.call(
            "POST",
            "/v1/rotate",
            Some(("application/json", body.as_bytes())),
        )?;
        if r.status != 200 {
            let body = String::from_utf8_lossy(&r.body)
                .trim()
                .chars()
                .take(200)
                .collect();
            return Err(FetchError::Status {
                url: format!("{}/v1/rotate", ep.base),
                status: r.status,
                body,
            }
            .into());
        }
        let docs = codec::parse_documents(&r.body, "controller answer")?;
        let first = docs
            .first()
            .ok_or_else(|| usage("controller returned an empty answer"))?;
        let mut fresh = SealedSecret::from_value(first, false)?;
        for f in ["creationTimestamp", "deletionTimestamp", "generation"] {
            fresh.metadata.remove(f);
        }
        out.push_str(&codec::render(&fresh.to_value(), format));
    }
    if !args.secret_file.is_empty() && args.sealed_secret_file.is_empty() {
        return write_atomic(&args.secret_file, out.as_bytes());
    }
    emit(args, stdout, out.as_bytes())
}
