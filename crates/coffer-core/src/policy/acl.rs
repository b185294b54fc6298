//! The compiled ACL: policies merged once, then evaluated per request.
//!
//! Merging (OpenBao's `NewACL`): stanzas with the same pattern, from any
//! policies, become one rule: capabilities are unioned; a `deny` anywhere makes
//! the rule deny-only; parameter lists merge (an empty list, meaning any value,
//! absorbs value lists); required parameters union; wrapping TTL bounds take the
//! smaller non-zero value. Stanzas with different patterns never merge: the one
//! rule that governs a path is chosen by [`super::glob`].
//!
//! Evaluation allocates nothing on the common path: [`Acl::check`] returns a
//! borrowed [`Decision`]; [`Acl::authorize`] copies the granting policy names.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use super::glob::{FastMap, GlobIndex, PatternKey};
use super::params::{ParamRules, merge_map};
use super::{Capabilities, PathRule, Policy};
use crate::logical::Operation;

const NANOS: i64 = 1_000_000_000;

/// One merged rule.
#[derive(Debug, Clone, Default)]
struct Rule {
    caps: Capabilities,
    /// Nanoseconds, signed, 0 = unset (as OpenBao).
    min_wrapping_ttl: i64,
    max_wrapping_ttl: i64,
    params: ParamRules,
    /// Per capability bit: names of the policies granting it, sorted, unique.
    granting: [Vec<String>; 9],
}

impl Rule {
    fn grant(&mut self, caps: Capabilities, policy: &str) {
        for cap in caps.iter() {
            let list = &mut self.granting[cap.index()];
            if let Err(at) = list.binary_search_by(|n| n.as_str().cmp(policy)) {
                list.insert(at, policy.to_owned());
            }
        }
    }

    fn from_stanza(stanza: &PathRule, policy: &str) -> Rule {
        let mut rule = Rule {
            caps: stanza.capabilities,
            min_wrapping_ttl: stanza.min_wrapping_ttl_ns,
            max_wrapping_ttl: stanza.max_wrapping_ttl_ns,
            ..Rule::default()
        };
        if !stanza.capabilities.contains(Capabilities::DENY) {
            rule.params = ParamRules {
                allowed: stanza.allowed_parameters.clone(),
                denied: stanza.denied_parameters.clone(),
                required: Vec::new(),
                required_lc: Vec::new(),
            };
            rule.add_required(&stanza.required_parameters);
            rule.grant(stanza.capabilities, policy);
        }
        rule
    }

    fn add_required(&mut self, names: &[String]) {
        for name in names {
            if !self.params.required.contains(name) {
                self.params.required.push(name.clone());
                self.params.required_lc.push(name.to_lowercase());
            }
        }
    }

    fn merge(&mut self, stanza: &PathRule, policy: &str) {
        if self.caps.contains(Capabilities::DENY) {
            return;
        }
        if stanza.capabilities.contains(Capabilities::DENY) {
            // Deny-only; everything else is dropped so the result does not
            // depend on the order policies are listed in.
            *self = Rule {
                caps: Capabilities::DENY,
                ..Rule::default()
            };
            return;
        }
        self.caps = self.caps.union(stanza.capabilities);
        self.grant(stanza.capabilities, policy);
        // OpenBao: a positive bound replaces an unset or larger one.
        let lesser = |current: i64, new: i64| {
            if new > 0 && (current == 0 || new < current) {
                new
            } else {
                current
            }
        };
        self.min_wrapping_ttl = lesser(self.min_wrapping_ttl, stanza.min_wrapping_ttl_ns);
        self.max_wrapping_ttl = lesser(self.max_wrapping_ttl, stanza.max_wrapping_ttl_ns);
        merge_map(&mut self.params.allowed, &stanza.allowed_parameters);
        merge_map(&mut self.params.denied, &stanza.denied_parameters);
        self.add_required(&stanza.required_parameters);
    }

