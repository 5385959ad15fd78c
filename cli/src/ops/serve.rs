//! `wcomp serve`: a component that exports `wasi:http/incoming-handler` as an HTTP/1.1
//! service.
//!
//! The model is the one `wasmtime serve` and Spin use: the component is compiled once
//! (wasmtime's cache makes a restart cheap too) and pre-instantiated (`ProxyPre`: imports
//! resolved once), and every request gets a fresh instance from wasmtime's pooling
//! allocator, so nothing one request leaves in memory is seen by the next.
//!
//! Everything a client controls is bounded, and each bound is answered without taking
//! the server down:
//! * connections: `max_connections` at once (more wait in the kernel's backlog), headers
//!   read within `header_timeout`, malformed HTTP answered 400 by hyper;
//! * instances: `max_concurrency` at once, a request that cannot get one within
//!   `queue_timeout` gets 503;
//! * time: an instance that runs past `request_timeout` is interrupted (epoch
//!   interruption for guest code, a timer for guest waits) and the client gets 504;
//! * memory: each instance's linear memories together stay under `max_memory`; growing
//!   past it traps that instance (500);
//! * bodies: a declared `Content-Length` over `max_body` gets 413 before any instance
//!   starts; a chunked body that grows past it is cut off and the answer is 413.
//!
//! A trap is logged with its wasm backtrace and answered 500. SIGINT or SIGTERM stop the
//! accept loop; requests in flight finish (for at most `shutdown_timeout`), then the
//! process exits 0.

use super::EnvironmentError;
use super::host::{self, AllowedHost, Outbound, State, quoted};
use super::sql::{self, DbSpec, SqlHost};
use anyhow::{Context as _, Result, anyhow};
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::Semaphore;
use wasmtime::component::Component;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder};
use wasmtime_wasi_http::WasiHttpView as _;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;

/// The export a served component must have (the `wasi:http/proxy` world's).
pub const HANDLER: &str = "wasi:http/incoming-handler";

/// How often the epoch ticks: the granularity of `request_timeout` for guest code.
const TICK: Duration = Duration::from_millis(10);

/// What to serve and with which capabilities and limits.
pub struct ServeSpec {
    pub component: PathBuf,
    pub listen: String,
    pub dirs: Vec<(PathBuf, String)>,
    pub env: Vec<(String, String)>,
    pub db: Option<DbSpec>,
    pub allow_outbound: Vec<AllowedHost>,
    pub limits: Limits,
    pub watch: bool,
    pub health_path: Option<String>,
    pub json: bool,
}

/// The bounds on what clients and guests may use.
#[derive(Debug, Clone)]
pub struct Limits {
    pub request_timeout: Duration,
    /// Bytes of linear memory per instance (all its memories together).
    pub max_memory: u64,
    pub max_concurrency: u32,
    pub max_body: u64,
    pub max_connections: u32,
    pub header_timeout: Duration,
    pub queue_timeout: Duration,
    pub shutdown_timeout: Duration,
}

/// The component could not be served: it is not an HTTP handler, or it failed when
/// instantiated (exit 1, as a component that does not conform).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotServable(pub String);

/// A component compiled, linked and ready to instantiate.
struct Loaded {
    pre: ProxyPre<State>,
    digest: String,
}

/// How many of each thing one instance of a component allocates, read from its binary:
/// the pooling allocator's slots are sized from this.
#[derive(Debug, Default, Clone, Copy)]
struct Shape {
    core_instances: u32,
    memories: u32,
    tables: u32,
    max_table: u64,
}

