//! Validating a component and decoding its world.

use crate::Error;
use wasmparser::{ValidPayload, Validator, WasmFeatures};
use wcomp_core::Digest;
use wit_parser::decoding::DecodedWasm;
use wit_parser::{Resolve, WorldId};

/// A component's world, decoded from its type.
pub struct DecodedComponent {
    pub resolve: Resolve,
    pub world: WorldId,
}

/// Full wasmparser validation, component model on (every feature wasmparser knows, so
/// components from newer toolchains are not refused for a proposal we merely disabled).
///
/// Function bodies, most of the work on a large component, are validated on every core
/// (as `wasm-tools validate` does); the verdict and the error reported are the same as a
/// single-threaded pass: the first invalid body in binary order.
pub fn validate(name: &str, bytes: &[u8]) -> Result<(), Error> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 || bytes.len() < PARALLEL_BODIES_ABOVE {
        return Validator::new_with_features(WasmFeatures::all())
            .validate_all(bytes)
            .map(drop)
            .map_err(|e| binary_error(name, bytes.len(), e));
    }
    validate_parallel(name, bytes, threads)
}

fn validate_parallel(name: &str, bytes: &[u8], threads: usize) -> Result<(), Error> {
    let mut validator = Validator::new_with_features(WasmFeatures::all());
    let mut bodies = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| binary_error(name, bytes.len(), e))?;
        if let ValidPayload::Func(func, body) = validator
            .payload(&payload)
            .map_err(|e| binary_error(name, bytes.len(), e))?
        {
            bodies.push((func, body));
        }
    }
    validate_bodies(bodies, threads).map_err(|e| binary_error(name, bytes.len(), e))
}

/// Below this size a component is validated on one thread: starting threads would cost
/// more than they save.
const PARALLEL_BODIES_ABOVE: usize = 512 * 1024;

/// Validates function bodies on `threads` threads, each taking the next unclaimed body.
/// Once a body fails, bodies after it are skipped, but every body before it is still
/// checked, so the error returned is the first in binary order whatever the timing.
fn validate_bodies(
    bodies: Vec<(
        wasmparser::FuncToValidate<wasmparser::ValidatorResources>,
        wasmparser::FunctionBody<'_>,
    )>,
    threads: usize,
) -> Result<(), wasmparser::BinaryReaderError> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let first_failure = AtomicUsize::new(usize::MAX);
    let error: Mutex<Option<(usize, wasmparser::BinaryReaderError)>> = Mutex::new(None);
    let slots: Vec<Mutex<Option<_>>> = bodies.into_iter().map(|b| Mutex::new(Some(b))).collect();
    std::thread::scope(|s| {
        for _ in 0..threads.min(slots.len().max(1)) {
            s.spawn(|| {
                let mut allocs = wasmparser::FuncValidatorAllocations::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= slots.len() || i > first_failure.load(Ordering::Relaxed) {
                        return;
                    }
                    let Some((func, body)) = slots[i].lock().expect("unpoisoned").take() else {
                        continue;
                    };
                    let mut v = func.into_validator(allocs);
                    let result = v.validate(&body);
                    allocs = v.into_allocations();
                    if let Err(e) = result {
                        first_failure.fetch_min(i, Ordering::Relaxed);
                        let mut slot = error.lock().expect("unpoisoned");
                        if slot.as_ref().is_none_or(|(j, _)| i < *j) {
                            *slot = Some((i, e));
                        }
                    }
                }
            });
        }
    });
    match error.into_inner().expect("unpoisoned") {
        Some((_, e)) => Err(e),
        None => Ok(()),
    }
}

/// wasmparser validation of everything except core function bodies: the structure, every
/// type, import, export, instantiation and alias, and each module's sections. For bytes
/// whose code is known to be valid already: a composition's core modules are its parts'
/// modules, copied unchanged, and the parts were fully validated when they were loaded,
/// so checking their function bodies again would only repeat the most expensive pass.
pub fn validate_except_function_bodies(name: &str, bytes: &[u8]) -> Result<(), Error> {
    let mut validator = Validator::new_with_features(WasmFeatures::all());
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| binary_error(name, bytes.len(), e))?;
        // A `ValidPayload::Func` is a function body handed back for validation: skipped.
        validator
            .payload(&payload)
            .map_err(|e| binary_error(name, bytes.len(), e))?;
    }
    Ok(())
}

