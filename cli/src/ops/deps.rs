//! WIT dependencies from registries: `[dependencies]` in `wcomp.toml`, fetched (pulled and
//! verified like `wcomp pull`) into `wit/deps/`, pinned in `wcomp.lock`, cached by digest.
//!
//! ```toml
//! [dependencies]
//! "wasi:io" = "0.2.6"                                          # exact version
//! "acme:api" = { version = "1.0.0", registry = "localhost:5000" }
//! ```
//!
//! Each package lands in `wit/deps/<ns>-<name>-<version>.wasm` (a WIT package encoded
//! as wasm, which wit-parser reads from `deps/`). `wcomp.lock` records, per package:
//! name, version, reference, manifest digest, layer digest and signer key id. The cache
//! (`$WCOMP_CACHE_DIR`, else the user cache dir + `/wcomp`) holds layers by digest under
//! `blobs/sha256/<hex>`.

use super::EnvironmentError;
use super::pull;
use super::registry;
use super::userconfig::{self, UserConfig};
use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use wcomp_core::Digest;
use wcomp_oci::reference::{PackageName, Reference};

pub const ENV_CACHE_DIR: &str = "WCOMP_CACHE_DIR";
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

pub struct Options {
    pub project: PathBuf,
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
        let pkg = PackageName::parse(&format!("{name}@{version}")).ok_or_else(|| {
            EnvironmentError(format!(
                "dependency `{name}` = `{version}`: expected `ns:name` and an exact `x.y.z` version"
            ))
        })?;
        let pinned = old_lock
            .packages
            .iter()
            .find(|l| l.name == *name && l.version == version)
            .cloned();
        if opts.locked && pinned.is_none() {
            return Err(LockError(format!(
                "`{name}@{version}` is not in {LOCK_FILE}, and --locked forbids changing it; run `wcomp wit fetch` without --locked"
            ))
            .into());
        }
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
        let dest = deps_dir.join(format!("{}-{}-{version}.wasm", pkg.namespace, pkg.name));
        let tmp = deps_dir.join(format!(
            ".{}-{}-{version}.wasm.tmp",
            pkg.namespace, pkg.name
        ));
        fs_err::write(&tmp, &bytes)?;
        fs_err::rename(&tmp, &dest)?;
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
        let tmp = opts.project.join(".wcomp.lock.tmp");
        fs_err::write(&tmp, text)?;
        fs_err::rename(&tmp, &lock_path)?;
    }
    Ok(Fetched {
        schema: 1,
        packages: out,
        lock_changed: changed,
    })
}
