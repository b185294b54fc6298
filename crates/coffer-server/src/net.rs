//! Network helpers: CIDR parsing and matching for bound CIDR lists.

use std::net::IpAddr;

use ipnet::IpNet;

#[derive(Debug, thiserror::Error)]
#[error("invalid CIDR block {0:?}")]
pub struct CidrError(String);

/// Parses `10.0.0.0/8` or a bare address (a /32 or /128).
pub fn parse_cidr(s: &str) -> Result<IpNet, CidrError> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| CidrError(s.to_owned()))
}

/// True when `cidrs` is empty or one of them contains `addr`.
pub fn allowed(cidrs: &[String], addr: Option<IpAddr>) -> bool {
    if cidrs.is_empty() {
        return true;
    }
    let Some(addr) = addr else {
        return false;
    };
    cidrs
        .iter()
        .filter_map(|c| parse_cidr(c).ok())
        .any(|net| net.contains(&addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_matching() {
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(allowed(&[], Some(local)));
        assert!(allowed(&["127.0.0.1/32".into()], Some(local)));
        assert!(allowed(&["127.0.0.1".into()], Some(local)));
        assert!(!allowed(&["10.0.0.0/8".into()], Some(local)));
        assert!(parse_cidr("nope").is_err());
    }
}