/// The names of a component's own imports and exports (its world's items: `ns:pkg/iface@1.0.0`
/// or plain names), in the order of the binary, read without decoding its world or looking
/// inside the modules and components nested in it. For bytes validated already: a
/// composition's summary needs only these names, and decoding its world costs more than
/// encoding a small composition.
pub fn import_export_names(name: &str, bytes: &[u8]) -> Result<(Vec<String>, Vec<String>), Error> {
    let names = |items: Vec<ScannedItem>| items.into_iter().map(|i| i.name).collect();
    let (imports, exports) = scan_items(name, bytes)?;
    Ok((names(imports), names(exports)))
}

/// What a component's own import or export is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    /// An instance: an interface, in WIT.
    Instance,
    Func,
    Type,
    /// A module, component or value: nothing a WIT world has.
    Other,
}

/// One of a component's own imports or exports, as its binary states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedItem {
    /// The full name (`ns:pkg/iface@1.0.0`, or a plain name).
    pub name: String,
    pub sort: Sort,
    /// For an imported instance whose type the component defines itself (as every
    /// toolchain's output does): how many functions that type has. `None` otherwise
    /// (exports, or a type the scan does not follow).
    pub functions: Option<usize>,
    /// The name carries more than a plain or `ns:pkg/iface@version` name says
    /// (`implements`, or a version suffix in the binary).
    pub unusual_name: bool,
}

