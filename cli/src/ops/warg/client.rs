//! The warg half of publish and pull. warg-client keeps each registry's package logs and
//! a content cache in `<cache dir>/warg/<host>/` and verifies what it fetches: the
//! operator log, checkpoint signatures, consistency and inclusion proofs, each package
//! record's signature and permissions, and content digests. wcomp adds what warg leaves to
//! the user: whether the key that signed a release is one the trust policy trusts.

use super::SCHEME;
use crate::ops::publish::{self, Artifact};
use crate::ops::userconfig::{self, UserConfig};
use crate::ops::verify::{Failure, Keys};
use crate::ops::{EnvironmentError, HintedError, deps, registry};
use anyhow::{Context as _, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;
use warg_client::storage::{
    ContentStorage as _, FileSystemContentStorage, FileSystemNamespaceMapStorage,
    FileSystemRegistryStorage, PublishEntry, PublishInfo,
};
use warg_client::{ClientError, FileSystemClient};
use warg_crypto::signing;
use warg_protocol::package::Permission;
use warg_protocol::registry::PackageName;
use wcomp_trust::PublicKey;
use wcomp_trust::policy::Unsigned;

/// The registry said no, the package or version is not there, or what it sent failed
/// warg's checks (exit 1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// A parsed `warg://host[:port]/ns:name[@version]`.
#[derive(Debug, Clone)]
pub struct WargRef {
    /// `host[:port]`.
    pub host: String,
    pub package: PackageName,
    pub version: Option<semver::Version>,
}

impl WargRef {
    pub fn parse(input: &str) -> Result<WargRef> {
        let bad = |why: &str| -> anyhow::Error {
            HintedError::new(
                format!("`{input}` is not a warg reference: {why}"),
                "write `warg://host[:port]/namespace:name@1.2.3`",
            )
            .into()
        };
        let rest = input
            .strip_prefix(SCHEME)
            .ok_or_else(|| bad("it does not start with warg://"))?;
        let (host, pkg) = rest
            .split_once('/')
            .ok_or_else(|| bad("no package after the host"))?;
        if host.is_empty() || host.contains(['@', '?', '#']) {
            return Err(bad("no usable host"));
        }
        let (name, version) = match pkg.split_once('@') {
            Some((n, v)) => {
                let v = semver::Version::parse(v)
                    .map_err(|e| bad(&format!("version `{v}` is not semver ({e})")))?;
                (n, Some(v))
            }
            None => (pkg, None),
        };
        let package = PackageName::new(name.to_string()).map_err(|e| bad(&e.to_string()))?;
        Ok(WargRef {
            host: host.to_string(),
            package,
            version,
        })
    }

    /// The trust-policy scope: `host[:port]/ns/name`, as an OCI repository would be named.
    pub fn scope(&self) -> String {
        format!(
            "{}/{}/{}",
            self.host,
            self.package.namespace(),
            self.package.name()
        )
    }

    fn with_version(&self, v: &semver::Version) -> String {
        format!("{SCHEME}{}/{}@{v}", self.host, self.package)
    }
}

impl std::fmt::Display for WargRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.version {
            Some(v) => f.write_str(&self.with_version(v)),
            None => write!(f, "{SCHEME}{}/{}", self.host, self.package),
        }
    }
}

/// A warg-client for `host` with storage under wcomp's cache. Plain http exactly where the
/// OCI client uses it (loopback, `--insecure`, the config's `insecure` list); warg-client
/// itself refuses plain http to anything but loopback.
fn open(r: &WargRef, cfg: &UserConfig, insecure: bool) -> Result<(FileSystemClient, String)> {
    let insecure = insecure || cfg.insecure.iter().any(|h| h == &r.host);
    let scheme = wcomp_oci::client::scheme_for(&r.host, insecure);
    let url = format!("{scheme}://{}", r.host);
    let label: String = r
        .host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let dir = deps::cache_dir()?.join("warg").join(label);
    fs_err::create_dir_all(&dir)?;
    let client = FileSystemClient::new(
        url.as_str(),
        FileSystemRegistryStorage::lock(dir.join("registries"))?,
        FileSystemContentStorage::lock(dir.join("content"))?,
        FileSystemNamespaceMapStorage::new(dir.join("namespaces.json")),
        None,
        // wcomp talks to exactly the registry named: no federation, no prompts, no keyring.
        true,
        true,
        true,
        true,
        None,
        Default::default(),
    )
    .map_err(|e| {
        EnvironmentError(format!(
            "cannot use {url} as a warg registry: {}",
            error_text(&e)
        ))
    })?;
    Ok((client, url))
}

