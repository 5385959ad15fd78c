use super::CliError;
use crate::printer::{self, BOLD, DIM, NOTE, OK, WARN, human_size, paint};
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use wcomp_compose::encode::Tool;
use wcomp_compose::part::{Part, name_from_path};
use wcomp_compose::plan::{ManualWire, Options, Plan, Unification};
use wcomp_compose::wac::Dep;
use wcomp_compose::{Error, Problem};

/// Compose several components into one.
///
/// Give a root component and plugs: any part's exports may satisfy any other part's
/// imports (plugs feed each other), matched by interface name, then by semver-compatible
/// version. Every wire is type-checked first, and a mismatch is explained in WIT, naming
/// both parts. Imports no part satisfies stay imports of the result; semver-compatible
/// versions of one interface are imported once, at the newest version. Or give a WAC file
/// and the packages it names with `--dep`. The output records every part (name, source,
/// sha256) in a `wcomp-composition` custom section that `wcomp inspect` shows.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  wcomp compose app.wasm --plug validator.wasm --plug db.wasm -o pipeline.wasm
  wcomp compose app.wasm --plug db=build/db_adapter.wasm --emit-wac pipeline.wac
  wcomp compose app.wasm --plug a.wasm --plug b.wasm \\
      --wire app:example:store/records@0.1.0=b       settle a choice by hand
  wcomp compose pipeline.wac --dep example:app=app.wasm --dep example:db=db.wasm
  wcomp compose app.wasm --plug db.wasm --no-imports --print-wit

Wiring rule: a `--wire` wins; else a part exporting the import's exact name (two such
parts: error, use --wire); else the newest semver-compatible version of the interface
(a tie: error). Parts nothing uses are an error. See docs/compose.md.

Exit codes: 0 composed, 1 the parts cannot be composed (type mismatch, ambiguity, cycle,
unused plug, leftover imports with --no-imports, bad WAC semantics), 2 usage error
(unreadable input, bad --wire/--dep, WAC syntax error, missing --dep).")]
pub struct Opts {
    /// The root component (its exports are the composition's exports), as `PATH` or
    /// `NAME=PATH`; or a `.wac` file.
    input: String,

    /// A component to plug in, as `PATH` or `NAME=PATH` (the name defaults to the file
    /// stem in kebab-case).
    #[arg(long, value_name = "[NAME=]PATH")]
    plug: Vec<String>,

    /// Wire an import by hand: `importer:import=exporter[:export]`.
    #[arg(long, value_name = "WIRE")]
    wire: Vec<ManualWire>,

    /// For a WAC file: the component behind a package name, `ns:name[@version]=PATH`.
    #[arg(long, value_name = "PKG=PATH")]
    dep: Vec<String>,

    /// Where to write the composed component. Defaults to `<root>.composed.wasm` in the
    /// current directory.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,

    /// Also write the wiring chosen as a WAC file that `wcomp compose` (and wac) can run.
    #[arg(long, value_name = "FILE")]
    emit_wac: Option<PathBuf>,

    /// Print the composed component's world in WIT.
    #[arg(long)]
    print_wit: bool,

    /// Refuse to produce a composition that still has imports.
    #[arg(long)]
    no_imports: bool,

    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct JsonOutput<'a> {
    schema: u32,
    output: String,
    size: u64,
    sha256: String,
    parts: Vec<wcomp_wasm::provenance::PartRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    plan: Option<&'a Plan>,
    /// Semver-compatible imports of one interface imported once, at the newest version.
    unified: Vec<&'a Unification>,
    /// Ones that stayed separate imports.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    not_unified: Vec<&'a Unification>,
    imports: Vec<String>,
    exports: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    wit: Option<String>,
}

#[derive(Serialize)]
struct JsonError<'a> {
    schema: u32,
    error: String,
    problems: &'a [Problem],
}

