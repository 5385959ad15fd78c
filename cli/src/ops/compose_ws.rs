//! A workspace's `[composition]`: after `wcomp build` has built the members, compose their
//! outputs into one component, skipping the work when no part and no setting changed.

use super::manifest::{Composition, Manifest};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::path::{Path, PathBuf};
use wcomp_compose::encode::Tool;
use wcomp_compose::part::name_from_path;

/// The composed output of a workspace.
#[derive(Debug, Serialize)]
pub struct Composed {
    pub output: PathBuf,
    pub size: u64,
    pub parts: Vec<String>,
    /// False when nothing changed since the last composition.
    pub rebuilt: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unified: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct Stamp {
    key: String,
    output_len: u64,
}

/// The stamp of the composition written to `output`: one per output, so a workspace's
/// compositions are cached independently.
fn stamp_path(dir: &Path, output: &Path) -> PathBuf {
    let stem = output
        .file_stem()
        .map_or_else(|| "composition".into(), |s| s.to_string_lossy());
    dir.join(format!("build/.wcomp-compose-{stem}.json"))
}

/// Where the composition `c` of the workspace in `dir` is written.
pub fn output_path(dir: &Path, c: &Composition) -> PathBuf {
    dir.join(c.output.clone().unwrap_or_else(|| {
        let stem = dir
            .canonicalize()
            .ok()
            .and_then(|d| d.file_name().map(|f| f.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "composition".to_string());
        PathBuf::from(format!("build/{}.wasm", name_from_path(&stem)))
    }))
}

/// Composes the members named by `c`, whose build outputs are in `outputs`
/// (member directory -> component file).
pub fn compose(
    dir: &Path,
    m: &Manifest,
    c: &Composition,
    outputs: &[(PathBuf, PathBuf)],
    force: bool,
) -> Result<Composed> {
    let output_of = |member: &str| -> Result<PathBuf> {
        let want = dir.join(member);
        outputs
            .iter()
            .find(|(d, _)| d == &want)
            .map(|(_, o)| o.clone())
            .ok_or_else(|| {
                super::EnvironmentError(format!(
                    "[composition] names `{member}`, which is not a member of the workspace \
                     (members: {})",
                    m.workspace
                        .as_ref()
                        .map(|w| {
                            w.members
                                .iter()
                                .map(|p| format!("`{}`", p.display()))
                                .collect::<Vec<_>>()
                                .join(", ")
                        })
                        .unwrap_or_default()
                ))
                .into()
            })
    };
    let mut specs = vec![(c.root.clone(), output_of(&c.root)?)];
    for p in &c.plugs {
        specs.push((p.clone(), output_of(p)?));
    }
    let output = output_path(dir, c);

    // The key: the settings and each part's size and modification time, so a no-op
    // build decides without reading megabytes of parts (the output records their
    // digests anyway).
    let mut key = Sha256::new();
    key.update(toml::to_string(c).unwrap_or_default());
    for (_, path) in &specs {
        let meta = fs_err::metadata(path)?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        key.update(format!("{}\0{}\0{mtime}\0", path.display(), meta.len()));
    }
    let key = hex::encode(key.finalize());
    let stamp_path = stamp_path(dir, &output);
    let names: Vec<String> = specs.iter().map(|(m, _)| name_from_path(m)).collect();
    if !force
        && let Some(stamp) = fs_err::read(&stamp_path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Stamp>(&b).ok())
        && stamp.key == key
        && fs_err::metadata(&output).map(|m| m.len()).ok() == Some(stamp.output_len)
    {
        return Ok(Composed {
            size: stamp.output_len,
            output,
            parts: names,
            rebuilt: false,
            unified: Vec::new(),
        });
    }
    let specs: Vec<(Option<String>, String)> = specs
        .iter()
        .zip(&names)
        .map(|((_, path), name)| (Some(name.clone()), path.display().to_string()))
        .collect();
    let parts = super::parts::load(&specs, dir, true)?;

    let wires = c
        .wires
        .iter()
        .map(|w| w.parse().map_err(|e: String| anyhow::anyhow!(e)))
        .collect::<Result<Vec<wcomp_compose::ManualWire>>>()?;
    let plan = wcomp_compose::plan(
        &parts,
        0,
        &wires,
        wcomp_compose::Options {
            closed: c.no_imports,
        },
    )?;
    let mut encoded = wcomp_compose::encode::encode(
        &parts,
        &plan,
        &Tool {
            name: "wcomp",
            version: env!("CARGO_PKG_VERSION"),
        },
    )?;
    let imports: std::collections::BTreeSet<String> = encoded.imports.iter().cloned().collect();
    let (unified, _) = wcomp_compose::encode::unified_in(&plan, &imports);
    super::atomic::write_with(&output, |file| Ok(encoded.write_to(file)?))?;
    wcomp_compose::standin::remember(&parts);
    super::atomic::write(
        &stamp_path,
        &serde_json::to_vec_pretty(&Stamp {
            key,
            output_len: encoded.size(),
        })?,
    )?;
    Ok(Composed {
        output,
        size: encoded.size(),
        parts: names,
        rebuilt: true,
        unified: unified.iter().map(|u| u.chosen.clone()).collect(),
    })
}
