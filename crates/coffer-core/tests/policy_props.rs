//! Property tests of the ACL: a naive reference model of OpenBao's matching
//! (written as plainly as possible: scan every stanza, sort candidates with
//! OpenBao's comparison) must agree with the compiled [`Acl`] everywhere, and
//! the algebraic properties of merging hold (deny wins, order does not matter,
//! identical patterns only add, exact beats glob, root allows all).

use std::collections::BTreeSet;

use base64::Engine as _;
use coffer_core::logical::Operation;
use coffer_core::policy::{Acl, Policy};
use proptest::prelude::*;
use serde_json::json;

const CAPS: [&str; 7] = [
    "create", "read", "update", "patch", "delete", "list", "sudo",
];
const OPS: [Operation; 6] = [
    Operation::Read,
    Operation::Create,
    Operation::Update,
    Operation::Patch,
    Operation::Delete,
    Operation::List,
];

#[derive(Debug, Clone)]
struct Stanza {
    pattern: String,
    caps: Vec<&'static str>,
}

#[derive(Debug, Clone)]
struct Pol {
    name: String,
    stanzas: Vec<Stanza>,
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec!["a", "b", "ab", "c"]).prop_map(str::to_owned),
        1 => Just("+".to_owned()),
    ]
}

fn pattern() -> impl Strategy<Value = String> {
    (prop::collection::vec(segment(), 1..4), 0..4u8).prop_map(|(segs, suffix)| {
        let mut p = segs.join("/");
        match suffix {
            1 if !p.ends_with('+') => p.push('*'),
            1 | 2 => p.push_str("/*"),
            _ => {}
        }
        p
    })
}

fn caps() -> impl Strategy<Value = Vec<&'static str>> {
    prop_oneof![
        6 => prop::sample::subsequence(CAPS.to_vec(), 0..=CAPS.len()),
        1 => Just(vec!["deny"]),
    ]
}

fn stanza() -> impl Strategy<Value = Stanza> {
    (pattern(), caps()).prop_map(|(pattern, caps)| Stanza { pattern, caps })
}

fn policies() -> impl Strategy<Value = Vec<Pol>> {
    prop::collection::vec(prop::collection::vec(stanza(), 1..6), 1..5).prop_map(|all| {
        all.into_iter()
            .enumerate()
            .map(|(i, stanzas)| Pol {
                name: format!("p{i}"),
                stanzas,
            })
            .collect()
    })
}

fn path() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(
            prop::sample::select(vec!["a", "b", "ab", "abc", "c", "x", "+", "*"]),
            1..5,
        ),
        any::<bool>(),
    )
        .prop_map(|(segs, slash)| {
            let mut p = segs.join("/");
            if slash {
                p.push('/');
            }
            p
        })
}

fn hcl(p: &Pol) -> String {
    p.stanzas
        .iter()
        .map(|s| format!("path {:?} {{ capabilities = {:?} }}\n", s.pattern, s.caps))
        .collect()
}

fn compile(pols: &[Pol]) -> Acl {
    let parsed: Vec<Policy> = pols
        .iter()
        .map(|p| Policy::parse(&p.name, &hcl(p)).expect("generated policy parses"))
        .collect();
    Acl::new(&parsed)
}

// ---- the reference model -------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Exact,
    Prefix,
    Segment,
}

fn kind(p: &str) -> Kind {
    if p == "+" || p.contains("/+") || p.starts_with("+/") {
        Kind::Segment
    } else if p.ends_with('*') {
        Kind::Prefix
    } else {
        Kind::Exact
    }
}

fn segment_match(pattern: &str, path: &str) -> bool {
    let (stem, prefix) = match pattern.strip_suffix('*') {
        Some(s) => (s, true),
        None => (pattern, false),
    };
    let ps: Vec<&str> = stem.split('/').collect();
    let xs: Vec<&str> = path.split('/').collect();
    if xs.len() < ps.len() || (!prefix && xs.len() != ps.len()) {
        return false;
    }
    let last = ps.len() - 1;
    (0..ps.len()).all(|i| {
        ps[i] == "+" || ps[i] == xs[i] || (prefix && i == last && xs[i].starts_with(ps[i]))
    })
}

