//! The reconcile decision for one SealedSecret (spec §5.2) as a pure function: given the
//! SealedSecret, the current target Secret (if any) and the keys, say which Secret to create or
//! update, which event to emit, which status to write and whether to retry.

use serde_json::{Map, Value, json};

use crate::keyring::KeyRing;
use crate::model::{MetaExt, SealedSecret, string_map_mut};
use crate::unseal::{self, UnsealOptions};

/// Target-Secret annotation: the controller may overwrite/adopt a Secret it does not own.
pub const MANAGED_ANNOTATION: &str = "sealedsecrets.bitnami.com/managed";
/// Target-Secret annotation: merge into the Secret instead of replacing it.
pub const PATCH_ANNOTATION: &str = "sealedsecrets.bitnami.com/patch";

/// What to do with the target Secret.
#[derive(Debug, Clone, PartialEq)]
pub enum SecretAction {
    /// Nothing to change.
    None,
    /// Create this Secret.
    Create(Value),
    /// Replace the existing Secret with this one (carries the existing resourceVersion).
    Update(Value),
}

/// Event severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// `Normal`.
    Normal,
    /// `Warning`.
    Warning,
}

/// An event on the SealedSecret (source component `sealed-secrets`).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Normal or Warning.
    pub type_: EventType,
    /// `Unsealed`, `ErrUnsealFailed`, `ErrUpdateFailed`.
    pub reason: &'static str,
    /// Human text (never secret values).
    pub message: String,
}

/// The outcome of one reconcile.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Secret to create/update.
    pub action: SecretAction,
    /// Event to record.
    pub event: Event,
    /// New `status` to write, when it must change.
    pub status: Option<Value>,
    /// Metric reason of a failure (`unseal`, `unmanaged`, `update`), for
    /// `sealed_secrets_controller_unseal_errors_total`.
    pub error_reason: Option<&'static str>,
    /// Retry later (transient or fixable failure).
    pub retry: bool,
}

/// Options of the decision.
#[derive(Debug, Clone, Copy)]
pub struct ReconcileOptions {
    /// `--update-status`.
    pub update_status: bool,
    /// `--accept-deprecated-v1-data`.
    pub accept_v1_data: bool,
}

impl Default for ReconcileOptions {
    fn default() -> Self {
        ReconcileOptions {
            update_status: true,
            accept_v1_data: true,
        }
    }
}

fn is_true(meta: &Map<String, Value>, annotation: &str) -> bool {
    meta.annotation(annotation) == Some("true")
}

/// Whether `secret` has a controller owner reference to the SealedSecret with `uid`.
pub fn controlled_by(secret: &Value, uid: &str) -> bool {
    secret
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|refs| {
            refs.iter().any(|r| {
                r["controller"] == true && r["uid"].as_str() == Some(uid) && !uid.is_empty()
            })
        })
}

/// After a target Secret was deleted: re-create it when it was ours or `managed` (spec §5.1).
pub fn recreate_after_delete(secret: &Value, sealed_secret_uid: &str) -> bool {
    let managed = secret
        .get("metadata")
        .and_then(Value::as_object)
        .is_some_and(|m| is_true(m, MANAGED_ANNOTATION));
    managed || controlled_by(secret, sealed_secret_uid)
}

/// Upstream enqueues SealedSecret updates only when `spec` changed.
pub fn spec_changed(old: &Value, new: &Value) -> bool {
    old.get("spec") != new.get("spec")
}

/// The status to write, if it must change. Upstream writes only when the Synced value flips or
/// the generation moved; coffer also writes when the message changed, so a stale failure message
/// does not linger after a different failure (upstream issue #739).
pub fn next_status(
    current: Option<&Value>,
    generation: i64,
    ok: bool,
    message: &str,
    now: &str,
) -> Option<Value> {
    let cond = current.and_then(|s| {
        s.get("conditions")?
            .as_array()?
            .iter()
            .find(|c| c["type"] == "Synced")
            .cloned()
    });
    let want = if ok { "True" } else { "False" };
    let observed = current.and_then(|s| s.get("observedGeneration")?.as_i64());
    let same_status = cond.as_ref().is_some_and(|c| c["status"] == want);
    let same_message = cond
        .as_ref()
        .is_some_and(|c| c.get("message").and_then(Value::as_str).unwrap_or("") == message);
    if same_status && same_message && observed == Some(generation) {
        return None;
    }
    let transition = match &cond {
        Some(c) if same_status => c
            .get("lastTransitionTime")
            .cloned()
            .unwrap_or_else(|| now.into()),
        _ => now.into(),
    };
    let mut c = json!({"type": "Synced", "status": want, "lastUpdateTime": now, "lastTransitionTime": transition});
    if !message.is_empty() {
        c["message"] = message.into();
    }
    Some(json!({"observedGeneration": generation, "conditions": [c]}))
}

fn failure(
    reason_event: &'static str,
    metric: &'static str,
    message: String,
    status: Option<Value>,
    retry: bool,
) -> Decision {
    Decision {
        action: SecretAction::None,
        event: Event {
            type_: EventType::Warning,
            reason: reason_event,
            message,
        },
        status,
        error_reason: Some(metric),
        retry,
    }
}

