//! The TokenReview client: `POST {host}/apis/authentication.k8s.io/v1/tokenreviews`
//! over HTTPS (rustls with only the configured CA as trust anchor, aws-lc-rs
//! provider; plain `http://` only to a loopback address), with connect and
//! overall timeouts, and the response checks OpenBao makes.
//!
//! Errors never carry the reviewed JWT or the bearer token.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue, USER_AGENT};
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const TOTAL_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_RESPONSE: usize = 1 << 20;
const PATH: &str = "/apis/authentication.k8s.io/v1/tokenreviews";
/// Idle connections kept for reuse (OpenBao's Go client pools too).
const MAX_IDLE: usize = 8;

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// Why a review did not confirm the token. All of them make the login a 403;
/// the text goes only to debug logs.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("invalid kubernetes_host: {0}")]
    Host(String),
    #[error("connecting to the kubernetes API failed: {0}")]
    Connect(String),
    #[error("the kubernetes API did not answer within {0:?}")]
    Timeout(Duration),
    #[error("http exchange with the kubernetes API failed: {0}")]
    Http(String),
    #[error(
        "lookup failed: service account unauthorized; this could mean it has been deleted or recreated with a new token"
    )]
    Unauthorized,
    #[error("lookup failed: kubernetes API answered status {0}")]
    Status(u16),
    #[error("lookup failed: {0}")]
    Lookup(String),
    #[error("{0}")]
    Namespace(String),
    #[error("lookup failed: service account jwt not valid")]
    NotAuthenticated,
    #[error(
        "lookup failed: service account jwt valid for audience(s) {got:?}, but wanted {want:?}"
    )]
    Audience { got: Vec<String>, want: Vec<String> },
    #[error("lookup failed: unexpected username format")]
    UsernameFormat,
    #[error("lookup failed: username returned is not a service account")]
    NotServiceAccount,
}

/// The identity the API server vouched for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reviewed {
    pub name: String,
    pub namespace: String,
    pub uid: String,
}

/// A parsed `kubernetes_host`.
struct Target {
    tls: bool,
    host: String,
    port: u16,
    authority: String,
    uri: Uri,
}

fn parse_host(host: &str) -> Result<Target, String> {
    let base = host.trim_end_matches('/');
    let full = if base.contains("://") {
        format!("{base}{PATH}")
    } else {
        format!("https://{base}{PATH}")
    };
    let uri: Uri = full
        .parse()
        .map_err(|e| format!("{host:?} is not a URL: {e}"))?;
    let tls = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        other => return Err(format!("{host:?} has unsupported scheme {other:?}")),
    };
    let authority = uri
        .authority()
        .ok_or_else(|| format!("{host:?} has no host"))?
        .to_string();
    let raw_host = uri.host().unwrap_or_default();
    let host_only = raw_host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    Ok(Target {
        tls,
        host: host_only,
        port,
        authority,
        uri,
    })
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Config-time check of `kubernetes_host`: a URL, and `http://` only on loopback.
pub fn check_host(host: &str) -> Result<(), String> {
    let t = parse_host(host).map_err(|e| format!("invalid kubernetes_host: {e}"))?;
    if !t.tls && !is_loopback(&t.host) {
        return Err(format!(
            "invalid kubernetes_host {host:?}: plain http is only allowed to a loopback address; use https"
        ));
    }
    Ok(())
}

/// The HTTP client, with the rustls configuration cached per CA bundle.
pub struct Reviewer {
    tls: Mutex<Option<(String, Arc<ClientConfig>)>>,
    /// Idle keep-alive connections, keyed by scheme, authority and CA digest.
    idle: Mutex<Vec<(String, Sender)>>,
    connect_timeout: Duration,
    total_timeout: Duration,
}

impl Default for Reviewer {
    fn default() -> Self {
        Reviewer::with_timeouts(CONNECT_TIMEOUT, TOTAL_TIMEOUT)
    }
}

/// How to reach the API server.
pub struct Api<'a> {
    pub host: &'a str,
    pub ca_pem: &'a str,
    /// The bearer for the call.
    pub bearer: &'a str,
}

/// What to review and how to reach the API server.
pub struct ReviewRequest<'a> {
    pub host: &'a str,
    pub ca_pem: &'a str,
    /// The bearer for the call: the reviewer JWT, or the client's own JWT.
    pub bearer: &'a str,
    pub jwt: &'a str,
    pub audiences: &'a [String],
}

impl Reviewer {
    pub fn with_timeouts(connect_timeout: Duration, total_timeout: Duration) -> Self {
        Reviewer {
            tls: Mutex::new(None),
            idle: Mutex::new(Vec::new()),
            connect_timeout,
            total_timeout,
        }
    }

