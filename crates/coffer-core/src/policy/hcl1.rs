//! A parser for the HCL 1 dialect that Vault and OpenBao policies are written in.
//!
//! Policies predate HCL 2 and rely on HCL 1 leniencies that HCL 2 parsers (hcl-rs)
//! reject, all of them in real policies and in OpenBao's own docs:
//! several attributes on one line (`{ capabilities = ["read"] max_wrapping_ttl = "90s" }`),
//! object items without separators (`{ "a" = [] "b" = [] }`), and `=` optional
//! before a block. This module reads that grammar into a small tree; `parse`
//! turns the tree into policy rules. JSON policies bypass it.
//!
//! Grammar: a file is a list of items; an item is one or more keys (identifiers
//! or quoted strings) followed by `= value` (one key only) or by `{ items }`.
//! Values are strings, heredocs, numbers, booleans, `[lists]` and `{objects}`.
//! Commas between object items are optional; list elements need them.
//! Comments: `#`, `//`, `/* */`. Errors read like HCL 1's: `At 1:11: ...`.

use serde_json::Value;

/// One `keys... = value` or `keys... { ... }` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Never empty: the parser only builds items with at least one key.
    pub keys: Vec<String>,
    pub value: Node,
    /// 1-based line of the item's first key, for error messages.
    pub line: usize,
    /// 1-based line and column where the value starts (`None` for JSON input).
    pub value_pos: Option<(usize, usize)>,
}

/// A parsed value.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A string, number or boolean.
    Lit(Value),
    List(Vec<Node>),
    Object(Vec<Item>),
}

