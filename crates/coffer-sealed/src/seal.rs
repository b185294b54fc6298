//! Sealing a Secret into a SealedSecret (spec §6.3), raw values (§6.4) and `--merge-into`.

use serde_json::{Map, Value};

use crate::error::SealError;
use crate::hybrid::{self, CLUSTER_WIDE_ANNOTATION, NAMESPACE_WIDE_ANNOTATION, Scope};
use crate::keys::SealingCert;
use crate::model::{
    MetaExt, SealedSecret, Secret, SecretTemplate, drop_empty_maps, encode_b64, string_map_mut,
};

/// Annotations that carry the plaintext and must never reach git.
pub const LAST_APPLIED_ANNOTATIONS: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    "kubecfg.ksonnet.io/last-applied-configuration",
];

/// Server-set ObjectMeta fields cleared from the template.
const SERVER_FIELDS: &[&str] = &[
    "uid",
    "resourceVersion",
    "selfLink",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "ownerReferences",
];

/// How to seal.
#[derive(Debug, Clone, Default)]
pub struct SealOptions {
    /// `--scope`; `None` or `Some(Strict)` keeps a scope annotation present on the input.
    pub scope: Option<Scope>,
    /// `--name` override.
    pub name: Option<String>,
    /// `-n` given explicitly (must agree with the input's namespace).
    pub namespace: Option<String>,
    /// Namespace used when neither the input nor `-n` has one (kubeconfig context).
    pub default_namespace: Option<String>,
    /// `--allow-empty-data`.
    pub allow_empty_data: bool,
}

/// Applies name/namespace/scope rules to the input; returns the resolved Secret metadata and scope.
fn resolve(secret: &Secret, opts: &SealOptions) -> Result<(Map<String, Value>, Scope), SealError> {
    let mut meta = secret.metadata.clone();
    if let Some(name) = opts.name.as_deref().filter(|n| !n.is_empty()) {
        meta.insert("name".into(), name.into());
    }
    let name = meta.name().to_owned();
    if name.is_empty() {
        return Err(SealError::MissingName);
    }
    let scope = match opts.scope {
        Some(s) if s != Scope::Strict => {
            let annos = string_map_mut(&mut meta, "annotations");
            annos.remove(CLUSTER_WIDE_ANNOTATION);
            annos.remove(NAMESPACE_WIDE_ANNOTATION);
            if let Some(a) = s.annotation() {
                annos.insert(a.into(), "true".into());
            }
            s
        }
        _ => meta.scope(),
    };
    let declared = meta.namespace().to_owned();
    if let Some(given) = opts.namespace.as_deref().filter(|n| !n.is_empty()) {
        if !declared.is_empty() && declared != given {
            return Err(SealError::NamespaceMismatch {
                declared,
                given: given.into(),
            });
        }
        if declared.is_empty() && scope != Scope::ClusterWide {
            meta.insert("namespace".into(), given.into());
        }
    } else if declared.is_empty() && scope != Scope::ClusterWide {
        match opts.default_namespace.as_deref().filter(|n| !n.is_empty()) {
            Some(ns) => {
                meta.insert("namespace".into(), ns.into());
            }
            None => return Err(SealError::MissingNamespace { name }),
        }
    }
    drop_empty_maps(&mut meta);
    Ok((meta, scope))
}

/// Template metadata: the input metadata without server fields and last-applied annotations.
fn template_meta(meta: &Map<String, Value>) -> Map<String, Value> {
    let mut t = meta.clone();
    for f in SERVER_FIELDS {
        t.remove(*f);
    }
    if let Some(Value::Object(annos)) = t.get_mut("annotations") {
        for a in LAST_APPLIED_ANNOTATIONS {
            annos.remove(*a);
        }
    }
    drop_empty_maps(&mut t);
    t
}

/// Seals one Secret for `cert` (the certificate expiry is checked by the caller).
pub fn seal_secret(
    secret: &Secret,
    cert: &SealingCert,
    opts: &SealOptions,
) -> Result<SealedSecret, SealError> {
    let (meta, scope) = resolve(secret, opts)?;
    let (name, namespace) = (meta.name().to_owned(), meta.namespace().to_owned());
    if secret.data.is_empty() && secret.string_data.is_empty() && !opts.allow_empty_data {
        return Err(SealError::EmptyData { name });
    }
    let label = hybrid::label(scope, &namespace, &name);
    let mut encrypted = std::collections::BTreeMap::new();
    for (k, v) in &secret.data {
        encrypted.insert(
            k.clone(),
            encode_b64(&hybrid::encrypt(cert.public(), v, &label)?),
        );
    }
    for (k, v) in &secret.string_data {
        encrypted.insert(
            k.clone(),
            encode_b64(&hybrid::encrypt(cert.public(), v.as_bytes(), &label)?),
        );
    }
    let mut top = Map::new();
    top.insert("name".into(), name.into());
    if !namespace.is_empty() {
        top.insert("namespace".into(), namespace.into());
    }
    if let Some(a) = scope.annotation() {
        let mut annos = Map::new();
        annos.insert(a.into(), "true".into());
        top.insert("annotations".into(), Value::Object(annos));
    }
    Ok(SealedSecret {
        metadata: top,
        template: SecretTemplate {
            metadata: template_meta(&meta),
            type_: secret.type_.clone(),
            immutable: secret.immutable,
            data: None,
        },
        data: None,
        encrypted_data: encrypted,
        status: None,
    })
}

