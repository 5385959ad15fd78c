//! A part of a composition: a component read from a file, with its decoded world and the
//! names it imports and exports.

use crate::Error;
use std::sync::OnceLock;
use wcomp_core::Digest;
use wcomp_wasm::component::DecodedComponent;
use wcomp_wasm::input::{BinaryKind, Content};
use wcomp_wasm::names::InterfaceName;
use wit_parser::{WorldItem, WorldKey};

/// One component taking part in a composition.
pub struct Part {
    /// The name the user and the reports use (kebab-case; a file stem by default).
    pub name: String,
    /// Where it came from, as the user gave it.
    pub source: String,
    pub bytes: Vec<u8>,
    /// The sha256 of `bytes` and whether they are remembered as valid, computed on first
    /// use ([`Part::digest`], [`Part::known_valid`]): a composer hashes large parts on a
    /// second core while wac-graph reads them on the first.
    recalled: OnceLock<(Digest, bool)>,
    /// Its world, decoded; empty for a part read with [`Part::load_undecoded`].
    pub world: DecodedComponent,
    pub imports: Vec<Item>,
    pub exports: Vec<Item>,
    /// Where a part pulled from a registry came from, and who signed it.
    pub origin: Option<Origin>,
}

/// A part pulled by reference: what the composition record keeps about it.
#[derive(Debug, Clone)]
pub struct Origin {
    pub reference: String,
    pub manifest_digest: String,
    /// The key id whose signature verified, under the trust policy.
    pub signer: Option<String>,
}

/// A world-level import or export of a part.
#[derive(Debug, Clone)]
pub struct Item {
    /// `example:store/records@0.1.0`, or a plain name such as `run`.
    pub name: String,
    /// The parsed name when the item is a package interface.
    pub iface: Option<InterfaceName>,
    /// `interface`, `function` or `type`.
    pub kind: &'static str,
    /// Functions in it (an interface imported only for its types has none).
    pub functions: usize,
}

impl Part {
    /// Reads a part from bytes: refuses anything that is not a component, with the reason.
    pub fn load(name: &str, source: &str, bytes: Vec<u8>) -> Result<Part, Error> {
        check_name(name)?;
        let bytes = component_bytes(source, bytes)?;
        let world = wcomp_wasm::component::decode_unvalidated(source, &bytes)?;
        let (imports, exports) = {
            let w = &world.resolve.worlds[world.world];
            (
                items(&world, w.imports.iter()),
                items(&world, w.exports.iter()),
            )
        };
        Ok(Part {
            name: name.to_string(),
            source: source.to_string(),
            recalled: OnceLock::new(),
            bytes,
            world,
            imports,
            exports,
            origin: None,
        })
    }

    /// Reads a part whose wiring someone else decides (a WAC file's `--dep`): checked to be
    /// a component and hashed, but its world is not decoded, which for a small component
    /// costs more than composing it. Its `world`, `imports` and `exports` are empty; its
    /// types are read by wac-graph, and its bytes are validated before they are embedded.
    pub fn load_undecoded(name: &str, source: &str, bytes: Vec<u8>) -> Result<Part, Error> {
        check_name(name)?;
        let bytes = component_bytes(source, bytes)?;
        // Hashed now, on the loading thread: a WAC file's `--dep`s are validated (or
        // found remembered) before anything else is done with them.
        let recalled = OnceLock::from(wcomp_wasm::component::hash_and_recall(&bytes));
        let mut resolve = wit_parser::Resolve::default();
        let world = resolve.worlds.alloc(wit_parser::World {
            name: name.to_string(),
            imports: Default::default(),
            exports: Default::default(),
            package: None,
            docs: Default::default(),
            stability: Default::default(),
            includes: Default::default(),
            span: Default::default(),
        });
        Ok(Part {
            name: name.to_string(),
            source: source.to_string(),
            recalled,
            bytes,
            world: DecodedComponent { resolve, world },
            imports: Vec::new(),
            exports: Vec::new(),
            origin: None,
        })
    }

    /// The sha256 of its bytes (hashed on first use).
    pub fn digest(&self) -> &Digest {
        &self.recalled().0
    }

    /// Whether its bytes are known to pass full validation (remembered from an earlier
    /// build or composition). Otherwise their code is checked when the composition that
    /// embeds them is validated (`encode::validate`).
    pub fn known_valid(&self) -> bool {
        self.recalled().1
    }

    fn recalled(&self) -> &(Digest, bool) {
        self.recalled
            .get_or_init(|| wcomp_wasm::component::hash_and_recall(&self.bytes))
    }

