//! The record of what a composition is made of, carried inside the composed component.
//!
//! `wcomp compose` appends a custom section named [`SECTION`] holding UTF-8 JSON
//! ([`CompositionRecord`]): every part with its source and sha256 digest, and every wire.
//! `wcomp inspect` shows it, and `wcomp publish` turns it into the `resolvedDependencies` of
//! the signed SLSA provenance. A custom section changes nothing a runtime sees.

use serde::{Deserialize, Serialize};

/// The custom section's name.
pub const SECTION: &str = "wcomp-composition";

/// The record's format version; readers refuse versions they do not know.
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompositionRecord {
    pub version: u32,
    /// `wcomp <version>`.
    #[serde(default)]
    pub tool: String,
    /// The part whose exports the composition exports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
    pub parts: Vec<PartRecord>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wires: Vec<WireRecord>,
    /// The WAC source the composition was made from, when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wac: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRecord {
    pub name: String,
    /// The path or registry reference the part came from, as the user gave it.
    pub source: String,
    /// `sha256:<hex>` of the part's bytes.
    pub digest: String,
    #[serde(default)]
    pub size: u64,
    /// The registry reference the part was pulled from, when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The manifest digest of that reference.
    #[serde(
        default,
        alias = "manifestDigest",
        skip_serializing_if = "Option::is_none"
    )]
    pub manifest_digest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireRecord {
    pub importer: String,
    pub import: String,
    pub exporter: String,
    pub export: String,
}

/// Appends the record to a component as a top-level custom section.
pub fn append(component: &mut Vec<u8>, record: &CompositionRecord) {
    let data = serde_json::to_vec(record).expect("a record always serialises");
    crate::component::append_custom_section(component, SECTION, &data);
}

/// Reads the record from a component's top-level custom sections: `None` when there is
/// none, an error message when it is there but unreadable.
pub fn read(bytes: &[u8]) -> Option<Result<CompositionRecord, String>> {
    let mut found = None;
    // Only the outermost record counts: a part may itself be a composition.
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload {
            Ok(wasmparser::Payload::CustomSection(c)) if depth == 0 && c.name() == SECTION => {
                found = Some(c.data().to_vec());
            }
            Ok(wasmparser::Payload::ModuleSection { .. })
            | Ok(wasmparser::Payload::ComponentSection { .. }) => depth += 1,
            Ok(wasmparser::Payload::End(_)) => depth = depth.saturating_sub(1),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let data = found?;
    Some(
        serde_json::from_slice::<CompositionRecord>(&data)
            .map_err(|e| format!("the `{SECTION}` section is not a composition record: {e}"))
            .and_then(|r| {
                if r.version == VERSION {
                    Ok(r)
                } else {
                    Err(format!(
                        "composition record version {} is newer than this wcomp understands ({VERSION})",
                        r.version
                    ))
                }
            }),
    )
}
