//! `wcomp pull` and the fetching half of `wcomp verify`.

use super::registry;
use super::userconfig::{self, UserConfig};
use super::verify::{self, Failure, Keys, Verdict};
use anyhow::Result;
use serde::Serialize;
use std::io::Write as _;
use std::path::PathBuf;
use wcomp_core::Digest;
use wcomp_oci::Reporter;
use wcomp_oci::manifest::ImageManifest;

pub struct Options {
    pub reference: String,
    /// `None` for `wcomp verify`: the layer is hashed, not kept.
    pub output: Option<Option<PathBuf>>,
    pub key: Option<PathBuf>,
    pub skip_verify: bool,
    pub insecure: bool,
}

#[derive(Serialize)]
pub struct Pulled {
    pub schema: u32,
    pub reference: String,
    pub manifest_digest: String,
    pub layer_digest: String,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verdict>,
    /// Checks skipped with `--insecure-skip-verify`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<&'static str>,
    /// The manifest's annotations (created, version, ...).
    pub annotations: std::collections::BTreeMap<String, String>,
    /// For `wcomp verify` of a composition: each part and whether it verified.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<verify::PartStatus>,
}

pub fn run(opts: Options, progress: &dyn Reporter) -> Result<Pulled> {
    let dir = userconfig::config_dir()?;
    let cfg = UserConfig::load(&dir)?;
    let keys = Keys::load(&dir, &cfg, opts.key.as_deref())?;
    let rt = registry::runtime()?;
    rt.block_on(async {
        let reference = registry::resolve(&opts.reference, &cfg).await?;
        let client = registry::client(&reference.registry, &dir, &cfg, opts.insecure);
        let repo = &reference.repository;
        let fetched = client
            .get_manifest(repo, &reference.target())
            .await?
            .ok_or_else(|| wcomp_oci::Error::NotFound(reference.to_string()))?;
        let manifest = ImageManifest::from_json(&fetched.bytes)
            .map_err(|e| Failure::NotWasm(format!("{reference}: {e}")))?;
        let layers: Vec<_> = manifest
            .layers
            .iter()
            .filter(|l| l.media_type == wcomp_oci::manifest::WASM_LAYER)
            .collect();
        let [layer] = layers.as_slice() else {
            return Err(Failure::NotWasm(format!(
                "{reference} has {} `application/wasm` layers; a Wasm OCI artifact has exactly one",
                layers.len()
            ))
            .into());
        };
        let layer_digest: Digest = layer.digest.parse()?;

        // 1. The layer, into a temporary file beside the output, checked against its digest.
        let target = match &opts.output {
            Some(Some(p)) => Some(p.clone()),
            Some(None) => Some(PathBuf::from(default_name(&reference.repository, layer))),
            None => None,
        };
        let mut temp = match &target {
            Some(t) => Some(crate::ops::atomic::temp_beside(t)?),
            None => None,
        };
        // The layer downloads while the signatures and attestations are checked; the
        // layer's own failures are reported first.
        progress.start(&layer_digest.to_string(), layer.size);
        let download = async {
            let mut sink: Box<dyn std::io::Write> = match temp.as_mut() {
                Some(t) => Box::new(std::io::BufWriter::with_capacity(1 << 20, t.as_file_mut())),
                None => Box::new(std::io::sink()),
            };
            let r = client
                .pull_blob(repo, &layer_digest, Some(layer.size), &mut sink, progress)
                .await;
            let flushed = sink.flush();
            r.and_then(|n| {
                flushed.map(|()| n).map_err(|source| wcomp_oci::Error::Io {
                    what: "failed to write the download".into(),
                    source,
                })
            })
        };
        let verification = async {
            if opts.skip_verify {
                Ok(None)
            } else {
                verify::check(&client, &reference, &fetched.digest, &keys)
                    .await
                    .map(Some)
            }
        };
        let (pulled, verdict) = tokio::join!(download, verification);
        progress.finish();
        let size = match pulled {
            Ok(n) => n,
            Err(wcomp_oci::Error::DigestMismatch {
                expected, actual, ..
            }) => {
                return Err(Failure::DigestMismatch {
                    reference: reference.to_string(),
                    what: "wasm layer".into(),
                    expected,
                    actual,
                }
                .into());
            }
            Err(e) => return Err(e.into()),
        };

        // 2. Signatures and attestations (checked above), before the file is given its
        // name.
        let mut out = Pulled {
            schema: 1,
            reference: reference.to_string(),
            manifest_digest: fetched.digest.to_string(),
            layer_digest: layer_digest.to_string(),
            size,
            output: None,
            verification: None,
            skipped: Vec::new(),
            annotations: manifest.annotations.clone(),
            parts: Vec::new(),
        };
        if let Some(verdict) = verdict? {
            if target.is_none() {
                let make = |host: &str| registry::client(host, &dir, &cfg, opts.insecure);
                out.parts = verify::check_parts(&verdict, &keys, &make).await;
            }
            out.verification = Some(verdict);
        } else {
            out.skipped = vec!["signature", "attestation"];
        }

        // 3. Only now does the file appear under its name.
        if let (Some(t), Some(target)) = (temp, &target) {
            crate::ops::atomic::persist(t, target)?;
            out.output = Some(target.display().to_string());
        }
        Ok(out)
    })
}

fn default_name(repo: &str, layer: &wcomp_oci::manifest::Descriptor) -> String {
    let title = layer
        .annotations
        .get("org.opencontainers.image.title")
        .filter(|t| !t.is_empty() && !t.contains(['/', '\\']) && !t.starts_with('.'));
    match title {
        Some(t) => t.clone(),
        None => format!("{}.wasm", repo.rsplit('/').next().unwrap_or("component")),
    }
}
