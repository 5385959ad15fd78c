//! `wcomp new <template> <dir> --world <wit>[:world]`: for every built-in language, a
//! project for the rich fixture world (records, variants, enums, flags, lists, options,
//! results, tuples, aliases, a resource, a dependency package and an import) is created,
//! built with the real toolchain, validated, and its stubs called through wasmtime; then
//! some stubs are replaced by real code to prove the generated signatures are usable.
//! Then the refusals, which write nothing.
//!
//! The build tests need the language toolchains (scripts/install-toolchains.sh). Without
//! one, the test says so and passes, except under CI (`CI` set), where it fails.
#![allow(clippy::disallowed_methods)] // tests set up files with std::fs directly

mod toolchain;

use std::path::{Path, PathBuf};
use std::process::Command;
use toolchain::{Host, text, toolchain_ready, wcomp};
use wasmtime::component::{Component, Linker, ResourceTable, ResourceType, Val};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

const SHAPES: &str = "example:rich/shapes@0.1.0";
const WORLD: &str = "example:rich/rich@0.1.0";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rich-world")
}

/// One component, compiled once; every call gets a fresh instance (a trap poisons the
/// instance it happened in).
struct Runner {
    engine: Engine,
    component: Component,
}

/// What a call did: its results, or the trap with what the guest wrote to stderr.
type Called = Result<Vec<Val>, (String, String)>;

impl Runner {
    fn new(wasm: &Path) -> Runner {
        let mut config = Config::new();
        config.wasm_component_model(true);
        let engine = Engine::new(&config).unwrap();
        let component = Component::from_file(&engine, wasm).unwrap();
        Runner { engine, component }
    }

    /// Calls `func` of the exported interface `iface` (`None`: of the world).
    fn call(&self, iface: Option<&str>, func: &str, params: &[Val]) -> Called {
        let mut linker = Linker::<Host>::new(&self.engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).unwrap();
        // The worlds' own imports, which the stubs never call.
        linker
            .instance("example:rich/log@0.1.0")
            .unwrap()
            .func_new("log", |_, _, _, _| Ok(()))
            .unwrap();
        let mut things = linker.instance("example:edge/host-things@0.2.0").unwrap();
        things
            .resource("blob", ResourceType::host::<()>(), |_, _| Ok(()))
            .unwrap();
        for f in ["[constructor]blob", "[method]blob.read"] {
            things
                .func_new(f, |_, _, _, _| Err(wasmtime::Error::msg("not called")))
                .unwrap();
        }
        let stderr = MemoryOutputPipe::new(1 << 20);
        let mut store = Store::new(
            &self.engine,
            Host {
                ctx: WasiCtxBuilder::new().stderr(stderr.clone()).build(),
                table: ResourceTable::new(),
            },
        );
        let instance = linker.instantiate(&mut store, &self.component).unwrap();
        let parent = iface.map(|i| {
            instance
                .get_export_index(&mut store, None, i)
                .unwrap_or_else(|| panic!("no export `{i}`"))
        });
        let idx = instance
            .get_export_index(&mut store, parent.as_ref(), func)
            .unwrap_or_else(|| panic!("no function `{func}` in {iface:?}"));
        let f = instance.get_func(&mut store, idx).unwrap();
        let mut results = vec![Val::Bool(false); f.ty(&store).results().len()];
        match f.call(&mut store, params, &mut results) {
            Ok(()) => Ok(results),
            Err(e) => Err((
                format!("{e:?}"),
                String::from_utf8_lossy(&stderr.contents()).into_owned(),
            )),
        }
    }
}

fn point(x: i32, y: i32) -> Val {
    Val::Record(vec![("x".into(), Val::S32(x)), ("y".into(), Val::S32(y))])
}

fn string_err(msg: &str) -> Vec<Val> {
    vec![Val::Result(Err(Some(Box::new(Val::String(msg.into())))))]
}

