//! WIT dependencies from registries: `[dependencies]` in `wcomp.toml`, fetched (pulled and
//! verified like `wcomp pull`) into `wit/deps/`, pinned in `wcomp.lock`, cached by digest.
//!
//! ```toml
//! [dependencies]
//! "wasi:io" = "0.2.6"                                          # exact version
//! "wasi:cli" = "^0.2"                                           # the newest 0.2.x
//! "acme:api" = { version = "1.0.0", registry = "localhost:5000" }
//! ```
//!
//! The layout of `wit/deps/` is wkg's, so one directory serves both tools: by default each
//! package, and every package it depends on, is printed as WIT into
//! `wit/deps/<ns>-<name>-<version>/package.wit` (`wkg wit fetch`); with `--type wasm`, the
//! package lands as `wit/deps/<ns>-<name>-<version>.wasm`, a WIT package encoded as wasm
//! (`wkg wit fetch --type wasm`). wit-parser reads both. `wcomp.lock` records, per package:
//! name, version, reference, manifest digest, layer digest and signer key id. The cache
//! (`$WCOMP_CACHE_DIR`, else the user cache dir + `/wcomp`) holds layers by digest under
//! `blobs/sha256/<hex>`.

use super::EnvironmentError;
use super::pull;
use super::registry;
use super::userconfig::{self, UserConfig};
use crate::env::CACHE_DIR as ENV_CACHE_DIR;
use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use wcomp_core::Digest;
use wcomp_oci::reference::{PackageName, Reference};

pub const LOCK_FILE: &str = "wcomp.lock";

