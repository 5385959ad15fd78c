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

impl Opts {
    pub fn run(self) -> Result<u8, CliError> {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("valid template"),
        );
        bar.enable_steady_tick(Duration::from_millis(100));
        let spinner = Spinner {
            bar,
            verbose: self.verbose,
            lock: Mutex::new(()),
        };
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
            Err(e) => {
                if let Some(nc) = e.downcast_ref::<DoesNotConform>() {
                    let mut text = format!("{}: {}\n", paint(crate::printer::ERROR, "error"), nc);
                    for p in &nc.report.problems {
                        text.push_str(&format!("  - {}\n", p.message));
                        if let Some(x) = &p.expected {
                            text.push_str(&format!("      world expects:  {x}\n"));
                        }
                        if let Some(x) = &p.found {
                            text.push_str(&format!("      component has:  {x}\n"));
                        }
                        for d in &p.details {
                            text.push_str(&format!("      {d}\n"));
                        }
                    }
                    eprint!("{text}");
                    return Ok(wcomp_core::exit::FAILURE);
                }
                if let Some(wcomp_compose::Error::Rejected(problems)) = e
                    .chain()
                    .find_map(|c| c.downcast_ref::<wcomp_compose::Error>())
                {
                    let mut text = String::new();
                    for p in problems {
                        super::compose::render_problem(&mut text, p);
                    }
                    anstream::eprint!("{text}");
                }
                let environment = e.chain().any(|c| {
                    c.is::<crate::ops::EnvironmentError>()
                        || c.downcast_ref::<wcomp_compose::Error>()
                            .is_some_and(|e| e.is_usage())
                });
                return Err(if environment {
                    CliError::usage(e)
                } else {
                    CliError::failure(e)
                });
            }
        };
        if self.json {
            #[derive(serde::Serialize)]
            struct Out<'a> {
                members: &'a [crate::ops::build::Built],
                /// One per `[composition]` / `[[composition]]`, in the manifest's order.
                #[serde(skip_serializing_if = "<[_]>::is_empty")]
                compositions: &'a [crate::ops::compose_ws::Composed],
            }
            let mut text = serde_json::to_string_pretty(&Out {
                members: &built,
                compositions: &composed,
            })
            .map_err(anyhow::Error::from)?;
            text.push('\n');
            printer::out(&text);
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