impl Node {
    /// Converts to JSON, objects keyed by their items' joined keys (later keys win).
    pub fn to_json(&self) -> Value {
        match self {
            Node::Lit(v) => v.clone(),
            Node::List(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Node::Object(items) => {
                let mut map = serde_json::Map::new();
                for item in items {
                    let Some((first, rest)) = item.keys.split_first() else {
                        continue;
                    };
                    let mut value = item.value.to_json();
                    for key in rest.iter().rev() {
                        let mut inner = serde_json::Map::new();
                        inner.insert(key.clone(), value);
                        value = Value::Object(inner);
                    }
                    map.insert(first.clone(), value);
                }
                Value::Object(map)
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Number(Value),
    Bool(bool),
    LBrace,
    RBrace,
    LBrack,
    RBrack,
    Assign,
    Comma,
    Eof,
}

impl Tok {
    fn kind(&self) -> &'static str {
        match self {
            Tok::Ident(_) => "IDENT",
            Tok::Str(_) => "STRING",
            Tok::Number(_) => "NUMBER",
            Tok::Bool(_) => "BOOL",
            Tok::LBrace => "LBRACE",
            Tok::RBrace => "RBRACE",
            Tok::LBrack => "LBRACK",
            Tok::RBrack => "RBRACK",
            Tok::Assign => "ASSIGN",
            Tok::Comma => "COMMA",
            Tok::Eof => "EOF",
        }
    }
}

/// Parses HCL 1 text into its top-level items. The error text is the message
/// after `failed to parse policy: `.
pub fn parse(text: &str) -> Result<Vec<Item>, String> {
    let toks = Lexer::new(text).run()?;
    let mut p = Parser { toks, pos: 0 };
    p.object_list(true)
}

struct Lexer<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: usize,
    col: usize,
    out: Vec<(Tok, usize, usize)>,
}

impl<'a> Lexer<'a> {
    fn new(text: &'a str) -> Self {
        Lexer {
            chars: text.chars().peekable(),
            line: 1,
            col: 1,
            out: Vec::new(),
        }
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn err(line: usize, col: usize, msg: impl std::fmt::Display) -> String {
        format!("At {line}:{col}: {msg}")
    }

    fn run(mut self) -> Result<Vec<(Tok, usize, usize)>, String> {
        while let Some(&c) = self.chars.peek() {
            let (line, col) = (self.line, self.col);
            let tok = match c {
                c if c.is_whitespace() => {
                    self.bump();
                    continue;
                }
                '#' => {
                    self.skip_line();
                    continue;
                }
                '/' => {
                    self.bump();
                    match self.bump() {
                        Some('/') => self.skip_line(),
                        Some('*') => self.skip_block_comment(line, col)?,
                        _ => return Err(Self::err(line, col, "expected '/' for comment")),
                    }
                    continue;
                }
                '{' | '}' | '[' | ']' | '=' | ',' => {
                    self.bump();
                    match c {
                        '{' => Tok::LBrace,
                        '}' => Tok::RBrace,
                        '[' => Tok::LBrack,
                        ']' => Tok::RBrack,
                        '=' => Tok::Assign,
                        _ => Tok::Comma,
                    }
                }
                '"' => Tok::Str(self.string(line, col)?),
                '<' => Tok::Str(self.heredoc(line, col)?),
                c if c.is_ascii_digit() || c == '-' => self.number(line, col)?,
                c if c.is_alphabetic() || c == '_' => {
                    let mut s = String::new();
                    while let Some(&c) = self.chars.peek() {
                        if c.is_alphanumeric() || matches!(c, '_' | '-' | '.') {
                            s.push(c);
                            self.bump();
                        } else {
                            break;
                        }
                    }
                    match s.as_str() {
                        "true" => Tok::Bool(true),
                        "false" => Tok::Bool(false),
                        _ => Tok::Ident(s),
                    }
                }
                other => {
                    return Err(Self::err(line, col, format!("illegal char {other:?}")));
                }
            };
            self.out.push((tok, line, col));
        }
        // HCL 1 reports the end of input one column past the last character.
        self.out.push((Tok::Eof, self.line, self.col + 1));
        Ok(self.out)
    }

    fn skip_line(&mut self) {
        while let Some(c) = self.bump() {
            if c == '\n' {
                break;
            }
        }
    }

    fn skip_block_comment(&mut self, line: usize, col: usize) -> Result<(), String> {
        let mut prev = '\0';
        while let Some(c) = self.bump() {
            if prev == '*' && c == '/' {
                return Ok(());
            }
            prev = c;
        }
        Err(Self::err(line, col, "comment not terminated"))
    }

    fn string(&mut self, line: usize, col: usize) -> Result<String, String> {
        self.bump(); // opening quote
        let mut out = String::new();
        let mut braces = 0usize; // inside ${ ... } interpolations quotes may nest
        loop {
            let Some(c) = self.bump() else {
                return Err(Self::err(line, col, "literal not terminated"));
            };
            match c {
                '\n' => return Err(Self::err(line, col, "literal not terminated")),
                '"' if braces == 0 => return Ok(out),
                '$' if self.chars.peek() == Some(&'{') => {
                    self.bump();
                    braces += 1;
                    out.push_str("${");
                }
                '}' if braces > 0 => {
                    braces -= 1;
                    out.push('}');
                }
                '\\' if braces == 0 => out.push(self.escape(line, col)?),
                c => out.push(c),
            }
        }
    }

    fn escape(&mut self, line: usize, col: usize) -> Result<char, String> {
        let bad = |what: &str| Self::err(line, col, format!("invalid escape sequence {what}"));
        let c = self.bump().ok_or_else(|| bad("at end of input"))?;
        Ok(match c {
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            'a' => '\u{7}',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'v' => '\u{b}',
            '\\' => '\\',
            '"' => '"',
            '\'' => '\'',
            'u' | 'U' => {
                let n = if c == 'u' { 4 } else { 8 };
                let mut hex = String::new();
                for _ in 0..n {
                    hex.push(self.bump().ok_or_else(|| bad("in unicode escape"))?);
                }
                u32::from_str_radix(&hex, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| bad(&format!("\\{c}{hex}")))?
            }
            other => return Err(bad(&format!("\\{other}"))),
        })
    }

    fn heredoc(&mut self, line: usize, col: usize) -> Result<String, String> {
        let bad = || Self::err(line, col, "heredoc expected marker (<<EOF or <<-EOF)");
        self.bump();
        if self.bump() != Some('<') {
            return Err(bad());
        }
        let indented = self.chars.peek() == Some(&'-');
        if indented {
            self.bump();
        }
        let mut marker = String::new();
        while let Some(&c) = self.chars.peek() {
            if c == '\n' {
                break;
            }
            marker.push(c);
            self.bump();
        }
        let marker = marker.trim_end_matches('\r').to_owned();
        if marker.is_empty() || !marker.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return Err(bad());
        }
        self.bump(); // newline
        let mut lines = Vec::new();
        let mut current = String::new();
        loop {
            let Some(c) = self.bump() else {
                return Err(Self::err(line, col, "heredoc not terminated"));
            };
            if c != '\n' {
                current.push(c);
                continue;
            }
            if current.trim() == marker && (indented || current.trim_end() == marker) {
                break;
            }
            lines.push(std::mem::take(&mut current));
        }
        // A marker on the last line without a trailing newline also ends it.
        if !current.is_empty() && current.trim() != marker {
            lines.push(current);
        }
        if indented {
            let indent = lines
                .iter()
                .filter(|l| !l.trim().is_empty())
                .map(|l| l.len() - l.trim_start().len())
                .min()
                .unwrap_or(0);
            for l in &mut lines {
                *l = l.get(indent..).unwrap_or("").to_owned();
            }
        }
        let mut out = lines.join("\n");
        out.push('\n');
        Ok(out)
    }

    fn number(&mut self, line: usize, col: usize) -> Result<Tok, String> {
        let mut s = String::new();
        while let Some(&c) = self.chars.peek() {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.') {
                s.push(c);
                self.bump();
            } else {
                break;
            }
        }
        let value = if let Ok(i) = s.parse::<i64>() {
            Value::from(i)
        } else if let Some(f) = s.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
            Value::Number(f)
        } else {
            return Err(Self::err(line, col, format!("illegal number {s:?}")));
        };
        Ok(Tok::Number(value))
    }
}