fn shape(bytes: &[u8]) -> Shape {
    use wasmparser::Payload;
    let mut s = Shape::default();
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload {
            Ok(Payload::InstanceSection(r)) => s.core_instances += r.count(),
            Ok(Payload::MemorySection(r)) => s.memories += r.count(),
            Ok(Payload::TableSection(r)) => {
                s.tables += r.count();
                for t in r.into_iter().flatten() {
                    s.max_table = s.max_table.max(t.ty.initial);
                }
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    s
}

/// The engine: epoch interruption for timeouts, the compile cache, and (unless
/// `pooling` is off) the pooling allocator sized for `max_concurrency` instances of
/// components shaped like `shape` (with room to spare when `--watch` may bring a bigger
/// one).
fn engine(limits: &Limits, shape: Shape, pooling: bool, watch: bool) -> Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    host::enable_cache(&mut config);
    if pooling {
        let room = if watch { 4 } else { 1 };
        // In flight, plus the start-up check and a reload's check.
        let slots = limits.max_concurrency.saturating_add(2);
        let core = shape.core_instances.max(1).saturating_mul(room);
        let memories = shape.memories.max(1).saturating_mul(room);
        let tables = shape.tables.max(1).saturating_mul(room);
        let mut p = PoolingAllocationConfig::new();
        p.total_component_instances(slots)
            .total_stacks(slots)
            .max_core_instances_per_component(core)
            .total_core_instances(slots.saturating_mul(core))
            .max_memories_per_component(memories)
            .total_memories(slots.saturating_mul(memories))
            .max_tables_per_component(tables)
            .total_tables(slots.saturating_mul(tables))
            .table_elements(
                usize::try_from(shape.max_table.saturating_mul(2).max(20_000))
                    .unwrap_or(usize::MAX),
            )
            .max_memory_size(usize::try_from(limits.max_memory).unwrap_or(usize::MAX))
            // Freed slots keep a little of their memory mapped, so the next instance
            // does not fault it all in again.
            .linear_memory_keep_resident(64 << 10)
            .table_keep_resident(16 << 10);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(p));
    }
    Ok(Engine::new(&config)?)
}

/// Reads, compiles and links a component for serving.
fn load(engine: &Engine, path: &Path, needs_db: &mut bool) -> Result<Loaded> {
    let name = path.display().to_string();
    let bytes = super::run::read_component(path)?;
    let digest = wcomp_core::Digest::sha256(&bytes).to_string();
    let component = Component::new(engine, &bytes)
        .map_err(|e| NotServable(format!("`{name}` cannot be compiled: {e:#}")))?;
    check_exports(engine, &component, &name)?;
    let mut linker = host::async_linker(engine)?;
    let needs = host::check_imports(engine, &component, &mut linker, &name, "wcomp serve")?;
    *needs_db |= needs.sql;
    let pre = linker
        .instantiate_pre(&component)
        .and_then(ProxyPre::new)
        .map_err(|e| NotServable(format!("`{name}` cannot be served: {e:#}")))?;
    Ok(Loaded { pre, digest })
}

/// A served component must export `wasi:http/incoming-handler@0.2.x`; say what it
/// exports instead.
fn check_exports(engine: &Engine, component: &Component, name: &str) -> Result<()> {
    let exports: Vec<String> = component
        .component_type()
        .exports(engine)
        .map(|(n, _)| n.to_string())
        .collect();
    if exports
        .iter()
        .any(|e| e.starts_with(&format!("{HANDLER}@0.2")))
    {
        return Ok(());
    }
    if let Some(p3) = exports
        .iter()
        .find(|e| e.starts_with("wasi:http/handler@0.3"))
    {
        return Err(NotServable(format!(
            "`{name}` exports `{p3}` (WASI 0.3); `wcomp serve` serves WASI 0.2 handlers, \
             components that export `{HANDLER}@0.2.x` (the `wasi:http/proxy` world)"
        ))
        .into());
    }
    Err(NotServable(format!(
        "`{name}` does not export `{HANDLER}`, so it cannot answer HTTP requests: \
         `wcomp serve` needs a component of the `wasi:http/proxy@0.2.x` world \
         (it exports {}); call one of its functions with `wcomp run {name} --invoke 'f(...)'`",
        quoted(&exports)
    ))
    .into())
}

/// What start-up tells the user (and the caller, for `--json`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Started {
    pub address: String,
    pub component: String,
    pub digest: String,
    pub pooling: bool,
}

/// Everything one request needs, shared by all of them.
struct Server {
    engine: Engine,
    current: RwLock<Arc<Loaded>>,
    spec: ServeSpec,
    db: Option<Arc<sql::Pool>>,
    instances: Arc<Semaphore>,
    deadline_ticks: u64,
    log: Log,
}

