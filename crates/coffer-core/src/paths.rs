//! Declarative path tables: each engine lists its paths (pattern, supported
//! operations, known fields, help) once; the same table routes requests,
//! rejects unsupported operations and warns about unknown fields.
//!
//! Pattern syntax: `/`-separated segments; a literal segment matches itself,
//! `{name}` captures exactly one non-empty segment and `{name*}` (last only)
//! captures the rest of the path, possibly empty.

use crate::logical::{Error, Operation, Request, Result};

/// One row of an engine's path table. `R` is the engine's own route enum.
#[derive(Debug)]
pub struct PathSpec<R: 'static> {
    pub pattern: &'static str,
    pub route: R,
    /// Supported operations; `Update` also admits `Create`.
    pub operations: &'static [Operation],
    /// Known body fields (for the unknown-parameter warning and help).
    pub fields: &'static [&'static str],
    /// Writes on this path are `create` when the target does not exist yet.
    pub existence_check: bool,
    pub help: &'static str,
}

/// Values captured from a path by `{name}` segments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captures(Vec<(&'static str, String)>);

impl Captures {
    /// The captured value, or `""` when the pattern has no such name.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.0.iter().map(|(n, v)| (*n, v.as_str()))
    }
}

/// A matched row with its captures.
#[derive(Debug)]
pub struct Matched<'t, R: 'static> {
    pub spec: &'t PathSpec<R>,
    pub captures: Captures,
}

impl<R> Matched<'_, R> {
    pub fn get(&self, name: &str) -> &str {
        self.captures.get(name)
    }

    /// Vault's warnings for unknown body fields and for body fields that a
    /// path capture overrides (writes only; reads carry no body).
    pub fn warnings(&self, req: &Request) -> Vec<String> {
        let mut warnings = Vec::new();
        if matches!(req.operation, Operation::Read | Operation::List) {
            return warnings;
        }
        if req.null_body {
            warnings.push("Endpoint ignored these unrecognized parameters: [null]".to_owned());
        }
        let unknown: Vec<&str> = req
            .data
            .keys()
            .map(String::as_str)
            .filter(|k| {
                !self.spec.fields.contains(k) && !self.captures.0.iter().any(|(n, _)| n == k)
            })
            .collect();
        if !unknown.is_empty() {
            warnings.push(format!(
                "Endpoint ignored these unrecognized parameters: [{}]",
                unknown.join(" ")
            ));
        }
        let replaced: Vec<&str> = self
            .captures
            .0
            .iter()
            .filter(|(n, _)| req.data.contains_key(*n))
            .map(|(n, _)| *n)
            .collect();
        if !replaced.is_empty() {
            warnings.push(format!(
                "Endpoint replaced the value of these parameters with the values captured from the endpoint's path: [{}]",
                replaced.join(" ")
            ));
        }
        warnings
    }
}

/// An engine's whole path table.
#[derive(Debug)]
pub struct PathTable<R: 'static>(pub &'static [PathSpec<R>]);

impl<R> PathTable<R> {
    /// The first row whose pattern matches `path`.
    pub fn lookup(&self, path: &str) -> Option<Matched<'_, R>> {
        self.0.iter().find_map(|spec| {
            match_pattern(spec.pattern, path).map(|captures| Matched { spec, captures })
        })
    }

    /// Routes a request: 404 for an unknown path, 405 for an operation the
    /// path does not support.
    pub fn resolve(&self, req: &Request) -> Result<Matched<'_, R>> {
        let matched = self
            .lookup(&req.path)
            .ok_or_else(|| Error::NoRoute(format!("{}{}", req.mount_point, req.path)))?;
        if !supports(matched.spec.operations, req.operation) {
            return Err(Error::UnsupportedOperation);
        }
        Ok(matched)
    }
}

fn supports(ops: &[Operation], op: Operation) -> bool {
    ops.contains(&op) || (op == Operation::Create && ops.contains(&Operation::Update))
}

