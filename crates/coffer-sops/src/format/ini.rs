//! INI store (go-ini semantics): `[section]` headers, `key = value` trimmed,
//! `;`/`#` comments, keys before the first header in `DEFAULT`, `"""`
//! multi-line values. Each section is a map item of the branch.

use crate::error::{Error, Result};
use crate::tree::{Branch, Item, Value};

const FMT: &str = "ini";

pub fn load(text: &str) -> Result<Branch> {
    let mut sections: Vec<(String, Vec<Item>)> = Vec::new();
    let mut current: Option<usize> = None;
    let mut pending_comments: Vec<String> = Vec::new();
    let mut lines = text.split('\n').enumerate();
    while let Some((n, raw)) = lines.next() {
        let line = raw.trim_end_matches('\r').trim();
        if line.is_empty() {
            continue;
        }
        if let Some(c) = line.strip_prefix(';').or_else(|| line.strip_prefix('#')) {
            pending_comments.push(c.trim_start().to_owned());
            continue;
        }
        if let Some(name) = line.strip_prefix('[') {
            let name = name.strip_suffix(']').ok_or_else(|| {
                Error::parse(FMT, format!("line {}: unclosed section header", n + 1))
            })?;
            sections.push((
                name.trim().to_owned(),
                pending_comments.drain(..).map(Item::Comment).collect(),
            ));
            current = Some(sections.len() - 1);
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .or_else(|| line.split_once(':'))
            .ok_or_else(|| Error::parse(FMT, format!("line {}: expected key = value", n + 1)))?;
        let k = k.trim().to_owned();
        let mut v = v.trim().to_owned();
        if let Some(rest) = v.strip_prefix("\"\"\"") {
            // multi-line value up to the closing """
            let mut acc = rest.to_owned();
            loop {
                if let Some(i) = acc.find("\"\"\"") {
                    acc.truncate(i);
                    break;
                }
                let Some((_, next)) = lines.next() else {
                    return Err(Error::parse(
                        FMT,
                        format!("line {}: unterminated \"\"\" value", n + 1),
                    ));
                };
                acc.push('\n');
                acc.push_str(next.trim_end_matches('\r'));
            }
            v = acc;
        } else if v.len() >= 2
            && (v.starts_with('"') && v.ends_with('"') || v.starts_with('`') && v.ends_with('`'))
        {
            v = v[1..v.len() - 1].to_owned();
        }
        let idx = match current {
            Some(i) => i,
            None => {
                sections.push(("DEFAULT".into(), Vec::new()));
                current = Some(sections.len() - 1);
                sections.len() - 1
            }
        };
        let items = &mut sections[idx].1;
        items.extend(pending_comments.drain(..).map(Item::Comment));
        items.push(Item::Pair(k, Value::Str(v)));
    }
    if let Some(i) = current {
        sections[i]
            .1
            .extend(pending_comments.drain(..).map(Item::Comment));
    }
    Ok(sections
        .into_iter()
        .map(|(name, items)| Item::Pair(name, Value::Map(items)))
        .collect())
}

pub fn emit(branch: &[Item]) -> Result<String> {
    let mut out = String::new();
    for item in branch {
        let (name, v) = match item {
            Item::Pair(name, v) => (name, v),
            Item::Comment(c) => {
                out.push_str("; ");
                out.push_str(c);
                out.push('\n');
                continue;
            }
        };
        let Value::Map(items) = v else {
            return Err(Error::Emit {
                format: FMT,
                message: format!("top-level key {name:?} must be a section (a map)"),
            });
        };
        // comments before the first key belong above the header
        let lead = items
            .iter()
            .take_while(|i| matches!(i, Item::Comment(_)))
            .count();
        if !out.is_empty() {
            out.push('\n');
        }
        for c in &items[..lead] {
            if let Item::Comment(c) = c {
                out.push_str("; ");
                out.push_str(c);
                out.push('\n');
            }
        }
        out.push_str(&format!("[{name}]\n"));
        let width = items
            .iter()
            .filter_map(|i| match i {
                Item::Pair(k, _) => Some(k.chars().count()),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        for i in &items[lead..] {
            match i {
                Item::Comment(c) => {
                    out.push_str("; ");
                    out.push_str(c);
                    out.push('\n');
                }
                Item::Pair(k, v) => {
                    let text = super::dotenv::scalar_text(v, k)?;
                    let text = if text.contains('\n') {
                        text.replace('\n', "\\n")
                    } else {
                        text
                    };
                    let pad = width - k.chars().count();
                    out.push_str(&format!("{k}{} = {text}\n", " ".repeat(pad)));
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_comments_default() {
        let b =
            load("top = 1\n; about\n[name]\nfirst = John \n# c\n[meta]\nenc = \"\"\"a\nb\"\"\"\n")
                .unwrap();
        assert_eq!(
            b[0],
            Item::Pair(
                "DEFAULT".into(),
                Value::Map(vec![Item::Pair("top".into(), Value::Str("1".into()))])
            )
        );
        let Item::Pair(n, Value::Map(items)) = &b[1] else {
            panic!()
        };
        assert_eq!(n, "name");
        assert_eq!(items[0], Item::Comment("about".into()));
        assert_eq!(
            items[1],
            Item::Pair("first".into(), Value::Str("John".into()))
        );
        let Item::Pair(_, Value::Map(m)) = &b[2] else {
            panic!()
        };
        assert_eq!(m[0], Item::Comment("c".into()));
        assert_eq!(m[1], Item::Pair("enc".into(), Value::Str("a\nb".into())));
        let text = emit(&b[..2]).unwrap();
        assert_eq!(load(&text).unwrap(), b[..2].to_vec());
    }
}
