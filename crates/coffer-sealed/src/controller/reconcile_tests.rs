//! Reconcile decisions on objects shaped like the API server returns them (uid, generation,
//! resourceVersion, status), built around the kubesealpy strict vector.

use super::*;
use crate::codec;
use crate::keys::PrivateKey;

const NOW: &str = "2026-11-22T12:00:00Z";
const UID: &str = "5f0c2b9e-6a1d-4c53-9a53-0d6c2f7b1a10";

fn compat(file: &str) -> Vec<u8> {
    let dir = std::env::var("COFFER_SEALED_COMPAT").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/compat/sealed-secrets"
        )
        .into()
    });
    std::fs::read(format!("{dir}/kubesealpy/{file}"))
        .expect("compat vectors (set COFFER_SEALED_COMPAT)")
}

fn ring() -> KeyRing {
    KeyRing::from_keys(
        ["key.pem", "key-old.pem"].map(|f| PrivateKey::from_pem(&compat(f), f).unwrap()),
    )
}

/// The strict vector as the API server would return it.
fn recorded_sealed(file: &str) -> Value {
    let mut v = codec::parse_documents(&compat(file), file)
        .unwrap()
        .remove(0);
    let meta = v["metadata"].as_object_mut().unwrap();
    meta.insert("uid".into(), UID.into());
    meta.insert("generation".into(), 2.into());
    meta.insert("resourceVersion".into(), "1234".into());
    meta.insert("creationTimestamp".into(), "2026-11-01T00:00:00Z".into());
    v
}

