//! A minimal blocking HTTP/1.1 client for the Vault transit calls: one
//! request per connection, `http://` over TCP and `https://` over rustls
//! (aws-lc-rs). Roots: `VAULT_CACERT` if set, else the system bundle.

use coffer_client::http1::{exchange, parse_response};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

/// A parsed `scheme://host:port` address plus path.
pub struct Url {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    pub path: String,
}

pub fn parse_url(url: &str) -> Result<Url, String> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(format!(
            "unsupported URL {url:?} (need http:// or https://)"
        ));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (
            h.to_owned(),
            p.parse().map_err(|_| format!("bad port in {url:?}"))?,
        ),
        _ => (authority.to_owned(), if tls { 443 } else { 80 }),
    };
    if host.is_empty() {
        return Err(format!("no host in {url:?}"));
    }
    Ok(Url {
        tls,
        host,
        port,
        path: path.to_owned(),
    })
}

/// Sends one request; returns status and body.
pub fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(u16, Vec<u8>), String> {
    let u = parse_url(url)?;
    let mut req = format!(
        "{method} {} HTTP/1.1\r\nHost: {}:{}\r\nUser-Agent: coffer-sops\r\nConnection: close\r\nContent-Length: {}\r\n",
        u.path,
        u.host,
        u.port,
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut msg = req.into_bytes();
    msg.extend_from_slice(body);
    let host = u
        .host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let tcp = connect(&host, u.port)?;
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(60)));
    let _ = tcp.set_write_timeout(Some(Duration::from_secs(60)));
    let raw = if u.tls {
        let config = tls_config()?;
        let name = rustls_pki_types::ServerName::try_from(host.clone())
            .map_err(|_| format!("bad TLS server name {host:?}"))?;
        let conn = rustls::ClientConnection::new(Arc::new(config), name)
            .map_err(|e| format!("tls: {e}"))?;
        let mut s = rustls::StreamOwned::new(conn, tcp);
        exchange(&mut s, &msg, MAX_RESPONSE)?
    } else {
        let mut s = tcp;
        exchange(&mut s, &msg, MAX_RESPONSE)?
    };
    parse_response(&raw)
}

/// Largest response accepted (the address may come from an untrusted file).
const MAX_RESPONSE: u64 = 4 << 20;

fn connect(host: &str, port: u16) -> Result<TcpStream, String> {
    use std::net::ToSocketAddrs;
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}:{port}: {e}"))?;
    let mut last = format!("no address for {host}:{port}");
    for a in addrs {
        match TcpStream::connect_timeout(&a, Duration::from_secs(15)) {
            Ok(s) => return Ok(s),
            Err(e) => last = format!("cannot connect to {host}:{port}: {e}"),
        }
    }
    Err(last)
}

fn tls_config() -> Result<rustls::ClientConfig, String> {
    let path = std::env::var("VAULT_CACERT")
        .unwrap_or_else(|_| coffer_client::tls::SYSTEM_CA_BUNDLE.into());
    coffer_client::tls::client_config(std::path::Path::new(&path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_responses() {
        let u = parse_url("http://127.0.0.1:8200/v1/transit/keys/x").unwrap();
        assert_eq!(
            (u.tls, u.host.as_str(), u.port, u.path.as_str()),
            (false, "127.0.0.1", 8200, "/v1/transit/keys/x")
        );
        assert_eq!(parse_url("https://vault").unwrap().port, 443);
        let (s, b) = parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap();
        assert_eq!((s, b.as_slice()), (200, &b"abcde"[..]));
        let (s, b) =
            parse_response(b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}").unwrap();
        assert_eq!((s, b.as_slice()), (404, &b"{}"[..]));
    }
}
