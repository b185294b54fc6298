//! Tree → YAML text in sops' layout: block style, 4-space indentation by
//! default, sequences indented inside their map, comments as `#` lines,
//! multi-line strings as literal blocks, strings quoted only when needed.

use crate::error::{Error, Result};
use crate::tree::{Branch, Item, Value, format_float};

/// Emits every branch as one YAML document, separated by `---`.
pub fn emit(branches: &[Branch], indent: usize) -> Result<String> {
    let mut e = Emitter {
        out: String::new(),
        indent: indent.max(1),
    };
    for (i, b) in branches.iter().enumerate() {
        if i > 0 {
            e.out.push_str("---\n");
        }
        if b.is_empty() {
            e.out.push_str("{}\n");
            continue;
        }
        e.map(b, 0)?;
    }
    Ok(e.out)
}

/// Any value as a YAML document (for `--extract`).
pub fn emit_value(v: &Value, indent: usize) -> Result<String> {
    let mut e = Emitter {
        out: String::new(),
        indent: indent.max(1),
    };
    match v {
        Value::Map(items) if !items.is_empty() => e.map(items, 0)?,
        Value::Seq(elems) if !elems.is_empty() => e.seq(elems, 0)?,
        Value::Map(_) => e.out.push_str("{}\n"),
        Value::Seq(_) => e.out.push_str("[]\n"),
        _ => {
            let s = e.scalar(v, 0)?;
            e.out.push_str(&s);
            e.out.push('\n');
        }
    }
    Ok(e.out)
}

struct Emitter {
    out: String,
    indent: usize,
}

impl Emitter {
    fn pad(&mut self, col: usize) {
        self.out.extend(std::iter::repeat_n(' ', col));
    }

    fn map(&mut self, items: &[Item], col: usize) -> Result<()> {
        for (i, item) in items.iter().enumerate() {
            if i > 0 || !self.out.ends_with("- ") {
                self.pad(col);
            }
            match item {
                Item::Comment(c) => {
                    self.out.push('#');
                    self.out.push_str(c);
                    self.out.push('\n');
                }
                Item::Pair(k, v) => {
                    self.out.push_str(&key(k));
                    self.out.push(':');
                    self.after_key(v, col)?;
                }
            }
        }
        Ok(())
    }

    /// Writes what follows `key:`.
    fn after_key(&mut self, v: &Value, col: usize) -> Result<()> {
        match v {
            Value::Map(items) if !items.is_empty() => {
                self.out.push('\n');
                self.map(items, col + self.indent)
            }
            Value::Map(_) => {
                self.out.push_str(" {}\n");
                Ok(())
            }
            Value::Seq(elems) if !elems.is_empty() => {
                self.out.push('\n');
                self.seq(elems, col + self.indent)
            }
            Value::Seq(_) => {
                self.out.push_str(" []\n");
                Ok(())
            }
            _ => {
                let s = self.scalar(v, col)?;
                self.out.push(' ');
                self.out.push_str(&s);
                self.out.push('\n');
                Ok(())
            }
        }
    }

    fn seq(&mut self, elems: &[Value], col: usize) -> Result<()> {
        for e in elems {
            self.pad(col);
            match e {
                Value::Comment(c) => {
                    self.out.push('#');
                    self.out.push_str(c);
                    self.out.push('\n');
                }
                Value::Map(items) if !items.is_empty() => {
                    if matches!(items[0], Item::Comment(_)) {
                        self.out.push_str("-\n");
                        self.map(items, col + 2)?;
                    } else {
                        self.out.push_str("- ");
                        self.map(items, col + 2)?;
                    }
                }
                Value::Seq(inner) if !inner.is_empty() => {
                    self.out.push_str("-\n");
                    self.seq(inner, col + 2)?;
                }
                Value::Map(_) => self.out.push_str("- {}\n"),
                Value::Seq(_) => self.out.push_str("- []\n"),
                _ => {
                    let s = self.scalar(e, col)?;
                    self.out.push_str("- ");
                    self.out.push_str(&s);
                    self.out.push('\n');
                }
            }
        }
        Ok(())
    }