    pub fn import(&self, name: &str) -> Option<&Item> {
        self.imports.iter().find(|i| i.name == name)
    }

    pub fn export(&self, name: &str) -> Option<&Item> {
        self.exports.iter().find(|i| i.name == name)
    }

    pub fn check_world(&self) -> wcomp_wasm::check::World<'_> {
        wcomp_wasm::check::World {
            resolve: &self.world.resolve,
            id: self.world.world,
        }
    }
}

/// The bytes of a component, or why they are not one: a core module, WIT text, or not
/// WebAssembly at all. WAT text is converted.
fn component_bytes(source: &str, bytes: Vec<u8>) -> Result<Vec<u8>, Error> {
    Ok(match wcomp_wasm::input::classify(source, &bytes)? {
        // Binary input is borrowed as it is: keep the buffer rather than copy it.
        Content::Wasm(bin) if bin.kind == BinaryKind::Component && !bin.from_wat => bytes,
        Content::Wasm(bin) if bin.kind == BinaryKind::Component => bin.bytes.into_owned(),
        Content::Wasm(_) => {
            return Err(wcomp_wasm::Error::CoreModule {
                name: source.to_string(),
            }
            .into());
        }
        Content::WitText(_) => {
            return Err(wcomp_wasm::Error::NotWasm {
                name: source.to_string(),
                what: "it is WIT text; compose takes components".to_string(),
            }
            .into());
        }
    })
}

fn items<'a>(
    c: &DecodedComponent,
    entries: impl Iterator<Item = (&'a WorldKey, &'a WorldItem)>,
) -> Vec<Item> {
    entries
        .filter(|(_, item)| !matches!(item, WorldItem::Type { .. }))
        .map(|(key, item)| Item {
            name: c.resolve.name_world_key(key),
            iface: match key {
                WorldKey::Interface(id) => InterfaceName::of(&c.resolve, *id),
                WorldKey::Name(_) => None,
            },
            kind: match item {
                WorldItem::Interface { .. } => "interface",
                WorldItem::Function(_) => "function",
                WorldItem::Type { .. } => "type",
            },
            functions: match item {
                WorldItem::Interface { id, .. } => c.resolve.interfaces[*id].functions.len(),
                WorldItem::Function(_) => 1,
                WorldItem::Type { .. } => 0,
            },
        })
        .collect()
}

/// Part names appear in `--wire`, WAC files and reports: lowercase kebab-case.
pub fn check_name(name: &str) -> Result<(), Error> {
    let ok = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.split('-').all(|w| {
            !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        });
    if ok {
        Ok(())
    } else {
        Err(Error::BadPartName(name.to_string()))
    }
}

/// The default name of a part read from `path`: its file stem in kebab-case
/// (`build/db_adapter.wasm` -> `db-adapter`).
pub fn name_from_path(path: &str) -> String {
    let stem = std::path::Path::new(path)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("part");
    let mut out = String::new();
    for c in stem.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_string();
    match out.chars().next() {
        None => "part".to_string(),
        Some(c) if c.is_ascii_digit() => format!("p{out}"),
        Some(_) => out,
    }
}

/// Whether a part source names a registry artifact rather than a file:
/// `host[:port]/repo:tag`, `host/repo@sha256:...` or a package `ns:name@1.2.3`.
pub fn is_reference(source: &str) -> bool {
    if std::path::Path::new(source).exists()
        || source.ends_with(".wasm")
        || source.ends_with(".wat")
    {
        return false;
    }
    let (head, _) = source.split_once('@').unwrap_or((source, ""));
    let package = head.contains(':') && !head.contains('/') && source.contains('@');
    let repo = head.contains('/')
        && head
            .split('/')
            .next()
            .is_some_and(|h| h.contains('.') || h.contains(':') || h == "localhost")
        && (source.contains('@') || head.rsplit('/').next().is_some_and(|l| l.contains(':')));
    package || repo
}

/// The default part name for a reference: its repository's last segment, or the
/// package name (`localhost:5000/acme/db-adapter:1.0.0` -> `db-adapter`).
pub fn name_from_reference(reference: &str) -> String {
    let head = reference.split('@').next().unwrap_or(reference);
    let last = head.rsplit('/').next().unwrap_or(head);
    let name = if head.contains('/') {
        last.split(':').next().unwrap_or(last)
    } else {
        last.rsplit(':').next().unwrap_or(last)
    };
    name_from_path(name)
}
