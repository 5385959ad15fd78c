//! Running tests: all the suites' tests on a pool of threads, each test in a store and an
//! instance of its own.

use super::load::{Expect, Prepared, Suite, TestState};
use super::values::{pretty, wave};
use super::{Failure, Limits, Outcome, Reporter, Status};
use crate::ops::host::{Outbound, State};
use crate::ops::sql::{self, SqlHost};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use wasmtime::Store;
use wasmtime::component::Val;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

/// What the guest may print per stream before writes fail.
const OUTPUT_CAPACITY: usize = 1 << 20;

/// How often the engines' clock ([`Limits::timeout`] is counted in these) ticks.
const TICK: Duration = Duration::from_millis(10);

/// Runs every test of `suites` whose `file::name` contains `filter`; the others are
/// skipped. Outcomes come back in the files' order; `reporter` hears of each as it ends.
/// A test that runs longer than `limits.timeout` or grows a memory past
/// `limits.max_memory` fails, and the others go on.
pub fn run(
    suites: &[Suite],
    filter: Option<&str>,
    limits: &Limits,
    reporter: &dyn Reporter,
) -> Vec<Outcome> {
    let mut jobs = Vec::new();
    let mut outcomes: Vec<Option<Outcome>> = Vec::new();
    for suite in suites {
        for t in &suite.tests {
            let id = format!("{}::{}", suite.file, t.name);
            if filter.is_some_and(|f| !id.contains(f)) {
                outcomes.push(Some(Outcome {
                    file: suite.file.clone(),
                    name: t.name.clone(),
                    call: t.call.clone(),
                    status: Status::Skipped,
                    duration: Default::default(),
                    stdout: String::new(),
                    stderr: String::new(),
                }));
            } else {
                jobs.push((outcomes.len(), suite, t));
                outcomes.push(None);
            }
        }
    }
    let files = suites
        .iter()
        .filter(|s| jobs.iter().any(|(_, js, _)| std::ptr::eq(*js, *s)))
        .count();
    reporter.started(jobs.len(), files);
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(jobs.len().max(1));
    let next = AtomicUsize::new(0);
    let done = Mutex::new(outcomes);
    let finished = AtomicBool::new(false);
    // The suites' engines, once each: their epoch is the tests' clock.
    let mut engines: Vec<&wasmtime::Engine> = Vec::new();
    for s in suites {
        if !engines.iter().any(|e| wasmtime::Engine::same(e, &s.engine)) {
            engines.push(&s.engine);
        }
    }
    std::thread::scope(|s| {
        s.spawn(|| {
            while !finished.load(Ordering::Relaxed) {
                std::thread::sleep(TICK);
                engines.iter().for_each(|e| e.increment_epoch());
            }
        });
        let workers: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((slot, suite, t)) = jobs.get(i) else {
                            break;
                        };
                        let outcome = run_one(suite, t, limits);
                        reporter.finished(&outcome);
                        done.lock().expect("not poisoned")[*slot] = Some(outcome);
                    }
                })
            })
            .collect();
        for w in workers {
            let _ = w.join();
        }
        finished.store(true, Ordering::Relaxed);
    });
    done.into_inner()
        .expect("not poisoned")
        .into_iter()
        .map(|o| o.expect("every test ran"))
        .collect()
}

fn run_one(suite: &Suite, t: &Prepared, limits: &Limits) -> Outcome {
    let started = Instant::now();
    let stdout = MemoryOutputPipe::new(OUTPUT_CAPACITY);
    let stderr = MemoryOutputPipe::new(OUTPUT_CAPACITY);
    let status = match call(suite, t, limits, &stdout, &stderr) {
        Ok(failures) if failures.is_empty() => Status::Passed,
        Ok(failures) => Status::Failed(failures),
        Err(message) => Status::Failed(vec![Failure::Setup { message }]),
    };
    Outcome {
        file: suite.file.clone(),
        name: t.name.clone(),
        call: t.call.clone(),
        status,
        duration: started.elapsed(),
        stdout: String::from_utf8_lossy(&stdout.contents()).into_owned(),
        stderr: String::from_utf8_lossy(&stderr.contents()).into_owned(),
    }
}

