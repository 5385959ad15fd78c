//! `wcomp build`: turn a project into a component with its language's real toolchain,
//! check the result against the declared world, and cache the outcome.
//!
//! Output: `<project>/build/<name>.wasm` (`name` is the part of the package name after
//! the `:`), or `-o`. The cache stamp `<project>/build/.wcomp-build.json` records a hash
//! of every source file, the manifest, the toolchain's identity and wcomp's version, and
//! the output's digest, size and modification time; a build whose hash matches the stamp,
//! with its output still in place and unchanged (same size and mtime), does nothing.

use crate::ops::manifest::{self, Language, Manifest};
use crate::ops::toolchain::{self, Toolchain};
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use wcomp_wasm::check::{self, Options, Report, World};

/// What `wcomp build` was asked to do.
pub struct BuildOptions {
    pub dir: PathBuf,
    pub output: Option<PathBuf>,
    pub force: bool,
}

/// Progress of a build; the CLI shows it as a spinner. Libraries never print.
pub trait Reporter: Sync {
    fn step(&self, project: &str, step: &str);
    /// A toolchain's full output, for `-v`.
    fn toolchain_output(&self, project: &str, output: &str);
}

/// One built project.
#[derive(Debug, Serialize)]
pub struct Built {
    pub name: String,
    pub version: String,
    pub language: Language,
    pub output: PathBuf,
    pub size: u64,
    /// False when the cache said nothing changed.
    pub rebuilt: bool,
    pub report: Option<Report>,
}

/// A toolchain ran and failed: its output is shown in full.
#[derive(Debug, thiserror::Error)]
#[error("{what} failed (exit status {status})\n--- output ---\n{output}")]
pub struct ToolFailed {
    pub what: String,
    pub status: String,
    pub output: String,
}

/// The component built, but does not conform to its world.
#[derive(Debug, thiserror::Error)]
#[error("the component built from `{project}` does not conform to its world `{world}`")]
pub struct DoesNotConform {
    pub project: String,
    pub world: String,
    pub report: Report,
}

