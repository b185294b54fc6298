//! Document streams in and out: concatenated JSON objects or multi-document YAML (`---`),
//! empty documents skipped; output as kubeseal writes it (JSON objects concatenated, each YAML
//! document prefixed with `---`).

use serde_json::Value;

use crate::emit;
use crate::error::FormatError;

/// Output format (`-o json|yaml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// Go-style pretty JSON.
    #[default]
    Json,
    /// go-yaml style YAML.
    Yaml,
}

impl OutputFormat {
    /// Case-insensitive `json`/`yaml`.
    pub fn parse(s: &str) -> Option<OutputFormat> {
        match s.to_ascii_lowercase().as_str() {
            "json" => Some(OutputFormat::Json),
            "yaml" => Some(OutputFormat::Yaml),
            _ => None,
        }
    }
}

/// Parses a stream of JSON objects or YAML documents; `what` names the input in errors.
pub fn parse_documents(input: &[u8], what: &str) -> Result<Vec<Value>, FormatError> {
    let text = std::str::from_utf8(input).map_err(|_| FormatError::Parse {
        what: what.into(),
        reason: "input is not utf-8".into(),
    })?;
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    let docs: Vec<Value> = if trimmed.starts_with('{') || trimmed.starts_with('[') {
        serde_json::Deserializer::from_str(trimmed)
            .into_iter::<Value>()
            .collect::<Result<_, _>>()
            .map_err(|e| FormatError::Parse {
                what: what.into(),
                reason: format!("invalid json: {e}"),
            })?
    } else {
        let opts = serde_saphyr::options! { strict_booleans: true };
        serde_saphyr::from_multiple_with_options::<Option<Value>>(text, opts)
            .map_err(|e| FormatError::Parse {
                what: what.into(),
                reason: format!("invalid yaml: {}", first_line(&e.to_string())),
            })?
            .into_iter()
            .flatten()
            .collect()
    };
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// Expands `v1/List` documents into their items (used for key files).
pub fn flatten_lists(docs: Vec<Value>) -> Vec<Value> {
    let mut out = Vec::new();
    for d in docs {
        let is_list = d
            .get("kind")
            .and_then(Value::as_str)
            .is_some_and(|k| k == "List" || k.ends_with("List"))
            && d.get("items").is_some_and(Value::is_array);
        match d {
            Value::Object(mut m) if is_list => {
                if let Some(Value::Array(items)) = m.remove("items") {
                    out.extend(items);
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// Writes one object in the chosen format, exactly as kubeseal prints it.
pub fn render(v: &Value, format: OutputFormat) -> String {
    match format {
        OutputFormat::Json => emit::to_go_json(v),
        OutputFormat::Yaml => format!("---\n{}", emit::to_go_yaml(v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_stream_and_yaml_multi_doc() {
        let j = parse_documents(b"{\"a\":1}\n{\"b\":2}", "in").unwrap();
        assert_eq!(j.len(), 2);
        let y = parse_documents(b"---\na: 1\n---\n---\nb: 'yes'\nc: yes\n", "in").unwrap();
        assert_eq!(y.len(), 2);
        assert_eq!(y[1]["b"], "yes");
        assert!(
            parse_documents(b"a: [", "in")
                .unwrap_err()
                .to_string()
                .starts_with("cannot parse in: invalid yaml")
        );
        assert!(parse_documents(b"", "in").unwrap().is_empty());
    }

    #[test]
    fn lists_are_flattened() {
        let docs =
            parse_documents(b"kind: List\nitems:\n- a: 1\n- a: 2\n---\na: 3\n", "in").unwrap();
        assert_eq!(flatten_lists(docs).len(), 3);
    }
}
