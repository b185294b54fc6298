//! Lenient typed fields, as Vault parses them: numbers may come as strings,
//! lists as comma-separated strings, booleans as "true"/"1". Engines declare a
//! serde struct per operation and call [`parse`].

use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer};
use serde_json::Value;

use crate::logical::{Error, Object};

/// Parses a request body into `T`, naming the offending field on failure.
pub fn parse<T: DeserializeOwned>(data: &Object) -> Result<T, Error> {
    let value = Value::Object(data.clone());
    serde_path_to_error::deserialize(value).map_err(|e| {
        Error::BadRequest(format!(
            "Field validation failed: error converting input for field {:?}: {}",
            e.path().to_string(),
            e.inner()
        ))
    })
}

fn number_from_str<T: std::str::FromStr>(s: &str) -> Option<T> {
    s.trim().parse().ok()
}

/// An integer given as a JSON number or a numeric string; `""` is an error.
pub fn int<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    match Value::deserialize(d)? {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .ok_or_else(|| de::Error::custom("value cannot be parsed as 'int'")),
        Value::String(s) => {
            number_from_str(&s).ok_or_else(|| de::Error::custom("value cannot be parsed as 'int'"))
        }
        Value::Null => Ok(0),
        _ => Err(de::Error::custom("value cannot be parsed as 'int'")),
    }
}

/// A non-negative integer (counts, versions given as strings by the CLI).
pub fn uint<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let v = int(d)?;
    u64::try_from(v).map_err(|_| de::Error::custom("value must be non-negative"))
}

pub fn opt_uint<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    uint(d).map(Some)
}

pub fn opt_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    int(d).map(Some)
}

/// A boolean given as JSON bool or as "true"/"false"/"1"/"0".
pub fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match Value::deserialize(d)? {
        Value::Bool(b) => Ok(b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "t" => Ok(true),
            "false" | "0" | "f" | "" => Ok(false),
            _ => Err(de::Error::custom("value cannot be parsed as 'bool'")),
        },
        Value::Number(n) => Ok(n.as_f64() != Some(0.0)),
        Value::Null => Ok(false),
        _ => Err(de::Error::custom("value cannot be parsed as 'bool'")),
    }
}

pub fn opt_boolean<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    boolean(d).map(Some)
}

/// A list of strings given as a JSON array or a comma-separated string.
pub fn str_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let items = match Value::deserialize(d)? {
        Value::Null => Vec::new(),
        Value::String(s) => s.split(',').map(str::to_owned).collect(),
        Value::Array(a) => a
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                Value::Number(n) => Ok(n.to_string()),
                _ => Err(de::Error::custom("list items must be strings")),
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err(de::Error::custom("value cannot be parsed as 'slice'")),
    };
    Ok(items
        .into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect())
}

pub fn opt_str_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    str_list(d).map(Some)
}

/// A string given as string, number or bool (the CLI sends everything as strings).
pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        Value::Null => Ok(String::new()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(de::Error::custom("value cannot be parsed as 'string'")),
    }
}

/// A string map given as a JSON object or as a JSON-encoded string (approle metadata).
pub fn str_map<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<indexmap::IndexMap<String, String>, D::Error> {
    let value = match Value::deserialize(d)? {
        Value::Null => return Ok(Default::default()),
        Value::String(s) if s.trim().is_empty() => return Ok(Default::default()),
        Value::String(s) => serde_json::from_str(&s)
            .map_err(|_| de::Error::custom("expected a JSON object of strings"))?,
        other => other,
    };
    match value {
        Value::Object(map) => map
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k, s)),
                other => Ok((k, other.to_string())),
            })
            .collect(),
        _ => Err(de::Error::custom("expected a map of strings")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug, Default)]
    #[serde(default)]
    struct Sample {
        #[serde(deserialize_with = "uint")]
        version: u64,
        #[serde(deserialize_with = "str_list")]
        policies: Vec<String>,
        #[serde(deserialize_with = "boolean")]
        flag: bool,
    }

    fn obj(v: Value) -> Object {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn lenient_values() {
        let s: Sample = parse(&obj(
            serde_json::json!({"version":"3","policies":"a, b","flag":"true"}),
        ))
        .unwrap();
        assert_eq!(s.version, 3);
        assert_eq!(s.policies, vec!["a", "b"]);
        assert!(s.flag);
        let s: Sample = parse(&obj(serde_json::json!({"policies":["x"]}))).unwrap();
        assert_eq!(s.policies, vec!["x"]);
    }

    #[test]
    fn error_names_the_field() {
        let err = parse::<Sample>(&obj(serde_json::json!({"version":""}))).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("field \"version\""), "{msg}");
        assert!(msg.starts_with("Field validation failed"), "{msg}");
    }
}