/// A component's own imports and exports, read from its top-level sections only: no
/// validation, and the modules and components nested in it are stepped over. An imported
/// instance's function count is read from the instance type it names when that type is
/// defined in a top-level type section. This is what a composer needs to plan the wiring,
/// at a fraction of the cost of decoding the WIT world (which validates the whole
/// component first).
pub fn scan_items(name: &str, bytes: &[u8]) -> Result<(Vec<ScannedItem>, Vec<ScannedItem>), Error> {
    use wasmparser::{
        ComponentAlias, ComponentExternalKind, ComponentOuterAliasKind, ComponentType,
        ComponentTypeRef, InstanceTypeDeclaration, Payload,
    };
    let error = |e| binary_error(name, bytes.len(), e);
    let (mut imports, mut exports) = (Vec::new(), Vec::new());
    // The component's type index space: for each type, its function count when it is an
    // instance type defined here.
    let mut types: Vec<Option<usize>> = Vec::new();
    let item = |n: &wasmparser::ComponentExternName<'_>, sort, functions| ScannedItem {
        name: n.full_name().into_owned(),
        sort,
        functions,
        unusual_name: n.implements.is_some() || n.version_suffix.is_some(),
    };
    let sort_of = |kind: ComponentExternalKind| match kind {
        ComponentExternalKind::Instance => Sort::Instance,
        ComponentExternalKind::Func => Sort::Func,
        ComponentExternalKind::Type => Sort::Type,
        _ => Sort::Other,
    };
    each_top_level_payload(name, bytes, |payload| {
        match payload {
            Payload::ComponentTypeSection(reader) => {
                for ty in reader {
                    types.push(match ty.map_err(error)? {
                        ComponentType::Instance(decls) => Some(
                            decls
                                .iter()
                                .filter(|d| {
                                    matches!(
                                        d,
                                        InstanceTypeDeclaration::Export {
                                            ty: ComponentTypeRef::Func(_),
                                            ..
                                        }
                                    )
                                })
                                .count(),
                        ),
                        _ => None,
                    });
                }
            }
            Payload::ComponentImportSection(reader) => {
                for import in reader {
                    let import = import.map_err(error)?;
                    let (sort, functions) = match import.ty {
                        ComponentTypeRef::Instance(i) => {
                            (Sort::Instance, types.get(i as usize).copied().flatten())
                        }
                        ComponentTypeRef::Func(_) => (Sort::Func, None),
                        ComponentTypeRef::Type(_) => {
                            types.push(None);
                            (Sort::Type, None)
                        }
                        _ => (Sort::Other, None),
                    };
                    imports.push(item(&import.name, sort, functions));
                }
            }
            Payload::ComponentAliasSection(reader) => {
                for alias in reader {
                    match alias.map_err(error)? {
                        ComponentAlias::InstanceExport {
                            kind: ComponentExternalKind::Type,
                            ..
                        }
                        | ComponentAlias::Outer {
                            kind: ComponentOuterAliasKind::Type,
                            ..
                        } => types.push(None),
                        _ => {}
                    }
                }
            }
            Payload::ComponentExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(error)?;
                    // Exporting a type gives it a new index, as importing one does.
                    if export.kind == ComponentExternalKind::Type {
                        types.push(None);
                    }
                    exports.push(item(&export.name, sort_of(export.kind), None));
                }
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok((imports, exports))
}

/// Calls `visit` with each payload of the component or module `bytes` itself, in order:
/// a nested module or component is one payload (its section, whose bytes `visit` may
/// read), and a code section is not read at all. Errors on bytes that do not parse.
fn each_top_level_payload<'a>(
    name: &str,
    bytes: &'a [u8],
    mut visit: impl FnMut(wasmparser::Payload<'a>) -> Result<(), Error>,
) -> Result<(), Error> {
    use wasmparser::{Chunk, Payload};
    let error = |e| binary_error(name, bytes.len(), e);
    let mut parser = wasmparser::Parser::new(0);
    let mut data = bytes;
    loop {
        let (payload, consumed) = match parser.parse(data, true).map_err(error)? {
            Chunk::Parsed { payload, consumed } => (payload, consumed),
            // With `eof` set, the parser reports missing bytes as an error instead.
            Chunk::NeedMoreData(_) => unreachable!("parsing with eof"),
        };
        data = &data[consumed..];
        // The parser has already counted a nested module's or component's bytes (or a
        // skipped code section's) as read: step over them.
        let nested = match &payload {
            Payload::ModuleSection {
                unchecked_range, ..
            }
            | Payload::ComponentSection {
                unchecked_range, ..
            } => Some(unchecked_range.end - unchecked_range.start),
            Payload::CodeSectionStart { size, .. } => {
                parser.skip_section();
                Some(u64::from(*size))
            }
            _ => None,
        };
        // Checked before `visit` reads a nested section's bytes.
        let rest = match nested {
            Some(len) => usize::try_from(len)
                .ok()
                .and_then(|len| data.get(len..))
                .ok_or_else(|| Error::Truncated {
                    name: name.to_string(),
                    len: bytes.len(),
                    message: "a nested section runs past the end".to_string(),
                })?,
            None => data,
        };
        let end = matches!(payload, Payload::End(_));
        visit(payload)?;
        if end {
            return Ok(());
        }
        data = rest;
    }
}

/// The bytes of each component nested directly in `bytes` (not in its nested components),
/// in order: a composer embeds its parts this way, unchanged.
pub fn nested_components<'a>(name: &str, bytes: &'a [u8]) -> Result<Vec<&'a [u8]>, Error> {
    let mut found = Vec::new();
    each_top_level_payload(name, bytes, |payload| {
        if let wasmparser::Payload::ComponentSection {
            unchecked_range, ..
        } = payload
        {
            // In range: checked before the section is visited.
            found.push(&bytes[unchecked_range.start as usize..unchecked_range.end as usize]);
        }
        Ok(())
    })?;
    Ok(found)
}

/// Turns a wasmparser error into ours; running out of bytes is reported as truncation.
pub(crate) fn binary_error(name: &str, len: usize, e: wasmparser::BinaryReaderError) -> Error {
    let message = e.message().to_string();
    if message.contains("unexpected end") {
        Error::Truncated {
            name: name.to_string(),
            len,
            message: format!("{message} at byte offset {:#x}", e.offset()),
        }
    } else {
        Error::Invalid {
            name: name.to_string(),
            offset: e.offset() as usize,
            message,
        }
    }
}

/// What an encoded wasm binary decodes to.
pub enum Decoded {
    Component(DecodedComponent),
    /// A WIT package encoded as wasm (what `wasm-tools component wit --wasm` writes).
    WitPackage(Resolve, wit_parser::PackageId),
}

