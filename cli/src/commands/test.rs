use super::CliError;
use crate::ops::test::{self, Failure, Outcome, Status, Totals, values};
use crate::printer::{self, BOLD, DIM, ERROR, OK, WARN, paint};
use std::path::PathBuf;
use std::time::Instant;

/// Test components: call their exports and check the answers, with imports mocked.
///
/// Runs every `*.test.toml` under the current project or workspace (build outputs and
/// dependency folders are skipped), or the files and folders given. Each test calls one
/// export with WAVE arguments in a fresh instance and compares the result with `expect`
/// as a value, or sends an HTTP `request` to a wasi:http handler and checks the response's
/// status, headers and body; imports are answered by `[[mock]]`s (canned WAVE values, or a component
/// plugged in for a whole interface) and by the host `wcomp run` has (WASI 0.2,
/// wasi:http, and wcomp:sql with `db = "sqlite::memory:"`). Every file is checked against
/// the component's WIT before any test runs. In a project or workspace, what is stale is
/// built first, as `wcomp build` does. The format: docs/test.md.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  wcomp test                               build what changed, run every *.test.toml here
  wcomp test tests/api.test.toml           one file (no build)
  wcomp test --filter greet                only tests whose <file>::<name> contains `greet`
  wcomp test --junit report.xml            also write a JUnit XML report for CI
  wcomp test --json | jq .                 one JSON object per test, then a summary
  wcomp test --watch                       rebuild what changed and re-test on every save
  wcomp test --timeout 5s                  fail a test that runs longer (default 30s)

A test file:
  component = \"build/app.wasm\"
  [[mock]]
  function = \"demo:greeter/greet@0.1.0#greet\"
  returns = ['\"hello\"']
  [[test]]
  name = \"run greets through the import\"
  invoke = 'run()'
  expect = '\"[app] hello\"'

A request test (a component that exports wasi:http/incoming-handler):
  [[test]]
  name = \"greets\"
  request = \"GET /hello/Ada\"
  expect-status = 200
  expect-body = \"Hello, Ada!\\n\"

Exit codes: 0 every test passed, 1 a test failed (or the build did), 2 a test file is
invalid, no test files were found, or another usage error.")]
pub struct Opts {
    /// Test files, or folders to search for `*.test.toml` (default: the current folder).
    paths: Vec<PathBuf>,

    /// Run only the tests whose `<file>::<name>` contains this text.
    #[arg(long, value_name = "SUBSTRING")]
    filter: Option<String>,

    /// Print one JSON object per test, one a line, then a summary line.
    #[arg(long)]
    json: bool,

    /// Also write the results as JUnit XML to this file.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,

    /// A test still running after this long fails (an endless loop stops there), and
    /// the others go on.
    #[arg(long, default_value = "30s", value_parser = super::serve::duration, value_name = "TIME")]
    timeout: std::time::Duration,

    /// A test whose linear memory grows past this fails (the growth traps).
    #[arg(long, default_value = "512MiB", value_parser = super::serve::memory_size, value_name = "SIZE")]
    max_memory: u64,

    /// Do not build the project or workspace first.
    #[arg(long)]
    no_build: bool,

    /// After running, watch the sources and test files: on each change rebuild what
    /// changed, re-compose, re-test, and print one status line (and the failures).
    #[arg(long, conflicts_with_all = ["json", "junit"])]
    watch: bool,
}

impl Opts {
    pub fn run(self) -> Result<u8, CliError> {
        let paths = if self.paths.is_empty() {
            vec![PathBuf::from(".")]
        } else {
            self.paths.clone()
        };
        if self.watch {
            return self.watch(&paths);
        }
        let round = self.build(&paths, true);
        if let Some(code) = round.failed {
            return Ok(code);
        }
        let totals = self.tests(&paths, false)?;
        Ok(if totals.failed > 0 {
            wcomp_core::exit::FAILURE
        } else {
            wcomp_core::exit::SUCCESS
        })
    }

    /// Builds the projects and workspaces among `paths`, unless `--no-build`.
    fn build(&self, paths: &[PathBuf], announce: bool) -> super::build::Round {
        let mut all = super::build::Round {
            rebuilt: Vec::new(),
            failed: None,
        };
        if self.no_build {
            return all;
        }
        for dir in paths.iter().filter(|p| p.is_dir()) {
            if dir.join(crate::ops::manifest::FILE_NAME).is_file() {
                let round = super::build::build_quietly(dir, announce);
                all.rebuilt.extend(round.rebuilt);
                if round.failed.is_some() {
                    all.failed = round.failed;
                    break;
                }
            }
        }
        all
    }