struct Parser {
    toks: Vec<(Tok, usize, usize)>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        // The lexer always ends the stream with Eof and the parser never passes it.
        &self.toks[self.pos.min(self.toks.len() - 1)].0
    }

    fn next(&mut self) -> (Tok, usize, usize) {
        let t = self.toks[self.pos.min(self.toks.len() - 1)].clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn object_list(&mut self, top: bool) -> Result<Vec<Item>, String> {
        let mut items = Vec::new();
        loop {
            match self.peek() {
                Tok::Eof if top => return Ok(items),
                Tok::Eof => {
                    let (_, l, c) = self.next();
                    return Err(format!(
                        "At {l}:{c}: object expected closing RBRACE got: EOF"
                    ));
                }
                Tok::RBrace if !top => return Ok(items),
                _ => {}
            }
            items.push(self.object_item()?);
            if self.peek() == &Tok::Comma {
                self.next();
            }
        }
    }

    fn object_item(&mut self) -> Result<Item, String> {
        let mut keys = Vec::new();
        let mut line = 0;
        loop {
            let (tok, l, c) = self.next();
            if keys.is_empty() {
                line = l;
            }
            match tok {
                Tok::Ident(k) | Tok::Str(k) => keys.push(k),
                Tok::Assign if keys.len() == 1 => {
                    let (_, vl, vc) = self.toks[self.pos.min(self.toks.len() - 1)];
                    let value = self.value()?;
                    return Ok(Item {
                        keys,
                        value,
                        line,
                        value_pos: Some((vl, vc)),
                    });
                }
                Tok::Assign if keys.len() > 1 => {
                    return Err(format!(
                        "At {l}:{c}: nested object expected: LBRACE got: ASSIGN"
                    ));
                }
                Tok::LBrace if !keys.is_empty() => {
                    let items = self.object_list(false)?;
                    self.next(); // the closing brace object_list stopped at
                    return Ok(Item {
                        keys,
                        value: Node::Object(items),
                        line,
                        value_pos: Some((l, c)),
                    });
                }
                other if keys.is_empty() => {
                    return Err(format!(
                        "At {l}:{c}: expected: IDENT | STRING | ASSIGN | LBRACE got: {}",
                        other.kind()
                    ));
                }
                _ => {
                    return Err(format!(
                        "At {l}:{c}: key '{}' expected start of object ('{{') or assignment ('=')",
                        keys.join(" ")
                    ));
                }
            }
        }
    }

    fn value(&mut self) -> Result<Node, String> {
        let (tok, l, c) = self.next();
        match tok {
            Tok::Str(s) => Ok(Node::Lit(Value::String(s))),
            Tok::Number(n) => Ok(Node::Lit(n)),
            Tok::Bool(b) => Ok(Node::Lit(Value::Bool(b))),
            Tok::LBrace => {
                let items = self.object_list(false)?;
                self.next();
                Ok(Node::Object(items))
            }
            Tok::LBrack => self.list(),
            other => Err(format!(
                "At {l}:{c}: Unknown token: {l}:{c} {}",
                other.kind()
            )),
        }
    }

    fn list(&mut self) -> Result<Node, String> {
        let mut elems = Vec::new();
        loop {
            if self.peek() == &Tok::RBrack {
                self.next();
                return Ok(Node::List(elems));
            }
            if self.peek() == &Tok::Eof {
                let (_, l, c) = self.next();
                return Err(format!("At {l}:{c}: list expected closing RBRACK got: EOF"));
            }
            elems.push(self.value()?);
            match self.next() {
                (Tok::Comma, ..) => {}
                (Tok::RBrack, ..) => return Ok(Node::List(elems)),
                (other, l, c) => {
                    return Err(format!(
                        "At {l}:{c}: error parsing list, expected comma or list end, got: {}",
                        other.kind()
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn json_of(text: &str) -> Value {
        Node::Object(parse(text).unwrap()).to_json()
    }

    #[test]
    fn hcl1_leniencies() {
        let v = json_of(
            r#"path "transit/encrypt/k1" { capabilities = ["update"]  allowed_parameters = { "plaintext" = [] "context" = [] } }"#,
        );
        assert_eq!(
            v,
            json!({"path":{"transit/encrypt/k1":{"capabilities":["update"],"allowed_parameters":{"plaintext":[],"context":[]}}}})
        );
    }

    #[test]
    fn literals_comments_heredoc() {
        let v = json_of(
            "# c\n// c\n/* multi\nline */ a = 1\nb = -2.5\nc = true\nd = \"x\\ty\\u00e9\"\ne = [1, \"two\",]\nf = <<EOF\nhello\n  world\nEOF\ng = <<-EOT\n    x\n      y\n    EOT\n",
        );
        assert_eq!(
            v,
            json!({"a":1,"b":-2.5,"c":true,"d":"x\ty\u{e9}","e":[1,"two"],"f":"hello\n  world\n","g":"x\n  y\n"})
        );
    }

    #[test]
    fn error_shapes() {
        assert_eq!(
            parse("not hcl {").unwrap_err(),
            "At 1:11: object expected closing RBRACE got: EOF"
        );
        assert!(
            parse("a = [1 2]")
                .unwrap_err()
                .contains("expected comma or list end")
        );
        assert!(
            parse("a \"b\" = 1")
                .unwrap_err()
                .contains("nested object expected")
        );
        assert!(
            parse("a = \"x")
                .unwrap_err()
                .contains("literal not terminated")
        );
        assert!(parse("a = foo").unwrap_err().contains("Unknown token"));
        assert!(parse("a").unwrap_err().contains("expected start of object"));
        assert!(parse("a = 1 @").unwrap_err().contains("illegal char"));
        assert!(
            parse("/* x")
                .unwrap_err()
                .contains("comment not terminated")
        );
        assert!(parse("a = [").unwrap_err().contains("RBRACK"));
        assert!(
            parse("a = <<EOF\nx\n")
                .unwrap_err()
                .contains("heredoc not terminated")
        );
    }

    #[test]
    fn interpolation_kept_raw() {
        let v = json_of(r#"a = "${foo("b")}/x""#);
        assert_eq!(v, json!({"a": "${foo(\"b\")}/x"}));
    }
}
