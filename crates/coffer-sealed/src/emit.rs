//! Serializers that reproduce kubeseal's output bytes: Go `json.MarshalIndent` (2 spaces, HTML
//! characters escaped as `\u003c` etc.) and `sigs.k8s.io/yaml` (JSON → go-yaml v2: keys sorted,
//! sequences not indented, quoting of strings that would read as another type).

use serde_json::Value;

/// Appends `s` as a JSON string the way Go's `encoding/json` writes it.
pub fn go_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Go-style pretty JSON followed by a newline (what kubeseal prints per object).
pub fn to_go_json(v: &Value) -> String {
    let mut out = String::new();
    write_json(&mut out, v, 0);
    out.push('\n');
    out
}

/// Compact Go-style JSON (used for `toJson` in templates).
pub fn to_go_json_compact(v: &Value) -> String {
    let mut out = String::new();
    write_json_compact(&mut out, v);
    out
}

fn write_json_compact(out: &mut String, v: &Value) {
    match v {
        Value::Object(m) => {
            out.push('{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json_string(out, k);
                out.push(':');
                write_json_compact(out, v);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_compact(out, v);
            }
            out.push(']');
        }
        Value::String(s) => go_json_string(out, s),
        other => out.push_str(&other.to_string()),
    }
}

fn indent(out: &mut String, level: usize) {
    out.push('\n');
    for _ in 0..level {
        out.push_str("  ");
    }
}

fn write_json(out: &mut String, v: &Value, level: usize) {
    match v {
        Value::Object(m) if m.is_empty() => out.push_str("{}"),
        Value::Object(m) => {
            out.push('{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                indent(out, level + 1);
                go_json_string(out, k);
                out.push_str(": ");
                write_json(out, v, level + 1);
            }
            indent(out, level);
            out.push('}');
        }
        Value::Array(a) if a.is_empty() => out.push_str("[]"),
        Value::Array(a) => {
            out.push('[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                indent(out, level + 1);
                write_json(out, v, level + 1);
            }
            indent(out, level);
            out.push(']');
        }
        Value::String(s) => go_json_string(out, s),
        other => out.push_str(&other.to_string()),
    }
}

/// One YAML document as kubeseal writes it (keys sorted at every level), without the `---`.
pub fn to_go_yaml(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(m) if !m.is_empty() => write_map(&mut out, m, 0),
        Value::Array(a) if !a.is_empty() => write_seq(&mut out, a, 0),
        other => {
            write_scalar(&mut out, other, 0);
            out.push('\n');
        }
    }
    out
}

fn pad(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(' ');
    }
}

fn write_map(out: &mut String, m: &serde_json::Map<String, Value>, col: usize) {
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    for (i, k) in keys.into_iter().enumerate() {
        if i > 0 {
            pad(out, col);
        }
        if k.chars().any(|c| (c as u32) < 0x20 || c == '\u{7f}') {
            // Never a block scalar as a key.
            go_json_string(out, k);
        } else {
            write_string(out, k, col, false);
        }
        out.push(':');
        write_value_after_key(out, &m[k], col);
    }
}

fn write_value_after_key(out: &mut String, v: &Value, col: usize) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            pad(out, col + 2);
            write_map(out, m, col + 2);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            pad(out, col);
            write_seq(out, a, col);
        }
        other => {
            out.push(' ');
            write_scalar(out, other, col + 2);
            out.push('\n');
        }
    }
}

fn write_seq(out: &mut String, a: &[Value], col: usize) {
    for (i, v) in a.iter().enumerate() {
        if i > 0 {
            pad(out, col);
        }
        out.push_str("- ");
        match v {
            Value::Object(m) if !m.is_empty() => write_map(out, m, col + 2),
            Value::Array(inner) if !inner.is_empty() => write_seq(out, inner, col + 2),
            other => {
                write_scalar(out, other, col + 2);
                out.push('\n');
            }
        }
    }
}

/// Writes a scalar; `col` is the indentation of continuation lines of block scalars.
fn write_scalar(out: &mut String, v: &Value, col: usize) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::Object(_) => out.push_str("{}"),
        Value::Array(_) => out.push_str("[]"),
        Value::String(s) => write_string(out, s, col, true),
    }
}

/// Plain scalars that go-yaml v2 would resolve to something other than a string.
fn resolves_to_non_string(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false",
        "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL", "~",
        ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan",
        ".NaN", ".NAN", "<<",
    ];
    if s.is_empty() || WORDS.contains(&s) {
        return true;
    }
    let t = s.replace('_', "");
    let t = t.strip_prefix(['+', '-']).unwrap_or(&t);
    if t.is_empty() {
        return false;
    }
    let numeric =
        t.parse::<f64>().is_ok() && t.chars().all(|c| c.is_ascii_digit() || ".eE+-".contains(c));
    let prefixed = [("0x", 16), ("0o", 8), ("0b", 2)].iter().any(|(p, radix)| {
        t.strip_prefix(p)
            .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_digit(*radix)))
    });
    numeric || prefixed
}

