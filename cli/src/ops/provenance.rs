//! The SLSA provenance wcomp attaches when it publishes: what was published, how it was
//! made (plain upload, template build, composition), and from what.
//!
//! A composed component names its parts in a custom section `wcomp-composition`
//! (written by `wcomp compose`): UTF-8 JSON
//! `{"version":1,"tool":"wcomp <ver>","parts":[{"name","source","digest", ...}]}`.
//! Each part becomes one `resolvedDependencies` entry.

use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use wcomp_trust::intoto::{Provenance, ResourceDescriptor};

pub use wcomp_wasm::provenance::CompositionRecord as Composition;
#[cfg(test)]
use wcomp_wasm::provenance::SECTION as COMPOSITION_SECTION;
pub const BUILD_TYPE_UPLOAD: &str = "https://wcomp.dev/buildtypes/upload/v1";
pub const BUILD_TYPE_TEMPLATE: &str = "https://wcomp.dev/buildtypes/template-build/v1";
pub const BUILD_TYPE_COMPOSITION: &str = "https://wcomp.dev/buildtypes/composition/v1";

/// The composition record of a component (`wcomp_wasm::provenance`), with every part's
/// digest checked to be a sha256 digest.
pub fn composition(bytes: &[u8]) -> Result<Option<Composition>> {
    let comp = match wcomp_wasm::provenance::read(bytes) {
        None => return Ok(None),
        Some(Err(e)) => bail!(e),
        Some(Ok(c)) => c,
    };
    for p in &comp.parts {
        p.digest
            .parse::<wcomp_core::Digest>()
            .with_context(|| format!("composition part `{}`", p.name))?;
    }
    Ok(Some(comp))
}

/// What the publish step knows about its input.
pub struct Input<'a> {
    pub path: &'a Path,
    pub bytes: &'a [u8],
    pub kind: &'a str,
    pub world: Option<String>,
    pub reference: &'a str,
    pub started_on: String,
    /// What [`git_revision`] said about the input's work tree (run by the caller, which
    /// can overlap it with other work).
    pub source_revision: Option<Value>,
}

pub fn build(input: &Input<'_>) -> Result<(Provenance, Option<Composition>)> {
    let mut p = Provenance::default();
    let version = env!("CARGO_PKG_VERSION");
    p.run_details.builder.id = format!("https://wcomp.dev/wcomp@{version}");
    p.run_details.builder.version = BTreeMap::from([("wcomp".to_string(), version.to_string())]);
    p.run_details.metadata.invocation_id = format!("{:016x}", rand_id());
    p.run_details.metadata.started_on = input.started_on.clone();
    p.run_details.metadata.finished_on = now();
    let mut external = json!({
        "artifact": input.path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default(),
        "kind": input.kind,
        "reference": input.reference,
    });
    if let Some(w) = &input.world {
        external["world"] = json!(w);
    }
    if let Some(rev) = &input.source_revision {
        external["sourceRevision"] = rev.clone();
    }
    p.build_definition.build_type = BUILD_TYPE_UPLOAD.to_string();
    let comp = if input.kind == "component" {
        composition(input.bytes)?
    } else {
        None
    };
    if let Some(c) = &comp {
        p.build_definition.build_type = BUILD_TYPE_COMPOSITION.to_string();
        external["compositionTool"] = json!(c.tool);
        for part in &c.parts {
            let hex = part.digest.trim_start_matches("sha256:").to_string();
            let mut annotations = BTreeMap::new();
            for (k, v) in [
                ("reference", &part.reference),
                ("manifestDigest", &part.manifest_digest),
                ("signer", &part.signer),
            ] {
                if let Some(v) = v {
                    annotations.insert(k.to_string(), Value::String(v.clone()));
                }
            }
            p.build_definition
                .resolved_dependencies
                .push(ResourceDescriptor {
                    name: part.name.clone(),
                    uri: part.source.clone(),
                    digest: BTreeMap::from([("sha256".to_string(), hex)]),
                    annotations,
                });
        }
    } else if let Some(stamp) = build_stamp(input.path) {
        p.build_definition.build_type = BUILD_TYPE_TEMPLATE.to_string();
        p.build_definition.internal_parameters = json!({ "buildStamp": stamp });
    }
    p.build_definition.external_parameters = external;
    Ok((p, comp))
}

/// `build/.wcomp-build.json` beside the input (`wcomp build` writes it), if any.
fn build_stamp(input: &Path) -> Option<Value> {
    let dir = input.parent()?;
    let candidates = [
        dir.join(".wcomp-build.json"),
        dir.join("build/.wcomp-build.json"),
    ];
    candidates
        .iter()
        .find_map(|p| fs_err::read_to_string(p).ok())
        .and_then(|t| serde_json::from_str(&t).ok())
}

/// The commit of the git work tree holding `input`, and whether it has changes.
pub fn git_revision(input: &Path) -> Option<Value> {
    let dir = input
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let commit = run(&["rev-parse", "HEAD"])?;
    let dirty =
        run(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(json!({ "gitCommit": commit, "dirty": dirty }))
}

pub fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

fn rand_id() -> u64 {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_top_level_composition_section_counts() {
        let part = r#"{"version":1,"tool":"t","parts":[{"name":"inner","source":"x","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000"}]}"#;
        let nested = wat::parse_str(format!(
            "(component (component (@custom \"{COMPOSITION_SECTION}\" \"{}\")))",
            part.replace('"', "\\\"")
        ))
        .unwrap();
        let name = COMPOSITION_SECTION.as_bytes();
        assert!(
            nested.windows(name.len()).any(|w| w == name),
            "the nested section is there"
        );
        assert!(composition(&nested).unwrap().is_none());
        let top = wat::parse_str(format!(
            "(component (component) (@custom \"{COMPOSITION_SECTION}\" \"{}\"))",
            part.replace('"', "\\\"")
        ))
        .unwrap();
        let c = composition(&top).unwrap().unwrap();
        assert_eq!(c.parts.len(), 1);
        assert_eq!(c.parts[0].name, "inner");
    }

    #[test]
    fn the_record_wcomp_compose_writes_is_read() {
        // The shape of `wcomp_wasm::provenance::CompositionRecord` on main: snake_case
        // `manifest_digest`, plus `size`, `root`, `wires` that provenance does not need.
        let d = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
        let record = format!(
            r#"{{"version":1,"tool":"wcomp 0.1.0","root":"app","parts":[{{"name":"app","source":"localhost:5000/acme/app:1.0.0","digest":"{d}","size":10,"manifest_digest":"{d}","signer":"abc"}}],"wires":[{{"importer":"app","import":"x","exporter":"db","export":"y"}}]}}"#
        );
        let bytes = wat::parse_str(format!(
            "(component (@custom \"{COMPOSITION_SECTION}\" \"{}\"))",
            record.replace('"', "\\\"")
        ))
        .unwrap();
        let c = composition(&bytes).unwrap().unwrap();
        assert_eq!(c.parts[0].manifest_digest.as_deref(), Some(d));
        assert_eq!(c.parts[0].signer.as_deref(), Some("abc"));
    }

    #[test]
    fn malformed_records_are_refused() {
        for bad in [
            r#"{"version":2,"parts":[]}"#,
            r#"{"version":1,"parts":[{"name":"a","source":"b","digest":"md5:00"}]}"#,
            "not json",
        ] {
            let bytes = wat::parse_str(format!(
                "(component (@custom \"{COMPOSITION_SECTION}\" \"{}\"))",
                bad.replace('"', "\\\"")
            ))
            .unwrap();
            assert!(composition(&bytes).is_err(), "{bad}");
        }
    }
}
