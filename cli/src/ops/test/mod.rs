//! `wcomp test`: calls a component's exports with WAVE arguments and checks the answers,
//! with its imports answered by mocks (docs/test.md).
//!
//! - `format`: the `*.test.toml` format, read with positions.
//! - `load`: a file becomes a [`Suite`]: the component compiled once, every mock and
//!   every expectation type-checked against the component's WIT, one `InstancePre`.
//! - `exec`: runs the tests of all suites in parallel, each in a fresh store and instance.
//! - `values`: WAVE printing and diffs; `junit`: the JUnit XML report.
//!
//! Mocks are host functions in wasmtime's component linker, defined with the import's own
//! types. A `returns` mock answers from its list; a component mock is instantiated in the
//! test's store and the imported functions are forwarded to its exports.

mod exec;
pub mod format;
pub mod junit;
mod load;
pub mod values;

pub use exec::run;
pub use load::Loader;

use anyhow::Result;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What one test found.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The test file as given or found (`tests/app.test.toml`).
    pub file: String,
    pub name: String,
    /// The WAVE call, as written.
    pub call: String,
    pub status: Status,
    pub duration: Duration,
    /// What the guest wrote to its standard output and error.
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// `file::name`, as the output and `--filter` see the test.
    pub fn id(&self) -> String {
        format!("{}::{}", self.file, self.name)
    }
}

#[derive(Debug, Clone)]
pub enum Status {
    Passed,
    Failed(Vec<Failure>),
    /// Left out by `--filter`.
    Skipped,
}

/// Why a test failed.
#[derive(Debug, Clone)]
pub enum Failure {
    /// The call returned another value. Both in WAVE, as printed by [`values::pretty`].
    Mismatch { expected: String, actual: String },
    /// The call (or the instance's start) trapped, and no trap was expected.
    Trapped { message: String },
    /// A trap was expected, and the call returned.
    Returned { wanted: String, actual: String },
    /// The call trapped, with another message than expected.
    OtherTrap { wanted: String, message: String },
    /// A mock was called another number of times than `calls` says.
    Calls {
        function: String,
        expected: u64,
        actual: u64,
    },
    /// The test could not start (the database did not open).
    Setup { message: String },
}

/// What one test may use before it fails: wall time in the guest (counted by the
/// engine's epoch, so an endless loop stops) and the size of each linear memory.
#[derive(Debug, Clone)]
pub struct Limits {
    pub timeout: Duration,
    pub max_memory: u64,
}

/// Where to look for test files.
pub const SUFFIX: &str = ".test.toml";

/// Test files under `paths` (files are taken as given, folders searched for
/// `*.test.toml`), sorted, each once. None found is an error that says where it looked.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for p in paths {
        if p.is_file() {
            found.push(p.clone());
        } else if p.is_dir() {
            walk(p, &mut found)?;
        } else {
            return Err(super::EnvironmentError(format!(
                "`{}` is neither a test file nor a folder",
                p.display()
            ))
            .into());
        }
    }
    found.sort();
    found.dedup();
    if found.is_empty() {
        let places: Vec<String> = paths.iter().map(|p| format!("`{}`", p.display())).collect();
        return Err(super::HintedError::new(
            format!(
                "no test files (`*{SUFFIX}`) found in {} (build outputs and dependency \
                 folders are skipped)",
                places.join(", ")
            ),
            "write a `<name>.test.toml` next to the component (docs/test.md), or name the \
             files to run",
        )
        .into());
    }
    Ok(found)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<_> = fs_err::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let path = entry.path();
        let ty = entry.file_type()?;
        if ty.is_dir() {
            if !name.starts_with('.')
                && !crate::ops::build::SKIP_DIRS.contains(&name.as_ref())
                && name != "deps"
            {
                walk(&path, out)?;
            }
        } else if name.ends_with(SUFFIX) {
            out.push(clean(&path));
        }
    }
    Ok(())
}

/// `./a/b` -> `a/b`, for shorter names in the output.
fn clean(path: &Path) -> PathBuf {
    path.strip_prefix(".")
        .map_or_else(|_| path.to_path_buf(), Path::to_path_buf)
}

/// Counts of a run.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct Totals {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl Totals {
    pub fn of(outcomes: &[Outcome]) -> Totals {
        let mut t = Totals::default();
        for o in outcomes {
            match o.status {
                Status::Passed => t.passed += 1,
                Status::Failed(_) => t.failed += 1,
                Status::Skipped => t.skipped += 1,
            }
        }
        t
    }
}

/// Hears about each test as it finishes (from the worker threads).
pub trait Reporter: Sync {
    /// How many tests will run (after `--filter`) and how many files they are in.
    fn started(&self, tests: usize, files: usize);
    fn finished(&self, outcome: &Outcome);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_skips_build_outputs_and_dependencies() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for f in [
            "a.test.toml",
            "sub/b.test.toml",
            "sub/notes.toml",
            "build/c.test.toml",
            "node_modules/x/d.test.toml",
            ".git/e.test.toml",
            "target/f.test.toml",
        ] {
            let p = root.join(f);
            fs_err::create_dir_all(p.parent().unwrap()).unwrap();
            fs_err::write(p, "").unwrap();
        }
        let found = discover(&[root.to_path_buf()]).unwrap();
        let names: Vec<_> = found
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.test.toml", "sub/b.test.toml"]);
        let empty = tempfile::tempdir().unwrap();
        let e = discover(&[empty.path().to_path_buf()]).unwrap_err();
        assert!(e.to_string().contains("no test files"), "{e}");
        assert!(
            e.to_string().contains(&empty.path().display().to_string()),
            "{e}"
        );
    }
}