/// Whether go-yaml's emitter may write `s` as a plain scalar.
fn plain_allowed(s: &str) -> bool {
    let first = s.chars().next().unwrap_or(' ');
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        // "-", "?" and ":" are allowed when followed by a non-space (go-yaml keeps e.g. "-x" plain).
        let second = s.chars().nth(1);
        let ok = matches!(first, '-' | '?' | ':') && second.is_some_and(|c| c != ' ');
        if !ok {
            return false;
        }
    }
    if s.starts_with(' ') || s.ends_with(' ') || s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return false;
    }
    !s.chars()
        .any(|c| (c as u32) < 0x20 || c == '\u{7f}' || c == '\u{feff}')
}

/// Current column (characters since the last newline).
fn column(out: &str) -> usize {
    out[out.rfind('\n').map_or(0, |i| i + 1)..].chars().count()
}

/// Writes `s` (already escaped for its style), breaking at single spaces once the line is past
/// 80 columns, as go-yaml v2's emitter does for plain and single-quoted scalars (`best_width`);
/// `quoted` keeps the first and last character from being a break point.
fn push_folded(out: &mut String, s: &str, indent: usize, quoted: bool) {
    let chars: Vec<char> = s.chars().collect();
    let mut col = column(out);
    let mut prev_space = false;
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' {
            let inner = !quoted || (i > 0 && i + 1 < chars.len());
            if !prev_space && col > 80 && inner && chars.get(i + 1) != Some(&' ') {
                out.push('\n');
                pad(out, indent);
                col = indent;
                prev_space = true;
                continue;
            }
            prev_space = true;
        } else {
            prev_space = false;
        }
        out.push(c);
        col += 1;
    }
}

/// Writes a string scalar; `breaks` allows folding long lines (values, not keys).
fn write_string(out: &mut String, s: &str, col: usize, breaks: bool) {
    let literal_ok = s.contains('\n')
        && !s.chars().any(|c| {
            ((c as u32) < 0x20 && c != '\n')
                || c == '\u{7f}'
                || c == '\u{85}'
                || c == '\u{2028}'
                || c == '\u{2029}'
        })
        && !s.starts_with([' ', '\n'])
        && s.trim_end_matches('\n').lines().all(|l| !l.ends_with(' '));
    if literal_ok {
        // Literal block scalar.
        let chomp = if !s.ends_with('\n') {
            "-"
        } else if s.ends_with("\n\n") {
            "+"
        } else {
            ""
        };
        out.push('|');
        out.push_str(chomp);
        let body = s.strip_suffix('\n').unwrap_or(s);
        for line in body.split('\n') {
            out.push('\n');
            if !line.is_empty() {
                pad(out, col);
                out.push_str(line);
            }
        }
        return;
    }
    if resolves_to_non_string(s) {
        go_json_string(out, s);
        return;
    }
    if plain_allowed(s) {
        if breaks {
            push_folded(out, s, col, false);
        } else {
            out.push_str(s);
        }
        return;
    }
    if s.chars().any(|c| (c as u32) < 0x20 || c == '\u{7f}') {
        go_json_string(out, s);
        return;
    }
    out.push('\'');
    let escaped = s.replace('\'', "''");
    if breaks {
        push_folded(out, &escaped, col, true);
    } else {
        out.push_str(&escaped);
    }
    out.push('\'');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn long_values_fold_like_go_yaml() {
        let long = "word ".repeat(30).trim_end().to_owned();
        let v =
            json!({"metadata": {"annotations": {"description": long, "q": format!("{{{long}")}}});
        let text = to_go_yaml(&v);
        // Break at the first single space once the line is past column 80; continuation lines
        // are indented two more than the key.
        let want = "metadata:\n  annotations:\n    description: word word word word word word word word word word word word word\n      word word word word word word word word word word word word word word word word\n      word\n    q: '{word word word word word word word word word word word word word word word\n      word word word word word word word word word word word word word word word'\n";
        assert_eq!(text, want);
        let back: serde_json::Value = crate::codec::parse_documents(text.as_bytes(), "t")
            .unwrap()
            .remove(0);
        assert_eq!(back, v);
    }

    #[test]
    fn go_json_layout_and_escaping() {
        let v =
            json!({"kind": "X", "m": {}, "a": [], "s": "<a&b>", "n": null, "l": [1, {"k": true}]});
        let want = "{\n  \"kind\": \"X\",\n  \"m\": {},\n  \"a\": [],\n  \"s\": \"\\u003ca\\u0026b\\u003e\",\n  \"n\": null,\n  \"l\": [\n    1,\n    {\n      \"k\": true\n    }\n  ]\n}\n";
        assert_eq!(to_go_json(&v), want);
    }

    #[test]
    fn go_yaml_layout_and_quoting() {
        let v = json!({
            "b": {"z": "true", "a": "", "c": "1.5", "d": "{\"x\": 1}", "e": "plain/text=", "f": "it's: here"},
            "a": [{"y": 1, "x": null}, "s"],
            "c": "line1\nline2\n",
        });
        // go-yaml v2 reads a bare y as a boolean, so the key is quoted.
        let want = "a:\n- x: null\n  \"y\": 1\n- s\nb:\n  a: \"\"\n  c: \"1.5\"\n  d: '{\"x\": 1}'\n  e: plain/text=\n  f: 'it''s: here'\n  z: \"true\"\nc: |\n  line1\n  line2\n";
        assert_eq!(to_go_yaml(&v), want);
    }
}
