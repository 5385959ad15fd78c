//! From a [`Plan`] to a component, with wac-graph, and the record of its parts.

use crate::Error;
use crate::part::Part;
use crate::plan::Plan;
use std::collections::{BTreeSet, HashMap};
use std::error::Error as _;
use wac_graph::{
    CompositionGraph, EncodeError, EncodeOptions, InstantiationArgumentError, NodeId, PackageId,
    Processor,
};
use wcomp_wasm::provenance::{CompositionRecord, PartRecord, WireRecord};

/// The version wcomp records as the composing tool.
pub struct Tool<'a> {
    pub name: &'a str,
    pub version: &'a str,
}

/// A composition, encoded and checked: its bytes (the record appended), the names of its
/// imports and exports, and its sha256. When parts stand in for large files
/// ([`crate::standin`]), the originals' bytes are put in their places only as the output
/// is written ([`Encoded::write_to`]), and its digest is known from then on.
pub struct Encoded {
    /// The output; with stand-ins, the bytes around the originals.
    bytes: Vec<u8>,
    splices: Vec<crate::standin::Splice>,
    /// With stand-ins, the output as checked: the stand-ins in the originals' places.
    checked: Option<Vec<u8>>,
    size: u64,
    digest: Option<wcomp_core::Digest>,
    /// Its world's imports and exports by name, in the order of the binary.
    pub imports: Vec<String>,
    pub exports: Vec<String>,
}

impl Encoded {
    /// Decodes its WIT world, for callers that show it: decoding costs more than the
    /// rest of a small composition, so it is done only when asked for.
    pub fn world(&self) -> Result<wcomp_wasm::component::DecodedComponent, Error> {
        let shown = self.checked.as_deref().unwrap_or(&self.bytes);
        wcomp_wasm::component::decode_unvalidated("composition", shown)
            .map_err(|e| Error::Encode(format!("the output does not decode: {e}")))
    }

    /// The output's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The output's bytes, when no part stands in for a file (otherwise they exist only
    /// as written by [`Encoded::write_to`]).
    pub fn bytes(&self) -> Option<&[u8]> {
        self.splices.is_empty().then_some(self.bytes.as_slice())
    }

    /// The output's sha256: known once it is encoded, or with stand-ins once it is
    /// written.
    pub fn digest(&self) -> Option<&wcomp_core::Digest> {
        self.digest.as_ref()
    }

    /// Writes the output to `out` (a new file) and returns its sha256.
    pub fn write_to(&mut self, out: &mut std::fs::File) -> Result<wcomp_core::Digest, Error> {
        if self.splices.is_empty() {
            std::io::Write::write_all(out, &self.bytes).map_err(Error::Write)?;
        } else {
            let digest = crate::standin::write_output(&self.bytes, &self.splices, out)?;
            self.digest = Some(digest);
        }
        Ok(self
            .digest
            .clone()
            .expect("the digest is known once written"))
    }
}

/// Validates the output with `validation` ([`validate`] or [`validate_structure`]), reads
/// the names of its imports and exports and hashes it; above 1 MiB, hashing runs on a
/// second thread (below it, starting the thread costs more than it saves). When some of
/// `parts` are composed through stand-ins, `bytes` embeds the stand-ins: it is checked as
/// it is (a stand-in has its original's type, and the original is known to be valid), and
/// the originals are then put in their places as it is written ([`Encoded::write_to`]) and
/// hashed then.
pub(crate) fn check(
    bytes: Vec<u8>,
    parts: &[&Part],
    validation: impl FnOnce(&[u8], Option<&wcomp_core::Digest>) -> Result<(), Error> + Send,
) -> Result<Encoded, Error> {
    let checked = |bytes: &[u8], digest: Option<&wcomp_core::Digest>| {
        validation(bytes, digest)?;
        wcomp_wasm::component::import_export_names("composition", bytes).map_err(blame_output)
    };
    if parts.iter().any(|p| p.original().is_some()) {
        let (imports, exports) = checked(&bytes, None)?;
        let (around, splices) = crate::standin::cut(&bytes, parts)?;
        let size = around.len() as u64 + splices.iter().map(|s| s.size()).sum::<u64>();
        return Ok(Encoded {
            size,
            bytes: around,
            splices,
            checked: Some(bytes),
            digest: None,
            imports,
            exports,
        });
    }
    let (checked, digest) = if bytes.len() <= wcomp_wasm::component::LARGE {
        let digest = wcomp_core::Digest::sha256(&bytes);
        (checked(&bytes, Some(&digest)), digest)
    } else {
        std::thread::scope(|s| {
            let digest = s.spawn(|| wcomp_core::Digest::sha256(&bytes));
            let checked = checked(&bytes, None);
            (checked, digest.join().expect("hashing thread panicked"))
        })
    };
    let (imports, exports) = checked?;
    Ok(Encoded {
        size: bytes.len() as u64,
        bytes,
        splices: Vec::new(),
        checked: None,
        digest: Some(digest),
        imports,
        exports,
    })
}

