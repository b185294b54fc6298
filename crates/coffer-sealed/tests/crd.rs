//! The shipped CRD declares exactly upstream's group, version, kind and status subresource, and
//! its schema accepts the vectors' SealedSecrets (required fields present, types match).

mod common;

use coffer_sealed::codec;
use serde_json::Value;

fn crd() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/sealedsecrets.bitnami.com.yaml"
    );
    codec::parse_documents(&std::fs::read(path).unwrap(), "crd")
        .unwrap()
        .remove(0)
}

#[test]
fn crd_identity_matches_upstream() {
    let c = crd();
    assert_eq!(c["metadata"]["name"], "sealedsecrets.bitnami.com");
    assert_eq!(c["spec"]["group"], "bitnami.com");
    assert_eq!(c["spec"]["scope"], "Namespaced");
    assert_eq!(
        c["spec"]["names"],
        serde_json::json!({"kind": "SealedSecret", "listKind": "SealedSecretList", "plural": "sealedsecrets", "singular": "sealedsecret"})
    );
    let versions = c["spec"]["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 1);
    let v = &versions[0];
    assert_eq!(
        (
            v["name"].as_str(),
            v["served"].as_bool(),
            v["storage"].as_bool()
        ),
        (Some("v1alpha1"), Some(true), Some(true))
    );
    assert_eq!(v["subresources"]["status"], serde_json::json!({}));
    let cols: Vec<&str> = v["additionalPrinterColumns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(cols, ["Status", "Synced", "Age"]);
}

/// Minimal structural check of a value against the schema subset used by the CRD.
fn check(schema: &Value, v: &Value, path: &str) -> Result<(), String> {
    if v.is_null() {
        return if schema["nullable"] == true {
            Ok(())
        } else {
            Err(format!("{path}: null not allowed"))
        };
    }
    let ok = match schema["type"].as_str() {
        Some("object") => v.is_object(),
        Some("string") => v.is_string(),
        Some("boolean") => v.is_boolean(),
        Some("integer") => v.is_i64(),
        Some("array") => v.is_array(),
        _ => true,
    };
    if !ok {
        return Err(format!("{path}: expected {}", schema["type"]));
    }
    if let Some(req) = schema["required"].as_array() {
        for r in req {
            if v.get(r.as_str().unwrap()).is_none() {
                return Err(format!("{path}: missing {r}"));
            }
        }
    }
    if let (Some(props), Some(obj)) = (schema["properties"].as_object(), v.as_object()) {
        for (k, val) in obj {
            match props.get(k) {
                Some(s) => check(s, val, &format!("{path}.{k}"))?,
                None if schema["x-kubernetes-preserve-unknown-fields"] == true
                    || schema.get("additionalProperties").is_some() => {}
                None => return Err(format!("{path}: unknown field {k}")),
            }
        }
    }
    Ok(())
}

#[test]
fn vector_sealed_secrets_fit_the_schema() {
    let schema = crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone();
    let dir = common::compat().join("kubesealpy");
    for f in [
        "sealedsecret-strict.yaml",
        "sealedsecret-namespace-wide.yaml",
        "sealedsecret-cluster-wide.yaml",
        "sealedsecret-mixed-keys.yaml",
        "sealedsecret-template.yaml",
    ] {
        let doc = codec::parse_documents(&std::fs::read(dir.join(f)).unwrap(), f)
            .unwrap()
            .remove(0);
        check(&schema, &doc, f).unwrap();
    }
    assert!(
        check(&schema, &serde_json::json!({"spec": {}}), "x").is_err(),
        "encryptedData is required"
    );
    assert!(
        check(
            &schema,
            &serde_json::json!({"spec": {"encryptedData": {}, "template": {"type": 1}}}),
            "x"
        )
        .is_err()
    );
}