impl Opts {
    pub fn run(self) -> Result<u8, CliError> {
        let tool = Tool {
            name: "wcomp",
            version: env!("CARGO_PKG_VERSION"),
        };
        let wac_mode = self.input.ends_with(".wac");
        let result = if wac_mode {
            self.compose_wac(&tool)
        } else {
            self.compose_parts(&tool)
        };
        let (mut encoded, parts, plan, root_name) = match result {
            Ok(r) => r,
            Err(e) => return Err(self.report(e)),
        };
        let out = self
            .output
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("{root_name}.composed.wasm")));
        let wit = if self.print_wit || self.json {
            Some(world_wit(&encoded.world().map_err(|e| self.report(e))?)?)
        } else {
            None
        };
        // Validated when it was encoded (`wcomp_compose::encode::check`); hashed then, or
        // as it is written when parts stand in for large files.
        let size = encoded.size();
        let wac = match (&self.emit_wac, &plan) {
            (Some(path), Some(plan)) => Some((path, wcomp_compose::wac::emit(&parts, plan))),
            (Some(_), None) => {
                return Err(CliError::usage(anyhow::anyhow!(
                    "`--emit-wac` writes the wiring automatic mode chose; the input is already a WAC file"
                )));
            }
            (None, _) => None,
        };
        // Nothing is written when anything fails: the WAC file goes second, and the
        // component is taken back if it cannot be written.
        let digest = crate::ops::atomic::write_with(&out, |file| Ok(encoded.write_to(file)?))
            .map_err(|e| match e.downcast::<Error>() {
                // A part's file changed while it was composed: the composition failed.
                Ok(e) => self.report(e),
                Err(e) => CliError::usage(e.context(format!("cannot write `{}`", out.display()))),
            })?;
        let wcomp_compose::encode::Encoded {
            imports, exports, ..
        } = encoded;
        if let Some((path, text)) = wac
            && let Err(e) = write_atomic(path, text.as_bytes())
        {
            let _ = fs_err::remove_file(&out);
            return Err(e);
        }
        // Large part files read in full this time are composed through stand-ins next time.
        wcomp_compose::standin::remember(&parts);
        let import_set: BTreeSet<String> = imports.iter().cloned().collect();
        let (unified, not_unified) = match &plan {
            Some(plan) => wcomp_compose::encode::unified_in(plan, &import_set),
            None => (Vec::new(), Vec::new()),
        };
        if self.json {
            let json = JsonOutput {
                schema: 1,
                output: out.display().to_string(),
                size,
                sha256: digest.to_string(),
                parts: parts
                    .iter()
                    .map(wcomp_compose::encode::part_record)
                    .collect(),
                plan: plan.as_ref(),
                unified,
                not_unified,
                imports,
                exports,
                wit,
            };
            printer::json(&json)?;
            return Ok(wcomp_core::exit::SUCCESS);
        }
        let mut s = format!(
            "{} {} ({}, {})\n",
            paint(OK, "composed"),
            paint(BOLD, out.display()),
            human_size(size),
            digest
        );
        s.push_str(&format!("  {}\n", paint(BOLD, "parts:")));
        for p in &parts {
            let root = if p.name == root_name { " (root)" } else { "" };
            s.push_str(&format!(
                "    {}{root}  {}  {}\n",
                p.name,
                p.source,
                paint(DIM, p.digest())
            ));
        }
        if let Some(plan) = &plan {
            render_plan(&mut s, plan, &unified, &not_unified);
        }
        s.push_str(&format!("  {}\n", paint(BOLD, "exports:")));
        for e in &exports {
            s.push_str(&format!("    {e}\n"));
        }
        if imports.is_empty() {
            s.push_str(&format!(
                "  {} none (a closed composition)\n",
                paint(BOLD, "imports:")
            ));
        } else {
            s.push_str(&format!(
                "  {} (left for the host)\n",
                paint(BOLD, "imports:")
            ));
            for i in &imports {
                s.push_str(&format!("    {i}\n"));
            }
        }
        if let Some(path) = &self.emit_wac {
            s.push_str(&format!("  wiring written to {}\n", path.display()));
        }
        if let Some(wit) = wit {
            s.push_str(&format!("\n{wit}"));
        }
        printer::out(&s);
        Ok(wcomp_core::exit::SUCCESS)
    }

    /// Root + plugs: plan the wiring, check it, encode.
    fn compose_parts(&self, tool: &Tool<'_>) -> Result<Composed, Error> {
        if !self.dep.is_empty() {
            return Err(Error::BadWire(
                "`--dep` names the packages of a WAC file; with a root component use `--plug`"
                    .to_string(),
            ));
        }
        let mut specs = vec![split_spec(&self.input)];
        specs.extend(self.plug.iter().map(|p| split_spec(p)));
        let parts = crate::ops::parts::load(&specs, Path::new(""), true)?;
        let plan = wcomp_compose::plan(
            &parts,
            0,
            &self.wire,
            Options {
                closed: self.no_imports,
            },
        )?;
        let encoded = wcomp_compose::encode::encode(&parts, &plan, tool)?;
        let root = parts[0].name.clone();
        Ok((encoded, parts, Some(plan), root))
    }

    /// A WAC file and its `--dep`s.
    fn compose_wac(&self, tool: &Tool<'_>) -> Result<Composed, Error> {
        if !self.plug.is_empty() || !self.wire.is_empty() {
            return Err(Error::BadWire(
                "`--plug` and `--wire` are for automatic wiring; a WAC file says its wiring itself (give its packages with `--dep`)"
                    .to_string(),
            ));
        }
        let path = Path::new(&self.input);
        // The error names the path itself (`wcomp_wasm::Error::Read`).
        #[allow(clippy::disallowed_methods)]
        let source = std::fs::read_to_string(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                wcomp_wasm::Error::NotFound(path.to_path_buf())
            } else {
                wcomp_wasm::Error::Read {
                    path: path.to_path_buf(),
                    source: e,
                }
            }
        })?;
        let mut specs = Vec::new();
        let mut packages = Vec::new();
        for d in &self.dep {
            let Some((pkg, file)) = d.split_once('=') else {
                return Err(Error::BadWire(format!(
                    "`--dep {d}`: expected `ns:name=path/to/component.wasm`"
                )));
            };
            let bare = pkg.split('@').next().unwrap_or(pkg);
            let Some((_, name)) = bare.split_once(':') else {
                return Err(Error::BadWire(format!(
                    "`--dep {d}`: `{pkg}` is not a package name (`ns:name`)"
                )));
            };
            specs.push((Some(name_from_path(name)), file.to_string()));
            packages.push(pkg.to_string());
        }
        // Parts are named after their package's name; packages of one name in two
        // namespaces (`a:db`, `b:db`) are told apart by the namespace (`a-db`, `b-db`).
        let short: Vec<Option<String>> = specs.iter().map(|(n, _)| n.clone()).collect();
        for (i, (name, _)) in specs.iter_mut().enumerate() {
            if short.iter().filter(|n| **n == short[i]).count() > 1 {
                let bare = packages[i].split('@').next().unwrap_or(&packages[i]);
                *name = Some(name_from_path(&bare.replace(':', "-")));
            }
        }
        let parts = crate::ops::parts::load(&specs, Path::new(""), false)?;
        let deps: Vec<Dep> = parts
            .into_iter()
            .zip(packages)
            .map(|(part, package)| Dep { package, part })
            .collect();
        let encoded = wcomp_compose::wac::compose(&self.input, &source, &deps, tool)?;
        let root = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("composition")
            .to_string();
        Ok((
            encoded,
            deps.into_iter().map(|d| d.part).collect(),
            None,
            root,
        ))
    }

    fn report(&self, e: Error) -> CliError {
        let code = e.exit_code();
        if self.json {
            let problems = match &e {
                Error::Rejected(p) => p.as_slice(),
                _ => &[],
            };
            let _ = printer::json(&JsonError {
                schema: 1,
                error: e.to_string(),
                problems,
            });
        }
        let e = match e {
            Error::Rejected(problems) if !self.json => {
                let mut s = String::new();
                for p in &problems {
                    printer::problem(&mut s, p, "");
                }
                printer::err(&s);
                let n = problems.len();
                anyhow::anyhow!(
                    "cannot compose: {n} problem{} (nothing was written)",
                    if n == 1 { "" } else { "s" }
                )
            }
            other => anyhow::Error::new(other),
        };
        CliError { code, error: e }
    }
}

