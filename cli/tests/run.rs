//! `wcomp run`: the error paths docs/run.md documents, on dummy components (whose
//! functions trap), and `--invoke` on a small component written in WAT that really runs.
//! The example pipeline (real toolchains, SQLite, PostgreSQL) is tested end to end
//! elsewhere.
#![allow(clippy::disallowed_methods)] // tests set up files with std::fs directly

mod common;

use common::{Dir, sql_app, world};

const API: &str = "package example:app@0.1.0 { interface api { run: func() -> u32; } \
    interface admin { run: func() -> u32; } }";
const LOG: &str = "package example:host@0.1.0 { interface log { log: func(msg: string); } }";

/// A component that computes: `add-one(x: u32) -> u32`, `boom()` traps, and a
/// `wasi:cli/run` whose `run` fails (so the command exits 1).
const CALC: &str = r#"
(component
  (core module $m
    (func (export "add-one") (param i32) (result i32)
      local.get 0
      i32.const 1
      i32.add)
    (func (export "run") (result i32) i32.const 1)
    (func (export "boom") unreachable))
  (core instance $i (instantiate $m))
  (func $add (param "x" u32) (result u32) (canon lift (core func $i "add-one")))
  (func $boom (canon lift (core func $i "boom")))
  (func $run (result (result)) (canon lift (core func $i "run")))
  (instance $cli (export "run" (func $run)))
  (export "add-one" (func $add))
  (export "boom" (func $boom))
  (export "wasi:cli/run@0.2.0" (instance $cli))
)
"#;

fn calc(d: &Dir) {
    d.write("calc.wasm", wat::parse_str(CALC).unwrap());
}

/// [`CALC`] whose `wasi:cli/run` succeeds.
fn calc_ok(d: &Dir) {
    let ok = CALC.replace("(result i32) i32.const 1)", "(result i32) i32.const 0)");
    assert_ne!(ok, CALC);
    d.write("calc-ok.wasm", wat::parse_str(ok).unwrap());
}

/// A dummy component exporting `example:app/api` (its functions trap) and importing
/// `imports`.
fn dummy(d: &Dir, name: &str, imports: &str, packages: &[&str]) {
    let mut all = vec![API];
    all.extend_from_slice(packages);
    d.component(
        name,
        &world(
            name,
            &format!("{imports} export example:app/api@0.1.0;"),
            &all,
        ),
    );
}

#[test]
fn invoke_prints_results_in_wave() {
    let d = Dir::new();
    calc(&d);
    let run = d.wcomp(&["run", "calc.wasm", "--invoke", "add-one(41)"]);
    assert_eq!(run.expect(0).stdout, "42\n");
    let json = d
        .wcomp(&["run", "calc.wasm", "--invoke", "add-one(1)", "--json"])
        .expect(0)
        .json();
    assert_eq!(json, serde_json::json!(["2"]));
    // WAT text runs too, as `wcomp validate` and `inspect` take it.
    d.write("calc.wat", CALC);
    let run = d.wcomp(&["run", "calc.wat", "--invoke", "add-one(1)"]);
    assert_eq!(run.expect(0).stdout, "2\n");
}

#[test]
fn invoke_arguments_that_do_not_fit_show_the_signature() {
    let d = Dir::new();
    calc(&d);
    d.wcomp(&["run", "calc.wasm", "--invoke", "add-one(\"x\")"])
        .expect(2)
        .has("add-one(x: u32)");
    d.wcomp(&["run", "calc.wasm", "--invoke", "add-one()"])
        .expect(2)
        .has("add-one(x: u32)");
    d.wcomp(&["run", "calc.wasm", "--invoke", "add-one(41"])
        .expect(2)
        .has("is not a WAVE function call");
}

#[test]
fn invoke_of_an_unknown_function_lists_the_exports() {
    let d = Dir::new();
    calc(&d);
    d.wcomp(&["run", "calc.wasm", "--invoke", "add-two(1)"])
        .expect(2)
        .has("no function `add-two`")
        .has("`add-one`")
        .has("`boom`")
        .has("`wasi:cli/run@0.2.0#run`");
}

