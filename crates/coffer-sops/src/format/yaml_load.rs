//! YAML → tree, keeping key order and comments (as sops does with go-yaml
//! v3): a comment becomes an item of the map (or an element of the sequence)
//! it sits in, chosen by document order and indentation. Anchors and aliases
//! are expanded; custom tags are dropped; `!!timestamp` gives a time value.

use std::collections::{HashMap, HashSet};

use granit_parser::{Event, Parser, ScalarStyle, Span};

use crate::error::{Error, Result};
use crate::tree::{Branch, Item, Value};

const FMT: &str = "yaml";

/// Parses a (possibly multi-document) YAML text into one branch per document.
pub fn load(text: &str) -> Result<Vec<Branch>> {
    let mut l = Loader {
        events: Vec::new(),
        pos: 0,
        anchors: HashMap::new(),
        pending: Vec::new(),
        expanded: 0,
    };
    // comments are bounded by the input size; the parser's default (96
    // consecutive comments) is too small for real files
    let options = granit_parser::options! { max_buffered_comment_events: text.len() / 2 + 96 };
    for ev in Parser::new_from_str_with_options(text, options) {
        let (ev, span) = ev.map_err(|e| Error::parse(FMT, e.to_string()))?;
        l.events.push((ev, span));
    }
    l.stream()
}

struct Loader<'a> {
    events: Vec<(Event<'a>, Span)>,
    pos: usize,
    /// Anchored nodes with their size in nodes.
    anchors: HashMap<usize, (Value, usize)>,
    /// Comments seen but not yet placed: (text, column).
    pending: Vec<(String, usize)>,
    /// Nodes created by alias expansion so far (bounded: "billion laughs").
    expanded: usize,
}

/// Most nodes alias expansion may create in one file.
const MAX_ALIAS_NODES: usize = 1_000_000;

fn size(v: &Value) -> usize {
    match v {
        Value::Map(items) => {
            1 + items
                .iter()
                .map(|i| match i {
                    Item::Pair(_, v) => size(v),
                    Item::Comment(_) => 1,
                })
                .sum::<usize>()
        }
        Value::Seq(e) => 1 + e.iter().map(size).sum::<usize>(),
        _ => 1,
    }
}

impl<'a> Loader<'a> {
    /// Next non-comment event; comments go to `pending`.
    fn next(&mut self) -> Result<(Event<'a>, Span)> {
        loop {
            let Some((ev, span)) = self.events.get(self.pos).cloned() else {
                return Err(Error::parse(FMT, "unexpected end of input"));
            };
            self.pos += 1;
            if let Event::Comment(text, _) = &ev {
                self.pending.push((text.to_string(), span.start.col()));
                continue;
            }
            return Ok((ev, span));
        }
    }

    fn peek_is_end(&mut self) -> bool {
        self.events[self.pos..]
            .iter()
            .find(|(e, _)| !matches!(e, Event::Comment(..)))
            .is_none_or(|(e, _)| matches!(e, Event::StreamEnd))
    }

    /// Moves pending comments into a closing container: those up to the
    /// first comment indented less than the container's column.
    fn flush_closing(&mut self, col: usize) -> Vec<String> {
        let split = self
            .pending
            .iter()
            .position(|(_, c)| *c < col)
            .unwrap_or(self.pending.len());
        self.pending.drain(..split).map(|(t, _)| t).collect()
    }

    fn flush_all(&mut self) -> Vec<String> {
        self.pending.drain(..).map(|(t, _)| t).collect()
    }

    fn stream(&mut self) -> Result<Vec<Branch>> {
        let mut branches = Vec::new();
        match self.next()?.0 {
            Event::StreamStart => {}
            _ => return Err(Error::parse(FMT, "missing stream start")),
        }
        loop {
            match self.next()?.0 {
                Event::StreamEnd => break,
                Event::DocumentStart(..) => {}
                _ => return Err(Error::parse(FMT, "expected a document")),
            }
            self.anchors.clear();
            let (ev, span) = self.next()?;
            let mut branch = match ev {
                Event::MappingStart(..) => self.map(span)?,
                Event::Scalar(ref s, ScalarStyle::Plain, _, None)
                    if s.is_empty() || s == "~" || s == "null" =>
                {
                    Vec::new()
                }
                _ => {
                    return Err(Error::parse(
                        FMT,
                        "a sops YAML document must be a mapping at the top level",
                    ));
                }
            };
            match self.next()?.0 {
                Event::DocumentEnd => {}
                _ => return Err(Error::parse(FMT, "expected the end of the document")),
            }
            let last = self.peek_is_end();
            if last || !self.pending.is_empty() {
                // comments after the last item of a document stay in it
                branch.extend(self.flush_all().into_iter().map(Item::Comment));
            }
            branches.push(branch);
        }
        if branches.is_empty() {
            return Err(Error::parse(FMT, "the file holds no YAML document"));
        }
        Ok(branches)
    }

