//! The facts `wcomp inspect` reports about a component, a core module or a WIT package.
//!
//! The [`Inspection`] struct is also the stable `--json` shape, documented in
//! docs/inspect.md; add fields, never rename or remove them.

use crate::Error;
use crate::component::{self, Decoded};
use crate::input::{BinaryKind, WasmBinary};
use crate::wit::WitPackage;
use indexmap::IndexMap;
use serde::Serialize;
use wcomp_core::Digest;
use wit_parser::{PackageId, Resolve, WorldId, WorldItem};

/// Everything `wcomp inspect` prints.
#[derive(Debug, Serialize)]
pub struct Inspection {
    /// Version of this JSON shape.
    pub schema: u32,
    /// What was inspected, as named on the command line.
    pub source: String,
    /// `component`, `core-module` or `wit-package`.
    pub kind: &'static str,
    /// Size in bytes of the binary (for WAT and WIT text: of the encoded binary, if any).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<Digest>,
    /// The input was WAT text, assembled before inspection.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub from_wat: bool,
    /// A component's world, or each world of a WIT package.
    pub worlds: Vec<WorldSummary>,
    /// The WIT text: the component's world with every interface it uses, or the package.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wit: Option<String>,
    /// A core module's imports and exports (core modules have no WIT world).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub core: Option<CoreSummary>,
    /// Producers and other metadata (wasm-metadata), when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// What a composed component was made of (`wcomp compose` writes it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub composition: Option<crate::provenance::CompositionRecord>,
}

#[derive(Debug, Serialize)]
pub struct WorldSummary {
    pub name: String,
    pub imports: Vec<ItemSummary>,
    pub exports: Vec<ItemSummary>,
}

#[derive(Debug, Serialize)]
pub struct ItemSummary {
    /// `wasi:cli/environment@0.2.6`, or a plain name.
    pub name: String,
    /// `interface`, `function` or `type`.
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct CoreSummary {
    pub imports: Vec<CoreItem>,
    pub exports: Vec<CoreItem>,
}

#[derive(Debug, Serialize)]
pub struct CoreItem {
    pub name: String,
    pub kind: &'static str,
}

/// Inspects a wasm binary (component, core module, or encoded WIT package).
pub fn inspect_binary(source: &str, bin: &WasmBinary<'_>) -> Result<Inspection, Error> {
    let bytes = &bin.bytes[..];
    let mut out = Inspection {
        schema: 1,
        source: source.to_string(),
        kind: "component",
        size: Some(bytes.len() as u64),
        sha256: Some(Digest::sha256(bytes)),
        from_wat: bin.from_wat,
        worlds: Vec::new(),
        wit: None,
        core: None,
        metadata: metadata(bytes),
        composition: None,
    };
    match bin.kind {
        BinaryKind::CoreModule => {
            component::validate(source, bytes)?;
            out.kind = "core-module";
            out.core = Some(core_summary(source, bytes)?);
        }
        BinaryKind::Component => {
            let c = component::load_any(source, bytes)?;
            match c {
                Decoded::Component(c) => {
                    // An unreadable record is left out rather than failing the inspection.
                    out.composition = crate::provenance::read(bytes).and_then(Result::ok);
                    out.worlds.push(world_summary(&c.resolve, c.world));
                    out.wit = Some(print_component_wit(&c.resolve, c.world)?);
                }
                Decoded::WitPackage(resolve, pkg) => {
                    out.kind = "wit-package";
                    fill_package(&mut out, &resolve, pkg)?;
                }
            }
        }
    }
    Ok(out)
}

/// Inspects a WIT package loaded from text or a directory.
pub fn inspect_wit(source: &str, pkg: &WitPackage) -> Result<Inspection, Error> {
    let mut out = Inspection {
        schema: 1,
        source: source.to_string(),
        kind: "wit-package",
        size: None,
        sha256: None,
        from_wat: false,
        worlds: Vec::new(),
        wit: None,
        core: None,
        metadata: None,
        composition: None,
    };
    fill_package(&mut out, &pkg.resolve, pkg.package)?;
    Ok(out)
}

fn fill_package(out: &mut Inspection, resolve: &Resolve, pkg: PackageId) -> Result<(), Error> {
    for &world in resolve.packages[pkg].worlds.values() {
        out.worlds.push(world_summary(resolve, world));
    }
    let mut printer = wit_component::WitPrinter::default();
    printer
        .print(resolve, pkg, &[])
        .map_err(|e| Error::Undecodable {
            message: format!("{e:#}"),
        })?;
    out.wit = Some(tidy_wit(&printer.output.to_string()));
    Ok(())
}

/// The component's world, followed by every package it refers to as nested packages.
pub fn print_component_wit(resolve: &Resolve, world: WorldId) -> Result<String, Error> {
    let main = resolve.worlds[world]
        .package
        .expect("a decoded component's world belongs to a package");
    let nested: Vec<PackageId> = resolve
        .topological_packages()
        .into_iter()
        .filter(|p| *p != main)
        .collect();
    let mut printer = wit_component::WitPrinter::default();
    printer
        .print(resolve, main, &nested)
        .map_err(|e| Error::Undecodable {
            message: format!("{e:#}"),
        })?;
    Ok(tidy_wit(&printer.output.to_string()))
}

pub fn world_summary(resolve: &Resolve, world: WorldId) -> WorldSummary {
    let w = &resolve.worlds[world];
    let items = |map: &indexmap::IndexMap<wit_parser::WorldKey, WorldItem>| {
        map.iter()
            .map(|(key, item)| {
                let iface = match key {
                    wit_parser::WorldKey::Interface(id) => {
                        crate::names::InterfaceName::of(resolve, *id)
                    }
                    _ => None,
                };
                ItemSummary {
                    name: resolve.name_world_key(key),
                    kind: match item {
                        WorldItem::Interface { .. } => "interface",
                        WorldItem::Function(_) => "function",
                        WorldItem::Type { .. } => "type",
                    },
                    package: iface
                        .as_ref()
                        .map(|i| format!("{}:{}", i.namespace, i.package)),
                    version: iface.and_then(|i| i.version.map(|v| v.to_string())),
                }
            })
            .collect()
    };
    WorldSummary {
        name: w.name.clone(),
        imports: items(&w.imports),
        exports: items(&w.exports),
    }
}

fn core_summary(source: &str, bytes: &[u8]) -> Result<CoreSummary, Error> {
    use wasmparser::{ExternalKind, Payload, TypeRef};
    let mut summary = CoreSummary {
        imports: Vec::new(),
        exports: Vec::new(),
    };
    let err = |e: wasmparser::BinaryReaderError| component::binary_error(source, bytes.len(), e);
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload.map_err(err)? {
            Payload::ImportSection(s) => {
                for imports in s {
                    for import in imports.map_err(err)? {
                        let (_, import) = import.map_err(err)?;
                        summary.imports.push(CoreItem {
                            name: format!("{}::{}", import.module, import.name),
                            kind: match import.ty {
                                TypeRef::Func(_) | TypeRef::FuncExact(_) => "func",
                                TypeRef::Table(_) => "table",
                                TypeRef::Memory(_) => "memory",
                                TypeRef::Global(_) => "global",
                                TypeRef::Tag(_) => "tag",
                            },
                        });
                    }
                }
            }
            Payload::ExportSection(s) => {
                for export in s {
                    let export = export.map_err(err)?;
                    summary.exports.push(CoreItem {
                        name: export.name.to_string(),
                        kind: match export.kind {
                            ExternalKind::Func | ExternalKind::FuncExact => "func",
                            ExternalKind::Table => "table",
                            ExternalKind::Memory => "memory",
                            ExternalKind::Global => "global",
                            ExternalKind::Tag => "tag",
                        },
                    });
                }
            }
            _ => {}
        }
    }
    Ok(summary)
}