/// Encodes the composition `plan` describes, with its record appended, validated (see
/// [`validate`]) and hashed.
pub fn encode(parts: &[Part], plan: &Plan, tool: &Tool<'_>) -> Result<Encoded, Error> {
    if parts.iter().map(|p| p.bytes.len()).sum::<usize>() <= wcomp_wasm::component::LARGE {
        return encode_parts(parts, plan, tool);
    }
    // Parts are hashed (for the record, and to look them up in the validation memory) on
    // a second core while wac-graph reads and encodes them: both read every byte, and the
    // digests are needed only once the output is checked.
    std::thread::scope(|s| {
        s.spawn(|| {
            for p in parts {
                p.digest();
            }
        });
        encode_parts(parts, plan, tool)
    })
}

fn encode_parts(parts: &[Part], plan: &Plan, tool: &Tool<'_>) -> Result<Encoded, Error> {
    let mut graph = CompositionGraph::new();
    let mut packages: HashMap<usize, PackageId> = HashMap::new();
    for &i in &plan.order {
        let part = &parts[i];
        let package = wac_types::Package::from_bytes(
            &format!("compose:{}", part.name),
            None,
            part.bytes.clone(),
            graph.types_mut(),
        )
        .map_err(|e| {
            // Say what is wrong with the part's binary, and where, when it is invalid.
            if let Err(invalid) = wcomp_wasm::component::validate(&part.source, &part.bytes) {
                return invalid.into();
            }
            Error::Encode(format!("reading part `{}`: {e:#}", part.name))
        })?;
        let id = graph
            .register_package(package)
            .map_err(|e| Error::Encode(format!("{e:#}")))?;
        packages.insert(i, id);
    }
    let mut instances: HashMap<usize, NodeId> = HashMap::new();
    for &i in &plan.order {
        instances.insert(i, graph.instantiate(packages[&i]));
    }
    // wac-graph checks each wire's types as it is set: the pre-flight check. Every refused
    // wire is reported, explained in WIT terms, and nothing is encoded.
    let mut mismatches = Vec::new();
    for w in &plan.wires {
        let alias = graph
            .alias_instance_export(instances[&w.exporter], &w.export)
            .map_err(|e| {
                Error::Encode(format!(
                    "`{}`'s export `{}`: {e:#}",
                    w.exporter_name, w.export
                ))
            })?;
        match graph.set_instantiation_argument(instances[&w.importer], &w.import, alias) {
            Ok(()) => {}
            Err(e @ InstantiationArgumentError::ArgumentTypeMismatch { .. }) => {
                let mut explained = crate::plan::type_check(parts, w)?;
                if explained.is_empty() {
                    let why = e.source().map_or_else(|| e.to_string(), chain);
                    explained.push(crate::Problem::new(
                        crate::ProblemKind::TypeMismatch,
                        crate::plan::mismatch_message(w, &why),
                    ));
                }
                mismatches.extend(explained);
            }
            Err(e) => {
                return Err(Error::Encode(format!(
                    "wiring `{}`'s export `{}` to `{}`'s import `{}`: {}",
                    w.exporter_name,
                    w.export,
                    w.importer_name,
                    w.import,
                    chain(&e)
                )));
            }
        }
    }
    if !mismatches.is_empty() {
        return Err(Error::Rejected(mismatches));
    }
    // Imports no part satisfies are left implicit: wac-graph merges them by name and
    // imports semver-compatible versions of one interface once, at the newest, with a
    // type that is the union of what every part uses (an explicit import at one part's
    // type would lack functions only the other parts call). `Plan::unified` predicted
    // which; `unified_in` checks the result.
    let root = &parts[plan.root];
    for e in &root.exports {
        let alias = graph
            .alias_instance_export(instances[&plan.root], &e.name)
            .map_err(|err| Error::Encode(format!("{err:#}")))?;
        graph
            .export(alias, e.name.clone())
            .map_err(|err| Error::Encode(format!("{err:#}")))?;
    }
    let mut bytes = graph.encode(encode_options(tool)).map_err(|e| match &e {
        EncodeError::ImportTypeMergeConflict { import, source, .. } => {
            merge_conflict(plan, import, &format!("{source:#}"))
        }
        _ => Error::Encode(chain(&e)),
    })?;
    // Parts the plan leaves out are not in the output: none today (an unused plug is
    // refused), but their code must not go unchecked if that changes.
    for (i, part) in parts.iter().enumerate() {
        if !plan.order.contains(&i) && !part.known_valid() {
            wcomp_wasm::component::validate(&part.source, &part.bytes)?;
        }
    }
    let embedded: Vec<&Part> = plan.order.iter().map(|&i| &parts[i]).collect();
    let record = CompositionRecord {
        version: wcomp_wasm::provenance::VERSION,
        tool: format!("{} {}", tool.name, tool.version),
        root: Some(root.name.clone()),
        parts: plan
            .order
            .iter()
            .rev()
            .map(|&i| part_record(&parts[i]))
            .collect(),
        wires: plan
            .wires
            .iter()
            .map(|w| WireRecord {
                importer: w.importer_name.clone(),
                import: w.import.clone(),
                exporter: w.exporter_name.clone(),
                export: w.export.clone(),
            })
            .collect(),
        wac: None,
    };
    wcomp_wasm::provenance::append(&mut bytes, &record);
    check(bytes, &embedded, |b, digest| validate(b, digest, &embedded))
}

