use super::CliError;
use crate::ops::build::{self, BuildOptions, DoesNotConform, Reporter};
use crate::printer::{self, BOLD, DIM, OK, human_size, paint};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// Build the component (or every member of the workspace) described by `wcomp.toml`.
///
/// Runs the language's own toolchain (cargo for Rust, go for Go, componentize-py for
/// Python, componentize-js for JavaScript), then checks the component against the world
/// the manifest declares. Nothing changed since the last build means nothing is rebuilt.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  wcomp build                   build the project in the current directory
  wcomp build path/to/project   build another project (or workspace)
  wcomp build -o app.wasm       choose the output file
  wcomp build --force -v        rebuild even if nothing changed, show toolchain output
  wcomp build --watch           rebuild (only what changed) on every save

The output goes to <project>/build/<name>.wasm, where <name> is the package name after
the `:` (docs/build.md).
Exit codes: 0 built (or up to date), 1 the build failed or the component does not
conform to its world, 2 usage or environment error (no wcomp.toml, toolchain missing).")]
pub struct Opts {
    /// The project or workspace directory.
    #[arg(default_value = ".")]
    dir: PathBuf,

    /// Where to write the component (single projects only).
    #[arg(short, long)]
    output: Option<PathBuf>,

    /// Rebuild even when nothing changed.
    #[arg(long)]
    force: bool,

    /// Show the toolchain's output.
    #[arg(short, long)]
    verbose: bool,

    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,

    /// After building, watch the sources: on each change rebuild what changed (only the
    /// members whose sources changed), recompose, and print one status line.
    #[arg(long, conflicts_with_all = ["json", "output", "force"])]
    watch: bool,
}

/// A spinner on stderr with the current step (hidden when stderr is not a terminal).
struct Spinner {
    bar: ProgressBar,
    verbose: bool,
    lock: Mutex<()>,
}

impl Reporter for Spinner {
    fn step(&self, project: &str, step: &str) {
        self.bar.set_message(format!("{project}: {step}"));
    }
    fn toolchain_output(&self, project: &str, output: &str) {
        if self.verbose && !output.trim().is_empty() {
            let _guard = self.lock.lock();
            self.bar.suspend(|| {
                eprintln!("--- {project}: toolchain output ---\n{}", output.trim_end());
            });
        }
    }
}

impl Spinner {
    fn new(verbose: bool) -> Spinner {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("valid template"),
        );
        bar.enable_steady_tick(Duration::from_millis(100));
        Spinner {
            bar,
            verbose,
            lock: Mutex::new(()),
        }
    }
}

/// A failed build as `wcomp build` reports it: a world mismatch (printed in full here,
/// `Ok(1)`) or a composition's problems printed in full, exit 1 for a failed build, 2 for
/// the environment.
fn build_error(e: anyhow::Error) -> Result<u8, CliError> {
    if let Some(nc) = e.downcast_ref::<DoesNotConform>() {
        let mut text = format!("{}: {}\n", paint(crate::printer::ERROR, "error"), nc);
        for p in &nc.report.problems {
            printer::problem(&mut text, p, "  ");
        }
        printer::err(&text);
        return Ok(wcomp_core::exit::FAILURE);
    }
    if let Some(wcomp_compose::Error::Rejected(problems)) = e
        .chain()
        .find_map(|c| c.downcast_ref::<wcomp_compose::Error>())
    {
        let mut text = String::new();
        for p in problems {
            printer::problem(&mut text, p, "");
        }
        printer::err(&text);
    }
    Err(CliError {
        code: super::exit_code_of(&e, wcomp_core::exit::FAILURE),
        error: e,
    })
}

/// What one build before `wcomp test`, or one `--watch` round, did.
pub struct Round {
    /// Each member rebuilt (`name@version`) and each composition recomposed (its output).
    pub rebuilt: Vec<String>,
    /// The build failed (it was reported on stderr), with the exit code that maps to.
    pub failed: Option<u8>,
}

/// Builds the project or workspace in `dir` (before `wcomp test`, or in a `--watch`
/// round), with the spinner on stderr; failures are reported there. With `announce`, a
/// line on stderr for each member rebuilt.
pub fn build_quietly(dir: &std::path::Path, announce: bool) -> Round {
    let spinner = Spinner::new(false);
    let result = build::build(
        &BuildOptions {
            dir: dir.to_path_buf(),
            output: None,
            force: false,
        },
        &spinner,
    );
    spinner.bar.finish_and_clear();
    let (built, composed) = match result {
        Ok(b) => b,
        Err(e) => {
            let code = match build_error(e) {
                Ok(code) => code,
                Err(e) => {
                    printer::report_error(&e.error);
                    e.code
                }
            };
            return Round {
                rebuilt: Vec::new(),
                failed: Some(code),
            };
        }
    };
    let mut rebuilt = Vec::new();
    for b in built.iter().filter(|b| b.rebuilt) {
        let name = format!("{}@{}", b.name, b.version);
        if announce {
            printer::err(&format!(
                "{} {} -> {}\n",
                paint(OK, "built"),
                paint(BOLD, &name),
                b.output.display()
            ));
        }
        rebuilt.push(name);
    }
    for c in composed.iter().filter(|c| c.rebuilt) {
        if announce {
            printer::err(&format!(
                "{} {} -> {}\n",
                paint(OK, "composed"),
                paint(BOLD, c.parts.join(" + ")),
                c.output.display()
            ));
        }
        rebuilt.push(c.output.display().to_string());
    }
    Round {
        rebuilt,
        failed: None,
    }
}

