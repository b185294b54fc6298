//! The kube-runtime reconcile against kube-rs's mocked API service (tower-test), with recorded
//! API objects: it reads the target Secret, creates or leaves it, publishes the event and patches
//! the status, in that order. Run with `--features kube-controller`.
#![cfg(feature = "kube-controller")]

mod common;

use std::sync::Arc;

use coffer_sealed::controller::reconcile::ReconcileOptions;
use coffer_sealed::controller::runtime::{
    Context, KeyStore, RunError, SealedSecretObject, reconcile_object,
};
use coffer_sealed::{KeyRing, PrivateKey, codec};
use http::{Request, Response};
use kube::Client;
use kube::client::Body;
use kube::runtime::events::{Recorder, Reporter};
use serde_json::{Value, json};

const UID: &str = "5f0c2b9e-6a1d-4c53-9a53-0d6c2f7b1a10";

fn sealed_object() -> SealedSecretObject {
    let dir = common::compat().join("kubesealpy");
    let mut v = codec::parse_documents(
        &std::fs::read(dir.join("sealedsecret-strict.yaml")).unwrap(),
        "ss",
    )
    .unwrap()
    .remove(0);
    v["metadata"]["uid"] = UID.into();
    v["metadata"]["generation"] = 1.into();
    v["metadata"]["resourceVersion"] = "10".into();
    serde_json::from_value(v).unwrap()
}

fn context(client: Client) -> Context {
    let dir = common::compat().join("kubesealpy");
    let ring = KeyRing::from_keys(
        ["key.pem", "key-old.pem"]
            .map(|f| PrivateKey::from_pem(&std::fs::read(dir.join(f)).unwrap(), f).unwrap()),
    );
    Context::new(
        client.clone(),
        Arc::new(KeyStore::new(ring)),
        Recorder::new(
            client,
            Reporter {
                controller: "sealed-secrets".into(),
                instance: Some("test".into()),
            },
        ),
        ReconcileOptions::default(),
        Arc::new(coffer_sealed::controller::metrics::Metrics::default()),
    )
}

type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

async fn expect(
    handle: &mut Handle,
    method: &str,
    path: &str,
) -> (Value, tower_test::mock::SendResponse<Response<Body>>) {
    let (req, send) = handle.next_request().await.expect("a request");
    assert_eq!((req.method().as_str(), req.uri().path()), (method, path));
    let body = req.into_body().collect_bytes().await.unwrap();
    let v = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body).unwrap()
    };
    (v, send)
}

fn respond(send: tower_test::mock::SendResponse<Response<Body>>, status: u16, body: &Value) {
    send.send_response(
        Response::builder()
            .status(status)
            .body(Body::from(serde_json::to_vec(body).unwrap()))
            .unwrap(),
    );
}