fn owner_ref() -> Value {
    json!([{"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "name": "demo-secret", "uid": UID, "controller": true}])
}

fn created(d: &Decision) -> &Value {
    match &d.action {
        SecretAction::Create(v) => v,
        other => panic!("expected create, got {other:?}"),
    }
}

fn updated(d: &Decision) -> &Value {
    match &d.action {
        SecretAction::Update(v) => v,
        other => panic!("expected update, got {other:?}"),
    }
}

#[test]
fn creates_the_secret_with_owner_reference_and_template_metadata() {
    let d = reconcile(
        &recorded_sealed("sealedsecret-strict.yaml"),
        None,
        &ring(),
        ReconcileOptions::default(),
        NOW,
    );
    let s = created(&d);
    assert_eq!(s["metadata"]["ownerReferences"], owner_ref());
    assert_eq!(s["metadata"]["labels"], json!({"app": "demo"}));
    assert_eq!(
        (
            s["metadata"]["name"].as_str(),
            s["metadata"]["namespace"].as_str()
        ),
        (Some("demo-secret"), Some("demo-ns"))
    );
    assert_eq!(s["data"]["username"], "YWRtaW4=");
    assert_eq!(s["type"], "Opaque");
    assert_eq!(
        d.event,
        Event {
            type_: EventType::Normal,
            reason: "Unsealed",
            message: "SealedSecret unsealed successfully".into()
        }
    );
    let st = d.status.unwrap();
    assert_eq!(st["observedGeneration"], 2);
    assert_eq!(
        st["conditions"][0],
        json!({"type": "Synced", "status": "True", "lastUpdateTime": NOW, "lastTransitionTime": NOW})
    );
    assert!(!d.retry && d.error_reason.is_none());
}

#[test]
fn skip_set_owner_references_template_annotation() {
    let mut ss = recorded_sealed("sealedsecret-strict.yaml");
    ss["spec"]["template"]["metadata"]["annotations"]["sealedsecrets.bitnami.com/skip-set-owner-references"] =
        "true".into();
    let d = reconcile(&ss, None, &ring(), ReconcileOptions::default(), NOW);
    assert!(created(&d)["metadata"].get("ownerReferences").is_none());
}

#[test]
fn unseal_failure_gives_warning_status_false_and_retry() {
    let mut ss = recorded_sealed("sealedsecret-strict.yaml");
    ss["metadata"]["name"] = "renamed".into();
    let d = reconcile(&ss, None, &ring(), ReconcileOptions::default(), NOW);
    assert_eq!(d.action, SecretAction::None);
    assert_eq!(
        (d.event.type_, d.event.reason),
        (EventType::Warning, "ErrUnsealFailed")
    );
    assert!(
        d.event
            .message
            .starts_with("Failed to unseal: binary: no key could decrypt secret"),
        "{}",
        d.event.message
    );
    assert!(!d.event.message.contains("YWRtaW4"));
    assert_eq!(d.status.unwrap()["conditions"][0]["status"], "False");
    assert_eq!((d.error_reason, d.retry), (Some("unseal"), true));
}

#[test]
fn owned_secret_is_updated_only_when_different() {
    let ss = recorded_sealed("sealedsecret-strict.yaml");
    let first = reconcile(&ss, None, &ring(), ReconcileOptions::default(), NOW);
    let mut existing = created(&first).clone();
    existing["metadata"]["resourceVersion"] = "77".into();
    existing["metadata"]["uid"] = "secret-uid".into();
    let mut ss_synced = ss.clone();
    ss_synced["status"] = first.status.clone().unwrap();
    let d = reconcile(
        &ss_synced,
        Some(&existing),
        &ring(),
        ReconcileOptions::default(),
        "2026-11-22T13:00:00Z",
    );
    assert_eq!(d.action, SecretAction::None);
    assert_eq!(d.status, None, "nothing changed, no status write");
    // Someone edits the data: the controller puts it back, keeping resourceVersion.
    existing["data"]["username"] = "aGFja2Vk".into();
    existing["metadata"]["labels"]["extra"] = "x".into();
    let d = reconcile(
        &ss_synced,
        Some(&existing),
        &ring(),
        ReconcileOptions::default(),
        NOW,
    );
    let u = updated(&d);
    assert_eq!(u["data"]["username"], "YWRtaW4=");
    assert_eq!(u["metadata"]["labels"], json!({"app": "demo"}));
    assert_eq!(u["metadata"]["resourceVersion"], "77");
}

#[test]
fn unmanaged_secret_conflicts() {
    let existing = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "demo-secret", "namespace": "demo-ns", "uid": "x"}, "data": {"a": "Yg=="}});
    let d = reconcile(
        &recorded_sealed("sealedsecret-strict.yaml"),
        Some(&existing),
        &ring(),
        ReconcileOptions::default(),
        NOW,
    );
    assert_eq!(d.action, SecretAction::None);
    assert_eq!(d.event.reason, "ErrUpdateFailed");
    assert_eq!(
        d.event.message,
        "Resource \"demo-secret\" already exists and is not managed by SealedSecret"
    );
    assert_eq!(d.error_reason, Some("unmanaged"));
    assert_eq!(
        d.status.unwrap()["conditions"][0]["message"],
        d.event.message
    );
}

#[test]
fn managed_annotation_adopts_and_replaces() {
    let existing = json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "demo-secret", "namespace": "demo-ns", "annotations": {MANAGED_ANNOTATION: "true"}, "labels": {"helm": "1"}},
        "data": {"old": "Yg=="}});
    let d = reconcile(
        &recorded_sealed("sealedsecret-strict.yaml"),
        Some(&existing),
        &ring(),
        ReconcileOptions::default(),
        NOW,
    );
    let u = updated(&d);
    assert!(u["data"].get("old").is_none());
    assert_eq!(u["metadata"]["ownerReferences"], owner_ref());
    assert_eq!(
        u["metadata"]["annotations"],
        json!({"team": "platform"}),
        "managed disappears unless templated"
    );
    assert_eq!(u["metadata"]["labels"], json!({"app": "demo"}));
}