/// warg-client's `Other` errors print with `{:?}`; show their chain plainly.
fn error_text(e: &ClientError) -> String {
    match e {
        ClientError::Other(a) => format!("{a:#}"),
        e => e.to_string(),
    }
}

/// Sorts warg-client's errors into exit codes: unreachable registry 2 (with a hint), a
/// refusal or failed check 1, anything else 2.
fn classify(e: ClientError, url: &str, what: &str) -> anyhow::Error {
    use warg_client::api::ClientError as Api;
    let text = error_text(&e);
    match e {
        ClientError::Api(Api::Communication(_)) => HintedError::new(
            format!("cannot reach the warg registry at {url} ({what}): {text}"),
            "check the host and port, and that the registry is running",
        )
        .into(),
        ClientError::PackageDoesNotExist { .. }
        | ClientError::PackageDoesNotExistWithHintHeader { .. }
        | ClientError::PackageVersionDoesNotExist { .. }
        | ClientError::PackageVersionRequirementDoesNotExist { .. }
        | ClientError::PublishRejected { .. }
        | ClientError::Unauthorized(_)
        | ClientError::CannotInitializePackage { .. }
        | ClientError::MustInitializePackage { .. }
        | ClientError::ConflictPendingPublish { .. }
        | ClientError::PackageMissingContent
        | ClientError::InvalidCheckpointSignature
        | ClientError::InvalidCheckpointKeyId { .. }
        | ClientError::NoOperatorRecords
        | ClientError::OperatorValidationFailed { .. }
        | ClientError::PackageValidationFailed { .. }
        | ClientError::IncorrectContent { .. }
        | ClientError::PackageLogEmpty { .. }
        | ClientError::CheckpointLogLengthRewind { .. }
        | ClientError::CheckpointChangedLogRootOrMapRoot { .. }
        | ClientError::Api(_) => Refused(format!("{what}: {text}")).into(),
        _ => anyhow::anyhow!("{what}: {text}"),
    }
}

/// A wcomp key as a warg signing key (both are P-256).
fn warg_key(key: &wcomp_trust::KeyPair) -> signing::PrivateKey {
    signing::PrivateKey::from(key.ecdsa_p256().clone())
}

fn warg_key_id(key: &PublicKey) -> signing::KeyID {
    signing::PublicKey::from(*key.ecdsa_p256()).fingerprint()
}

fn wcomp_key(key: &signing::PublicKey) -> PublicKey {
    match key {
        signing::PublicKey::EcdsaP256(k) => PublicKey::from_ecdsa_p256(*k),
    }
}

#[derive(Serialize)]
pub struct Published {
    pub schema: u32,
    pub reference: String,
    pub registry: String,
    pub package: String,
    pub version: String,
    pub kind: &'static str,
    pub size: u64,
    pub content_digest: String,
    pub record_id: String,
    /// The package log was created by this publish (its first record grants the key).
    pub initialized: bool,
    /// The wcomp key id (sha256 of the SPKI) and warg's id for the same key.
    pub key_id: String,
    pub warg_key_id: String,
}

