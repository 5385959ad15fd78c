//! A part of a composition: a component read from a file, the names it imports and
//! exports (read from its own sections), and its WIT world, decoded when needed.

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
    /// Its world, decoded on first use ([`Part::world`]): only a type mismatch to explain
    /// needs it, and decoding costs more than composing a small part.
    world: OnceLock<DecodedComponent>,
    pub imports: Vec<Item>,
    pub exports: Vec<Item>,
    /// Where a part pulled from a registry came from, and who signed it.
    pub origin: Option<Origin>,
    /// For a part composed through a stand-in ([`Part::from_file`]), the file whose bytes
    /// take the stand-in's place in the output; `bytes` then holds the stand-in.
    original: Option<crate::standin::Original>,
    /// A large part file's identity when it was read, for [`crate::standin::remember`].
    seen: Option<crate::standin::Seen>,
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
    /// Functions in it (an interface imported only for its types has none). Always known
    /// for imports; `None` for an export read from the binary's sections, where nothing
    /// needs it.
    pub functions: Option<usize>,
}

impl Part {
    /// Reads a part from bytes: refuses anything that is not a component, with the reason.
    /// Its imports and exports are read from the binary's own sections
    /// ([`wcomp_wasm::component::scan_items`]); its world is decoded only when something
    /// the scan cannot tell needs it (an item no WIT world has, an instance type the
    /// component does not define itself, an unusual name, exported types, which an encoded
    /// WIT package has). Its code is validated as part of the output.
    pub fn load(name: &str, source: &str, bytes: Vec<u8>) -> Result<Part, Error> {
        check_name(name)?;
        let bytes = component_bytes(source, bytes)?;
        let scanned = match wcomp_wasm::component::scan_items(source, &bytes) {
            Ok(scanned) => scanned,
            Err(e) => {
                // Say what is wrong with the binary, and where.
                wcomp_wasm::component::validate(source, &bytes)?;
                return Err(e.into());
            }
        };
        let world = OnceLock::new();
        let (imports, exports) = match scanned_items(&scanned) {
            Some(items) => items,
            None => {
                let decoded = wcomp_wasm::component::decode_unvalidated(source, &bytes)?;
                let items = world_items(&decoded);
                let _ = world.set(decoded);
                items
            }
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
            original: None,
            seen: None,
        })
    }

    /// Reads a part from a file ([`Part::load`], or [`Part::load_undecoded`] without
    /// `decode`). A large file composed before is read through its stand-in: see
    /// [`crate::standin`].
    pub fn from_file(
        name: &str,
        source: &str,
        path: &std::path::Path,
        decode: bool,
    ) -> Result<Part, Error> {
        use crate::standin::Opened;
        let read = if decode {
            Part::load
        } else {
            Part::load_undecoded
        };
        match crate::standin::open(path)? {
            Opened::Read(r) => {
                // Only a binary is embedded as the file has it (WAT text is converted):
                // only its bytes can be copied from the file in a stand-in's place.
                let binary = r.bytes.starts_with(b"\0asm");
                let mut part = read(name, source, r.bytes)?;
                part.seen = r.seen.filter(|_| binary);
                Ok(part)
            }
            Opened::StandIn {
                stand_in,
                digest,
                original,
            } => {
                // Stand-ins are small, and their original is remembered as valid.
                let mut part = if decode {
                    Part::load(name, source, stand_in)?
                } else {
                    Part::unread(name, source, component_bytes(source, stand_in)?)
                };
                part.recalled = OnceLock::from((digest, true));
                part.original = Some(original);
                Ok(part)
            }
        }
    }

    /// Reads a part whose wiring someone else decides (a WAC file's `--dep`): checked to be
    /// a component and hashed, but its imports and exports are not read (`imports` and
    /// `exports` are empty): wac-graph reads its types, and its code is validated with the
    /// output that embeds it (or on its own when the output does not).
    pub fn load_undecoded(name: &str, source: &str, bytes: Vec<u8>) -> Result<Part, Error> {
        check_name(name)?;
        let bytes = component_bytes(source, bytes)?;
        let part = Part::unread(name, source, bytes);
        // Hashed now, on the loading thread (one per part when they are large): nothing
        // else reads a `--dep` before wac-graph, which runs on one thread.
        part.recalled();
        Ok(part)
    }

    /// A part with its imports and exports not read.
    fn unread(name: &str, source: &str, bytes: Vec<u8>) -> Part {
        Part {
            name: name.to_string(),
            source: source.to_string(),
            recalled: OnceLock::new(),
            bytes,
            world: OnceLock::new(),
            imports: Vec::new(),
            exports: Vec::new(),
            origin: None,
            original: None,
            seen: None,
        }
    }

    /// The size of the component: its original's when `bytes` is a stand-in.
    pub fn size(&self) -> u64 {
        self.original
            .as_ref()
            .map_or(self.bytes.len() as u64, |o| o.size())
    }

    /// The file whose bytes replace the stand-in in `bytes`, for a part composed through
    /// one.
    pub(crate) fn original(&self) -> Option<&crate::standin::Original> {
        self.original.as_ref()
    }

    pub(crate) fn seen(&self) -> Option<&crate::standin::Seen> {
        self.seen.as_ref()
    }

    /// Its WIT world, decoded on first use.
    pub fn world(&self) -> Result<&DecodedComponent, Error> {
        if let Some(w) = self.world.get() {
            return Ok(w);
        }
        let decoded = wcomp_wasm::component::decode_unvalidated(&self.source, &self.bytes)?;
        Ok(self.world.get_or_init(|| decoded))
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

    pub fn check_world(&self) -> Result<wcomp_wasm::check::World<'_>, Error> {
        let w = self.world()?;
        Ok(wcomp_wasm::check::World {
            resolve: &w.resolve,
            id: w.world,
        })
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

/// Imports and exports from the scan, or `None` when the scan cannot tell what the decoded
/// world would say (see [`Part::load`]).
fn scanned_items(
    (imports, exports): &(
        Vec<wcomp_wasm::component::ScannedItem>,
        Vec<wcomp_wasm::component::ScannedItem>,
    ),
) -> Option<(Vec<Item>, Vec<Item>)> {
    use wcomp_wasm::component::Sort;
    let item = |i: &wcomp_wasm::component::ScannedItem, import: bool| -> Option<Option<Item>> {
        if i.unusual_name {
            return None;
        }
        let iface = InterfaceName::parse(&i.name);
        // A name that looks like a package's interface but does not parse as one.
        if iface.is_none() && (i.name.contains(':') || i.name.contains('/')) {
            return None;
        }
        Some(match i.sort {
            Sort::Instance => Some(Item {
                name: i.name.clone(),
                iface,
                kind: "interface",
                functions: if import {
                    Some(i.functions?)
                } else {
                    i.functions
                },
            }),
            Sort::Func => Some(Item {
                name: i.name.clone(),
                iface: None,
                kind: "function",
                functions: Some(1),
            }),
            // A WIT world's `use`d types: not wired.
            Sort::Type if import => None,
            Sort::Type | Sort::Other => return None,
        })
    };
    let imports = imports
        .iter()
        .map(|i| item(i, true))
        .collect::<Option<Vec<_>>>()?;
    let exports = exports
        .iter()
        .map(|i| item(i, false))
        .collect::<Option<Vec<_>>>()?;
    Some((
        imports.into_iter().flatten().collect(),
        exports.into_iter().flatten().collect(),
    ))
}

/// Imports and exports from a decoded world.
fn world_items(c: &DecodedComponent) -> (Vec<Item>, Vec<Item>) {
    let w = &c.resolve.worlds[c.world];
    (items(c, w.imports.iter()), items(c, w.exports.iter()))
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
            functions: Some(match item {
                WorldItem::Interface { id, .. } => c.resolve.interfaces[*id].functions.len(),
                WorldItem::Function(_) => 1,
                WorldItem::Type { .. } => 0,
            }),
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

#[cfg(test)]
mod tests {
    use super::*;
    use wit_parser::Resolve;

    /// Worlds with what toolchains put in components: interfaces with resources and
    /// `use`d types, an interface imported only for its types, bare functions, versioned
    /// and unversioned packages, and one interface both imported and exported.
    const WIT: &str = "package test:scan@1.2.0;
        interface types { record point { x: u32, y: u32 } type id = u64; }
        interface store {
            use types.{point, id};
            resource cursor { constructor(start: id); next: func() -> option<point>; }
            put: func(p: point) -> id;
            get: func(i: id) -> option<point>;
        }
        interface log { info: func(msg: string); }
        world part {
            import types;
            import store;
            import log;
            import now: func() -> u64;
            export log;
            export store;
            export run: func(n: u32) -> string;
        }";

    fn component() -> Vec<u8> {
        crate::test_support::dummy_component(WIT, "part")
    }

    fn summary(items: &[Item]) -> Vec<(String, Option<String>, &'static str, Option<usize>)> {
        items
            .iter()
            .map(|i| {
                (
                    i.name.clone(),
                    i.iface.as_ref().map(|n| n.to_string()),
                    i.kind,
                    i.functions,
                )
            })
            .collect()
    }

    /// The scan of the binary's sections says what the decoded world says, without
    /// decoding it (exports' function counts are not read, and nothing needs them).
    #[test]
    fn the_scan_reads_what_the_decoded_world_says() {
        let part = Part::load("part", "part.wasm", component()).unwrap();
        assert!(
            part.world.get().is_none(),
            "the scan was enough: nothing decoded"
        );
        let (imports, exports) = world_items(part.world().unwrap());
        assert_eq!(summary(&part.imports), summary(&imports));
        let unread = |items: &[Item]| {
            let mut s = summary(items);
            s.iter_mut()
                .filter(|i| i.2 == "interface")
                .for_each(|i| i.3 = None);
            s
        };
        assert_eq!(summary(&part.exports), unread(&exports));
        // The counts themselves, so the comparison cannot pass on two empty lists.
        let functions = |name: &str| part.import(name).and_then(|i| i.functions);
        assert_eq!(
            functions("test:scan/types@1.2.0"),
            Some(0),
            "imported for its types"
        );
        assert_eq!(
            functions("test:scan/store@1.2.0"),
            Some(4),
            "2 + the resource's 2"
        );
        assert_eq!(functions("test:scan/log@1.2.0"), Some(1));
        assert_eq!(functions("now"), Some(1));
        assert_eq!(part.exports.len(), 3);
    }

    /// What the scan cannot tell is decoded, and refused as before when it is no WIT world:
    /// an encoded WIT package (which exports types), a component exporting a type.
    #[test]
    fn what_the_scan_cannot_tell_is_decoded() {
        let mut resolve = Resolve::new();
        let pkg = resolve.push_str("scan.wit", WIT).unwrap();
        let package = wit_component::encode(&resolve, pkg, false).unwrap();
        let e = Part::load("pkg", "pkg.wasm", package)
            .err()
            .expect("refused");
        assert!(e.to_string().contains("WIT package"), "{e}");

        let typed = wat::parse_str(
            r#"(component
                (type $t (record (field "x" u32)))
                (export "point" (type $t))
                (import "log" (func (param "n" u32))))"#,
        )
        .unwrap();
        let e = Part::load("typed", "typed.wasm", typed)
            .err()
            .expect("refused");
        assert!(e.to_string().contains("export `point`"), "{e}");
    }
}
