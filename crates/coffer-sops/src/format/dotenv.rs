//! dotenv store: `KEY=VALUE` lines split at the first `=`, no trimming or
//! quoting, `\n` in values is a newline, `#` lines are comments.

use crate::error::{Error, Result};
use crate::tree::{Branch, Item, Value, format_float};

const FMT: &str = "dotenv";

pub fn load(text: &str) -> Result<Branch> {
    let mut items = Vec::new();
    for (n, line) in text.split('\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        if let Some(c) = line.strip_prefix('#') {
            items.push(Item::Comment(c.to_owned()));
            continue;
        }
        let (k, v) = line.split_once('=').ok_or_else(|| {
            Error::parse(
                FMT,
                format!("line {} has no '=' (expected KEY=VALUE)", n + 1),
            )
        })?;
        items.push(Item::Pair(k.to_owned(), Value::Str(v.replace("\\n", "\n"))));
    }
    Ok(items)
}

pub fn emit(branch: &[Item]) -> Result<String> {
    let mut out = String::new();
    for item in branch {
        match item {
            Item::Comment(c) => {
                out.push('#');
                out.push_str(c);
                out.push('\n');
            }
            Item::Pair(k, v) => {
                out.push_str(k);
                out.push('=');
                out.push_str(&scalar_text(v, k)?.replace('\n', "\\n"));
                out.push('\n');
            }
        }
    }
    Ok(out)
}

/// A scalar as dotenv text; maps and lists are rejected.
pub fn scalar_text(v: &Value, key: &str) -> Result<String> {
    Ok(match v {
        Value::Str(s) | Value::Time(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format_float(*f),
        Value::Bool(b) => b.to_string(),
        Value::Null => String::new(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Value::Map(_) | Value::Seq(_) | Value::Comment(_) => {
            return Err(Error::Emit {
                format: FMT,
                message: format!("cannot write complex value of key {key:?} as dotenv"),
            });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_trimming_and_escapes() {
        let b = load("foo = bar\n#c\nX=a\\nb\n").unwrap();
        assert_eq!(b[0], Item::Pair("foo ".into(), Value::Str(" bar".into())));
        assert_eq!(b[1], Item::Comment("c".into()));
        assert_eq!(b[2], Item::Pair("X".into(), Value::Str("a\nb".into())));
        assert_eq!(emit(&b).unwrap(), "foo = bar\n#c\nX=a\\nb\n");
        assert!(load("novalue\n").is_err());
    }
}