/// Matches `path` against `pattern`, returning the captures.
pub fn match_pattern(pattern: &'static str, path: &str) -> Option<Captures> {
    let mut captures = Vec::new();
    let mut rest = path;
    let mut segments = pattern.split('/').peekable();
    while let Some(seg) = segments.next() {
        if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix("*}")) {
            captures.push((name, rest.to_owned()));
            return Some(Captures(captures));
        }
        let (head, tail) = match rest.split_once('/') {
            Some((h, t)) => (h, Some(t)),
            None => (rest, None),
        };
        if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            if head.is_empty() {
                return None;
            }
            captures.push((name, head.to_owned()));
        } else if seg != head {
            return None;
        }
        match (tail, segments.peek()) {
            (None, None) => return Some(Captures(captures)),
            (Some(t), Some(_)) => rest = t,
            // The pattern ends but the path has a trailing slash: accept "x/" for "x".
            (Some(""), None) => return Some(Captures(captures)),
            // A star capture after the path ended captures "".
            (None, Some(next)) if next.ends_with("*}") => rest = "",
            _ => return None,
        }
    }
    None
}

/// Concatenates two field lists at compile time, for paths that share a
/// common group of fields: `const F: [&str; 1 + COMMON.len()] = concat_fields(&["x"], COMMON);`
pub const fn concat_fields<const N: usize>(
    a: &[&'static str],
    b: &[&'static str],
) -> [&'static str; N] {
    let mut out = [""; N];
    let mut i = 0;
    while i < a.len() {
        out[i] = a[i];
        i += 1;
    }
    let mut j = 0;
    while j < b.len() {
        out[i + j] = b[j];
        j += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_and_captures() {
        let c = match_pattern("role/{name}/secret-id", "role/web/secret-id").unwrap();
        assert_eq!(c.get("name"), "web");
        assert!(match_pattern("role/{name}/secret-id", "role//secret-id").is_none());
        assert!(match_pattern("role/{name}", "role/web/x").is_none());
        assert!(match_pattern("role/{name}", "role/web/").is_some());
    }

    #[test]
    fn star_captures_rest() {
        assert_eq!(
            match_pattern("data/{path*}", "data/a/b")
                .unwrap()
                .get("path"),
            "a/b"
        );
        assert_eq!(
            match_pattern("metadata/{path*}", "metadata/")
                .unwrap()
                .get("path"),
            ""
        );
        assert_eq!(
            match_pattern("metadata/{path*}", "metadata")
                .unwrap()
                .get("path"),
            ""
        );
        assert_eq!(match_pattern("{path*}", "").unwrap().get("path"), "");
        assert!(match_pattern("data/{path*}", "other/a").is_none());
    }

    #[test]
    fn unknown_field_warnings() {
        static TABLE: PathTable<u8> = PathTable(&[PathSpec {
            pattern: "users/{username}",
            route: 0,
            operations: &[Operation::Update],
            fields: &["password"],
            existence_check: true,
            help: "",
        }]);
        let mut req = Request::new(Operation::Create, "users/bob");
        req.data.insert("password".into(), "x".into());
        req.data.insert("x".into(), 1.into());
        req.data.insert("username".into(), "y".into());
        let m = TABLE.resolve(&req).unwrap();
        assert_eq!(
            m.warnings(&req),
            vec![
                "Endpoint ignored these unrecognized parameters: [x]".to_owned(),
                "Endpoint replaced the value of these parameters with the values captured from the endpoint's path: [username]".to_owned()
            ]
        );
        let del = Request::new(Operation::Delete, "users/bob");
        assert_eq!(
            TABLE.resolve(&del).unwrap_err(),
            Error::UnsupportedOperation
        );
        let other = Request::new(Operation::Read, "nope");
        assert!(matches!(
            TABLE.resolve(&other).unwrap_err(),
            Error::NoRoute(_)
        ));
    }
}