/// Asserts the call trapped because of the stub named `name`; `stderr_says` when the
/// language's runtime reliably prints the panic/exception message to stderr.
fn assert_trapped(called: Called, name: &str, stderr_says: bool) {
    let msg = format!("not implemented: {name}");
    match called {
        Ok(v) => panic!("`{name}` returned {v:?} instead of trapping"),
        Err((error, stderr)) => {
            if stderr_says {
                assert!(
                    stderr.contains(&msg),
                    "stderr lacks `{msg}`:\n{stderr}\n--- error\n{error}"
                );
            } else {
                assert!(
                    error.contains("wasm trap") || error.contains("unreachable"),
                    "{error}"
                );
            }
        }
    }
}

/// The code that replaces three stubs, per language: the line each goes in place of
/// is found by the stub's message.
struct RealCode {
    /// The file with the world's own functions, and the one with the interface's.
    world_file: &'static str,
    shapes_file: &'static str,
    add: &'static str,
    parse_color: &'static str,
    bounds: &'static str,
}

fn implement(proj: &Path, code: &RealCode) {
    let edits = [
        (code.world_file, format!("{WORLD}#add\""), code.add),
        (
            code.shapes_file,
            format!("{SHAPES}#parse-color\""),
            code.parse_color,
        ),
        (code.shapes_file, format!("{SHAPES}#bounds\""), code.bounds),
    ];
    for (file, needle, body) in edits {
        let path = proj.join(file);
        let src = std::fs::read_to_string(&path).unwrap();
        let mut out = String::new();
        let mut replaced = 0;
        for line in src.lines() {
            if line.contains(needle.as_str()) {
                let indent: String = line.chars().take_while(|c| c.is_whitespace()).collect();
                out.push_str(&format!("{indent}{body}\n"));
                replaced += 1;
            } else {
                out.push_str(&format!("{line}\n"));
            }
        }
        assert_eq!(replaced, 1, "no stub line for {needle} in {file}:\n{src}");
        std::fs::write(&path, out).unwrap();
    }
}

/// `wcomp build` in `proj`, which must build `package`; Rust projects share one cargo
/// target directory (kept between runs), so wit-bindgen compiles once.
fn build(proj: &Path, package: &str) {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("new-world-cargo-target");
    let o = Command::new(env!("CARGO_BIN_EXE_wcomp"))
        .args(["build"])
        .current_dir(proj)
        .env("NO_COLOR", "1")
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(&format!("built {package}")),
        "{}",
        text(&o)
    );
}

/// The Go stubs are as gofmt writes them (checked before the build adds bindings).
fn assert_gofmt(proj: &Path) {
    let dirs: Vec<String> = std::fs::read_dir(proj)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("export_"))
        .collect();
    assert!(!dirs.is_empty());
    let o = Command::new("gofmt")
        .arg("-l")
        .args(&dirs)
        .current_dir(proj)
        .output()
        .expect("gofmt comes with go");
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "",
        "not gofmt-formatted"
    );
}

/// The Rust stubs are as rustfmt writes them.
fn assert_rustfmt(proj: &Path) {
    let o = Command::new("rustfmt")
        .args(["--edition", "2024", "--check", "src/lib.rs"])
        .current_dir(proj)
        .output()
        .expect("rustfmt comes with the Rust toolchain");
    assert!(o.status.success(), "not rustfmt-formatted: {}", text(&o));
}