#[tokio::test]
async fn creates_secret_publishes_event_and_patches_status() {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let ctx = context(Client::new(service, "default"));
    let obj = sealed_object();
    let api_server = tokio::spawn(async move {
        let (_, send) = expect(
            &mut handle,
            "GET",
            "/api/v1/namespaces/demo-ns/secrets/demo-secret",
        )
        .await;
        respond(
            send,
            404,
            &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "secrets \"demo-secret\" not found", "reason": "NotFound", "code": 404}),
        );
        let (created, send) =
            expect(&mut handle, "POST", "/api/v1/namespaces/demo-ns/secrets").await;
        assert_eq!(created["data"]["username"], "YWRtaW4=");
        assert_eq!(created["metadata"]["ownerReferences"][0]["uid"], UID);
        assert_eq!(
            created["metadata"]["ownerReferences"][0]["controller"],
            true
        );
        respond(send, 201, &created);
        let (event, send) = expect(
            &mut handle,
            "POST",
            "/apis/events.k8s.io/v1/namespaces/demo-ns/events",
        )
        .await;
        assert_eq!(
            (event["reason"].as_str(), event["type"].as_str()),
            (Some("Unsealed"), Some("Normal"))
        );
        assert_eq!(event["regarding"]["kind"], "SealedSecret");
        respond(send, 201, &event);
        let (patch, send) = expect(
            &mut handle,
            "PATCH",
            "/apis/bitnami.com/v1alpha1/namespaces/demo-ns/sealedsecrets/demo-secret/status",
        )
        .await;
        assert_eq!(patch["status"]["conditions"][0]["status"], "True");
        assert_eq!(patch["status"]["observedGeneration"], 1);
        respond(
            send,
            200,
            &json!({"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "metadata": {"name": "demo-secret", "namespace": "demo-ns"}, "spec": {}}),
        );
    });
    reconcile_object(&obj, &ctx)
        .await
        .expect("reconcile succeeds");
    api_server.await.unwrap();
    let text = ctx.metrics.render();
    assert!(
        text.contains("sealed_secrets_controller_unseal_requests_total 1\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "name=\"demo-secret\",namespace=\"demo-ns\",ss_app_kubernetes_io_instance=\"\"} 1\n"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn unmanaged_secret_is_a_conflict_with_warning_and_retry() {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let ctx = context(Client::new(service, "default"));
    let obj = sealed_object();
    let api_server = tokio::spawn(async move {
        let (_, send) = expect(
            &mut handle,
            "GET",
            "/api/v1/namespaces/demo-ns/secrets/demo-secret",
        )
        .await;
        respond(
            send,
            200,
            &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "demo-secret", "namespace": "demo-ns", "uid": "other", "resourceVersion": "3"}, "data": {"x": "eQ=="}}),
        );
        let (event, send) = expect(
            &mut handle,
            "POST",
            "/apis/events.k8s.io/v1/namespaces/demo-ns/events",
        )
        .await;
        assert_eq!(
            (event["reason"].as_str(), event["type"].as_str()),
            (Some("ErrUpdateFailed"), Some("Warning"))
        );
        assert_eq!(
            event["note"],
            "Resource \"demo-secret\" already exists and is not managed by SealedSecret"
        );
        respond(send, 201, &event);
        let (patch, send) = expect(
            &mut handle,
            "PATCH",
            "/apis/bitnami.com/v1alpha1/namespaces/demo-ns/sealedsecrets/demo-secret/status",
        )
        .await;
        assert_eq!(patch["status"]["conditions"][0]["status"], "False");
        respond(
            send,
            200,
            &json!({"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "metadata": {"name": "demo-secret", "namespace": "demo-ns"}, "spec": {}}),
        );
    });
    let err = reconcile_object(&obj, &ctx).await.expect_err("conflict");
    assert!(matches!(err, RunError::Retry(_)), "{err}");
    api_server.await.unwrap();
    assert!(ctx.metrics.render().contains("sealed_secrets_controller_unseal_errors_total{namespace=\"demo-ns\",reason=\"unmanaged\"} 1\n"));
}

#[tokio::test]
async fn synced_object_makes_no_writes() {
    // First pass on a fresh decision gives the Secret and the status the controller would write.
    let obj = sealed_object();
    let ring = context(Client::new(
        tower_test::mock::pair::<Request<Body>, Response<Body>>().0,
        "default",
    ))
    .keys
    .get();
    let sealed = serde_json::to_value(&obj).unwrap();
    let first = coffer_sealed::controller::reconcile::reconcile(
        &sealed,
        None,
        &ring,
        ReconcileOptions::default(),
        "2026-11-22T12:00:00Z",
    );
    let coffer_sealed::controller::reconcile::SecretAction::Create(mut secret) = first.action
    else {
        panic!("create expected")
    };
    secret["metadata"]["resourceVersion"] = "5".into();
    let mut synced = obj.clone();
    synced.rest.insert("status".into(), first.status.unwrap());

    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let ctx = context(Client::new(service, "default"));
    let api_server = tokio::spawn(async move {
        let (_, send) = expect(
            &mut handle,
            "GET",
            "/api/v1/namespaces/demo-ns/secrets/demo-secret",
        )
        .await;
        respond(send, 200, &secret);
        assert!(
            handle.next_request().await.is_none(),
            "no further api calls"
        );
    });
    reconcile_object(&synced, &ctx).await.expect("ok");
    drop(ctx);
    api_server.await.unwrap();
}

#[test]
fn error_policy_backs_off_and_gives_up_after_max_retries() {
    let (service, _handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = rt.enter();
    let mut ctx = context(Client::new(service, "default"));
    ctx.max_retries = 3;
    use kube::runtime::controller::Action;
    assert_eq!(
        ctx.on_error("ns/a"),
        Action::requeue(std::time::Duration::from_secs(1))
    );
    assert_eq!(
        ctx.on_error("ns/a"),
        Action::requeue(std::time::Duration::from_secs(2))
    );
    assert_eq!(
        ctx.on_error("ns/b"),
        Action::requeue(std::time::Duration::from_secs(1))
    );
    assert_eq!(
        ctx.on_error("ns/a"),
        Action::requeue(std::time::Duration::from_secs(4))
    );
    assert_eq!(ctx.on_error("ns/a"), Action::await_change());
    assert_eq!(
        ctx.on_error("ns/a"),
        Action::requeue(std::time::Duration::from_secs(1)),
        "counting restarts after giving up"
    );
}

#[tokio::test]
async fn startup_creates_a_key_secret_when_there_is_none_and_loads_existing_ones() {
    use coffer_sealed::controller::keys::{KEY_ACTIVE, KEY_LABEL, KeyGenConfig};
    use coffer_sealed::controller::runtime::{Config, load_or_create_keys};
    let cfg = Config {
        key_gen: KeyGenConfig {
            bits: 2048,
            ..Default::default()
        },
        ..Default::default()
    };
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let api_server = tokio::spawn(async move {
        let (_, send) = expect(&mut handle, "GET", "/api/v1/namespaces/kube-system/secrets").await;
        respond(
            send,
            200,
            &json!({"apiVersion": "v1", "kind": "SecretList", "metadata": {}, "items": []}),
        );
        let (mut created, send) = expect(
            &mut handle,
            "POST",
            "/api/v1/namespaces/kube-system/secrets",
        )
        .await;
        assert_eq!(created["type"], "kubernetes.io/tls");
        assert_eq!(created["metadata"]["generateName"], "sealed-secrets-key");
        assert_eq!(created["metadata"]["labels"][KEY_LABEL], KEY_ACTIVE);
        created["metadata"]["name"] = "sealed-secrets-keyab1cd".into();
        respond(send, 201, &created);
        created
    });
    let ring = load_or_create_keys(&client, "kube-system", &cfg)
        .await
        .unwrap();
    let created = api_server.await.unwrap();
    assert_eq!(ring.len(), 1);

    // A second start finds that Secret and creates nothing.
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let api_server = tokio::spawn(async move {
        let (_, send) = expect(&mut handle, "GET", "/api/v1/namespaces/kube-system/secrets").await;
        respond(
            send,
            200,
            &json!({"apiVersion": "v1", "kind": "SecretList", "metadata": {}, "items": [created]}),
        );
        assert!(handle.next_request().await.is_none());
    });
    let again = load_or_create_keys(&client, "kube-system", &cfg)
        .await
        .unwrap();
    drop(client);
    api_server.await.unwrap();
    assert_eq!(
        again.latest().unwrap().key.id(),
        ring.latest().unwrap().key.id()
    );
}

/// End to end against a real cluster (not available here): apply
/// `deploy/sealedsecrets.bitnami.com.yaml`, run `coffer controller` with a kubeconfig, then
/// `kubeseal --controller-url http://localhost:8080 < secret.yaml | kubectl apply -f -` and check
/// that the Secret appears with the SealedSecret as owner and `status.conditions[0].status=True`.
#[tokio::test]
#[ignore = "needs a Kubernetes cluster and KUBECONFIG"]
async fn end_to_end_with_a_real_cluster() {
    let client = Client::try_default().await.expect("a cluster");
    let secrets: kube::Api<k8s_openapi::api::core::v1::Secret> =
        kube::Api::namespaced(client, "default");
    let name = "coffer-e2e";
    let s = secrets.get_opt(name).await.expect("api reachable");
    assert!(
        s.is_some(),
        "apply a SealedSecret named {name} in default with the controller running first"
    );
}
