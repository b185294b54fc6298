//! Certificate sources and a minimal blocking HTTP/1.1 client for the controller endpoints
//! (`/v1/cert.pem`, `/v1/verify`, `/v1/rotate`): local paths, `file://`, `http://` and
//! `https://` (rustls on aws-lc-rs, roots from `SSL_CERT_FILE` or the system bundle).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

/// Failures talking to a certificate source or the controller.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// Local file problem.
    #[error("cannot read {path}: {reason}")]
    File { path: String, reason: String },
    /// Unsupported or malformed URL.
    #[error("invalid url {url:?}: {reason}")]
    Url { url: String, reason: String },
    /// Network or TLS failure.
    #[error("cannot reach {url}: {reason}")]
    Io { url: String, reason: String },
    /// Non-2xx answer when fetching.
    #[error("{url} answered http {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
}

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Body bytes.
    pub body: Vec<u8>,
}

const TIMEOUT: Duration = Duration::from_secs(30);

/// Whether `s` is an `http(s)://` URL.
pub fn is_http_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

/// Reads a certificate (or any file) from a path, `file://` URL or `http(s)://` URL.
pub fn read_source(source: &str) -> Result<Vec<u8>, FetchError> {
    if is_http_url(source) {
        let r = request("GET", source, None)?;
        if !(200..300).contains(&r.status) {
            return Err(FetchError::Status {
                url: source.into(),
                status: r.status,
                body: String::from_utf8_lossy(&r.body)
                    .trim()
                    .chars()
                    .take(200)
                    .collect(),
            });
        }
        return Ok(r.body);
    }
    let path = source.strip_prefix("file://").unwrap_or(source);
    std::fs::read(path).map_err(|e| FetchError::File {
        path: path.into(),
        reason: e.to_string(),
    })
}

struct Url<'a> {
    tls: bool,
    host: &'a str,
    port: u16,
    path: &'a str,
}

fn parse_url(url: &str) -> Result<Url<'_>, FetchError> {
    let bad = |reason: &str| FetchError::Url {
        url: url.into(),
        reason: reason.into(),
    };
    let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(bad("only http:// and https:// are supported"));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.contains('@') {
        return Err(bad("credentials in urls are not supported"));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => {
            (h, p.parse::<u16>().map_err(|_| bad("bad port"))?)
        }
        _ => (authority, if tls { 443 } else { 80 }),
    };
    if host.is_empty() {
        return Err(bad("missing host"));
    }
    Ok(Url {
        tls,
        host: host.trim_start_matches('[').trim_end_matches(']'),
        port,
        path,
    })
}

/// Connection options beyond the defaults (kubeconfig clusters and users).
#[derive(Clone, Default)]
pub struct HttpOptions {
    /// PEM CA bundle to trust instead of the system roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Skip server certificate verification (`insecure-skip-tls-verify`).
    pub insecure: bool,
    /// Client certificate and key (PEM) for mutual TLS.
    pub client_cert: Option<(Vec<u8>, Vec<u8>)>,
    /// Bearer token.
    pub bearer: Option<String>,
}

impl std::fmt::Debug for HttpOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpOptions")
            .field("custom_ca", &self.ca_pem.is_some())
            .field("insecure", &self.insecure)
            .field("client_cert", &self.client_cert.is_some())
            .field("bearer", &self.bearer.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Accepts any server certificate (only with `insecure-skip-tls-verify`).
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &rustls_pki_types::CertificateDer<'_>,
        _: &[rustls_pki_types::CertificateDer<'_>],
        _: &rustls_pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn tls_config(opts: &HttpOptions) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = if opts.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
    } else {
        let mut roots = rustls::RootCertStore::empty();
        let certs: Vec<CertificateDer<'static>> = match &opts.ca_pem {
            Some(pem) => CertificateDer::pem_slice_iter(pem)
                .collect::<Result<_, _>>()
                .map_err(|e| format!("bad ca data: {e}"))?,
            None => {
                let bundle = std::env::var("SSL_CERT_FILE")
                    .unwrap_or_else(|_| "/etc/ssl/certs/ca-certificates.crt".into());
                CertificateDer::pem_file_iter(&bundle)
                    .map_err(|e| format!("cannot read ca bundle {bundle}: {e}"))?
                    .collect::<Result<_, _>>()
                    .map_err(|e| e.to_string())?
            }
        };
        for c in certs {
            let _ = roots.add(c);
        }
        builder.with_root_certificates(roots)
    };
    let cfg = match &opts.client_cert {
        Some((cert, key)) => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert)
                .collect::<Result<_, _>>()
                .map_err(|e| format!("bad client certificate: {e}"))?;
            let key =
                PrivateKeyDer::from_pem_slice(key).map_err(|e| format!("bad client key: {e}"))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| e.to_string())?
        }
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(cfg))
}