/// Metadata of the outermost component or module, from wasm-metadata: the component-name
/// section, producers, and the OCI-style annotations (authors, licenses, ...).
#[derive(Debug, Default, Serialize)]
pub struct Metadata {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `field -> (name -> version)`, e.g. `{"language": {"Rust": ""}, "processed-by":
    /// {"rustc": "1.90.0"}}`.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub producers: IndexMap<String, IndexMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authors: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub licenses: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub homepage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// Binaries with no metadata give `None`.
/// The wasm-metadata fields of a binary (`None` when it has none).
pub fn metadata(bytes: &[u8]) -> Option<Metadata> {
    let payload = wasm_metadata::Payload::from_binary(bytes).ok()?;
    let m = payload.metadata();
    let text = |v: Option<&dyn std::fmt::Display>| v.map(|v| v.to_string());
    let out = Metadata {
        name: m.name.clone(),
        producers: m
            .producers
            .iter()
            .flat_map(|p| p.iter())
            .map(|(field, entries)| {
                let entries = entries
                    .iter()
                    .map(|(n, v)| (n.clone(), v.clone()))
                    .collect();
                (field.clone(), entries)
            })
            .collect(),
        authors: text(m.authors.as_ref().map(|v| v as _)),
        description: text(m.description.as_ref().map(|v| v as _)),
        licenses: text(m.licenses.as_ref().map(|v| v as _)),
        source: text(m.source.as_ref().map(|v| v as _)),
        homepage: text(m.homepage.as_ref().map(|v| v as _)),
        revision: text(m.revision.as_ref().map(|v| v as _)),
        version: text(m.version.as_ref().map(|v| v as _)),
    };
    let empty = out.name.is_none()
        && out.producers.is_empty()
        && [&out.authors, &out.description, &out.licenses, &out.source]
            .iter()
            .all(|v| v.is_none())
        && [&out.homepage, &out.revision, &out.version]
            .iter()
            .all(|v| v.is_none());
    (!empty).then_some(out)
}

/// WitPrinter separates nested packages unevenly; give every top-level block exactly one
/// blank line before it.
fn tidy_wit(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    for line in text.lines() {
        if line.trim().is_empty() {
            blank_run += 1;
            continue;
        }
        if !out.is_empty() && (blank_run > 0 || line.starts_with("package ")) {
            out.push('\n');
        }
        blank_run = 0;
        out.push_str(line);
        out.push('\n');
    }
    out
}