/// new --world -> build -> validate -> call the stubs -> implement three -> call them.
///
/// `traps_say_why`: the language's runtime prints the panic or exception to stderr.
/// `throws_in_results_trap`: false for componentize-js, which turns anything a function
/// returning a `result` throws into that result's `err` (so such a stub cannot trap).
fn stubs_round_trip(
    template: &str,
    language: &str,
    traps_say_why: bool,
    throws_in_results_trap: bool,
    code: RealCode,
) {
    if !toolchain_ready(language) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let fixture = fixture();
    let o = wcomp(
        tmp.path(),
        &[
            "new",
            template,
            "proj",
            "--world",
            fixture.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let proj = tmp.path().join("proj");
    let manifest = std::fs::read_to_string(proj.join("wcomp.toml")).unwrap();
    assert!(manifest.contains("name = \"example:rich\""), "{manifest}");
    assert!(manifest.contains("world = \"rich\""), "{manifest}");
    assert!(proj.join("wit/deps/example-types/geometry.wit").is_file());
    assert!(!proj.join("wit/greeter.wit").exists());
    match template {
        "go" => assert_gofmt(&proj),
        "rust" => assert_rustfmt(&proj),
        _ => {}
    }

    let build = |proj: &Path| build(proj, "example:rich@0.1.0");
    build(&proj);
    let o = wcomp(&proj, &["validate", "build/rich.wasm", "--allow-wasi"]);
    assert!(o.status.success(), "{}", text(&o));

    let run = Runner::new(&proj.join("build/rich.wasm"));
    // result<_, string>: the error value names the function.
    assert_eq!(
        run.call(Some(SHAPES), "parse-color", &[Val::String("red".into())])
            .unwrap(),
        string_err(&format!("not implemented: {SHAPES}#parse-color"))
    );
    assert_eq!(
        run.call(Some(SHAPES), "check", &[Val::List(vec![Val::U8(1)])])
            .unwrap(),
        string_err(&format!("not implemented: {SHAPES}#check"))
    );
    // Anything else traps: a variant parameter, a result whose error is not a string, a
    // resource's static function, and a function the world exports directly.
    assert_trapped(
        run.call(
            Some(SHAPES),
            "describe",
            &[Val::Variant("circle".into(), Some(Box::new(Val::U32(3))))],
        ),
        &format!("{SHAPES}#describe"),
        traps_say_why,
    );
    let classify = run.call(Some(SHAPES), "classify", &[Val::Float64(1.5)]);
    if throws_in_results_trap {
        assert_trapped(classify, &format!("{SHAPES}#classify"), traps_say_why);
    } else {
        assert_eq!(classify.unwrap(), vec![Val::Result(Err(None))]);
    }
    assert_trapped(
        run.call(Some(SHAPES), "[static]canvas.blank", &[]),
        &format!("{SHAPES}#[static]canvas.blank"),
        traps_say_why,
    );
    assert_trapped(
        run.call(None, "add", &[Val::S32(2), Val::S32(3)]),
        &format!("{WORLD}#add"),
        traps_say_why,
    );

    // Real code in place of three stubs: the signatures are the bindings'.
    implement(&proj, &code);
    build(&proj);
    let run = Runner::new(&proj.join("build/rich.wasm"));
    assert_eq!(
        run.call(None, "add", &[Val::S32(2), Val::S32(3)]).unwrap(),
        vec![Val::S32(5)]
    );
    assert_eq!(
        run.call(Some(SHAPES), "parse-color", &[Val::String("green".into())])
            .unwrap(),
        vec![Val::Result(Ok(Some(Box::new(Val::Enum("green".into())))))]
    );
    let pts = Val::List(vec![point(1, 2), point(3, 4), point(5, 6)]);
    assert_eq!(
        run.call(Some(SHAPES), "bounds", &[pts]).unwrap(),
        vec![Val::Tuple(vec![point(1, 2), point(5, 6)])]
    );
    // The other stubs still say they are not implemented.
    assert_eq!(
        run.call(Some(SHAPES), "check", &[Val::List(vec![])])
            .unwrap(),
        string_err(&format!("not implemented: {SHAPES}#check"))
    );
}

#[test]
fn rust_stubs_build_and_run() {
    stubs_round_trip(
        "rust",
        "rust",
        true,
        true,
        RealCode {
            world_file: "src/lib.rs",
            shapes_file: "src/lib.rs",
            add: "a + b",
            parse_color: "Ok(Color::Green)",
            bounds: "(pts[0], pts[pts.len() - 1])",
        },
    );
}

#[test]
fn go_stubs_build_and_run() {
    stubs_round_trip(
        "go",
        "go",
        true,
        true,
        RealCode {
            world_file: "export_wit_world/wit_world.go",
            shapes_file: "export_example_rich_shapes/shapes.go",
            add: "return a + b",
            parse_color: "return witTypes.Ok[example_rich_shapes.Color, string](example_rich_shapes.Color_Green)",
            bounds: "return pts[0], pts[len(pts)-1]",
        },
    );
}

#[test]
fn python_stubs_build_and_run() {
    stubs_round_trip(
        "python",
        "python",
        true,
        true,
        RealCode {
            world_file: "app.py",
            shapes_file: "app.py",
            add: "return a + b",
            parse_color: "return shapes.Color.GREEN",
            bounds: "return (pts[0], pts[-1])",
        },
    );
}

#[test]
fn js_stubs_build_and_run() {
    stubs_round_trip(
        "js",
        "javascript",
        true,
        false,
        RealCode {
            world_file: "app.js",
            shapes_file: "app.js",
            add: "return a + b;",
            parse_color: "return \"green\";",
            bounds: "return [pts[0], pts[pts.length - 1]];",
        },
    );
}

#[test]
fn c_stubs_build_and_run() {
    stubs_round_trip(
        "c",
        "c",
        true,
        true,
        RealCode {
            world_file: "src/component.c",
            shapes_file: "src/component.c",
            add: "return a + b;",
            parse_color: "*ret = EXPORTS_EXAMPLE_RICH_SHAPES_COLOR_GREEN; return true;",
            bounds: "ret->f0 = pts->ptr[0]; ret->f1 = pts->ptr[pts->len - 1]; \
                     exports_example_rich_shapes_points_free(pts); return;",
        },
    );
}

#[test]
fn cpp_stubs_build_and_run() {
    stubs_round_trip(
        "cpp",
        "cpp",
        true,
        true,
        RealCode {
            world_file: "src/component.cpp",
            shapes_file: "src/component.cpp",
            add: "return a + b;",
            parse_color: "*ret = EXPORTS_EXAMPLE_RICH_SHAPES_COLOR_GREEN; return true;",
            // The list becomes a std::vector (and the C list is freed).
            bounds: "auto v = wit::take_list(pts); ret->f0 = v.front(); ret->f1 = v.back(); \
                     return;",
        },
    );
}

/// `wcomp new <template> proj --world tests/fixtures/<fixture>` in a new temporary
/// directory (kept as long as the first value lives).
fn new_from_fixture(template: &str, fixture: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(fixture);
    let o = wcomp(
        tmp.path(),
        &[
            "new",
            template,
            "proj",
            "--world",
            fixture.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let proj = tmp.path().join("proj");
    (tmp, proj)
}

/// The edge-case world (keywords, aliases, imported resources, an inline interface,
/// world-level types): the stubs build, conform, and answer as stubs do.
fn edge_stubs_build(template: &str, language: &str) {
    if !toolchain_ready(language) {
        return;
    }
    let (_tmp, proj) = new_from_fixture(template, "edge-world");
    match template {
        "go" => assert_gofmt(&proj),
        "rust" => assert_rustfmt(&proj),
        _ => {}
    }
    build(&proj, "example:edge@0.1.0");
    let o = wcomp(&proj, &["validate", "build/edge.wasm", "--allow-wasi"]);
    assert!(o.status.success(), "{}", text(&o));

    let run = Runner::new(&proj.join("build/edge.wasm"));
    let keywords = "example:edge/keywords@0.2.0";
    // `type` returns `outcome`, an alias of result<u16, string>.
    assert_eq!(
        run.call(
            Some(keywords),
            "type",
            &[
                Val::Tuple(vec![Val::S64(1), Val::Float32(2.0)]),
                Val::Option(None)
            ]
        )
        .unwrap(),
        string_err(&format!("not implemented: {keywords}#type"))
    );
    // A world-level function taking a world-level record.
    let stats = Val::Record(vec![
        ("count".into(), Val::U32(1)),
        (
            "last".into(),
            Val::Option(Some(Box::new(Val::Variant("end".into(), None)))),
        ),
    ]);
    assert_eq!(
        run.call(None, "summarize", &[stats]).unwrap(),
        string_err("not implemented: example:edge/edge@0.2.0#summarize")
    );
    assert_trapped(
        run.call(Some(keywords), "nothing", &[]),
        &format!("{keywords}#nothing"),
        true,
    );
    assert_trapped(
        run.call(Some("inline"), "[static]cursor.static", &[Val::U32(1)]),
        "inline#[static]cursor.static",
        true,
    );
}

#[test]
fn c_edge_stubs_build() {
    edge_stubs_build("c", "c");
}

#[test]
fn cpp_edge_stubs_build() {
    edge_stubs_build("cpp", "cpp");
}

/// Nested lists and options in C and C++: the stubs build and conform, a stub that
/// returns `result<_, string>` frees its nested parameters and answers, the others
/// trap; then real code for two functions, in each language's own style.
fn nested_stubs_build(template: &str, file: &str, totals: &str, transpose: &str) {
    if !toolchain_ready(template) {
        return;
    }
    let (_tmp, proj) = new_from_fixture(template, "nested-world");
    build(&proj, "example:nested@0.1.0");
    let o = wcomp(&proj, &["validate", "build/nested.wasm", "--allow-wasi"]);
    assert!(o.status.success(), "{}", text(&o));

    let grids = "example:nested/grids@0.1.0";
    let s32s = |v: &[i32]| Val::List(v.iter().map(|&n| Val::S32(n)).collect());
    let rows = Val::List(vec![s32s(&[1, 2, 3]), s32s(&[4, 5, 6])]);
    let run = Runner::new(&proj.join("build/nested.wasm"));
    let strings = |v: &[&str]| Val::List(v.iter().map(|s| Val::String(s.to_string())).collect());
    let cell = Val::Record(vec![
        (
            "label".into(),
            Val::Option(Some(Box::new(Val::String("a".into())))),
        ),
        ("tags".into(), strings(&["x", "y"])),
    ]);
    assert_eq!(
        run.call(
            Some(grids),
            "cells",
            &[Val::List(vec![Val::List(vec![cell.clone(), cell])])]
        )
        .unwrap(),
        string_err(&format!("not implemented: {grids}#cells"))
    );
    let deep = Val::Option(Some(Box::new(Val::List(vec![
        Val::Option(None),
        Val::Option(Some(Box::new(Val::List(vec![Val::U8(7)])))),
    ]))));
    assert_eq!(
        run.call(Some(grids), "deepest", &[deep]).unwrap(),
        string_err(&format!("not implemented: {grids}#deepest"))
    );
    let lines = Val::List(vec![
        Val::Option(None),
        Val::Option(Some(Box::new(strings(&["hi"])))),
    ]);
    assert_trapped(
        run.call(Some(grids), "first-word", &[lines]),
        &format!("{grids}#first-word"),
        true,
    );
    assert_trapped(
        run.call(Some(grids), "totals", std::slice::from_ref(&rows)),
        &format!("{grids}#totals"),
        true,
    );

    let path = proj.join(file);
    let src = std::fs::read_to_string(&path).unwrap();
    let src = src
        .replace(
            &format!("  not_implemented(\"not implemented: {grids}#totals\");"),
            totals,
        )
        .replace(
            &format!("  not_implemented(\"not implemented: {grids}#transpose\");"),
            transpose,
        );
    std::fs::write(&path, src).unwrap();
    build(&proj, "example:nested@0.1.0");
    let run = Runner::new(&proj.join("build/nested.wasm"));
    assert_eq!(
        run.call(Some(grids), "totals", std::slice::from_ref(&rows))
            .unwrap(),
        vec![s32s(&[6, 15])]
    );
    assert_eq!(
        run.call(Some(grids), "transpose", &[rows]).unwrap(),
        vec![Val::List(vec![s32s(&[1, 4]), s32s(&[2, 5]), s32s(&[3, 6])])]
    );
}

#[test]
fn c_nested_stubs_build() {
    nested_stubs_build(
        "c",
        "src/component.c",
        "  ret->len = rows->len;
  ret->ptr = rows->len ? malloc(sizeof(int32_t) * rows->len) : NULL;
  for (size_t i = 0; i < rows->len; i++) {
    int32_t sum = 0;
    for (size_t j = 0; j < rows->ptr[i].len; j++) sum += rows->ptr[i].ptr[j];
    ret->ptr[i] = sum;
  }
  nested_list_list_s32_free(rows);",
        "  size_t n = rows->len ? rows->ptr[0].len : 0;
  ret->len = n;
  ret->ptr = n ? malloc(sizeof(*ret->ptr) * n) : NULL;
  for (size_t j = 0; j < n; j++) {
    ret->ptr[j].len = rows->len;
    ret->ptr[j].ptr = malloc(sizeof(int32_t) * rows->len);
    for (size_t i = 0; i < rows->len; i++) ret->ptr[j].ptr[i] = rows->ptr[i].ptr[j];
  }
  nested_list_list_s32_free(rows);",
    );
}

#[test]
fn cpp_nested_stubs_build() {
    nested_stubs_build(
        "cpp",
        "src/component.cpp",
        // RAII: the parameter is freed (by its generated `_free`) when `grid` goes.
        "  wit::owned<nested_list_list_s32_t, nested_list_list_s32_free> grid(*rows);
  std::vector<int32_t> sums;
  for (size_t i = 0; i < grid->len; i++) {
    int32_t sum = 0;
    for (size_t j = 0; j < grid->ptr[i].len; j++) sum += grid->ptr[i].ptr[j];
    sums.push_back(sum);
  }
  *ret = wit::make_list<nested_list_s32_t>(sums);",
        // Nested lists become nested std::vectors, and back.
        "  auto grid = wit::take_list(rows, [](nested_list_s32_t &row) { return wit::take_list(&row); });
  std::vector<std::vector<int32_t>> out(grid.empty() ? 0 : grid[0].size());
  for (const auto &row : grid)
    for (size_t j = 0; j < row.size(); j++) out[j].push_back(row[j]);
  *ret = wit::make_list<nested_list_list_s32_t>(out, [](const std::vector<int32_t> &col) {
    return wit::make_list<nested_list_s32_t>(col);
  });",
    );
}

#[test]
fn rust_edge_stubs_build() {
    edge_stubs_build("rust", "rust");
}

#[test]
fn go_edge_stubs_build() {
    edge_stubs_build("go", "go");
}

#[test]
fn python_edge_stubs_build() {
    edge_stubs_build("python", "python");
}

#[test]
fn js_edge_stubs_build() {
    edge_stubs_build("js", "javascript");
}

// --- Inputs other than a directory, and refusals (no toolchain needed) ---

/// Every file under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out.sort();
    out
}

/// Runs `wcomp new` expecting a refusal (exit 2) that writes nothing; returns stderr.
fn refused(tmp: &Path, args: &[&str]) -> String {
    let before = files(tmp);
    let o = wcomp(tmp, args);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
    assert_eq!(files(tmp), before, "{args:?} wrote files");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_single_wit_file_with_a_world_name() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("api.wit"),
        "package acme:api@1.0.0;\n\ninterface store {\n  get: func(key: string) -> \
         result<list<u8>, string>;\n}\n\nworld client {\n  import store;\n}\n\nworld \
         server {\n  export store;\n}\n",
    )
    .unwrap();
    for (template, source) in [
        ("rust", "src/lib.rs"),
        ("go", "export_acme_api_store/store.go"),
        ("python", "app.py"),
        ("js", "app.js"),
    ] {
        let dir = format!("p-{template}");
        let o = wcomp(
            tmp.path(),
            &["new", template, &dir, "--world", "api.wit:server"],
        );
        assert!(o.status.success(), "{template}: {}", text(&o));
        let proj = tmp.path().join(&dir);
        let manifest = std::fs::read_to_string(proj.join("wcomp.toml")).unwrap();
        assert!(manifest.contains("name = \"acme:api\""), "{manifest}");
        assert!(manifest.contains("world = \"server\""), "{manifest}");
        // The WIT is copied as it is, and the template's own example is left out.
        assert_eq!(
            std::fs::read(proj.join("wit/api.wit")).unwrap(),
            std::fs::read(tmp.path().join("api.wit")).unwrap()
        );
        assert!(!proj.join("wit/world.wit").exists(), "{template}");
        let all = files(&proj);
        assert!(
            !all.iter().any(|f| f.contains("greeter")),
            "{template}: {all:?}"
        );
        let src = std::fs::read_to_string(proj.join(source)).unwrap();
        assert!(
            src.contains("not implemented: acme:api/store@1.0.0#get"),
            "{template}: {src}"
        );
        let readme = std::fs::read_to_string(proj.join("README.md")).unwrap();
        assert!(readme.contains("`server`"), "{template}: {readme}");
        assert!(!readme.contains("greeter"), "{template}: {readme}");
    }
}

#[test]
fn an_encoded_wit_package_is_printed_into_the_project() {
    let tmp = tempfile::tempdir().unwrap();
    let mut resolve = wit_parser::Resolve::new();
    let (pkg, _) = resolve.push_dir(fixture()).unwrap();
    let wasm = wit_component::encode(&resolve, pkg, false).unwrap();
    std::fs::write(tmp.path().join("rich.wasm"), wasm).unwrap();
    let o = wcomp(
        tmp.path(),
        &[
            "new",
            "rust",
            "p",
            "--world",
            "rich.wasm",
            "--name",
            "acme:mine",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let proj = tmp.path().join("p");
    let manifest = std::fs::read_to_string(proj.join("wcomp.toml")).unwrap();
    assert!(manifest.contains("name = \"acme:mine\""), "{manifest}");
    assert!(manifest.contains("world = \"rich\""), "{manifest}");
    let wit = std::fs::read_to_string(proj.join("wit/world.wit")).unwrap();
    assert!(wit.contains("package example:rich@0.1.0;"), "{wit}");
    assert!(wit.contains("package example:types@0.1.0 {"), "{wit}");
    let lib = std::fs::read_to_string(proj.join("src/lib.rs")).unwrap();
    assert!(lib.contains("type Canvas = MyCanvas;"), "{lib}");
    assert!(
        lib.contains("fn merge(&self, other: CanvasBorrow<'_>) -> Canvas"),
        "{lib}"
    );
}

#[test]
fn a_missing_world_path_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let err = refused(tmp.path(), &["new", "rust", "p", "--world", "nope/wit"]);
    assert!(err.contains("`nope/wit` does not exist"), "{err}");
}

#[test]
fn bad_wit_is_refused_with_its_location() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("wit")).unwrap();
    std::fs::write(
        tmp.path().join("wit/world.wit"),
        "package a:b;\n\nworld w {\n  export f: func() -> nope;\n}\n",
    )
    .unwrap();
    let err = refused(tmp.path(), &["new", "go", "p", "--world", "wit"]);
    assert!(err.contains("world.wit:4:"), "{err}");
    assert!(err.contains("nope"), "{err}");
    // Like `wcomp validate --wit` with the same WIT.
    let o = wcomp(tmp.path(), &["validate", "x.wasm", "--wit", "wit"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[test]
fn world_choice_is_checked() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("two.wit"),
        "package a:b;\n\nworld first {\n  export f: func();\n}\n\nworld second {\n  export \
         g: func();\n}\n",
    )
    .unwrap();
    let err = refused(tmp.path(), &["new", "python", "p", "--world", "two.wit"]);
    assert!(err.contains("has 2 worlds"), "{err}");
    assert!(err.contains("first, second"), "{err}");
    let err = refused(tmp.path(), &["new", "js", "p", "--world", "two.wit:third"]);
    assert!(err.contains("no world named `third`"), "{err}");
    assert!(err.contains("first, second"), "{err}");
    // Choosing one works.
    let o = wcomp(tmp.path(), &["new", "js", "p", "--world", "two.wit:second"]);
    assert!(o.status.success(), "{}", text(&o));
    let app = std::fs::read_to_string(tmp.path().join("p/app.js")).unwrap();
    assert!(app.contains("export function g()"), "{app}");
    assert!(!app.contains("function f()"), "{app}");
}

#[test]
fn async_worlds_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("async.wit"),
        "package a:b;\n\ninterface jobs {\n  run: async func(n: u32) -> u32;\n  \
         feed: func(items: stream<u8>);\n}\n\nworld w {\n  export jobs;\n}\n",
    )
    .unwrap();
    let err = refused(tmp.path(), &["new", "go", "p", "--world", "async.wit"]);
    assert!(
        err.contains("world `w` is async, which Go components cannot be built for yet"),
        "{err}"
    );
    assert!(
        err.contains("function `run` in `a:b/jobs` is async"),
        "{err}"
    );
    // The other languages' stubs do not cover async either, and say so.
    let err = refused(tmp.path(), &["new", "rust", "p", "--world", "async.wit"]);
    assert!(err.contains("cannot generate export stubs"), "{err}");
    assert!(err.contains("uses a stream"), "{err}");
}