/// Decodes the WIT world of a component, or the package of an encoded WIT package.
pub fn decode(bytes: &[u8]) -> Result<Decoded, Error> {
    match wit_parser::decoding::decode(bytes) {
        Ok(DecodedWasm::Component(resolve, world)) => {
            Ok(Decoded::Component(DecodedComponent { resolve, world }))
        }
        Ok(DecodedWasm::WitPackage(resolve, pkg)) => Ok(Decoded::WitPackage(resolve, pkg)),
        Err(e) => Err(Error::Undecodable {
            message: format!("{e:#}"),
        }),
    }
}

/// Validates and decodes a component, which may turn out to be an encoded WIT package.
/// Both passes read the whole binary, so on large inputs they run on two threads.
pub fn load_any(name: &str, bytes: &[u8]) -> Result<Decoded, Error> {
    let (valid, decoded) = check_and_decode(bytes, || validate(name, bytes));
    // Validation errors explain more (offsets, truncation) than decoding errors.
    valid?;
    decoded
}

/// Inputs above this size are large: worth a second thread for an independent pass over
/// them, and decoded from a skeleton ([`without_data`]). Below it, starting a thread or
/// copying costs more than it saves.
pub const LARGE: usize = 1 << 20;

/// Decodes the world of `bytes`: from a skeleton when they are [`LARGE`] (the original
/// when the skeleton cannot be made).
fn decode_world(bytes: &[u8]) -> Result<Decoded, Error> {
    let skeleton = (bytes.len() > LARGE).then(|| without_data(bytes)).flatten();
    decode(skeleton.as_deref().unwrap_or(bytes))
}

/// Runs `check` (validation) and decodes the world; on inputs over 1 MiB, on two threads,
/// decoding a data- and code-free skeleton (see [`without_data`]).
fn check_and_decode<T: Send>(
    bytes: &[u8],
    check: impl FnOnce() -> Result<T, Error> + Send,
) -> (Result<T, Error>, Result<Decoded, Error>) {
    if bytes.len() <= LARGE {
        return (check(), decode(bytes));
    }
    std::thread::scope(|s| {
        let v = s.spawn(check);
        let d = decode_world(bytes);
        (v.join().expect("validator thread panicked"), d)
    })
}

/// Where the digests of components that passed full validation are remembered, when the
/// caller asked for it ([`remember_validated_in`]); a library user gets no such memory.
static VALIDATED: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

/// The validator whose verdicts the memory holds. Its verdict on given bytes can change
/// with its version, so each version has its own directory (a unit test keeps this in
/// step with the workspace's `wasmparser` requirement).
const VALIDATOR: &str = "wasmparser-0.262-all-features";

/// Lets [`load_hashed`] remember, under `dir`, the sha256 of every component it fully
/// validated, and not validate a component remembered there again (the same verdict: the
/// bytes are the ones that passed). Decoding its world still reads its structure.
/// The wcomp CLI points it at its cache directory, so a component built or composed once
/// is not re-checked instruction by instruction each time it is composed again.
pub fn remember_validated_in(dir: std::path::PathBuf) {
    let _ = VALIDATED.set(dir.join(VALIDATOR));
}

/// The directory of the validation memory, when the caller set one
/// ([`remember_validated_in`]): the markers are its files named by digest; other memories
/// tied to this validator (a composer's stand-ins) live in its subdirectories.
pub fn memory_dir() -> Option<&'static std::path::Path> {
    VALIDATED.get().map(|d| d.as_path())
}

/// The marker file saying that the bytes with `digest` passed full validation, when the
/// caller asked for a memory ([`remember_validated_in`]).
fn marker(digest: &Digest) -> Option<std::path::PathBuf> {
    VALIDATED.get().map(|dir| dir.join(digest.hex()))
}

/// Whether the component with `digest` is remembered as having passed full validation.
pub fn remembered_valid(digest: &Digest) -> bool {
    marker(digest).is_some_and(|m| m.is_file())
}

/// Records that the component with `digest` passed full validation (see
/// [`remember_validated_in`]), for callers that validated it another way.
pub fn remember_validated(digest: &Digest) {
    if let Some(m) = marker(digest) {
        // A memory that cannot be written only means validating again next time.
        let _ = fs_err::create_dir_all(m.parent().expect("markers are in a directory"))
            .and_then(|()| fs_err::write(&m, b""));
    }
}