pub fn publish(opts: &publish::Options) -> Result<Published> {
    let r = WargRef::parse(&opts.reference)?;
    let version = r.version.clone().ok_or_else(|| {
        HintedError::new(
            format!("`{}` has no version", opts.reference),
            format!("publish a version: `{r}@1.0.0`"),
        )
    })?;
    if opts.no_sign {
        return Err(EnvironmentError(
            "a warg registry accepts only signed records; publish to it without --no-sign".into(),
        )
        .into());
    }
    if !opts.annotations.is_empty() {
        return Err(EnvironmentError(
            "a warg release has no annotations; --annotation works only with OCI registries".into(),
        )
        .into());
    }
    let Artifact { bytes, kind, .. } = publish::read_input(&opts.input)?;
    let dir = userconfig::config_dir()?;
    let cfg = UserConfig::load(&dir)?;
    let (key, _label) = userconfig::load_signing_key(&dir, &cfg, opts.key.as_deref())?;
    let public = key.public();
    let signing_key = warg_key(&key);
    let warg_id = signing_key.public_key().fingerprint();
    let (client, url) = open(&r, &cfg, opts.insecure)?;
    let size = bytes.len() as u64;
    let rt = registry::runtime()?;
    rt.block_on(async {
        // The log as it is now: whether to create it, and whether this key may release.
        let initialized = match client.fetch_package(&r.package).await {
            Ok(info) => {
                if info.state.release(&version).is_some() {
                    return Err(Refused(format!(
                        "{r} already exists; warg releases are immutable, publish a new version"
                    ))
                    .into());
                }
                let may = info
                    .state
                    .key_permissions(&warg_id)
                    .is_some_and(|p| p.contains(&Permission::Release));
                if !may {
                    return Err(Refused(format!(
                        "key {} (warg {warg_id}) may not release {}: the package log grants release to other keys",
                        public.key_id(),
                        r.package
                    ))
                    .into());
                }
                false
            }
            Err(ClientError::PackageDoesNotExist { .. }) => true,
            Err(e) => return Err(classify(e, &url, "failed to read the package log")),
        };
        let content = client
            .content()
            .store_content(
                Box::pin(futures_util::stream::iter([Ok::<_, anyhow::Error>(
                    ::bytes::Bytes::from(bytes),
                )])),
                None,
            )
            .await
            .context("failed to stage the content in the warg cache")?;
        let mut entries = Vec::new();
        if initialized {
            entries.push(PublishEntry::Init);
        }
        entries.push(PublishEntry::Release {
            version: version.clone(),
            content: content.clone(),
        });
        let info = PublishInfo {
            name: r.package.clone(),
            head: None,
            entries,
        };
        let record_id = client
            .publish_with_info(&signing_key, info)
            .await
            .map_err(|e| classify(e, &url, "publish failed"))?;
        client
            .wait_for_publish(&r.package, &record_id, Duration::from_millis(200))
            .await
            .map_err(|e| classify(e, &url, "the registry did not accept the release"))?;
        Ok(Published {
            schema: 1,
            reference: r.with_version(&version),
            registry: url.clone(),
            package: r.package.to_string(),
            version: version.to_string(),
            kind,
            size,
            content_digest: content.to_string(),
            record_id: record_id.to_string(),
            initialized,
            key_id: public.key_id(),
            warg_key_id: warg_id.to_string(),
        })
    })
}

#[derive(Serialize)]
pub struct Signer {
    pub key_id: String,
    pub warg_key_id: String,
    /// Why the key is trusted (`--key <path>` or `<pattern> (<file>)`); absent when no
    /// key is trusted for the package or checks were skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trusted_as: Option<String>,
}

#[derive(Serialize)]
pub struct Pulled {
    pub schema: u32,
    pub reference: String,
    pub registry: String,
    pub package: String,
    pub version: String,
    pub size: u64,
    pub content_digest: String,
    pub output: String,
    pub signer: Signer,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Checks skipped with `--insecure-skip-verify`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<&'static str>,
}

pub struct PullOptions {
    pub reference: String,
    pub output: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub skip_verify: bool,
    pub insecure: bool,
}

pub fn pull(opts: &PullOptions) -> Result<Pulled> {
    let r = WargRef::parse(&opts.reference)?;
    let dir = userconfig::config_dir()?;
    let cfg = UserConfig::load(&dir)?;
    let keys = Keys::load(&dir, &cfg, opts.key.as_deref())?;
    let (client, url) = open(&r, &cfg, opts.insecure)?;
    let target = opts
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.wasm", r.package.name())));
    let rt = registry::runtime()?;
    rt.block_on(async {
        // Always from the registry, not the stored log: "newest" must mean newest now.
        let info = client
            .fetch_package(&r.package)
            .await
            .map_err(|e| classify(e, &url, &format!("cannot pull {r}")))?;
        let release = match &r.version {
            Some(v) => info.state.release(v).filter(|rel| !rel.yanked()).ok_or_else(|| {
                Refused(format!(
                    "{r} does not exist (or was yanked); released: {}",
                    released(&info.state)
                ))
            })?,
            None => info
                .state
                .find_latest_release(&semver::VersionReq::STAR)
                .ok_or_else(|| Refused(format!("{r} has no releases")))?,
        };
        let version = release.version.clone();
        let shown = r.with_version(&version);
        let signer_warg = release.by.clone();
        let signer_key = info
            .state
            .public_key(&signer_warg)
            .map(wcomp_key)
            .ok_or_else(|| {
                Refused(format!(
                    "the package log of {r} does not know the key {signer_warg} that signed {version}"
                ))
            })?;
        let download = client
            .download_exact(&r.package, &version)
            .await
            .map_err(|e| classify(e, &url, &format!("cannot download {shown}")))?;

        // The cached file is checked again against the log's digest: the cache is ours
        // to trust only as far as a hash goes.
        let bytes = fs_err::read(&download.path)?;
        let actual = format!("sha256:{}", hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)));
        if actual != download.digest.to_string() {
            let _ = fs_err::remove_file(&download.path);
            return Err(Failure::DigestMismatch {
                reference: shown,
                what: "content".into(),
                expected: download.digest.to_string(),
                actual,
            }
            .into());
        }

        let mut out = Pulled {
            schema: 1,
            reference: shown.clone(),
            registry: url.clone(),
            package: r.package.to_string(),
            version: version.to_string(),
            size: bytes.len() as u64,
            content_digest: download.digest.to_string(),
            output: target.display().to_string(),
            signer: Signer {
                key_id: signer_key.key_id(),
                warg_key_id: signer_warg.to_string(),
                trusted_as: None,
            },
            warnings: Vec::new(),
            skipped: Vec::new(),
        };
        if opts.skip_verify {
            out.skipped = vec!["trust-policy"];
        } else {
            check_signer(&r, &shown, &signer_key, &keys, &mut out)?;
        }
        write(&target, &bytes)?;
        Ok(out)
    })
}

