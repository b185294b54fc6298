//! The stored configuration and roles of `auth/kubernetes`, their update
//! fields and the exact read shapes OpenBao returns.

use coffer_core::fields::{self, opt_boolean, opt_str_list};
use coffer_core::logical::Object;
use serde::{Deserialize, Serialize};
use serde_json::json;
use zeroize::{Zeroize, Zeroizing};

use super::jwt::PublicKey;
use crate::auth::token_params::{TokenFields, TokenParams};

/// A string that never prints: the token reviewer JWT.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(s: String) -> Self {
        SecretString(s)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Drop for SecretString {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// `config` as stored (the field names OpenBao stores, not the API names).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Config {
    pub host: String,
    pub ca_cert: String,
    pub token_reviewer_jwt: SecretString,
    pub pem_keys: Vec<String>,
    pub issuer: String,
    pub disable_iss_validation: bool,
    pub disable_local_ca_jwt: bool,
}

/// The body of a `config` write. Each write replaces the whole configuration.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ConfigFields {
    #[serde(deserialize_with = "fields::string")]
    kubernetes_host: String,
    #[serde(deserialize_with = "fields::string")]
    kubernetes_ca_cert: String,
    #[serde(deserialize_with = "secret_field")]
    token_reviewer_jwt: Zeroizing<String>,
    #[serde(deserialize_with = "fields::str_list")]
    pem_keys: Vec<String>,
    #[serde(deserialize_with = "fields::string")]
    issuer: String,
    #[serde(deserialize_with = "opt_boolean")]
    disable_iss_validation: Option<bool>,
    #[serde(deserialize_with = "fields::boolean")]
    disable_local_ca_jwt: bool,
}

/// A string field holding a credential: zeroized when dropped.
pub fn secret_field<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Zeroizing<String>, D::Error> {
    fields::string(d).map(Zeroizing::new)
}

pub const CONFIG_FIELDS: &[&str] = &[
    "kubernetes_host",
    "kubernetes_ca_cert",
    "token_reviewer_jwt",
    "pem_keys",
    "issuer",
    "disable_iss_validation",
    "disable_local_ca_jwt",
];

impl ConfigFields {
    /// Validates a write as OpenBao does (same order, same messages) and
    /// builds the configuration to store.
    pub fn into_config(mut self) -> Result<Config, String> {
        if self.kubernetes_host.is_empty() {
            return Err("no host provided".into());
        }
        if self.disable_local_ca_jwt && self.kubernetes_ca_cert.is_empty() {
            return Err(
                "kubernetes_ca_cert must be given when disable_local_ca_jwt is true".into(),
            );
        }
        super::review::check_host(&self.kubernetes_host)?;
        for pem in &self.pem_keys {
            PublicKey::from_pem(pem)?;
        }
        Ok(Config {
            host: std::mem::take(&mut self.kubernetes_host),
            ca_cert: std::mem::take(&mut self.kubernetes_ca_cert),
            token_reviewer_jwt: SecretString::new(std::mem::take(&mut *self.token_reviewer_jwt)),
            pem_keys: std::mem::take(&mut self.pem_keys),
            issuer: std::mem::take(&mut self.issuer),
            disable_iss_validation: self.disable_iss_validation.unwrap_or(true),
            disable_local_ca_jwt: self.disable_local_ca_jwt,
        })
    }
}

impl Config {
    /// The read shape: the reviewer JWT itself is never returned.
    pub fn to_json(&self) -> Object {
        let v = json!({
            "disable_iss_validation": self.disable_iss_validation,
            "disable_local_ca_jwt": self.disable_local_ca_jwt,
            "issuer": self.issuer,
            "kubernetes_ca_cert": self.ca_cert,
            "kubernetes_host": self.host,
            "pem_keys": self.pem_keys,
            "token_reviewer_jwt_set": !self.token_reviewer_jwt.is_empty(),
        });
        v.as_object().cloned().unwrap_or_default()
    }
}

pub const ALIAS_UID: &str = "serviceaccount_uid";
pub const ALIAS_NAME: &str = "serviceaccount_name";

/// A stored role.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Role {
    pub bound_service_account_names: Vec<String>,
    pub bound_service_account_namespaces: Vec<String>,
    #[serde(default)]
    pub bound_service_account_namespace_selector: String,
    #[serde(default)]
    pub audience: String,
    pub alias_name_source: String,
    #[serde(default)]
    pub legacy: Legacy,
    #[serde(flatten)]
    pub token: TokenParams,
}

/// Which pre-`token_*` keys (`policies`, `ttl`, ...) are in effect on a role:
/// OpenBao keeps them in step with their `token_*` twins and reads them back
/// while set.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Legacy {
    policies: bool,
    ttl: bool,
    max_ttl: bool,
    period: bool,
    bound_cidrs: bool,
    num_uses: bool,
}

