//! What the offline tools (`coffer sops`, the sealed-secrets controller's
//! coffer key source) share to talk HTTP/1.1 to a coffer or Vault server over
//! a stream they opened themselves (plain TCP or rustls, configured by [`tls`]): one request-response
//! exchange with a size cap, and response parsing (content-length or chunked).
//! No async runtime, no HTTP framework.
#![forbid(unsafe_code)]

pub mod http1;
pub mod tls;