/// Builds the project (or every member of the workspace) in `opts.dir`, then the
/// workspace's compositions, in the manifest's order.
pub fn build(
    opts: &BuildOptions,
    reporter: &dyn Reporter,
) -> Result<(Vec<Built>, Vec<super::compose_ws::Composed>)> {
    let m = Manifest::load(&opts.dir)?;
    let mut projects = Vec::new();
    if let Some(ws) = &m.workspace {
        for member in &ws.members {
            projects.push(opts.dir.join(member));
        }
    }
    if m.component.is_some() {
        projects.push(opts.dir.clone());
    }
    if projects.len() > 1 && opts.output.is_some() {
        bail!("`-o` chooses one output file; it cannot be used to build a workspace");
    }
    let mut outputs = std::collections::BTreeSet::new();
    for c in &m.compositions {
        let output = super::compose_ws::output_path(&opts.dir, c);
        if !outputs.insert(output.clone()) {
            bail!(
                "two [[composition]] tables write `{}`; give each its own `output`",
                output.display()
            );
        }
    }
    // Members are independent: build them in parallel, keeping the manifest's order.
    let results: Vec<Result<Built>> = std::thread::scope(|s| {
        let handles: Vec<_> = projects
            .iter()
            .map(|dir| s.spawn(|| build_project(dir, opts.output.as_deref(), opts.force, reporter)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("build thread panicked"))
            .collect()
    });
    let mut built = Vec::new();
    let mut errors = Vec::new();
    for (dir, r) in projects.iter().zip(results) {
        match r {
            Ok(b) => built.push(b),
            Err(e) => errors.push(e.context(format!("failed to build `{}`", dir.display()))),
        }
    }
    let built = match errors.len() {
        0 => built,
        1 => return Err(errors.remove(0)),
        n => {
            let all: Vec<String> = errors.iter().map(|e| format!("{e:#}")).collect();
            bail!("{n} members failed to build:\n{}", all.join("\n"))
        }
    };
    let outputs: Vec<(PathBuf, PathBuf)> = projects
        .iter()
        .cloned()
        .zip(built.iter().map(|b| b.output.clone()))
        .collect();
    let mut composed = Vec::new();
    for c in &m.compositions {
        reporter.step("composition", "composing");
        composed.push(
            super::compose_ws::compose(&opts.dir, &m, c, &outputs, opts.force).with_context(
                || {
                    format!(
                        "failed to compose the workspace's [composition] with root `{}`",
                        c.root
                    )
                },
            )?,
        );
    }
    Ok((built, composed))
}

#[derive(Serialize, Deserialize)]
struct Stamp {
    key: String,
    output: PathBuf,
    output_sha256: String,
    /// Size and modification time of the output when it was written: re-hashing a
    /// 20 MB component on every no-op build would cost more than the rest of the check.
    output_len: u64,
    output_mtime_ns: u128,
}

/// Size and modification time (ns since the epoch) of a file.
fn file_fingerprint(path: &Path) -> Option<(u64, u128)> {
    let meta = fs_err::metadata(path).ok()?;
    let mtime = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_nanos();
    Some((meta.len(), mtime))
}

const STAMP: &str = "build/.wcomp-build.json";

fn build_project(
    dir: &Path,
    output: Option<&Path>,
    force: bool,
    r: &dyn Reporter,
) -> Result<Built> {
    let m = Manifest::load(dir)?;
    let (Some(pkg), Some(comp)) = (&m.package, &m.component) else {
        bail!("`{}` is not a component project", dir.display());
    };
    let name = pkg.name.clone();
    let output = match output {
        Some(o) => o.to_path_buf(),
        None => dir
            .join("build")
            .join(format!("{}.wasm", manifest::output_stem(pkg))),
    };
    let tc = toolchain::locate(comp.language)?;
    let key = cache_key(dir, &tc, &output, &comp.wit)?;
    let stamp_path = dir.join(STAMP);
    if !force && let Some(stamp) = read_stamp(&stamp_path) {
        // The stamp names the output relative to the project, so building from the
        // project or from its workspace (`./x/build/x.wasm`) is the same build.
        let intact = stamp.output == relative_to(dir, &output)
            && file_fingerprint(&output) == Some((stamp.output_len, stamp.output_mtime_ns));
        if stamp.key == key && intact {
            let size = stamp.output_len;
            return Ok(Built {
                name,
                version: pkg.version.clone(),
                language: comp.language,
                output,
                size,
                rebuilt: false,
                report: None,
            });
        }
    }

    r.step(&name, "loading WIT");
    let wit = wcomp_wasm::wit::load(&dir.join(&comp.wit))?;
    let world = wit.select_world(Some(&comp.world))?;
    r.step(&name, "checking toolchain");
    toolchain::check(&tc)?;

    let bytes = match comp.language {
        Language::Rust => build_rust(dir, &name, r)?,
        Language::Python => build_python(dir, &tc, &comp.wit, &comp.world, &name, r)?,
        Language::Javascript => build_js(dir, &tc, (&comp.wit, &wit), &comp.world, &name, r)?,
        Language::Go => build_go(dir, &tc, &wit, world, &name, r)?,
        Language::C | Language::Cpp => {
            r.step(
                &name,
                "wit-bindgen c, clang (wasm32-wasi), adapting to a component",
            );
            let c = crate::ops::build_c::locate(comp.language)?;
            let built =
                crate::ops::build_c::build(&c, comp.language, dir, &comp.wit, &wit.resolve, world)?;
            let log = format!("{}core module {} bytes\n", built.log, built.core_module_len);
            r.toolchain_output(&name, &log);
            built.component
        }
    };

    r.step(&name, "checking the component against its world");
    // Remembered as validated, so composing it later skips its function bodies.
    let (component, _) = wcomp_wasm::component::load_hashed(&name, &bytes)?;
    let report = check::check(
        World {
            resolve: &component.resolve,
            id: component.world,
        },
        World {
            resolve: &wit.resolve,
            id: world,
        },
        Options {
            strict_versions: false,
            allow_wasi: true,
        },
    );
    if !report.conforms() {
        return Err(DoesNotConform {
            project: name,
            world: comp.world.clone(),
            report,
        }
        .into());
    }
    super::atomic::write(&output, &bytes)?;
    // The build may have created files (Cargo.lock): key the stamp on the tree as it is now.
    let key = cache_key(dir, &tc, &output, &comp.wit)?;
    let (output_len, output_mtime_ns) = file_fingerprint(&output)
        .with_context(|| format!("cannot read back `{}`", output.display()))?;
    let stamp = Stamp {
        key,
        output: relative_to(dir, &output),
        output_sha256: hex::encode(Sha256::digest(&bytes)),
        output_len,
        output_mtime_ns,
    };
    super::atomic::write(&stamp_path, &serde_json::to_vec_pretty(&stamp)?)?;
    Ok(Built {
        name,
        version: pkg.version.clone(),
        language: comp.language,
        output,
        size: bytes.len() as u64,
        rebuilt: true,
        report: Some(report),
    })
}

fn read_stamp(path: &Path) -> Option<Stamp> {
    serde_json::from_slice(&fs_err::read(path).ok()?).ok()
}

/// Directories that hold build outputs or dependencies, not sources (also ignored by
/// `--watch` and by test discovery).
pub(crate) const SKIP_DIRS: &[&str] = &[
    "target",
    "build",
    "node_modules",
    ".git",
    "__pycache__",
    "bindings",
    "gen",
];

/// Hash of every source file (path and contents), the toolchain identity, wcomp's version
/// and the output path.
fn cache_key(dir: &Path, tc: &Toolchain, output: &Path, wit: &Path) -> Result<String> {
    let mut files = Vec::new();
    collect_sources(dir, dir, &mut files)?;
    files.sort();
    let mut h = Sha256::new();
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update([0]);
    h.update(tc.identity.as_bytes());
    h.update([0]);
    h.update(relative_to(dir, output).to_string_lossy().as_bytes());
    for rel in files {
        h.update([0]);
        h.update(rel.to_string_lossy().as_bytes());
        h.update([0]);
        h.update(fs_err::read(dir.join(&rel))?);
    }
    // A WIT directory outside the project (`wit = "../wit"`, shared by a workspace's
    // members) is a source too.
    let wit_dir = dir.join(wit);
    let inside = match (dir.canonicalize(), wit_dir.canonicalize()) {
        (Ok(d), Ok(w)) => w.starts_with(d),
        _ => true,
    };
    if !inside && wit_dir.exists() {
        if wit_dir.is_dir() {
            let mut wit_files = Vec::new();
            collect_sources(&wit_dir, &wit_dir, &mut wit_files)?;
            wit_files.sort();
            for rel in wit_files {
                h.update([1]);
                h.update(rel.to_string_lossy().as_bytes());
                h.update([0]);
                h.update(fs_err::read(wit_dir.join(&rel))?);
            }
        } else {
            h.update([1]);
            h.update(fs_err::read(&wit_dir)?);
        }
    }
    Ok(hex::encode(h.finalize()))
}

/// `path` relative to `dir` when it is inside it (as written, or once both are
/// canonical), else `path` itself.
fn relative_to(dir: &Path, path: &Path) -> PathBuf {
    if let Ok(rel) = path.strip_prefix(dir) {
        return rel.to_path_buf();
    }
    if let (Ok(d), Some(parent), Some(name)) = (dir.canonicalize(), path.parent(), path.file_name())
        && let Ok(p) = parent.canonicalize()
        && let Ok(rel) = p.strip_prefix(&d)
    {
        return rel.join(name);
    }
    path.to_path_buf()
}

fn collect_sources(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in fs_err::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let ty = entry.file_type()?;
        let name = entry.file_name();
        if ty.is_dir() {
            // Nested projects (workspace members) hash themselves.
            if SKIP_DIRS.iter().any(|s| name == *s)
                || path.join(manifest::FILE_NAME).is_file() && path != root
            {
                continue;
            }
            collect_sources(root, &path, out)?;
        } else if ty.is_file() {
            // Test files (`wcomp test`) are not sources: editing a test rebuilds nothing.
            if name.to_string_lossy().ends_with(crate::ops::test::SUFFIX) {
                continue;
            }
            out.push(path.strip_prefix(root).unwrap().to_path_buf());
        }
    }
    Ok(())
}