    fn node(&mut self, ev: Event<'a>, span: Span) -> Result<Value> {
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let v = scalar(&text, style, tag.as_deref())?;
                if anchor != 0 {
                    self.anchors.insert(anchor, (v.clone(), size(&v)));
                }
                Ok(v)
            }
            Event::MappingStart(_, anchor, _) => {
                let v = Value::Map(self.map(span)?);
                if anchor != 0 {
                    self.anchors.insert(anchor, (v.clone(), size(&v)));
                }
                Ok(v)
            }
            Event::SequenceStart(_, anchor, _) => {
                let v = Value::Seq(self.seq(span)?);
                if anchor != 0 {
                    self.anchors.insert(anchor, (v.clone(), size(&v)));
                }
                Ok(v)
            }
            Event::Alias(id) => {
                let (v, n) = self.anchors.get(&id).ok_or_else(|| {
                    Error::parse(FMT, format!("unknown alias at line {}", span.start.line()))
                })?;
                self.expanded = self.expanded.saturating_add(*n);
                if self.expanded > MAX_ALIAS_NODES {
                    return Err(Error::parse(
                        FMT,
                        "aliases expand to too many nodes (more than 1,000,000)",
                    ));
                }
                Ok(v.clone())
            }
            _ => Err(Error::parse(
                FMT,
                format!("unexpected event at line {}", span.start.line()),
            )),
        }
    }

    fn map(&mut self, start: Span) -> Result<Vec<Item>> {
        let mut items = Vec::new();
        let mut seen = HashSet::new();
        let mut col = usize::MAX;
        loop {
            let (ev, span) = self.next()?;
            if matches!(ev, Event::MappingEnd) {
                items.extend(self.flush_closing(col).into_iter().map(Item::Comment));
                return Ok(items);
            }
            if col == usize::MAX {
                col = span.start.col();
            }
            items.extend(self.flush_all().into_iter().map(Item::Comment));
            let key = match ev {
                Event::Scalar(text, ..) => text.into_owned(),
                Event::Alias(_) => match self.node(ev, span)? {
                    Value::Str(s) => s,
                    _ => return Err(Error::parse(FMT, "map keys must be strings")),
                },
                _ => {
                    return Err(Error::parse(
                        FMT,
                        format!("map keys must be strings (line {})", span.start.line() + 1),
                    ));
                }
            };
            if !seen.insert(key.clone()) {
                return Err(Error::parse(
                    FMT,
                    format!(
                        "duplicate key {key:?} in the map starting at line {}",
                        start.start.line() + 1
                    ),
                ));
            }
            let (vev, vspan) = self.next()?;
            let value = self.node(vev, vspan)?;
            items.push(Item::Pair(key, value));
        }
    }

    fn seq(&mut self, _start: Span) -> Result<Vec<Value>> {
        let mut elems = Vec::new();
        let mut col = usize::MAX;
        loop {
            let (ev, span) = self.next()?;
            if matches!(ev, Event::SequenceEnd) {
                elems.extend(self.flush_closing(col).into_iter().map(Value::Comment));
                return Ok(elems);
            }
            if col == usize::MAX {
                col = span.start.col().saturating_sub(2);
            }
            elems.extend(self.flush_all().into_iter().map(Value::Comment));
            elems.push(self.node(ev, span)?);
        }
    }
}

