//! The format-independent tree every store parses into: ordered branches
//! (one per YAML document) of items; comments are items too.

use crate::cipher::ValueType;

/// A node of the tree. `Debug` shows the structure and keys but redacts
/// every plaintext scalar and comment (encrypted `ENC[...]` text is shown).
#[derive(Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// A string that is not valid UTF-8 (binary store only).
    Bytes(Vec<u8>),
    /// A YAML `!!timestamp`, kept as its RFC 3339 text.
    Time(String),
    Map(Vec<Item>),
    Seq(Vec<Value>),
    /// A comment line inside a sequence (only valid as a `Seq` element).
    Comment(String),
}

/// An entry of a map: a key with its value, or a comment line.
#[derive(Clone, PartialEq)]
pub enum Item {
    Pair(String, Value),
    Comment(String),
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |f: &mut std::fmt::Formatter<'_>, kind: &str, s: &str| {
            if crate::cipher::is_encrypted(s) {
                write!(f, "{kind}({s:?})")
            } else {
                write!(f, "{kind}(<{} bytes>)", s.len())
            }
        };
        match self {
            Value::Null => f.write_str("Null"),
            Value::Bool(_) => f.write_str("Bool(<redacted>)"),
            Value::Int(_) => f.write_str("Int(<redacted>)"),
            Value::Float(_) => f.write_str("Float(<redacted>)"),
            Value::Str(s) => redacted(f, "Str", s),
            Value::Bytes(b) => write!(f, "Bytes(<{} bytes>)", b.len()),
            Value::Time(_) => f.write_str("Time(<redacted>)"),
            Value::Comment(c) => redacted(f, "Comment", c),
            Value::Map(items) => f.debug_tuple("Map").field(items).finish(),
            Value::Seq(elems) => f.debug_tuple("Seq").field(elems).finish(),
        }
    }
}

impl std::fmt::Debug for Item {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Item::Pair(k, v) => f.debug_tuple("Pair").field(k).field(v).finish(),
            Item::Comment(c) => {
                if crate::cipher::is_encrypted(c) {
                    write!(f, "Comment({c:?})")
                } else {
                    write!(f, "Comment(<{} bytes>)", c.len())
                }
            }
        }
    }
}

/// One document's top-level map.
pub type Branch = Vec<Item>;

impl Value {
    /// The bytes and type sops encrypts (and feeds to the MAC) for a leaf.
    /// `None` for null, maps and sequences.
    pub fn plaintext(&self) -> Option<(Vec<u8>, ValueType)> {
        Some(match self {
            Value::Str(s) => (s.as_bytes().to_vec(), ValueType::Str),
            Value::Bytes(b) => (b.clone(), ValueType::Str),
            Value::Int(i) => (i.to_string().into_bytes(), ValueType::Int),
            Value::Float(f) => (format_float(*f).into_bytes(), ValueType::Float),
            Value::Bool(b) => (
                (if *b { "True" } else { "False" }).as_bytes().to_vec(),
                ValueType::Bool,
            ),
            Value::Time(t) => (normalize_time(t).into_bytes(), ValueType::Time),
            Value::Comment(c) => (c.as_bytes().to_vec(), ValueType::Comment),
            Value::Null | Value::Map(_) | Value::Seq(_) => return None,
        })
    }

    /// Rebuilds a typed value from decrypted bytes (`Err` names the problem).
    pub fn from_plaintext(bytes: &[u8], ty: ValueType) -> Result<Value, String> {
        let text = || {
            std::str::from_utf8(bytes).map_err(|_| format!("{} value is not UTF-8", ty.as_str()))
        };
        Ok(match ty {
            ValueType::Str | ValueType::Bytes => match std::str::from_utf8(bytes) {
                Ok(s) => Value::Str(s.to_owned()),
                Err(_) => Value::Bytes(bytes.to_vec()),
            },
            ValueType::Comment => Value::Comment(text()?.to_owned()),
            ValueType::Int => Value::Int(
                text()?
                    .parse()
                    .map_err(|_| "int value does not parse".to_owned())?,
            ),
            ValueType::Float => {
                Value::Float(parse_go_float(text()?).ok_or("float value does not parse")?)
            }
            ValueType::Bool => {
                Value::Bool(parse_go_bool(text()?).ok_or("bool value does not parse")?)
            }
            ValueType::Time => Value::Time(text()?.to_owned()),
        })
    }
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`: shortest round trip, no exponent.
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{f}")
    }
}

fn parse_go_float(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "inf" | "+inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        _ => s.parse().ok(),
    }
}

/// Go's `strconv.ParseBool`.
pub fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `time.Time.MarshalText` form for a timestamp (RFC 3339, nanoseconds
/// trimmed); text that does not parse is kept as-is.
pub fn normalize_time(t: &str) -> String {
    use time::format_description::well_known::Rfc3339;
    match time::OffsetDateTime::parse(t, &Rfc3339) {
        Ok(dt) => dt.format(&Rfc3339).unwrap_or_else(|_| t.to_owned()),
        Err(_) => t.to_owned(),
    }
}

/// Looks up a top-level key in a branch.
pub fn get<'a>(branch: &'a [Item], key: &str) -> Option<&'a Value> {
    branch.iter().find_map(|i| match i {
        Item::Pair(k, v) if k == key => Some(v),
        _ => None,
    })
}

/// Removes every top-level `key` from a branch, returning the first value.
pub fn take(branch: &mut Branch, key: &str) -> Option<Value> {
    let mut found = None;
    branch.retain_mut(|i| match i {
        Item::Pair(k, v) if k == key => {
            if found.is_none() {
                found = Some(std::mem::replace(v, Value::Null));
            }
            false
        }
        _ => true,
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_plaintext() {
        let v = Value::Map(vec![
            Item::Pair("password".into(), Value::Str("hunter2".into())),
            Item::Comment(" secret note".into()),
            Item::Pair("n".into(), Value::Int(1234)),
        ]);
        let d = format!("{v:?}");
        assert!(
            d.contains("password")
                && !d.contains("hunter2")
                && !d.contains("secret note")
                && !d.contains("1234"),
            "{d}"
        );
    }

    #[test]
    fn plaintext_encodings() {
        assert_eq!(Value::Float(7.0).plaintext().unwrap().0, b"7");
        assert_eq!(
            Value::Float(1234568000.0).plaintext().unwrap().0,
            b"1234568000"
        );
        assert_eq!(Value::Float(2.25).plaintext().unwrap().0, b"2.25");
        assert_eq!(Value::Bool(true).plaintext().unwrap().0, b"True");
        assert_eq!(Value::Int(-3).plaintext().unwrap().0, b"-3");
        assert_eq!(
            Value::from_plaintext(b"TRUE", ValueType::Bool).unwrap(),
            Value::Bool(true)
        );
        assert!(Value::from_plaintext(b"yes", ValueType::Bool).is_err());
        assert_eq!(
            Value::from_plaintext(b"+Inf", ValueType::Float).unwrap(),
            Value::Float(f64::INFINITY)
        );
    }
}