/// Binds, loads and serves until SIGINT/SIGTERM. `on_start` is called once the
/// listener is bound and the component instantiated once.
pub fn serve(spec: ServeSpec, on_start: impl FnOnce(&Started)) -> Result<()> {
    let l = &spec.limits;
    let bytes = wcomp_wasm::input::read_file(&spec.component)?;
    let shape = shape(&bytes);
    drop(bytes);

    // Every capability is checked before anything is opened or bound.
    if let Some((host, _)) = spec.dirs.iter().find(|(host, _)| !host.is_dir()) {
        return Err(
            EnvironmentError(format!("`--dir {}`: not a directory", host.display())).into(),
        );
    }
    if let Some(db) = &spec.db {
        sql::check_spec(db)?;
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let guard = rt.enter();

    // The pooling allocator reserves address space for every slot up front; where the
    // component does not fit its slots (or the machine limits address space), serve
    // with on-demand allocation rather than not at all.
    let mut needs_db = false;
    let (engine, loaded, pooling) = {
        let pooled = engine(l, shape, true, spec.watch).and_then(|e| {
            let loaded = load(&e, &spec.component, &mut needs_db)?;
            Ok((e, loaded))
        });
        match pooled {
            Ok((e, loaded)) => match rt.block_on(trial(&e, &loaded, &spec)) {
                Ok(()) => (e, loaded, true),
                Err(pool_err) => {
                    let e = engine(l, shape, false, spec.watch)?;
                    let loaded = load(&e, &spec.component, &mut needs_db)?;
                    rt.block_on(trial(&e, &loaded, &spec))?;
                    crate::printer::warn(&format!(
                        "the component does not fit the pooling allocator ({pool_err:#}); \
                         instances are allocated on demand"
                    ));
                    (e, loaded, false)
                }
            },
            // Not servable or not linkable: the same answer without pooling.
            Err(e)
                if e.downcast_ref::<NotServable>().is_some()
                    || e.downcast_ref::<EnvironmentError>().is_some()
                    || e.downcast_ref::<wcomp_wasm::Error>().is_some() =>
            {
                return Err(e);
            }
            Err(_) => {
                let e = engine(l, shape, false, spec.watch)?;
                let loaded = load(&e, &spec.component, &mut needs_db)?;
                rt.block_on(trial(&e, &loaded, &spec))?;
                (e, loaded, false)
            }
        }
    };
    if needs_db && spec.db.is_none() {
        return Err(EnvironmentError(format!(
            "`{}` imports the wcomp:sql database interface: give it a database with \
             `--db sqlite:PATH` (a file, created if missing) or `--db postgres://user@host/db`",
            spec.component.display()
        ))
        .into());
    }

    let listener = std::net::TcpListener::bind(&spec.listen).map_err(|e| {
        EnvironmentError(match e.kind() {
            std::io::ErrorKind::AddrInUse => format!(
                "cannot listen on {}: the address is already in use (another server is \
                 there; pick another with `--listen`)",
                spec.listen
            ),
            _ => format!("cannot listen on {}: {e}", spec.listen),
        })
    })?;
    listener.set_nonblocking(true)?;
    let address = listener.local_addr()?;
    let listener = tokio::net::TcpListener::from_std(listener)?;

    // Opened outside the runtime: the PostgreSQL client runs one of its own.
    let db = match &spec.db {
        Some(db) => {
            let max = spec.limits.max_concurrency as usize;
            let spec_db = db.clone();
            let pool = std::thread::spawn(move || sql::Pool::open(&spec_db, max))
                .join()
                .map_err(|_| anyhow!("opening the database panicked"))?
                .with_context(|| format!("cannot open the database {db}"))?;
            Some(Arc::new(pool))
        }
        None => None,
    };

    let started = Started {
        address: format!("http://{address}"),
        component: spec.component.display().to_string(),
        digest: loaded.digest.clone(),
        pooling,
    };
    let deadline_ticks = u64::try_from(l.request_timeout.as_millis() / TICK.as_millis())
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    let server = Arc::new(Server {
        instances: Arc::new(Semaphore::new(l.max_concurrency as usize)),
        engine: engine.clone(),
        current: RwLock::new(Arc::new(loaded)),
        db,
        deadline_ticks,
        log: Log { json: spec.json },
        spec,
    });

    // The epoch clock behind request timeouts; it stops with the process.
    let ticker = engine.weak();
    std::thread::Builder::new()
        .name("wcomp-epoch".into())
        .spawn(move || {
            while let Some(engine) = ticker.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(TICK);
            }
        })?;

    on_start(&started);
    // The pool is dropped last, outside the runtime (a PostgreSQL client stops a runtime
    // of its own when it closes).
    let db = server.db.clone();
    rt.block_on(accept_loop(server, listener));
    drop(guard);
    // Guest tasks that outlived shutdown are not waited for.
    rt.shutdown_timeout(Duration::from_millis(100));
    drop(db);
    Ok(())
}