/// `--watch`: one status line per round on stdout, `[12:00:01] src/lib.rs changed: built
/// acme:app@0.1.0 (1.2 s)`: the build's outcome (when there was a build) and `tests` (a
/// test summary) when there is one.
pub fn status_line(
    changed: &[std::path::PathBuf],
    round: Option<&Round>,
    tests: Option<&str>,
    took: Duration,
) {
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let time = now.get(11..19).unwrap_or(&now);
    let mut line = format!("[{time}] ");
    match changed {
        [] => {}
        [one] => line.push_str(&format!("{} changed: ", one.display())),
        [first, rest @ ..] => line.push_str(&format!(
            "{} and {} more changed: ",
            first.display(),
            rest.len()
        )),
    }
    let mut parts = Vec::new();
    if let Some(round) = round {
        parts.push(match (&round.failed, round.rebuilt.is_empty()) {
            (Some(_), _) => paint(crate::printer::ERROR, "build failed"),
            (None, true) => paint(DIM, "up to date"),
            (None, false) => format!("{} {}", paint(OK, "built"), round.rebuilt.join(", ")),
        });
    }
    parts.extend(tests.map(str::to_string));
    line.push_str(&parts.join("; "));
    line.push_str(&format!(" ({:.1} s)\n", took.as_secs_f64()));
    printer::out(&line);
}

/// `wcomp build --watch`: build, then again after each change; a failing build keeps
/// watching. Ends only when interrupted.
fn watch(dir: &std::path::Path) -> Result<u8, CliError> {
    let watcher = crate::ops::watch::Watcher::new(dir).map_err(CliError::usage)?;
    printer::err(&format!(
        "watching `{}` for changes (Ctrl-C to stop)\n",
        dir.display()
    ));
    let mut changed = Vec::new();
    loop {
        let started = std::time::Instant::now();
        let before = watcher.snapshot();
        let round = build_quietly(dir, false);
        status_line(&changed, Some(&round), None, started.elapsed());
        changed = watcher
            .next_round(watcher.changed_since(&before))
            .map_err(CliError::usage)?;
    }
}

impl Opts {
    pub fn run(self) -> Result<u8, CliError> {
        if self.watch {
            return watch(&self.dir);
        }
        let spinner = Spinner::new(self.verbose);
        let result = build::build(
            &BuildOptions {
                dir: self.dir,
                output: self.output,
                force: self.force,
            },
            &spinner,
        );
        spinner.bar.finish_and_clear();
        let (built, composed) = match result {
            Ok(b) => b,
            Err(e) => return build_error(e),
        };
        if self.json {
            #[derive(serde::Serialize)]
            struct Out<'a> {
                members: &'a [crate::ops::build::Built],
                /// One per `[composition]` / `[[composition]]`, in the manifest's order.
                #[serde(skip_serializing_if = "<[_]>::is_empty")]
                compositions: &'a [crate::ops::compose_ws::Composed],
            }
            printer::json(&Out {
                members: &built,
                compositions: &composed,
            })?;
        } else {
            let mut s = String::new();
            for b in &built {
                let state = if b.rebuilt {
                    paint(OK, "built")
                } else {
                    paint(DIM, "up to date")
                };
                s.push_str(&format!(
                    "{state} {} ({}) -> {} [{}]\n",
                    paint(BOLD, format!("{}@{}", b.name, b.version)),
                    b.language.name(),
                    b.output.display(),
                    human_size(b.size)
                ));
                if let Some(r) = &b.report
                    && !r.host_provided.is_empty()
                {
                    s.push_str(&format!(
                        "  {}\n",
                        paint(
                            DIM,
                            format!(
                                "conforms to its world; {} WASI 0.2 imports provided by the host",
                                r.host_provided.len()
                            )
                        )
                    ));
                }
            }
            for c in &composed {
                let state = if c.rebuilt {
                    paint(OK, "composed")
                } else {
                    paint(DIM, "up to date")
                };
                s.push_str(&format!(
                    "{state} {} -> {} [{}]\n",
                    paint(BOLD, c.parts.join(" + ")),
                    c.output.display(),
                    human_size(c.size)
                ));
                if !c.unified.is_empty() {
                    s.push_str(&format!(
                        "  {}\n",
                        paint(
                            DIM,
                            format!("{} WASI imports unified to one version", c.unified.len())
                        )
                    ));
                }
            }
            printer::out(&s);
        }
        Ok(wcomp_core::exit::SUCCESS)
    }
}
