use super::CliError;
use crate::printer::{self, ERROR, NOTE, OK, WARN, paint};
use serde::Serialize;
use std::path::{Path, PathBuf};
use wcomp_wasm::check::{self, Options, Report, World};
use wcomp_wasm::input::{self, BinaryKind, Content, InputPath};
use wcomp_wasm::wit::WitPackage;

/// Check components against a WIT world and explain every mismatch in WIT.
///
/// A component passes when it is a valid component, imports nothing the world does not
/// provide, and exports everything the world requires with matching types. Extra exports
/// are allowed. Interfaces at a semver-compatible version (`@0.2.3` against a world
/// offering `@0.2.6`) are matched, as runtimes such as wasmtime link them, with a note;
/// `--strict-versions` requires exact versions, as `wasm-tools component targets` does.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  wcomp validate app.wasm --wit wit/                   the only world of the package in wit/
  wcomp validate app.wasm --wit wit/ --world proxy     a named world
  wcomp validate a.wasm b.wasm c.wat --wit api.wit     several components, checked in parallel
  wcomp validate app.wasm --wit api.wasm --json        problems as JSON (docs/validate.md)

Exit codes: 0 every component conforms, 1 at least one does not (or is not a valid
component), 2 usage error (bad flags, unreadable input, a world that cannot be loaded).")]
pub struct Opts {
    /// Components to check: binaries (`.wasm`) or WAT text. `-` reads standard input.
    #[arg(required = true)]
    components: Vec<PathBuf>,

    /// The WIT package holding the world: a directory (with `deps/`), a `.wit` file, or a
    /// WIT package encoded as wasm. Defaults to `./wit`.
    #[arg(long, value_name = "PATH")]
    wit: Option<PathBuf>,

    /// The world to check against (`app` or `ns:pkg/app@1.0.0`); defaults to the
    /// package's only world.
    #[arg(long, value_name = "NAME")]
    world: Option<String>,

    /// Require interface versions to match exactly, like `wasm-tools component targets`.
    #[arg(long)]
    strict_versions: bool,

    /// Accept imports of WASI 0.2 interfaces (`wasi:*@0.2.x`) that the world does not
    /// list, as provided by the host. Components built by componentize-py,
    /// componentize-js and Go import them whatever the world says.
    #[arg(long)]
    allow_wasi: bool,

    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// The verdict for one component.
#[derive(Serialize)]
struct Outcome {
    component: String,
    verdict: &'static str,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    report: Option<Report>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorInfo>,
    #[serde(skip)]
    exit: u8,
}

#[derive(Serialize)]
struct ErrorInfo {
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<String>,
}

#[derive(Serialize)]
struct JsonOutput<'a> {
    schema: u32,
    world: String,
    strict_versions: bool,
    results: &'a [Outcome],
}

impl Opts {
    pub fn run(self) -> Result<u8, CliError> {
        if self
            .components
            .iter()
            .filter(|p| p.as_os_str() == "-")
            .count()
            > 1
        {
            return Err(CliError::usage(anyhow::anyhow!(
                "standard input (`-`) can be given only once"
            )));
        }
        let wit_path = match &self.wit {
            Some(p) => p.clone(),
            None if Path::new("wit").is_dir() => PathBuf::from("wit"),
            None => {
                return Err(CliError::usage(anyhow::anyhow!(
                    "no `--wit` given and there is no `wit/` directory here; pass the WIT \
                     package that holds the world with `--wit <path>`"
                )));
            }
        };
        let pkg = wcomp_wasm::wit::load(&wit_path).map_err(CliError::usage)?;
        let world = pkg
            .select_world(self.world.as_deref())
            .map_err(CliError::usage)?;
        let world_name = pkg
            .resolve
            .id_of_name(pkg.package, &pkg.resolve.worlds[world].name);
        let options = Options {
            strict_versions: self.strict_versions,
            allow_wasi: self.allow_wasi,
        };
        let outcomes = check_all(&self.components, &pkg, world, options);
        if self.json {
            let out = JsonOutput {
                schema: 1,
                world: world_name,
                strict_versions: self.strict_versions,
                results: &outcomes,
            };
            printer::json(&out)?;
        } else {
            printer::out(&render(&outcomes, &world_name));
        }
        Ok(outcomes.iter().map(|o| o.exit).max().unwrap_or(0))
    }
}

/// Checks every component, spreading them over the available cores; results keep the
/// command-line order. One component is checked on this thread: starting rayon's pool
/// costs about as much as checking a small component.
fn check_all(
    paths: &[PathBuf],
    pkg: &WitPackage,
    world: wcomp_wasm::wit_parser::WorldId,
    options: Options,
) -> Vec<Outcome> {
    use rayon::prelude::*;
    if let [path] = paths {
        return vec![check_one(path, pkg, world, options)];
    }
    paths
        .par_iter()
        .map(|path| check_one(path, pkg, world, options))
        .collect()
}