/// wac-graph refuses to import one interface once when the parts that import it disagree
/// on its types (semver-compatible versions, or the same version, that differ). Said in
/// our terms: which parts import what.
fn merge_conflict(plan: &Plan, name: &str, detail: &str) -> Error {
    let unversioned = |n: &str| n.split('@').next().unwrap_or(n).to_string();
    let importers: Vec<String> = plan
        .open_imports
        .iter()
        .filter(|o| unversioned(&o.name) == unversioned(name))
        .map(|o| format!("`{}` imports `{}`", o.part_name, o.name))
        .collect();
    let mut problem = crate::Problem::new(
        crate::ProblemKind::TypeMismatch,
        format!(
            "the parts import `{}` with types that disagree, so it cannot be imported once",
            unversioned(name)
        ),
    );
    problem.details = importers;
    problem.details.push(detail.to_string());
    Error::Rejected(vec![problem.hint(
        "rebuild the parts against one version of the interface, or add a part that exports it",
    )])
}

/// Validates an encoded composition. wac-graph embeds every part's bytes unchanged
/// (`define_components`) and adds only component-level items (instantiations, aliases,
/// exports). When every part in it is known to be valid (`Part::known_valid`: remembered
/// from an earlier build or composition), everything but the core function bodies is
/// validated, since the bodies are those parts' own. Otherwise the output is validated in
/// full, bodies on every core, which checks each part's code in the same pass (validating
/// the parts first and then the output again did the structural work twice); the parts
/// are then remembered as valid. When that fails, each unproven part is validated on its
/// own, so the error names the part at fault; the output is blamed only when every part
/// is valid. A failed composition remembers nothing. `digest` is the sha256 of `bytes`
/// when the caller has it.
pub(crate) fn validate(
    bytes: &[u8],
    digest: Option<&wcomp_core::Digest>,
    parts: &[&Part],
) -> Result<(), Error> {
    if parts.iter().all(|p| p.known_valid()) {
        return validate_structure(bytes, digest);
    }
    match wcomp_wasm::component::validate("composition", bytes) {
        Ok(()) => {
            for p in parts.iter().filter(|p| !p.known_valid()) {
                wcomp_wasm::component::remember_validated(p.digest());
            }
            Ok(())
        }
        Err(e) => {
            // Only to name the culprit: a failed composition remembers nothing.
            for p in parts.iter().filter(|p| !p.known_valid()) {
                wcomp_wasm::component::validate(&p.source, &p.bytes)?;
            }
            Err(blame_output(e))
        }
    }
}