/// Runs a toolchain command, capturing its output; on failure the whole output is in
/// the error.
fn run(cmd: &mut Command, what: &str, project: &str, r: &dyn Reporter) -> Result<(String, String)> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("failed to start {what}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let combined = format!("{stderr}{}", if stdout.is_empty() { "" } else { &stdout });
    r.toolchain_output(project, &combined);
    if !out.status.success() {
        return Err(ToolFailed {
            what: what.to_string(),
            status: out.status.to_string(),
            output: combined,
        }
        .into());
    }
    Ok((stdout, stderr))
}

fn build_rust(dir: &Path, name: &str, r: &dyn Reporter) -> Result<Vec<u8>> {
    r.step(name, "cargo build --target wasm32-wasip2 --release");
    let (stdout, _) = run(
        Command::new("cargo")
            .args([
                "build",
                "--target",
                "wasm32-wasip2",
                "--release",
                "--message-format=json-render-diagnostics",
            ])
            .current_dir(dir),
        "cargo build",
        name,
        r,
    )?;
    // The artifact's path comes from cargo itself, wherever its target directory is.
    let wasm = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["reason"] == "compiler-artifact")
        .filter(|v| {
            v["target"]["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "cdylib"))
        })
        .flat_map(|v| {
            v["filenames"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|f| f.as_str().map(PathBuf::from))
        })
        .find(|f| f.extension().is_some_and(|e| e == "wasm"))
        .context(
            "cargo built no `cdylib` .wasm; is `crate-type = [\"cdylib\"]` set in Cargo.toml?",
        )?;
    Ok(fs_err::read(wasm)?)
}

