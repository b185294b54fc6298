//! The token settings every role-like auth entry shares (`token_policies`,
//! `token_ttl`, ...), with the legacy aliases (`policies`, `ttl`, `max_ttl`,
//! `period`, `bound_cidrs`) Vault still accepts.

use coffer_core::duration::de_opt_secs;
use coffer_core::fields::{opt_boolean, opt_str_list, opt_uint};
use coffer_core::logical::{Auth, Object};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Field names for path tables.
pub const FIELDS: &[&str] = &[
    "token_policies",
    "policies",
    "token_ttl",
    "ttl",
    "token_max_ttl",
    "max_ttl",
    "token_explicit_max_ttl",
    "token_period",
    "period",
    "token_num_uses",
    "token_no_default_policy",
    "token_bound_cidrs",
    "bound_cidrs",
    "token_type",
    "token_strictly_bind_ip",
];

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TokenParams {
    pub token_policies: Vec<String>,
    pub token_ttl: u64,
    pub token_max_ttl: u64,
    pub token_explicit_max_ttl: u64,
    pub token_period: u64,
    pub token_num_uses: u64,
    pub token_no_default_policy: bool,
    pub token_bound_cidrs: Vec<String>,
    pub token_type: String,
    pub token_strictly_bind_ip: bool,
}

/// The update form: every field optional so partial updates keep the rest.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TokenFields {
    #[serde(deserialize_with = "opt_str_list")]
    token_policies: Option<Vec<String>>,
    #[serde(deserialize_with = "opt_str_list")]
    policies: Option<Vec<String>>,
    #[serde(deserialize_with = "de_opt_secs")]
    token_ttl: Option<u64>,
    #[serde(deserialize_with = "de_opt_secs")]
    ttl: Option<u64>,
    #[serde(deserialize_with = "de_opt_secs")]
    token_max_ttl: Option<u64>,
    #[serde(deserialize_with = "de_opt_secs")]
    max_ttl: Option<u64>,
    #[serde(deserialize_with = "de_opt_secs")]
    token_explicit_max_ttl: Option<u64>,
    #[serde(deserialize_with = "de_opt_secs")]
    token_period: Option<u64>,
    #[serde(deserialize_with = "de_opt_secs")]
    period: Option<u64>,
    #[serde(deserialize_with = "opt_uint")]
    token_num_uses: Option<u64>,
    #[serde(deserialize_with = "opt_boolean")]
    token_no_default_policy: Option<bool>,
    #[serde(deserialize_with = "opt_str_list")]
    token_bound_cidrs: Option<Vec<String>>,
    #[serde(deserialize_with = "opt_str_list")]
    bound_cidrs: Option<Vec<String>>,
    #[serde(deserialize_with = "coffer_core::fields::string")]
    token_type: String,
    #[serde(deserialize_with = "opt_boolean")]
    token_strictly_bind_ip: Option<bool>,
}

impl TokenParams {
    /// Applies the fields present in an update.
    pub fn update(&mut self, f: &TokenFields) -> Result<(), String> {
        if let Some(p) = f.token_policies.as_ref().or(f.policies.as_ref()) {
            self.token_policies = p.clone();
        }
        if let Some(v) = f.token_ttl.or(f.ttl) {
            self.token_ttl = v;
        }
        if let Some(v) = f.token_max_ttl.or(f.max_ttl) {
            self.token_max_ttl = v;
        }
        if let Some(v) = f.token_explicit_max_ttl {
            self.token_explicit_max_ttl = v;
        }
        if let Some(v) = f.token_period.or(f.period) {
            self.token_period = v;
        }
        if let Some(v) = f.token_num_uses {
            self.token_num_uses = v;
        }
        if let Some(v) = f.token_no_default_policy {
            self.token_no_default_policy = v;
        }
        if let Some(v) = f.token_bound_cidrs.as_ref().or(f.bound_cidrs.as_ref()) {
            for cidr in v {
                crate::net::parse_cidr(cidr).map_err(|e| e.to_string())?;
            }
            self.token_bound_cidrs = v.clone();
        }
        if !f.token_type.is_empty() {
            match f.token_type.as_str() {
                "default" | "service" | "default-service" => self.token_type = f.token_type.clone(),
                other => {
                    return Err(format!(
                        "invalid 'token_type' value {other:?}: only service tokens are supported"
                    ));
                }
            }
        }
        if let Some(v) = f.token_strictly_bind_ip {
            self.token_strictly_bind_ip = v;
        }
        if self.token_max_ttl > 0 && self.token_ttl > self.token_max_ttl {
            return Err("'token_ttl' cannot be greater than 'token_max_ttl'".into());
        }
        Ok(())
    }

    pub fn with_default_type(mut self, kind: &str) -> Self {
        if self.token_type.is_empty() {
            self.token_type = kind.to_owned();
        }
        self
    }

    /// The `token_*` keys of a role read.
    pub fn to_json(&self) -> Object {
        let v = json!({
            "token_bound_cidrs": self.token_bound_cidrs,
            "token_explicit_max_ttl": self.token_explicit_max_ttl,
            "token_max_ttl": self.token_max_ttl,
            "token_no_default_policy": self.token_no_default_policy,
            "token_num_uses": self.token_num_uses,
            "token_period": self.token_period,
            "token_policies": self.token_policies,
            "token_strictly_bind_ip": self.token_strictly_bind_ip,
            "token_ttl": self.token_ttl,
            "token_type": if self.token_type.is_empty() { "default" } else { self.token_type.as_str() },
        });
        v.as_object().cloned().unwrap_or_default()
    }

    /// The token a login issues.
    pub fn auth(&self, display_name: String) -> Auth {
        Auth {
            policies: crate::token::normalize(
                self.token_policies.clone(),
                self.token_no_default_policy,
            ),
            display_name,
            ttl: self.token_ttl,
            max_ttl: self.token_max_ttl,
            explicit_max_ttl: self.token_explicit_max_ttl,
            period: self.token_period,
            num_uses: self.token_num_uses,
            renewable: true,
            no_default_policy: self.token_no_default_policy,
            bound_cidrs: self.token_bound_cidrs.clone(),
            ..Auth::default()
        }
    }
}
