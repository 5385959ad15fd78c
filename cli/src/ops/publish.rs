//! `wcomp publish`: a component or WIT package as a CNCF Wasm OCI artifact, signed and
//! attested by default.

use super::attach;
use super::provenance::{self, Composition};
use super::registry;
use super::userconfig::{self, UserConfig};
use anyhow::Result;
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use wcomp_oci::Reporter;
use wcomp_oci::manifest::{Descriptor, ImageManifest, OCI_MANIFEST, WASM_CONFIG, WASM_LAYER};
use wcomp_trust::Signer;
use wcomp_trust::intoto::Statement;
use wcomp_wasm::component::{self, Decoded};
use wcomp_wasm::input::{self, BinaryKind, Content, InputPath};

pub struct Options {
    pub input: PathBuf,
    pub reference: String,
    pub key: Option<String>,
    pub no_sign: bool,
    pub annotations: Vec<(String, String)>,
    pub insecure: bool,
}

#[derive(Serialize)]
pub struct Published {
    pub schema: u32,
    pub reference: String,
    pub manifest_digest: String,
    pub layer_digest: String,
    pub size: u64,
    pub kind: &'static str,
    pub signed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attestation: Option<String>,
    pub build_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub composition: Option<Composition>,
}

/// Why the input cannot be published: the thing given is not publishable (exit 1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(#[source] pub wcomp_wasm::Error);

/// The input, read and validated: its bytes, kind and summary for the config.
pub struct Artifact {
    pub bytes: Vec<u8>,
    pub kind: &'static str,
    pub title: String,
    pub world: Option<String>,
    pub imports: Vec<String>,
    pub exports: Vec<String>,
}

pub fn read_input(path: &Path) -> Result<Artifact> {
    let title = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "package".into());
    if path.is_dir() {
        let pkg = wcomp_wasm::wit::load(path)?;
        return wit_artifact(&pkg.resolve, pkg.package, format!("{title}.wasm"));
    }
    let inp = InputPath::new(path);
    let name = inp.display_name();
    let bytes = inp.read()?;
    let content = input::classify(&name, &bytes).map_err(BadInput)?;
    let bin = match content {
        Content::WitText(_) => {
            let pkg = wcomp_wasm::wit::load(path).map_err(BadInput)?;
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default();
            return wit_artifact(&pkg.resolve, pkg.package, format!("{stem}.wasm"));
        }
        Content::Wasm(bin) => bin,
    };
    if bin.kind == BinaryKind::CoreModule {
        return Err(BadInput(wcomp_wasm::Error::CoreModule { name }).into());
    }
    let bytes = bin.bytes.into_owned();
    // `load_any` validates in full, then decodes.
    match component::load_any(&name, &bytes).map_err(BadInput)? {
        Decoded::Component(c) => {
            let summary = wcomp_wasm::inspect::world_summary(&c.resolve, c.world);
            Ok(Artifact {
                kind: "component",
                world: Some(summary.name.clone()),
                imports: summary.imports.iter().map(|i| i.name.clone()).collect(),
                exports: summary.exports.iter().map(|i| i.name.clone()).collect(),
                bytes,
                title,
            })
        }
        Decoded::WitPackage(resolve, pkg) => {
            let mut a = wit_artifact(&resolve, pkg, title)?;
            a.bytes = bytes;
            Ok(a)
        }
    }
}

fn wit_artifact(
    resolve: &wcomp_wasm::wit_parser::Resolve,
    pkg: wcomp_wasm::wit_parser::PackageId,
    title: String,
) -> Result<Artifact> {
    let bytes = wit_component::encode(resolve, pkg, false)?;
    let worlds = resolve.packages[pkg]
        .worlds
        .keys()
        .map(|w| w.to_string())
        .collect::<Vec<_>>();
    Ok(Artifact {
        bytes,
        kind: "wit-package",
        title,
        world: None,
        imports: Vec::new(),
        exports: worlds,
    })
}

