//! Repository patterns: the globs that grants, `anonymous_pull` and `[[namespaces]]` name
//! repositories with. `*` and `?` stay within one path segment, `**` crosses `/` (`a/**`
//! also matches `a`, `**/x` also matches `x`); everything else is literal.
//!
//! A pattern is translated once into an anchored regular expression ([`glob_to_regex`]).
//! PostgreSQL filters with that expression in its queries (`~`); everywhere else the
//! `regex` crate matches it, in time linear in the name however many `*` the pattern has.
//! One translation for both keeps the backends from disagreeing about what a grant covers.

use regex::Regex;
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

/// Compiled patterns kept for reuse: grant checks run on every request, and SQLite calls
/// [`glob_match`] per row. Bounded: emptied when full.
const MEMO_CAPACITY: usize = 1024;

/// Whether `name` matches the glob `pattern`. A pattern that does not compile (it cannot
/// come from the grammar above) matches nothing.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    compiled(pattern).is_some_and(|re| re.is_match(name))
}

fn compiled(pattern: &str) -> Option<Regex> {
    static MEMO: LazyLock<Mutex<HashMap<String, Regex>>> = LazyLock::new(Default::default);
    let mut memo = MEMO.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(re) = memo.get(pattern) {
        return Some(re.clone());
    }
    let re = Regex::new(&glob_to_regex(pattern)).ok()?;
    if memo.len() >= MEMO_CAPACITY {
        memo.clear();
    }
    memo.insert(pattern.to_string(), re.clone());
    Some(re)
}

/// A glob as an anchored POSIX-style regular expression, which both PostgreSQL's `~` and the
/// `regex` crate accept: `**` -> `.*` (with `a/**` also matching `a`, `**/x` also matching
/// `x`), `*` -> `[^/]*`, `?` -> `[^/]`, everything else literal.
pub fn glob_to_regex(pattern: &str) -> String {
    let mut out = String::from("^");
    let b = pattern.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if pattern[i..].starts_with("/**") && i + 3 == b.len() => {
                out += "(/.*)?";
                i += 3;
                continue;
            }
            b'*' if b.get(i + 1) == Some(&b'*') => {
                // `**/x` also matches `x`.
                if b.get(i + 2) == Some(&b'/') {
                    out += "(.*/)?";
                    i += 3;
                } else {
                    out += ".*";
                    i += 2;
                }
                continue;
            }
            b'*' => out += "[^/]*",
            b'?' => out += "[^/]",
            c if c.is_ascii_alphanumeric() || c == b'/' || c == b'_' => out.push(c as char),
            c => {
                out.push('\\');
                out.push(c as char);
            }
        }
        i += 1;
    }
    out.push('$');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("team/*", "team/a"));
        assert!(!glob_match("team/*", "team/a/b"));
        assert!(glob_match("team/**", "team/a/b"));
        assert!(glob_match("team/**", "team"));
        assert!(!glob_match("team/**", "teams/a"));
        assert!(glob_match("**", "anything/at/all"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "a/c"));
        assert!(!glob_match("team/*", "other/team/a"));
        assert!(glob_match("*/public", "x/public"));
        assert!(glob_match("**/public", "public"));
        assert!(glob_match("a/**/b", "a/b") && glob_match("a/**/b", "a/x/y/b"));
        assert!(glob_match("a.b-c", "a.b-c") && !glob_match("a.b-c", "axb-c"));
    }

    /// A pattern of many `*` against a long name that does not match: a backtracking
    /// matcher takes exponential time here; the compiled one is linear in the name.
    #[test]
    fn many_stars_cannot_blow_up() {
        let pattern = format!("{}b", "a*".repeat(40));
        let name = "a".repeat(4000);
        let started = std::time::Instant::now();
        assert!(!glob_match(&pattern, &name));
        assert!(glob_match(&pattern, &format!("{name}b")));
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn globs_translate_to_regexes() {
        assert_eq!(glob_to_regex("team/*"), "^team/[^/]*$");
        assert_eq!(glob_to_regex("team/**"), "^team(/.*)?$");
        assert_eq!(glob_to_regex("**/public"), "^(.*/)?public$");
        assert_eq!(glob_to_regex("a?c.d-e"), "^a[^/]c\\.d\\-e$");
        assert_eq!(glob_to_regex("**"), "^.*$");
    }
}