#[test]
fn a_trap_is_a_failure() {
    let d = Dir::new();
    calc(&d);
    d.wcomp(&["run", "calc.wasm", "--invoke", "boom()"])
        .expect(1)
        .has("the component failed");
    // A dummy component's functions trap too; an interface function found by name.
    dummy(&d, "app", "", &[]);
    d.wcomp(&["run", "app.wasm", "--invoke", "run()"])
        .expect(1)
        .has("the component failed");
    d.wcomp(&["run", "app.wasm", "--invoke", "api#run()"])
        .expect(1)
        .has("the component failed");
}

#[test]
fn a_command_exits_with_its_own_code() {
    let d = Dir::new();
    calc(&d);
    // `run` returns `err`: exit 1, and no wcomp error on top.
    let run = d.wcomp(&["run", "calc.wasm"]);
    run.expect(1);
    assert!(!run.stderr.contains("error:"), "{}", run.stderr);
    calc_ok(&d);
    d.wcomp(&["run", "calc-ok.wasm", "--", "some", "args"])
        .expect(0);
}

#[test]
fn a_name_several_interfaces_export_needs_a_prefix() {
    let d = Dir::new();
    dummy(&d, "app", "export example:app/admin@0.1.0;", &[]);
    d.wcomp(&["run", "app.wasm", "--invoke", "run()"])
        .expect(2)
        .has("several exports are named `run`")
        .has("example:app/api@0.1.0#run")
        .has("example:app/admin@0.1.0#run");
    // The prefix picks one (and the dummy traps).
    d.wcomp(&["run", "app.wasm", "--invoke", "admin#run()"])
        .expect(1)
        .has("the component failed");
    d.wcomp(&["run", "app.wasm", "--invoke", "nope#run()"])
        .expect(2)
        .has("no function `nope#run`");
}

#[test]
fn a_trap_while_starting_is_a_failure() {
    let d = Dir::new();
    // CALC whose core module traps in its start function.
    let starts = CALC.replace(
        "(func (export \"boom\") unreachable))",
        "(func (export \"boom\") unreachable)\n    (start 2))",
    );
    assert_ne!(starts, CALC);
    d.write("starts.wasm", wat::parse_str(starts).unwrap());
    d.wcomp(&["run", "starts.wasm"])
        .expect(1)
        .has("the component failed");
    d.wcomp(&["run", "starts.wasm", "--invoke", "add-one(1)"])
        .expect(1)
        .has("the component failed");
}

#[test]
fn a_component_without_wasi_cli_run_needs_invoke() {
    let d = Dir::new();
    dummy(&d, "app", "", &[]);
    d.wcomp(&["run", "app.wasm"])
        .expect(2)
        .has("does not export `wasi:cli/run`")
        .has("`example:app/api@0.1.0`")
        .has("--invoke");
}

#[test]
fn imports_the_host_lacks_are_reported_before_running() {
    let d = Dir::new();
    dummy(&d, "app", "import example:host/log@0.1.0;", &[LOG]);
    d.wcomp(&["run", "app.wasm", "--invoke", "run()"])
        .expect(2)
        .has("`example:host/log@0.1.0`")
        .has("does not provide");
    // A WASI interface wasmtime does not implement is missing just the same.
    dummy(
        &d,
        "wasi-app",
        "import wasi:nope/thing@0.2.0;",
        &["package wasi:nope@0.2.0 { interface thing { f: func(); } }"],
    );
    d.wcomp(&["run", "wasi-app.wasm", "--invoke", "run()"])
        .expect(2)
        .has("`wasi:nope/thing@0.2.0`")
        .has("does not provide");
    // Interfaces imported only for their types need nothing.
    dummy(
        &d,
        "types-only",
        "import example:types/t@0.1.0;",
        &["package example:types@0.1.0 { interface t { type id = u32; } }"],
    );
    d.wcomp(&["run", "types-only.wasm", "--invoke", "run()"])
        .expect(1)
        .has("the component failed");
}