/// Runs `work` on its own thread; the answer arrives through the returned channel, so an
/// async caller awaits it without blocking the (single-threaded) runtime.
fn on_thread<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> tokio::sync::oneshot::Receiver<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(work());
    });
    rx
}

pub fn run(opts: Options, progress: &dyn Reporter, note: &dyn Fn(&str)) -> Result<Published> {
    let started_on = provenance::now();
    let artifact = read_input(&opts.input)?;
    let dir = userconfig::config_dir()?;
    let cfg = UserConfig::load(&dir)?;
    // The key file and passphrase are read first (a missing key fails before anything is
    // sent); the key derivation then runs while the blobs upload, and is awaited before
    // the first manifest is pushed, so a wrong passphrase leaves nothing a user can see (at
    // most unreferenced blobs, which GC removes). `git` runs alongside too.
    // A key a running `wcomp key agent` holds needs neither.
    let unlocking = if opts.no_sign {
        None
    } else {
        Some(
            match userconfig::signing_key(&dir, &cfg, opts.key.as_deref())? {
                #[cfg(unix)]
                userconfig::SigningKey::Agent(held) => {
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    let _ = tx.send(Ok(Box::new(held) as Box<dyn Signer>));
                    rx
                }
                userconfig::SigningKey::Locked(locked) => on_thread(move || {
                    locked
                        .unlock()
                        .map(|(key, _)| Box::new(key) as Box<dyn Signer>)
                }),
            },
        )
    };
    let input_path = opts.input.clone();
    let revision = on_thread(move || provenance::git_revision(&input_path));
    // Hashed once: the upload, the config and the manifest all use this digest.
    let layer_digest = wcomp_core::Digest::sha256(&artifact.bytes);
    let rt = registry::runtime()?;
    rt.block_on(async {
        let reference = registry::resolve(&opts.reference, &cfg).await?;
        if reference.digest.is_some() {
            return Err(super::EnvironmentError(format!(
                "`{}` names a digest; publish to a tag (`host/repo:1.0.0`) or a package version (`ns:name@1.0.0`)",
                opts.reference
            ))
            .into());
        }
        let tag = reference.tag.clone().unwrap_or_else(|| "latest".into());
        let client = registry::client(&reference.registry, &dir, &cfg, opts.insecure);
        let repo = reference.repository.clone();

        let created = provenance::now();
        let mut config = json!({
            "created": created,
            "architecture": "wasm",
            "os": "wasip2",
            "layerDigests": [layer_digest.to_string()],
        });
        if artifact.kind == "component" {
            config["component"] = json!({
                "exports": artifact.exports,
                "imports": artifact.imports,
                "target": null,
            });
        }
        let meta = wcomp_wasm::inspect::metadata(&artifact.bytes);
        let author = opts
            .annotations
            .iter()
            .find(|(k, _)| k == "org.opencontainers.image.authors")
            .map(|(_, v)| v.clone())
            .or_else(|| meta.as_ref().and_then(|m| m.authors.clone()));
        if let Some(a) = author {
            config["author"] = json!(a);
        }
        let config = serde_json::to_vec(&config)?;

        // The layer and the config go up together.
        progress.start(&artifact.title, artifact.bytes.len() as u64);
        tokio::try_join!(
            client.push_blob_as(&repo, &layer_digest, &artifact.bytes, progress),
            client.push_blob(&repo, &config, &wcomp_oci::Quiet),
        )?;
        progress.finish();

        let (prov, comp) = provenance::build(&provenance::Input {
            path: &opts.input,
            bytes: &artifact.bytes,
            kind: artifact.kind,
            world: artifact.world.clone(),
            reference: &reference.to_string(),
            started_on,
            source_revision: revision.await.unwrap_or(None),
        })?;

        let layer = Descriptor {
            media_type: WASM_LAYER.to_string(),
            digest: layer_digest.to_string(),
            size: artifact.bytes.len() as u64,
            artifact_type: None,
            annotations: BTreeMap::from([(
                "org.opencontainers.image.title".to_string(),
                artifact.title.clone(),
            )]),
        };
        let mut manifest = ImageManifest::new(Descriptor::of(WASM_CONFIG, &config), vec![layer]);
        manifest
            .annotations
            .insert("org.opencontainers.image.created".into(), created);
        // Later sources win: the component's own metadata, git, the tag, `--annotation`.
        if let Some(m) = &meta {
            for (key, value) in [
                ("authors", &m.authors),
                ("description", &m.description),
                ("licenses", &m.licenses),
                ("source", &m.source),
                ("url", &m.homepage),
                ("revision", &m.revision),
                ("version", &m.version),
            ] {
                if let Some(v) = value.clone() {
                    manifest
                        .annotations
                        .insert(format!("org.opencontainers.image.{key}"), v);
                }
            }
        }
        if let Some(rev) = prov.build_definition.external_parameters["sourceRevision"]["gitCommit"].as_str() {
            manifest
                .annotations
                .insert("org.opencontainers.image.revision".into(), rev.to_string());
        }
        if semver::Version::parse(&tag).is_ok() {
            manifest
                .annotations
                .insert("org.opencontainers.image.version".into(), tag.clone());
        }
        for (k, v) in &opts.annotations {
            manifest.annotations.insert(k.clone(), v.clone());
        }
        let key = match unlocking {
            Some(rx) => Some(rx.await.expect("key unlocking thread panicked")?),
            None => None,
        };
        let manifest_bytes = manifest.to_json();
        let manifest_digest = wcomp_core::Digest::sha256(&manifest_bytes);
        let subject = Descriptor::of(OCI_MANIFEST, &manifest_bytes);

        let mut out = Published {
            schema: 1,
            reference: reference.to_string(),
            manifest_digest: manifest_digest.to_string(),
            layer_digest: layer_digest.to_string(),
            size: artifact.bytes.len() as u64,
            kind: artifact.kind,
            signed: false,
            key_id: None,
            signature: None,
            attestation: None,
            build_type: prov.build_definition.build_type.clone(),
            composition: comp,
        };
        // Signed before anything is pushed: a key (or key agent) that cannot sign leaves
        // no manifest behind.
        let signed = match &key {
            Some(key) => {
                let key = key.as_ref();
                let statement =
                    Statement::provenance(&reference.scope(), &manifest_digest.to_string(), &prov);
                Some((
                    key.public_key().key_id(),
                    attach::sign_signature(&reference, &subject, key)?,
                    attach::sign_attestation(&subject, key, &statement)?,
                ))
            }
            None => None,
        };
        // The manifest by digest, the signature and the attestation go up together (a
        // referrer may arrive before its subject in OCI 1.1, and registries without
        // referrers ignore `subject`); if the registry refuses the manifest, the signature
        // and attestation already pushed are deleted again, as far as it lets us. The tag
        // goes last, so an interrupted publish never leaves a tag on an unsigned artifact.
        let digest_ref = manifest_digest.to_string();
        let by_digest = client.push_manifest(&repo, &digest_ref, &manifest_bytes, OCI_MANIFEST);
        match signed {
            None => {
                by_digest.await?;
                note("published WITHOUT a signature or provenance attestation (--no-sign)");
            }
            Some((key_id, sig, att)) => {
                let attach = |prepared| {
                    let (client, reference, subject) = (&client, &reference, &subject);
                    async move {
                        attach::push_blobs(client, reference, prepared).await?;
                        attach::push_manifest(client, reference, subject, prepared).await
                    }
                };
                let (manifest, sig, att) = tokio::join!(by_digest, attach(&sig), attach(&att));
                if let Err(e) = manifest {
                    for pushed in [&sig, &att].into_iter().flatten() {
                        let _ = client.delete_manifest(&repo, &pushed.to_string()).await;
                    }
                    return Err(e.into());
                }
                out.signed = true;
                out.key_id = Some(key_id);
                out.signature = Some(sig?.to_string());
                out.attestation = Some(att?.to_string());
            }
        }
        client
            .push_manifest(&repo, &tag, &manifest_bytes, OCI_MANIFEST)
            .await?;
        Ok(out)
    })
}