/// Everything but the core function bodies, for an output whose parts are all known valid.
/// Such an output is valid in full, and is remembered as such when it is small (at most
/// [`wcomp_wasm::component::LARGE`]; with stand-ins, the output as checked is): the same
/// parts composed the same way again are not checked again. A large output is not hashed
/// for this, since it is validated in the time hashing it would take. `digest` is the
/// sha256 of `bytes` when the caller has it.
pub(crate) fn validate_structure(
    bytes: &[u8],
    digest: Option<&wcomp_core::Digest>,
) -> Result<(), Error> {
    let digest = match digest {
        Some(d) => Some(d.clone()),
        None => {
            (bytes.len() <= wcomp_wasm::component::LARGE).then(|| wcomp_core::Digest::sha256(bytes))
        }
    };
    if digest
        .as_ref()
        .is_some_and(wcomp_wasm::component::remembered_valid)
    {
        return Ok(());
    }
    wcomp_wasm::component::validate_except_function_bodies("composition", bytes)
        .map_err(blame_output)?;
    if let Some(digest) = digest {
        wcomp_wasm::component::remember_validated(&digest);
    }
    Ok(())
}

pub(crate) fn blame_output(e: wcomp_wasm::Error) -> Error {
    Error::Encode(format!("the output does not validate: {e}"))
}

/// How wcomp has wac-graph encode: components defined inline, validation left to
/// [`validate`], wcomp named as the processor.
pub(crate) fn encode_options<'a>(tool: &Tool<'a>) -> EncodeOptions<'a> {
    EncodeOptions {
        define_components: true,
        validate: false,
        processor: Some(Processor {
            name: tool.name,
            version: tool.version,
        }),
    }
}

pub fn part_record(p: &Part) -> PartRecord {
    PartRecord {
        name: p.name.clone(),
        source: p.source.clone(),
        digest: p.digest().to_string(),
        size: p.size(),
        reference: p.origin.as_ref().map(|o| o.reference.clone()),
        manifest_digest: p.origin.as_ref().map(|o| o.manifest_digest.clone()),
        signer: p.origin.as_ref().and_then(|o| o.signer.clone()),
    }
}

/// An error and its causes on one line.
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