/// Instantiates the component once, in a store like a request's, so a component that
/// cannot start (or does not fit the allocator) is found before the port is opened.
async fn trial(engine: &Engine, loaded: &Loaded, spec: &ServeSpec) -> Result<()> {
    let mut store = Store::new(
        engine,
        State::new(
            wasi_ctx(spec)?,
            SqlHost { db: None },
            Outbound::default(),
            store_limits(&spec.limits),
        ),
    );
    store.limiter(|s| &mut s.limits);
    store.set_epoch_deadline(u64::MAX / 2);
    loaded
        .pre
        .instantiate_async(&mut store)
        .await
        .map(|_| ())
        .map_err(|e| NotServable(format!("the component failed to start: {e:?}")).into())
}

fn store_limits(l: &Limits) -> wasmtime::StoreLimits {
    wasmtime::StoreLimitsBuilder::new()
        .memory_size(usize::try_from(l.max_memory).unwrap_or(usize::MAX))
        .trap_on_grow_failure(true)
        .build()
}

/// The guest's WASI context: only what the flags grant. Its stdout and stderr go to the
/// server's stderr (stdout carries the access log).
fn wasi_ctx(spec: &ServeSpec) -> Result<WasiCtx> {
    let mut wasi = WasiCtxBuilder::new();
    wasi.stdout(wasmtime_wasi::cli::stderr());
    wasi.inherit_stderr();
    let arg0 = spec
        .component
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    wasi.args(&[arg0]);
    for (k, v) in &spec.env {
        wasi.env(k, v);
    }
    for (host, guest) in &spec.dirs {
        wasi.preopened_dir(host, guest, FsPerms::ReadWrite)
            .map_err(|e| anyhow!("cannot open `{}` for the guest: {e}", host.display()))?;
    }
    Ok(wasi.build())
}

async fn accept_loop(server: Arc<Server>, listener: tokio::net::TcpListener) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let connections = Arc::new(Semaphore::new(server.spec.limits.max_connections as usize));
    if server.spec.watch {
        tokio::spawn(watch(server.clone()));
    }
    let header_timeout = server.spec.limits.header_timeout;
    let mut stop = Box::pin(shutdown_signal());
    loop {
        // Past the connection cap, new clients wait in the kernel's backlog.
        let permit = tokio::select! {
            p = connections.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut stop => break,
        };
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    crate::printer::warn(&format!("accept failed: {e}"));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let server = server.clone();
        let service = hyper::service::service_fn(move |req| {
            let server = server.clone();
            async move { Ok::<_, std::convert::Infallible>(server.handle(req).await) }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .keep_alive(true)
            .max_buf_size(64 << 10);
        let conn = builder.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _permit = permit;
            let _ = conn.await;
        });
    }
    drop(listener);
    let wait = server.spec.limits.shutdown_timeout;
    server.log.event(
        "stopping",
        &format!(
            "letting requests in flight finish (at most {})",
            humantime::format_duration(wait)
        ),
    );
    if tokio::time::timeout(wait, graceful.shutdown())
        .await
        .is_err()
    {
        server.log.event(
            "stopping",
            "requests still in flight after the shutdown timeout were cut off",
        );
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        // No signal handling: serve until killed.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
}

