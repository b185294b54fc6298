//! The HTTP edge: turns `/v1/...` requests into [`RawRequest`]s (method,
//! token headers, query, body) and renders responses and errors in Vault's
//! wire shapes. Every error becomes `{"errors":[...]}` here and nowhere else.

mod render;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use axum::response::Response;
use coffer_core::logical::{Error, Object, Operation};
use serde_json::Value;

use crate::core::{Core, EarlyAuth, RawRequest};

pub use render::error_response;

/// Builds the router for a core.
pub fn router(core: Arc<Core>) -> axum::Router {
    axum::Router::new()
        .route("/v1/{*path}", axum::routing::any(handle))
        .fallback(not_found)
        .with_state(core)
}

async fn not_found() -> Response {
    render::error_response(&Error::Status(404, "404 page not found".into()))
}

fn token_of(headers: &HeaderMap) -> Option<String> {
    if let Some(t) = headers.get("x-vault-token").and_then(|v| v.to_str().ok()) {
        return Some(t.trim().to_owned());
    }
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned())
}

fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .map(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).unwrap_or_default())
        .unwrap_or_default()
}

fn parse_body(bytes: &Bytes, headers: &HeaderMap) -> Result<(Object, bool), Error> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok((Object::new(), false));
    }
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if form && bytes.first() != Some(&b'{') {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes)
            .map_err(|e| Error::bad_request(format!("failed to parse form input: {e}")))?;
        return Ok((
            pairs
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
            false,
        ));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok((map, false)),
        Ok(Value::Null) => Ok((Object::new(), true)),
        Ok(_) => Err(Error::bad_request(
            "failed to decode JSON input: the body must be a JSON object",
        )),
        Err(e) if e.is_eof() => Err(Error::bad_request(
            "failed to decode JSON input: unexpected EOF",
        )),
        Err(e) => Err(Error::bad_request(format!(
            "failed to decode JSON input: {}",
            json_error_message(&e)
        ))),
    }
}

/// Where the JSON went wrong, without echoing any of the body (it may hold secrets).
fn json_error_message(e: &serde_json::Error) -> String {
    match e.classify() {
        serde_json::error::Category::Syntax => {
            format!(
                "invalid character at line {} column {}",
                e.line(),
                e.column()
            )
        }
        serde_json::error::Category::Data => "invalid value".into(),
        _ => "malformed input".into(),
    }
}

async fn handle(
    State(core): State<Arc<Core>>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    req: Request<Body>,
) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req
        .uri()
        .path()
        .strip_prefix("/v1/")
        .unwrap_or("")
        .to_owned();
    let mount_label = core.mount_label(&path);
    let request_id = crate::ids::request_id();
    let resp = match into_raw(&core, remote, req, request_id.clone()).await {
        Ok(raw) => {
            let head = method == Method::HEAD;
            let result = core.handle_request(raw).await;
            let mut r = match result {
                Ok(resp) => render::response(resp, &request_id),
                Err(e) => render::error_response(&e),
            };
            if head {
                *r.body_mut() = Body::empty();
            }
            r
        }
        Err(e) => render::error_response(&e),
    };
    metrics::counter!(
        "coffer_http_requests_total",
        "mount" => mount_label.clone(),
        "method" => method_label(&method),
        "status" => status_label(resp.status().as_u16())
    )
    .increment(1);
    metrics::histogram!("coffer_http_request_duration_seconds", "mount" => mount_label)
        .record(started.elapsed().as_secs_f64());
    resp
}

/// Label values without allocation for the common cases; anything else is
/// grouped so clients cannot grow the metric's label set.
fn method_label(m: &Method) -> &'static str {
    match m.as_str() {
        "GET" => "GET",
        "PUT" => "PUT",
        "POST" => "POST",
        "DELETE" => "DELETE",
        "LIST" => "LIST",
        "PATCH" => "PATCH",
        "HEAD" => "HEAD",
        _ => "other",
    }
}

