//! Repository patterns: the globs that grants, `anonymous_pull` and `[[namespaces]]` name
//! repositories with. `*` and `?` stay within one path segment, `**` crosses `/` (`a/**`
//! also matches `a`, `**/x` also matches `x`).

/// Glob matching for grant patterns: `*` and `?` stay within one path segment, `**` crosses
/// `/`. Hand-written because it is twenty lines and grant checks run on every request.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some(b'*') if p.get(1) == Some(&b'*') => {
                let rest = &p[2..];
                // `**/x` also matches `x`.
                let rest_alt = rest.strip_prefix(b"/").unwrap_or(rest);
                (0..=n.len()).any(|i| go(rest, &n[i..])) || go(rest_alt, n)
            }
            Some(b'*') => {
                let mut i = 0;
                loop {
                    if go(&p[1..], &n[i..]) {
                        return true;
                    }
                    if i >= n.len() || n[i] == b'/' {
                        return false;
                    }
                    i += 1;
                }
            }
            Some(b'?') => !n.is_empty() && n[0] != b'/' && go(&p[1..], &n[1..]),
            // `a/**` also matches `a` itself.
            Some(b'/') if n.is_empty() && p.starts_with(b"/**") => go(&p[3..], n),
            Some(&c) => n.first() == Some(&c) && go(&p[1..], &n[1..]),
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

/// A glob of [`glob_match`] as an anchored POSIX regular expression, for metadata backends
/// that filter in their query (PostgreSQL's `~`): `**` -> `.*` (with `a/**` also matching
/// `a`), `*` -> `[^/]*`, `?` -> `[^/]`, everything else literal.
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
