//! References to artifacts in registries.

use crate::Error;
use wcomp_core::Digest;
use wcomp_core::reference::{valid_repository_name, valid_tag};

/// `host[:port]/repository[:tag][@<digest>]`, the repository and tag by the OCI
/// distribution spec's grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `host[:port]`.
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

fn bad(reference: &str, reason: impl Into<String>) -> Error {
    Error::Reference {
        reference: reference.to_string(),
        reason: reason.into(),
    }
}

impl Reference {
    pub fn parse(s: &str) -> Result<Reference, Error> {
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => (
                r,
                Some(d.parse::<Digest>().map_err(|e| bad(s, e.to_string()))?),
            ),
            None => (s, None),
        };
        let Some((registry, path)) = rest.split_once('/') else {
            return Err(bad(s, "expected `host[:port]/repository[:tag]`"));
        };
        let host_like = registry.contains('.') || registry.contains(':') || registry == "localhost";
        if !host_like {
            return Err(bad(
                s,
                format!(
                    "`{registry}` is not a registry host (add the host, e.g. `localhost:5000/{rest}`)"
                ),
            ));
        }
        let (repository, tag) = match path.rsplit_once(':') {
            Some((repo, tag)) => (repo, Some(tag.to_string())),
            None => (path, None),
        };
        if !valid_repository_name(repository) {
            return Err(bad(
                s,
                "repository names are lowercase letters and digits, in `/`-separated parts \
                 joined inside by `.`, `_`, `__` or dashes",
            ));
        }
        if let Some(t) = &tag
            && !valid_tag(t)
        {
            return Err(bad(s, format!("`{t}` is not a valid tag")));
        }
        Ok(Reference {
            registry: registry.to_string(),
            repository: repository.to_string(),
            tag,
            digest,
        })
    }

    /// `host/repository`: what trust patterns and cosign's `docker-reference` name.
    pub fn scope(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The tag or digest to ask the registry for (a digest wins; default `latest`).
    pub fn target(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_string(),
        }
    }

    pub fn with_digest(&self, d: &Digest) -> Reference {
        Reference {
            digest: Some(d.clone()),
            ..self.clone()
        }
    }
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// A wkg-style package name: `ns:name@version` (version optional).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageName {
    pub namespace: String,
    pub name: String,
    pub version: Option<String>,
}

impl PackageName {
    /// Parses `ns:name[@version]`; `None` when `s` is not in that form (so callers can
    /// try it as an OCI reference instead).
    pub fn parse(s: &str) -> Option<PackageName> {
        if s.contains('/') {
            return None;
        }
        let (pkg, version) = match s.split_once('@') {
            Some((p, v)) => (p, Some(v.to_string())),
            None => (s, None),
        };
        let (ns, name) = pkg.split_once(':')?;
        let ident = |x: &str| {
            !x.is_empty()
                && x.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        };
        if !ident(ns) || !ident(name) {
            return None;
        }
        if let Some(v) = &version {
            semver_like(v).then_some(())?;
        }
        Some(PackageName {
            namespace: ns.to_string(),
            name: name.to_string(),
            version,
        })
    }

    /// The OCI reference under `registry` with `prefix` (wkg: `<prefix><ns>/<name>:<version>`).
    pub fn to_reference(&self, registry: &str, prefix: &str) -> Result<Reference, Error> {
        let mut s = format!(
            "{registry}/{}{}/{}",
            prefix.trim_start_matches('/'),
            self.namespace,
            self.name
        );
        if let Some(v) = &self.version {
            s.push(':');
            s.push_str(&v.replace('+', "_"));
        }
        Reference::parse(&s)
    }
}

fn semver_like(v: &str) -> bool {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// What `/.well-known/wasm-pkg/registry.json` says about OCI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WasmPkgRegistry {
    pub registry: String,
    pub namespace_prefix: String,
}

/// Reads the wasm-pkg discovery document of `host` (plain http for loopback hosts).
pub async fn discover(host: &str) -> Result<WasmPkgRegistry, Error> {
    let url = format!(
        "{}://{host}/.well-known/wasm-pkg/registry.json",
        crate::client::scheme_for(host, false)
    );
    let resp = reqwest::get(&url).await.map_err(|source| Error::Http {
        url: url.clone(),
        source,
    })?;
    if !resp.status().is_success() {
        return Err(Error::Status {
            method: "GET".into(),
            url,
            status: resp.status().as_u16(),
            detail: None,
        });
    }
    let bytes = resp.bytes().await.map_err(|source| Error::Http {
        url: url.clone(),
        source,
    })?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| Error::Malformed {
        what: url.clone(),
        message: e.to_string(),
    })?;
    let oci = &v["oci"];
    let registry = oci["registry"].as_str().ok_or_else(|| Error::Malformed {
        what: url.clone(),
        message: "no `oci.registry`".into(),
    })?;
    Ok(WasmPkgRegistry {
        registry: registry.to_string(),
        namespace_prefix: oci["namespacePrefix"].as_str().unwrap_or("").to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_host_port_repo_tag_digest() {
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let r = Reference::parse(&format!("localhost:5000/acme/app:1.0@{d}")).unwrap();
        assert_eq!(r.registry, "localhost:5000");
        assert_eq!(r.repository, "acme/app");
        assert_eq!(r.tag.as_deref(), Some("1.0"));
        assert_eq!(r.target(), d);
        assert_eq!(r.to_string(), format!("localhost:5000/acme/app:1.0@{d}"));
        let r = Reference::parse("reg.io/a").unwrap();
        assert_eq!(r.target(), "latest");
        assert!(Reference::parse("acme/app:1").is_err());
        assert!(Reference::parse("reg.io/Acme").is_err());
        assert!(Reference::parse("reg.io/a:b@sha256:xyz").is_err());
        assert!(Reference::parse("reg.io/a:-x").is_err());
    }

    #[test]
    fn package_names_map_to_wkg_repositories() {
        let p = PackageName::parse("acme:app@1.2.0").unwrap();
        assert_eq!(
            p.to_reference("localhost:5000", "wasm/")
                .unwrap()
                .to_string(),
            "localhost:5000/wasm/acme/app:1.2.0"
        );
        assert!(PackageName::parse("localhost:5000/a").is_none());
        assert!(PackageName::parse("acme:app@latest").is_none());
        assert!(PackageName::parse("acme").is_none());
    }
}