/// As [`load`], and also the sha256 of the bytes, computed on the validating thread. With a
/// memory set by [`remember_validated_in`], a component whose digest is remembered is not
/// validated again, and one validated in full is remembered.
pub fn load_hashed(name: &str, bytes: &[u8]) -> Result<(DecodedComponent, Digest), Error> {
    let check = || -> Result<Digest, Error> {
        let digest = Digest::sha256(bytes);
        // Remembered: these exact bytes passed full validation by this validator before.
        if !marker(&digest).is_some_and(|m| m.is_file()) {
            validate(name, bytes)?;
            remember_validated(&digest);
        }
        Ok(digest)
    };
    let (checked, decoded) = check_and_decode(bytes, check);
    let digest = checked?;
    match decoded? {
        Decoded::Component(c) => Ok((c, digest)),
        Decoded::WitPackage(..) => Err(Error::WitPackageNotComponent {
            name: name.to_string(),
        }),
    }
}

/// The sha256 of `bytes`, and whether they passed full validation before (the memory of
/// [`remember_validated_in`]).
pub fn hash_and_recall(bytes: &[u8]) -> (Digest, bool) {
    let digest = Digest::sha256(bytes);
    let known = remembered_valid(&digest);
    (digest, known)
}

/// Decodes a component's world without validating its code, for callers that validate the
/// bytes another way: a composer validates its output, which embeds every part unchanged,
/// and so checks each part's code in that one pass. Inputs over 1 MiB are decoded from a
/// data- and code-free skeleton ([`without_data`]). When decoding fails, the bytes are
/// validated, so the error says what is wrong and where.
pub fn decode_unvalidated(name: &str, bytes: &[u8]) -> Result<DecodedComponent, Error> {
    match decode_world(bytes) {
        Ok(Decoded::Component(c)) => Ok(c),
        Ok(Decoded::WitPackage(..)) => Err(Error::WitPackageNotComponent {
            name: name.to_string(),
        }),
        Err(e) => {
            validate(name, bytes)?;
            Err(e)
        }
    }
}

/// Validates and decodes a component; an encoded WIT package is an error here.
pub fn load(name: &str, bytes: &[u8]) -> Result<DecodedComponent, Error> {
    match load_any(name, bytes)? {
        Decoded::Component(c) => Ok(c),
        Decoded::WitPackage(..) => Err(Error::WitPackageNotComponent {
            name: name.to_string(),
        }),
    }
}

/// A copy of a component with every core module's data segments and custom sections
/// removed and function bodies reduced to `unreachable` (nested components included). Types, and so the decoded
/// world, are unchanged (the decoder never looks inside function bodies), but there are far
/// fewer bytes for wit-parser's decoder, which streams each section through a buffer it
/// zero-fills first: on a component carrying 30 MB of data that costs more than the
/// validation itself. Full validation always runs on the original bytes. `None` when the binary is not laid out as expected (the caller then
/// decodes the original).
pub(crate) fn without_data(bytes: &[u8]) -> Option<Vec<u8>> {
    let header = bytes.get(..8)?;
    let mut out = Vec::with_capacity(bytes.len() / 4);
    out.extend_from_slice(header);
    rewrite_sections(&bytes[8..], &mut out, true)?;
    Some(out)
}

/// The custom section that names, in a stand-in ([`stand_in`]), the digest of the
/// component it stands for.
pub const STAND_IN_SECTION: &str = "wcomp:stand-in";

/// A stand-in for a large component: the same types, imports and exports (so the same
/// component type and WIT world), with no data segments and every core function body
/// `unreachable` ([`without_data`]), and a last custom section naming `digest`, the
/// original's, so that the stand-ins of two components that differ only in code or data
/// differ too. A composer that knows the original is valid builds the composition around
/// the stand-in and puts the original's bytes in its place when it writes the output.
/// `None` when the binary is not laid out as expected.
pub fn stand_in(bytes: &[u8], digest: &Digest) -> Option<Vec<u8>> {
    let mut out = without_data(bytes)?;
    append_custom_section(&mut out, STAND_IN_SECTION, digest.to_string().as_bytes());
    Some(out)
}