/// A non-exact match candidate: (first wildcard index, is prefix, wildcard count, stem).
type Candidate = (usize, bool, usize, String);

/// OpenBao's `less`: true when `a` has lower priority than `b`.
fn lower(a: &Candidate, b: &Candidate) -> bool {
    if a.0 != b.0 {
        return a.0 < b.0;
    }
    if a.1 != b.1 {
        return a.1;
    }
    if a.2 != b.2 {
        return a.2 > b.2;
    }
    if a.3.len() != b.3.len() {
        return a.3.len() < b.3.len();
    }
    a.3 < b.3
}

/// The governing pattern for `path` (non-list semantics), by brute force.
fn governing(all: &[&Stanza], path: &str) -> Option<(Kind, String)> {
    if let Some(s) = all
        .iter()
        .find(|s| kind(&s.pattern) == Kind::Exact && s.pattern == path)
    {
        return Some((Kind::Exact, s.pattern.clone()));
    }
    let mut best: Option<(Candidate, (Kind, String))> = None;
    for s in all {
        let cand = match kind(&s.pattern) {
            Kind::Exact => continue,
            Kind::Prefix => {
                let stem = &s.pattern[..s.pattern.len() - 1];
                if !path.starts_with(stem) {
                    continue;
                }
                (stem.len(), true, 0, stem.to_owned())
            }
            Kind::Segment => {
                if !segment_match(&s.pattern, path) {
                    continue;
                }
                let stem = s.pattern.strip_suffix('*').unwrap_or(&s.pattern);
                (
                    s.pattern.find('+').unwrap_or(0),
                    s.pattern.ends_with('*'),
                    stem.split('/').filter(|x| *x == "+").count(),
                    stem.to_owned(),
                )
            }
        };
        if best.as_ref().is_none_or(|(b, _)| lower(b, &cand)) {
            best = Some((cand, (kind(&s.pattern), s.pattern.clone())));
        }
    }
    best.map(|(_, g)| g)
}

fn model_capabilities(pols: &[Pol], path: &str) -> Vec<&'static str> {
    let all: Vec<&Stanza> = pols.iter().flat_map(|p| &p.stanzas).collect();
    let path = path.trim_start_matches('/');
    let trimmed = path.strip_suffix('/');
    let exact = |p: &str| {
        all.iter()
            .find(|s| kind(&s.pattern) == Kind::Exact && s.pattern == p)
            .map(|s| (Kind::Exact, s.pattern.clone()))
    };
    let found = exact(path)
        .or_else(|| trimmed.and_then(exact))
        .or_else(|| governing(&all, path))
        .or_else(|| trimmed.and_then(|t| governing(&all, t)));
    let Some((k, key)) = found else {
        return vec!["deny"];
    };
    // Same (kind, pattern) everywhere: union; deny anywhere wins.
    let same: Vec<&&Stanza> = all
        .iter()
        .filter(|s| kind(&s.pattern) == k && s.pattern == key)
        .collect();
    if same.iter().any(|s| s.caps.contains(&"deny")) {
        return vec!["deny"];
    }
    let set: BTreeSet<&'static str> = same.iter().flat_map(|s| s.caps.iter().copied()).collect();
    if set.is_empty() {
        vec!["deny"]
    } else {
        set.into_iter().collect()
    }
}

