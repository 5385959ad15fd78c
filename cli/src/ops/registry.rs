//! From what the user typed to a registry client: OCI references, wkg-style package names
//! resolved through the user config or `.well-known/wasm-pkg/registry.json`, credentials.

use super::userconfig::UserConfig;
use crate::env::REGISTRY as ENV_REGISTRY;
use anyhow::Result;
use std::path::Path;
use wcomp_oci::client::{Client, Options};
use wcomp_oci::reference::{PackageName, Reference};

/// Parses `host/repo[:tag][@digest]`, or resolves `ns:name@version`: the registry for
/// `ns` comes from `WCOMP_REGISTRY`, the config's `[registries]` (`ns`, then `default`),
/// and that host's `.well-known/wasm-pkg/registry.json` gives the namespace prefix.
pub async fn resolve(input: &str, cfg: &UserConfig) -> Result<Reference> {
    if let Some(pkg) = PackageName::parse(input) {
        return resolve_package(&pkg, None, cfg).await;
    }
    Ok(Reference::parse(input)?)
}

/// The OCI reference of a package version; `host` overrides the configured registry.
pub async fn resolve_package(
    pkg: &PackageName,
    host: Option<&str>,
    cfg: &UserConfig,
) -> Result<Reference> {
    let host = host
        .map(str::to_string)
        .or_else(|| std::env::var(ENV_REGISTRY).ok())
        .or_else(|| cfg.registries.get(&pkg.namespace).cloned())
        .or_else(|| cfg.registries.get("default").cloned())
        .ok_or_else(|| {
            super::HintedError::new(
                format!("no registry known for namespace `{}`", pkg.namespace),
                format!(
                    "set {ENV_REGISTRY}=<host>, or add `{} = \"<host>\"` under `[registries]` in config.toml",
                    pkg.namespace
                ),
            )
        })?;
    let (registry, prefix) = match wcomp_oci::reference::discover(&host).await {
        Ok(found) => (found.registry, found.namespace_prefix),
        // No discovery document: the host is the registry, no prefix (wkg's fallback).
        Err(_) => (host, String::new()),
    };
    Ok(pkg.to_reference(&registry, &prefix)?)
}

/// A client for `registry` with whatever credentials are configured.
pub fn client(registry: &str, dir: &Path, cfg: &UserConfig, insecure: bool) -> Client {
    let creds = wcomp_oci::auth::lookup(registry, dir).map(|(c, _)| c);
    let options = Options {
        insecure: insecure || cfg.insecure.iter().any(|h| h == registry),
        ..Options::default()
    };
    Client::new(registry, creds, options)
}

/// A current-thread runtime for one command.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}
