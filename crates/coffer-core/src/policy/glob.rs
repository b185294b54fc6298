//! Path patterns and the index that finds the rule governing a request path.
//!
//! A pattern is one of three kinds, decided once when the ACL is built:
//! - **exact**: no wildcard (a `*` anywhere but at the end is a literal);
//! - **prefix**: ends in `*` and has no `+` segment; the `*` matches any rest,
//!   also inside a segment (`g/x*` matches `g/xyz/1`);
//! - **segment**: has a `+` segment (`+`, `+/…`, `…/+/…`, `…/+`), optionally
//!   ending in `*`; `+` matches exactly one segment.
//!
//! Lookup order (OpenBao's `AllowOperation`): an exact rule wins outright. Else
//! the longest matching prefix rule and the best matching segment rule compete
//! by priority: the later the first wildcard (`+`, or for a prefix rule its `*`)
//! the better; then non-prefix over prefix; then fewer `+`; then the longer
//! pattern; then the lexically greater one.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A multiply-rotate hasher (the Fx hash used by rustc): much faster than
/// SipHash on short path keys. The maps it backs are built from policy text
/// and only probed with request paths, so collision flooding cannot grow them.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct FastHasher(u64);

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let word = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
        }
        for b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(*b)).wrapping_mul(K);
        }
    }

    fn write_u8(&mut self, b: u8) {
        self.write(&[b]);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A `HashMap` keyed by path text with [`FastHasher`].
pub(super) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// Which index a pattern goes to, with the key it is stored under.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum PatternKey {
    Exact(String),
    /// The pattern without its trailing `*`.
    Prefix(String),
    /// The full pattern, trailing `*` included.
    Segment(String),
}

impl PatternKey {
    pub fn of(pattern: &str) -> PatternKey {
        let segment_wildcards =
            pattern == "+" || pattern.contains("/+") || pattern.starts_with("+/");
        if segment_wildcards {
            PatternKey::Segment(pattern.to_owned())
        } else if let Some(prefix) = pattern.strip_suffix('*') {
            PatternKey::Prefix(prefix.to_owned())
        } else {
            PatternKey::Exact(pattern.to_owned())
        }
    }
}

/// Priority of a non-exact match; greater wins.
type Priority<'a> = (usize, bool, Reverse<usize>, usize, &'a str);

#[derive(Debug, Clone)]
enum Part {
    Plus,
    Lit(Box<str>),
}

/// A compiled pattern with `+` segments.
#[derive(Debug, Clone)]
pub(super) struct SegmentPattern {
    parts: Vec<Part>,
    is_prefix: bool,
    /// Byte index of the first `+` in the pattern.
    first_wildcard: usize,
    wildcards: usize,
    /// The pattern without a trailing `*`.
    stem: Box<str>,
    pub rule: u32,
}

impl SegmentPattern {
    pub fn new(pattern: &str, rule: u32) -> SegmentPattern {
        let (stem, is_prefix) = match pattern.strip_suffix('*') {
            Some(s) => (s, true),
            None => (pattern, false),
        };
        let parts: Vec<Part> = stem
            .split('/')
            .map(|p| {
                if p == "+" {
                    Part::Plus
                } else {
                    Part::Lit(p.into())
                }
            })
            .collect();
        SegmentPattern {
            wildcards: parts.iter().filter(|p| matches!(p, Part::Plus)).count(),
            parts,
            is_prefix,
            first_wildcard: pattern.find('+').unwrap_or(pattern.len()),
            stem: stem.into(),
            rule,
        }
    }