    /// The `sys/internal/ui/resultant-acl` entry for this rule.
    fn resultant(&self) -> Value {
        // OpenBao's order here, which is not alphabetical.
        const ORDER: [Capabilities; 8] = [
            Capabilities::CREATE,
            Capabilities::DELETE,
            Capabilities::LIST,
            Capabilities::READ,
            Capabilities::SUDO,
            Capabilities::UPDATE,
            Capabilities::PATCH,
            Capabilities::SCAN,
        ];
        let caps: Vec<&str> = if self.caps.contains(Capabilities::DENY) || self.caps.is_empty() {
            vec!["deny"]
        } else {
            ORDER
                .iter()
                .filter(|c| self.caps.contains(**c))
                .flat_map(|c| c.names())
                .collect()
        };
        let mut out = Map::new();
        if !self.params.allowed.is_empty() {
            out.insert("allowed_parameters".into(), json!(self.params.allowed));
        }
        out.insert("capabilities".into(), json!(caps));
        if !self.params.denied.is_empty() {
            out.insert("denied_parameters".into(), json!(self.params.denied));
        }
        // Whole seconds, truncated toward zero (Go's int64(d.Seconds())).
        if self.max_wrapping_ttl != 0 {
            out.insert(
                "max_wrapping_ttl".into(),
                json!(self.max_wrapping_ttl / NANOS),
            );
        }
        if self.min_wrapping_ttl != 0 {
            out.insert(
                "min_wrapping_ttl".into(),
                json!(self.min_wrapping_ttl / NANOS),
            );
        }
        if !self.params.required.is_empty() {
            out.insert("required_parameters".into(), json!(self.params.required));
        }
        Value::Object(out)
    }
}

/// A request to check: everything the ACL looks at.
#[derive(Debug, Clone, Copy)]
pub struct AuthzRequest<'a> {
    pub op: Operation,
    /// The request path after `/v1/` (a leading `/` is ignored).
    pub path: &'a str,
    /// Body or query parameters; `None` is the same as empty.
    pub params: Option<&'a Map<String, Value>>,
    /// The requested response-wrapping TTL in seconds (`X-Vault-Wrap-TTL`), if any.
    pub wrap_ttl: Option<u64>,
}

/// The borrowed outcome of [`Acl::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision<'a> {
    pub allowed: bool,
    /// The governing rule grants `sudo` (or the ACL is root).
    pub sudo: bool,
    pub is_root: bool,
    /// Policies granting the operation's capability (empty unless allowed).
    pub granting_policies: &'a [String],
    /// Capabilities of the governing rule ([`Capabilities::NONE`] if none matched).
    pub capabilities: Capabilities,
    /// Enforced wrapping TTL bounds of the governing rule, in whole seconds
    /// (a sub-second minimum rounds up, a sub-second maximum down).
    pub min_wrapping_ttl: Option<u64>,
    pub max_wrapping_ttl: Option<u64>,
}

/// The outcome of checking one request against an [`Acl`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The operation is allowed on the path (and its parameters pass the constraints).
    pub allowed: bool,
    /// The matching rule grants `sudo` (needed on root-protected paths).
    pub sudo: bool,
    /// Names of the policies whose rules granted the access, sorted.
    pub granting_policies: Vec<String>,
    /// The ACL is the root policy.
    pub is_root: bool,
    /// Wrapping TTL bounds (seconds) of the governing rule; a request violating
    /// them, or not wrapped when one is set, is not allowed.
    pub min_wrapping_ttl: Option<u64>,
    pub max_wrapping_ttl: Option<u64>,
}

impl From<Decision<'_>> for Authorization {
    fn from(d: Decision<'_>) -> Authorization {
        Authorization {
            allowed: d.allowed,
            sudo: d.sudo,
            granting_policies: d.granting_policies.to_vec(),
            is_root: d.is_root,
            min_wrapping_ttl: d.min_wrapping_ttl,
            max_wrapping_ttl: d.max_wrapping_ttl,
        }
    }
}

/// Policies compiled for evaluation: an exact-path map plus a glob index.
#[derive(Debug, Clone, Default)]
pub struct Acl {
    root: bool,
    rules: Vec<Rule>,
    exact: FastMap<Box<str>, u32>,
    globs: GlobIndex,
    /// Patterns in sorted order, for the resultant view.
    keys: BTreeMap<PatternKey, u32>,
    root_names: Vec<String>,
}

