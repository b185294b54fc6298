//! ACL policy language (HCL and JSON) and its evaluation. IO-free.
//!
//! API contract (the server builds on exactly this; keep the signatures):
//! - `Policy::parse(name, text) -> Result<Policy, PolicyError>` accepts HCL or JSON text
//!   (and base64 of either, as OpenBao does).
//! - `Acl::new(&[Policy]) -> Acl` merges policies once; `Acl::root()` allows everything.
//! - `Acl::capabilities(path) -> Vec<&'static str>` sorted names as `sys/capabilities` shows them
//!   (`["deny"]` when nothing matches, `["root"]` for root).
//! - `Acl::authorize(op, path, params) -> Authorization` for a real request.
//!
//! Layout: [`hcl1`] reads the HCL 1 dialect policies are written in, `parse` turns
//! HCL or JSON into [`PathRule`]s, `glob` compiles path patterns into an index,
//! `acl` merges policies and evaluates requests, `params` checks parameter
//! constraints, `builtin` holds the `default` policy. See `docs/policy.md`.

mod acl;
mod builtin;
mod glob;
pub mod hcl1;
mod params;
mod parse;

use std::collections::BTreeMap;

pub use acl::{Acl, Authorization, AuthzRequest, Decision};
pub use builtin::DEFAULT_POLICY;

/// Why a policy text was rejected. Messages follow OpenBao's
/// (`failed to parse policy: path "x": path "x": invalid capability "bogus"`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("failed to parse policy: {0}")]
    Parse(String),
}

/// A set of capabilities as a bit set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Capabilities(u16);

/// Capability names and bits, sorted by name (the order `sys/capabilities` prints).
const CAPABILITY_NAMES: [(&str, Capabilities); 9] = [
    ("create", Capabilities::CREATE),
    ("delete", Capabilities::DELETE),
    ("deny", Capabilities::DENY),
    ("list", Capabilities::LIST),
    ("patch", Capabilities::PATCH),
    ("read", Capabilities::READ),
    ("scan", Capabilities::SCAN),
    ("sudo", Capabilities::SUDO),
    ("update", Capabilities::UPDATE),
];

impl Capabilities {
    pub const NONE: Capabilities = Capabilities(0);
    pub const DENY: Capabilities = Capabilities(1);
    pub const CREATE: Capabilities = Capabilities(1 << 1);
    pub const READ: Capabilities = Capabilities(1 << 2);
    pub const UPDATE: Capabilities = Capabilities(1 << 3);
    pub const DELETE: Capabilities = Capabilities(1 << 4);
    pub const LIST: Capabilities = Capabilities(1 << 5);
    pub const SUDO: Capabilities = Capabilities(1 << 6);
    pub const PATCH: Capabilities = Capabilities(1 << 7);
    /// OpenBao's paginated-scan capability; accepted and reported, no operation uses it yet.
    pub const SCAN: Capabilities = Capabilities(1 << 8);

    /// The capability a policy spells `name`, if it is one.
    pub fn from_name(name: &str) -> Option<Capabilities> {
        CAPABILITY_NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, c)| *c)
    }

    /// The capability an operation needs.
    pub fn for_operation(op: crate::logical::Operation) -> Capabilities {
        use crate::logical::Operation;
        match op {
            Operation::Read => Capabilities::READ,
            Operation::Create => Capabilities::CREATE,
            Operation::Update => Capabilities::UPDATE,
            Operation::Patch => Capabilities::PATCH,
            Operation::Delete => Capabilities::DELETE,
            Operation::List => Capabilities::LIST,
        }
    }

    pub const fn contains(self, other: Capabilities) -> bool {
        self.0 & other.0 == other.0 && other.0 != 0
    }

    pub const fn union(self, other: Capabilities) -> Capabilities {
        Capabilities(self.0 | other.0)
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Sorted names as `sys/capabilities` shows them: `["deny"]` for a deny or an empty set.
    pub fn names(self) -> Vec<&'static str> {
        if self.contains(Capabilities::DENY) || self.is_empty() {
            return vec!["deny"];
        }
        CAPABILITY_NAMES
            .iter()
            .filter(|(_, c)| self.contains(*c))
            .map(|(n, _)| *n)
            .collect()
    }

    /// Bit index of a single capability (0..9), used to index per-capability tables.
    pub(crate) fn index(self) -> usize {
        self.0.trailing_zeros() as usize
    }

    /// Each single capability in the set.
    pub(crate) fn iter(self) -> impl Iterator<Item = Capabilities> {
        (0..CAPABILITY_NAMES.len())
            .map(|i| Capabilities(1 << i))
            .filter(move |c| self.contains(*c))
    }
}

