//! `wcomp serve` end to end: the real binary serving a real wasi:http component
//! (tests/fixtures/http-guest, built with cargo for wasm32-wasip2) over real HTTP on
//! loopback. Every hostile case (trap, endless loop, memory bomb, burst, huge body, slow
//! headers, garbage) is followed by a normal request that must succeed.
#![allow(clippy::disallowed_methods)] // tests set up files with std::fs directly

mod common;

use common::http::{Server, read_response, request};
use common::{User, wcomp_registry};
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use wcomp_core::Digest;

// ---------------------------------------------------------------- the guest

/// The fixture guest, built once per test run (cargo's own cache makes later runs quick).
fn guest() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let root = Path::new(env!("CARGO_MANIFEST_DIR"));
            let src = root.join("tests/fixtures/http-guest");
            let target = root.join("../target/test-fixtures/http-guest");
            let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .args([
                    "build",
                    "--release",
                    "--target",
                    "wasm32-wasip2",
                    "--locked",
                ])
                .current_dir(&src)
                .env("CARGO_TARGET_DIR", &target)
                .env_remove("RUSTFLAGS")
                .env_remove("CARGO_ENCODED_RUSTFLAGS")
                .output()
                .expect("cargo runs");
            assert!(
                out.status.success(),
                "building the http guest failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            target.join("wasm32-wasip2/release/http_guest.wasm")
        })
        .clone()
}

fn guest_in(u: &User) -> String {
    let p = u.path("app.wasm");
    std::fs::copy(guest(), &p).unwrap();
    "app.wasm".to_string()
}

#[track_caller]
fn still_serving(s: &Server) {
    assert_eq!(
        s.get("/"),
        (200, "hello from wasm\n".to_string()),
        "{}",
        s.stderr()
    );
}

// ---------------------------------------------------------------- the tests

#[test]
fn every_request_gets_a_fresh_instance_and_a_log_line() {
    let u = User::new();
    let app = guest_in(&u);
    let s = Server::start(&u, &app, &[]);
    assert!(s.stderr().contains("serving app.wasm"), "{}", s.stderr());
    assert!(
        s.stderr()
            .contains(&Digest::sha256(&std::fs::read(guest()).unwrap()).to_string()),
        "the start-up line names the digest: {}",
        s.stderr()
    );
    still_serving(&s);
    // A global counter in the guest: 1 on every request, never 2.
    for _ in 0..5 {
        assert_eq!(s.get("/count"), (200, "1\n".to_string()));
    }
    assert_eq!(s.get("/nowhere").0, 404);
    std::thread::sleep(Duration::from_millis(200));
    let log = s.stdout();
    let line = log
        .lines()
        .find(|l| l.starts_with("GET /count 200 2B "))
        .unwrap_or_else(|| panic!("no access-log line for /count:\n{log}"));
    assert!(
        line.contains("instance=") && line.contains("instantiate="),
        "{line}"
    );
    assert!(log.contains("GET /nowhere 404"), "{log}");
}