    fn priority(&self) -> Priority<'_> {
        (
            self.first_wildcard,
            !self.is_prefix,
            Reverse(self.wildcards),
            self.stem.len(),
            &self.stem,
        )
    }

    /// Whether a path matches, given as its first segments (`split`, at most
    /// [`MAX_SPLIT`]) and its total segment count.
    fn matches(&self, split: &Split<'_>) -> bool {
        let n = self.parts.len();
        if split.count < n || (!self.is_prefix && split.count != n) {
            return false;
        }
        let part_ok = |i: usize, seg: &str| match &self.parts[i] {
            Part::Plus => true,
            Part::Lit(lit) => {
                seg == &**lit || (self.is_prefix && i == n - 1 && seg.starts_with(&**lit))
            }
        };
        match split.segments.get(..n) {
            // Last segment first: it is usually the most selective.
            Some(segs) => (0..n).rev().all(|i| part_ok(i, segs[i])),
            None => split
                .path
                .split('/')
                .take(n)
                .enumerate()
                .all(|(i, seg)| part_ok(i, seg)),
        }
    }
}

/// Most paths have fewer segments; deeper ones are matched by re-splitting.
const MAX_SPLIT: usize = 24;

/// A request path split once per lookup, without allocating.
struct Split<'a> {
    path: &'a str,
    /// The first `min(count, MAX_SPLIT)` segments.
    segments: &'a [&'a str],
    count: usize,
}

fn prefix_priority(prefix: &str) -> Priority<'_> {
    (prefix.len(), false, Reverse(0), prefix.len(), prefix)
}

/// Longest-prefix lookup over prefix rules, bucketed by the first path segment
/// so a lookup is one hash probe plus a short scan.
#[derive(Debug, Clone, Default)]
pub(super) struct PrefixIndex {
    /// Prefixes containing a `/`, keyed by the text before it; longest first.
    by_segment: FastMap<Box<str>, Vec<(Box<str>, u32)>>,
    /// Prefixes without a `/` (they can end inside the first segment); longest first.
    short: Vec<(Box<str>, u32)>,
}

impl PrefixIndex {
    pub fn insert(&mut self, prefix: &str, rule: u32) {
        let list = match prefix.split_once('/') {
            Some((first, _)) => self.by_segment.entry(first.into()).or_default(),
            None => &mut self.short,
        };
        list.push((prefix.into(), rule));
    }

    /// Sorts candidates longest first. Call once after the last insert.
    pub fn finish(&mut self) {
        for list in self.by_segment.values_mut() {
            list.sort_by_key(|(p, _)| Reverse(p.len()));
        }
        self.short.sort_by_key(|(p, _)| Reverse(p.len()));
    }

    /// The longest prefix of `path` that has a rule.
    pub fn longest<'a>(&'a self, path: &str) -> Option<(&'a str, u32)> {
        let find = |list: &'a [(Box<str>, u32)]| {
            list.iter()
                .find(|(p, _)| path.starts_with(&**p))
                .map(|(p, r)| (&**p, *r))
        };
        if let Some((first, _)) = path.split_once('/')
            && let Some(hit) = self.by_segment.get(first).and_then(|l| find(l))
        {
            return Some(hit);
        }
        find(&self.short)
    }
}

/// All non-exact rules.
#[derive(Debug, Clone, Default)]
pub(super) struct GlobIndex {
    pub prefixes: PrefixIndex,
    /// Segment patterns whose first segment is a literal, keyed by it.
    segments_by_first: FastMap<Box<str>, Vec<SegmentPattern>>,
    /// Segment patterns starting with `+`.
    segments_wild: Vec<SegmentPattern>,
}

impl GlobIndex {
    pub fn add_segment(&mut self, pattern: &str, rule: u32) {
        let compiled = SegmentPattern::new(pattern, rule);
        match compiled.parts.first() {
            Some(Part::Lit(first)) => self
                .segments_by_first
                .entry(first.clone())
                .or_default()
                .push(compiled),
            _ => self.segments_wild.push(compiled),
        }
    }

    /// Sorts every candidate list by priority, best first, so the first match
    /// in a list is its best one. Call once after the last insert.
    pub fn finish(&mut self) {
        let by_priority = |a: &SegmentPattern, b: &SegmentPattern| b.priority().cmp(&a.priority());
        for list in self.segments_by_first.values_mut() {
            list.sort_by(by_priority);
        }
        self.segments_wild.sort_by(by_priority);
        self.prefixes.finish();
    }

