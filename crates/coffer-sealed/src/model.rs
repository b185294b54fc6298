//! The `v1/Secret` and `bitnami.com/v1alpha1` `SealedSecret` object model: tolerant parsing from
//! JSON/YAML values and output in kubeseal's field order (Go struct order for JSON; the YAML
//! writer sorts keys itself).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::error::FormatError;
use crate::hybrid::Scope;

/// API version of SealedSecret.
pub const API_VERSION: &str = "bitnami.com/v1alpha1";
/// Kind of SealedSecret.
pub const KIND: &str = "SealedSecret";

/// ObjectMeta field order of Kubernetes' Go struct.
const META_ORDER: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// Decodes base64 like Go's `StdEncoding` reader: padded standard alphabet, `\r`/`\n` skipped.
pub fn decode_b64(s: &str) -> Option<Vec<u8>> {
    if s.contains(['\r', '\n']) {
        let cleaned: String = s.chars().filter(|c| *c != '\r' && *c != '\n').collect();
        STANDARD.decode(cleaned).ok()
    } else {
        STANDARD.decode(s).ok()
    }
}

/// Encodes with the padded standard alphabet.
pub fn encode_b64(b: &[u8]) -> String {
    STANDARD.encode(b)
}

/// Typed read access to an ObjectMeta held as a JSON map.
pub trait MetaExt {
    /// A string field (`name`, `namespace`, `uid`, …), None when absent or empty.
    fn str_field(&self, key: &str) -> Option<&str>;
    /// One annotation.
    fn annotation(&self, key: &str) -> Option<&str>;
    /// One label.
    fn label(&self, key: &str) -> Option<&str>;
    /// `metadata.name` or "".
    fn name(&self) -> &str {
        self.str_field("name").unwrap_or("")
    }
    /// `metadata.namespace` or "".
    fn namespace(&self) -> &str {
        self.str_field("namespace").unwrap_or("")
    }
    /// Scope from the scope annotations.
    fn scope(&self) -> Scope {
        Scope::from_annotations(|k| self.annotation(k))
    }
}

impl MetaExt for Map<String, Value> {
    fn str_field(&self, key: &str) -> Option<&str> {
        self.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }
    fn annotation(&self, key: &str) -> Option<&str> {
        self.get("annotations")?.as_object()?.get(key)?.as_str()
    }
    fn label(&self, key: &str) -> Option<&str> {
        self.get("labels")?.as_object()?.get(key)?.as_str()
    }
}

/// Returns a mutable string map field (`labels`/`annotations`), creating it.
pub fn string_map_mut<'a>(
    meta: &'a mut Map<String, Value>,
    key: &str,
) -> &'a mut Map<String, Value> {
    let slot = meta
        .entry(key.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    match slot {
        Value::Object(m) => m,
        _ => unreachable!("just made an object"),
    }
}

/// Drops `labels`/`annotations` maps that became empty (Go's omitempty).
pub fn drop_empty_maps(meta: &mut Map<String, Value>) {
    for key in ["labels", "annotations"] {
        if meta
            .get(key)
            .and_then(Value::as_object)
            .is_some_and(Map::is_empty)
        {
            meta.remove(key);
        }
    }
}

fn sorted_map(m: &Map<String, Value>) -> Value {
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    Value::Object(
        keys.into_iter()
            .map(|k| (k.clone(), m[k].clone()))
            .collect(),
    )
}

/// ObjectMeta in Go field order; `creationTimestamp` is always present (null when unset), maps
/// sorted, unknown fields kept after the known ones.
pub fn ordered_meta(meta: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    for &key in META_ORDER {
        match meta.get(key) {
            Some(Value::Object(m)) if (key == "labels" || key == "annotations") && m.is_empty() => {
            }
            Some(Value::Object(m)) if key == "labels" || key == "annotations" => {
                out.insert(key.into(), sorted_map(m));
            }
            Some(Value::String(s)) if s.is_empty() => {}
            Some(v) => {
                out.insert(key.into(), v.clone());
            }
            None if key == "creationTimestamp" => {
                out.insert(key.into(), Value::Null);
            }
            None => {}
        }
    }
    let mut rest: Vec<(&String, &Value)> = meta
        .iter()
        .filter(|(k, _)| !META_ORDER.contains(&k.as_str()))
        .collect();
    rest.sort_by(|a, b| a.0.cmp(b.0));
    for (k, v) in rest {
        out.insert(k.clone(), v.clone());
    }
    Value::Object(out)
}

