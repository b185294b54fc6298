//! Which leaves are encrypted: the one suffix/regex rule a file records.

use regex::Regex;

use crate::error::{Error, Result};

/// The encryption rule of a file (at most one; default `_unencrypted` suffix).
#[derive(Clone, Debug)]
pub enum Rule {
    UnencryptedSuffix(String),
    EncryptedSuffix(String),
    UnencryptedRegex(Regex),
    EncryptedRegex(Regex),
    UnencryptedCommentRegex(Regex),
    EncryptedCommentRegex(Regex),
    /// Binary store: the one value is always encrypted.
    All,
}

impl Default for Rule {
    fn default() -> Self {
        Rule::UnencryptedSuffix("_unencrypted".into())
    }
}

/// The rule fields as written in metadata or `.sops.yaml`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RuleFields {
    pub unencrypted_suffix: Option<String>,
    pub encrypted_suffix: Option<String>,
    pub unencrypted_regex: Option<String>,
    pub encrypted_regex: Option<String>,
    pub unencrypted_comment_regex: Option<String>,
    pub encrypted_comment_regex: Option<String>,
}

impl RuleFields {
    /// Builds the rule; more than one set field is an error.
    pub fn to_rule(&self) -> Result<Rule> {
        let set: Vec<(&str, &String)> = [
            ("unencrypted_suffix", &self.unencrypted_suffix),
            ("encrypted_suffix", &self.encrypted_suffix),
            ("unencrypted_regex", &self.unencrypted_regex),
            ("encrypted_regex", &self.encrypted_regex),
            ("unencrypted_comment_regex", &self.unencrypted_comment_regex),
            ("encrypted_comment_regex", &self.encrypted_comment_regex),
        ]
        .into_iter()
        .filter_map(|(n, v)| v.as_ref().filter(|s| !s.is_empty()).map(|v| (n, v)))
        .collect();
        if set.len() > 1 {
            let names: Vec<&str> = set.iter().map(|(n, _)| *n).collect();
            return Err(Error::Usage(format!(
                "only one of the encryption rules may be set, found: {}",
                names.join(", ")
            )));
        }
        let Some((name, v)) = set.first() else {
            return Ok(Rule::default());
        };
        let re = || Regex::new(v).map_err(|e| Error::Usage(format!("invalid {name} {v:?}: {e}")));
        Ok(match *name {
            "unencrypted_suffix" => Rule::UnencryptedSuffix((*v).clone()),
            "encrypted_suffix" => Rule::EncryptedSuffix((*v).clone()),
            "unencrypted_regex" => Rule::UnencryptedRegex(re()?),
            "encrypted_regex" => Rule::EncryptedRegex(re()?),
            "unencrypted_comment_regex" => Rule::UnencryptedCommentRegex(re()?),
            _ => Rule::EncryptedCommentRegex(re()?),
        })
    }

    /// The fields for a rule (what the metadata records).
    pub fn from_rule(rule: &Rule) -> Self {
        let mut f = RuleFields::default();
        match rule {
            Rule::UnencryptedSuffix(s) => f.unencrypted_suffix = Some(s.clone()),
            Rule::EncryptedSuffix(s) => f.encrypted_suffix = Some(s.clone()),
            Rule::UnencryptedRegex(r) => f.unencrypted_regex = Some(r.as_str().into()),
            Rule::EncryptedRegex(r) => f.encrypted_regex = Some(r.as_str().into()),
            Rule::UnencryptedCommentRegex(r) => {
                f.unencrypted_comment_regex = Some(r.as_str().into())
            }
            Rule::EncryptedCommentRegex(r) => f.encrypted_comment_regex = Some(r.as_str().into()),
            Rule::All => {}
        }
        f
    }

    pub fn is_empty(&self) -> bool {
        *self == RuleFields::default()
    }
}

impl Rule {
    /// Whether a leaf at `path` is encrypted, given the comments currently
    /// active above it (only used by the comment rules).
    pub fn encrypts(&self, path: &[&str], active_comments: &[&str]) -> bool {
        match self {
            Rule::All => true,
            Rule::UnencryptedSuffix(s) => !path.iter().any(|c| c.ends_with(s.as_str())),
            Rule::EncryptedSuffix(s) => path.iter().any(|c| c.ends_with(s.as_str())),
            Rule::UnencryptedRegex(r) => !path.iter().any(|c| r.is_match(c)),
            Rule::EncryptedRegex(r) => path.iter().any(|c| r.is_match(c)),
            Rule::UnencryptedCommentRegex(r) => !active_comments.iter().any(|c| r.is_match(c)),
            Rule::EncryptedCommentRegex(r) => active_comments.iter().any(|c| r.is_match(c)),
        }
    }

    pub fn uses_comments(&self) -> bool {
        matches!(
            self,
            Rule::UnencryptedCommentRegex(_) | Rule::EncryptedCommentRegex(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffix_applies_to_any_ancestor() {
        let r = Rule::default();
        assert!(r.encrypts(&["a", "b"], &[]));
        assert!(!r.encrypts(&["a_unencrypted", "b"], &[]));
        assert!(r.encrypts(&[], &[]));
    }

    #[test]
    fn two_rules_rejected() {
        let f = RuleFields {
            encrypted_regex: Some("^data$".into()),
            unencrypted_suffix: Some("_x".into()),
            ..Default::default()
        };
        assert!(f.to_rule().is_err());
        let f = RuleFields {
            encrypted_regex: Some("^(data|stringData)$".into()),
            ..Default::default()
        };
        let r = f.to_rule().unwrap();
        assert!(r.encrypts(&["data", "x"], &[]));
        assert!(!r.encrypts(&["metadata"], &[]));
    }
}
