//! The `list` contract shared by every backend that keeps keys sorted: immediate
//! children of a prefix, a child with keys below it listed once with a trailing `/`.
//!
//! Done as a skip scan: after a directory child `d/` is seen, the scan seeks
//! straight past every key under it (to `d0`, `'0'` being the byte after `'/'`),
//! so listing costs one seek per child, not one step per key below the prefix.

use std::ops::Bound;

/// Lists the immediate children of `prefix`.
///
/// `seek(bound)` must return the first key that satisfies `bound` as a lower
/// bound (`Included(k)`: first key `>= k`; `Excluded(k)`: first key `> k`), or
/// `None` past the end.
pub(crate) fn children<E>(
    prefix: &str,
    mut seek: impl FnMut(Bound<&str>) -> Result<Option<String>, E>,
) -> Result<Vec<String>, E> {
    let mut out = Vec::new();
    let mut cursor = prefix.to_owned();
    let mut inclusive = true;
    loop {
        let bound = if inclusive {
            Bound::Included(cursor.as_str())
        } else {
            Bound::Excluded(cursor.as_str())
        };
        let Some(key) = seek(bound)? else { break };
        let Some(rest) = key.strip_prefix(prefix) else {
            break;
        };
        match rest.find('/') {
            Some(slash) => {
                out.push(rest[..=slash].to_owned());
                // '0' is '/' + 1: the smallest string after every `{prefix}{dir}/...`.
                cursor = format!("{prefix}{}0", &rest[..slash]);
                inclusive = true;
            }
            None => {
                out.push(rest.to_owned());
                cursor = key;
                inclusive = false;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::convert::Infallible;

    fn list(keys: &[&str], prefix: &str) -> (Vec<String>, usize) {
        let set: BTreeSet<String> = keys.iter().map(|k| (*k).to_owned()).collect();
        let mut seeks = 0;
        let out = children::<Infallible>(prefix, |b| {
            seeks += 1;
            Ok(set.range::<str, _>((b, Bound::Unbounded)).next().cloned())
        })
        .unwrap_or_else(|e| match e {});
        (out, seeks)
    }

    #[test]
    fn lists_files_and_dirs_once_sorted() {
        let keys = ["a", "a-b", "a/x", "a/y/z", "b/c", "c", "d/"];
        assert_eq!(list(&keys, "").0, ["a", "a-b", "a/", "b/", "c", "d/"]);
        assert_eq!(list(&keys, "a/").0, ["x", "y/"]);
        assert_eq!(list(&keys, "a/y/").0, ["z"]);
        assert!(list(&keys, "zz/").0.is_empty());
    }

    #[test]
    fn skips_whole_subtrees() {
        let mut keys: Vec<String> = (0..1000).map(|i| format!("big/{i}")).collect();
        keys.push("x".into());
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let (out, seeks) = list(&refs, "");
        assert_eq!(out, ["big/", "x"]);
        assert_eq!(seeks, 3, "one seek per child plus the final miss");
    }
}
