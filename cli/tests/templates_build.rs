//! For every built-in template: `wcomp new` -> `wcomp build` -> `wcomp validate` -> call
//! the exported function through wasmtime and check it returns what the template
//! promises. Then the build cache.
//!
//! These need the language toolchains (scripts/install-toolchains.sh). Without one, the
//! test says so and passes, except under CI (`CI` set), where a missing toolchain fails.
#![allow(clippy::disallowed_methods)] // tests set up files with std::fs directly

mod common;
mod toolchain;

use std::path::{Path, PathBuf};
use std::process::Command;
use toolchain::{Host, text, toolchain_ready, wcomp};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::WasiCtxBuilder;

/// Instantiates the component with WASI 0.2 and calls `<iface>.greet(arg)`.
fn call_greet(wasm: &Path, iface: &str, arg: &str) -> String {
    let mut config = Config::new();
    config.wasm_component_model(true);
    let engine = Engine::new(&config).unwrap();
    let component = Component::from_file(&engine, wasm).unwrap();
    let mut linker = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).unwrap();
    let mut store = Store::new(
        &engine,
        Host {
            ctx: WasiCtxBuilder::new().build(),
            table: ResourceTable::new(),
        },
    );
    let instance = linker.instantiate(&mut store, &component).unwrap();
    let iface_idx = instance
        .get_export_index(&mut store, None, iface)
        .unwrap_or_else(|| panic!("no export `{iface}`"));
    let func_idx = instance
        .get_export_index(&mut store, Some(&iface_idx), "greet")
        .expect("no `greet` in the interface");
    let func = instance
        .get_typed_func::<(String,), (String,)>(&mut store, &func_idx)
        .unwrap();
    let (out,) = func.call(&mut store, (arg.to_string(),)).unwrap();
    out
}