fn field_err(what: &str, field: &str, problem: &str) -> FormatError {
    FormatError::Field {
        what: what.into(),
        field: field.into(),
        problem: problem.into(),
    }
}

fn get_object(
    v: &Map<String, Value>,
    key: &str,
    what: &str,
) -> Result<Map<String, Value>, FormatError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(_) => Err(field_err(what, key, "must be an object")),
    }
}

fn get_string_map(
    v: &Map<String, Value>,
    key: &str,
    what: &str,
) -> Result<BTreeMap<String, String>, FormatError> {
    let mut out = BTreeMap::new();
    for (k, val) in get_object(v, key, what)? {
        match val {
            Value::String(s) => {
                out.insert(k, s);
            }
            Value::Null => {
                out.insert(k, String::new());
            }
            _ => return Err(field_err(what, &format!("{key}.{k}"), "must be a string")),
        }
    }
    Ok(out)
}

/// A `v1/Secret` with decoded values. `Debug` never shows values.
#[derive(Clone, Default, PartialEq)]
pub struct Secret {
    /// ObjectMeta as JSON.
    pub metadata: Map<String, Value>,
    /// `type`.
    pub type_: Option<String>,
    /// `immutable`.
    pub immutable: Option<bool>,
    /// `data`, decoded.
    pub data: BTreeMap<String, Zeroizing<Vec<u8>>>,
    /// `stringData`.
    pub string_data: BTreeMap<String, Zeroizing<String>>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secret")
            .field("name", &self.metadata.name())
            .field("namespace", &self.metadata.namespace())
            .field("data_keys", &self.data.keys().collect::<Vec<_>>())
            .field(
                "string_data_keys",
                &self.string_data.keys().collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Secret {
    /// Reads a Secret from a decoded document (the kind is not checked, as upstream).
    pub fn from_value(v: &Value) -> Result<Secret, FormatError> {
        let what = "secret";
        let obj = v
            .as_object()
            .ok_or_else(|| field_err(what, "(document)", "must be an object"))?;
        let metadata = get_object(obj, "metadata", what)?;
        let mut data = BTreeMap::new();
        for (k, s) in get_string_map(obj, "data", what)? {
            let bytes = decode_b64(&s).ok_or_else(|| FormatError::Base64 {
                what: what.into(),
                item: k.clone(),
            })?;
            data.insert(k, Zeroizing::new(bytes));
        }
        let string_data = get_string_map(obj, "stringData", what)?
            .into_iter()
            .map(|(k, s)| (k, Zeroizing::new(s)))
            .collect();
        Ok(Secret {
            metadata,
            type_: obj
                .get("type")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            immutable: obj.get("immutable").and_then(Value::as_bool),
            data,
            string_data,
        })
    }

    /// The Secret as kubectl/kubeseal print it (Go field order; `stringData` is not emitted).
    pub fn to_value(&self) -> Value {
        let mut out = Map::new();
        out.insert("kind".into(), "Secret".into());
        out.insert("apiVersion".into(), "v1".into());
        out.insert("metadata".into(), ordered_meta(&self.metadata));
        if let Some(b) = self.immutable {
            out.insert("immutable".into(), b.into());
        }
        if !self.data.is_empty() {
            let data = self
                .data
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(encode_b64(v))))
                .collect();
            out.insert("data".into(), Value::Object(data));
        }
        if let Some(t) = &self.type_ {
            out.insert("type".into(), t.clone().into());
        }
        Value::Object(out)
    }
}

/// `spec.template`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SecretTemplate {
    /// Metadata copied onto the produced Secret.
    pub metadata: Map<String, Value>,
    /// Secret type.
    pub type_: Option<String>,
    /// Secret immutability.
    pub immutable: Option<bool>,
    /// Go templates per output key.
    pub data: Option<BTreeMap<String, String>>,
}

/// A `bitnami.com/v1alpha1` SealedSecret.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SealedSecret {
    /// Top-level metadata (decides the scope at unseal time).
    pub metadata: Map<String, Value>,
    /// `spec.template`.
    pub template: SecretTemplate,
    /// Deprecated v1 blob (`spec.data`, base64).
    pub data: Option<String>,
    /// `spec.encryptedData`: item → base64 blob.
    pub encrypted_data: BTreeMap<String, String>,
    /// `status`, kept verbatim.
    pub status: Option<Value>,
}