#[test]
fn patch_annotation_merges_without_taking_ownership() {
    let existing = json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "demo-secret", "namespace": "demo-ns", "annotations": {PATCH_ANNOTATION: "true"}, "labels": {"helm": "1"}},
        "data": {"old": "Yg==", "username": "eA=="}});
    let ss = recorded_sealed("sealedsecret-strict.yaml");
    let d = reconcile(
        &ss,
        Some(&existing),
        &ring(),
        ReconcileOptions::default(),
        NOW,
    );
    let u = updated(&d);
    assert_eq!(u["data"]["old"], "Yg==");
    assert_eq!(u["data"]["username"], "YWRtaW4=", "template keys win");
    assert_eq!(u["metadata"]["labels"], json!({"helm": "1", "app": "demo"}));
    assert_eq!(u["metadata"]["annotations"][PATCH_ANNOTATION], "true");
    assert!(u["metadata"].get("ownerReferences").is_none());
    // patch + managed also sets the owner.
    let mut both = existing.clone();
    both["metadata"]["annotations"][MANAGED_ANNOTATION] = "true".into();
    let d = reconcile(&ss, Some(&both), &ring(), ReconcileOptions::default(), NOW);
    assert_eq!(updated(&d)["metadata"]["ownerReferences"], owner_ref());
}

#[test]
fn immutable_secret_with_different_content_is_not_retried() {
    let ss = recorded_sealed("sealedsecret-strict.yaml");
    let mut existing = created(&reconcile(
        &ss,
        None,
        &ring(),
        ReconcileOptions::default(),
        NOW,
    ))
    .clone();
    existing["immutable"] = true.into();
    existing["data"]["username"] = "eA==".into();
    let d = reconcile(
        &ss,
        Some(&existing),
        &ring(),
        ReconcileOptions::default(),
        NOW,
    );
    assert_eq!(
        (d.event.reason, d.retry, d.error_reason),
        ("ErrUpdateFailed", false, Some("update"))
    );
    assert!(d.event.message.contains("immutable"));
}

#[test]
fn template_data_and_type_from_template() {
    let d = reconcile(
        &recorded_sealed("sealedsecret-template.yaml"),
        None,
        &ring(),
        ReconcileOptions::default(),
        NOW,
    );
    let s = created(&d);
    let cfg = crate::model::decode_b64(s["data"]["config.json"].as_str().unwrap()).unwrap();
    assert_eq!(cfg, br#"{"user": "admin", "password": "s3cr3t!pa$$"}"#);
}

#[test]
fn status_rules() {
    let s1 = next_status(None, 1, false, "boom", NOW).unwrap();
    assert_eq!(next_status(Some(&s1), 1, false, "boom", "later"), None);
    let s2 = next_status(Some(&s1), 1, false, "other", "later").unwrap();
    assert_eq!(
        s2["conditions"][0]["lastTransitionTime"], NOW,
        "no flip, transition time kept"
    );
    let s3 = next_status(Some(&s2), 1, true, "", "t3").unwrap();
    assert_eq!(s3["conditions"][0]["lastTransitionTime"], "t3");
    assert!(s3["conditions"][0].get("message").is_none());
    assert!(
        next_status(Some(&s3), 2, true, "", "t4").is_some(),
        "generation moved"
    );
    let no_status = ReconcileOptions {
        update_status: false,
        ..Default::default()
    };
    assert_eq!(
        reconcile(
            &recorded_sealed("sealedsecret-strict.yaml"),
            None,
            &ring(),
            no_status,
            NOW
        )
        .status,
        None
    );
}

#[test]
fn watch_helpers() {
    let owned = json!({"metadata": {"ownerReferences": owner_ref()}});
    assert!(recreate_after_delete(&owned, UID));
    assert!(!recreate_after_delete(&owned, "other"));
    assert!(recreate_after_delete(
        &json!({"metadata": {"annotations": {MANAGED_ANNOTATION: "true"}}}),
        UID
    ));
    assert!(!recreate_after_delete(&json!({"metadata": {}}), UID));
    let a = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"encryptedData": {}}});
    let mut b = a.clone();
    b["metadata"]["labels"]["a"] = "2".into();
    assert!(!spec_changed(&a, &b));
    b["spec"]["encryptedData"]["x"] = "y".into();
    assert!(spec_changed(&a, &b));
}
