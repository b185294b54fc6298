//! Unsealing a SealedSecret into a Secret (spec §3), shared by the controller, `/v1/rotate`,
//! `/v1/verify` and `kubeseal --recovery-unseal`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::error::{FormatError, UnsealError};
use crate::hybrid;
use crate::keyring::KeyRing;
use crate::model::{API_VERSION, KIND, MetaExt, SealedSecret, Secret, decode_b64};
use crate::template;

/// Template annotation that suppresses the owner reference.
pub const SKIP_SET_OWNER_REFERENCES_ANNOTATION: &str =
    "sealedsecrets.bitnami.com/skip-set-owner-references";

/// Unsealing options.
#[derive(Debug, Clone, Copy)]
pub struct UnsealOptions {
    /// Accept the deprecated v1 `spec.data` blob (controller default true, kubeseal false).
    pub accept_v1_data: bool,
}

impl Default for UnsealOptions {
    fn default() -> Self {
        UnsealOptions {
            accept_v1_data: true,
        }
    }
}

/// Identity used to remember which key opened an object.
pub fn hint_for(ss: &SealedSecret) -> String {
    format!("{}/{}", ss.metadata.namespace(), ss.metadata.name())
}

/// Unseals `ss` with the keys of `ring`.
pub fn unseal(
    ss: &SealedSecret,
    ring: &KeyRing,
    opts: UnsealOptions,
) -> Result<Secret, UnsealError> {
    let (namespace, name) = (
        ss.metadata.namespace().to_owned(),
        ss.metadata.name().to_owned(),
    );
    let label = hybrid::label(ss.metadata.scope(), &namespace, &name);
    let hint = hint_for(ss);
    let mut secret = match &ss.data {
        Some(v1) => {
            if !ss.encrypted_data.is_empty() {
                return Err(UnsealError::BothData(name));
            }
            if !opts.accept_v1_data {
                return Err(UnsealError::DeprecatedData);
            }
            unseal_v1(v1, ring, &label, &hint)?
        }
        None => unseal_items(ss, ring, &label, &hint)?,
    };
    secret.metadata.insert("name".into(), name.clone().into());
    secret.metadata.insert("namespace".into(), namespace.into());
    if ss
        .template
        .metadata
        .annotation(SKIP_SET_OWNER_REFERENCES_ANNOTATION)
        != Some("true")
    {
        let mut owner = Map::new();
        owner.insert("apiVersion".into(), API_VERSION.into());
        owner.insert("kind".into(), KIND.into());
        owner.insert("name".into(), name.into());
        owner.insert(
            "uid".into(),
            ss.metadata.str_field("uid").unwrap_or("").into(),
        );
        owner.insert("controller".into(), true.into());
        secret.metadata.insert(
            "ownerReferences".into(),
            Value::Array(vec![Value::Object(owner)]),
        );
    }
    Ok(secret)
}

fn unseal_items(
    ss: &SealedSecret,
    ring: &KeyRing,
    label: &[u8],
    hint: &str,
) -> Result<Secret, UnsealError> {
    let mut errors: Vec<String> = Vec::new();
    let mut push = |e: String| {
        if !errors.contains(&e) {
            errors.push(e);
        }
    };
    let mut data: BTreeMap<String, Zeroizing<Vec<u8>>> = BTreeMap::new();
    for (item, b64) in &ss.encrypted_data {
        let Some(blob) = decode_b64(b64) else {
            push(format!("{item}: illegal base64 data"));
            continue;
        };
        match ring.decrypt(&blob, label, hint) {
            Ok(plain) => {
                data.insert(item.clone(), plain);
            }
            Err(e) => push(format!("{item}: {e}")),
        }
    }
    if !errors.is_empty() {
        return Err(UnsealError::Items(errors));
    }
    if let Some(templates) = &ss.template.data {
        // Go renders with map[string]string; invalid UTF-8 becomes U+FFFD only in JSON output.
        let map: BTreeMap<String, String> = data
            .iter()
            .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned()))
            .collect();
        for (key, tmpl) in templates {
            let rendered =
                template::render(tmpl, &map).map_err(|reason| UnsealError::Template {
                    key: key.clone(),
                    reason,
                })?;
            data.insert(key.clone(), Zeroizing::new(rendered.into_bytes()));
        }
    }
    Ok(Secret {
        metadata: ss.template.metadata.clone(),
        type_: ss.template.type_.clone(),
        immutable: ss.template.immutable,
        data,
        string_data: BTreeMap::new(),
    })
}

fn unseal_v1(b64: &str, ring: &KeyRing, label: &[u8], hint: &str) -> Result<Secret, UnsealError> {
    let blob = decode_b64(b64).ok_or_else(|| FormatError::Base64 {
        what: "sealedsecret spec".into(),
        item: "data".into(),
    })?;
    let plain = ring
        .decrypt(&blob, label, hint)
        .map_err(|e| UnsealError::Items(vec![e.to_string()]))?;
    let v: Value = serde_json::from_slice(&plain).map_err(|_| FormatError::Parse {
        what: "sealedsecret spec.data".into(),
        reason: "not a json secret".into(),
    })?;
    Ok(Secret::from_value(&v)?)
}
