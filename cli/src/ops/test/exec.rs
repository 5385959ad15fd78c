//! Running tests: all the suites' tests on a pool of threads, each test in a store and an
//! instance of its own.

use super::load::{Expect, HttpTest, Prepared, Suite, TestState};
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
use wasmtime_wasi_http::WasiHttpView as _;
use wasmtime_wasi_http::p2::bindings::http::types::{IncomingRequest, ResponseOutparam, Scheme};

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
    // A request test: the request and the response's outparam in the store, and a thread
    // that waits for the response and reads its body while the handler writes it.
    let (returned, counted) = std::thread::scope(|s| {
        let mut reader = None;
        let mut exchange = None;
        if let Some(h) = &t.http {
            let (tx, rx) = tokio::sync::oneshot::channel();
            match request(&mut store, h, tx) {
                Ok(pair) => exchange = Some(pair),
                Err(e) => return (Err(Stopped::Trap(e)), Default::default()),
            }
            let timeout = limits.timeout;
            reader = Some(s.spawn(move || read_response(rx, timeout)));
        }
        let returned = start_and_call(suite, t, &mut store, exchange);
        let counted: std::collections::HashMap<String, u64> = store.data().calls.clone();
        // Dropping the store drops what the guest left open (the outparam, the body), so
        // the reader ends.
        drop(store);
        let response = reader.map(|r| {
            r.join()
                .unwrap_or_else(|_| Err("the response reader panicked".to_string()))
        });
        let returned = match (returned, response) {
            (Ok(_), Some(Ok(r))) => Ok(Returned::Response(r)),
            (Ok(_), Some(Err(e))) => Err(Stopped::Trap(e)),
            (Ok(v), None) => Ok(Returned::Value(v)),
            (Err(e), _) => Err(e),
        };
        (returned, counted)
    });
    let timed_out = matches!(returned, Err(Stopped::TimedOut));
    let returned = returned.map_err(|e| match e {
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
        (Expect::Trap(wanted), Ok(returned)) => failures.push(Failure::Returned {
            wanted: wanted.clone(),
            actual: match returned {
                Returned::Value(v) => v.as_ref().map_or_else(|| "nothing".to_string(), wave),
                Returned::Response(r) => format!("a response with status {}", r.status),
            },
        }),
        (_, Err(message)) => failures.push(Failure::Trapped { message }),
        (_, Ok(Returned::Response(r))) => {
            if let Some(h) = &t.http {
                compare_response(h, &r, &mut failures);
            }
        }
        (Expect::Value(expected), Ok(Returned::Value(actual))) => {
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
    exchange: Option<Exchange>,
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
    if let Some((request, out)) = exchange {
        let proxy = wasmtime_wasi_http::p2::bindings::sync::Proxy::new(&mut *store, &instance)
            .map_err(|e| Stopped::Trap(format!("the component does not serve HTTP: {e:#}")))?;
        proxy
            .wasi_http_incoming_handler()
            .call_handle(&mut *store, request, out)
            .map_err(|e| Stopped::of(&e, ""))?;
        return Ok(None);
    }
    let func = t
        .func
        .and_then(|f| instance.get_func(&mut *store, f))
        .ok_or_else(|| Stopped::Trap("the export is not a function".to_string()))?;
    let mut results = vec![Val::Bool(false); func.ty(&*store).results().len()];
    func.call(&mut *store, &t.params, &mut results)
        .map_err(|e| Stopped::of(&e, ""))?;
    Ok(results.into_iter().next())
}

/// A request test's request and response outparam, in the test's store.
type Exchange = (
    wasmtime::component::Resource<IncomingRequest>,
    wasmtime::component::Resource<ResponseOutparam>,
);

/// What a test's call gave back.
enum Returned {
    Value(Option<Val>),
    Response(Response),
}

/// The response a request test got.
struct Response {
    status: u16,
    headers: hyper::HeaderMap,
    body: bytes::Bytes,
}

type Outgoing = Result<
    hyper::Response<wasmtime_wasi_http::p2::body::HyperOutgoingBody>,
    wasmtime_wasi_http::p2::bindings::http::types::ErrorCode,
>;

/// Puts the test's request and a response outparam that answers on `tx` into the store.
fn request(
    store: &mut Store<TestState>,
    h: &HttpTest,
    tx: tokio::sync::oneshot::Sender<Outgoing>,
) -> Result<Exchange, String> {
    use http_body_util::BodyExt as _;
    let mut req = hyper::Request::builder()
        .method(h.method.clone())
        .uri(format!("http://localhost{}", h.target));
    for (k, v) in &h.headers {
        req = req.header(k, v);
    }
    let body = http_body_util::Full::new(bytes::Bytes::from(h.body.clone()))
        .map_err(|never| -> wasmtime_wasi_http::Error { match never {} });
    let req = req
        .body(body)
        .map_err(|e| format!("the request cannot be made: {e}"))?;
    let mut http = store.data_mut().http();
    let incoming = http
        .new_incoming_request(Scheme::Http, req)
        .map_err(|e| format!("the request cannot be made: {e:#}"))?;
    let out = http
        .new_response_outparam(tx)
        .map_err(|e| format!("the request cannot be made: {e:#}"))?;
    Ok((incoming, out))
}

/// Waits for the handler's response and reads its whole body, each within `timeout`.
fn read_response(
    rx: tokio::sync::oneshot::Receiver<Outgoing>,
    timeout: Duration,
) -> Result<Response, String> {
    use http_body_util::BodyExt as _;
    wasmtime_wasi::runtime::in_tokio(async move {
        let response = match tokio::time::timeout(timeout, rx).await {
            Err(_) => return Err("no response within the time limit".to_string()),
            Ok(Err(_)) => {
                return Err("the handler returned without setting a response".to_string());
            }
            Ok(Ok(Err(code))) => {
                return Err(format!("the handler answered with an error: {code:?}"));
            }
            Ok(Ok(Ok(r))) => r,
        };
        let (parts, body) = response.into_parts();
        let body = match tokio::time::timeout(timeout, body.collect()).await {
            Err(_) => return Err("the response body did not end within the time limit".into()),
            Ok(Err(e)) => return Err(format!("the response body failed: {e:?}")),
            Ok(Ok(c)) => c.to_bytes(),
        };
        Ok(Response {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        })
    })
}

/// What of `r` differs from what `h` expects: each as a mismatch of `status 200`,
/// `body "..."` or `header name: "..."`.
fn compare_response(h: &HttpTest, r: &Response, failures: &mut Vec<Failure>) {
    if let Some(status) = h.status
        && status != r.status
    {
        failures.push(Failure::Mismatch {
            expected: format!("status {status}"),
            actual: format!("status {}", r.status),
        });
    }
    if let Some(text) = &h.body_text {
        let actual = String::from_utf8_lossy(&r.body);
        if *text != actual {
            failures.push(Failure::Mismatch {
                expected: format!("body {text:?}"),
                actual: format!("body {actual:?}"),
            });
        }
    }
    for (name, value) in &h.response_headers {
        let actual: Vec<String> = r
            .headers
            .get_all(name.as_str())
            .iter()
            .map(|v| format!("{:?}", String::from_utf8_lossy(v.as_bytes())))
            .collect();
        if !actual.iter().any(|a| *a == format!("{value:?}")) {
            failures.push(Failure::Mismatch {
                expected: format!("header {name}: {value:?}"),
                actual: if actual.is_empty() {
                    format!("no {name} header")
                } else {
                    format!("header {name}: {}", actual.join(", "))
                },
            });
        }
    }
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
