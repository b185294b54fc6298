//! In-process API tests: the real router and core over memory storage, no
//! network. The wire conventions every client relies on.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use coffer_server::core::CoreConfig;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn dev() -> axum::Router {
    let config = CoreConfig {
        max_request_size: 1 << 20,
        ..CoreConfig::default()
    };
    let (core, info) = coffer_server::server::dev_core(Some("root".into()), config)
        .await
        .expect("dev core");
    assert_eq!(info.root_token, "root");
    coffer_server::http::router(core)
}

async fn call(
    app: &axum::Router,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Option<Value>) {
    let mut req = Request::builder()
        .method(method)
        .uri(format!("/v1/{path}"))
        .header("X-Vault-Token", "root");
    if method == "PATCH" {
        req = req.header("Content-Type", "application/merge-patch+json");
    }
    let mut req = req
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .expect("request");
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 4000))));
    let resp = app.clone().oneshot(req).await.expect("response");
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .expect("body");
    let json = (!bytes.is_empty()).then(|| serde_json::from_slice(&bytes).expect("json body"));
    (status, json)
}

#[tokio::test]
async fn envelope_has_eight_keys_in_order() {
    let app = dev().await;
    let (status, body) = call(
        &app,
        "POST",
        "secret/data/a",
        Some(json!({"data": {"k": "v"}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let keys: Vec<&str> = body
        .as_ref()
        .and_then(Value::as_object)
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "request_id",
            "lease_id",
            "renewable",
            "lease_duration",
            "data",
            "wrap_info",
            "warnings",
            "auth"
        ]
    );
}

#[tokio::test]
async fn empty_write_is_204_and_list_verb_equals_query() {
    let app = dev().await;
    let (status, body) = call(
        &app,
        "POST",
        "sys/policies/acl/p",
        Some(json!({"policy": "path \"a\" { capabilities = [\"read\"] }"})),
    )
    .await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, None));
    let (_, list) = call(&app, "LIST", "sys/policies/acl", None).await;
    let (_, query) = call(&app, "GET", "sys/policies/acl?list=true", None).await;
    assert_eq!(
        list.as_ref().map(|v| &v["data"]),
        query.as_ref().map(|v| &v["data"])
    );
    assert_eq!(
        list.expect("list")["data"]["keys"],
        json!(["default", "p", "root"])
    );
}

#[tokio::test]
async fn not_found_and_unknown_routes() {
    let app = dev().await;
    assert_eq!(
        call(&app, "GET", "secret/data/missing", None).await,
        (StatusCode::NOT_FOUND, Some(json!({"errors": []})))
    );
    let (status, body) = call(&app, "GET", "nonexist/foo", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body.expect("body")["errors"][0],
        "no handler for route \"nonexist/foo\". route entry not found."
    );
}

#[tokio::test]
async fn null_body_warns_and_put_equals_post() {
    let app = dev().await;
    let (status, body) = call(
        &app,
        "PUT",
        "sys/auth/up",
        Some(json!({"type": "userpass"})),
    )
    .await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, None));
    let (status, body) = call(&app, "POST", "auth/token/create", Some(Value::Null)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body.expect("body")["warnings"],
        json!(["Endpoint ignored these unrecognized parameters: [null]"])
    );
}

#[tokio::test]
async fn seal_then_everything_but_status_is_503() {
    let app = dev().await;
    assert_eq!(
        call(&app, "PUT", "sys/seal", None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(&app, "GET", "secret/data/a", None).await,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Some(json!({"errors": ["Vault is sealed"]}))
        )
    );
    let (status, body) = call(&app, "GET", "sys/seal-status", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.expect("body")["sealed"], json!(true));
}