/// Runs one test: `Ok` with what failed (nothing when it passed), `Err` when it could
/// not start.
fn call(
    suite: &Suite,
    t: &Prepared,
    limits: &Limits,
    stdout: &MemoryOutputPipe,
    stderr: &MemoryOutputPipe,
) -> Result<Vec<Failure>, String> {
    let mut wasi = WasiCtxBuilder::new();
    wasi.stdout(stdout.clone()).stderr(stderr.clone());
    wasi.args(&[t.name.as_str()]);
    for (k, v) in &t.env {
        wasi.env(k, v);
    }
    for (host, guest) in &t.dirs {
        wasi.preopened_dir(host, guest, FsPerms::ReadWrite)
            .map_err(|e| format!("cannot open `{}` for the guest: {e}", host.display()))?;
    }
    let db = match &t.db {
        Some(spec) => Some(sql::open(spec).map_err(|e| format!("{e:#}"))?),
        None => None,
    };
    let mut store = Store::new(
        &suite.engine,
        TestState {
            host: State::new(
                wasi.build(),
                SqlHost { db },
                Outbound::default(),
                wasmtime::StoreLimitsBuilder::new()
                    .memory_size(usize::try_from(limits.max_memory).unwrap_or(usize::MAX))
                    .trap_on_grow_failure(true)
                    .build(),
            ),
            mocks: t.mocks.clone(),
            calls: Default::default(),
            mock_instances: vec![None; suite.mock_pres.len()],
        },
    );
    store.limiter(|s| &mut s.host.limits);
    let ticks = limits.timeout.as_millis().div_ceil(TICK.as_millis()).max(1);
    store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
    let mut failures = Vec::new();
    let returned = start_and_call(suite, t, &mut store).map_err(|e| match e {
        Stopped::Trap(message) if message.contains("forcing trap when growing memory") => {
            format!(
                "{message}\n(a memory may grow to {} bytes: `--max-memory`)",
                limits.max_memory
            )
        }
        Stopped::Trap(message) => message,
        Stopped::TimedOut => format!(
            "timed out: still running after {} (`--timeout`)",
            humantime::format_duration(limits.timeout)
        ),
    });
    let timed_out = matches!(&returned, Err(m) if m.starts_with("timed out: "));
    match (&t.expect, returned) {
        // Running out of time is never the trap a test expects.
        (Expect::Trap(_), Err(message)) if timed_out => failures.push(Failure::Trapped { message }),
        (Expect::Trap(wanted), Err(message)) => {
            let all = format!("{message}\n{}", String::from_utf8_lossy(&stderr.contents()));
            if !all.contains(wanted.as_str()) {
                failures.push(Failure::OtherTrap {
                    wanted: wanted.clone(),
                    message,
                });
            }
        }
        (Expect::Trap(wanted), Ok(value)) => failures.push(Failure::Returned {
            wanted: wanted.clone(),
            actual: value.as_ref().map_or_else(|| "nothing".to_string(), wave),
        }),
        (_, Err(message)) => failures.push(Failure::Trapped { message }),
        (Expect::Value(expected), Ok(actual)) => {
            if actual.as_ref() != Some(expected) {
                failures.push(Failure::Mismatch {
                    expected: pretty(expected),
                    actual: actual
                        .as_ref()
                        .map_or_else(|| "nothing".to_string(), pretty),
                });
            }
        }
        (Expect::Returns, Ok(_)) => {}
    }
    let counted = &store.data().calls;
    for (function, expected) in &t.calls {
        let actual = counted.get(function).copied().unwrap_or(0);
        if actual != *expected {
            failures.push(Failure::Calls {
                function: function.clone(),
                expected: *expected,
                actual,
            });
        }
    }
    Ok(failures)
}

/// Instantiates the test's component mocks, then the component, and makes the call: its
/// result, or the trap's message.
fn start_and_call(
    suite: &Suite,
    t: &Prepared,
    store: &mut Store<TestState>,
) -> Result<Option<Val>, Stopped> {
    for &m in &t.component_mocks {
        let instance = suite.mock_pres[m]
            .instantiate(&mut *store)
            .map_err(|e| Stopped::of(&e, "the component mock failed to start: "))?;
        store.data_mut().mock_instances[m] = Some(instance);
    }
    let instance = suite.pres[t.pre]
        .instantiate(&mut *store)
        .map_err(|e| Stopped::of(&e, "the component failed to start: "))?;
    let func = instance
        .get_func(&mut *store, t.func)
        .ok_or_else(|| Stopped::Trap("the export is not a function".to_string()))?;
    let mut results = vec![Val::Bool(false); func.ty(&*store).results().len()];
    func.call(&mut *store, &t.params, &mut results)
        .map_err(|e| Stopped::of(&e, ""))?;
    Ok(results.into_iter().next())
}

/// Why a call did not return.
enum Stopped {
    /// A trap: its message with its causes and, when wasmtime has one, the guest's
    /// backtrace (not the host's own stack).
    Trap(String),
    /// The test's time ran out (the epoch deadline).
    TimedOut,
}

impl Stopped {
    fn of(e: &wasmtime::Error, context: &str) -> Stopped {
        if e.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::Interrupt) {
            Stopped::TimedOut
        } else {
            Stopped::Trap(format!("{context}{e:#}"))
        }
    }
}