/// `--raw`: seals one value and returns its base64.
pub fn seal_raw(
    value: &[u8],
    cert: &SealingCert,
    scope: Scope,
    namespace: &str,
    name: &str,
) -> Result<String, SealError> {
    Ok(encode_b64(&hybrid::encrypt(
        cert.public(),
        value,
        &hybrid::label(scope, namespace, name),
    )?))
}

/// `--merge-into`: seals `secret` under the target's name/namespace and merges the items,
/// template labels, annotations and template data into `target`.
///
/// Difference from kubeseal: when neither `--scope` (non-strict) nor the input names a scope,
/// the target's own scope is used; upstream seals such items strict, and they then fail to
/// decrypt inside a namespace-wide or cluster-wide target.
pub fn merge_into(
    target: &mut SealedSecret,
    secret: &Secret,
    cert: &SealingCert,
    opts: &SealOptions,
) -> Result<(), SealError> {
    let mut secret = secret.clone();
    let mut opts = opts.clone();
    if matches!(opts.scope, None | Some(Scope::Strict)) && secret.metadata.scope() == Scope::Strict
    {
        opts.scope = Some(target.metadata.scope());
    }
    secret
        .metadata
        .insert("name".into(), target.metadata.name().into());
    let ns = target.metadata.namespace().to_owned();
    if ns.is_empty() {
        secret.metadata.remove("namespace");
    } else {
        secret.metadata.insert("namespace".into(), ns.into());
    }
    let opts = SealOptions {
        name: None,
        namespace: None,
        allow_empty_data: true,
        ..opts
    };
    let sealed = seal_secret(&secret, cert, &opts)?;
    target.encrypted_data.extend(sealed.encrypted_data);
    for key in ["annotations", "labels"] {
        if let Some(Value::Object(new)) = sealed.template.metadata.get(key) {
            let dst = string_map_mut(&mut target.template.metadata, key);
            for (k, v) in new {
                dst.insert(k.clone(), v.clone());
            }
        }
    }
    if let Some(data) = sealed.template.data {
        target
            .template
            .data
            .get_or_insert_with(Default::default)
            .extend(data);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secret(v: Value) -> Secret {
        Secret::from_value(&v).unwrap()
    }

    #[test]
    fn name_namespace_and_scope_rules() {
        let s = secret(json!({"metadata": {"name": "a"}, "data": {"k": "dg=="}}));
        assert_eq!(
            resolve(&s, &SealOptions::default()).unwrap_err(),
            SealError::MissingNamespace { name: "a".into() }
        );
        let o = SealOptions {
            default_namespace: Some("ctx".into()),
            ..Default::default()
        };
        assert_eq!(resolve(&s, &o).unwrap().0.namespace(), "ctx");
        let o = SealOptions {
            scope: Some(Scope::ClusterWide),
            ..Default::default()
        };
        let (m, sc) = resolve(&s, &o).unwrap();
        assert_eq!((m.namespace(), sc), ("", Scope::ClusterWide));
        let s2 = secret(json!({"metadata": {"name": "a", "namespace": "x"}}));
        let o = SealOptions {
            namespace: Some("y".into()),
            ..Default::default()
        };
        assert!(matches!(
            resolve(&s2, &o),
            Err(SealError::NamespaceMismatch { .. })
        ));
        // --scope strict does not override an annotation on the input.
        let s3 = secret(json!({"metadata": {"name": "a", "namespace": "x",
            "annotations": {NAMESPACE_WIDE_ANNOTATION: "true"}}}));
        let o = SealOptions {
            scope: Some(Scope::Strict),
            ..Default::default()
        };
        assert_eq!(resolve(&s3, &o).unwrap().1, Scope::NamespaceWide);
        let o = SealOptions {
            scope: Some(Scope::ClusterWide),
            ..Default::default()
        };
        let (m, sc) = resolve(&s3, &o).unwrap();
        assert_eq!(sc, Scope::ClusterWide);
        assert!(m.annotation(NAMESPACE_WIDE_ANNOTATION).is_none());
        assert!(resolve(&secret(json!({"metadata": {}})), &SealOptions::default()).is_err());
    }

    #[test]
    fn merge_into_follows_the_target_scope() {
        let key = crate::keys::PrivateKey::generate(2048).unwrap();
        let cert = key
            .self_signed_cert("", time::OffsetDateTime::now_utc(), time::Duration::days(1))
            .unwrap();
        let base =
            secret(json!({"metadata": {"name": "t", "namespace": "ns"}, "stringData": {"a": "1"}}));
        let cw = SealOptions {
            scope: Some(Scope::ClusterWide),
            ..Default::default()
        };
        let mut target = seal_secret(&base, &cert, &cw).unwrap();
        let extra = secret(json!({"metadata": {"name": "x"}, "stringData": {"b": "2"}}));
        merge_into(&mut target, &extra, &cert, &SealOptions::default()).unwrap();
        let ring = crate::keyring::KeyRing::from_keys([key]);
        let s = crate::unseal::unseal(&target, &ring, Default::default()).unwrap();
        assert_eq!((&s.data["a"][..], &s.data["b"][..]), (&b"1"[..], &b"2"[..]));
    }

    #[test]
    fn template_strips_server_fields_and_last_applied() {
        let m = json!({"name": "a", "uid": "u", "resourceVersion": "1", "creationTimestamp": "2020-01-01T00:00:00Z",
            "ownerReferences": [{}], "managedFields": [{}],
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{secret}", "keep": "1"}});
        let t = template_meta(m.as_object().unwrap());
        assert_eq!(
            Value::Object(t),
            json!({"name": "a", "managedFields": [{}], "annotations": {"keep": "1"}})
        );
    }
}