    fn tls_config(&self, ca_pem: &str) -> Result<Arc<ClientConfig>, ReviewError> {
        let mut cache = self.tls.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((ca, cfg)) = cache.as_ref()
            && ca == ca_pem
        {
            return Ok(cfg.clone());
        }
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()).flatten() {
            // Unparseable certificates are skipped (OpenBao warns and goes on);
            // with no anchors every handshake fails, which is the safe answer.
            let _ = roots.add(cert);
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let cfg = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ReviewError::Connect(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let cfg = Arc::new(cfg);
        *cache = Some((ca_pem.to_owned(), cfg.clone()));
        Ok(cfg)
    }

    /// Calls TokenReview and checks the answer as OpenBao does.
    pub async fn review(&self, r: &ReviewRequest<'_>) -> Result<Reviewed, ReviewError> {
        let mut spec = json!({"token": r.jwt});
        if !r.audiences.is_empty() {
            spec["audiences"] = json!(r.audiences);
        }
        let body = json!({"metadata": {}, "spec": spec, "status": {"user": {}}}).to_string();
        let api = Api {
            host: r.host,
            ca_pem: r.ca_pem,
            bearer: r.bearer,
        };
        let (status, body) = self.call(&api, PATH, Some(body)).await?;
        check_response(status, &body, r.audiences)
    }

    /// `GET /api/v1/namespaces/<ns>`: the namespace's labels (for
    /// `bound_service_account_namespace_selector`).
    pub async fn namespace_labels(
        &self,
        api: &Api<'_>,
        namespace: &str,
    ) -> Result<serde_json::Map<String, Value>, ReviewError> {
        if api.bearer.is_empty() {
            return Err(ReviewError::Namespace(
                "namespace lookup failed: TokenReviewer JWT needs to be configured to use namespace selectors".into(),
            ));
        }
        if namespace.is_empty()
            || !namespace
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        {
            return Err(ReviewError::Namespace(format!(
                "invalid namespace name {namespace:?}"
            )));
        }
        let (status, body) = self
            .call(api, &format!("/api/v1/namespaces/{namespace}"), None)
            .await?;
        if status != 200 {
            return Err(ReviewError::Namespace(format!(
                "failed to get namespace (code {status})"
            )));
        }
        let v: Value = serde_json::from_slice(&body)
            .map_err(|e| ReviewError::Namespace(format!("malformed namespace object: {e}")))?;
        Ok(v.pointer("/metadata/labels")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default())
    }

    /// One HTTP/1.1 exchange with the API server, under the timeouts.
    async fn call(
        &self,
        api: &Api<'_>,
        api_path: &str,
        body: Option<String>,
    ) -> Result<(u16, Bytes), ReviewError> {
        let target = parse_host(api.host).map_err(ReviewError::Host)?;
        let base = target.uri.path().strip_suffix(PATH).unwrap_or("");
        let mut bearer = HeaderValue::from_str(&format!("Bearer {}", api.bearer.trim()))
            .map_err(|_| ReviewError::Http("bearer token is not a valid header value".into()))?;
        bearer.set_sensitive(true);
        let path = format!("{base}{api_path}");
        let make = || {
            let builder = match &body {
                Some(_) => Request::post(path.as_str()),
                None => Request::get(path.as_str()),
            };
            builder
                .header(HOST, target.authority.as_str())
                .header(AUTHORIZATION, bearer.clone())
                .header(CONTENT_TYPE, "application/json")
                .header(ACCEPT, "application/json")
                .header(USER_AGENT, "coffer-kubernetes-auth")
                .body(Full::new(Bytes::from(body.clone().unwrap_or_default())))
                .map_err(|e| ReviewError::Http(e.to_string()))
        };
        let key = {
            let ca = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, api.ca_pem.as_bytes());
            format!(
                "{}|{}|{}",
                target.tls,
                target.authority,
                hex::encode(ca.as_ref())
            )
        };
        let exchange = async {
            if let Some(mut sender) = self.take_idle(&key)
                && let Ok(answer) = exchange(&mut sender, make()?).await
            {
                self.put_idle(key, sender);
                return Ok(answer);
            }
            let mut sender = self.connect(&target, api.ca_pem).await?;
            let answer = exchange(&mut sender, make()?).await?;
            self.put_idle(key, sender);
            Ok(answer)
        };
        tokio::time::timeout(self.total_timeout, exchange)
            .await
            .map_err(|_| ReviewError::Timeout(self.total_timeout))?
    }