fn scalar(text: &str, style: ScalarStyle, tag: Option<&granit_parser::Tag>) -> Result<Value> {
    if let Some(tag) = tag {
        let core = tag.handle() == "tag:yaml.org,2002:";
        match (core, tag.suffix()) {
            (true, "str") | (true, "binary") => return Ok(Value::Str(text.to_owned())),
            (true, "timestamp") => return Ok(Value::Time(text.to_owned())),
            (true, "null") => return Ok(Value::Null),
            (true, "bool") | (true, "int") | (true, "float") => {
                return Ok(resolve_plain(text));
            }
            _ => {}
        }
    }
    if style != ScalarStyle::Plain {
        return Ok(Value::Str(text.to_owned()));
    }
    Ok(resolve_plain(text))
}

/// YAML 1.2 core-schema resolution of a plain scalar (as go-yaml v3 does).
pub fn resolve_plain(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    if let Some(i) = parse_int(s) {
        return Value::Int(i);
    }
    if is_float(s)
        && let Ok(f) = s.replace('_', "").parse::<f64>()
    {
        return Value::Float(f);
    }
    Value::Str(s.to_owned())
}

fn parse_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if let Some(d) = body.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = body.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = body.strip_prefix("0b") {
        (2, d)
    } else {
        (10, body)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let v = i64::from_str_radix(&format!("{}{digits}", if neg { "-" } else { "" }), radix).ok()?;
    Some(v)
}

fn is_float(s: &str) -> bool {
    let b = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mant, exp) = match b.find(['e', 'E']) {
        Some(i) => (&b[..i], Some(&b[i + 1..])),
        None => (b, None),
    };
    let mut parts = mant.splitn(2, '.');
    let int = parts.next().unwrap_or("");
    let frac = parts.next();
    let digits = |x: &str| x.chars().all(|c| c.is_ascii_digit());
    let mant_ok = match frac {
        Some(f) => digits(int) && digits(f) && !(int.is_empty() && f.is_empty()),
        None => !int.is_empty() && digits(int),
    };
    let exp_ok = exp.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mant_ok && exp_ok && (frac.is_some() || exp.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_and_comments() {
        let b = load("# top\na: 1\nb: 2.5\nc: yes\nd: \"7\"\ne: ~\nf:\n    # in f\n    g: true\n    h:\n        # in h\n        - x\n# after f\ni: !!timestamp 2020-01-01T00:00:00Z\n").unwrap();
        let b = &b[0];
        assert_eq!(b[0], Item::Comment(" top".into()));
        assert_eq!(b[1], Item::Pair("a".into(), Value::Int(1)));
        assert_eq!(b[2], Item::Pair("b".into(), Value::Float(2.5)));
        assert_eq!(b[3], Item::Pair("c".into(), Value::Str("yes".into())));
        assert_eq!(b[4], Item::Pair("d".into(), Value::Str("7".into())));
        assert_eq!(b[5], Item::Pair("e".into(), Value::Null));
        let Item::Pair(_, Value::Map(f)) = &b[6] else {
            panic!()
        };
        assert_eq!(f[0], Item::Comment(" in f".into()));
        let Item::Pair(_, Value::Seq(h)) = &f[2] else {
            panic!()
        };
        assert_eq!(h[0], Value::Comment(" in h".into()));
        assert_eq!(b[7], Item::Comment(" after f".into()));
        assert_eq!(
            b[8],
            Item::Pair("i".into(), Value::Time("2020-01-01T00:00:00Z".into()))
        );
    }

    #[test]
    fn rejects_bad_documents() {
        assert!(load("- a\n- b\n").is_err());
        assert!(load("a: 1\na: 2\n").is_err());
        assert!(load("a: [1, 2\n").is_err());
    }

    #[test]
    fn alias_bomb_and_many_comments() {
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            bomb.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let err = load(&bomb).unwrap_err().to_string();
        assert!(err.contains("too many nodes"), "{err}");
        let many: String = std::iter::once("a: 1\n".to_owned())
            .chain((0..500).map(|i| format!("# c{i}\n")))
            .chain(std::iter::once("b: 2\n".to_owned()))
            .collect();
        assert_eq!(load(&many).unwrap()[0].len(), 502);
    }

    #[test]
    fn aliases_expand_and_docs_split() {
        let b = load("a: &x {k: v}\nb: *x\n---\nc: 1\n").unwrap();
        assert_eq!(b.len(), 2);
        assert_eq!(crate::tree::get(&b[0], "b"), crate::tree::get(&b[0], "a"));
    }
}
