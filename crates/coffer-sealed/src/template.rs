//! A small subset of Go `text/template` + Sprig for `spec.template.data` (spec §2.1).
//!
//! Supported: text, `{{ }}` actions with `{{-`/`-}}` trimming, comments, pipelines (`a | f`),
//! `{{ if }} … {{ else }} … {{ end }}`, the data map as `.`, fields `.key`, string/number
//! literals, and the functions `index`, `toJson`, `toString`, `b64enc`, `b64dec`, `quote`,
//! `squote`, `upper`, `lower`, `trim`, `trimPrefix`, `trimSuffix`, `replace`, `nospace`,
//! `default`, `print`, `printf` (`%s %v %q %d %%`), `eq`, `ne`, `not`, `empty`. A missing key prints
//! `<no value>` as Go does. Other actions (`range`, `with`, `else if`, `define`, variables, …)
//! are refused with a clear error rather than silently misrendered.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::emit::go_json_string;

#[derive(Clone, Debug)]
enum Val {
    Data,
    Str(String),
    Bool(bool),
    Missing,
}

impl Val {
    fn truthy(&self) -> bool {
        match self {
            Val::Data => true,
            Val::Str(s) => !s.is_empty(),
            Val::Bool(b) => *b,
            Val::Missing => false,
        }
    }
}

enum Item<'a> {
    Text(&'a str),
    Action(&'a str),
}

/// Splits a template into text and actions, applying `{{-` / `-}}` trimming.
fn lex(tmpl: &str) -> Result<Vec<Item<'_>>, String> {
    let mut items = Vec::new();
    let mut rest = tmpl;
    let mut trim_next = false;
    while let Some(start) = rest.find("{{") {
        let mut text = &rest[..start];
        if trim_next {
            text = text.trim_start();
        }
        let after = &rest[start + 2..];
        let (trim_left, after) = match after.strip_prefix("- ") {
            Some(a) => (true, a),
            None => (false, after),
        };
        if trim_left {
            text = text.trim_end();
        }
        items.push(Item::Text(text));
        let end = after.find("}}").ok_or("unclosed action")?;
        let mut action = &after[..end];
        trim_next = false;
        if let Some(a) = action.strip_suffix(" -") {
            action = a;
            trim_next = true;
        }
        items.push(Item::Action(action.trim()));
        rest = &after[end + 2..];
    }
    items.push(Item::Text(if trim_next { rest.trim_start() } else { rest }));
    Ok(items)
}

/// Renders `tmpl` with `data` as `.`.
pub fn render(tmpl: &str, data: &BTreeMap<String, String>) -> Result<String, String> {
    let items = lex(tmpl)?;
    let mut out = String::new();
    let mut pos = 0;
    match exec(&items, &mut pos, data, &mut out, true)? {
        None => Ok(out),
        Some(t) => Err(format!("unexpected {{{{{t}}}}}")),
    }
}

/// Executes items from `pos` until the end or an `else`/`end` (returned); writes only when `emit`.
fn exec(
    items: &[Item<'_>],
    pos: &mut usize,
    data: &BTreeMap<String, String>,
    out: &mut String,
    emit: bool,
) -> Result<Option<&'static str>, String> {
    while let Some(item) = items.get(*pos) {
        *pos += 1;
        let action = match item {
            Item::Text(t) => {
                if emit {
                    out.push_str(t);
                }
                continue;
            }
            Item::Action(a) => *a,
        };
        if action.starts_with("/*") && action.ends_with("*/") {
            continue;
        }
        let first = action.split_whitespace().next().unwrap_or("");
        match first {
            "end" => return Ok(Some("end")),
            "else" if action == "else" => return Ok(Some("else")),
            "if" => {
                let cond = if emit {
                    eval_pipeline(action["if".len()..].trim(), data)?.truthy()
                } else {
                    check(&action["if".len()..])?
                };
                let mut term = exec(items, pos, data, out, emit && cond)?;
                if term == Some("else") {
                    term = exec(items, pos, data, out, emit && !cond)?;
                }
                if term != Some("end") {
                    return Err("if without matching end".into());
                }
            }
            "else" | "range" | "with" | "define" | "template" | "block" | "break" | "continue" => {
                return Err(format!("unsupported template action {action:?}"));
            }
            _ if emit => {
                let v = eval_pipeline(action, data)?;
                out.push_str(&to_text(&v)?);
            }
            _ => {
                check(action)?;
            }
        }
    }
    Ok(None)
}

