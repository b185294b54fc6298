//! Rendering: the 8-key envelope, legacy duplicated keys, raw bodies, 204
//! for empty writes, and `{"errors":[...]}` for every error.

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::Response as HttpResponse;
use coffer_core::logical::{Error, Response};
use serde_json::{Value, json};

use super::status;

fn with_headers(mut resp: HttpResponse, content_type: &'static str) -> HttpResponse {
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000; includeSubDomains"),
    );
    resp
}

fn json_body(code: u16, body: &Value) -> HttpResponse {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut resp = HttpResponse::new(Body::from(bytes));
    *resp.status_mut() = status(code);
    with_headers(resp, "application/json")
}

pub fn error_response(e: &Error) -> HttpResponse {
    let code = e.status();
    if code >= 500 && code != 503 {
        tracing::error!(status = code, error = %e, "request failed");
    }
    json_body(code, &json!({ "errors": e.messages() }))
}

/// Renders a response; `request_id` is the id the audit log recorded.
pub fn response(resp: Response, request_id: &str) -> HttpResponse {
    let code = resp.status.unwrap_or(200);
    if let Some(raw) = resp.raw {
        if let Value::String(text) = raw {
            let mut r = HttpResponse::new(Body::from(text));
            *r.status_mut() = status(code);
            return with_headers(r, "text/plain; version=0.0.4");
        }
        return json_body(code, &raw);
    }
    if let Some(info) = resp.wrap_info {
        let body = json!({
            "request_id": "", "lease_id": "", "renewable": false, "lease_duration": 0,
            "data": null, "wrap_info": info, "warnings": null, "auth": null,
        });
        return json_body(code, &body);
    }
    let empty = resp.data.is_none() && resp.auth_rendered.is_none() && resp.warnings.is_empty();
    if empty && resp.status.is_none() {
        let mut r = HttpResponse::new(Body::empty());
        *r.status_mut() = status(204);
        return with_headers(r, "application/json");
    }
    let warnings = if resp.warnings.is_empty() {
        Value::Null
    } else {
        json!(resp.warnings)
    };
    let data = resp.data.map(Value::Object).unwrap_or(Value::Null);
    let mut body = serde_json::Map::new();
    if resp.legacy
        && let Value::Object(d) = &data
    {
        for (k, v) in d {
            body.insert(k.clone(), v.clone());
        }
    }
    body.insert("request_id".into(), json!(request_id));
    body.insert("lease_id".into(), json!(""));
    body.insert("renewable".into(), json!(false));
    body.insert("lease_duration".into(), json!(resp.lease_duration));
    body.insert("data".into(), data);
    body.insert("wrap_info".into(), Value::Null);
    body.insert("warnings".into(), warnings);
    body.insert(
        "auth".into(),
        resp.auth_rendered.map(Value::Object).unwrap_or(Value::Null),
    );
    json_body(code, &Value::Object(body))
}