    /// A scalar's text; block scalars carry their own lines indented past `col`.
    fn scalar(&mut self, v: &Value, col: usize) -> Result<String> {
        Ok(match v {
            Value::Null => "null".into(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => float(*f),
            Value::Time(t) => format!("!!timestamp {t}"),
            Value::Str(s) => string(s, col + self.indent),
            Value::Bytes(b) => {
                use base64::Engine;
                format!(
                    "!!binary {}",
                    base64::engine::general_purpose::STANDARD.encode(b)
                )
            }
            Value::Comment(_) | Value::Map(_) | Value::Seq(_) => {
                return Err(Error::Emit {
                    format: "yaml",
                    message: "unexpected node in scalar position".into(),
                });
            }
        })
    }
}

fn float(f: f64) -> String {
    if f.is_nan() {
        ".nan".into()
    } else if f.is_infinite() {
        if f > 0.0 {
            ".inf".into()
        } else {
            "-.inf".into()
        }
    } else {
        let s = format_float(f);
        if s.contains('.') { s } else { format!("{s}.0") }
    }
}

fn key(k: &str) -> String {
    if plain_ok(k) {
        k.to_owned()
    } else {
        double_quoted(k)
    }
}

/// A string value: plain, literal block, or double-quoted.
fn string(s: &str, content_col: usize) -> String {
    if plain_ok(s) {
        return s.to_owned();
    }
    if let Some(b) = literal_block(s, content_col) {
        return b;
    }
    double_quoted(s)
}

fn literal_block(s: &str, col: usize) -> Option<String> {
    if !s.contains('\n') || s.starts_with([' ', '\t', '\n']) {
        return None;
    }
    if s.chars()
        .any(|c| c != '\n' && (c.is_control() && c != '\t' || c == '\u{feff}'))
    {
        return None;
    }
    let body = s.trim_end_matches('\n');
    let trailing = s.len() - body.len();
    if body.is_empty() || body.lines().any(|l| l.ends_with([' ', '\t'])) {
        return None;
    }
    let chomp = match trailing {
        0 => "|-",
        1 => "|",
        _ => "|+",
    };
    let mut out = String::from(chomp);
    let pad = " ".repeat(col);
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
    }
    for _ in 1..trailing {
        out.push('\n');
    }
    Some(out)
}

/// Whether `s` can be written as a plain scalar and read back as the same string.
fn plain_ok(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if s.starts_with([' ', '\t']) || s.ends_with([' ', '\t', ':']) {
        return false;
    }
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.contains('\t') {
        return false;
    }
    if s.chars()
        .any(|c| c.is_control() || c == '\u{feff}' || c == '\u{2028}' || c == '\u{2029}')
    {
        return false;
    }
    if !matches!(super::yaml_load::resolve_plain(s), Value::Str(_)) {
        return false;
    }
    // YAML 1.1 booleans and things go-yaml or other readers may resolve
    let lower = s.to_ascii_lowercase();
    if [
        "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~",
    ]
    .contains(&lower.as_str())
    {
        return false;
    }
    if first.is_ascii_digit() && (s.contains(':') || s.len() >= 5 && s.as_bytes()[4] == b'-') {
        return false;
    }
    if first.is_ascii_digit() || first == '.' || first == '+' {
        // numbers in other notations (1_000, 0755, 1e3) — quote to be safe
        let numeric_looking = s
            .chars()
            .all(|c| c.is_ascii_digit() || "._+-eE".contains(c));
        // a version such as 3.13.2 is never read as a number
        return !numeric_looking || s.matches('.').count() >= 2;
    }
    true
}

fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || c == '\u{feff}' || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::super::yaml_load::load;
    use super::*;

    fn round_trip(src: &str) {
        let b = load(src).unwrap();
        let text = emit(&b, 4).unwrap();
        let again = load(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(b, again, "{text}");
    }

    #[test]
    fn round_trips() {
        round_trip(
            "a: 1\nb: \"1\"\nc: yes\nd: \"\"\ne: null\nf: 2.0\ng: \"a: b\"\nh: \"#x\"\ni: \" lead\"\n",
        );
        round_trip(
            "k: |\n  line1\n  line2\nl: \"x\\n\\n\"\nm: \"no newline\\nend\"\nn: \"tab\\there\"\n",
        );
        round_trip(
            "list:\n  - a\n  # c\n  - {x: 1, y: [1, 2]}\n  - [p, q]\n  - - deep\n  -\n    # first\n    k: v\nempty_map: {}\nempty_seq: []\n",
        );
        round_trip(
            "\"key: colon\": v\n'0': zero\nver: 3.13.2\nts: \"2020-01-01T00:00:00Z\"\noct: \"0755\"\n",
        );
    }

    #[test]
    fn layout_matches_sops() {
        let b = load("a:\n  b: x\n  l:\n  - 1\n").unwrap();
        assert_eq!(emit(&b, 4).unwrap(), "a:\n    b: x\n    l:\n        - 1\n");
    }
}