/// Appends a custom section named `name` holding `data` (below 4 GiB).
pub fn append_custom_section(out: &mut Vec<u8>, name: &str, data: &[u8]) {
    use wasm_encoder::{CustomSection, Encode as _, Section as _};
    let section = CustomSection {
        name: name.into(),
        data: data.into(),
    };
    out.push(section.id());
    section.encode(out);
}

/// Whether `stand_in` ends with the section [`stand_in`] writes for `digest`: a stored
/// stand-in is used only for the original it names.
pub fn stands_in_for(stand_in: &[u8], digest: &Digest) -> bool {
    let mut tail = STAND_IN_SECTION.as_bytes().to_vec();
    tail.extend_from_slice(digest.to_string().as_bytes());
    stand_in.starts_with(b"\0asm") && stand_in.ends_with(&tail)
}

fn rewrite_sections(mut rest: &[u8], out: &mut Vec<u8>, component: bool) -> Option<()> {
    use wasm_encoder::Encode as _;
    const CUSTOM: u8 = 0;
    const CORE_MODULE: u8 = 1;
    const COMPONENT: u8 = 4;
    const CODE: u8 = 10;
    const DATA: u8 = 11;
    const DATA_COUNT: u8 = 12;
    while let Some(&id) = rest.first() {
        let (size, n) = read_leb(&rest[1..])?;
        let start = 1 + n;
        let end = start.checked_add(size as usize)?;
        let payload = rest.get(start..end)?;
        // Only function bodies name data segments, and they are all `unreachable` here:
        // the segments (thousands in a Go module) and their count go. So do a module's
        // custom sections (names, producers: tens of kilobytes), which no type depends on.
        if !component && matches!(id, CUSTOM | DATA | DATA_COUNT) {
            rest = &rest[end..];
            continue;
        }
        let replaced = match (component, id) {
            (true, CORE_MODULE) | (true, COMPONENT) => {
                let mut inner = payload.get(..8)?.to_vec();
                rewrite_sections(&payload[8..], &mut inner, id == COMPONENT)?;
                Some(inner)
            }
            (false, CODE) => Some(unreachable_code_section(payload)?),
            _ => None,
        };
        match replaced {
            Some(p) => {
                out.push(id);
                p.encode(out);
            }
            None => out.extend_from_slice(&rest[..end]),
        }
        rest = &rest[end..];
    }
    Some(())
}

/// As many function bodies, each `unreachable`: valid for any signature.
fn unreachable_code_section(payload: &[u8]) -> Option<Vec<u8>> {
    use wasm_encoder::Encode as _;
    let (count, _) = read_leb(payload)?;
    let mut out = Vec::with_capacity(count as usize * 4 + 5);
    count.encode(&mut out);
    for _ in 0..count {
        // size 3: no locals, `unreachable`, `end`
        out.extend_from_slice(&[3, 0, 0x00, 0x0b]);
    }
    Some(out)
}