fn check_one(
    path: &Path,
    pkg: &WitPackage,
    world: wcomp_wasm::wit_parser::WorldId,
    options: Options,
) -> Outcome {
    let input = InputPath::new(path);
    let name = input.display_name();
    let error = |e: wcomp_wasm::Error| {
        let exit = match e {
            wcomp_wasm::Error::NotFound(_) | wcomp_wasm::Error::Read { .. } => {
                wcomp_core::exit::USAGE
            }
            _ => wcomp_core::exit::FAILURE,
        };
        Outcome {
            component: name.clone(),
            verdict: "error",
            report: None,
            error: Some(ErrorInfo {
                hint: e.hint(),
                message: e.to_string(),
            }),
            exit,
        }
    };
    let bytes = match input.read() {
        Ok(b) => b,
        Err(e) => return error(e),
    };
    let bin = match input::classify(&name, &bytes) {
        Ok(Content::Wasm(bin)) => bin,
        Ok(Content::WitText(_)) => {
            return error(wcomp_wasm::Error::WitPackageNotComponent { name: name.clone() });
        }
        Err(e) => return error(e),
    };
    if bin.kind == BinaryKind::CoreModule {
        return error(wcomp_wasm::Error::CoreModule { name: name.clone() });
    }
    let component = match wcomp_wasm::component::load(&name, &bin.bytes) {
        Ok(c) => c,
        Err(e) => return error(e),
    };
    let report = check::check(
        World {
            resolve: &component.resolve,
            id: component.world,
        },
        World {
            resolve: &pkg.resolve,
            id: world,
        },
        options,
    );
    let conforms = report.conforms();
    Outcome {
        component: name,
        verdict: if conforms {
            "conforms"
        } else {
            "does-not-conform"
        },
        report: Some(report),
        error: None,
        exit: if conforms {
            wcomp_core::exit::SUCCESS
        } else {
            wcomp_core::exit::FAILURE
        },
    }
}

fn render(outcomes: &[Outcome], world: &str) -> String {
    let mut s = String::new();
    for o in outcomes {
        match (&o.report, &o.error) {
            (Some(report), _) if report.conforms() => {
                s.push_str(&format!(
                    "{}  {} conforms to `{world}`\n",
                    paint(OK, "ok  "),
                    o.component
                ));
                render_notes(&mut s, report);
            }
            (Some(report), _) => {
                let n = report.problems.len();
                s.push_str(&format!(
                    "{}  {} does not conform to `{world}` ({n} problem{})\n",
                    paint(ERROR, "FAIL"),
                    o.component,
                    if n == 1 { "" } else { "s" }
                ));
                for p in &report.problems {
                    s.push('\n');
                    printer::problem(&mut s, p, "  ");
                }
                if !report.version_notes.is_empty() {
                    s.push('\n');
                }
                render_notes(&mut s, report);
                if outcomes.len() > 1 {
                    s.push('\n');
                }
            }
            (None, Some(e)) => {
                s.push_str(&format!("{}  {}\n", paint(ERROR, "FAIL"), o.component));
                for line in e.message.lines() {
                    s.push_str(&format!("      {line}\n"));
                }
                if let Some(h) = &e.hint {
                    s.push_str(&format!("      {}: {h}\n", paint(NOTE, "hint")));
                }
            }
            (None, None) => unreachable!("an outcome has a report or an error"),
        }
    }
    if outcomes.len() > 1 {
        let count = |v: &str| outcomes.iter().filter(|o| o.verdict == v).count();
        let errors = count("error");
        if !s.ends_with("\n\n") {
            s.push('\n');
        }
        let mut summary = format!(
            "{} components checked: {} conform, {} do not",
            outcomes.len(),
            count("conforms"),
            count("does-not-conform")
        );
        if errors > 0 {
            summary.push_str(&format!(", {errors} could not be checked"));
        }
        s.push_str(&summary);
        s.push('\n');
    }
    s
}

fn render_notes(s: &mut String, report: &Report) {
    if !report.host_provided.is_empty() {
        s.push_str(&format!(
            "      {}: {} WASI 0.2 import{} accepted as host-provided (`--allow-wasi`): {}\n",
            paint(WARN, "note"),
            report.host_provided.len(),
            if report.host_provided.len() == 1 {
                ""
            } else {
                "s"
            },
            report.host_provided.join(", ")
        ));
    }
    for n in &report.version_notes {
        s.push_str(&format!(
            "      {}: {} `{}` matched the world's `{}` (semver-compatible; runtimes link \
             them; `--strict-versions` refuses this)\n",
            paint(WARN, "note"),
            match n.direction {
                check::Direction::Import => "import",
                check::Direction::Export => "export",
            },
            n.component,
            n.world
        ));
    }
}
