//! Policy text (HCL 1 or JSON) to [`PathRule`]s, with OpenBao's validation order
//! and error texts.
//!
//! Text whose first non-blank character is `{` is JSON (as OpenBao decides);
//! anything else is HCL 1. Both become the same [`Node`] tree first.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::Value;

use super::hcl1::{self, Item, Node};
use super::{Capabilities, PathRule, PolicyError};
use crate::duration;

/// Keys allowed inside a `path` stanza. Only some are enforced; the others
/// (MFA, pagination, expiration, control groups, list filtering) are accepted
/// and ignored so policies written for OpenBao still load.
const PATH_KEYS: &[&str] = &[
    "comment",
    "policy",
    "capabilities",
    "allowed_parameters",
    "denied_parameters",
    "required_parameters",
    "min_wrapping_ttl",
    "max_wrapping_ttl",
    "mfa_methods",
    "pagination_limit",
    "expiration",
    "list_scan_response_keys_filter_path",
    "control_group",
];

fn fail(msg: impl Into<String>) -> PolicyError {
    PolicyError::Parse(msg.into())
}

/// Formats errors the way hashicorp/go-multierror does (OpenBao's key checks use it).
fn multierror(errors: &[String]) -> String {
    let head = if errors.len() == 1 {
        "1 error occurred:".to_owned()
    } else {
        format!("{} errors occurred:", errors.len())
    };
    let mut out = head;
    for e in errors {
        out.push_str("\n\t* ");
        out.push_str(e);
    }
    out.push_str("\n\n");
    out
}