    /// Finds, loads and runs the tests and prints the results (`quiet`: the failures
    /// only, for `--watch`, whose status line has the totals).
    fn tests(&self, paths: &[PathBuf], quiet: bool) -> Result<Totals, CliError> {
        // The time includes loading: compiling the components is most of a short run.
        let started = Instant::now();
        let files = test::discover(paths).map_err(CliError::usage)?;
        let loader = test::Loader::new()?;
        // Files are loaded side by side: compiling their components is the slow part.
        let loaded: Vec<_> = {
            use rayon::prelude::*;
            files.par_iter().map(|f| loader.load(f)).collect()
        };
        let mut suites = Vec::new();
        let mut invalid = 0;
        for loaded in loaded {
            match loaded {
                Ok(s) => suites.push(s),
                Err(e) => {
                    invalid += 1;
                    printer::report_error(&e);
                }
            }
        }
        if invalid > 0 {
            return Err(CliError::usage(anyhow::anyhow!(
                "{invalid} of {} test files {} invalid; no test ran",
                files.len(),
                if invalid == 1 { "is" } else { "are" }
            )));
        }
        let reporter = Text {
            quiet: self.json || quiet,
        };
        let limits = test::Limits {
            timeout: self.timeout,
            max_memory: self.max_memory,
        };
        let outcomes = test::run(&suites, self.filter.as_deref(), &limits, &reporter);
        let totals = Totals::of(&outcomes);
        if self.json {
            for o in &outcomes {
                printer::out(&format!("{}\n", json_line(o)));
            }
            printer::out(&format!(
                "{}\n",
                serde_json::json!({
                    "type": "summary",
                    "passed": totals.passed,
                    "failed": totals.failed,
                    "skipped": totals.skipped,
                    "seconds": started.elapsed().as_secs_f64(),
                })
            ));
        } else if quiet {
            for o in outcomes
                .iter()
                .filter(|o| matches!(o.status, Status::Failed(_)))
            {
                printer::out(&format!("\n---- {} ----\n{}", o.id(), describe(o)));
            }
        } else {
            printer::out(&summary(&outcomes, totals, started.elapsed()));
        }
        if let Some(path) = &self.junit {
            let xml = test::junit::render(&outcomes, describe);
            crate::ops::atomic::write(path, xml.as_bytes()).map_err(CliError::usage)?;
        }
        Ok(totals)
    }

    /// `--watch`: build and test, then again after each change, one status line per
    /// round; a failing build or an invalid test file keeps watching.
    fn watch(&self, paths: &[PathBuf]) -> Result<u8, CliError> {
        let root = paths
            .iter()
            .find(|p| p.is_dir())
            .cloned()
            .unwrap_or_else(|| PathBuf::from("."));
        let watcher = crate::ops::watch::Watcher::new(&root).map_err(CliError::usage)?;
        printer::err(&format!(
            "watching `{}` for changes (Ctrl-C to stop)\n",
            root.display()
        ));
        let mut changed = Vec::new();
        loop {
            let started = Instant::now();
            let before = watcher.snapshot();
            let round = self.build(paths, false);
            let tests = match round.failed {
                Some(_) => None,
                None => Some(match self.tests(paths, true) {
                    Ok(t) => {
                        let mut s = format!("{} passed, {} failed", t.passed, t.failed);
                        if t.skipped > 0 {
                            s.push_str(&format!(", {} skipped", t.skipped));
                        }
                        s
                    }
                    Err(e) => {
                        printer::report_error(&e.error);
                        "tests not run".to_string()
                    }
                }),
            };
            let built = !self.no_build
                && paths
                    .iter()
                    .any(|p| p.join(crate::ops::manifest::FILE_NAME).is_file());
            super::build::status_line(
                &changed,
                built.then_some(&round),
                tests.as_deref(),
                started.elapsed(),
            );
            changed = watcher
                .next_round(watcher.changed_since(&before))
                .map_err(CliError::usage)?;
        }
    }
}

/// Prints `test <file>::<name> ... ok` as each test ends (text mode).
struct Text {
    quiet: bool,
}

impl test::Reporter for Text {
    fn started(&self, tests: usize, files: usize) {
        if !self.quiet {
            printer::out(&format!(
                "\nrunning {tests} test{} from {files} file{}\n",
                plural(tests),
                plural(files)
            ));
        }
    }