// ---- properties ---------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn agrees_with_reference_model(pols in policies(), paths in prop::collection::vec(path(), 1..12)) {
        let acl = compile(&pols);
        for p in &paths {
            prop_assert_eq!(acl.capabilities(p), model_capabilities(&pols, p), "path {}", p);
        }
        // Also on every pattern itself and its stems.
        for s in pols.iter().flat_map(|p| &p.stanzas) {
            let stem = s.pattern.trim_end_matches('*');
            prop_assert_eq!(acl.capabilities(&s.pattern), model_capabilities(&pols, &s.pattern));
            prop_assert_eq!(acl.capabilities(stem), model_capabilities(&pols, stem));
        }
    }

    #[test]
    fn independent_of_policy_order(pols in policies(), paths in prop::collection::vec(path(), 1..8)) {
        let a = compile(&pols);
        let mut rev = pols.clone();
        rev.reverse();
        let b = compile(&rev);
        for p in &paths {
            prop_assert_eq!(a.capabilities(p), b.capabilities(p));
            for op in OPS {
                prop_assert_eq!(a.authorize(op, p, None), b.authorize(op, p, None));
            }
        }
        prop_assert_eq!(a.resultant(), b.resultant());
    }

    #[test]
    fn deny_wins(pols in policies(), paths in prop::collection::vec(path(), 1..8)) {
        // Denying every pattern already in use makes everything deny.
        let mut with_deny = pols.clone();
        with_deny.push(Pol {
            name: "zdeny".into(),
            stanzas: pols.iter().flat_map(|p| &p.stanzas)
                .map(|s| Stanza { pattern: s.pattern.clone(), caps: vec!["deny"] }).collect(),
        });
        let acl = compile(&with_deny);
        for p in &paths {
            prop_assert_eq!(acl.capabilities(p), vec!["deny"]);
            for op in OPS {
                let a = acl.authorize(op, p, None);
                prop_assert!(!a.allowed && !a.sudo);
            }
        }
        // An exact deny on a path wins over whatever else matches it.
        for p in paths.iter().filter(|p| kind(p) == Kind::Exact) {
            let mut one = pols.clone();
            one.push(Pol { name: "zdeny".into(), stanzas: vec![Stanza { pattern: p.clone(), caps: vec!["deny"] }] });
            let acl = compile(&one);
            prop_assert_eq!(acl.capabilities(p), vec!["deny"]);
            for op in OPS {
                prop_assert!(!acl.authorize(op, p, None).allowed);
            }
        }
    }

    #[test]
    fn identical_patterns_only_add(pols in policies(), extra in prop::collection::vec(prop::sample::subsequence(CAPS.to_vec(), 0..=CAPS.len()), 1..6), paths in prop::collection::vec(path(), 1..8)) {
        // A new policy reusing existing patterns with non-deny capabilities never removes any.
        let patterns: Vec<String> = pols.iter().flat_map(|p| &p.stanzas).map(|s| s.pattern.clone()).collect();
        let mut more = pols.clone();
        more.push(Pol {
            name: "zmore".into(),
            stanzas: patterns.iter().zip(extra.iter().cycle()).map(|(p, c)| Stanza { pattern: p.clone(), caps: c.clone() }).collect(),
        });
        let before = compile(&pols);
        let after = compile(&more);
        for p in &paths {
            let old = before.capabilities(p);
            let new = after.capabilities(p);
            if old != ["deny"] {
                for c in &old {
                    prop_assert!(new.contains(c), "{} lost {} ({:?} -> {:?})", p, c, old, new);
                }
            }
        }
    }

    #[test]
    fn exact_beats_glob(pols in policies(), p in path(), c in prop::sample::subsequence(CAPS.to_vec(), 1..=CAPS.len())) {
        let p = p.trim_end_matches('/').replace('+', "plus");
        prop_assume!(!p.ends_with('*'));
        let existing: Vec<&Stanza> = pols.iter().flat_map(|x| &x.stanzas).filter(|s| s.pattern == p).collect();
        prop_assume!(existing.is_empty());
        let mut more = pols.clone();
        more.push(Pol { name: "zexact".into(), stanzas: vec![Stanza { pattern: p.clone(), caps: c.clone() }] });
        let acl = compile(&more);
        let mut want = c.clone();
        want.sort_unstable();
        prop_assert_eq!(acl.capabilities(&p), want);
    }

    #[test]
    fn authorize_matches_capabilities(pols in policies(), p in path()) {
        let acl = compile(&pols);
        let p = p.trim_end_matches('/');
        let caps = acl.capabilities(p);
        for op in OPS {
            let a = acl.authorize(op, p, None);
            prop_assert_eq!(a.allowed, caps.contains(&op.as_str()), "{:?} on {}", op, p);
            prop_assert_eq!(a.sudo, caps.contains(&"sudo"));
            if a.allowed {
                prop_assert!(!a.granting_policies.is_empty());
                let mut sorted = a.granting_policies.clone();
                sorted.sort();
                sorted.dedup();
                prop_assert_eq!(&sorted, &a.granting_policies);
            } else {
                prop_assert!(a.granting_policies.is_empty());
            }
        }
        let mut sorted = caps.clone();
        sorted.sort_unstable();
        sorted.dedup();
        prop_assert_eq!(sorted, caps);
    }

    #[test]
    fn root_allows_everything(p in path(), op in prop::sample::select(OPS.to_vec())) {
        let a = Acl::root().authorize(op, &p, Some(&serde_json::Map::new()));
        prop_assert!(a.allowed && a.sudo && a.is_root);
        prop_assert_eq!(Acl::root().capabilities(&p), vec!["root"]);
    }

    #[test]
    fn hcl_json_and_base64_agree(pols in policies()) {
        for p in &pols {
            let from_hcl = Policy::parse(&p.name, &hcl(p)).expect("hcl parses");
            let json_text = json!({"path": p.stanzas.iter().map(|s| json!({s.pattern.clone(): {"capabilities": s.caps}})).collect::<Vec<_>>()}).to_string();
            let from_json = Policy::parse(&p.name, &json_text).expect("json parses");
            prop_assert_eq!(&from_hcl.rules, &from_json.rules);
            let b64 = base64::engine::general_purpose::STANDARD.encode(hcl(p));
            let from_b64 = Policy::parse(&p.name, &b64).expect("base64 parses");
            prop_assert_eq!(&from_hcl.rules, &from_b64.rules);
        }
    }

    #[test]
    fn parser_never_panics(text in "\\PC{0,200}") {
        let _ = Policy::parse("fuzz", &text);
    }

    #[test]
    fn parser_never_panics_on_hcl_like_input(text in "[a-z\"{}\\[\\]=,#/*<>\\- \n0-9.]{0,120}") {
        let _ = Policy::parse("fuzz", &text);
    }

    #[test]
    fn allowed_parameters_gate_names(names in prop::collection::btree_set("[a-d]", 0..4), sent in prop::collection::btree_set("[a-f]", 0..5)) {
        let allowed: String = names.iter().map(|n| format!("{n:?} = [] ")).collect();
        let text = format!("path \"k\" {{ capabilities = [\"update\"] allowed_parameters = {{ {allowed} }} }}");
        let acl = Acl::new(&[Policy::parse("p", &text).expect("parses")]);
        let body: serde_json::Map<String, serde_json::Value> = sent.iter().map(|k| (k.clone(), json!("v"))).collect();
        let ok = acl.authorize(Operation::Update, "k", Some(&body)).allowed;
        // No constraint at all, or every sent name allowed.
        prop_assert_eq!(ok, names.is_empty() || sent.is_subset(&names));
    }

    #[test]
    fn durations_roundtrip(secs in 0u64..9_223_372_036) {
        let text = coffer_core::duration::format_go(secs);
        prop_assert_eq!(coffer_core::duration::parse_secs(&text), Ok(secs));
        prop_assert_eq!(coffer_core::duration::parse_secs(&secs.to_string()), Ok(secs));
        prop_assert_eq!(coffer_core::duration::parse_json_secs(&json!(secs)), Ok(secs));
    }
}

/// The brief's "adding a policy never removes capabilities" does not hold for
/// OpenBao's semantics in general: a more specific pattern takes over the path.
#[test]
fn more_specific_pattern_replaces_capabilities() {
    let broad = Policy::parse("a", r#"path "g/*" { capabilities = ["read"] }"#).expect("parses");
    let narrow = Policy::parse("b", r#"path "g/a" { capabilities = ["list"] }"#).expect("parses");
    assert_eq!(
        Acl::new(std::slice::from_ref(&broad)).capabilities("g/a"),
        ["read"]
    );
    assert_eq!(Acl::new(&[broad, narrow]).capabilities("g/a"), ["list"]);
}