/// One `path "<pattern>" { ... }` stanza after parsing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PathRule {
    /// The pattern as written, leading `/` removed, trailing `*` kept.
    pub pattern: String,
    /// Granted capabilities; a `deny` stanza holds only [`Capabilities::DENY`].
    pub capabilities: Capabilities,
    /// Parameter name (lowercased) to allowed values; an empty list allows any value.
    pub allowed_parameters: BTreeMap<String, Vec<serde_json::Value>>,
    /// Parameter name (lowercased) to denied values; an empty list denies any value.
    pub denied_parameters: BTreeMap<String, Vec<serde_json::Value>>,
    /// Parameters that must be present, as written.
    pub required_parameters: Vec<String>,
    /// Nanoseconds, as OpenBao keeps them (`"500ms"` stays below a second);
    /// 0 means unset, and a negative value is kept but never enforced.
    pub min_wrapping_ttl_ns: i64,
    /// Nanoseconds; see `min_wrapping_ttl_ns`.
    pub max_wrapping_ttl_ns: i64,
    /// The pattern uses identity templating (`{{identity.entity.id}}`); such
    /// stanzas need an identity store and are skipped when building an [`Acl`].
    pub templated: bool,
}

/// A parsed ACL policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub name: String,
    /// The policy text as stored and returned by reads (base64 input decoded).
    pub text: String,
    pub rules: Vec<PathRule>,
}

impl Policy {
    /// Parses HCL or JSON policy text, or standard base64 of either.
    pub fn parse(name: &str, text: &str) -> Result<Policy, PolicyError> {
        let text = parse::decode_base64(text).unwrap_or_else(|| text.to_owned());
        let rules = parse::parse_rules(&text)?;
        Ok(Policy {
            name: name.to_owned(),
            text,
            rules,
        })
    }

    /// The built-in `default` policy.
    pub fn default_policy() -> Policy {
        // The built-in text is covered by the `default_policy_parses` test.
        Policy::parse("default", DEFAULT_POLICY).unwrap_or(Policy {
            name: "default".to_owned(),
            text: DEFAULT_POLICY.to_owned(),
            rules: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_names_sorted() {
        let all = Capabilities::CREATE
            .union(Capabilities::READ)
            .union(Capabilities::UPDATE)
            .union(Capabilities::PATCH)
            .union(Capabilities::DELETE)
            .union(Capabilities::LIST)
            .union(Capabilities::SUDO)
            .union(Capabilities::SCAN);
        let names = all.names();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
        assert_eq!(names.len(), 8);
        assert_eq!(Capabilities::NONE.names(), ["deny"]);
        assert_eq!(all.union(Capabilities::DENY).names(), ["deny"]);
        assert_eq!(Capabilities::from_name("bogus"), None);
        assert_eq!(Capabilities::from_name("root"), None);
    }

    #[test]
    fn default_policy_parses() {
        let p = Policy::parse("default", DEFAULT_POLICY).expect("built-in default policy parses");
        assert!(
            p.rules
                .iter()
                .any(|r| r.pattern == "auth/token/lookup-self")
        );
        assert_eq!(Policy::default_policy(), p);
    }
}