    fn finished(&self, o: &Outcome) {
        if self.quiet {
            return;
        }
        let state = match o.status {
            Status::Passed => paint(OK, "ok"),
            Status::Failed(_) => paint(ERROR, "FAILED"),
            Status::Skipped => paint(WARN, "skipped"),
        };
        printer::out(&format!("test {} ... {state}\n", o.id()));
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The failures in full, then `test result: ok. N passed, N failed`.
fn summary(outcomes: &[Outcome], totals: Totals, took: std::time::Duration) -> String {
    let failed: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| matches!(o.status, Status::Failed(_)))
        .collect();
    let mut s = String::new();
    if !failed.is_empty() {
        s.push_str("\nfailures:\n");
        for o in &failed {
            s.push_str(&format!("\n---- {} ----\n", o.id()));
            s.push_str(&describe(o));
        }
        s.push_str("\nfailures:\n");
        for o in &failed {
            s.push_str(&format!("    {}\n", o.id()));
        }
    }
    let result = if totals.failed > 0 {
        paint(ERROR, "FAILED")
    } else {
        paint(OK, "ok")
    };
    let mut counts = format!("{} passed, {} failed", totals.passed, totals.failed);
    if totals.skipped > 0 {
        counts.push_str(&format!(", {} skipped", totals.skipped));
    }
    s.push_str(&format!(
        "\ntest result: {result}. {counts}; finished in {:.2}s\n",
        took.as_secs_f64()
    ));
    s
}

/// A failed test in full: the call, what was expected and what came, the guest's output.
fn describe(o: &Outcome) -> String {
    let mut s = format!("{}     {}\n", paint(BOLD, "call:"), o.call);
    if let Status::Failed(failures) = &o.status {
        for f in failures {
            s.push_str(&failure_text(f));
        }
    }
    for (name, text) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
        if !text.is_empty() {
            s.push_str(&format!(
                "{}\n{}",
                paint(DIM, format!("--- guest {name} ---")),
                text
            ));
            if !text.ends_with('\n') {
                s.push('\n');
            }
        }
    }
    s
}

fn failure_text(f: &Failure) -> String {
    match f {
        Failure::Mismatch { expected, actual } => {
            if !expected.contains('\n') && !actual.contains('\n') {
                return format!(
                    "{} {}\n{}   {}\n",
                    paint(BOLD, "expected:"),
                    paint(OK, expected),
                    paint(BOLD, "actual:"),
                    paint(ERROR, actual)
                );
            }
            let mut s = format!(
                "{} ({} expected, {} actual):\n",
                paint(BOLD, "diff"),
                paint(OK, "-"),
                paint(ERROR, "+")
            );
            for line in values::collapse(values::diff(expected, actual)) {
                s.push_str(&match line {
                    None => format!("  {}\n", paint(DIM, "...")),
                    Some(values::Line::Same(l)) => format!("  {l}\n"),
                    Some(values::Line::Expected(l)) => {
                        format!("{}\n", paint(OK, format!("- {l}")))
                    }
                    Some(values::Line::Actual(l)) => {
                        format!("{}\n", paint(ERROR, format!("+ {l}")))
                    }
                });
            }
            s
        }
        Failure::Trapped { message } => {
            format!(
                "{}\n{}",
                paint(BOLD, "the component trapped:"),
                indent(message)
            )
        }
        Failure::Returned { wanted, actual } => format!(
            "{} a trap whose message contains `{wanted}`\n{}   the call returned {actual}\n",
            paint(BOLD, "expected:"),
            paint(BOLD, "actual:"),
        ),
        Failure::OtherTrap { wanted, message } => format!(
            "{} a trap whose message contains `{wanted}`\n{}\n{}",
            paint(BOLD, "expected:"),
            paint(BOLD, "the trap was:"),
            indent(message)
        ),
        Failure::Calls {
            function,
            expected,
            actual,
        } => format!(
            "{} `{function}` was called {actual} time{}, expected {expected}\n",
            paint(BOLD, "calls:"),
            plural(*actual as usize)
        ),
        Failure::Setup { message } => format!(
            "{}\n{}",
            paint(BOLD, "the test could not start:"),
            indent(message)
        ),
    }
}

fn indent(text: &str) -> String {
    let mut s = String::new();
    for l in text.trim_end().lines() {
        s.push_str("    ");
        s.push_str(l);
        s.push('\n');
    }
    s
}

fn json_line(o: &Outcome) -> serde_json::Value {
    let (status, failures) = match &o.status {
        Status::Passed => ("passed", Vec::new()),
        Status::Skipped => ("skipped", Vec::new()),
        Status::Failed(fs) => (
            "failed",
            fs.iter()
                .map(|f| {
                    let mut v = serde_json::json!({ "message": test::junit::summary(f) });
                    match f {
                        Failure::Mismatch { expected, actual } => {
                            v["expected"] = expected.clone().into();
                            v["actual"] = actual.clone().into();
                        }
                        Failure::Trapped { message }
                        | Failure::OtherTrap { message, .. }
                        | Failure::Setup { message } => {
                            v["trap"] = message.clone().into();
                        }
                        Failure::Returned { actual, .. } => v["actual"] = actual.clone().into(),
                        Failure::Calls {
                            function,
                            expected,
                            actual,
                        } => {
                            v["function"] = function.clone().into();
                            v["expected"] = (*expected).into();
                            v["actual"] = (*actual).into();
                        }
                    }
                    v
                })
                .collect(),
        ),
    };
    serde_json::json!({
        "type": "test",
        "file": o.file,
        "name": o.name,
        "call": o.call,
        "status": status,
        "ms": o.duration.as_secs_f64() * 1000.0,
        "failures": failures,
        "stdout": o.stdout,
        "stderr": o.stderr,
    })
}