    pub fn has_segment_patterns(&self) -> bool {
        !self.segments_by_first.is_empty() || !self.segments_wild.is_empty()
    }

    /// OpenBao's `CheckAllowedFromNonExactPaths` in "bare mount" mode, for a
    /// mount path ending in `/`: whether some segment pattern reaches inside
    /// the mount with a rule for which `grants` holds.
    pub fn segment_reaches_mount(&self, mount: &str, grants: impl Fn(u32) -> bool) -> bool {
        let parts: Vec<&str> = mount.split('/').collect();
        let check_at = parts.len().saturating_sub(2);
        let all = self
            .segments_by_first
            .values()
            .flatten()
            .chain(&self.segments_wild);
        all.filter(|pat| grants(pat.rule)).any(|pat| {
            let last = pat.parts.len() - 1;
            let mut joined = String::new();
            for (i, part) in pat.parts.iter().enumerate() {
                let Some(seg) = parts.get(i) else {
                    return false;
                };
                let keep = match part {
                    Part::Plus => true,
                    Part::Lit(lit) => {
                        seg == &&**lit || (pat.is_prefix && i == last && seg.starts_with(&**lit))
                    }
                };
                if keep {
                    joined.push_str(seg);
                    joined.push('/');
                }
                if i == check_at {
                    return joined.starts_with(mount);
                }
            }
            false
        })
    }

