//! Just enough kubeconfig reading for kubeseal: the context's default namespace (spec §6.3)
//! and the API server address and credentials used to reach the controller through the
//! service proxy (token, client certificate, CA; exec and auth-provider plugins are not run).

use std::path::PathBuf;

use serde_json::Value;

use super::args::Args;
use crate::codec;
use crate::fetch::HttpOptions;
use crate::model::decode_b64;

/// How to reach the API server.
#[derive(Debug, Clone)]
pub struct Access {
    /// `https://host:port` (no trailing slash).
    pub server: String,
    /// TLS and credentials.
    pub options: HttpOptions,
}

/// Reads and merges the kubeconfig files (first file wins for `current-context`, lists
/// concatenated). `None` when there is no kubeconfig at all.
fn load(explicit: &str, env: &dyn Fn(&str) -> Option<String>) -> Option<Value> {
    let paths: Vec<PathBuf> = if !explicit.is_empty() {
        vec![PathBuf::from(explicit)]
    } else if let Some(list) = env("KUBECONFIG").filter(|s| !s.is_empty()) {
        std::env::split_paths(&list).collect()
    } else {
        vec![PathBuf::from(env("HOME")?).join(".kube/config")]
    };
    let mut merged: Option<serde_json::Map<String, Value>> = None;
    for p in paths {
        let Ok(bytes) = std::fs::read(&p) else {
            continue;
        };
        let Ok(docs) = codec::parse_documents(&bytes, "kubeconfig") else {
            continue;
        };
        let Some(Value::Object(doc)) = docs.into_iter().next() else {
            continue;
        };
        let m = merged.get_or_insert_with(Default::default);
        for (k, v) in doc {
            match (m.get_mut(&k), v) {
                (Some(Value::Array(dst)), Value::Array(src)) => dst.extend(src),
                (Some(Value::String(s)), v) if s.is_empty() => {
                    m.insert(k, v);
                }
                (None, v) => {
                    m.insert(k, v);
                }
                _ => {}
            }
        }
    }
    merged.map(Value::Object)
}

fn named<'a>(cfg: &'a Value, list: &str, name: &str, inner: &str) -> Option<&'a Value> {
    cfg.get(list)?
        .as_array()?
        .iter()
        .find(|e| e.get("name").and_then(Value::as_str) == Some(name))?
        .get(inner)
}

fn data_or_file(
    obj: Option<&Value>,
    data_key: &str,
    file_key: &str,
    flag_file: &str,
) -> Result<Option<Vec<u8>>, String> {
    if !flag_file.is_empty() {
        return std::fs::read(flag_file)
            .map(Some)
            .map_err(|e| format!("cannot read {flag_file}: {e}"));
    }
    let Some(obj) = obj else { return Ok(None) };
    if let Some(d) = obj.get(data_key).and_then(Value::as_str) {
        return decode_b64(d)
            .map(Some)
            .ok_or_else(|| format!("kubeconfig {data_key} is not base64"));
    }
    if let Some(f) = obj.get(file_key).and_then(Value::as_str) {
        return std::fs::read(f)
            .map(Some)
            .map_err(|e| format!("cannot read {f}: {e}"));
    }
    Ok(None)
}

/// The API server to use, from the kubeconfig and the kubectl override flags.
pub fn cluster_access(
    args: &Args,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Access>, String> {
    let cfg = load(&args.kubeconfig, env).unwrap_or(Value::Null);
    let context_name = if args.context.is_empty() {
        cfg.get("current-context")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    } else {
        args.context.clone()
    };
    let ctx = named(&cfg, "contexts", &context_name, "context");
    let cluster_name = if args.cluster.is_empty() {
        ctx.and_then(|c| c.get("cluster")?.as_str()).unwrap_or("")
    } else {
        &args.cluster
    };
    let user_name = if args.user.is_empty() {
        ctx.and_then(|c| c.get("user")?.as_str()).unwrap_or("")
    } else {
        &args.user
    };
    let cluster = named(&cfg, "clusters", cluster_name, "cluster");
    let user = named(&cfg, "users", user_name, "user");
    let server = if args.server.is_empty() {
        match cluster.and_then(|c| c.get("server")?.as_str()) {
            Some(s) => s.to_owned(),
            None => return Ok(None),
        }
    } else {
        args.server.clone()
    };
    if user.is_some_and(|u| u.get("exec").is_some() || u.get("auth-provider").is_some())
        && args.token.is_empty()
    {
        return Err(format!(
            "kubeconfig user {user_name:?} uses an exec/auth-provider plugin, which coffer does not run; pass --token or --controller-url"
        ));
    }
    let token = if !args.token.is_empty() {
        Some(args.token.clone())
    } else if let Some(t) = user.and_then(|u| u.get("token")?.as_str()) {
        Some(t.to_owned())
    } else if let Some(f) = user.and_then(|u| u.get("tokenFile")?.as_str()) {
        Some(
            std::fs::read_to_string(f)
                .map_err(|e| format!("cannot read {f}: {e}"))?
                .trim()
                .to_owned(),
        )
    } else {
        None
    };
    let cert = data_or_file(
        user,
        "client-certificate-data",
        "client-certificate",
        &args.client_certificate,
    )?;
    let key = data_or_file(user, "client-key-data", "client-key", &args.client_key)?;
    let options = HttpOptions {
        ca_pem: data_or_file(
            cluster,
            "certificate-authority-data",
            "certificate-authority",
            &args.certificate_authority,
        )?,
        insecure: args.insecure_skip_tls_verify
            || cluster
                .is_some_and(|c| c.get("insecure-skip-tls-verify") == Some(&Value::Bool(true))),
        client_cert: cert.zip(key),
        bearer: token,
    };
    Ok(Some(Access {
        server: server.trim_end_matches('/').to_owned(),
        options,
    }))
}

/// Namespace of the selected context: `Some("default")` when the context has none, `None` when
/// there is no kubeconfig at all (then an input without namespace is an error).
pub fn context_namespace(
    explicit: &str,
    context: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<String> {
    let cfg = load(explicit, env)?;
    let current = if context.is_empty() {
        cfg.get("current-context")
            .and_then(Value::as_str)
            .unwrap_or("")
    } else {
        context
    };
    let ns = named(&cfg, "contexts", current, "context")
        .and_then(|c| c.get("namespace")?.as_str())
        .filter(|s| !s.is_empty());
    Some(ns.unwrap_or("default").to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_context_namespace() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config");
        std::fs::write(
            &p,
            "apiVersion: v1\ncurrent-context: a\ncontexts:\n- name: a\n  context: {namespace: team-a}\n- name: b\n  context: {}\n",
        )
        .unwrap();
        let none = |_: &str| None;
        let path = p.to_str().unwrap();
        assert_eq!(
            context_namespace(path, "", &none).as_deref(),
            Some("team-a")
        );
        assert_eq!(
            context_namespace(path, "b", &none).as_deref(),
            Some("default")
        );
        assert_eq!(context_namespace("", "", &none), None);
        assert_eq!(
            context_namespace(dir.path().join("missing").to_str().unwrap(), "", &none),
            None
        );
    }
}