/// Decides what to do for `sealed` (the full object as read from the API, with uid, generation,
/// status) given the current target Secret and the keys. `now` is RFC 3339.
pub fn reconcile(
    sealed: &Value,
    existing: Option<&Value>,
    ring: &KeyRing,
    opts: ReconcileOptions,
    now: &str,
) -> Decision {
    let generation = sealed
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let current_status = sealed.get("status");
    let status = |ok: bool, msg: &str| {
        if opts.update_status {
            next_status(current_status, generation, ok, msg, now)
        } else {
            None
        }
    };
    let ss = match SealedSecret::from_value(sealed, false) {
        Ok(ss) => ss,
        Err(e) => {
            let msg = e.to_string();
            return failure(
                "ErrUnsealFailed",
                "unseal",
                format!("Failed to unseal: {msg}"),
                status(false, &msg),
                false,
            );
        }
    };
    let desired = match unseal::unseal(
        &ss,
        ring,
        UnsealOptions {
            accept_v1_data: opts.accept_v1_data,
        },
    ) {
        Ok(secret) => secret.to_value(),
        Err(e) => {
            let msg = e.to_string();
            return failure(
                "ErrUnsealFailed",
                "unseal",
                format!("Failed to unseal: {msg}"),
                status(false, &msg),
                true,
            );
        }
    };
    let ok = |action| Decision {
        action,
        event: Event {
            type_: EventType::Normal,
            reason: "Unsealed",
            message: "SealedSecret unsealed successfully".into(),
        },
        status: status(true, ""),
        error_reason: None,
        retry: false,
    };
    let Some(existing) = existing else {
        return ok(SecretAction::Create(desired));
    };
    let uid = ss.metadata.str_field("uid").unwrap_or("");
    let ex_meta = existing
        .get("metadata")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let (managed, patch) = (
        is_true(&ex_meta, MANAGED_ANNOTATION),
        is_true(&ex_meta, PATCH_ANNOTATION),
    );
    if !controlled_by(existing, uid) && !managed && !patch {
        let msg = format!(
            "Resource {:?} already exists and is not managed by SealedSecret",
            ss.metadata.name()
        );
        return failure(
            "ErrUpdateFailed",
            "unmanaged",
            msg.clone(),
            status(false, &msg),
            true,
        );
    }
    let updated = if patch {
        merge_patch(existing, &desired, managed)
    } else {
        replace(existing, &desired)
    };
    if same_content(existing, &updated) {
        return ok(SecretAction::None);
    }
    if existing.get("immutable") == Some(&Value::Bool(true)) {
        let msg = format!(
            "Secret {:?} is immutable and its content differs; delete it to let the controller re-create it",
            ss.metadata.name()
        );
        return failure(
            "ErrUpdateFailed",
            "update",
            msg.clone(),
            status(false, &msg),
            false,
        );
    }
    ok(SecretAction::Update(updated))
}

/// Default (owned or managed): data, labels, annotations, owner references and type replaced.
fn replace(existing: &Value, desired: &Value) -> Value {
    let mut out = existing.clone();
    for key in ["data", "immutable"] {
        match desired.get(key) {
            Some(v) => out[key] = v.clone(),
            None => {
                if let Some(o) = out.as_object_mut() {
                    o.remove(key);
                }
            }
        }
    }
    // The API server refuses type changes and defaults a missing type; keep the existing one
    // unless the template names one.
    if let Some(t) = desired.get("type") {
        out["type"] = t.clone();
    }
    if let Some(o) = out.as_object_mut() {
        o.remove("stringData");
    }
    let meta = out["metadata"].as_object_mut();
    if let Some(meta) = meta {
        for key in ["labels", "annotations", "ownerReferences", "finalizers"] {
            match desired.pointer(&format!("/metadata/{key}")) {
                Some(v) => {
                    meta.insert(key.into(), v.clone());
                }
                None => {
                    meta.remove(key);
                }
            }
        }
    }
    out
}

/// `patch: "true"`: data, labels and annotations merged (template wins); owner references set
/// only when also `managed`.
fn merge_patch(existing: &Value, desired: &Value, managed: bool) -> Value {
    let mut out = existing.clone();
    if let Some(Value::Object(d)) = desired.get("data") {
        let data = out
            .as_object_mut()
            .map(|o| o.entry("data").or_insert_with(|| json!({})));
        if let Some(Value::Object(dst)) = data {
            for (k, v) in d {
                dst.insert(k.clone(), v.clone());
            }
        }
    }
    if let Some(t) = desired.get("type") {
        out["type"] = t.clone();
    }
    if let Some(meta) = out["metadata"].as_object_mut() {
        for key in ["labels", "annotations"] {
            if let Some(Value::Object(src)) = desired.pointer(&format!("/metadata/{key}")) {
                let dst = string_map_mut(meta, key);
                for (k, v) in src {
                    dst.insert(k.clone(), v.clone());
                }
            }
        }
        if managed {
            match desired.pointer("/metadata/ownerReferences") {
                Some(v) => {
                    meta.insert("ownerReferences".into(), v.clone());
                }
                None => {
                    meta.remove("ownerReferences");
                }
            }
        }
    }
    out
}

/// Semantic equality of what the controller manages.
fn same_content(a: &Value, b: &Value) -> bool {
    let fields = [
        "/data",
        "/type",
        "/immutable",
        "/metadata/labels",
        "/metadata/annotations",
        "/metadata/ownerReferences",
        "/metadata/finalizers",
    ];
    let norm = |v: Option<&Value>| match v {
        Some(Value::Object(m)) if m.is_empty() => None,
        Some(Value::Array(a)) if a.is_empty() => None,
        Some(Value::Null) => None,
        other => other.cloned(),
    };
    fields
        .iter()
        .all(|f| norm(a.pointer(f)) == norm(b.pointer(f)))
}

#[cfg(test)]
#[path = "reconcile_tests.rs"]
mod tests;