impl Legacy {
    /// OpenBao's `tokenutil.UpgradeValue`: given the new key, the old one
    /// follows it only if also given; given only the old key, it is in effect.
    fn update(&mut self, data: &Object) {
        let flag = |old: &str, new: &str, cur: bool| match (
            data.contains_key(new),
            data.contains_key(old),
        ) {
            (true, given) => given,
            (false, true) => true,
            (false, false) => cur,
        };
        self.policies = flag("policies", "token_policies", self.policies);
        self.ttl = flag("ttl", "token_ttl", self.ttl);
        self.max_ttl = flag("max_ttl", "token_max_ttl", self.max_ttl);
        self.period = flag("period", "token_period", self.period);
        self.bound_cidrs = flag("bound_cidrs", "token_bound_cidrs", self.bound_cidrs);
        self.num_uses = flag("num_uses", "token_num_uses", self.num_uses);
    }
}

pub const ROLE_FIELDS: &[&str] = &[
    "bound_service_account_names",
    "bound_service_account_namespaces",
    "bound_service_account_namespace_selector",
    "audience",
    "alias_name_source",
    "num_uses",
];

/// The role-specific part of a role write; absent fields keep their value.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RoleFields {
    #[serde(deserialize_with = "opt_str_list")]
    bound_service_account_names: Option<Vec<String>>,
    #[serde(deserialize_with = "opt_str_list")]
    bound_service_account_namespaces: Option<Vec<String>>,
    #[serde(deserialize_with = "fields::string")]
    bound_service_account_namespace_selector: String,
    audience: Option<serde_json::Value>,
    alias_name_source: Option<serde_json::Value>,
    #[serde(deserialize_with = "fields::opt_uint")]
    num_uses: Option<u64>,
}

