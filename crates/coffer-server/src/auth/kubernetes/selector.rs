//! `bound_service_account_namespace_selector`: a Kubernetes label selector
//! given as JSON or YAML. As in OpenBao only `matchLabels` is supported
//! (`matchExpressions` is refused); the YAML accepted is the block or flow
//! mapping form people write for it:
//!
//! ```yaml
//! matchLabels:
//!   stage: prod
//! ```

use indexmap::IndexMap;
use serde_json::{Map, Value};

/// A parsed selector: every label must be present with this value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    pub match_labels: IndexMap<String, String>,
}

fn unquote(s: &str) -> &str {
    let s = s.trim();
    for q in ['"', '\''] {
        if let Some(inner) = s.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner;
        }
    }
    s
}

fn from_json(v: Value) -> Result<Selector, String> {
    let Value::Object(top) = v else {
        return Err("a label selector must be an object".into());
    };
    let mut sel = Selector::default();
    for (k, v) in top {
        match k.as_str() {
            "matchLabels" => {
                let Value::Object(labels) = v else {
                    return Err("matchLabels must be an object".into());
                };
                for (lk, lv) in labels {
                    let Value::String(s) = lv else {
                        return Err(format!("label {lk:?} must be a string"));
                    };
                    sel.match_labels.insert(lk, s);
                }
            }
            "matchExpressions" => {
                return Err("label selector match expressions are not supported".into());
            }
            other => return Err(format!("unknown field {other:?}")),
        }
    }
    Ok(sel)
}

/// A flow mapping `{a: b, "c": 'd'}` as JSON-ish key/value pairs.
fn flow_map(s: &str) -> Result<Map<String, Value>, String> {
    let inner = s
        .trim()
        .strip_prefix('{')
        .and_then(|r| r.strip_suffix('}'))
        .ok_or("expected a {...} mapping")?;
    let mut m = Map::new();
    for pair in inner.split(',').filter(|p| !p.trim().is_empty()) {
        let (k, v) = pair.split_once(':').ok_or("expected key: value")?;
        m.insert(unquote(k).to_owned(), Value::String(unquote(v).to_owned()));
    }
    Ok(m)
}

fn from_yaml(text: &str) -> Result<Selector, String> {
    let mut top = Map::new();
    let mut current: Option<(String, Map<String, Value>)> = None;
    for line in text.lines() {
        let content = line.split(" #").next().unwrap_or("");
        if content.trim().is_empty() || content.trim_start().starts_with('#') {
            continue;
        }
        let indented = content.starts_with(' ') || content.starts_with('\t');
        let (k, v) = content
            .trim()
            .split_once(':')
            .ok_or_else(|| format!("expected key: value, got {:?}", content.trim()))?;
        let (k, v) = (unquote(k).to_owned(), v.trim());
        if indented {
            let (_, map) = current.as_mut().ok_or("unexpected indentation")?;
            map.insert(k, Value::String(unquote(v).to_owned()));
            continue;
        }
        if let Some((name, map)) = current.take() {
            top.insert(name, Value::Object(map));
        }
        if v.is_empty() {
            current = Some((k, Map::new()));
        } else if v.starts_with('{') {
            top.insert(k, Value::Object(flow_map(v)?));
        } else {
            top.insert(k, Value::String(unquote(v).to_owned()));
        }
    }
    if let Some((name, map)) = current {
        top.insert(name, Value::Object(map));
    }
    from_json(Value::Object(top))
}

impl Selector {
    /// Parses JSON (when it starts with `{`) or YAML.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Err("namespace selector is empty".into());
        }
        if text.trim_start().starts_with('{') {
            let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
            from_json(v)
        } else {
            from_yaml(text)
        }
    }

    /// Do these namespace labels satisfy the selector?
    pub fn matches(&self, labels: &Map<String, Value>) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k).and_then(Value::as_str) == Some(v.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn json_and_yaml_forms() {
        let want = Selector {
            match_labels: [("stage".to_owned(), "prod".to_owned())]
                .into_iter()
                .collect(),
        };
        assert_eq!(
            Selector::parse(r#"{"matchLabels":{"stage":"prod"}}"#).unwrap(),
            want
        );
        assert_eq!(
            Selector::parse("matchLabels:\n  stage: prod\n").unwrap(),
            want
        );
        assert_eq!(
            Selector::parse("matchLabels: {stage: \"prod\"}").unwrap(),
            want
        );
        assert!(Selector::parse(r#"{"matchExpressions":[]}"#).is_err());
        assert!(Selector::parse("matchExpressions:\n  - key: a\n").is_err());
        assert!(Selector::parse("").is_err());
        assert!(Selector::parse("{not json").is_err());
    }

    #[test]
    fn matching() {
        let s = Selector::parse(r#"{"matchLabels":{"stage":"prod","team":"a"}}"#).unwrap();
        let labels = json!({"stage": "prod", "team": "a", "x": "y"});
        assert!(s.matches(labels.as_object().unwrap()));
        let labels = json!({"stage": "prod"});
        assert!(!s.matches(labels.as_object().unwrap()));
        assert!(Selector::default().matches(&Map::new()));
    }
}
