//! Repository names, tags and manifest references, by the grammar of the OCI distribution
//! spec. Everything a client sends the registry passes through these before it is used in a
//! path or a query, which keeps traversal attempts (`..`, `%2e`, `/`) out of storage.

use crate::digest::Digest;

/// Longest repository name, in bytes.
pub const MAX_REPOSITORY_LEN: usize = 255;
/// Longest tag, in bytes.
pub const MAX_TAG_LEN: usize = 128;

/// Repository names per the spec:
/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`, at most 255
/// bytes. `.` and `..` components cannot pass because a component must start and end with
/// `[a-z0-9]`.
pub fn valid_repository_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_REPOSITORY_LEN && name.split('/').all(valid_component)
}

fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: `.`, `_`, `__` or one or more `-`.
        let start = i;
        match b[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < b.len() && b[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < b.len() && b[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
        if i == start || i >= b.len() || !alnum(b[i]) {
            return false;
        }
    }
    true
}

/// Tags per the spec: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
pub fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_TAG_LEN
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b[1..]
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

/// Whether `s` has the form of a digest of any algorithm (`alg:encoded`), as the spec's
/// grammar says; such a reference is a digest that may be unsupported, never a tag.
pub fn looks_like_digest(s: &str) -> bool {
    s.contains(':')
}

/// What a manifest is asked for by: a tag or a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Tag(String),
    Digest(Digest),
}

impl Reference {
    /// `None` when the reference is neither a valid tag nor a supported digest.
    pub fn parse(s: &str) -> Option<Reference> {
        if looks_like_digest(s) {
            Digest::parse(s).map(Reference::Digest)
        } else if valid_tag(s) {
            Some(Reference::Tag(s.to_string()))
        } else {
            None
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Reference::Tag(t) => t,
            Reference::Digest(d) => d.as_str(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names_follow_the_spec_grammar() {
        for ok in [
            "a",
            "library/ubuntu",
            "a.b/c__d/e---f/g_h",
            "wasi/http-handler",
            "0x/9",
        ] {
            assert!(valid_repository_name(ok), "{ok}");
        }
        for bad in [
            "", "A", "a/", "/a", "a//b", "..", "a/../b", "a/./b", "a__-b", "a___b", "-a", "a-",
            "a.", "a%2e", "a b", "a\\b",
        ] {
            assert!(!valid_repository_name(bad), "{bad}");
        }
        assert!(!valid_repository_name(&"a".repeat(256)));
    }

    #[test]
    fn tags_follow_the_spec_grammar() {
        assert!(valid_tag("v1.0.0-rc_1"));
        assert!(valid_tag("_x"));
        assert!(!valid_tag(".hidden"));
        assert!(!valid_tag("-x"));
        assert!(!valid_tag(&"a".repeat(129)));
        assert!(!valid_tag("a/b"));
    }

    #[test]
    fn references_are_tags_or_supported_digests() {
        assert_eq!(Reference::parse("v1"), Some(Reference::Tag("v1".into())));
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(Reference::parse(&d).unwrap().as_str(), d);
        assert_eq!(Reference::parse("md5:00"), None);
        assert_eq!(Reference::parse("../x"), None);
    }
}
