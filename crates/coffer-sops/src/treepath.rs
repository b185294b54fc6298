//! Tree paths as sops writes them on the command line: `["a"]["b"][0]`
//! (also `['a']`), used by `--extract`, `set` and `unset`.

use crate::error::{Error, Result};
use crate::tree::{Branch, Item, Value};

/// One step of a path.
#[derive(Clone, Debug, PartialEq)]
pub enum Comp {
    Key(String),
    Index(usize),
}

pub fn parse(s: &str) -> Result<Vec<Comp>> {
    let bad = |reason: &str| Error::TreePath {
        path: s.to_owned(),
        reason: reason.to_owned(),
    };
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        rest = rest.strip_prefix('[').ok_or_else(|| bad("expected '['"))?;
        if let Some(q) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') {
            let body = &rest[1..];
            let end = body.find(q).ok_or_else(|| bad("unterminated quoted key"))?;
            out.push(Comp::Key(body[..end].to_owned()));
            rest = body[end + 1..]
                .strip_prefix(']')
                .ok_or_else(|| bad("expected ']' after key"))?;
        } else {
            let end = rest.find(']').ok_or_else(|| bad("expected ']'"))?;
            let idx = rest[..end]
                .trim()
                .parse()
                .map_err(|_| bad("index must be a non-negative integer or a quoted key"))?;
            out.push(Comp::Index(idx));
            rest = &rest[end + 1..];
        }
        rest = rest.trim_start();
    }
    if out.is_empty() {
        return Err(bad("empty path"));
    }
    Ok(out)
}

fn show(path: &[Comp]) -> String {
    path.iter()
        .map(|c| match c {
            Comp::Key(k) => format!("[{k:?}]"),
            Comp::Index(i) => format!("[{i}]"),
        })
        .collect()
}

fn map_get<'a>(items: &'a [Item], k: &str) -> Option<&'a Value> {
    crate::tree::get(items, k)
}

fn seq_index(elems: &[Value], i: usize) -> Option<usize> {
    // comment elements do not count as list positions
    elems
        .iter()
        .enumerate()
        .filter(|(_, e)| !matches!(e, Value::Comment(_)))
        .nth(i)
        .map(|(j, _)| j)
}

/// The value at `path` in a branch.
pub fn get<'a>(branch: &'a Branch, path: &[Comp]) -> Result<&'a Value> {
    let missing = || Error::TreePath {
        path: show(path),
        reason: "not found in the file".into(),
    };
    let (first, rest) = path.split_first().ok_or_else(missing)?;
    let Comp::Key(k) = first else {
        return Err(missing());
    };
    let mut cur = map_get(branch, k).ok_or_else(missing)?;
    for c in rest {
        cur = match (c, cur) {
            (Comp::Key(k), Value::Map(items)) => map_get(items, k).ok_or_else(missing)?,
            (Comp::Index(i), Value::Seq(elems)) => {
                &elems[seq_index(elems, *i).ok_or_else(missing)?]
            }
            _ => return Err(missing()),
        };
    }
    Ok(cur)
}

/// Sets `path` to `value`, creating missing maps; an index past the end
/// appends. Returns whether anything changed.
pub fn set(branch: &mut Branch, path: &[Comp], value: Value) -> Result<bool> {
    let mut root = Value::Map(std::mem::take(branch));
    let r = set_in(&mut root, path, value, path);
    if let Value::Map(items) = root {
        *branch = items;
    }
    r
}

