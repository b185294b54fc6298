//! Shared helpers for the integration tests: paths of the compat vectors.
#![allow(dead_code)]

use std::path::PathBuf;

/// `/work/shared/compat/sops` (override with `COFFER_SOPS_VECTORS`).
pub fn vectors() -> PathBuf {
    std::env::var_os("COFFER_SOPS_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/compat/sops")
        })
}

pub fn expected() -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(vectors().join("expected.json"))
        .expect("compat/sops/expected.json must exist");
    serde_json::from_str(&text).expect("expected.json parses")
}

/// The plaintext bytes sops encrypts for an expected.json leaf.
pub fn leaf_bytes(leaf: &serde_json::Value) -> Vec<u8> {
    let pt = &leaf["plaintext"];
    match leaf["type"].as_str().unwrap() {
        "str" | "comment" => pt.as_str().unwrap().as_bytes().to_vec(),
        "int" => pt.as_i64().unwrap().to_string().into_bytes(),
        "float" => coffer_sops::tree::format_float(pt.as_f64().unwrap()).into_bytes(),
        "bool" => (if pt.as_bool().unwrap() {
            "True"
        } else {
            "False"
        })
        .as_bytes()
        .to_vec(),
        t => panic!("unexpected type {t}"),
    }
}