/// `--watch`: when the file changes (and has stayed the same for a moment), the new
/// component is compiled and checked off the request path and swapped in; requests in
/// flight finish on the one they started with. A file that does not load is reported
/// and the old component keeps serving.
///
/// The file system's change events (the `notify` crate) on the file's folder, not the
/// file: a build replaces the file by renaming a new one over it.
async fn watch(server: Arc<Server>) {
    use notify::Watcher as _;
    let path = server.spec.component.clone();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().map(|n| n.to_os_string());
    let (tx, mut changes) = tokio::sync::mpsc::unbounded_channel();
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if !matches!(event.kind, notify::EventKind::Access(_))
            && event.paths.iter().any(|p| p.file_name() == name.as_deref())
        {
            let _ = tx.send(());
        }
    })
    .and_then(|mut w| {
        w.watch(&dir, notify::RecursiveMode::NonRecursive)
            .map(|()| w)
    });
    let _watcher = match watcher {
        Ok(w) => w,
        Err(e) => {
            server.log.event(
                "watch-failed",
                &format!("cannot watch `{}`, so no reloads: {e}", dir.display()),
            );
            return;
        }
    };
    let stamp = |p: &Path| -> Option<(SystemTime, u64, u64)> {
        let m = fs_err::metadata(p).ok()?;
        #[cfg(unix)]
        let ino = std::os::unix::fs::MetadataExt::ino(&m);
        #[cfg(not(unix))]
        let ino = 0;
        Some((m.modified().ok()?, m.len(), ino))
    };
    let mut last = stamp(&path);
    while changes.recv().await.is_some() {
        // Wait until the writer is done: no event for a moment.
        loop {
            match tokio::time::timeout(super::watch::QUIET, changes.recv()).await {
                Ok(Some(())) => continue,
                Ok(None) => return,
                Err(_) => break,
            }
        }
        let now = stamp(&path);
        if now == last || now.is_none() {
            continue;
        }
        last = now;
        let engine = server.engine.clone();
        let p = path.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            let mut needs_db = false;
            load(&engine, &p, &mut needs_db).map(|l| (l, needs_db))
        })
        .await;
        let result = match loaded {
            Ok(Ok((_, true))) if server.db.is_none() => Err(anyhow!(
                "the new component imports wcomp:sql, and this server has no `--db`"
            )),
            Ok(Ok((l, _))) => trial(&server.engine, &l, &server.spec).await.map(|()| l),
            Ok(Err(e)) => Err(e),
            Err(e) => Err(anyhow!("the reload task failed: {e}")),
        };
        match result {
            Ok(l) => {
                let digest = l.digest.clone();
                *server.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(l);
                server
                    .log
                    .event("reloaded", &format!("{} ({digest})", path.display()));
            }
            Err(e) => server.log.event(
                "reload-failed",
                &format!(
                    "{} did not load, the previous component keeps serving: {e:#}",
                    path.display()
                ),
            ),
        }
    }
}

/// Time spent in the instance, filled in by the request's task.
#[derive(Default)]
struct Timing {
    /// Nanoseconds to instantiate (0 until done).
    instantiate: AtomicU64,
    /// Nanoseconds from instantiation to the handler's return (0 until done).
    instance: AtomicU64,
}

/// Why a request's instance did not finish normally.
enum Ended {
    TimedOut,
    Trapped(wasmtime::Error),
}

type ResponseBody = http_body_util::combinators::UnsyncBoxBody<Bytes, wasmtime_wasi_http::Error>;

