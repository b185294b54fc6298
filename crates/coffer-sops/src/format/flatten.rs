//! Flattening of the metadata map for dotenv and INI: nested map keys are
//! joined with `__map_`, list indexes with `__list_<i>`.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::tree::{Item, Value};

/// Flattens a metadata map into sorted `(key, string value)` pairs.
pub fn flatten(v: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    walk(v, String::new(), &mut out);
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn walk(v: &Value, prefix: String, out: &mut Vec<(String, String)>) {
    match v {
        Value::Map(items) => {
            for i in items {
                if let Item::Pair(k, v) = i {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}__map_{k}")
                    };
                    walk(v, key, out);
                }
            }
        }
        Value::Seq(elems) => {
            for (i, e) in elems.iter().enumerate() {
                walk(e, format!("{prefix}__list_{i}"), out);
            }
        }
        Value::Null => {}
        other => {
            let text = super::dotenv::scalar_text(other, &prefix).unwrap_or_default();
            out.push((prefix, text));
        }
    }
}

enum Node {
    Leaf(String),
    Map(BTreeMap<String, Node>),
    List(BTreeMap<usize, Node>),
}

/// Rebuilds the metadata map from flat pairs (map keys sorted, list indexes
/// required to be 0..n without gaps). Values stay strings.
pub fn unflatten(pairs: &[(String, String)]) -> Result<Value> {
    let mut root = Node::Map(BTreeMap::new());
    for (k, v) in pairs {
        insert(&mut root, k, v.clone())?;
    }
    to_value(root)
}

fn insert(node: &mut Node, key: &str, value: String) -> Result<()> {
    let (head, rest) = split_first(key);
    let bad = || Error::Metadata(format!("conflicting flattened metadata key {key:?}"));
    match node {
        Node::Map(m) => {
            let child = m.entry(head.to_owned()).or_insert_with(|| match rest {
                None => Node::Leaf(String::new()),
                Some((true, _)) => Node::List(BTreeMap::new()),
                Some((false, _)) => Node::Map(BTreeMap::new()),
            });
            match rest {
                None => {
                    *child = Node::Leaf(value);
                    Ok(())
                }
                Some((_, r)) => insert_child(child, r, value).map_err(|_| bad()),
            }
        }
        _ => Err(bad()),
    }
}

/// `rest` starts with `__list_N...` or `__map_k...` relative to a child.
fn insert_child(child: &mut Node, rest: &str, value: String) -> Result<()> {
    if let Some(r) = rest.strip_prefix("__list_") {
        let Node::List(l) = child else {
            return Err(Error::Metadata("list/map mismatch".into()));
        };
        let end = r.find("__").unwrap_or(r.len());
        let idx: usize = r[..end]
            .parse()
            .map_err(|_| Error::Metadata(format!("bad list index in {rest:?}")))?;
        let tail = &r[end..];
        if tail.is_empty() {
            l.insert(idx, Node::Leaf(value));
            return Ok(());
        }
        let entry = l.entry(idx).or_insert_with(|| {
            if tail.starts_with("__list_") {
                Node::List(BTreeMap::new())
            } else {
                Node::Map(BTreeMap::new())
            }
        });
        insert_child(entry, tail, value)
    } else if let Some(r) = rest.strip_prefix("__map_") {
        if !matches!(child, Node::Map(_)) {
            return Err(Error::Metadata("list/map mismatch".into()));
        }
        insert(child, r, value)
    } else {
        Err(Error::Metadata(format!("bad flattened key part {rest:?}")))
    }
}

/// Splits `a__map_b` / `a__list_0` into head and (is_list, rest-with-marker).
fn split_first(key: &str) -> (&str, Option<(bool, &str)>) {
    let m = key.find("__map_");
    let l = key.find("__list_");
    match (m, l) {
        (Some(a), Some(b)) if b < a => (&key[..b], Some((true, &key[b..]))),
        (Some(a), _) => (&key[..a], Some((false, &key[a..]))),
        (None, Some(b)) => (&key[..b], Some((true, &key[b..]))),
        (None, None) => (key, None),
    }
}

fn to_value(n: Node) -> Result<Value> {
    Ok(match n {
        Node::Leaf(s) => Value::Str(s),
        Node::Map(m) => Value::Map(
            m.into_iter()
                .map(|(k, v)| Ok(Item::Pair(k, to_value(v)?)))
                .collect::<Result<_>>()?,
        ),
        Node::List(l) => {
            for (want, have) in l.keys().enumerate() {
                if want != *have {
                    return Err(Error::Metadata(format!(
                        "flattened list index {have} leaves a gap"
                    )));
                }
            }
            Value::Seq(l.into_values().map(to_value).collect::<Result<_>>()?)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let v = Value::Map(vec![
            Item::Pair(
                "age".into(),
                Value::Seq(vec![Value::Map(vec![
                    Item::Pair("enc".into(), Value::Str("x\ny".into())),
                    Item::Pair("recipient".into(), Value::Str("age1".into())),
                ])]),
            ),
            Item::Pair("lastmodified".into(), Value::Str("t".into())),
        ]);
        let flat = flatten(&v);
        assert_eq!(flat[0].0, "age__list_0__map_enc");
        assert_eq!(unflatten(&flat).unwrap(), v);
        assert!(unflatten(&[("a__list_1".into(), "x".into())]).is_err());
    }
}