/// Runs a componentize tool on `entry` (which must exist) with the output going to a
/// temporary file; `args` adds the tool's own arguments, given the output path.
fn componentize(
    dir: &Path,
    entry: &str,
    tool: &str,
    program: &Path,
    name: &str,
    r: &dyn Reporter,
    args: impl FnOnce(&mut Command, &Path),
) -> Result<Vec<u8>> {
    if !dir.join(entry).is_file() {
        bail!(
            "`{}` has no {entry} (the module {tool} builds)",
            dir.display()
        );
    }
    r.step(name, tool);
    let out = tempfile::Builder::new().suffix(".wasm").tempfile()?;
    let mut cmd = Command::new(program);
    cmd.current_dir(dir);
    args(&mut cmd, out.path());
    run(&mut cmd, tool, name, r)?;
    Ok(fs_err::read(out.path())?)
}

fn build_python(
    dir: &Path,
    tc: &Toolchain,
    wit: &Path,
    world: &str,
    name: &str,
    r: &dyn Reporter,
) -> Result<Vec<u8>> {
    componentize(
        dir,
        "app.py",
        "componentize-py",
        &tc.programs[0],
        name,
        r,
        |cmd, out| {
            cmd.arg("-d")
                .arg(wit)
                .args(["-w", world, "componentize", "app", "-o"])
                .arg(out);
        },
    )
}

fn build_js(
    dir: &Path,
    tc: &Toolchain,
    wit: (&Path, &wcomp_wasm::wit::WitPackage),
    world: &str,
    name: &str,
    r: &dyn Reporter,
) -> Result<Vec<u8>> {
    // Leave out the HTTP and fetch-event features unless the WIT uses wasi:http, so the
    // component does not import wasi:http for nothing.
    let uses_http = wit
        .1
        .resolve
        .packages
        .iter()
        .any(|(_, pkg)| pkg.name.namespace == "wasi" && pkg.name.name == "http");
    componentize(
        dir,
        "app.js",
        "componentize-js",
        &tc.programs[0],
        name,
        r,
        |cmd, out| {
            cmd.arg("app.js")
                .arg("--wit")
                .arg(wit.0)
                .args(["--world-name", world, "-o"])
                .arg(out);
            if !uses_http {
                cmd.args(["-d", "http", "fetch-event"]);
            }
        },
    )
}

fn build_go(
    dir: &Path,
    tc: &Toolchain,
    wit: &wcomp_wasm::wit::WitPackage,
    world: wcomp_wasm::wit_parser::WorldId,
    name: &str,
    r: &dyn Reporter,
) -> Result<Vec<u8>> {
    r.step(
        name,
        "generating Go bindings, go build (wasip1), adapting to a component",
    );
    let go = crate::ops::build_go::go_toolchain(&tc.programs[0])?;
    let built = crate::ops::build_go::build(&go, dir, &wit.resolve, world)?;
    let mut log = format!(
        "go build: {:.1} s, core module {} bytes\n{}",
        built.go_build_time.as_secs_f64(),
        built.core_module_len,
        built.go_output
    );
    for note in &built.notes {
        log.push_str(&format!("note: {note}\n"));
    }
    r.toolchain_output(name, &log);
    Ok(built.component)
}