fn released(state: &warg_protocol::package::LogState) -> String {
    let v: Vec<String> = state
        .releases()
        .filter(|r| !r.yanked())
        .map(|r| r.version.to_string())
        .collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// The warg log proves which key signed the release; the policy says whether that key is
/// one the user trusts for this package.
fn check_signer(
    r: &WargRef,
    shown: &str,
    signer: &PublicKey,
    keys: &Keys,
    out: &mut Pulled,
) -> Result<()> {
    let scope = r.scope();
    let signed_by = format!("key {} (warg {})", signer.key_id(), warg_key_id(signer));
    match keys {
        Keys::Exactly { key, path } => {
            if key == signer {
                out.signer.trusted_as = Some(format!("--key {path}"));
                return Ok(());
            }
            Err(Failure::UnknownKey {
                reference: shown.to_string(),
                signers: signed_by,
                expected: format!("not by the key given with --key ({path}, {})", key.key_id()),
            }
            .into())
        }
        Keys::Policy(p) => {
            let candidates = p.keys_for(&scope);
            if let Some(t) = candidates.iter().find(|t| &t.key == signer) {
                out.signer.trusted_as = Some(format!("{} ({})", t.pattern, t.origin));
                return Ok(());
            }
            if !candidates.is_empty() {
                return Err(Failure::UnknownKey {
                    reference: shown.to_string(),
                    signers: signed_by,
                    expected: format!(
                        "none of the {} key(s) trusted for {scope} is that key",
                        candidates.len()
                    ),
                }
                .into());
            }
            match p.unsigned_for(&scope) {
                Unsigned::Refuse => Err(Failure::UnknownKey {
                    reference: shown.to_string(),
                    signers: signed_by,
                    expected: format!(
                        "no key is trusted for {scope} and the policy refuses unverified packages there"
                    ),
                }
                .into()),
                Unsigned::Warn => {
                    out.warnings.push(format!(
                        "{shown} is signed by {signed_by}, but no key is trusted for {scope}, so the publisher was NOT checked (`wcomp key trust <key.pub> --for {scope}`)"
                    ));
                    Ok(())
                }
                Unsigned::Allow => Ok(()),
            }
        }
    }
}

/// Into a temporary file beside the target, renamed only now that every check passed.
fn write(target: &Path, bytes: &[u8]) -> Result<()> {
    crate::ops::atomic::write(target, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_with_and_without_a_version() {
        let r = WargRef::parse("warg://127.0.0.1:8090/acme:app@1.2.0").unwrap();
        assert_eq!(r.host, "127.0.0.1:8090");
        assert_eq!(r.package.to_string(), "acme:app");
        assert_eq!(r.version.unwrap().to_string(), "1.2.0");
        let r = WargRef::parse("warg://reg.example.com/acme:app").unwrap();
        assert!(r.version.is_none());
        assert_eq!(r.scope(), "reg.example.com/acme/app");
        for bad in [
            "warg://",
            "warg://host",
            "warg:///acme:app",
            "warg://host/acme",
            "warg://host/acme:app@one",
        ] {
            assert!(WargRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_wcomp_key_is_the_same_key_to_warg() {
        let k = wcomp_trust::KeyPair::generate();
        let w = warg_key(&k);
        assert_eq!(wcomp_key(&w.public_key()), k.public());
        assert_eq!(w.public_key().fingerprint(), warg_key_id(&k.public()));
    }
}