    fn take_idle(&self, key: &str) -> Option<Sender> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        idle.retain(|(_, s)| !s.is_closed());
        let pos = idle.iter().position(|(k, _)| k == key)?;
        Some(idle.swap_remove(pos).1)
    }

    fn put_idle(&self, key: String, sender: Sender) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE && !sender.is_closed() {
            idle.push((key, sender));
        }
    }

    /// A new connection (TCP, then TLS unless plain loopback http).
    async fn connect(&self, target: &Target, ca_pem: &str) -> Result<Sender, ReviewError> {
        let tcp = tokio::time::timeout(
            self.connect_timeout,
            TcpStream::connect((target.host.as_str(), target.port)),
        )
        .await
        .map_err(|_| ReviewError::Timeout(self.connect_timeout))?
        .map_err(|e| ReviewError::Connect(e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        if target.tls {
            let name = ServerName::try_from(target.host.clone())
                .map_err(|e| ReviewError::Host(e.to_string()))?;
            let tls = TlsConnector::from(self.tls_config(ca_pem)?)
                .connect(name, tcp)
                .await
                .map_err(|e| ReviewError::Connect(e.to_string()))?;
            handshake(tls).await
        } else {
            handshake(tcp).await
        }
    }
}

/// HTTP/1.1 handshake; the connection task ends when the sender is dropped.
async fn handshake<S>(io: S) -> Result<Sender, ReviewError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| ReviewError::Http(e.to_string()))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

async fn exchange(
    sender: &mut Sender,
    req: Request<Full<Bytes>>,
) -> Result<(u16, Bytes), ReviewError> {
    sender
        .ready()
        .await
        .map_err(|e| ReviewError::Http(e.to_string()))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| ReviewError::Http(e.to_string()))?;
    let status = resp.status().as_u16();
    let body = Limited::new(resp.into_body(), MAX_RESPONSE)
        .collect()
        .await
        .map_err(|e| ReviewError::Http(e.to_string()))?
        .to_bytes();
    Ok((status, body))
}