/// new -> build -> validate -> run, for one template.
fn template_round_trip(template: &str, language: &str) {
    if !toolchain_ready(language) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let o = wcomp(
        tmp.path(),
        &[
            "new",
            template,
            "proj",
            "--name",
            "acme:round-trip",
            "--set",
            "greeting=Howdy",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let proj = tmp.path().join("proj");

    let o = wcomp(&proj, &["build"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("built acme:round-trip@0.1.0"), "{out}");
    let wasm: PathBuf = proj.join("build/round-trip.wasm");
    assert!(wasm.is_file(), "no output at {}", wasm.display());

    let o = wcomp(
        &proj,
        &["validate", "build/round-trip.wasm", "--allow-wasi"],
    );
    assert!(o.status.success(), "{}", text(&o));

    let greeting = call_greet(&wasm, "acme:round-trip/greeter@0.1.0", "World");
    assert_eq!(greeting, "Howdy, World!");

    // The template's own test file passes as scaffolded (`wcomp test` builds first:
    // nothing to do here).
    let o = wcomp(&proj, &["test"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("test greeter.test.toml::greets by name ... ok"),
        "{out}"
    );
    assert!(out.contains("2 passed, 0 failed"), "{out}");

    // Nothing changed: nothing is rebuilt.
    let o = wcomp(&proj, &["build"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("up to date"),
        "{}",
        text(&o)
    );
}

#[test]
fn rust_template_builds_and_runs() {
    template_round_trip("rust", "rust");
}

#[test]
fn python_template_builds_and_runs() {
    template_round_trip("python", "python");
}

#[test]
fn go_template_builds_and_runs() {
    template_round_trip("go", "go");
}

#[test]
fn js_template_builds_and_runs() {
    template_round_trip("js", "javascript");
}

#[test]
fn c_template_builds_and_runs() {
    template_round_trip("c", "c");
}

#[test]
fn cpp_template_builds_and_runs() {
    template_round_trip("cpp", "cpp");
}

#[test]
fn workspace_builds_members_and_rebuilds_only_what_changed() {
    if !toolchain_ready("rust") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    for (dir, name) in [("a", "acme:member-a"), ("b", "acme:member-b")] {
        let o = wcomp(root, &["new", "rust", dir, "--name", name]);
        assert!(o.status.success(), "{}", text(&o));
    }
    std::fs::write(
        root.join("wcomp.toml"),
        "[workspace]\nmembers = [\"a\", \"b\"]\n",
    )
    .unwrap();
    // One target directory for both members, so wit-bindgen compiles once.
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_wcomp"))
            .args(args)
            .current_dir(root)
            .env("NO_COLOR", "1")
            .env("CARGO_TARGET_DIR", root.join("shared-target"))
            .output()
            .unwrap()
    };
    let o = run(&["build"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        out.contains("built acme:member-a@0.1.0") && out.contains("built acme:member-b@0.1.0"),
        "{out}"
    );
    assert!(
        root.join("a/build/member-a.wasm").is_file()
            && root.join("b/build/member-b.wasm").is_file()
    );

    let o = run(&["build"]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(out.matches("up to date").count(), 2, "{out}");

    // Touching the modification time alone changes nothing; changing content rebuilds
    // that member only.
    let lib = root.join("b/src/lib.rs");
    let src = std::fs::read_to_string(&lib).unwrap();
    std::fs::write(&lib, &src).unwrap();
    let o = run(&["build"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout)
            .matches("up to date")
            .count(),
        2
    );
    std::fs::write(&lib, src.replace("Hello", "Hi")).unwrap();
    let o = run(&["build"]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(out.contains("up to date acme:member-a@0.1.0"), "{out}");
    assert!(out.contains("built acme:member-b@0.1.0"), "{out}");
    assert_eq!(
        call_greet(
            &root.join("b/build/member-b.wasm"),
            "acme:member-b/greeter@0.1.0",
            "you"
        ),
        "Hi, you!"
    );

    // --force rebuilds everything.
    let o = run(&["build", "--force"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).matches("built ").count(),
        2,
        "{}",
        text(&o)
    );
}

/// `wcomp test --watch` in a workspace of three Rust members: after an edit of one member
/// (its source and its test file), only that member rebuilds (the others' build steps do
/// not run: their build stamps stay as they were) and the tests run again.
#[test]
fn test_watch_rebuilds_only_the_changed_member_and_retests() {
    use std::io::BufRead as _;
    if !toolchain_ready("rust") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    for m in ["a", "b", "c"] {
        let o = wcomp(
            root,
            &["new", "rust", m, "--name", &format!("acme:member-{m}")],
        );
        assert!(o.status.success(), "{}", text(&o));
    }
    std::fs::write(
        root.join("wcomp.toml"),
        "[workspace]\nmembers = [\"a\", \"b\", \"c\"]\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_wcomp"))
        .args(["test", "--watch"])
        .current_dir(root)
        .env("NO_COLOR", "1")
        // One target directory for the members, kept between runs of the test.
        .env(
            "CARGO_TARGET_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("watch-target"),
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // The next status line (`[hh:mm:ss] ...`), and everything printed before it.
    let mut seen = String::new();
    let mut status = |what: &str| -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1800);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match lines.recv_timeout(left) {
                Ok(l) if l.starts_with('[') => return l,
                Ok(l) => {
                    seen.push_str(&l);
                    seen.push('\n');
                }
                Err(_) => panic!("no status line {what}; output so far:\n{seen}"),
            }
        }
    };
    let first = status("after the first round");
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert!(first.contains("built acme:member-a@0.1.0"), "{first}");
        assert!(first.contains("6 passed, 0 failed"), "{first}");
        let stamp = |m: &str| {
            std::fs::metadata(root.join(m).join("build/.wcomp-build.json"))
                .unwrap()
                .modified()
                .unwrap()
        };
        let (a, c) = (stamp("a"), stamp("c"));
        // The edit: the test file first, then the source, as quick saves.
        let tests = root.join("b/greeter.test.toml");
        let t = std::fs::read_to_string(&tests).unwrap();
        std::fs::write(&tests, t.replace("Hello,", "Hi,")).unwrap();
        let lib = root.join("b/src/lib.rs");
        let src = std::fs::read_to_string(&lib).unwrap();
        std::fs::write(&lib, src.replace("Hello", "Hi")).unwrap();
        let second = status("after the edit");
        assert!(second.contains("changed"), "{second}");
        assert!(second.contains("built acme:member-b@0.1.0"), "{second}");
        assert!(
            !second.contains("member-a") && !second.contains("member-c"),
            "only b rebuilds: {second}"
        );
        assert!(second.contains("6 passed, 0 failed"), "{second}");
        assert_eq!(stamp("a"), a, "a's build did not run");
        assert_eq!(stamp("c"), c, "c's build did not run");
    }));
    let _ = child.kill();
    let _ = child.wait();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

#[test]
fn build_says_what_to_install_when_a_toolchain_is_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let o = wcomp(tmp.path(), &["new", "python", "p"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = Command::new(env!("CARGO_BIN_EXE_wcomp"))
        .args(["build"])
        .current_dir(tmp.path().join("p"))
        .env("PATH", "/nonexistent")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("componentize-py not found on PATH"), "{err}");
    assert!(err.contains("pip install componentize-py==0.25.1"), "{err}");
    assert!(!tmp.path().join("p/build").exists());
}

#[test]
fn build_outside_a_project_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let o = wcomp(tmp.path(), &["build"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no `wcomp.toml`"),
        "{}",
        text(&o)
    );
}

#[test]
fn toolchain_failure_shows_its_output_in_full() {
    if !toolchain_ready("python") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    assert!(wcomp(tmp.path(), &["new", "python", "p"]).status.success());
    std::fs::write(tmp.path().join("p/app.py"), "this is not python(\n").unwrap();
    let o = wcomp(&tmp.path().join("p"), &["build"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("componentize-py failed"), "{err}");
    assert!(
        err.contains("--- output ---") && err.contains("SyntaxError"),
        "{err}"
    );
    assert!(!tmp.path().join("p/build/p.wasm").exists());
}

/// A project whose code implements another world than `wcomp.toml` declares builds, but
/// `wcomp build` refuses the result and explains the difference in WIT (exit 1), and
/// writes no output. Its stderr is a pipe here and NO_COLOR is unset: the report has no
/// colour codes.
#[test]
fn a_component_that_does_not_conform_to_the_declared_world_is_refused() {
    if !toolchain_ready("rust") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let o = wcomp(
        tmp.path(),
        &["new", "rust", "proj", "--name", "acme:mismatch"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let proj = tmp.path().join("proj");
    // A second world in the package, and code generated for it instead.
    let wit = proj.join("wit/world.wit");
    let mut text_wit = std::fs::read_to_string(&wit).unwrap();
    text_wit.push_str(
        "\ninterface farewell {\n  bye: func(name: string) -> string;\n}\n\nworld other {\n  export farewell;\n}\n",
    );
    std::fs::write(&wit, text_wit).unwrap();
    std::fs::write(
        proj.join("src/lib.rs"),
        "wit_bindgen::generate!({ path: \"wit\", world: \"other\" });\n\
         struct C;\n\
         impl exports::acme::mismatch::farewell::Guest for C {\n\
         \x20   fn bye(name: String) -> String { format!(\"Bye, {name}\") }\n\
         }\n\
         export!(C);\n",
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_wcomp"))
        .arg("build")
        .current_dir(&proj)
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("does not conform to its world"), "{err}");
    assert!(!err.contains("\x1b["), "no colour codes on a pipe: {err:?}");
    assert!(
        err.contains("acme:mismatch/greeter@0.1.0"),
        "the missing export is named: {err}"
    );
    assert!(
        !proj.join("build/mismatch.wasm").exists(),
        "no output is written for a component that does not conform"
    );
}

/// A component served in-process by `wasmtime-wasi-http`, the `wasi:http` host `wcomp
/// serve` and `wasmtime serve` are built on.
struct HttpComponent {
    runtime: tokio::runtime::Runtime,
    pre: wasmtime_wasi_http::p2::bindings::ProxyPre<HttpHost>,
}

struct HttpHost {
    wasi: wasmtime_wasi::WasiCtx,
    http: wasmtime_wasi_http::WasiHttpCtx,
    table: ResourceTable,
}

impl wasmtime_wasi::WasiView for HttpHost {
    fn ctx(&mut self) -> wasmtime_wasi::WasiCtxView<'_> {
        wasmtime_wasi::WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl wasmtime_wasi_http::WasiHttpView for HttpHost {
    fn http(&mut self) -> wasmtime_wasi_http::WasiHttpCtxView<'_> {
        wasmtime_wasi_http::WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: Default::default(),
        }
    }
}

/// One answer: status, content type and body.
#[derive(Debug, PartialEq)]
struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

impl HttpComponent {
    fn load(wasm: &Path) -> HttpComponent {
        let mut config = Config::new();
        config.wasm_component_model(true);
        let engine = Engine::new(&config).unwrap();
        let component = Component::from_file(&engine, wasm).unwrap();
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).unwrap();
        let pre = wasmtime_wasi_http::p2::bindings::ProxyPre::new(
            linker.instantiate_pre(&component).unwrap(),
        )
        .unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        HttpComponent { runtime, pre }
    }

    /// Sends `requests` (method, path) one after another to one new instance.
    fn send(&self, requests: &[(&str, &str)]) -> Vec<Answer> {
        use http_body_util::BodyExt as _;
        use wasmtime_wasi_http::WasiHttpView as _;
        self.runtime.block_on(async {
            let mut store = Store::new(
                self.pre.engine(),
                HttpHost {
                    wasi: WasiCtxBuilder::new().build(),
                    http: wasmtime_wasi_http::WasiHttpCtx::new(),
                    table: ResourceTable::new(),
                },
            );
            let proxy = self.pre.instantiate_async(&mut store).await.unwrap();
            let mut answers = Vec::new();
            for (method, path) in requests {
                let request = hyper::Request::builder()
                    .method(*method)
                    .uri(format!("http://localhost{path}"))
                    .body(http_body_util::Full::new(bytes::Bytes::new()))
                    .unwrap();
                let (sender, receiver) = tokio::sync::oneshot::channel();
                let request = store
                    .data_mut()
                    .http()
                    .new_incoming_request(
                        wasmtime_wasi_http::p2::bindings::http::types::Scheme::Http,
                        request,
                    )
                    .unwrap();
                let out = store
                    .data_mut()
                    .http()
                    .new_response_outparam(sender)
                    .unwrap();
                let call = proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, request, out);
                let read = async {
                    let response = receiver.await.unwrap().unwrap();
                    let status = response.status().as_u16();
                    let content_type = response
                        .headers()
                        .get("content-type")
                        .map(|v| v.to_str().unwrap().to_string())
                        .unwrap_or_default();
                    let body = response.into_body().collect().await.unwrap().to_bytes();
                    Answer {
                        status,
                        content_type,
                        body: String::from_utf8(body.to_vec()).unwrap(),
                    }
                };
                let (called, answer) = tokio::join!(call, read);
                called.unwrap_or_else(|e| panic!("{method} {path}: {e:?}"));
                answers.push(answer);
            }
            answers
        })
    }
}

/// The routes every HTTP template answers (docs/new.md): the same answers in every
/// language.
fn check_http_routes(wasm: &Path, greeting: &str) {
    let served = HttpComponent::load(wasm);
    let text = |status: u16, body: &str| Answer {
        status,
        content_type: "text/plain; charset=utf-8".to_string(),
        body: body.to_string(),
    };
    for ((method, path), want) in [
        (("GET", "/"), text(200, &format!("{greeting}, World!\n"))),
        (
            ("GET", "/hello/Ada"),
            text(200, &format!("{greeting}, Ada!\n")),
        ),
        (
            ("GET", "/hello/Ada?x=1"),
            text(200, &format!("{greeting}, Ada!\n")),
        ),
        (("GET", "/count"), text(200, "1\n")),
        (("GET", "/nope"), text(404, "not found\n")),
        (("GET", "/hello/"), text(404, "not found\n")),
        (("GET", "/hello/a/b"), text(404, "not found\n")),
        (("POST", "/"), text(405, "method not allowed\n")),
    ] {
        // A fresh instance for every request, as `wcomp serve` does.
        let got = served.send(&[(method, path)]);
        assert_eq!(got, [want], "{method} {path}");
    }
    // The counter is module state: one instance handling three requests counts them.
    let got = served.send(&[("GET", "/"), ("GET", "/nope"), ("GET", "/count")]);
    assert_eq!(got[2], text(200, "3\n"));
}

/// new -> build -> exports `wasi:http/incoming-handler@0.2.x` -> answers its routes.
fn http_template_round_trip(template: &str, language: &str) {
    if !toolchain_ready(language) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let o = wcomp(
        tmp.path(),
        &[
            "new",
            template,
            "proj",
            "--name",
            "acme:http-trip",
            "--set",
            "greeting=Howdy",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let proj = tmp.path().join("proj");
    let started = std::time::Instant::now();
    let o = wcomp(&proj, &["build"]);
    assert!(o.status.success(), "{}", text(&o));
    let wasm = proj.join("build/http-trip.wasm");
    eprintln!(
        "{template}: built in {:.1} s, {} bytes",
        started.elapsed().as_secs_f64(),
        std::fs::metadata(&wasm).unwrap().len()
    );

    let o = wcomp(&proj, &["inspect", "build/http-trip.wasm", "--json"]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let exports: Vec<&str> = v["worlds"][0]["exports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(
        exports
            .iter()
            .any(|e| e.starts_with("wasi:http/incoming-handler@0.2.")),
        "{exports:?}"
    );

    check_http_routes(&wasm, "Howdy");

    // The template's own request tests pass as scaffolded.
    let o = wcomp(&proj, &["test"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("test service.test.toml::greets by name ... ok"),
        "{out}"
    );
    assert!(out.contains("5 passed, 0 failed"), "{out}");
    // A response that differs is shown part by part, and the test fails.
    std::fs::write(
        proj.join("wrong.test.toml"),
        "[[test]]\nname = \"wrong\"\nrequest = \"GET /hello/Bob\"\nexpect-status = 201\n\
         expect-body = \"Hi\"\nexpect-headers = { x-missing = \"1\" }\n",
    )
    .unwrap();
    let o = wcomp(&proj, &["test", "wrong.test.toml"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    for needle in [
        "expected: status 201",
        "actual:   status 200",
        "expected: body \"Hi\"",
        "actual:   body \"Howdy, Bob!\\n\"",
        "actual:   no x-missing header",
        "0 passed, 1 failed",
    ] {
        assert!(out.contains(needle), "{needle}: {out}");
    }

    // And as a user runs it: `wcomp serve` over real HTTP on loopback, a fresh instance
    // per request (the counter reads 1 every time).
    let user = common::User::new();
    let server = common::http::Server::start(&user, wasm.to_str().unwrap(), &[]);
    assert_eq!(server.get("/hello/Ada"), (200, "Howdy, Ada!\n".to_string()));
    for _ in 0..3 {
        assert_eq!(server.get("/count"), (200, "1\n".to_string()));
    }
    assert_eq!(server.get("/nope").0, 404);
    assert_eq!(server.terminate(), 0);
}

#[test]
fn rust_http_template_builds_and_serves() {
    http_template_round_trip("rust-http", "rust");
}

#[test]
fn go_http_template_builds_and_serves() {
    http_template_round_trip("go-http", "go");
}

#[test]
fn python_http_template_builds_and_serves() {
    http_template_round_trip("python-http", "python");
}

#[test]
fn js_http_template_builds_and_serves() {
    http_template_round_trip("js-http", "javascript");
}