fn status_label(code: u16) -> &'static str {
    match code {
        200 => "200",
        202 => "202",
        204 => "204",
        400 => "400",
        403 => "403",
        404 => "404",
        405 => "405",
        413 => "413",
        415 => "415",
        429 => "429",
        500 => "500",
        501 => "501",
        503 => "503",
        _ => "other",
    }
}

async fn into_raw(
    core: &Core,
    remote: SocketAddr,
    req: Request<Body>,
    id: String,
) -> Result<RawRequest, Error> {
    let (parts, body) = req.into_parts();
    let headers = &parts.headers;
    let query = query_pairs(parts.uri.query());
    let list_query = query.iter().any(|(k, v)| k == "list" && v == "true");
    let operation = match parts.method.as_str() {
        "GET" | "HEAD" if list_query => Operation::List,
        "GET" | "HEAD" => Operation::Read,
        "PUT" | "POST" => Operation::Create,
        "DELETE" => Operation::Delete,
        "LIST" => Operation::List,
        "PATCH" => {
            let Some(ct) = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
            else {
                return Err(Error::bad_request("mime: no media type"));
            };
            if !ct.starts_with("application/merge-patch+json") {
                return Err(Error::UnsupportedMediaType(ct.to_owned()));
            }
            Operation::Patch
        }
        _ => return Err(Error::Status(405, String::new())),
    };
    let wrap_ttl = match headers
        .get("x-vault-wrap-ttl")
        .and_then(|v| v.to_str().ok())
    {
        Some(v) => Some(crate::wrapping::parse_ttl(v)?),
        None => None,
    };

    // Authenticate before reading the body where possible: an unknown token on a
    // non-login path is refused without parsing anything it sent.
    let path = percent_decode(parts.uri.path().strip_prefix("/v1/").unwrap_or(""))?;
    let token = token_of(headers);
    let limit = core.config().max_request_size;
    let has_body = matches!(
        operation,
        Operation::Create | Operation::Patch | Operation::Delete
    );
    let (read_body, token_entry) = if has_body {
        match core.authenticate_early(&path, token.as_deref()).await {
            EarlyAuth::ReadBody(entry) => (true, entry),
            // The pipeline refuses (and audits) the request; its body is never read.
            EarlyAuth::SkipBody => (false, None),
        }
    } else {
        (false, None)
    };
    let bytes = if read_body {
        axum::body::to_bytes(body, limit)
            .await
            .map_err(|_| Error::TooLarge)?
    } else {
        Bytes::new()
    };
    let (mut data, null_body) = if has_body {
        parse_body(&bytes, headers)?
    } else {
        (Object::new(), false)
    };
    for (k, v) in query {
        if k == "list" && operation == Operation::List {
            continue;
        }
        data.entry(k).or_insert(Value::String(v));
    }
    Ok(RawRequest {
        id,
        operation,
        path,
        data,
        null_body,
        token,
        remote_addr: Some(remote),
        wrap_ttl,
        token_entry,
    })
}

fn percent_decode(path: &str) -> Result<String, Error> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match hex {
                Some(b) => {
                    out.push(b);
                    i += 3;
                    continue;
                }
                None => {
                    return Err(Error::bad_request(
                        "invalid percent-encoding in request path",
                    ));
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).map_err(|_| Error::bad_request("request path is not valid UTF-8"))
}

pub(crate) fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(
            percent_decode("secret/data/a%2Fb").unwrap(),
            "secret/data/a/b"
        );
        assert_eq!(percent_decode("a/%2e%2e/b").unwrap(), "a/../b");
        assert!(percent_decode("a%zz").is_err());
    }

    #[test]
    fn body_parsing() {
        let h = HeaderMap::new();
        assert!(parse_body(&Bytes::from_static(b"null"), &h).unwrap().1);
        assert!(
            parse_body(&Bytes::from_static(b""), &h)
                .unwrap()
                .0
                .is_empty()
        );
        assert_eq!(
            parse_body(&Bytes::from_static(b"{"), &h)
                .unwrap_err()
                .to_string(),
            "failed to decode JSON input: unexpected EOF"
        );
        assert!(parse_body(&Bytes::from_static(b"[1]"), &h).is_err());
    }
}
