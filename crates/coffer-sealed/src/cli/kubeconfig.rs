//! Just enough kubeconfig reading to find the context's default namespace (spec §6.3).

use std::path::PathBuf;

use serde_json::Value;

use crate::codec;

/// Namespace of the selected context: `Some("default")` when the context has none, `None` when
/// there is no kubeconfig at all (then an input without namespace is an error).
pub fn context_namespace(explicit: &str, context: &str, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let paths: Vec<PathBuf> = if !explicit.is_empty() {
        vec![PathBuf::from(explicit)]
    } else if let Some(list) = env("KUBECONFIG").filter(|s| !s.is_empty()) {
        std::env::split_paths(&list).collect()
    } else {
        vec![PathBuf::from(env("HOME")?).join(".kube/config")]
    };
    let mut found = false;
    let mut current = (!context.is_empty()).then(|| context.to_owned());
    let mut contexts: Vec<Value> = Vec::new();
    for p in paths {
        let Ok(bytes) = std::fs::read(&p) else { continue };
        let Ok(docs) = codec::parse_documents(&bytes, "kubeconfig") else { continue };
        let Some(doc) = docs.into_iter().next() else { continue };
        found = true;
        if current.is_none() {
            current = doc.get("current-context").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
        }
        if let Some(Value::Array(c)) = doc.get("contexts") {
            contexts.extend(c.iter().cloned());
        }
    }
    if !found {
        return None;
    }
    let ns = current.and_then(|cur| {
        contexts
            .iter()
            .find(|c| c.get("name").and_then(Value::as_str) == Some(cur.as_str()))
            .and_then(|c| c.get("context")?.get("namespace")?.as_str().map(str::to_owned))
    });
    Some(ns.filter(|s| !s.is_empty()).unwrap_or_else(|| "default".into()))
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
        assert_eq!(context_namespace(path, "", &none).as_deref(), Some("team-a"));
        assert_eq!(context_namespace(path, "b", &none).as_deref(), Some("default"));
        assert_eq!(context_namespace("", "", &none), None);
        assert_eq!(context_namespace(dir.path().join("missing").to_str().unwrap(), "", &none), None);
    }
}