fn plain(status: u16, text: impl Into<String>) -> hyper::Response<ResponseBody> {
    let mut r = hyper::Response::new(
        Full::new(Bytes::from(text.into()))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

impl Server {
    async fn handle(self: &Arc<Self>, req: hyper::Request<Incoming>) -> hyper::Response<Logged> {
        let started = Instant::now();
        let method = req.method().to_string();
        let path = req
            .uri()
            .path_and_query()
            .map_or_else(|| "/".to_string(), |p| p.as_str().to_string());
        let timing = Arc::new(Timing::default());
        let response = self.respond(req, &timing).await;
        let status = response.status().as_u16();
        response.map(|inner| Logged {
            inner,
            bytes: 0,
            line: Some(LogLine {
                log: self.log.clone(),
                method,
                path,
                status,
                started,
                timing,
            }),
        })
    }

    async fn respond(
        self: &Arc<Self>,
        req: hyper::Request<Incoming>,
        timing: &Arc<Timing>,
    ) -> hyper::Response<ResponseBody> {
        let limits = &self.spec.limits;
        if let Some(health) = &self.spec.health_path
            && req.uri().path() == health
        {
            return plain(200, "ok\n");
        }
        // A declared length over the limit is refused before anything runs. hyper has
        // already refused a malformed or repeated Content-Length (400).
        let declared = req
            .headers()
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limits.max_body) {
            return plain(
                413,
                format!("request body over the limit of {} bytes\n", limits.max_body),
            );
        }
        let permit = match tokio::time::timeout(
            limits.queue_timeout,
            self.instances.clone().acquire_owned(),
        )
        .await
        {
            Ok(Ok(p)) => p,
            _ => {
                let mut r = plain(503, "busy: every instance is in use, try again\n");
                r.headers_mut().insert(
                    hyper::header::RETRY_AFTER,
                    hyper::header::HeaderValue::from_static("1"),
                );
                return r;
            }
        };

        let too_large = Arc::new(AtomicBool::new(false));
        let req = req.map(|body| Capped {
            inner: body,
            left: limits.max_body,
            max: limits.max_body,
            over: too_large.clone(),
        });
        let wasi = match wasi_ctx(&self.spec) {
            Ok(w) => w,
            Err(e) => {
                self.log.event("error", &format!("{e:#}"));
                return plain(500, "the server could not set up the instance\n");
            }
        };
        let sql = SqlHost {
            db: self
                .db
                .as_ref()
                .map(|p| Box::new(sql::Pool::handle(p)) as Box<dyn sql::Database>),
        };
        let mut store = Store::new(
            &self.engine,
            State::new(
                wasi,
                sql,
                Outbound::new(self.spec.allow_outbound.clone()),
                store_limits(limits),
            ),
        );
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(self.deadline_ticks);
        store.epoch_deadline_trap();

        let (tx, rx) = tokio::sync::oneshot::channel();
        let prepared = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, req)
            .and_then(|r| {
                let out = store.data_mut().http().new_response_outparam(tx)?;
                Ok((r, out))
            });
        let (incoming, out) = match prepared {
            Ok(p) => p,
            Err(e) => return plain(400, format!("bad request: {e}\n")),
        };
        let loaded = self
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let timeout = limits.request_timeout;
        let t = timing.clone();
        let task = tokio::spawn(async move {
            let _permit = permit;
            let t0 = Instant::now();
            let run = async {
                let proxy = loaded.pre.instantiate_async(&mut store).await?;
                t.instantiate
                    .store(nanos(t0.elapsed()).max(1), Ordering::Relaxed);
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, incoming, out)
                    .await
            };
            let r = tokio::time::timeout(timeout, run).await;
            t.instance
                .store(nanos(t0.elapsed()).max(1), Ordering::Relaxed);
            match r {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => match e.downcast_ref::<wasmtime::Trap>() {
                    Some(wasmtime::Trap::Interrupt) => Err(Ended::TimedOut),
                    _ => Err(Ended::Trapped(e)),
                },
                Err(_) => Err(Ended::TimedOut),
            }
        });

        let answered = rx.await;
        if too_large.load(Ordering::Relaxed) {
            return plain(
                413,
                format!("request body over the limit of {} bytes\n", limits.max_body),
            );
        }
        match answered {
            Ok(Ok(resp)) => resp,
            Ok(Err(code)) => {
                self.log.event(
                    "error",
                    &format!("the component answered an error: {code:?}"),
                );
                plain(500, "the component failed to answer\n")
            }
            // The store (and with it the response sender) is gone: the task ended
            // without answering.
            Err(_) => match task.await {
                Ok(Ok(())) => {
                    self.log
                        .event("error", "the component returned without setting a response");
                    plain(500, "the component did not answer\n")
                }
                Ok(Err(Ended::TimedOut)) => {
                    self.log.event(
                        "timeout",
                        &format!(
                            "the instance ran past {} and was stopped",
                            humantime::format_duration(timeout)
                        ),
                    );
                    plain(504, "the component took too long to answer\n")
                }
                Ok(Err(Ended::Trapped(e))) => {
                    if too_large.load(Ordering::Relaxed) {
                        return plain(413, "request body over the limit\n");
                    }
                    self.log.event("trap", &format!("{e:?}"));
                    plain(500, "the component failed\n")
                }
                Err(e) => {
                    self.log
                        .event("error", &format!("the request task failed: {e}"));
                    plain(500, "the component failed\n")
                }
            },
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// An incoming body cut off after `max` bytes: the guest's read fails, and the flag
/// tells the server to answer 413.
struct Capped {
    inner: Incoming,
    left: u64,
    max: u64,
    over: Arc<AtomicBool>,
}

impl Body for Capped {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let n = data.len() as u64;
                    match self.left.checked_sub(n) {
                        Some(left) => self.left = left,
                        None => {
                            self.over.store(true, Ordering::Relaxed);
                            let max = self.max;
                            return Poll::Ready(Some(Err(
                                wasmtime_wasi_http::Error::HttpRequestBodySize(Some(max)),
                            )));
                        }
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that counts what it sends and writes the access-log line when it is
/// done (or dropped: a client that went away is logged too).
pub struct Logged {
    inner: ResponseBody,
    bytes: u64,
    line: Option<LogLine>,
}

struct LogLine {
    log: Log,
    method: String,
    path: String,
    status: u16,
    started: Instant,
    timing: Arc<Timing>,
}

impl Body for Logged {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    self.bytes = self.bytes.saturating_add(d.len() as u64);
                }
            }
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => self.finish(),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Logged {
    fn finish(&mut self) {
        if let Some(l) = self.line.take() {
            l.log.access(&l, self.bytes);
        }
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Where the server's lines go: events to stderr, the access log to stdout; text or
/// JSON lines.
#[derive(Clone)]
struct Log {
    json: bool,
}

impl Log {
    fn event(&self, event: &str, message: &str) {
        if self.json {
            let line = serde_json::json!({ "event": event, "message": message });
            crate::printer::err(&format!("{line}\n"));
        } else {
            crate::printer::err(&format!("{event}: {message}\n"));
        }
    }

    fn access(&self, l: &LogLine, bytes: u64) {
        let total = l.started.elapsed();
        let instance = l.timing.instance.load(Ordering::Relaxed);
        let instantiate = l.timing.instantiate.load(Ordering::Relaxed);
        let text = if self.json {
            let mut v = serde_json::json!({
                "method": l.method,
                "path": l.path,
                "status": l.status,
                "bytes": bytes,
                "total_us": nanos(total) / 1000,
            });
            if instance > 0 {
                v["instance_us"] = (instance / 1000).into();
            }
            if instantiate > 0 {
                v["instantiate_us"] = (instantiate / 1000).into();
            }
            format!("{v}\n")
        } else {
            let ms = |n: u64| format!("{:.2}ms", n as f64 / 1e6);
            let mut s = format!(
                "{} {} {} {}B {}",
                l.method,
                l.path,
                l.status,
                bytes,
                ms(nanos(total))
            );
            if instance > 0 {
                s.push_str(&format!(
                    " instance={} instantiate={}us",
                    ms(instance),
                    instantiate / 1000
                ));
            }
            s.push('\n');
            s
        };
        crate::printer::out(&text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_counts_a_components_modules() {
        let wat = r#"(component
            (core module $a (memory 1) (table 30 funcref))
            (core module $b (memory 2) (table 70000 funcref))
            (core instance (instantiate $a))
            (core instance (instantiate $b))
        )"#;
        let bytes = wat::parse_str(wat).unwrap();
        let s = shape(&bytes);
        assert_eq!(s.memories, 2);
        assert_eq!(s.tables, 2);
        assert_eq!(s.core_instances, 2);
        assert_eq!(s.max_table, 70000);
    }
}