/// Decodes standard base64 (newlines ignored, as Go's decoder does) into UTF-8 text.
pub(super) fn decode_base64(text: &str) -> Option<String> {
    let compact: String = text.chars().filter(|c| *c != '\r' && *c != '\n').collect();
    if compact.is_empty() {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// Parses policy text into its path rules.
pub(super) fn parse_rules(text: &str) -> Result<Vec<PathRule>, PolicyError> {
    let json = text.trim_start().starts_with('{');
    let items = if json {
        let value: Value = serde_json::from_str(text).map_err(|e| fail(e.to_string()))?;
        match json_to_node(&value) {
            Node::Object(items) => items,
            _ => return Err(fail("does not contain a root object")),
        }
    } else {
        hcl1::parse(text).map_err(fail)?
    };

    let invalid: Vec<String> = items
        .iter()
        .filter(|i| i.keys[0] != "name" && i.keys[0] != "path")
        .map(|i| format!("invalid key {:?} on line {}", i.keys[0], i.line))
        .collect();
    if !invalid.is_empty() {
        return Err(fail(multierror(&invalid)));
    }

    let mut rules = Vec::new();
    for item in items.iter().filter(|i| i.keys[0] == "path") {
        for (pattern, body) in path_stanzas(item, json)? {
            rules.push(parse_stanza(&pattern, body)?);
        }
    }
    Ok(rules)
}

/// JSON becomes the same tree HCL does: objects are items with one key each.
fn json_to_node(value: &Value) -> Node {
    match value {
        Value::Object(map) => Node::Object(
            map.iter()
                .map(|(k, v)| Item {
                    keys: vec![k.clone()],
                    value: json_to_node(v),
                    line: 1,
                    value_pos: None,
                })
                .collect(),
        ),
        Value::Array(items) => Node::List(items.iter().map(json_to_node).collect()),
        other => Node::Lit(other.clone()),
    }
}

/// Splits one top-level `path` item into `(pattern, body)` pairs: `path "p" { ... }`
/// in HCL; `{"path": {"p": {...}}}` or a list of such objects in JSON. (In HCL,
/// `path = { "p" = {...} }` is a stanza for the path `path`, as in OpenBao.)
fn path_stanzas(item: &Item, json: bool) -> Result<Vec<(String, Node)>, PolicyError> {
    if item.keys.len() == 1 && !json {
        return Ok(vec![("path".to_owned(), item.value.clone())]);
    }
    if item.keys.len() >= 2 {
        let body = if item.keys.len() == 2 {
            item.value.clone()
        } else {
            // `path "a" "b" { }`: the extra key becomes an (invalid) inner key.
            Node::Object(vec![Item {
                keys: item.keys[2..].to_vec(),
                value: item.value.clone(),
                line: item.line,
                value_pos: item.value_pos,
            }])
        };
        return Ok(vec![(item.keys[1].clone(), body)]);
    }
    let objects: Vec<&Vec<Item>> = match &item.value {
        Node::Object(inner) => vec![inner],
        Node::List(list) => list
            .iter()
            .map(|n| match n {
                Node::Object(inner) => Ok(inner),
                _ => Err(fail("path: expected an object of path stanzas")),
            })
            .collect::<Result<_, _>>()?,
        Node::Lit(_) => return Err(fail("path: expected an object of path stanzas")),
    };
    let mut out = Vec::new();
    for inner in objects {
        for stanza in inner {
            let mut keys = vec!["path".to_owned()];
            keys.extend(stanza.keys.iter().cloned());
            let stanza = Item {
                keys,
                value: stanza.value.clone(),
                line: stanza.line,
                value_pos: stanza.value_pos,
            };
            out.extend(path_stanzas(&stanza, json)?);
        }
    }
    Ok(out)
}

/// The fields of one stanza, decoded before validation.
#[derive(Default)]
struct RawStanza {
    capabilities: Vec<String>,
    policy: Option<String>,
    allowed: ParamLists,
    denied: ParamLists,
    required: Vec<String>,
    min_wrapping_ttl: Option<Value>,
    max_wrapping_ttl: Option<Value>,
}

/// Parses one stanza; every error is prefixed with `path "<key>": ` as OpenBao 2.7 does.
fn parse_stanza(key: &str, body: Node) -> Result<PathRule, PolicyError> {
    stanza_rule(key, body).map_err(|inner| fail(format!("path {key:?}: {inner}")))
}

fn stanza_rule(key: &str, body: Node) -> Result<PathRule, String> {
    let prefix = format!("path {key:?}:");
    let Node::Object(items) = body else {
        return Err("expected an object".to_owned());
    };
    let invalid: Vec<String> = items
        .iter()
        .filter(|i| !PATH_KEYS.contains(&i.keys[0].as_str()))
        .map(|i| format!("invalid key {:?} on line {}", i.keys[0], i.line))
        .collect();
    if !invalid.is_empty() {
        return Err(multierror(&invalid));
    }

    let mut raw = RawStanza::default();
    for item in &items {
        let value = item_value(item);
        let field = item.keys[0].as_str();
        let type_err = |what: &str| format!("{field}: expected {what}");
        let list_err = |e: ListError| match e {
            ListError::NotList => slice_error(key, item.value_pos),
            ListError::BadElement => type_err("a list of strings"),
        };
        match field {
            "capabilities" => raw.capabilities.extend(strings(&value).map_err(list_err)?),
            "policy" => match value {
                Node::Lit(Value::String(s)) => raw.policy = Some(s),
                _ => return Err(type_err("a string")),
            },
            "allowed_parameters" => param_map(&value, &mut raw.allowed).map_err(|e| match e {
                ParamError::NotObject => type_err("an object of lists"),
                ParamError::NotList(pos) => slice_error(key, pos),
            })?,
            "denied_parameters" => param_map(&value, &mut raw.denied).map_err(|e| match e {
                ParamError::NotObject => type_err("an object of lists"),
                ParamError::NotList(pos) => slice_error(key, pos),
            })?,
            "required_parameters" => raw.required.extend(strings(&value).map_err(list_err)?),
            "min_wrapping_ttl" => raw.min_wrapping_ttl = Some(value.to_json()),
            "max_wrapping_ttl" => raw.max_wrapping_ttl = Some(value.to_json()),
            _ => {} // accepted, not enforced
        }
    }

    // Paths in policies start after `/v1/`; a leading '/' is dropped.
    let pattern = key.strip_prefix('/').unwrap_or(key).to_owned();
    if pattern.contains("+*") {
        return Err(format!(
            "path {pattern:?}: invalid use of wildcards ('+*' is forbidden)"
        ));
    }
    let templated = pattern.contains("{{") && pattern.contains("}}");

    // Old-style `policy = "read"` maps onto capabilities.
    if let Some(old) = &raw.policy {
        let extra: &[&str] = match old.as_str() {
            "deny" => {
                raw.capabilities = vec!["deny".to_owned()];
                &[]
            }
            "read" => &["read", "list"],
            "write" => &["create", "read", "update", "delete", "list"],
            "sudo" => &["create", "read", "update", "delete", "list", "sudo"],
            _ => return Err(format!("{prefix} invalid policy {old:?}")),
        };
        raw.capabilities
            .extend(extra.iter().map(|s| (*s).to_owned()));
    }

    let mut rule = PathRule {
        pattern,
        templated,
        ..PathRule::default()
    };
    for name in &raw.capabilities {
        match Capabilities::from_name(name) {
            // A deny stanza keeps nothing else, not even its parameters.
            Some(Capabilities::DENY) => {
                rule.capabilities = Capabilities::DENY;
                return Ok(rule);
            }
            Some(cap) => rule.capabilities = rule.capabilities.union(cap),
            None => {
                return Err(format!("{prefix} invalid capability {name:?}"));
            }
        }
    }
    rule.allowed_parameters = raw.allowed.into_iter().map(|(k, (_, v))| (k, v)).collect();
    rule.denied_parameters = raw.denied.into_iter().map(|(k, (_, v))| (k, v)).collect();
    rule.required_parameters = raw.required;
    if let Some(v) = &raw.min_wrapping_ttl {
        rule.min_wrapping_ttl_ns =
            policy_ttl(v).map_err(|e| format!("error parsing min_wrapping_ttl: {e}"))?;
    }
    if let Some(v) = &raw.max_wrapping_ttl {
        rule.max_wrapping_ttl_ns =
            policy_ttl(v).map_err(|e| format!("error parsing max_wrapping_ttl: {e}"))?;
    }
    if rule.min_wrapping_ttl_ns != 0
        && rule.max_wrapping_ttl_ns != 0
        && rule.max_wrapping_ttl_ns < rule.min_wrapping_ttl_ns
    {
        return Err("max_wrapping_ttl cannot be less than min_wrapping_ttl".to_owned());
    }
    Ok(rule)
}

/// The value of an item, with extra keys (`allowed_parameters "x" = [...]`) nested.
fn item_value(item: &Item) -> Node {
    let mut value = item.value.clone();
    for key in item.keys[1..].iter().rev() {
        value = Node::Object(vec![Item {
            keys: vec![key.clone()],
            value,
            line: item.line,
            value_pos: item.value_pos,
        }]);
    }
    value
}

enum ListError {
    NotList,
    BadElement,
}

enum ParamError {
    NotObject,
    NotList(Option<(usize, usize)>),
}

/// HCL 1's decoder error for a scalar where a list belongs, as OpenBao words it.
fn slice_error(key: &str, pos: Option<(usize, usize)>) -> String {
    let at = pos.map_or_else(|| "-".to_owned(), |(l, c)| format!("{l}:{c}"));
    format!("path {key:?}: At {at}: unknown slice type: *ast.LiteralType")
}

/// A list of strings.
fn strings(node: &Node) -> Result<Vec<String>, ListError> {
    match node {
        Node::List(items) => items
            .iter()
            .map(|n| match n {
                Node::Lit(Value::String(s)) => Ok(s.clone()),
                _ => Err(ListError::BadElement),
            })
            .collect(),
        _ => Err(ListError::NotList),
    }
}

/// Parameter lists by lowercased name, with the spelling that set them.
type ParamLists = BTreeMap<String, (String, Vec<Value>)>;

/// `{ "name" = [values] }` merged into `out` with lowercased names. A list of
/// such objects is accepted too. The same spelling twice merges both lists (as
/// HCL 1 decoding does); two spellings of one name (`color`, `Color`) keep the
/// later one, one of the outcomes OpenBao picks between at random.
fn param_map(node: &Node, out: &mut ParamLists) -> Result<(), ParamError> {
    match node {
        Node::Object(items) => {
            for item in items {
                let values = match item_value(item) {
                    Node::List(list) => list.iter().map(Node::to_json).collect::<Vec<_>>(),
                    _ => return Err(ParamError::NotList(item.value_pos)),
                };
                let spelling = &item.keys[0];
                let entry = out.entry(spelling.to_lowercase()).or_default();
                if entry.0 != *spelling {
                    *entry = (spelling.clone(), Vec::new());
                }
                entry.1.extend(values);
            }
            Ok(())
        }
        Node::List(list) => list.iter().try_for_each(|n| param_map(n, out)),
        Node::Lit(_) => Err(ParamError::NotObject),
    }
}

/// A wrapping TTL as OpenBao reads it from a policy (`ParseDurationSecond`),
/// in signed nanoseconds: a Go duration string, digits or a number (seconds,
/// fractions truncated), or `<n>d`.
fn policy_ttl(value: &Value) -> Result<i64, String> {
    const NS: i64 = 1_000_000_000;
    let from_secs = |s: i64| s.saturating_mul(NS);
    match value {
        Value::String(s) if s.is_empty() => Ok(0),
        Value::String(s) => match s.parse::<i64>() {
            Ok(secs) => Ok(from_secs(secs)),
            Err(_) if s.ends_with('d') => duration::parse_signed_secs(s)
                .map(from_secs)
                .map_err(|e| e.to_string()),
            Err(_) => duration::parse_go_nanos(s).map_err(|e| e.to_string()),
        },
        Value::Number(n) => Ok(match n.as_i64() {
            Some(i) => from_secs(i),
            // Saturating float-to-int cast, truncating toward zero like Go's conversion.
            None => from_secs(n.as_f64().map_or(0, |f| f as i64)),
        }),
        Value::Null => Ok(0),
        _ => Err("could not parse duration from input".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(text: &str) -> Vec<PathRule> {
        parse_rules(text).expect("policy parses")
    }

    fn err(text: &str) -> String {
        parse_rules(text)
            .expect_err("policy is rejected")
            .to_string()
    }

    #[test]
    fn stanza_fields() {
        let r = rules(
            r#"
            name = "ignored"
            path "/kv1/params" {
              comment = "leading slash is dropped"
              capabilities = ["create", "update"]
              allowed_parameters = { "Color" = ["red", "blue"] "*" = [] "n" = [3] }
              denied_parameters { "secret" = [] }
              required_parameters = ["Color"]
              min_wrapping_ttl = 1
              max_wrapping_ttl = "1m"
              mfa_methods = ["x"]
              pagination_limit = 10
            }
            "#,
        );
        assert_eq!(r.len(), 1);
        let r = &r[0];
        assert_eq!(r.pattern, "kv1/params");
        assert_eq!(
            r.capabilities,
            Capabilities::CREATE.union(Capabilities::UPDATE)
        );
        assert_eq!(
            r.allowed_parameters["color"],
            vec![json!("red"), json!("blue")]
        );
        assert!(r.allowed_parameters["*"].is_empty());
        assert_eq!(r.allowed_parameters["n"], vec![json!(3)]);
        assert!(r.denied_parameters["secret"].is_empty());
        assert_eq!(r.required_parameters, ["Color"]);
        assert_eq!(
            (r.min_wrapping_ttl_ns, r.max_wrapping_ttl_ns),
            (1_000_000_000, 60_000_000_000)
        );
    }

    #[test]
    fn json_shapes() {
        let nested = rules(r#"{"path":{"a/*":{"capabilities":["read"]},"b":{"policy":"write"}}}"#);
        let listed =
            rules(r#"{"path":[{"a/*":{"capabilities":["read"]}},{"b":{"policy":"write"}}]}"#);
        assert_eq!(nested, listed);
        assert_eq!(
            nested[1].capabilities.names(),
            ["create", "delete", "list", "read", "update"]
        );
        assert!(err(r#"{"path": "#).starts_with("failed to parse policy: EOF while parsing"));
        assert!(err(r#"{"path": 3}"#).contains("expected an object"));
    }

    #[test]
    fn old_style_policies() {
        let caps = |p: &str| {
            rules(&format!("path \"x\" {{ policy = \"{p}\" }}"))[0]
                .capabilities
                .names()
        };
        assert_eq!(caps("read"), ["list", "read"]);
        assert_eq!(
            caps("sudo"),
            ["create", "delete", "list", "read", "sudo", "update"]
        );
        assert_eq!(caps("deny"), ["deny"]);
        assert_eq!(
            err(r#"path "x" { policy = "all" }"#),
            r#"failed to parse policy: path "x": path "x": invalid policy "all""#
        );
    }

    #[test]
    fn deny_drops_everything_else() {
        let r = rules(
            r#"path "x" { capabilities = ["read", "deny", "bogus"] allowed_parameters = { "a" = [] } }"#,
        );
        assert_eq!(r[0].capabilities, Capabilities::DENY);
        assert!(r[0].allowed_parameters.is_empty());
    }

    #[test]
    fn error_texts() {
        assert_eq!(
            err("foo = 1\npath \"x\" {}"),
            "failed to parse policy: 1 error occurred:\n\t* invalid key \"foo\" on line 1\n\n"
        );
        assert_eq!(
            err("path \"x\" {\n  capabilites = [\"read\"]\n  other = 1\n}"),
            "failed to parse policy: path \"x\": 2 errors occurred:\n\t* invalid key \"capabilites\" on line 2\n\t* invalid key \"other\" on line 3\n\n"
        );
        assert_eq!(
            err(r#"path "a/+*" { capabilities = ["read"] }"#),
            r#"failed to parse policy: path "a/+*": path "a/+*": invalid use of wildcards ('+*' is forbidden)"#
        );
        assert_eq!(
            err(
                r#"path "x" { capabilities = ["read"] min_wrapping_ttl = "2m" max_wrapping_ttl = "1m" }"#
            ),
            r#"failed to parse policy: path "x": max_wrapping_ttl cannot be less than min_wrapping_ttl"#
        );
        assert_eq!(
            err(r#"path "x" { capabilities = ["read"] min_wrapping_ttl = "soon" }"#),
            r#"failed to parse policy: path "x": error parsing min_wrapping_ttl: time: invalid duration "soon""#
        );
        assert!(err(r#"path "x" { capabilities = "read" "list" }"#).contains("At 1:"));
        assert!(
            err(r#"path "x" { capabilities = [1] }"#)
                .contains("capabilities: expected a list of strings")
        );
        assert!(
            err(r#"path "x" { allowed_parameters = "a" }"#).contains("expected an object of lists")
        );
        assert!(err(r#"path "x" = 1"#).contains("nested object expected"));
        assert!(err(r#"path = 1"#).contains("expected an object"));
    }

    #[test]
    fn parameter_name_spellings() {
        let r = rules(
            r#"path "x" { capabilities = ["update"] allowed_parameters = { "a" = ["1"] "a" = ["2"] "B" = ["3"] "b" = ["4"] } }"#,
        );
        assert_eq!(r[0].allowed_parameters["a"], vec![json!("1"), json!("2")]);
        assert_eq!(r[0].allowed_parameters["b"], vec![json!("4")]);
    }

    #[test]
    fn templated_paths_are_marked() {
        let r = rules(
            r#"path "identity/entity/id/{{identity.entity.id}}" { capabilities = ["read"] }"#,
        );
        assert!(r[0].templated);
    }

    #[test]
    fn base64_detection() {
        assert_eq!(decode_base64("cGF0aA==").as_deref(), Some("path"));
        assert_eq!(decode_base64("cGF0\naA==").as_deref(), Some("path"));
        assert_eq!(decode_base64(r#"path "x" {}"#), None);
        assert_eq!(decode_base64(""), None);
        assert_eq!(decode_base64("//8="), None); // not UTF-8
    }
}