impl Acl {
    /// Merges `policies` into one ACL. A policy named `root` makes it the root ACL.
    /// Stanzas with identity templates are skipped (no identity store yet).
    pub fn new(policies: &[Policy]) -> Acl {
        if policies.iter().any(|p| p.name == "root") {
            return Acl::root();
        }
        let mut merged: IndexMap<PatternKey, Rule> = IndexMap::new();
        for policy in policies {
            for stanza in policy.rules.iter().filter(|s| !s.templated) {
                match merged.entry(PatternKey::of(&stanza.pattern)) {
                    indexmap::map::Entry::Occupied(mut e) => {
                        e.get_mut().merge(stanza, &policy.name)
                    }
                    indexmap::map::Entry::Vacant(e) => {
                        e.insert(Rule::from_stanza(stanza, &policy.name));
                    }
                }
            }
        }
        let mut acl = Acl::default();
        for (i, (key, rule)) in merged.into_iter().enumerate() {
            let idx = u32::try_from(i).unwrap_or(u32::MAX);
            match &key {
                PatternKey::Exact(p) => {
                    acl.exact.insert(p.as_str().into(), idx);
                }
                PatternKey::Prefix(p) => acl.globs.prefixes.insert(p, idx),
                PatternKey::Segment(p) => acl.globs.add_segment(p, idx),
            }
            acl.keys.insert(key, idx);
            acl.rules.push(rule);
        }
        acl.globs.finish();
        acl
    }

    /// The root ACL: everything is allowed, including sudo.
    pub fn root() -> Acl {
        Acl {
            root: true,
            root_names: vec!["root".to_owned()],
            ..Acl::default()
        }
    }

    pub fn is_root(&self) -> bool {
        self.root
    }

    /// The rule governing `path`, with OpenBao's fallbacks for list requests
    /// (a trailing `/` may be dropped to find a rule).
    fn lookup(&self, path: &str, list: bool) -> Option<&Rule> {
        let path = path.trim_start_matches('/');
        let trimmed = list.then(|| path.strip_suffix('/')).flatten();
        let idx = self
            .exact
            .get(path)
            .or_else(|| trimmed.and_then(|t| self.exact.get(t)))
            .copied()
            .or_else(|| self.globs.lookup(path))
            .or_else(|| trimmed.and_then(|t| self.globs.lookup(t)))?;
        self.rules.get(idx as usize)
    }