/// Interprets the API server's answer (status, `status.authenticated`,
/// audiences, `system:serviceaccount:<ns>:<name>`).
pub fn check_response(
    status: u16,
    body: &[u8],
    want_aud: &[String],
) -> Result<Reviewed, ReviewError> {
    if !(200..=206).contains(&status) {
        return Err(if status == 401 {
            ReviewError::Unauthorized
        } else {
            ReviewError::Status(status)
        });
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ReviewError::Lookup(format!("malformed TokenReview response: {e}")))?;
    let st = match v.get("status") {
        Some(Value::Object(st)) => st,
        Some(Value::String(s)) if s == "Success" => {
            return Err(ReviewError::Lookup("malformed TokenReview response".into()));
        }
        _ => {
            let msg = v.get("message").and_then(Value::as_str).unwrap_or("");
            if v.get("code").and_then(Value::as_u64) == Some(401) {
                return Err(ReviewError::Unauthorized);
            }
            return Err(ReviewError::Lookup(format!("kubernetes API error: {msg}")));
        }
    };
    if let Some(err) = st
        .get("error")
        .and_then(Value::as_str)
        .filter(|e| !e.is_empty())
    {
        return Err(ReviewError::Lookup(err.to_owned()));
    }
    if st.get("authenticated").and_then(Value::as_bool) != Some(true) {
        return Err(ReviewError::NotAuthenticated);
    }
    if !want_aud.is_empty() {
        let got: Vec<String> = st
            .get("audiences")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if !want_aud.iter().any(|a| got.contains(a)) {
            return Err(ReviewError::Audience {
                got,
                want: want_aud.to_vec(),
            });
        }
    }
    let user = st.get("user").and_then(Value::as_object);
    let username = user
        .and_then(|u| u.get("username"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let parts: Vec<&str> = username.split(':').collect();
    if parts.len() != 4 {
        return Err(ReviewError::UsernameFormat);
    }
    if parts[0] != "system" || parts[1] != "serviceaccount" {
        return Err(ReviewError::NotServiceAccount);
    }
    Ok(Reviewed {
        name: parts[3].to_owned(),
        namespace: parts[2].to_owned(),
        uid: user
            .and_then(|u| u.get("uid"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok_body(aud: &[&str]) -> Vec<u8> {
        json!({
            "kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"creationTimestamp": null},
            "spec": {"token": "x"},
            "status": {"authenticated": true,
                "user": {"username": "system:serviceaccount:default:app", "uid": "1111-2222",
                         "groups": ["system:serviceaccounts"]},
                "audiences": aud}
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn accepts_real_v1_shape() {
        let r = check_response(201, &ok_body(&["vault"]), &["vault".into()]).unwrap();
        assert_eq!(
            r,
            Reviewed {
                name: "app".into(),
                namespace: "default".into(),
                uid: "1111-2222".into()
            }
        );
        assert!(check_response(200, &ok_body(&[]), &[]).is_ok());
    }

    #[test]
    fn refusals() {
        assert!(matches!(
            check_response(201, &ok_body(&["other"]), &["vault".into()]),
            Err(ReviewError::Audience { .. })
        ));
        let unauth = json!({"status": {"authenticated": false, "user": {}}}).to_string();
        assert!(matches!(
            check_response(201, unauth.as_bytes(), &[]),
            Err(ReviewError::NotAuthenticated)
        ));
        let with_err =
            json!({"status": {"authenticated": false, "error": "token expired"}}).to_string();
        assert!(matches!(
            check_response(201, with_err.as_bytes(), &[]),
            Err(ReviewError::Lookup(_))
        ));
        assert!(matches!(
            check_response(401, b"{}", &[]),
            Err(ReviewError::Unauthorized)
        ));
        assert!(matches!(
            check_response(500, b"{}", &[]),
            Err(ReviewError::Status(500))
        ));
        let k8s_status =
            json!({"kind": "Status", "status": "Failure", "message": "forbidden", "code": 403});
        assert!(check_response(201, k8s_status.to_string().as_bytes(), &[]).is_err());
        let user =
            json!({"status": {"authenticated": true, "user": {"username": "alice"}}}).to_string();
        assert!(matches!(
            check_response(201, user.as_bytes(), &[]),
            Err(ReviewError::UsernameFormat)
        ));
        let node =
            json!({"status": {"authenticated": true, "user": {"username": "system:node:a:b"}}})
                .to_string();
        assert!(matches!(
            check_response(201, node.as_bytes(), &[]),
            Err(ReviewError::NotServiceAccount)
        ));
    }

    fn request<'a>(host: &'a str, aud: &'a [String]) -> ReviewRequest<'a> {
        ReviewRequest {
            host,
            ca_pem: "",
            bearer: "reviewer",
            jwt: "a.b.c",
            audiences: aud,
        }
    }

    #[tokio::test]
    async fn a_silent_api_server_times_out() {
        // Accepts connections but never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hold = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((sock, _)) = listener.accept().await {
                held.push(sock);
            }
        });
        let reviewer =
            Reviewer::with_timeouts(Duration::from_millis(200), Duration::from_millis(300));
        let host = format!("http://{addr}");
        let started = std::time::Instant::now();
        let err = reviewer.review(&request(&host, &[])).await.unwrap_err();
        assert!(matches!(err, ReviewError::Timeout(_)), "{err}");
        assert!(started.elapsed() < Duration::from_secs(2));
        hold.abort();
    }

    #[tokio::test]
    async fn plain_http_exchange_and_request_shape() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 8192];
            let mut got = Vec::new();
            loop {
                let n = sock.read(&mut buf).await.unwrap();
                got.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&got).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length: ")
                                .map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap_or(0);
                    if body.len() >= len {
                        break;
                    }
                }
            }
            let reply = String::from_utf8(ok_body(&["vault"])).unwrap();
            let resp = format!(
                "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{reply}",
                reply.len()
            );
            sock.write_all(resp.as_bytes()).await.unwrap();
            String::from_utf8(got).unwrap()
        });
        let aud = vec!["vault".to_owned()];
        let host = format!("http://{addr}/");
        let r = Reviewer::default()
            .review(&request(&host, &aud))
            .await
            .unwrap();
        assert_eq!(r.uid, "1111-2222");
        let raw = server.await.unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        assert!(
            head.starts_with("POST /apis/authentication.k8s.io/v1/tokenreviews HTTP/1.1\r\n"),
            "{head}"
        );
        assert!(
            head.to_ascii_lowercase()
                .contains("authorization: bearer reviewer\r\n")
        );
        assert_eq!(
            body,
            r#"{"metadata":{},"spec":{"token":"a.b.c","audiences":["vault"]},"status":{"user":{}}}"#
        );
    }

    #[test]
    fn host_rules() {
        assert!(check_host("https://10.0.0.1:6443").is_ok());
        assert!(check_host("kubernetes.default.svc").is_ok());
        assert!(check_host("http://127.0.0.1:8343").is_ok());
        assert!(check_host("http://[::1]:8343/").is_ok());
        assert!(check_host("http://10.0.0.1:8080").is_err());
        assert!(check_host("ftp://x").is_err());
        let t = parse_host("https://[::1]:6443/prefix/").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 6443));
        assert_eq!(
            t.uri.path(),
            "/prefix/apis/authentication.k8s.io/v1/tokenreviews"
        );
    }
}