type Composed = (
    wcomp_compose::encode::Encoded,
    Vec<Part>,
    Option<Plan>,
    String,
);

/// `NAME=PATH` or `PATH`.
fn split_spec(spec: &str) -> (Option<String>, String) {
    match spec.split_once('=') {
        Some((name, path)) if !name.contains(['/', '\\', '.']) => {
            (Some(name.to_string()), path.to_string())
        }
        _ => (None, spec.to_string()),
    }
}

fn world_wit(c: &wcomp_wasm::component::DecodedComponent) -> Result<String, CliError> {
    wcomp_wasm::inspect::print_component_wit(&c.resolve, c.world).map_err(|e| {
        CliError::failure(anyhow::Error::new(e).context("printing the composed world"))
    })
}

fn render_plan(s: &mut String, plan: &Plan, unified: &[&Unification], kept: &[&Unification]) {
    if !plan.wires.is_empty() {
        s.push_str(&format!("  {}\n", paint(BOLD, "wires:")));
        for w in &plan.wires {
            let how = match w.how {
                wcomp_compose::plan::How::Exact => String::new(),
                wcomp_compose::plan::How::Compatible => {
                    format!(
                        " {}",
                        paint(DIM, format!("(semver-compatible: {})", w.export))
                    )
                }
                wcomp_compose::plan::How::Manual => format!(" {}", paint(DIM, "(--wire)")),
            };
            s.push_str(&format!(
                "    {}: {} <- {}{how}\n",
                w.importer_name, w.import, w.exporter_name
            ));
        }
    }
    for (u, done) in unified
        .iter()
        .map(|u| (u, true))
        .chain(kept.iter().map(|u| (u, false)))
    {
        let from: Vec<String> = u
            .from
            .iter()
            .map(|(part, name)| format!("{} ({part})", name.rsplit('@').next().unwrap_or(name)))
            .collect();
        if done {
            s.push_str(&format!(
                "  {}: {} imported once (parts import @{})\n",
                paint(NOTE, "unified"),
                u.chosen,
                from.join(", @")
            ));
        } else {
            s.push_str(&format!(
                "  {}: semver-compatible imports of {} stayed separate (parts import @{})\n",
                paint(WARN, "note"),
                u.chosen.split('@').next().unwrap_or(&u.chosen),
                from.join(", @")
            ));
        }
    }
    for n in &plan.notes {
        s.push_str(&format!("  {}: {n}\n", paint(WARN, "note")));
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    crate::ops::atomic::write(path, bytes)
        .map_err(|e| CliError::usage(e.context(format!("cannot write `{}`", path.display()))))
}
