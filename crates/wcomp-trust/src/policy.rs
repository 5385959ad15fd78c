//! Trust policy: which public keys are trusted for which artifacts, and what to do when
//! an artifact is unsigned.
//!
//! Artifacts are named by their scope `host[:port]/repository` (no tag or digest).
//! Patterns are globs over that scope: `*` matches within one path segment, `**` matches
//! any number of segments, and a pattern without wildcards also matches everything below
//! it (`reg.example.com/acme` covers `reg.example.com/acme/app`).

use crate::{Error, PublicKey};

/// What to do with an artifact that carries no signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unsigned {
    Refuse,
    Warn,
    Allow,
}

#[derive(Debug, Clone)]
pub struct TrustedKey {
    pub pattern: String,
    pub key: PublicKey,
    /// Where the key came from (a file name, a config entry), for messages.
    pub origin: String,
}

#[derive(Debug, Clone)]
pub struct UnsignedRule {
    pub pattern: String,
    pub mode: Unsigned,
}

#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub keys: Vec<TrustedKey>,
    /// Explicit rules; the most specific (longest) matching pattern wins.
    pub unsigned: Vec<UnsignedRule>,
}

impl Policy {
    pub fn add_key(&mut self, pattern: &str, key: PublicKey, origin: &str) -> Result<(), Error> {
        check_pattern(pattern)?;
        self.keys.push(TrustedKey {
            pattern: pattern.to_string(),
            key,
            origin: origin.to_string(),
        });
        Ok(())
    }

    pub fn add_unsigned(&mut self, pattern: &str, mode: Unsigned) -> Result<(), Error> {
        check_pattern(pattern)?;
        self.unsigned.push(UnsignedRule {
            pattern: pattern.to_string(),
            mode,
        });
        Ok(())
    }

    /// The keys trusted for `scope`.
    pub fn keys_for(&self, scope: &str) -> Vec<&TrustedKey> {
        self.keys
            .iter()
            .filter(|k| matches(&k.pattern, scope))
            .collect()
    }

    /// Unsigned handling for `scope`: an explicit rule, else refuse where a key is trusted
    /// and warn elsewhere.
    pub fn unsigned_for(&self, scope: &str) -> Unsigned {
        if let Some(rule) = self
            .unsigned
            .iter()
            .filter(|r| matches(&r.pattern, scope))
            .max_by_key(|r| r.pattern.len())
        {
            return rule.mode;
        }
        if self.keys_for(scope).is_empty() {
            Unsigned::Warn
        } else {
            Unsigned::Refuse
        }
    }
}

fn check_pattern(p: &str) -> Result<(), Error> {
    if p.is_empty() || p.split('/').any(|s| s.is_empty()) {
        return Err(Error::Pattern(p.to_string()));
    }
    Ok(())
}

/// Whether `pattern` covers `scope` (see the module docs).
pub fn matches(pattern: &str, scope: &str) -> bool {
    let pat: Vec<&str> = pattern.split('/').collect();
    let scope: Vec<&str> = scope.split('/').collect();
    let literal = !pattern.contains('*');
    if literal {
        return scope.len() >= pat.len() && pat.iter().zip(&scope).all(|(p, s)| p == s);
    }
    match_segments(&pat, &scope)
}

fn match_segments(pat: &[&str], scope: &[&str]) -> bool {
    match pat.split_first() {
        None => scope.is_empty(),
        Some((&"**", rest)) => (0..=scope.len()).any(|i| match_segments(rest, &scope[i..])),
        Some((p, rest)) => match scope.split_first() {
            Some((s, srest)) => match_segment(p, s) && match_segments(rest, srest),
            None => false,
        },
    }
}

/// `*` within one segment matches any run of characters.
fn match_segment(p: &str, s: &str) -> bool {
    let parts: Vec<&str> = p.split('*').collect();
    if parts.len() == 1 {
        return p == s;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !s.starts_with(first) || s.len() < first.len() + last.len() || !s.ends_with(last) {
        return false;
    }
    let mut rest = &s[first.len()..s.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KeyPair;

    #[test]
    fn patterns_match_segments_and_subtrees() {
        assert!(matches("**", "localhost:5000/a/b"));
        assert!(matches("localhost:5000/acme", "localhost:5000/acme/app"));
        assert!(!matches("localhost:5000/acme", "localhost:5000/acmex/app"));
        assert!(matches("*/acme/*", "reg.io/acme/app"));
        assert!(!matches("*/acme/*", "reg.io/acme/app/sub"));
        assert!(matches("*/acme/**", "reg.io/acme/app/sub"));
        assert!(matches("reg.io/ac*e/**", "reg.io/acme/x"));
        assert!(!matches("reg.io/ac*e/**", "reg.io/acmx/x"));
    }

    #[test]
    fn unsigned_defaults_to_refuse_only_where_a_key_is_trusted() {
        let mut p = Policy::default();
        p.add_key("reg.io/acme", KeyPair::generate().public(), "t")
            .unwrap();
        assert_eq!(p.unsigned_for("reg.io/acme/app"), Unsigned::Refuse);
        assert_eq!(p.unsigned_for("reg.io/other/app"), Unsigned::Warn);
        p.add_unsigned("reg.io/acme/dev", Unsigned::Allow).unwrap();
        assert_eq!(p.unsigned_for("reg.io/acme/dev/x"), Unsigned::Allow);
        assert_eq!(p.keys_for("reg.io/acme/app").len(), 1);
        assert!(p.keys_for("reg.io/x").is_empty());
        assert!(p.add_unsigned("a//b", Unsigned::Allow).is_err());
    }
}
