//! A minimal blocking HTTP/1.1 client for coffer's API: one request per connection, `http://`
//! over TCP and `https://` over rustls (aws-lc-rs), connect and read/write timeouts, bounded
//! responses. Error messages name the address, never a header value (the token is a header).

use coffer_client::http1::{exchange, parse_response};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

/// Largest response accepted.
const MAX_RESPONSE: u64 = 4 << 20;

/// A parsed `scheme://host[:port]` base address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base {
    tls: bool,
    host: String,
    port: u16,
    prefix: String,
}

impl Base {
    /// Parses `http://host:port` or `https://host[:port]` (a path prefix is kept).
    pub fn parse(url: &str) -> Result<Base, String> {
        let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(format!(
                "invalid coffer address {url:?}: use http://HOST:PORT or https://HOST[:PORT]"
            ));
        };
        let (authority, prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.contains(']') || h.ends_with(']') => (
                h,
                p.parse()
                    .map_err(|_| format!("invalid port in coffer address {url:?}"))?,
            ),
            _ => (authority, if tls { 443 } else { 80 }),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(format!("no host in coffer address {url:?}"));
        }
        Ok(Base {
            tls,
            host: host.to_owned(),
            port,
            prefix: prefix.to_owned(),
        })
    }

    /// `host:port` for messages.
    pub fn display(&self) -> String {
        format!(
            "{}://{}:{}",
            if self.tls { "https" } else { "http" },
            self.host,
            self.port
        )
    }
}

/// Transport settings.
#[derive(Debug, Clone)]
pub struct Transport {
    /// Where coffer listens.
    pub base: Base,
    /// PEM bundle of trusted CAs for https (default: the system bundle).
    pub ca_file: Option<std::path::PathBuf>,
    /// Connect, read and write timeout.
    pub timeout: Duration,
}

impl Transport {
    /// Sends one request to `path` (starting with `/`); returns status and body.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<(u16, Vec<u8>), String> {
        let b = &self.base;
        let host_header = if b.host.contains(':') {
            format!("[{}]:{}", b.host, b.port)
        } else {
            format!("{}:{}", b.host, b.port)
        };
        let mut head = format!(
            "{method} {}{path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: coffer-sealed\r\nConnection: close\r\nContent-Length: {}\r\n",
            b.prefix,
            body.len()
        );
        for (k, v) in headers {
            head.push_str(k);
            head.push_str(": ");
            head.push_str(v);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        let mut msg = zeroize::Zeroizing::new(head.into_bytes());
        msg.extend_from_slice(body);
        let tcp = self.connect()?;
        let _ = tcp.set_read_timeout(Some(self.timeout));
        let _ = tcp.set_write_timeout(Some(self.timeout));
        let raw = if b.tls {
            let config = self.tls_config()?;
            let name = rustls_pki_types::ServerName::try_from(b.host.clone())
                .map_err(|_| format!("invalid tls server name {:?}", b.host))?;
            let conn = rustls::ClientConnection::new(Arc::new(config), name)
                .map_err(|e| format!("tls to {}: {e}", b.display()))?;
            let mut s = rustls::StreamOwned::new(conn, tcp);
            exchange(&mut s, &msg, MAX_RESPONSE)
        } else {
            let mut s = tcp;
            exchange(&mut s, &msg, MAX_RESPONSE)
        }
        .map_err(|e| format!("{}: {e}", b.display()))?;
        parse_response(&raw).map_err(|e| format!("{}: {e}", b.display()))
    }

    fn connect(&self) -> Result<TcpStream, String> {
        let b = &self.base;
        let addrs = (b.host.as_str(), b.port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve coffer address {}: {e}", b.display()))?;
        let mut last = format!("no address for {}", b.display());
        for a in addrs {
            match TcpStream::connect_timeout(&a, self.timeout) {
                Ok(s) => return Ok(s),
                Err(e) => last = format!("cannot connect to coffer at {}: {e}", b.display()),
            }
        }
        Err(last)
    }

    fn tls_config(&self) -> Result<rustls::ClientConfig, String> {
        let path = self
            .ca_file
            .clone()
            .unwrap_or_else(|| coffer_client::tls::SYSTEM_CA_BUNDLE.into());
        coffer_client::tls::client_config(&path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_responses() {
        let b = Base::parse("http://127.0.0.1:8200").unwrap();
        assert_eq!((b.tls, b.host.as_str(), b.port), (false, "127.0.0.1", 8200));
        assert_eq!(Base::parse("https://coffer/").unwrap().port, 443);
        assert_eq!(Base::parse("https://[::1]:9").unwrap().host, "::1");
        assert!(Base::parse("coffer:8200").unwrap_err().contains("http://"));
        assert!(Base::parse("http://h:x").is_err());
        let (s, b) = parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((s, b.as_slice()), (200, &b"abcde"[..]));
        assert!(parse_response(b"garbage").is_err());
    }
}
