//! The seam for Wasm awareness.
//!
//! On a manifest push whose config is `application/vnd.wasm.config.v0+json` with one
//! `application/wasm` layer, the manifests handler reads the layer and asks the app's
//! [`ComponentIndexer`] for its world. The result goes to the component index tables
//! ([`crate::metadata::ComponentEntry`]), which the search API (`/wcomp/v1/search`) reads.
//! In namespaces with `require_components`, anything but a successful analysis refuses the
//! manifest.
//!
//! The real analysis lives in the `wcomp-wasm` crate; until it is wired in, the default
//! [`PreambleIndexer`] only checks the component preamble (so "is this a component at all"
//! already works) and indexes no interfaces.

use crate::metadata::ComponentEntry;

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