#[test]
fn user_templates_see_the_world_and_its_stubs() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path().join("tmpl");
    std::fs::create_dir_all(t.join("content/wit")).unwrap();
    std::fs::write(
        t.join("template.toml"),
        "name = \"mine\"\nlanguage = \"rust\"\ndescription = \"test\"\n\n[[parameter]]\n\
         name = \"name\"\ndescription = \"pkg\"\ndefault = \"a:b\"\n",
    )
    .unwrap();
    std::fs::write(
        t.join("content/NOTES.md"),
        "{% if from_world %}world {{ world }}:{% for path in stubs %} {{ path }}{% endfor %}\
         {% else %}no world{% endif %}\n",
    )
    .unwrap();
    std::fs::write(t.join("content/wit/own.wit"), "package a:b;\n").unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_wcomp"))
            .args(args)
            .current_dir(tmp.path())
            .env("WCOMP_CONFIG_DIR", tmp.path().join("config"))
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    let o = run(&["templates", "add", "tmpl"]);
    assert!(o.status.success(), "{}", text(&o));
    let fixture = fixture();
    let o = run(&["new", "mine", "p", "--world", fixture.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let notes = std::fs::read_to_string(tmp.path().join("p/NOTES.md")).unwrap();
    assert_eq!(notes, "world rich: src/lib.rs\n");
    assert!(tmp.path().join("p/src/lib.rs").is_file());
    // The template's own WIT gives way to the world's.
    assert!(!tmp.path().join("p/wit/own.wit").exists());
    assert!(tmp.path().join("p/wit/world.wit").is_file());

    let o = run(&["new", "mine", "q"]);
    assert!(o.status.success(), "{}", text(&o));
    let notes = std::fs::read_to_string(tmp.path().join("q/NOTES.md")).unwrap();
    assert_eq!(notes, "no world\n");
    assert!(tmp.path().join("q/wit/own.wit").is_file());
}

/// A world that exports nothing: there is nothing to stub, and the project still builds
/// (Rust defines no `export!` then, Python has no `wit_world.exports`).
#[test]
fn a_world_that_only_imports_builds() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("client.wit"),
        "package acme:client;\n\ninterface store {\n  get: func(key: string) -> \
         option<string>;\n}\n\nworld client {\n  import store;\n}\n",
    )
    .unwrap();
    for (template, language) in [
        ("rust", "rust"),
        ("python", "python"),
        ("c", "c"),
        ("cpp", "cpp"),
    ] {
        if !toolchain_ready(language) {
            continue;
        }
        let dir = format!("p-{template}");
        let o = wcomp(
            tmp.path(),
            &["new", template, &dir, "--world", "client.wit"],
        );
        assert!(o.status.success(), "{}", text(&o));
        build(&tmp.path().join(&dir), "acme:client@0.1.0");
    }
}