/// Functions this engine knows (Go checks names at parse time, also in untaken branches).
const FUNCTIONS: &[&str] = &[
    "index",
    "toJson",
    "toString",
    "b64enc",
    "b64dec",
    "quote",
    "squote",
    "upper",
    "lower",
    "trim",
    "nospace",
    "trimPrefix",
    "trimSuffix",
    "replace",
    "default",
    "print",
    "printf",
    "eq",
    "ne",
    "not",
    "empty",
];

/// Parse-time check of an action that is not executed; always returns false.
fn check(action: &str) -> Result<bool, String> {
    for t in tokenize(action)? {
        if let Tok::Word(w) = t
            && !FUNCTIONS.contains(&w.as_str())
        {
            return Err(format!("function {w:?} not defined"));
        }
    }
    Ok(false)
}

fn to_text(v: &Val) -> Result<String, String> {
    match v {
        Val::Str(s) => Ok(s.clone()),
        Val::Bool(b) => Ok(b.to_string()),
        Val::Missing => Ok("<no value>".into()),
        Val::Data => Err("cannot print the whole data map".into()),
    }
}

#[derive(Debug, PartialEq)]
enum Tok {
    Word(String),
    Field(String),
    Dot,
    Lit(String),
    Pipe,
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let mut toks = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '|' {
            toks.push(Tok::Pipe);
            i += 1;
        } else if c == '"' {
            let mut j = i + 1;
            let mut lit = String::new();
            loop {
                let ch = *chars.get(j).ok_or("unterminated string")?;
                match ch {
                    '"' => break,
                    '\\' => {
                        j += 1;
                        let esc = *chars.get(j).ok_or("unterminated string")?;
                        lit.push(match esc {
                            'n' => '\n',
                            't' => '\t',
                            'r' => '\r',
                            other => other,
                        });
                    }
                    other => lit.push(other),
                }
                j += 1;
            }
            toks.push(Tok::Lit(lit));
            i = j + 1;
        } else if c == '`' {
            let j = (i + 1..chars.len())
                .find(|&j| chars[j] == '`')
                .ok_or("unterminated raw string")?;
            toks.push(Tok::Lit(chars[i + 1..j].iter().collect()));
            i = j + 1;
        } else {
            let j = (i..chars.len())
                .find(|&j| chars[j].is_whitespace() || chars[j] == '|')
                .unwrap_or(chars.len());
            let word: String = chars[i..j].iter().collect();
            if word == "." {
                toks.push(Tok::Dot);
            } else if let Some(f) = word.strip_prefix('.') {
                toks.push(Tok::Field(f.to_owned()));
            } else if word.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
                toks.push(Tok::Lit(word));
            } else if word.starts_with('(') || word.starts_with('$') {
                return Err(format!("unsupported template syntax {word:?}"));
            } else {
                toks.push(Tok::Word(word));
            }
            i = j;
        }
    }
    Ok(toks)
}

fn eval_pipeline(action: &str, data: &BTreeMap<String, String>) -> Result<Val, String> {
    let toks = tokenize(action)?;
    if let Some(Tok::Word(w)) = toks.first()
        && matches!(
            w.as_str(),
            "if" | "else" | "end" | "range" | "with" | "define" | "template" | "block"
        )
    {
        return Err(format!("unsupported template action {w:?}"));
    }
    let mut prev: Option<Val> = None;
    for cmd in toks.split(|t| *t == Tok::Pipe) {
        prev = Some(eval_command(cmd, prev.take(), data)?);
    }
    prev.ok_or_else(|| "empty action".to_owned())
}

fn operand(t: &Tok, data: &BTreeMap<String, String>) -> Result<Val, String> {
    Ok(match t {
        Tok::Dot => Val::Data,
        Tok::Field(f) => data.get(f).map_or(Val::Missing, |v| Val::Str(v.clone())),
        Tok::Lit(s) => Val::Str(s.clone()),
        Tok::Word(w) => {
            return Err(format!(
                "function {w:?} used as an argument (use parentheses-free pipelines)"
            ));
        }
        Tok::Pipe => return Err("unexpected |".into()),
    })
}