#[derive(Debug, Deserialize)]
struct ProjectFile {
    #[serde(default)]
    dependencies: BTreeMap<String, DepSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum DepSpec {
    Version(String),
    Detailed {
        version: String,
        #[serde(default)]
        registry: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Locked {
    pub name: String,
    pub version: String,
    pub reference: String,
    pub manifest: String,
    pub layer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct LockFile {
    pub version: u32,
    #[serde(default, rename = "package")]
    pub packages: Vec<Locked>,
}

/// The lock was going to change under `--locked`, or a dependency is missing under
/// `--offline`: the operation ran and said no (exit 1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LockError(pub String);

/// How fetched packages are written into `wit/deps/` (wkg's two layouts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Layout {
    /// `<ns>-<name>-<version>/package.wit` for the package and each of its dependencies.
    #[default]
    Wit,
    /// `<ns>-<name>-<version>.wasm`, the package encoded as wasm.
    Wasm,
}

pub struct Options {
    pub project: PathBuf,
    pub layout: Layout,
    pub locked: bool,
    pub offline: bool,
    pub insecure: bool,
}

#[derive(Serialize)]
pub struct Fetched {
    pub schema: u32,
    pub packages: Vec<FetchedPackage>,
    pub lock_changed: bool,
}

#[derive(Serialize)]
pub struct FetchedPackage {
    #[serde(flatten)]
    pub locked: Locked,
    pub path: String,
    /// `cache` or `registry`.
    pub from: &'static str,
}

pub fn cache_dir() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os(ENV_CACHE_DIR) {
        return Ok(PathBuf::from(d));
    }
    dirs::cache_dir().map(|d| d.join("wcomp")).ok_or_else(|| {
        EnvironmentError(format!(
            "no user cache directory on this machine; set {ENV_CACHE_DIR}"
        ))
        .into()
    })
}

fn blob_path(cache: &Path, digest: &str) -> Result<PathBuf> {
    let d: Digest = digest.parse()?;
    Ok(cache.join("blobs/sha256").join(d.hex()))
}

pub fn fetch(opts: &Options) -> Result<Fetched> {
    let manifest_path = opts.project.join("wcomp.toml");
    let text =
        fs_err::read_to_string(&manifest_path).map_err(|e| EnvironmentError(e.to_string()))?;
    let file: ProjectFile =
        toml::from_str(&text).context("failed to parse `[dependencies]` in wcomp.toml")?;
    let lock_path = opts.project.join(LOCK_FILE);
    let old_lock: LockFile = match fs_err::read_to_string(&lock_path) {
        Ok(t) => toml::from_str(&t)
            .with_context(|| format!("failed to parse `{}`", lock_path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => LockFile {
            version: 1,
            packages: Vec::new(),
        },
        Err(e) => return Err(e.into()),
    };
    let cache = cache_dir()?;
    let dir = userconfig::config_dir()?;
    let cfg = UserConfig::load(&dir)?;
    let deps_dir = opts.project.join("wit/deps");
    let mut out = Vec::new();
    let mut new_lock = LockFile {
        version: 1,
        packages: Vec::new(),
    };
    for (name, spec) in &file.dependencies {
        let (version, host) = match spec {
            DepSpec::Version(v) => (v.clone(), None),
            DepSpec::Detailed { version, registry } => (version.clone(), registry.clone()),
        };
        // An exact `x.y.z`, or a requirement such as `^1.2` or `>=1.0, <2` (Cargo's syntax,
        // as wkg takes it), resolved to the newest published version that meets it.
        let wanted = Wanted::parse(name, &version)?;
        let pinned = old_lock
            .packages
            .iter()
            .find(|l| l.name == *name && wanted.accepts(&l.version))
            .cloned();
        if opts.locked && pinned.is_none() {
            return Err(LockError(format!(
                "`{name}` {} is not in {LOCK_FILE}, and --locked forbids changing it; run `wcomp wit fetch` without --locked",
                wanted.describe()
            ))
            .into());
        }
        let version = match (&pinned, &wanted) {
            (Some(l), _) => l.version.clone(),
            (None, Wanted::Exact(v)) => v.to_string(),
            (None, Wanted::Range(req)) if opts.offline => {
                return Err(LockError(format!(
                    "`{name}` {req} is not pinned in {LOCK_FILE}, and --offline forbids asking the registry which versions exist"
                ))
                .into());
            }
            (None, Wanted::Range(req)) => {
                newest_matching(name, req, host.as_deref(), (&dir, &cfg), opts.insecure)?
            }
        };
        let pkg = PackageName::parse(&format!("{name}@{version}")).ok_or_else(|| {
            EnvironmentError(format!(
                "dependency `{name}` = `{version}`: expected `ns:name` and a version"
            ))
        })?;
        let (locked, from) = match (&pinned, opts.offline) {
            (Some(l), _) if blob_path(&cache, &l.layer)?.is_file() => (l.clone(), "cache"),
            (_, true) => {
                return Err(LockError(format!(
                    "`{name}@{version}` is not in the local cache ({}), and --offline forbids the registry",
                    cache.display()
                ))
                .into());
            }
            (pin, false) => {
                let rt = registry::runtime()?;
                let reference = match pin {
                    Some(l) => Reference::parse(&l.reference)?,
                    None => rt.block_on(registry::resolve_package(&pkg, host.as_deref(), &cfg))?,
                };
                // Pinned packages are pulled by the locked manifest digest.
                let target = match pin {
                    Some(l) => reference.with_digest(&l.manifest.parse()?),
                    None => reference.clone(),
                };
                let staging = cache.join("tmp");
                fs_err::create_dir_all(&staging)?;
                let tmp = staging.join(format!("{}-{}-{version}.wasm", pkg.namespace, pkg.name));
                let pulled = pull::run(
                    pull::Options {
                        reference: target.to_string(),
                        output: Some(Some(tmp.clone())),
                        key: None,
                        skip_verify: false,
                        insecure: opts.insecure,
                    },
                    &wcomp_oci::Quiet,
                )?;
                let blob = blob_path(&cache, &pulled.layer_digest)?;
                fs_err::create_dir_all(blob.parent().expect("blob paths have a parent"))?;
                fs_err::rename(&tmp, &blob)?;
                let signer = pulled
                    .verification
                    .as_ref()
                    .and_then(|v| v.signers.first())
                    .map(|s| s.key_id.clone());
                (
                    Locked {
                        name: name.clone(),
                        version: version.clone(),
                        reference: reference.to_string(),
                        manifest: pulled.manifest_digest,
                        layer: pulled.layer_digest,
                        signer,
                    },
                    "registry",
                )
            }
        };
        // The cached bytes are checked again before they are used.
        let bytes = fs_err::read(blob_path(&cache, &locked.layer)?)?;
        if Digest::sha256(&bytes).to_string() != locked.layer {
            bail!(
                "the cached copy of `{name}@{version}` is corrupt; delete {} and fetch again",
                cache.display()
            );
        }
        fs_err::create_dir_all(&deps_dir)?;
        // The package in the other layout, from an earlier fetch, would define it twice.
        let as_wasm = deps_dir.join(format!("{}.wasm", dir_name(&pkg)));
        let as_wit = deps_dir.join(dir_name(&pkg));
        let dest = match opts.layout {
            Layout::Wasm => {
                super::atomic::write(&as_wasm, &bytes)?;
                if as_wit.join("package.wit").is_file() {
                    fs_err::remove_dir_all(&as_wit)?;
                }
                as_wasm
            }
            Layout::Wit => {
                let dest = write_wit(&deps_dir, name, &bytes)?;
                if as_wasm.is_file() {
                    fs_err::remove_file(&as_wasm)?;
                }
                dest
            }
        };
        new_lock.packages.push(locked.clone());
        out.push(FetchedPackage {
            locked,
            path: dest.display().to_string(),
            from,
        });
    }
    let changed = new_lock.packages != old_lock.packages;
    if changed {
        if opts.locked {
            return Err(LockError(format!(
                "{LOCK_FILE} would change (dependencies were added, removed or re-resolved), and --locked forbids it"
            ))
            .into());
        }
        let text = format!(
            "# Written by `wcomp wit fetch`; pins every WIT dependency. Commit it.\n{}",
            toml::to_string_pretty(&new_lock).context("failed to encode wcomp.lock")?
        );
        super::atomic::write(&lock_path, text.as_bytes())?;
    }
    Ok(Fetched {
        schema: 1,
        packages: out,
        lock_changed: changed,
    })
}

/// `ns:name@1.2.3` as wkg names its file or directory in `deps/`: `ns-name-1.2.3`.
fn dir_name(pkg: &PackageName) -> String {
    match &pkg.version {
        Some(v) => format!("{}-{}-{v}", pkg.namespace, pkg.name),
        None => format!("{}-{}", pkg.namespace, pkg.name),
    }
}

/// Prints the WIT package in `bytes`, and each package it depends on, as
/// `deps/<ns>-<name>-<version>/package.wit`; returns the package's own directory. A
/// dependency shared by several packages is written once per fetch, identically.
fn write_wit(deps_dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf> {
    let (resolve, top) = match wcomp_wasm::component::decode(bytes)? {
        wcomp_wasm::component::Decoded::WitPackage(resolve, pkg) => (resolve, pkg),
        wcomp_wasm::component::Decoded::Component(_) => {
            bail!("`{name}` is a component, not a WIT package; `[dependencies]` takes WIT packages")
        }
    };
    let mut own = None;
    for (id, package) in resolve.packages.iter() {
        let mut printer = wit_component::WitPrinter::default();
        printer
            .print(&resolve, id, &[])
            .with_context(|| format!("printing the WIT of `{}`", package.name))?;
        let n = &package.name;
        let dir = deps_dir.join(dir_name(&PackageName {
            namespace: n.namespace.clone(),
            name: n.name.clone(),
            version: n.version.as_ref().map(|v| v.to_string()),
        }));
        fs_err::create_dir_all(&dir)?;
        super::atomic::write(
            &dir.join("package.wit"),
            printer.output.to_string().as_bytes(),
        )?;
        if id == top {
            own = Some(dir);
        }
    }
    Ok(own.expect("the decoded package is in its resolve"))
}

/// What a `[dependencies]` entry asks for.
enum Wanted {
    Exact(semver::Version),
    Range(semver::VersionReq),
}

impl Wanted {
    fn parse(name: &str, text: &str) -> Result<Wanted> {
        if let Ok(v) = semver::Version::parse(text) {
            return Ok(Wanted::Exact(v));
        }
        match semver::VersionReq::parse(text) {
            Ok(req) => Ok(Wanted::Range(req)),
            Err(e) => Err(EnvironmentError(format!(
                "dependency `{name}` = `{text}`: not a version (`1.2.3`) or a requirement (`^1.2`, `>=1.0, <2`): {e}"
            ))
            .into()),
        }
    }

    fn accepts(&self, version: &str) -> bool {
        match (self, semver::Version::parse(version)) {
            (Wanted::Exact(v), Ok(found)) => *v == found,
            (Wanted::Range(req), Ok(found)) => req.matches(&found),
            (_, Err(_)) => false,
        }
    }

    fn describe(&self) -> String {
        match self {
            Wanted::Exact(v) => format!("@{v}"),
            Wanted::Range(req) => req.to_string(),
        }
    }
}

/// The newest version of package `name` in its registry that `req` accepts: the tags of
/// its repository that are versions (OCI tags spell `+` as `_`).
fn newest_matching(
    name: &str,
    req: &semver::VersionReq,
    host: Option<&str>,
    (dir, cfg): (&Path, &UserConfig),
    insecure: bool,
) -> Result<String> {
    let pkg = PackageName::parse(name)
        .ok_or_else(|| EnvironmentError(format!("dependency `{name}`: expected `ns:name`")))?;
    let rt = registry::runtime()?;
    let reference = rt.block_on(registry::resolve_package(&pkg, host, cfg))?;
    let client = registry::client(&reference.registry, dir, cfg, insecure);
    let tags = rt
        .block_on(client.tags(&reference.repository))
        .with_context(|| format!("listing the versions of `{name}` in {}", reference.registry))?;
    let mut versions: Vec<semver::Version> = tags
        .iter()
        .filter_map(|t| semver::Version::parse(&t.replace('_', "+")).ok())
        .collect();
    versions.sort();
    match versions.iter().rev().find(|v| req.matches(v)) {
        Some(v) => Ok(v.to_string()),
        None => Err(LockError(format!(
            "no published version of `{name}` meets `{req}` (in {}/{}: {})",
            reference.registry,
            reference.repository,
            if versions.is_empty() {
                "no versions".to_string()
            } else {
                versions
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ))
        .into()),
    }
}