#[test]
fn the_database_must_be_given_and_well_formed() {
    let d = Dir::new();
    sql_app(&d, API);
    d.wcomp(&["run", "sqlapp.wasm", "--invoke", "run()"])
        .expect(2)
        .has("--db sqlite:PATH");
    d.wcomp(&[
        "run",
        "sqlapp.wasm",
        "--db",
        "mysql://x",
        "--invoke",
        "run()",
    ])
    .expect(2)
    .has("`mysql://x` is not a database");
    d.wcomp(&["run", "sqlapp.wasm", "--db", "sqlite:", "--invoke", "run()"])
        .expect(2)
        .has("needs a file path");
    d.wcomp(&[
        "run",
        "sqlapp.wasm",
        "--db",
        "sqlite:no/such/dir/x.db",
        "--invoke",
        "run()",
    ])
    .expect(2)
    .has("does not exist");
    // A bad `--dir` is found before the database file is made.
    d.wcomp(&[
        "run",
        "sqlapp.wasm",
        "--db",
        "sqlite:made.db",
        "--dir",
        "no-such-dir",
        "--invoke",
        "run()",
    ])
    .expect(2)
    .has("not a directory");
    assert!(!d.path("made.db").exists());
    // With a database the component runs (and the dummy traps).
    d.wcomp(&[
        "run",
        "sqlapp.wasm",
        "--db",
        "sqlite:x.db",
        "--invoke",
        "run()",
    ])
    .expect(1)
    .has("the component failed");
}

#[test]
fn capabilities_must_exist() {
    let d = Dir::new();
    calc(&d);
    let unset = "WCOMP_TEST_SURELY_UNSET_VARIABLE";
    d.wcomp(&["run", "calc.wasm", "--env", unset, "--invoke", "add-one(1)"])
        .expect(2)
        .has(&format!("`{unset}` is not set"));
    d.wcomp(&[
        "run",
        "calc.wasm",
        "--dir",
        "no-such-dir",
        "--invoke",
        "add-one(1)",
    ])
    .expect(2)
    .has("not a directory");
    d.wcomp(&["run", "absent.wasm"])
        .expect(2)
        .has("absent.wasm");
    d.write("module.wasm", b"\0asm\x01\0\0\0");
    d.wcomp(&["run", "module.wasm"]).expect(1).has("core");
}

/// Imports `x` and exports `api`, whose `run` returns `x.f(41)`.
const CALLER: &str = r#"
(component
  (type $xt (instance (export "f" (func (param "a" u32) (result u32)))))
  (import "example:x/x@0.1.0" (instance $x (type $xt)))
  (core func $f (canon lower (func $x "f")))
  (core module $m
    (import "x" "f" (func $f (param i32) (result i32)))
    (func (export "run") (result i32)
      i32.const 41
      call $f))
  (core instance $xi (export "f" (func $f)))
  (core instance $i (instantiate $m (with "x" (instance $xi))))
  (func $run (result u32) (canon lift (core func $i "run")))
  (instance $api (export "run" (func $run)))
  (export "example:app/api@0.1.0" (instance $api))
)
"#;

/// Exports `x`, whose `f` adds one.
const ADDER: &str = r#"
(component
  (core module $m
    (func (export "f") (param i32) (result i32)
      local.get 0
      i32.const 1
      i32.add))
  (core instance $i (instantiate $m))
  (func $f (param "a" u32) (result u32) (canon lift (core func $i "f")))
  (instance $x (export "f" (func $f)))
  (export "example:x/x@0.1.0" (instance $x))
)
"#;

#[test]
fn a_composition_runs_with_its_wiring() {
    let d = Dir::new();
    d.write("caller.wasm", wat::parse_str(CALLER).unwrap());
    d.write("adder.wasm", wat::parse_str(ADDER).unwrap());
    // Alone, the caller lacks its import.
    d.wcomp(&["run", "caller.wasm", "--invoke", "run()"])
        .expect(2)
        .has("`example:x/x@0.1.0`");
    d.wcomp(&[
        "compose",
        "caller.wasm",
        "--plug",
        "adder.wasm",
        "-o",
        "both.wasm",
        "--no-imports",
    ])
    .expect(0);
    let run = d.wcomp(&["run", "both.wasm", "--invoke", "run()"]);
    assert_eq!(run.expect(0).stdout, "42\n");

    // Wired across semver-compatible versions, it runs the same.
    let newer = ADDER.replace("example:x/x@0.1.0", "example:x/x@0.1.3");
    d.write("newer.wasm", wat::parse_str(newer).unwrap());
    d.wcomp(&[
        "compose",
        "caller.wasm",
        "--plug",
        "newer.wasm",
        "-o",
        "compat.wasm",
    ])
    .expect(0)
    .has("semver-compatible: example:x/x@0.1.3");
    let run = d.wcomp(&["run", "compat.wasm", "--invoke", "run()"]);
    assert_eq!(run.expect(0).stdout, "42\n");
}