fn s(v: &Val) -> String {
    match v {
        Val::Str(s) => s.clone(),
        Val::Bool(b) => b.to_string(),
        Val::Missing | Val::Data => String::new(),
    }
}

fn eval_command(
    cmd: &[Tok],
    piped: Option<Val>,
    data: &BTreeMap<String, String>,
) -> Result<Val, String> {
    let Some(first) = cmd.first() else {
        return Err("empty command".into());
    };
    let Tok::Word(func) = first else {
        if cmd.len() > 1 || piped.is_some() {
            return Err("cannot pass arguments to a non-function".into());
        }
        return operand(first, data);
    };
    let mut args = cmd[1..]
        .iter()
        .map(|t| operand(t, data))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(p) = piped {
        args.push(p);
    }
    let want = |n: usize| -> Result<(), String> {
        if args.len() == n {
            Ok(())
        } else {
            Err(format!(
                "{func} expects {n} argument(s), got {}",
                args.len()
            ))
        }
    };
    let out = match func.as_str() {
        "index" => {
            want(2)?;
            if !matches!(args[0], Val::Data) {
                return Err("index is only supported on .".into());
            }
            return Ok(data
                .get(&s(&args[1]))
                .map_or(Val::Missing, |v| Val::Str(v.clone())));
        }
        "toJson" => {
            want(1)?;
            if matches!(args[0], Val::Missing) {
                return Ok(Val::Str("null".into()));
            }
            if matches!(args[0], Val::Data) {
                let map = data
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                    .collect();
                return Ok(Val::Str(crate::emit::to_go_json_compact(
                    &serde_json::Value::Object(map),
                )));
            }
            let mut o = String::new();
            go_json_string(&mut o, &s(&args[0]));
            o
        }
        "toString" => {
            want(1)?;
            s(&args[0])
        }
        "b64enc" => {
            want(1)?;
            STANDARD.encode(s(&args[0]))
        }
        "b64dec" => {
            want(1)?;
            // Sprig returns the error text on bad input; do the same.
            match STANDARD.decode(s(&args[0])) {
                Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                Err(e) => e.to_string(),
            }
        }
        "quote" => {
            want(1)?;
            let mut o = String::new();
            go_json_string(&mut o, &s(&args[0]));
            o
        }
        "squote" => {
            want(1)?;
            format!("'{}'", s(&args[0]))
        }
        "upper" => {
            want(1)?;
            s(&args[0]).to_uppercase()
        }
        "lower" => {
            want(1)?;
            s(&args[0]).to_lowercase()
        }
        "trim" => {
            want(1)?;
            s(&args[0]).trim().to_owned()
        }
        "nospace" => {
            want(1)?;
            s(&args[0]).chars().filter(|c| !c.is_whitespace()).collect()
        }
        "trimPrefix" => {
            want(2)?;
            let (p, v) = (s(&args[0]), s(&args[1]));
            v.strip_prefix(p.as_str()).unwrap_or(&v).to_owned()
        }
        "trimSuffix" => {
            want(2)?;
            let (p, v) = (s(&args[0]), s(&args[1]));
            v.strip_suffix(p.as_str()).unwrap_or(&v).to_owned()
        }
        "replace" => {
            want(3)?;
            s(&args[2]).replace(&s(&args[0]), &s(&args[1]))
        }
        "default" => {
            want(2)?;
            let v = s(&args[1]);
            if v.is_empty() { s(&args[0]) } else { v }
        }
        "print" => args.iter().map(s).collect::<Vec<_>>().join(""),
        "printf" => {
            let Some((fmt, rest)) = args.split_first() else {
                return Err("printf needs a format".into());
            };
            printf(&s(fmt), rest)?
        }
        "eq" | "ne" => {
            want(2)?;
            let same = s(&args[0]) == s(&args[1]);
            return Ok(Val::Bool(if func == "eq" { same } else { !same }));
        }
        "not" => {
            want(1)?;
            return Ok(Val::Bool(!args[0].truthy()));
        }
        "empty" => {
            want(1)?;
            return Ok(Val::Bool(!args[0].truthy()));
        }
        "env" | "expandenv" | "getHostByName" => {
            return Err(format!("function {func:?} is not available"));
        }
        other => return Err(format!("function {other:?} not defined")),
    };
    Ok(Val::Str(out))
}