fn value_string(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

impl Role {
    /// Applies a write as OpenBao's role handler does; returns warnings.
    pub fn update(
        &mut self,
        rf: RoleFields,
        tf: &TokenFields,
        data: &Object,
        max_lease_ttl: u64,
    ) -> Result<Vec<String>, String> {
        self.token.update(tf)?;
        if let Some(n) = rf.num_uses.filter(|_| !data.contains_key("token_num_uses")) {
            self.token.token_num_uses = n;
        }
        self.legacy.update(data);
        if self.token.token_period > max_lease_ttl {
            return Err(format!(
                "token period of '{:?}' is greater than the backend's maximum lease TTL of '{:?}'",
                coffer_core::duration::format_go(self.token.token_period),
                coffer_core::duration::format_go(max_lease_ttl)
            ));
        }
        let mut warnings = Vec::new();
        if self.token.token_max_ttl > max_lease_ttl {
            warnings.push("max_ttl is greater than the system or backend mount's maximum TTL value; issued tokens' max TTL value will be truncated".into());
        }
        if let Some(names) = rf.bound_service_account_names {
            self.bound_service_account_names = names;
        }
        if self.bound_service_account_names.is_empty() {
            return Err("\"bound_service_account_names\" can not be empty".into());
        }
        if self.bound_service_account_names.len() > 1
            && self.bound_service_account_names.iter().any(|n| n == "*")
        {
            return Err("can not mix \"*\" with values".into());
        }
        if let Some(ns) = rf.bound_service_account_namespaces {
            self.bound_service_account_namespaces = ns;
        }
        self.bound_service_account_namespace_selector = rf.bound_service_account_namespace_selector;
        if self.bound_service_account_namespaces.is_empty()
            && self.bound_service_account_namespace_selector.is_empty()
        {
            return Err("\"bound_service_account_namespaces\" can not be empty if \"bound_service_account_namespace_selector\" is not set".into());
        }
        if !self.bound_service_account_namespace_selector.is_empty()
            && super::selector::Selector::parse(&self.bound_service_account_namespace_selector)
                .is_err()
        {
            return Err("invalid \"bound_service_account_namespace_selector\" configured".into());
        }
        if self.bound_service_account_namespaces.len() > 1
            && self
                .bound_service_account_namespaces
                .iter()
                .any(|n| n == "*")
        {
            return Err("can not mix \"*\" with values".into());
        }
        if let Some(a) = rf.audience {
            self.audience = value_string(&a);
        }
        match rf.alias_name_source.map(|v| value_string(&v)) {
            Some(s) if s.is_empty() && self.alias_name_source.is_empty() => {
                self.alias_name_source = ALIAS_UID.into();
            }
            Some(s) => self.alias_name_source = s,
            None if self.alias_name_source.is_empty() => self.alias_name_source = ALIAS_UID.into(),
            None => {}
        }
        if self.alias_name_source != ALIAS_UID && self.alias_name_source != ALIAS_NAME {
            return Err(format!(
                "invalid alias_name_source, must be one of: {ALIAS_UID}, {ALIAS_NAME}"
            ));
        }
        Ok(warnings)
    }

    /// The read shape (`audience` only when set, as OpenBao).
    pub fn to_json(&self) -> Object {
        let mut data = self.token.clone().with_default_type("default").to_json();
        data.insert(
            "bound_service_account_names".into(),
            json!(self.bound_service_account_names),
        );
        data.insert(
            "bound_service_account_namespaces".into(),
            json!(self.bound_service_account_namespaces),
        );
        data.insert(
            "bound_service_account_namespace_selector".into(),
            json!(self.bound_service_account_namespace_selector),
        );
        if !self.audience.is_empty() {
            data.insert("audience".into(), json!(self.audience));
        }
        data.insert("alias_name_source".into(), json!(self.alias_name_source));
        let t = &self.token;
        let l = &self.legacy;
        if l.policies && !t.token_policies.is_empty() {
            data.insert("policies".into(), json!(t.token_policies));
        }
        if l.bound_cidrs && !t.token_bound_cidrs.is_empty() {
            data.insert("bound_cidrs".into(), json!(t.token_bound_cidrs));
        }
        for (on, key, v) in [
            (l.ttl, "ttl", t.token_ttl),
            (l.max_ttl, "max_ttl", t.token_max_ttl),
            (l.period, "period", t.token_period),
            (l.num_uses, "num_uses", t.token_num_uses),
        ] {
            if on && v > 0 {
                data.insert(key.into(), json!(v));
            }
        }
        data.sort_keys();
        data
    }

    /// Is `name` allowed by the role's bound names (`*` or globs)?
    pub fn name_allowed(&self, name: &str) -> bool {
        let names = &self.bound_service_account_names;
        if names.len() == 1 && names[0] == "*" {
            return true;
        }
        names.iter().any(|p| glob(p, name))
    }

    /// Is `ns` allowed by the role's bound namespaces (`*` or globs)?
    pub fn namespace_allowed(&self, ns: &str) -> bool {
        let list = &self.bound_service_account_namespaces;
        !list.is_empty() && (list[0] == "*" || list.iter().any(|p| glob(p, ns)))
    }
}

/// Glob match with `*` wildcards anywhere (the go-glob semantics OpenBao uses).
pub fn glob(pattern: &str, subject: &str) -> bool {
    if pattern.is_empty() {
        return subject.is_empty();
    }
    if pattern == "*" {
        return true;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return subject == pattern;
    }
    let leading = pattern.starts_with('*');
    let trailing = pattern.ends_with('*');
    let last = parts.len() - 1;
    let mut rest = subject;
    for (i, part) in parts[..last].iter().enumerate() {
        match rest.find(part) {
            Some(idx) if i > 0 || leading || idx == 0 => rest = &rest[idx + part.len()..],
            _ => return false,
        }
    }
    trailing || rest.ends_with(parts[last])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_semantics() {
        assert!(glob("*", "anything"));
        assert!(glob("app", "app"));
        assert!(!glob("app", "app2"));
        assert!(glob("app-*", "app-web"));
        assert!(!glob("app-*", "xapp-web"));
        assert!(glob("*-web", "app-web"));
        assert!(!glob("*-web", "app-web2"));
        assert!(glob("team-*-prod", "team-a-prod"));
        assert!(!glob("team-*-prod", "team-a-dev"));
        assert!(glob("a*b*c", "aXbYc"));
        assert!(!glob("", "x"));
    }

    fn role_with(names: &[&str], ns: &[&str]) -> Result<Role, String> {
        let mut role = Role::default();
        let mut data = Object::new();
        data.insert("bound_service_account_names".into(), json!(names));
        data.insert("bound_service_account_namespaces".into(), json!(ns));
        let rf: RoleFields = fields::parse(&data).map_err(|e| e.to_string())?;
        let tf: TokenFields = fields::parse(&data).map_err(|e| e.to_string())?;
        role.update(rf, &tf, &data, 2_764_800)?;
        Ok(role)
    }

    #[test]
    fn role_validation_messages() {
        assert_eq!(
            role_with(&[], &["default"]).unwrap_err(),
            "\"bound_service_account_names\" can not be empty"
        );
        assert_eq!(
            role_with(&["*", "a"], &["default"]).unwrap_err(),
            "can not mix \"*\" with values"
        );
        assert!(
            role_with(&["app"], &[])
                .unwrap_err()
                .contains("can not be empty if")
        );
        let role = role_with(&["app-*"], &["*"]).unwrap();
        assert_eq!(role.alias_name_source, ALIAS_UID);
        assert!(role.name_allowed("app-1") && !role.name_allowed("web"));
        assert!(role.namespace_allowed("anything"));
        let read = role.to_json();
        assert!(!read.contains_key("audience"));
        assert_eq!(read["token_type"], "default");
    }

    #[test]
    fn config_defaults_and_redaction() {
        let mut data = Object::new();
        data.insert("kubernetes_host".into(), json!("https://10.0.0.1:6443"));
        data.insert("token_reviewer_jwt".into(), json!("reviewer-secret"));
        let f: ConfigFields = fields::parse(&data).unwrap();
        let cfg = f.into_config().unwrap();
        assert!(cfg.disable_iss_validation);
        let read = cfg.to_json();
        assert_eq!(read["token_reviewer_jwt_set"], true);
        assert!(
            !serde_json::to_string(&read)
                .unwrap()
                .contains("reviewer-secret")
        );
        assert!(!format!("{cfg:?}").contains("reviewer-secret"));
        let mut empty = Object::new();
        empty.insert("kubernetes_host".into(), json!(""));
        let f: ConfigFields = fields::parse(&empty).unwrap();
        assert_eq!(f.into_config().unwrap_err(), "no host provided");
    }
}