/// Sends one request (`Connection: close`) and reads the whole answer.
pub fn request(
    method: &str,
    url: &str,
    body: Option<(&str, &[u8])>,
) -> Result<Response, FetchError> {
    request_with(method, url, body, &HttpOptions::default())
}

/// [`request`] with explicit TLS and authentication options.
pub fn request_with(
    method: &str,
    url: &str,
    body: Option<(&str, &[u8])>,
    opts: &HttpOptions,
) -> Result<Response, FetchError> {
    let u = parse_url(url)?;
    let io = |e: String| FetchError::Io {
        url: url.into(),
        reason: e,
    };
    let addr = (u.host, u.port)
        .to_socket_addrs()
        .map_err(|e| io(e.to_string()))?
        .next()
        .ok_or_else(|| io("no address".into()))?;
    let tcp = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| io(e.to_string()))?;
    tcp.set_read_timeout(Some(TIMEOUT))
        .map_err(|e| io(e.to_string()))?;
    tcp.set_write_timeout(Some(TIMEOUT))
        .map_err(|e| io(e.to_string()))?;
    let mut head = format!(
        "{method} {} HTTP/1.1\r\nHost: {}\r\nAccept: application/x-pem-file, */*\r\nUser-Agent: coffer-seal\r\nConnection: close\r\n",
        u.path, u.host
    );
    if let Some(token) = &opts.bearer {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    if let Some((ctype, b)) = body {
        head.push_str(&format!(
            "Content-Type: {ctype}\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    head.push_str("\r\n");
    let mut raw = Vec::new();
    let payload = body.map(|(_, b)| b).unwrap_or_default();
    if u.tls {
        let name = rustls_pki_types::ServerName::try_from(u.host.to_owned())
            .map_err(|e| io(e.to_string()))?;
        let conn = rustls::ClientConnection::new(tls_config(opts).map_err(&io)?, name)
            .map_err(|e| io(e.to_string()))?;
        let mut s = rustls::StreamOwned::new(conn, tcp);
        s.write_all(head.as_bytes())
            .and_then(|_| s.write_all(payload))
            .map_err(|e| io(e.to_string()))?;
        // Servers that close without close_notify give UnexpectedEof after the body; keep what we got.
        if let Err(e) = s.read_to_end(&mut raw)
            && (e.kind() != std::io::ErrorKind::UnexpectedEof || raw.is_empty())
        {
            return Err(io(e.to_string()));
        }
    } else {
        let mut s = tcp;
        s.write_all(head.as_bytes())
            .and_then(|_| s.write_all(payload))
            .map_err(|e| io(e.to_string()))?;
        s.read_to_end(&mut raw).map_err(|e| io(e.to_string()))?;
    }
    parse_response(&raw).ok_or_else(|| io("malformed http response".into()))
}

fn parse_response(raw: &[u8]) -> Option<Response> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let mut chunked = false;
    let mut length = None;
    for l in lines {
        let (k, v) = l.split_once(':')?;
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
        if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
            chunked = true;
        } else if k == "content-length" {
            length = v.parse::<usize>().ok();
        }
    }
    let rest = &raw[end + 4..];
    let body = if chunked {
        dechunk(rest)?
    } else if let Some(n) = length {
        rest.get(..n)?.to_vec()
    } else {
        rest.to_vec()
    };
    Some(Response { status, body })
}

fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_str = std::str::from_utf8(&rest[..eol]).ok()?;
        let size = usize::from_str_radix(size_str.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_responses() {
        let u = parse_url("http://127.0.0.1:8080/v1/cert.pem").unwrap();
        assert_eq!(
            (u.tls, u.host, u.port, u.path),
            (false, "127.0.0.1", 8080, "/v1/cert.pem")
        );
        let u = parse_url("https://example.com").unwrap();
        assert_eq!((u.tls, u.port, u.path), (true, 443, "/"));
        assert!(parse_url("ftp://x").is_err());
        let r = parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"abcde"[..]));
        let r = parse_response(b"HTTP/1.1 409 Conflict\r\nContent-Length: 2\r\n\r\nnoXX").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (409, &b"no"[..]));
    }
}