/// Go `fmt.Sprintf` for `%s`, `%v`, `%q`, `%d` and `%%`.
fn printf(fmt: &str, args: &[Val]) -> Result<String, String> {
    let mut out = String::new();
    let mut it = args.iter();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some(verb @ ('s' | 'v' | 'd' | 'q')) => match it.next() {
                Some(v) if verb == 'q' => go_json_string(&mut out, &s(v)),
                Some(v) => out.push_str(&s(v)),
                None => out.push_str(&format!("%!{verb}(MISSING)")),
            },
            other => {
                return Err(format!(
                    "printf verb %{} is not supported",
                    other.map(String::from).unwrap_or_default()
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> BTreeMap<String, String> {
        [
            ("username", "admin"),
            ("password", "s3cr3t!pa$$"),
            ("my-key", "v\"<"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    #[test]
    fn vector_template_renders() {
        let t = r#"{"user": "{{ .username }}", "password": {{ toJson .password }}}"#;
        assert_eq!(
            render(t, &data()).unwrap(),
            r#"{"user": "admin", "password": "s3cr3t!pa$$"}"#
        );
    }

    #[test]
    fn if_else_printf_comparisons() {
        let d = data();
        assert_eq!(
            render("{{ if .username }}yes{{ else }}no{{ end }}", &d).unwrap(),
            "yes"
        );
        assert_eq!(
            render("{{ if .nope }}yes{{ else }}no{{ end }}", &d).unwrap(),
            "no"
        );
        assert_eq!(render("{{ if eq .username \"admin\" }}A{{ end }}-{{ if ne .username \"admin\" }}B{{ end }}", &d).unwrap(), "A-");
        assert_eq!(
            render(
                "{{ if not .nope }}{{ if .password }}n{{ end }}{{ end }}",
                &d
            )
            .unwrap(),
            "n"
        );
        assert_eq!(
            render("{{ printf \"%s:%q %d%%\" .username .password 5 }}", &d).unwrap(),
            "admin:\"s3cr3t!pa$$\" 5%"
        );
        assert_eq!(
            render("a\n{{- if .username -}}\n  b\n{{- end -}}\n c", &d).unwrap(),
            "abc"
        );
        // Functions in an untaken branch are not run, but unknown names fail as Go's parser does.
        assert_eq!(
            render("{{ if .nope }}{{ b64dec .x }}{{ end }}ok", &d).unwrap(),
            "ok"
        );
        assert!(render("{{ if .nope }}{{ env \"X\" }}{{ end }}ok", &d).is_err());
    }

    #[test]
    fn pipelines_index_trim_and_missing() {
        let d = data();
        assert_eq!(
            render(r#"{{ index . "my-key" | toJson }}"#, &d).unwrap(),
            r#""v\"\u003c""#
        );
        assert_eq!(
            render("a {{- .username | upper -}} b", &d).unwrap(),
            "aADMINb"
        );
        assert_eq!(render("{{ .nope }}", &d).unwrap(), "<no value>");
        assert_eq!(render("{{ .username | b64enc }}", &d).unwrap(), "YWRtaW4=");
        assert_eq!(render(r#"{{ default "x" .nope }}"#, &d).unwrap(), "x");
        assert!(
            render("{{ range . }}x{{ end }}", &d)
                .unwrap_err()
                .contains("unsupported")
        );
        assert!(
            render("{{ if .a }}x{{ else if .b }}y{{ end }}", &d)
                .unwrap_err()
                .contains("unsupported")
        );
        assert!(render("{{ if .username }}x", &d).is_err());
        assert!(render("x{{ end }}", &d).is_err());
        assert!(render("{{ env \"HOME\" }}", &d).is_err());
        assert!(render("{{ .username", &d).is_err());
    }
}