    /// Capabilities on `path`, sorted, as `sys/capabilities` reports them.
    pub fn capabilities(&self, path: &str) -> Vec<&'static str> {
        if self.root {
            return vec!["root"];
        }
        self.lookup(path, true)
            .map_or(Capabilities::NONE, |r| r.caps)
            .names()
    }

    /// Checks a request without wrapping (a rule with wrapping TTL bounds refuses it).
    pub fn authorize(
        &self,
        op: Operation,
        path: &str,
        params: Option<&Map<String, Value>>,
    ) -> Authorization {
        self.check(&AuthzRequest {
            op,
            path,
            params,
            wrap_ttl: None,
        })
        .into()
    }

    /// Checks a request; allocation-free.
    pub fn check<'a>(&'a self, req: &AuthzRequest<'_>) -> Decision<'a> {
        let mut d = Decision {
            allowed: false,
            sudo: false,
            is_root: false,
            granting_policies: &[],
            capabilities: Capabilities::NONE,
            min_wrapping_ttl: None,
            max_wrapping_ttl: None,
        };
        if self.root {
            d.allowed = true;
            d.sudo = true;
            d.is_root = true;
            d.granting_policies = &self.root_names;
            return d;
        }
        let Some(rule) = self.lookup(req.path, req.op == Operation::List) else {
            return d;
        };
        d.capabilities = rule.caps;
        d.sudo = rule.caps.contains(Capabilities::SUDO);
        let (min, max) = (rule.min_wrapping_ttl, rule.max_wrapping_ttl);
        d.min_wrapping_ttl = (min > 0).then(|| min.unsigned_abs().div_ceil(NANOS.unsigned_abs()));
        d.max_wrapping_ttl = (max > 0).then(|| (max / NANOS).unsigned_abs());
        let needed = Capabilities::for_operation(req.op);
        if !rule.caps.contains(needed) {
            return d;
        }
        d.granting_policies = &rule.granting[needed.index()];
        let wrap_ns = req.wrap_ttl.map(|t| i128::from(t) * i128::from(NANOS));
        if max > 0 && wrap_ns.is_none_or(|t| t > i128::from(max)) {
            return d;
        }
        if min > 0 && wrap_ns.is_none_or(|t| t < i128::from(min)) {
            return d;
        }
        // Merging can leave max < min even though each stanza was checked.
        if min != 0 && max != 0 && max < min {
            return d;
        }
        let carries_params = matches!(
            req.op,
            Operation::Read | Operation::Create | Operation::Update | Operation::Patch
        );
        if carries_params && !rule.params.is_unconstrained() && !rule.params.allows(req.params) {
            return d;
        }
        d.allowed = true;
        d
    }

    /// OpenBao's `hasMountAccess`, used by `sys/internal/ui/mounts/<path>`: the
    /// token may see a mount (`mount_path` ends in `/`) when it has a
    /// capability on the mount path itself, or a non-deny rule on some pattern
    /// inside it, or a glob reaching into it.
    pub fn has_mount_access(&self, mount_path: &str) -> bool {
        if self.root || self.capabilities(mount_path) != ["deny"] {
            return true;
        }
        let grants = |idx: u32| {
            self.rules
                .get(idx as usize)
                .is_some_and(|r| !r.caps.is_empty() && !r.caps.contains(Capabilities::DENY))
        };
        let inside = self.keys.iter().any(|(key, idx)| match key {
            PatternKey::Exact(p) | PatternKey::Prefix(p) => {
                p.starts_with(mount_path) && grants(*idx)
            }
            PatternKey::Segment(_) => false,
        });
        if inside {
            return true;
        }
        if !self.globs.has_segment_patterns() {
            // OpenBao returns any covering prefix rule here, even a deny one.
            return self.globs.prefixes.longest(mount_path).is_some();
        }
        self.globs.segment_reaches_mount(mount_path, grants)
    }

    /// The merged view `GET sys/internal/ui/resultant-acl` returns as `data`:
    /// `{"exact_paths":{..},"glob_paths":{..},"root":false}`, or `{"root":true}`.
    /// Like OpenBao, `glob_paths` holds only `*` patterns (keyed without the `*`),
    /// not `+` patterns.
    pub fn resultant(&self) -> Value {
        if self.root {
            return json!({"root": true});
        }
        let mut exact = Map::new();
        let mut glob = Map::new();
        for (key, idx) in &self.keys {
            let Some(rule) = self.rules.get(*idx as usize) else {
                continue;
            };
            match key {
                PatternKey::Exact(p) => {
                    exact.insert(p.clone(), rule.resultant());
                }
                PatternKey::Prefix(p) => {
                    glob.insert(p.clone(), rule.resultant());
                }
                PatternKey::Segment(_) => {}
            }
        }
        json!({"exact_paths": exact, "glob_paths": glob, "root": false})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(texts: &[(&str, &str)]) -> Acl {
        let policies: Vec<Policy> = texts
            .iter()
            .map(|(n, t)| Policy::parse(n, t).expect("test policy parses"))
            .collect();
        Acl::new(&policies)
    }

    #[test]
    fn list_falls_back_to_path_without_trailing_slash() {
        let a = acl(&[(
            "p",
            r#"path "kv/dir" { capabilities = ["list"] } path "g/+" { capabilities = ["list"] }"#,
        )]);
        assert!(a.authorize(Operation::List, "kv/dir/", None).allowed);
        assert!(!a.authorize(Operation::Read, "kv/dir/", None).allowed);
        assert_eq!(a.capabilities("kv/dir/"), ["list"]);
        assert!(a.authorize(Operation::List, "g/x/", None).allowed);
        assert!(a.authorize(Operation::List, "/kv/dir", None).allowed);
    }

    #[test]
    fn granting_policies_per_capability() {
        let a = acl(&[
            ("b", r#"path "x/*" { capabilities = ["read", "list"] }"#),
            ("a", r#"path "x/*" { capabilities = ["read"] }"#),
            ("c", r#"path "x/*" { capabilities = ["update"] }"#),
        ]);
        assert_eq!(
            a.authorize(Operation::Read, "x/1", None).granting_policies,
            ["a", "b"]
        );
        assert_eq!(
            a.authorize(Operation::List, "x/1", None).granting_policies,
            ["b"]
        );
        assert_eq!(
            a.authorize(Operation::Update, "x/1", None)
                .granting_policies,
            ["c"]
        );
        assert!(
            a.authorize(Operation::Delete, "x/1", None)
                .granting_policies
                .is_empty()
        );
    }

    #[test]
    fn merged_constraints() {
        let a = acl(&[
            (
                "a",
                r#"path "k" { capabilities = ["update"] allowed_parameters = { "c" = ["red"] } max_wrapping_ttl = "90s" }"#,
            ),
            (
                "b",
                r#"path "k" { capabilities = ["read"] allowed_parameters = { "c" = ["blue"] } max_wrapping_ttl = "60s" required_parameters = ["c"] }"#,
            ),
        ]);
        let view = a.resultant();
        assert_eq!(
            view["exact_paths"]["k"],
            json!({"allowed_parameters": {"c": ["red", "blue"]}, "capabilities": ["read", "update"], "max_wrapping_ttl": 60, "required_parameters": ["c"]})
        );
        let req = |c: &str, wrap_ttl| {
            let params = json!({ "c": c });
            a.check(&AuthzRequest {
                op: Operation::Update,
                path: "k",
                params: params.as_object(),
                wrap_ttl,
            })
            .allowed
        };
        assert!(req("blue", Some(60)));
        assert!(!req("blue", Some(61)));
        assert!(!req("green", Some(30)));
    }

    #[test]
    fn parameters_only_checked_for_data_operations() {
        let a = acl(&[(
            "p",
            r#"path "k" { capabilities = ["delete", "list", "read"] required_parameters = ["x"] }"#,
        )]);
        assert!(a.authorize(Operation::Delete, "k", None).allowed);
        assert!(a.authorize(Operation::List, "k", None).allowed);
        assert!(!a.authorize(Operation::Read, "k", None).allowed);
    }

    #[test]
    fn denied_star_and_case() {
        let a = acl(&[(
            "p",
            r#"path "k" { capabilities = ["update"] denied_parameters = { "*" = [] } }"#,
        )]);
        assert!(
            a.authorize(Operation::Update, "k", None).allowed,
            "no data: nothing to deny"
        );
        let body = json!({"a": 1});
        assert!(
            !a.authorize(Operation::Update, "k", body.as_object())
                .allowed
        );
        let a = acl(&[(
            "p",
            r#"path "k" { capabilities = ["update"] denied_parameters = { "Secret" = ["*x*"] } }"#,
        )]);
        let body = json!({"SECRET": "axe"});
        assert!(
            !a.authorize(Operation::Update, "k", body.as_object())
                .allowed
        );
        let body = json!({"SECRET": "bee"});
        assert!(
            a.authorize(Operation::Update, "k", body.as_object())
                .allowed
        );
    }

    #[test]
    fn mount_access() {
        let a = acl(&[(
            "p",
            r#"path "secret/data/app/*" { capabilities = ["read"] }
               path "kv/+/team" { capabilities = ["list"] }
               path "denied/x" { capabilities = ["deny"] }
               path "top" { capabilities = ["read"] }"#,
        )]);
        assert!(a.has_mount_access("secret/"));
        assert!(a.has_mount_access("kv/"));
        assert!(!a.has_mount_access("denied/"));
        assert!(!a.has_mount_access("other/"));
        assert!(Acl::root().has_mount_access("anything/"));
        // Without `+` patterns a covering glob counts, whatever it grants (OpenBao quirk).
        let b = acl(&[("p", r#"path "s*" { capabilities = ["deny"] }"#)]);
        assert!(b.has_mount_access("secret/"));
        let c = acl(&[("p", r#"path "+/x" { capabilities = ["read"] }"#)]);
        assert!(c.has_mount_access("anything/"));
        let d = acl(&[("p", r#"path "auth/+/login" { capabilities = ["update"] }"#)]);
        assert!(d.has_mount_access("auth/userpass/"));
        assert!(!d.has_mount_access("secret/"));
    }

    #[test]
    fn empty_capabilities_still_govern() {
        // An exact stanza without capabilities hides the glob: OpenBao reports deny.
        let a = acl(&[(
            "p",
            r#"path "g/*" { capabilities = ["read"] } path "g/a" { capabilities = [] }"#,
        )]);
        assert_eq!(a.capabilities("g/a"), ["deny"]);
        assert_eq!(a.capabilities("g/b"), ["read"]);
    }
}
