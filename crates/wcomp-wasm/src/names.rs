//! Interface names and versions, and the rule for which versions are compatible.

use semver::Version;
use std::fmt;
use wit_parser::{InterfaceId, Resolve};

/// `namespace:package/interface@version`, split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceName {
    pub namespace: String,
    pub package: String,
    pub interface: String,
    pub version: Option<Version>,
}

impl InterfaceName {
    /// The name of an interface that belongs to a package (inline interfaces have none).
    pub fn of(resolve: &Resolve, id: InterfaceId) -> Option<InterfaceName> {
        let iface = &resolve.interfaces[id];
        let pkg = &resolve.packages[iface.package?].name;
        Some(InterfaceName {
            namespace: pkg.namespace.clone(),
            package: pkg.name.clone(),
            interface: iface.name.clone()?,
            version: pkg.version.clone(),
        })
    }

    /// Parses `ns:pkg/iface` or `ns:pkg/iface@version`, as a component names an import or
    /// export of a package's interface. `None` for anything else (a plain name, nested
    /// namespaces or packages, a projection such as `ns:pkg/iface/x`, a bad version).
    pub fn parse(name: &str) -> Option<InterfaceName> {
        let (path, version) = match name.split_once('@') {
            Some((path, v)) => (path, Some(Version::parse(v).ok()?)),
            None => (name, None),
        };
        let (namespace, rest) = path.split_once(':')?;
        let (package, interface) = rest.split_once('/')?;
        let word = |w: &str| {
            !w.is_empty()
                && w.split('-')
                    .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric()))
        };
        (word(namespace) && word(package) && word(interface)).then(|| InterfaceName {
            namespace: namespace.to_string(),
            package: package.to_string(),
            interface: interface.to_string(),
            version,
        })
    }

    /// Same interface, ignoring the version.
    pub fn same_unversioned(&self, other: &InterfaceName) -> bool {
        self.namespace == other.namespace
            && self.package == other.package
            && self.interface == other.interface
    }

    /// The name without `@version`.
    pub fn unversioned(&self) -> String {
        format!("{}:{}/{}", self.namespace, self.package, self.interface)
    }
}

impl fmt::Display for InterfaceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.unversioned())?;
        if let Some(v) = &self.version {
            write!(f, "@{v}")?;
        }
        Ok(())
    }
}

/// How two versions of the same interface relate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionMatch {
    Exact,
    /// Different but semver-compatible: runtimes such as wasmtime link one to the other.
    Compatible,
    Incompatible,
}

/// Compares versions by the rule wasmtime's linker uses: versions are compatible when they
/// agree on the first non-zero component of major.minor (so `0.2.3` ~ `0.2.6`, `1.2` ~
/// `1.5`, but `0.1` !~ `0.2` and `0.0.1` only matches itself); pre-releases only match
/// exactly.
pub fn version_match(a: Option<&Version>, b: Option<&Version>) -> VersionMatch {
    match (a, b) {
        (None, None) => VersionMatch::Exact,
        (Some(a), Some(b)) if a == b => VersionMatch::Exact,
        (Some(a), Some(b)) => {
            if !a.pre.is_empty() || !b.pre.is_empty() {
                return VersionMatch::Incompatible;
            }
            let same_track = match (a.major, b.major) {
                (0, 0) => a.minor == b.minor && a.minor != 0,
                (x, y) => x == y,
            };
            if same_track {
                VersionMatch::Compatible
            } else {
                VersionMatch::Incompatible
            }
        }
        _ => VersionMatch::Incompatible,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn interface_names_parse_as_components_write_them() {
        let n = InterfaceName::parse("wasi:io/poll@0.2.6").unwrap();
        assert_eq!(
            (
                n.namespace.as_str(),
                n.package.as_str(),
                n.interface.as_str()
            ),
            ("wasi", "io", "poll")
        );
        assert_eq!(n.version, Some(v("0.2.6")));
        assert_eq!(n.to_string(), "wasi:io/poll@0.2.6");
        let n = InterfaceName::parse("example:db-adapter/sql-2").unwrap();
        assert_eq!((n.package.as_str(), n.version), ("db-adapter", None));
        for not in [
            "run",
            "wasi:io",
            "wasi:io/poll@x",
            "a:b:c/d",
            "a:b/c/d",
            "a:b/",
            "a:-b/c",
            "A:b/c d",
        ] {
            assert_eq!(InterfaceName::parse(not), None, "{not}");
        }
    }

    #[test]
    fn compatibility_follows_the_first_nonzero_component() {
        use VersionMatch::*;
        let cases = [
            ("0.2.3", "0.2.6", Compatible),
            ("0.2.6", "0.2.6", Exact),
            ("0.2.0", "0.3.0", Incompatible),
            ("0.1.0", "0.2.0", Incompatible),
            ("1.2.0", "1.5.1", Compatible),
            ("1.0.0", "2.0.0", Incompatible),
            ("0.0.1", "0.0.2", Incompatible),
            ("0.2.0-rc.1", "0.2.0", Incompatible),
        ];
        for (a, b, expected) in cases {
            assert_eq!(
                version_match(Some(&v(a)), Some(&v(b))),
                expected,
                "{a} vs {b}"
            );
        }
        assert_eq!(version_match(None, Some(&v("1.0.0"))), Incompatible);
    }
}