/// An unsigned LEB128 at the start of `bytes`, and how many bytes it takes.
fn read_leb(bytes: &[u8]) -> Option<(u32, usize)> {
    let mut reader = wasmparser::BinaryReader::new(bytes, 0);
    let value = reader.read_var_u32().ok()?;
    Some((value, reader.current_position()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipping_function_bodies_skips_only_them() {
        let bad_body =
            wat::parse_str("(component (core module (func (result i32) i64.const 0)))").unwrap();
        assert!(validate("c", &bad_body).is_err());
        validate_except_function_bodies("c", &bad_body).unwrap();

        let unknown_func = wat::parse_str(r#"(component (export "f" (func 0)))"#).unwrap();
        assert!(validate("c", &unknown_func).is_err());
        let e = validate_except_function_bodies("c", &unknown_func).unwrap_err();
        assert!(matches!(e, Error::Invalid { .. }), "{e}");

        let bad_import = wat::parse_str(
            r#"(component
                (core module $m (import "x" "f" (func)))
                (core instance (instantiate $m)))"#,
        )
        .unwrap();
        assert!(validate_except_function_bodies("c", &bad_import).is_err());

        let mut cut = wat::parse_str("(component (core module (func)))").unwrap();
        cut.truncate(cut.len() - 2);
        let e = validate_except_function_bodies("c", &cut).unwrap_err();
        assert!(matches!(e, Error::Truncated { .. }), "{e}");
    }

    /// Bodies validated on several threads give the single-threaded verdict, and the
    /// same (first) error when several bodies are invalid.
    #[test]
    fn parallel_body_validation_reports_the_first_invalid_body() {
        let mut funcs = String::new();
        for i in 0..400 {
            let body = if i == 150 || i == 151 || i == 390 {
                "i64.const 0" // wrong result type
            } else {
                "i32.const 1 i32.const 2 i32.add"
            };
            funcs.push_str(&format!("(func (result i32) {body})"));
        }
        let bad = wat::parse_str(format!("(component (core module {funcs}))")).unwrap();
        let expected = validate("c", &bad).unwrap_err().to_string();
        for threads in [2, 3, 8] {
            for _ in 0..10 {
                let e = validate_parallel("c", &bad, threads)
                    .unwrap_err()
                    .to_string();
                assert_eq!(e, expected, "{threads} threads");
            }
        }
        let good = wat::parse_str(format!(
            "(component (core module {}))",
            funcs.replace("i64.const 0", "i32.const 0")
        ))
        .unwrap();
        validate_parallel("c", &good, 2).unwrap();
        let empty = wat::parse_str("(component)").unwrap();
        validate_parallel("c", &empty, 2).unwrap();
    }

    /// A component validated in full is remembered by digest; a remembered digest is not
    /// validated again (shown with a marker planted for a body that does not validate); an
    /// invalid component is never remembered.
    #[test]
    fn the_validation_memory_remembers_only_what_passed() {
        let dir = std::env::temp_dir().join(format!("wcomp-validated-{}", std::process::id()));
        remember_validated_in(dir.clone());
        let memory = dir.join(VALIDATOR);
        let good = wat::parse_str(
            r#"(component (core module (func (export "f") (result i32) i32.const 1)))"#,
        )
        .unwrap();
        let (_, digest) = load_hashed("good", &good).unwrap();
        assert_eq!(digest, Digest::sha256(&good));
        assert!(memory.join(digest.hex()).is_file());

        let bad =
            wat::parse_str("(component (core module (func (result i32) i64.const 0)))").unwrap();
        assert!(load_hashed("bad", &bad).is_err());
        let bad_digest = Digest::sha256(&bad);
        assert!(!memory.join(bad_digest.hex()).exists());
        fs_err::write(memory.join(bad_digest.hex()), b"").unwrap();
        load_hashed("bad", &bad).expect("a remembered digest is not validated again");
        let _ = fs_err::remove_dir_all(&dir);
    }

    /// The validator named in the memory's directory is the one the workspace builds with.
    #[test]
    fn the_validation_memory_names_the_workspace_validator() {
        let manifest = include_str!("../../../Cargo.toml");
        let version = manifest
            .lines()
            .find_map(|l| l.strip_prefix("wasmparser = \""))
            .and_then(|rest| rest.split('"').next())
            .expect("the workspace requires wasmparser");
        assert!(
            VALIDATOR.starts_with(&format!("wasmparser-{version}-")),
            "update VALIDATOR ({VALIDATOR}) to wasmparser {version}"
        );
    }

    #[test]
    fn emptied_data_keeps_the_world_and_validity() {
        let wat = r#"(component
            (core module $m
              (@custom "wcomp-note" "a module's own note")
              (memory (export "memory") 1)
              (data (i32.const 16) "hello, this is data")
              (data "passive bytes")
              (func (export "get") (result i32) i32.const 42)
              ;; A body naming a segment brings a data count section too.
              (func (export "drop") (data.drop 1)))
            (core instance $i (instantiate $m))
            (func $get (result u32) (canon lift (core func $i "get")))
            (component $inner
              (core module $n (memory 1) (data (i32.const 0) "nested data")))
            (export "get" (func $get)))"#;
        let bytes = wat::parse_str(wat).unwrap();
        let stripped = without_data(&bytes).unwrap();
        assert!(stripped.len() < bytes.len());
        validate("stripped", &stripped).unwrap();
        let world = |b: &[u8]| match decode(b).ok().unwrap() {
            Decoded::Component(c) => crate::inspect::world_summary(&c.resolve, c.world)
                .exports
                .iter()
                .map(|e| e.name.clone())
                .collect::<Vec<_>>(),
            Decoded::WitPackage(..) => panic!("not a component"),
        };
        assert_eq!(world(&bytes), world(&stripped));
        let text = String::from_utf8_lossy(&stripped);
        assert!(!text.contains("hello, this is data") && !text.contains("nested data"));
        assert!(String::from_utf8_lossy(&bytes).contains("a module's own note"));
        assert!(
            !text.contains("a module's own note"),
            "module custom sections go"
        );
        // No data or data count section is left in any module.
        for payload in wasmparser::Parser::new(0).parse_all(&stripped) {
            assert!(!matches!(
                payload.unwrap(),
                wasmparser::Payload::DataSection(_) | wasmparser::Payload::DataCountSection { .. }
            ));
        }
        assert!(
            wasmparser::Parser::new(0)
                .parse_all(&bytes)
                .any(|p| matches!(p.unwrap(), wasmparser::Payload::DataCountSection { .. }))
        );
    }

    /// A stand-in validates, names its original's digest (and no other), and differs
    /// between components that differ only in their data.
    #[test]
    fn a_stand_in_names_its_original() {
        let component = |data: &str| {
            wat::parse_str(format!(
                r#"(component
                    (core module $m (memory (export "memory") 1) (data (i32.const 0) "{data}")
                      (func (export "get") (result i32) i32.const 42))
                    (core instance $i (instantiate $m))
                    (func $get (result u32) (canon lift (core func $i "get")))
                    (export "get" (func $get)))"#
            ))
            .unwrap()
        };
        let (a, b) = (component("one"), component("two"));
        let (da, db) = (Digest::sha256(&a), Digest::sha256(&b));
        let (sa, sb) = (stand_in(&a, &da).unwrap(), stand_in(&b, &db).unwrap());
        validate("stand-in", &sa).unwrap();
        assert!(stands_in_for(&sa, &da));
        assert!(!stands_in_for(&sa, &db));
        assert!(!stands_in_for(&sa[..sa.len() - 1], &da), "a cut stand-in");
        assert_ne!(sa, sb);
        let names = |b: &[u8]| import_export_names("c", b).unwrap();
        assert_eq!(names(&a), names(&sa));
    }

    /// The names read from the binary are the decoded world's: nested modules and
    /// components (with imports and exports of their own) are stepped over, not read.
    #[test]
    fn import_export_names_are_the_worlds() {
        let wat = r#"(component
            (import "example:store/records@0.2.0" (instance $records
              (export "count" (func (result u32)))))
            (import "now" (func $now (result u64)))
            (core module $m
              (import "host" "f" (func))
              (func (export "get") (result i32) i32.const 42))
            (component $inner
              (import "inner-only" (func))
              (export "inner-export" (func 0)))
            (core module $n (func (export "g") (result i32) i32.const 1))
            (core instance $i (instantiate $n))
            (func $get (result u32) (canon lift (core func $i "g")))
            (export "get" (func $get))
            (export "example:app/run@1.0.0" (instance $records)))"#;
        let bytes = wat::parse_str(wat).unwrap();
        validate("c", &bytes).unwrap();
        let (imports, exports) = import_export_names("c", &bytes).unwrap();
        let Decoded::Component(c) = decode(&bytes).unwrap() else {
            panic!("a component")
        };
        let summary = crate::inspect::world_summary(&c.resolve, c.world);
        let names = |items: &[crate::inspect::ItemSummary]| {
            items.iter().map(|i| i.name.clone()).collect::<Vec<_>>()
        };
        assert_eq!(imports, names(&summary.imports));
        assert_eq!(exports, names(&summary.exports));
        assert_eq!(imports, ["example:store/records@0.2.0", "now"]);
        assert_eq!(exports, ["get", "example:app/run@1.0.0"]);
        // Cut inside the nested component: an error, not a panic or a short list.
        let cut = &bytes[..bytes.len() - 40];
        assert!(import_export_names("c", cut).is_err());
    }
}
