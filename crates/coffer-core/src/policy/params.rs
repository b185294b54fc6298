//! Parameter constraints: `required_parameters`, `denied_parameters`,
//! `allowed_parameters`, checked in OpenBao's order.
//!
//! Names are compared lowercased (policy names are lowercased at parse time;
//! request names are lowercased on the fly, without allocating when they
//! already are). Values: an empty list matches any value; strings match with
//! `*` globs at either end (`"prod-*"`, `"*-db"`, `"*mid*"`); other values
//! match by JSON equality, numbers by numeric value.
//!
//! Divergence: OpenBao compares numbers by Go type, so `allowed_parameters =
//! {"n" = [1]}` never matches a JSON request `{"n": 1}`; here it does.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Compiled constraints of one merged rule.
#[derive(Debug, Clone, Default)]
pub(super) struct ParamRules {
    pub allowed: BTreeMap<String, Vec<Value>>,
    pub denied: BTreeMap<String, Vec<Value>>,
    /// As written (for the resultant view).
    pub required: Vec<String>,
    /// Lowercased, the form requests are checked against.
    pub required_lc: Vec<String>,
}

impl ParamRules {
    pub fn is_unconstrained(&self) -> bool {
        self.allowed.is_empty() && self.denied.is_empty() && self.required.is_empty()
    }

    /// Whether a request carrying `data` passes. Only called for operations that
    /// carry parameters (read, create, update, patch).
    pub fn allows(&self, data: Option<&Map<String, Value>>) -> bool {
        let empty = Map::new();
        let data = data.unwrap_or(&empty);
        // OpenBao looks the lowercased required name up verbatim in the request.
        if !self
            .required_lc
            .iter()
            .all(|p| data.contains_key(p.as_str()))
        {
            return false;
        }
        if data.is_empty() {
            return true;
        }
        if !self.denied.is_empty() {
            if self.denied.contains_key("*") {
                return false;
            }
            for (name, value) in data {
                if let Some(list) = self.denied.get(lower(name).as_ref())
                    && value_in_list(value, list)
                {
                    return false;
                }
            }
        }
        if self.allowed.is_empty() {
            return true;
        }
        let allow_all = self.allowed.contains_key("*");
        if allow_all && self.allowed.len() == 1 {
            return true;
        }
        data.iter().all(
            |(name, value)| match self.allowed.get(lower(name).as_ref()) {
                Some(list) => value_in_list(value, list),
                None => allow_all,
            },
        )
    }
}

fn lower(s: &str) -> Cow<'_, str> {
    if s.chars().any(char::is_uppercase) {
        Cow::Owned(s.to_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

fn value_in_list(value: &Value, list: &[Value]) -> bool {
    list.is_empty() || list.iter().any(|el| value_matches(el, value))
}

fn value_matches(pattern: &Value, value: &Value) -> bool {
    match (pattern, value) {
        (Value::String(p), Value::String(v)) => glob_match(p, v),
        (Value::Number(a), Value::Number(b)) => match (a.as_i64(), b.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => match (a.as_u64(), b.as_u64()) {
                (Some(x), Some(y)) => x == y,
                _ => a.as_f64() == b.as_f64(),
            },
        },
        _ => pattern == value,
    }
}

/// OpenBao's `GlobbedStringsMatch`: `*` at the start and/or end of the pattern.
pub(super) fn glob_match(pattern: &str, value: &str) -> bool {
    if pattern.len() < 2 {
        return pattern == value;
    }
    match (pattern.strip_prefix('*'), pattern.strip_suffix('*')) {
        (Some(_), Some(_)) => value.contains(&pattern[1..pattern.len() - 1]),
        (Some(suffix), None) => value.ends_with(suffix),
        (None, Some(prefix)) => value.starts_with(prefix),
        (None, None) => pattern == value,
    }
}

/// Merges `new` into `existing` as OpenBao does for identical patterns: an empty
/// list (any value) absorbs value lists, other lists are concatenated.
pub(super) fn merge_map(
    existing: &mut BTreeMap<String, Vec<Value>>,
    new: &BTreeMap<String, Vec<Value>>,
) {
    for (name, values) in new {
        match existing.get_mut(name) {
            Some(current) if current.is_empty() => {}
            Some(_) if values.is_empty() => {
                existing.insert(name.clone(), Vec::new());
            }
            Some(current) => {
                for v in values {
                    if !current.contains(v) {
                        current.push(v.clone());
                    }
                }
            }
            None => {
                existing.insert(name.clone(), values.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn globs() {
        assert!(glob_match("prod-*", "prod-db"));
        assert!(!glob_match("prod-*", "dev-db"));
        assert!(glob_match("*-db", "prod-db"));
        assert!(glob_match("*od*", "prod-db"));
        assert!(glob_match("*", "*"));
        assert!(!glob_match("*", "x"));
        assert!(glob_match("**", "anything"));
        assert!(glob_match("exact", "exact"));
    }

    #[test]
    fn numbers_and_other_values() {
        assert!(value_matches(&json!(1), &json!(1)));
        assert!(value_matches(&json!(1), &json!(1.0)));
        assert!(!value_matches(&json!(1), &json!("1")));
        assert!(value_matches(&json!(true), &json!(true)));
        assert!(value_matches(&json!(null), &json!(null)));
        assert!(value_matches(&json!(["a"]), &json!(["a"])));
    }

    #[test]
    fn merge_semantics() {
        let mut a: BTreeMap<String, Vec<Value>> =
            [("x".to_owned(), vec![json!("1")]), ("y".to_owned(), vec![])].into();
        let b: BTreeMap<String, Vec<Value>> = [
            ("x".to_owned(), vec![json!("2"), json!("1")]),
            ("y".to_owned(), vec![json!("3")]),
            ("z".to_owned(), vec![]),
        ]
        .into();
        merge_map(&mut a, &b);
        assert_eq!(a["x"], vec![json!("1"), json!("2")]);
        assert!(a["y"].is_empty());
        assert!(a["z"].is_empty());
    }
}