/// The unifications of `plan` that the encoded component actually has: the chosen
/// version imported and none of the others.
pub fn unified_in<'p>(
    plan: &'p Plan,
    imports: &BTreeSet<String>,
) -> (
    Vec<&'p crate::plan::Unification>,
    Vec<&'p crate::plan::Unification>,
) {
    plan.unified.iter().partition(|u| {
        imports.contains(&u.chosen)
            && u.from
                .iter()
                .all(|(_, name)| name == &u.chosen || !imports.contains(name))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Options, plan};

    const WIT: &str = "package test:parts@1.0.0;
        interface greet { greet: func(name: string) -> string; }
        world plug { export greet; }
        world root { import greet; export run: func() -> string; }";

    fn component(world: &str) -> Vec<u8> {
        crate::test_support::dummy_component(WIT, world)
    }

    /// `parts` composed with the first as the root and no import left open; the output is
    /// validated in full here, whatever `encode` checked.
    fn encode_closed(parts: &[Part]) -> Encoded {
        let plan = plan(parts, 0, &[], Options { closed: true }).unwrap();
        let tool = Tool {
            name: "test",
            version: "0",
        };
        let encoded = encode(parts, &plan, &tool).unwrap();
        wcomp_wasm::component::validate("out", encoded.bytes().unwrap()).unwrap();
        encoded
    }

    /// The output is checked without its function bodies; checked in full, it is valid
    /// too, so nothing was lost by leaving those to the parts' own validation.
    #[test]
    fn the_output_validates_in_full() {
        let parts = vec![
            Part::load("root", "root.wasm", component("root")).unwrap(),
            Part::load("plug", "plug.wasm", component("plug")).unwrap(),
        ];
        let encoded = encode_closed(&parts);
        assert_eq!(
            encoded.digest().unwrap(),
            &wcomp_core::Digest::sha256(encoded.bytes().unwrap())
        );
        let out = encoded.world().unwrap();
        let world = &out.resolve.worlds[out.world];
        assert!(world.imports.is_empty(), "the plug satisfies the root");
        assert_eq!(world.exports.len(), 1);
        // The names read from the binary are the decoded world's.
        assert!(encoded.imports.is_empty());
        let names: Vec<String> = world
            .exports
            .keys()
            .map(|k| out.resolve.name_world_key(k))
            .collect();
        assert_eq!(encoded.exports, names);
        // Each part is embedded as it is: what lets a WAC composition's full validation
        // stand for its `--dep`s' own.
        let nested =
            wcomp_wasm::component::nested_components("out", encoded.bytes().unwrap()).unwrap();
        assert_eq!(nested.len(), 2);
        for p in &parts {
            assert!(nested.contains(&p.bytes.as_slice()), "{} embedded", p.name);
        }
        let bytes = encoded.bytes().unwrap();
        let cut = &bytes[..bytes.len() / 2];
        assert!(wcomp_wasm::component::nested_components("out", cut).is_err());
    }

    /// Over 1 MiB, parts are hashed on a second thread while wac-graph encodes them: the
    /// digests (each part's, and the record's) are still those of the parts' bytes.
    #[test]
    fn large_parts_are_hashed_beside_the_encoding() {
        let root =
            "(component (import \"answer\" (func $a (result u32))) (export \"get\" (func $a)))";
        let plug = format!(
            "(component (core module $m (memory 24) (data (i32.const 0) \"{}\") (func (export \"f\") (result i32) i32.const 42)) (core instance $i (instantiate $m)) (func $f (result u32) (canon lift (core func $i \"f\"))) (export \"answer\" (func $f)))",
            "wcomp".repeat(300_000)
        );
        let parts = vec![
            Part::load("root", "root.wat", root.as_bytes().to_vec()).unwrap(),
            Part::load("plug", "plug.wat", plug.into_bytes()).unwrap(),
        ];
        assert!(parts[1].bytes.len() > 1 << 20, "the large path");
        let encoded = encode_closed(&parts);
        for p in &parts {
            assert_eq!(
                p.digest(),
                &wcomp_core::Digest::sha256(&p.bytes),
                "{}",
                p.name
            );
        }
        let record = wcomp_wasm::provenance::read(encoded.bytes().unwrap())
            .expect("a record")
            .unwrap();
        let recorded: Vec<(String, String)> = record
            .parts
            .iter()
            .map(|r| (r.name.clone(), r.digest.clone()))
            .collect();
        for p in &parts {
            assert!(
                recorded.contains(&(p.name.clone(), p.digest().to_string())),
                "{recorded:?}"
            );
        }
    }

    #[test]
    fn an_invalid_output_is_refused() {
        let e = validate(b"\0asm\x0d\0\x01\0\x7f", None, &[]).unwrap_err();
        assert!(matches!(e, Error::Encode(_)), "{e}");
    }
}