    /// The rule governing `path` among the non-exact rules.
    pub fn lookup(&self, path: &str) -> Option<u32> {
        let prefix = self.prefixes.longest(path);
        if self.segments_by_first.is_empty() && self.segments_wild.is_empty() {
            return prefix.map(|(_, r)| r);
        }
        let mut buf = [""; MAX_SPLIT];
        let mut count = 0;
        for seg in path.split('/') {
            if let Some(slot) = buf.get_mut(count) {
                *slot = seg;
            }
            count += 1;
        }
        let split = Split {
            path,
            segments: &buf[..count.min(MAX_SPLIT)],
            count,
        };
        let literal = self
            .segments_by_first
            .get(buf[0])
            .and_then(|list| list.iter().find(|s| s.matches(&split)));
        let wild = self.segments_wild.iter().find(|s| s.matches(&split));
        let seg = match (literal, wild) {
            (Some(a), Some(b)) => Some(if a.priority() > b.priority() { a } else { b }),
            (a, b) => a.or(b),
        };
        match (prefix, seg) {
            (Some((p, r)), Some(s)) => {
                if prefix_priority(p) > s.priority() {
                    Some(r)
                } else {
                    Some(s.rule)
                }
            }
            (Some((_, r)), None) => Some(r),
            (None, Some(s)) => Some(s.rule),
            (None, None) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(PatternKey::of("a/b"), PatternKey::Exact("a/b".into()));
        assert_eq!(PatternKey::of("a/*/b"), PatternKey::Exact("a/*/b".into()));
        assert_eq!(PatternKey::of("a/b*"), PatternKey::Prefix("a/b".into()));
        assert_eq!(PatternKey::of("*"), PatternKey::Prefix("".into()));
        assert_eq!(PatternKey::of("+"), PatternKey::Segment("+".into()));
        assert_eq!(PatternKey::of("+/a"), PatternKey::Segment("+/a".into()));
        assert_eq!(
            PatternKey::of("a/+/b*"),
            PatternKey::Segment("a/+/b*".into())
        );
        // '+' inside a segment is a literal.
        assert_eq!(PatternKey::of("a+b/c"), PatternKey::Exact("a+b/c".into()));
    }

    fn split_and(path: &str, f: impl Fn(&Split<'_>) -> bool) -> bool {
        let segs: Vec<&str> = path.split('/').collect();
        let full = Split {
            path,
            segments: &segs,
            count: segs.len(),
        };
        // Also exercise the re-splitting fallback for deep paths.
        let none = Split {
            path,
            segments: &[],
            count: segs.len(),
        };
        let (a, b) = (f(&full), f(&none));
        assert_eq!(a, b, "fallback disagrees on {path}");
        a
    }

    #[test]
    fn deep_paths() {
        let deep: String = (0..40)
            .map(|i| format!("s{i}"))
            .collect::<Vec<_>>()
            .join("/");
        let mut g = GlobIndex::default();
        g.add_segment("s0/+/s2*", 1);
        let long_pattern: String = (0..30)
            .map(|i| {
                if i == 5 {
                    "+".to_owned()
                } else {
                    format!("s{i}")
                }
            })
            .collect::<Vec<_>>()
            .join("/")
            + "*";
        g.add_segment(&long_pattern, 2);
        g.finish();
        assert_eq!(g.lookup(&deep), Some(2));
        assert_eq!(g.lookup("s0/x/s2"), Some(1));
    }

    #[test]
    fn segment_matching() {
        let p = SegmentPattern::new("g/+/c", 0);
        let m = |path: &str| split_and(path, |s| p.matches(s));
        assert!(m("g/q/c"));
        assert!(m("g//c"));
        assert!(!m("g/q/r/c"));
        assert!(!m("g/q/c/d"));
        let p = SegmentPattern::new("g/+/c*", 0);
        let m = |path: &str| split_and(path, |s| p.matches(s));
        assert!(m("g/q/c"));
        assert!(m("g/q/cde/f"));
        assert!(!m("g/q/d"));
        let p = SegmentPattern::new("g/+/*", 0);
        let m = |path: &str| split_and(path, |s| p.matches(s));
        assert!(m("g/q/"));
        assert!(m("g/q/anything/else"));
        assert!(!m("g/q"));
    }

    #[test]
    fn prefix_longest() {
        let mut idx = PrefixIndex::default();
        idx.insert("", 0);
        idx.insert("g/", 1);
        idx.insert("g/a/", 2);
        idx.insert("g/x", 3);
        idx.insert("se", 4);
        idx.finish();
        assert_eq!(idx.longest("g/a/b").map(|x| x.1), Some(2));
        assert_eq!(idx.longest("g/a").map(|x| x.1), Some(1));
        assert_eq!(idx.longest("g/xyz").map(|x| x.1), Some(3));
        assert_eq!(idx.longest("secret/x").map(|x| x.1), Some(4));
        assert_eq!(idx.longest("other").map(|x| x.1), Some(0));
    }

    #[test]
    fn priority_order() {
        let mut g = GlobIndex::default();
        g.prefixes.insert("foo/", 0);
        g.add_segment("foo/+", 1);
        g.add_segment("foo/+/bar/baz", 2);
        g.add_segment("foo/bar/+/baz", 3);
        g.add_segment("foo/+/+/baz", 4);
        g.prefixes.insert("foo/a", 5);
        g.add_segment("+/x/+", 6);
        g.finish();
        // foo/a* beats foo/+ (first wildcard later).
        assert_eq!(g.lookup("foo/ab"), Some(5));
        // foo/+ beats foo/* (same position, not a prefix).
        assert_eq!(g.lookup("foo/zz"), Some(1));
        // foo/bar/+/baz beats foo/+/bar/baz and foo/+/+/baz.
        assert_eq!(g.lookup("foo/bar/bar/baz"), Some(3));
        // foo/+/bar/baz beats foo/+/+/baz (fewer wildcards).
        assert_eq!(g.lookup("foo/x/bar/baz"), Some(2));
        assert_eq!(g.lookup("foo/x/y/baz"), Some(4));
        assert_eq!(g.lookup("foo/x/y/z"), Some(0));
        assert_eq!(g.lookup("elsewhere"), None);
        // A pattern starting with `+` competes with the others (and loses
        // whenever they match: its wildcard comes first).
        assert_eq!(g.lookup("foo/x/y"), Some(0));
        assert_eq!(g.lookup("bar/x/y"), Some(6));
    }
}
