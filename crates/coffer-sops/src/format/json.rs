//! JSON store: an ordered object (duplicate keys kept as separate items),
//! integers that fit i64 as `int`, other numbers as `float`; written with a
//! tab (or N spaces) of indentation and a final newline.

use std::fmt;

use serde::Deserializer;
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};

use crate::error::{Error, Result};
use crate::tree::{Branch, Item, Value, format_float};

const FMT: &str = "json";

/// Parses a JSON document whose top level must be an object.
pub fn load(text: &str) -> Result<Branch> {
    let mut de = serde_json::Deserializer::from_str(text);
    let v = NodeSeed
        .deserialize(&mut de)
        .map_err(|e| Error::parse(FMT, e.to_string()))?;
    de.end().map_err(|e| Error::parse(FMT, e.to_string()))?;
    match v {
        Value::Map(items) => Ok(items),
        _ => Err(Error::parse(
            FMT,
            "the top level of a sops JSON file must be an object",
        )),
    }
}

/// Parses any JSON value (for `set`).
pub fn load_value(text: &str) -> Result<Value> {
    let mut de = serde_json::Deserializer::from_str(text);
    let v = NodeSeed
        .deserialize(&mut de)
        .map_err(|e| Error::parse(FMT, e.to_string()))?;
    de.end().map_err(|e| Error::parse(FMT, e.to_string()))?;
    Ok(v)
}

struct NodeSeed;

impl<'de> DeserializeSeed<'de> for NodeSeed {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Value, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> std::result::Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> std::result::Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> std::result::Result<Value, E> {
        Ok(i64::try_from(v)
            .map(Value::Int)
            .unwrap_or(Value::Float(v as f64)))
    }
    fn visit_f64<E>(self, v: f64) -> std::result::Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> std::result::Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_unit<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> std::result::Result<Value, A::Error> {
        let mut v = Vec::new();
        while let Some(e) = a.next_element_seed(NodeSeed)? {
            v.push(e);
        }
        Ok(Value::Seq(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> std::result::Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(k) = a.next_key::<String>()? {
            let v = a.next_value_seed(NodeSeed)?;
            items.push(Item::Pair(k, v));
        }
        Ok(Value::Map(items))
    }
}

/// Writes a branch as a JSON object; `indent` None = one tab.
pub fn emit(branch: &[Item], indent: Option<usize>) -> Result<String> {
    let unit = match indent {
        Some(n) => " ".repeat(n),
        None => "\t".into(),
    };
    let mut out = String::new();
    map(&mut out, branch, &unit, 0)?;
    out.push('\n');
    Ok(out)
}

/// One value as JSON text (for `--extract`).
pub fn emit_value(v: &Value, indent: Option<usize>) -> Result<String> {
    let unit = match indent {
        Some(n) => " ".repeat(n),
        None => "\t".into(),
    };
    let mut out = String::new();
    value(&mut out, v, &unit, 0)?;
    Ok(out)
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn map(out: &mut String, items: &[Item], unit: &str, level: usize) -> Result<()> {
    let pairs: Vec<(&String, &Value)> = items
        .iter()
        .filter_map(|i| match i {
            Item::Pair(k, v) => Some((k, v)),
            Item::Comment(_) => None,
        })
        .collect();
    if pairs.is_empty() {
        out.push_str("{}");
        return Ok(());
    }
    out.push_str("{\n");
    for (i, (k, v)) in pairs.iter().enumerate() {
        out.push_str(&unit.repeat(level + 1));
        out.push_str(&quote(k));
        out.push_str(": ");
        value(out, v, unit, level + 1)?;
        if i + 1 < pairs.len() {
            out.push(',');
        }
        out.push('\n');
    }
    out.push_str(&unit.repeat(level));
    out.push('}');
    Ok(())
}

fn value(out: &mut String, v: &Value, unit: &str, level: usize) -> Result<()> {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) if f.is_finite() => out.push_str(&format_float(*f)),
        Value::Float(_) => {
            return Err(Error::Emit {
                format: FMT,
                message: "JSON cannot hold NaN or infinity".into(),
            });
        }
        Value::Str(s) | Value::Time(s) => out.push_str(&quote(s)),
        Value::Bytes(_) => {
            return Err(Error::Emit {
                format: FMT,
                message: "value is not valid UTF-8".into(),
            });
        }
        Value::Comment(_) => {}
        Value::Map(items) => map(out, items, unit, level)?,
        Value::Seq(elems) => {
            let elems: Vec<&Value> = elems
                .iter()
                .filter(|e| !matches!(e, Value::Comment(_)))
                .collect();
            if elems.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push_str("[\n");
            for (i, e) in elems.iter().enumerate() {
                out.push_str(&unit.repeat(level + 1));
                value(out, e, unit, level + 1)?;
                if i + 1 < elems.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&unit.repeat(level));
            out.push(']');
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_types_and_duplicates() {
        let b = load(r#"{"b": 1, "a": 2.5, "c": [true, null, "x"], "b": 9223372036854775808}"#)
            .unwrap();
        assert_eq!(b[0], Item::Pair("b".into(), Value::Int(1)));
        assert_eq!(b[1], Item::Pair("a".into(), Value::Float(2.5)));
        assert!(matches!(b[3], Item::Pair(_, Value::Float(_))));
        let text = emit(&b, None).unwrap();
        assert!(text.starts_with("{\n\t\"b\": 1,\n"));
        assert_eq!(load(&text).unwrap().len(), 4);
        assert!(load("[1]").is_err());
        assert!(load("{\"a\": 1} x").is_err());
    }
}