fn set_in(cur: &mut Value, path: &[Comp], value: Value, full: &[Comp]) -> Result<bool> {
    let Some((c, rest)) = path.split_first() else {
        let changed = *cur != value;
        *cur = value;
        return Ok(changed);
    };
    let bad = |r: &str| Error::TreePath {
        path: show(full),
        reason: r.to_owned(),
    };
    match c {
        Comp::Key(k) => {
            if !matches!(cur, Value::Map(_)) {
                if matches!(cur, Value::Null) {
                    *cur = Value::Map(Vec::new());
                } else {
                    return Err(bad(&format!(
                        "cannot use key {k:?} on a value that is not a map"
                    )));
                }
            }
            let Value::Map(items) = cur else {
                return Err(bad("not a map"));
            };
            let pos = items
                .iter()
                .position(|i| matches!(i, Item::Pair(key, _) if key == k));
            let pos = match pos {
                Some(p) => p,
                None => {
                    let init = match rest.first() {
                        Some(Comp::Index(_)) => Value::Seq(Vec::new()),
                        Some(Comp::Key(_)) => Value::Map(Vec::new()),
                        None => Value::Null,
                    };
                    items.push(Item::Pair(k.clone(), init));
                    if rest.is_empty() {
                        if let Some(Item::Pair(_, v)) = items.last_mut() {
                            *v = value;
                        }
                        return Ok(true);
                    }
                    items.len() - 1
                }
            };
            match &mut items[pos] {
                Item::Pair(_, v) => set_in(v, rest, value, full),
                Item::Comment(_) => Err(bad("internal: comment")),
            }
        }
        Comp::Index(i) => {
            let Value::Seq(elems) = cur else {
                return Err(bad(&format!(
                    "cannot use index {i} on a value that is not a list"
                )));
            };
            match seq_index(elems, *i) {
                Some(j) => set_in(&mut elems[j], rest, value, full),
                None => {
                    let mut v = Value::Null;
                    set_in(&mut v, rest, value, full)?;
                    elems.push(v);
                    Ok(true)
                }
            }
        }
    }
}

/// Removes the value at `path`; `Ok(false)` if it did not exist.
pub fn unset(branch: &mut Branch, path: &[Comp]) -> Result<bool> {
    let mut root = Value::Map(std::mem::take(branch));
    let r = unset_in(&mut root, path);
    if let Value::Map(items) = root {
        *branch = items;
    }
    r
}

fn unset_in(cur: &mut Value, path: &[Comp]) -> Result<bool> {
    let Some((c, rest)) = path.split_first() else {
        return Ok(false);
    };
    match (c, cur) {
        (Comp::Key(k), Value::Map(items)) => {
            let Some(pos) = items
                .iter()
                .position(|i| matches!(i, Item::Pair(key, _) if key == k))
            else {
                return Ok(false);
            };
            if rest.is_empty() {
                items.remove(pos);
                return Ok(true);
            }
            match &mut items[pos] {
                Item::Pair(_, v) => unset_in(v, rest),
                Item::Comment(_) => Ok(false),
            }
        }
        (Comp::Index(i), Value::Seq(elems)) => {
            let Some(j) = seq_index(elems, *i) else {
                return Ok(false);
            };
            if rest.is_empty() {
                elems.remove(j);
                return Ok(true);
            }
            unset_in(&mut elems[j], rest)
        }
        _ => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_paths() {
        assert_eq!(
            parse(r#"["a"]['b'][0]"#).unwrap(),
            vec![Comp::Key("a".into()), Comp::Key("b".into()), Comp::Index(0)]
        );
        assert!(parse("a.b").is_err());
        assert!(parse(r#"["a""#).is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn set_get_unset() {
        let mut b: Branch = vec![Item::Pair(
            "a".into(),
            Value::Seq(vec![Value::Comment("c".into()), Value::Int(1)]),
        )];
        assert!(
            set(
                &mut b,
                &parse(r#"["x"]["y"]"#).unwrap(),
                Value::Str("v".into())
            )
            .unwrap()
        );
        assert_eq!(
            get(&b, &parse(r#"["x"]["y"]"#).unwrap()).unwrap(),
            &Value::Str("v".into())
        );
        assert_eq!(
            get(&b, &parse(r#"["a"][0]"#).unwrap()).unwrap(),
            &Value::Int(1)
        );
        assert!(set(&mut b, &parse(r#"["a"][5]"#).unwrap(), Value::Int(2)).unwrap());
        assert_eq!(
            get(&b, &parse(r#"["a"][1]"#).unwrap()).unwrap(),
            &Value::Int(2)
        );
        assert!(!set(&mut b, &parse(r#"["a"][1]"#).unwrap(), Value::Int(2)).unwrap());
        assert!(unset(&mut b, &parse(r#"["x"]"#).unwrap()).unwrap());
        assert!(!unset(&mut b, &parse(r#"["x"]"#).unwrap()).unwrap());
        assert!(get(&b, &parse(r#"["x"]"#).unwrap()).is_err());
    }
}