impl SealedSecret {
    /// Reads a SealedSecret; apiVersion/kind are checked when `strict_kind`.
    pub fn from_value(v: &Value, strict_kind: bool) -> Result<SealedSecret, FormatError> {
        let what = "sealedsecret";
        let obj = v
            .as_object()
            .ok_or_else(|| field_err(what, "(document)", "must be an object"))?;
        if strict_kind {
            let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
            let api = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
            if kind != KIND || api != API_VERSION {
                return Err(field_err(
                    what,
                    "kind/apiVersion",
                    &format!("is {api:?}/{kind:?}, expected {API_VERSION}/{KIND}"),
                ));
            }
        }
        let metadata = get_object(obj, "metadata", what)?;
        let spec = get_object(obj, "spec", what)?;
        let template = get_object(&spec, "template", what)?;
        // Non-string encryptedData values are dropped silently, as upstream.
        let encrypted_data = get_object(&spec, "encryptedData", what)?
            .into_iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_owned())))
            .collect();
        let tdata = match template.get("data") {
            None | Some(Value::Null) => None,
            Some(_) => Some(get_string_map(
                &template,
                "data",
                "sealedsecret spec.template",
            )?),
        };
        Ok(SealedSecret {
            metadata,
            template: SecretTemplate {
                metadata: get_object(&template, "metadata", what)?,
                type_: template
                    .get("type")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
                immutable: template.get("immutable").and_then(Value::as_bool),
                data: tdata,
            },
            data: spec
                .get("data")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            encrypted_data,
            status: obj.get("status").filter(|s| !s.is_null()).cloned(),
        })
    }

    /// The object in kubeseal's JSON field order.
    pub fn to_value(&self) -> Value {
        let mut template = Map::new();
        template.insert("metadata".into(), ordered_meta(&self.template.metadata));
        if let Some(t) = &self.template.type_ {
            template.insert("type".into(), t.clone().into());
        }
        if let Some(b) = self.template.immutable {
            template.insert("immutable".into(), b.into());
        }
        if let Some(d) = self.template.data.as_ref().filter(|d| !d.is_empty()) {
            template.insert(
                "data".into(),
                d.iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            );
        }
        let mut spec = Map::new();
        spec.insert("template".into(), Value::Object(template));
        if let Some(d) = &self.data {
            spec.insert("data".into(), d.clone().into());
        }
        spec.insert(
            "encryptedData".into(),
            self.encrypted_data
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        );
        let mut out = Map::new();
        out.insert("kind".into(), KIND.into());
        out.insert("apiVersion".into(), API_VERSION.into());
        out.insert("metadata".into(), ordered_meta(&self.metadata));
        out.insert("spec".into(), Value::Object(spec));
        if let Some(s) = &self.status {
            out.insert("status".into(), s.clone());
        }
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_debug_hides_values() {
        let s = Secret::from_value(&json!({"metadata": {"name": "n"}, "data": {"k": "c2VjcmV0"}, "stringData": {"p": "hunter2"}}))
            .unwrap();
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("secret") || !dbg.contains("c2VjcmV0"));
        assert!(!dbg.contains("hunter2"));
        assert_eq!(&s.data["k"][..], b"secret");
    }

    #[test]
    fn bad_base64_names_the_item() {
        let e = Secret::from_value(&json!({"data": {"pw": "***"}})).unwrap_err();
        assert_eq!(e.to_string(), "secret: item \"pw\" is not valid base64");
    }

    #[test]
    fn sealed_secret_tolerates_non_string_items_and_orders_fields() {
        let v = json!({"apiVersion": API_VERSION, "kind": KIND, "metadata": {"namespace": "ns", "name": "n"},
            "spec": {"encryptedData": {"b": "QQ==", "a": "Qg==", "x": 5}, "template": {"type": "Opaque"}}});
        let ss = SealedSecret::from_value(&v, true).unwrap();
        assert_eq!(ss.encrypted_data.len(), 2);
        let out = serde_json::to_string(&ss.to_value()).unwrap();
        assert_eq!(
            out,
            r#"{"kind":"SealedSecret","apiVersion":"bitnami.com/v1alpha1","metadata":{"name":"n","namespace":"ns","creationTimestamp":null},"spec":{"template":{"metadata":{"creationTimestamp":null},"type":"Opaque"},"encryptedData":{"a":"Qg==","b":"QQ=="}}}"#
        );
        assert!(SealedSecret::from_value(&json!({"kind": "Secret"}), true).is_err());
    }

    #[test]
    fn go_base64_skips_newlines() {
        assert_eq!(decode_b64("QU\nJD\r\n").unwrap(), b"ABC");
        assert!(decode_b64("QUJD-_").is_none());
    }
}
