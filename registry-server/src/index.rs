//! The seam for Wasm awareness.
//!
//! On a manifest push whose config is `application/vnd.wasm.config.v0+json` with one
//! `application/wasm` layer, the manifests handler reads the layer and asks the app's
//! [`ComponentIndexer`] for its world. The result goes to the component index tables
//! ([`crate::metadata::ComponentEntry`]), which the search API (`/wcomp/v1/search`) reads.
//! In namespaces with `require_components`, anything but a successful analysis refuses the
//! manifest.
//!
//! The default is [`WasmIndexer`]: full validation and the component's imports and exports
//! from the `wcomp-wasm` crate (the same analysis `wcomp validate` uses). The package name
//! and version come from the repository and tag (`<ns>/<name>:<semver>`, the wkg
//! convention) when the indexer does not know them. [`PreambleIndexer`] only checks the
//! 8-byte preamble.

use crate::metadata::ComponentEntry;
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("layer is not a valid component: {0}")]
    Invalid(String),
}

/// What an indexer found in one component.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComponentInfo {
    pub package: Option<String>,
    pub version: Option<String>,
    pub world: Option<String>,
    pub imports: Vec<(String, String)>,
    pub exports: Vec<(String, String)>,
}

impl ComponentInfo {
    pub fn into_entry(self, repo: &str, manifest: &str) -> ComponentEntry {
        ComponentEntry {
            repo: repo.into(),
            manifest: manifest.into(),
            package: self.package,
            version: self.version,
            world: self.world,
            imports: self.imports,
            exports: self.exports,
        }
    }
}

pub trait ComponentIndexer: Send + Sync + 'static {
    /// Validates `layer` as a component and describes its world. Runs on a blocking thread.
    fn analyze(&self, layer: &[u8]) -> Result<ComponentInfo, IndexError>;
}

/// What the indexer said about each layer, by layer digest. A layer's bytes never change,
/// so neither does its analysis; a publish pushes the same manifest twice (by digest, then
/// by tag) and other repositories may push the same layer, and none of these should read
/// and validate the layer again (for a 100 MB layer that was 250 ms per push). Bounded:
/// emptied when full.
#[derive(Default)]
pub struct AnalysisCache {
    by_layer: Mutex<HashMap<String, Result<ComponentInfo, String>>>,
}

impl AnalysisCache {
    const CAPACITY: usize = 4096;

    pub fn get(&self, layer: &str) -> Option<Result<ComponentInfo, IndexError>> {
        let map = self.by_layer.lock().unwrap();
        map.get(layer)
            .map(|r| r.clone().map_err(IndexError::Invalid))
    }

    pub fn put(&self, layer: &str, result: &Result<ComponentInfo, IndexError>) {
        let mut map = self.by_layer.lock().unwrap();
        if map.len() >= Self::CAPACITY {
            map.clear();
        }
        let kept = match result {
            Ok(info) => Ok(info.clone()),
            Err(IndexError::Invalid(why)) => Err(why.clone()),
        };
        map.insert(layer.to_string(), kept);
    }
}

/// Checks only the 8-byte preamble: `\0asm`, version 0x0d, layer 1 (a component, not a
/// core module).
pub struct PreambleIndexer;

impl ComponentIndexer for PreambleIndexer {
    fn analyze(&self, layer: &[u8]) -> Result<ComponentInfo, IndexError> {
        match layer.get(..8) {
            Some([0, b'a', b's', b'm', 0x0d, 0, 1, 0]) => Ok(ComponentInfo::default()),
            Some([0, b'a', b's', b'm', 1, 0, 0, 0]) => {
                Err(IndexError::Invalid("a core module, not a component".into()))
            }
            _ => Err(IndexError::Invalid("no Wasm component preamble".into())),
        }
    }
}

/// Validates the layer as a component (wasmparser, every feature on) and indexes the
/// interfaces and functions its world imports and exports, as `(name, version)` with the
/// version split off (`("wasi:http/incoming-handler", "0.2.6")`; plain functions have an
/// empty version).
pub struct WasmIndexer;

impl ComponentIndexer for WasmIndexer {
    fn analyze(&self, layer: &[u8]) -> Result<ComponentInfo, IndexError> {
        // Only binaries: WAT text is a client's business, not a registry's.
        PreambleIndexer.analyze(layer)?;
        let component = wcomp_wasm::component::load("layer", layer)
            .map_err(|e| IndexError::Invalid(e.to_string()))?;
        let world = wcomp_wasm::inspect::world_summary(&component.resolve, component.world);
        let pairs = |items: &[wcomp_wasm::inspect::ItemSummary]| {
            items
                .iter()
                .filter(|i| i.kind != "type")
                .map(|i| {
                    let version = i.version.clone().unwrap_or_default();
                    let name = match &i.version {
                        Some(v) => i
                            .name
                            .strip_suffix(&format!("@{v}"))
                            .unwrap_or(&i.name)
                            .to_string(),
                        None => i.name.clone(),
                    };
                    (name, version)
                })
                .collect()
        };
        Ok(ComponentInfo {
            package: None,
            version: None,
            world: None,
            imports: pairs(&world.imports),
            exports: pairs(&world.exports),
        })
    }
}

/// Fills in what the layer cannot say: the package name from the repository's last two
/// path segments (`acme/greeter` -> `acme:greeter`) and the version from a semver tag.
pub fn complete_from_reference(info: &mut ComponentInfo, repo: &str, tag: Option<&str>) {
    if info.package.is_none() {
        let mut parts = repo.rsplit('/');
        if let (Some(name), Some(ns)) = (parts.next(), parts.next()) {
            info.package = Some(format!("{ns}:{name}"));
        }
    }
    if info.version.is_none()
        && let Some(t) = tag
        && semver::Version::parse(t).is_ok()
    {
        info.version = Some(t.to_string());
    }
}