#[test]
fn traps_timeouts_memory_bombs_and_bursts_leave_the_server_serving() {
    let u = User::new();
    let app = guest_in(&u);
    let s = Server::start(
        &u,
        &app,
        &[
            "--request-timeout",
            "2s",
            "--max-memory",
            "64MiB",
            "--max-concurrency",
            "8",
        ],
    );
    let (code, _) = s.get("/trap");
    assert_eq!(code, 500);
    still_serving(&s);
    let err = s.stderr();
    assert!(err.contains("trap:"), "the trap is logged: {err}");
    let trace = err
        .split_once("wasm backtrace:")
        .map(|(_, t)| t)
        .unwrap_or("");
    assert!(
        trace.trim_start().starts_with("0:") && trace.contains("wasm function"),
        "with its wasm backtrace (frames): {err}"
    );

    let t = Instant::now();
    assert_eq!(s.get("/loop").0, 504);
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "the endless loop was stopped"
    );
    still_serving(&s);
    assert!(s.stderr().contains("timeout:"), "{}", s.stderr());

    assert_eq!(s.get("/bomb").0, 500);
    still_serving(&s);

    // 200 requests from 20 threads at once, 8 instances at a time: all answered.
    let addr = s.addr.clone();
    let codes: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..20)
            .map(|_| {
                let addr = addr.clone();
                scope.spawn(move || {
                    (0..10)
                        .map(|_| request(&addr, "GET", "/count", &[], None).0)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(codes.len(), 200);
    assert!(codes.iter().all(|c| *c == 200), "{codes:?}");
    still_serving(&s);
}

#[test]
fn bodies_bad_http_and_slow_headers_are_bounded() {
    let u = User::new();
    let app = guest_in(&u);
    let s = Server::start(&u, &app, &["--max-body", "1KiB", "--header-timeout", "1s"]);
    let small = b"ping".as_slice();
    assert_eq!(
        request(&s.addr, "POST", "/echo", &[], Some(small)),
        (200, "ping".to_string())
    );
    // Declared too large: refused before any instance runs.
    let big = vec![b'x'; 2048];
    assert_eq!(request(&s.addr, "POST", "/echo", &[], Some(&big)).0, 413);
    // Chunked, no length: cut off when it passes the limit.
    let mut chunked = Vec::new();
    for _ in 0..4 {
        chunked.extend_from_slice(format!("{:x}\r\n", 512).as_bytes());
        chunked.extend_from_slice(&[b'y'; 512]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(
        request(
            &s.addr,
            "POST",
            "/echo",
            &[("transfer-encoding", "chunked")],
            Some(&chunked)
        )
        .0,
        413
    );
    still_serving(&s);

    // Garbage instead of HTTP: 400, and the server goes on.
    let mut g = TcpStream::connect(&s.addr).unwrap();
    g.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    g.write_all(b"NOT HTTP AT ALL\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut g).0, 400);
    still_serving(&s);

    // Headers sent a byte at a time, slower than --header-timeout: cut off, while
    // others are served.
    let mut slow = TcpStream::connect(&s.addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let t = Instant::now();
    let mut cut = false;
    for b in b"GET / HTTP/1.1\r\nhost: x\r\nx-slow: "
        .iter()
        .cycle()
        .take(40)
    {
        if slow.write_all(&[*b]).is_err() {
            cut = true;
            break;
        }
        still_serving(&s);
        std::thread::sleep(Duration::from_millis(250));
        if t.elapsed() > Duration::from_secs(8) {
            break;
        }
    }
    if !cut {
        let mut buf = [0u8; 512];
        // Closed (0 bytes, perhaps after a 408) or reset.
        let n = slow.read(&mut buf).unwrap_or(0);
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(
            n == 0 || text.contains("408"),
            "the slow client was not cut off: {text}"
        );
    }
    assert!(t.elapsed() < Duration::from_secs(10));
    still_serving(&s);
}

#[test]
fn capabilities_come_only_from_flags() {
    // A one-shot upstream on loopback for outgoing requests.
    let upstream = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let up = upstream.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in upstream.incoming().flatten() {
            let mut conn = conn;
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\nconnection: close\r\n\r\npong",
            );
        }
    });

    let u = User::new();
    let app = guest_in(&u);
    std::fs::create_dir(u.path("data")).unwrap();
    std::fs::write(u.path("data/note.txt"), "from the host\n").unwrap();
    let fetch = format!("/fetch?url=http://{up}/");

    // Nothing granted: no environment (not even the server's own), no files, no network.
    let bare = Server::start(&u, &app, &[]);
    assert_eq!(bare.get("/env?name=HOME").0, 404);
    assert_eq!(bare.get("/file?path=/data/note.txt").0, 404);
    let (code, body) = bare.get(&fetch);
    assert_eq!(code, 502, "{body}");
    assert!(body.contains("HttpRequestDenied"), "{body}");
    drop(bare);

    let granted = Server::start(
        &u,
        &app,
        &[
            "--env",
            "GREETING=hi there",
            "--dir",
            "data::/data",
            "--allow-outbound",
            &up.to_string(),
        ],
    );
    assert_eq!(granted.get("/env?name=GREETING"), (200, "hi there".into()));
    assert_eq!(granted.get("/env?name=HOME").0, 404);
    assert_eq!(
        granted.get("/file?path=/data/note.txt"),
        (200, "from the host\n".into())
    );
    assert_eq!(granted.get(&fetch), (200, "200\npong".into()));
    // Another port on the same host is still denied.
    let other = format!("/fetch?url=http://127.0.0.1:{}/", up.port() ^ 1);
    assert!(granted.get(&other).1.contains("HttpRequestDenied"));
}

#[test]
fn health_path_only_when_asked_and_json_logs() {
    let u = User::new();
    let app = guest_in(&u);
    let plain = Server::start(&u, &app, &[]);
    // Without --health-path the component's own routes answer.
    assert_eq!(plain.get("/healthz").0, 404);
    drop(plain);

    let s = Server::start(&u, &app, &["--health-path", "/healthz", "--json"]);
    assert_eq!(s.get("/healthz"), (200, "ok\n".into()));
    still_serving(&s);
    std::thread::sleep(Duration::from_millis(200));
    let start: serde_json::Value =
        serde_json::from_str(s.stderr().lines().next().unwrap()).unwrap();
    assert_eq!(start["event"], "listening");
    let lines: Vec<serde_json::Value> = s
        .stdout()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let served = lines.iter().find(|l| l["path"] == "/").unwrap();
    assert_eq!(served["status"], 200);
    assert_eq!(served["bytes"], 16);
    assert!(served["instance_us"].is_u64() && served["instantiate_us"].is_u64());
    let health = lines.iter().find(|l| l["path"] == "/healthz").unwrap();
    assert!(
        health.get("instance_us").is_none(),
        "no instance for the health check"
    );
}

#[test]
fn sigterm_lets_the_request_in_flight_finish() {
    let u = User::new();
    let app = guest_in(&u);
    let s = Server::start(&u, &app, &[]);
    let addr = s.addr.clone();
    let in_flight = std::thread::spawn(move || request(&addr, "GET", "/sleep?ms=1500", &[], None));
    std::thread::sleep(Duration::from_millis(400));
    let addr = s.addr.clone();
    let code = s.terminate();
    assert_eq!(code, 0);
    assert_eq!(in_flight.join().unwrap(), (200, "slept 1500 ms\n".into()));
    assert!(
        TcpStream::connect(addr).is_err(),
        "the port is closed after shutdown"
    );
}

#[test]
fn watch_swaps_in_a_changed_file_and_keeps_serving_through_a_broken_one() {
    let u = User::new();
    let app = guest_in(&u);
    let s = Server::start(&u, &app, &["--watch"]);
    still_serving(&s);
    // A broken file: reported, the old component keeps serving.
    std::fs::write(u.path("app.wasm"), b"\0asm garbage").unwrap();
    wait_for(&s, "reload-failed");
    still_serving(&s);
    // A changed, valid component (a custom section more): swapped in.
    let mut bytes = std::fs::read(guest()).unwrap();
    bytes.extend_from_slice(&[0, 9, 4, b'n', b'o', b't', b'e', 1, 2, 3, 4]);
    let digest = Digest::sha256(&bytes).to_string();
    std::fs::write(u.path("app.wasm.new"), &bytes).unwrap();
    std::fs::rename(u.path("app.wasm.new"), u.path("app.wasm")).unwrap();
    wait_for(&s, &format!("reloaded: app.wasm ({digest})"));
    still_serving(&s);
    assert_eq!(s.get("/count"), (200, "1\n".into()));
}

fn wait_for(s: &Server, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !s.stderr().contains(needle) {
        assert!(
            Instant::now() < deadline,
            "no {needle:?} in:\n{}",
            s.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn what_cannot_be_served_is_refused_with_the_reason() {
    let u = User::new();
    // A component that is not an HTTP handler.
    u.write(
        "answer.wat",
        br#"(component
  (core module $m (func (export "f") (result i32) i32.const 42))
  (core instance $i (instantiate $m))
  (func $f (result u32) (canon lift (core func $i "f")))
  (export "answer" (func $f))
)"#,
    );
    let r = Server::try_start(&u, "answer.wat", &[])
        .err()
        .expect("refused");
    assert_eq!(r.code, 1, "{}", r.stderr);
    for needle in [
        "does not export `wasi:http/incoming-handler`",
        "wasi:http/proxy",
        "`answer`",
        "wcomp run answer.wat --invoke",
    ] {
        assert!(r.stderr.contains(needle), "{needle}: {}", r.stderr);
    }
    // A core module.
    u.write("core.wat", b"(module (func (export \"f\")))");
    let r = Server::try_start(&u, "core.wat", &[])
        .err()
        .expect("refused");
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("core module"), "{}", r.stderr);
    // A missing file.
    let r = Server::try_start(&u, "missing.wasm", &[])
        .err()
        .expect("refused");
    assert_eq!(r.code, 2, "{}", r.stderr);
    // Nonsense limits.
    let app = guest_in(&u);
    for flags in [
        ["--max-memory", "0"],
        ["--max-memory", "lots"],
        ["--max-concurrency", "0"],
        ["--request-timeout", "0s"],
        ["--max-body", "-5"],
        ["--allow-outbound", "http://x/"],
    ] {
        let r = u.run(&["serve", &app, flags[0], flags[1]]);
        assert_eq!(r.code, 2, "{flags:?}: {}", r.stderr);
    }
    // An address in use.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let r = u.run(&["serve", &app, "--listen", &addr]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains(&addr) && r.stderr.contains("already in use"),
        "{}",
        r.stderr
    );
}

#[test]
fn registry_references_are_served_only_when_verified() {
    let reg = wcomp_registry();
    let u = User::new();
    let trusted = u.key("main");
    u.key("other");
    u.ok(&[
        "key",
        "trust",
        trusted.to_str().unwrap(),
        "--for",
        &format!("{}/acme", reg.host),
    ]);
    guest_in(&u);

    // Signed by a trusted key: served, and the start-up line says it was verified.
    let good = format!("{}/acme/web:1.0.0", reg.host);
    u.ok(&["publish", "app.wasm", &good]);
    let s = Server::start(&u, &good, &[]);
    still_serving(&s);
    let err = s.stderr();
    assert!(err.contains("verified: signed by key"), "{err}");
    assert!(err.contains(&u.key_id("main")), "{err}");
    drop(s);

    // Unsigned, signed by an untrusted key, tampered: refused, exit 1, nothing served.
    let unsigned = format!("{}/acme/web-unsigned:1.0.0", reg.host);
    u.ok(&["publish", "app.wasm", &unsigned, "--no-sign"]);
    let untrusted = format!("{}/acme/web-other:1.0.0", reg.host);
    u.ok(&["publish", "app.wasm", &untrusted, "--key", "other"]);
    let tampered = format!("{}/acme/web-tampered:1.0.0", reg.host);
    let bytes = std::fs::read(u.path("app.wasm")).unwrap();
    let mut changed = bytes.clone();
    changed.extend_from_slice(&[0, 4, 3, b'x', b'y', b'z']);
    u.write("changed.wasm", &changed);
    u.ok(&["publish", "changed.wasm", &tampered]);
    let hex = Digest::sha256(&changed).hex().to_string();
    let blob = reg
        .data
        .join(format!("storage/blobs/sha256/{}/{hex}", &hex[..2]));
    let mut stored = std::fs::read(&blob).unwrap();
    let last = stored.len() - 1;
    stored[last] ^= 0xff;
    std::fs::write(&blob, &stored).unwrap();
    for (reference, why) in [
        (&unsigned, "no signature"),
        (&untrusted, "unknown key"),
        (&tampered, "digest mismatch"),
    ] {
        let r = Server::try_start(&u, reference, &[])
            .err()
            .expect("refused");
        assert_eq!(r.code, 1, "{reference}: {}", r.stderr);
        assert!(r.stderr.contains(why), "{reference}: {}", r.stderr);
        assert!(!r.stderr.contains("listening on"), "{}", r.stderr);
    }
    // --insecure-skip-verify serves the unsigned one, loudly.
    let s = Server::start(&u, &unsigned, &["--insecure-skip-verify"]);
    still_serving(&s);
    assert!(s.stderr().contains("NOT verified"), "{}", s.stderr());
}

/// The component links and answers under plain wasmtime-wasi-http, the host `wasmtime
/// serve` uses, with no wcomp host interface: what `wcomp serve` runs stays portable.
#[test]
fn a_wasi_only_handler_runs_on_the_standard_host() {
    let bytes = std::fs::read(guest()).unwrap();
    assert_eq!(portable::get(&bytes, "/count"), (200, "1\n".to_string()));
}

pub mod portable {
    use http_body_util::{BodyExt as _, Empty};
    use wasmtime::component::{Component, Linker, ResourceTable};
    use wasmtime::{Engine, Store};
    use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
    use wasmtime_wasi_http::p2::bindings::ProxyPre;
    use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
    use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

    struct Plain {
        wasi: WasiCtx,
        http: WasiHttpCtx,
        table: ResourceTable,
    }

    impl WasiView for Plain {
        fn ctx(&mut self) -> WasiCtxView<'_> {
            WasiCtxView {
                ctx: &mut self.wasi,
                table: &mut self.table,
            }
        }
    }

    impl WasiHttpView for Plain {
        fn http(&mut self) -> WasiHttpCtxView<'_> {
            WasiHttpCtxView {
                ctx: &mut self.http,
                table: &mut self.table,
                hooks: Default::default(),
            }
        }
    }

    /// One GET through the standard wasi:http host: only the crates' own linker
    /// functions, nothing of wcomp's.
    pub fn get(component: &[u8], path: &str) -> (u16, String) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let engine = Engine::default();
            let component = Component::new(&engine, component).unwrap();
            let mut linker = Linker::new(&engine);
            wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
            wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).unwrap();
            let pre = ProxyPre::new(linker.instantiate_pre(&component).unwrap()).unwrap();
            let mut store = Store::new(
                &engine,
                Plain {
                    wasi: WasiCtx::builder().build(),
                    http: WasiHttpCtx::new(),
                    table: ResourceTable::new(),
                },
            );
            let req = hyper::Request::builder()
                .uri(format!("http://localhost{path}"))
                .body(Empty::<bytes::Bytes>::new())
                .unwrap();
            let (tx, rx) = tokio::sync::oneshot::channel();
            let req = store
                .data_mut()
                .http()
                .new_incoming_request(Scheme::Http, req)
                .unwrap();
            let out = store.data_mut().http().new_response_outparam(tx).unwrap();
            let task = tokio::spawn(async move {
                let proxy = pre.instantiate_async(&mut store).await?;
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, req, out)
                    .await
            });
            let resp = rx.await.unwrap().unwrap();
            let status = resp.status().as_u16();
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            task.await.unwrap().unwrap();
            (status, String::from_utf8_lossy(&body).into_owned())
        })
    }
}

/// `wcomp run` links wasi:http too: a component that imports `wasi:http/types` is no
/// longer refused for its imports (this one is not a command, and says so).
#[test]
fn run_links_components_that_import_wasi_http() {
    let u = User::new();
    let app = guest_in(&u);
    let r = u.run(&["run", &app]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("does not export `wasi:cli/run`")
            && r.stderr.contains("wasi:http/incoming-handler"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("does not provide"), "{}", r.stderr);
}
