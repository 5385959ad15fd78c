//! `wcomp test`: test files run against small components written in WAT that really
//! compute and call their imports, answered by `returns` mocks and by a mock component;
//! then every kind of bad input, each reported before any test runs (exit 2).
#![allow(clippy::disallowed_methods)] // tests set up files with std::fs directly

mod common;

use common::{Dir, sql_app};

/// A component importing `test:deps/numbers` (`next() -> u32`, `label() -> string`) and
/// exporting `add(a, b)`, `count()` = `next() + next()`, `greeting()` = `label()`,
/// `numbers(n)` = `[1, ..., n]` and `boom()`, which traps.
const APP: &str = r#"
(component
  (import "test:deps/numbers@0.1.0" (instance $numbers
    (export "next" (func (result u32)))
    (export "label" (func (result string)))))
  (core module $libc
    (memory (export "mem") 1)
    (global $heap (mut i32) (i32.const 8192))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $p i32)
      global.get $heap
      local.set $p
      global.get $heap
      local.get 3
      i32.add
      i32.const 7
      i32.add
      i32.const -8
      i32.and
      global.set $heap
      local.get $p))
  (core instance $libc (instantiate $libc))
  (alias export $numbers "next" (func $next))
  (alias export $numbers "label" (func $label))
  (core func $next_l (canon lower (func $next)))
  (core func $label_l (canon lower (func $label)
    (memory (core memory $libc "mem")) (realloc (core func $libc "realloc"))))
  (core module $m
    (import "libc" "mem" (memory 1))
    (import "host" "next" (func $next (result i32)))
    (import "host" "label" (func $label (param i32)))
    (func (export "add") (param i32 i32) (result i32)
      local.get 0
      local.get 1
      i32.add)
    (func (export "count") (result i32)
      call $next
      call $next
      i32.add)
    (func (export "greeting") (result i32)
      i32.const 16
      call $label
      i32.const 16)
    (func (export "numbers") (param $n i32) (result i32)
      (local $i i32)
      (block $done
        (loop $more
          local.get $i
          local.get $n
          i32.ge_u
          br_if $done
          i32.const 1024
          local.get $i
          i32.const 4
          i32.mul
          i32.add
          local.get $i
          i32.const 1
          i32.add
          i32.store
          local.get $i
          i32.const 1
          i32.add
          local.set $i
          br $more))
      i32.const 32
      i32.const 1024
      i32.store
      i32.const 36
      local.get $n
      i32.store
      i32.const 32)
    (func (export "boom") unreachable))
  (core instance $i (instantiate $m
    (with "libc" (instance $libc))
    (with "host" (instance
      (export "next" (func $next_l))
      (export "label" (func $label_l))))))
  (func $add (param "a" u32) (param "b" u32) (result u32) (canon lift (core func $i "add")))
  (func $count (result u32) (canon lift (core func $i "count")))
  (func $greeting (result string) (canon lift (core func $i "greeting") (memory (core memory $libc "mem"))))
  (func $numbers (param "n" u32) (result (list u32))
    (canon lift (core func $i "numbers") (memory (core memory $libc "mem"))))
  (func $boom (canon lift (core func $i "boom")))
  (export "add" (func $add))
  (export "count" (func $count))
  (export "greeting" (func $greeting))
  (export "numbers" (func $numbers))
  (export "boom" (func $boom))
)
"#;

/// A component exporting `test:deps/numbers`: `next()` counts 10, 20, ... per instance,
/// `label()` is "from the mock component".
const MOCK: &str = r#"
(component
  (core module $m
    (memory (export "mem") 1)
    (data (i32.const 100) "from the mock component")
    (global $n (mut i32) (i32.const 0))
    (func (export "next") (result i32)
      global.get $n
      i32.const 10
      i32.add
      global.set $n
      global.get $n)
    (func (export "label") (result i32)
      i32.const 0
      i32.const 100
      i32.store
      i32.const 4
      i32.const 23
      i32.store
      i32.const 0))
  (core instance $i (instantiate $m))
  (func $next (result u32) (canon lift (core func $i "next")))
  (func $label (result string) (canon lift (core func $i "label") (memory (core memory $i "mem"))))
  (instance $numbers (export "next" (func $next)) (export "label" (func $label)))
  (export "test:deps/numbers@0.1.0" (instance $numbers))
)
"#;

const NEXT: &str = "test:deps/numbers@0.1.0#next";
const LABEL: &str = "test:deps/numbers@0.1.0#label";

fn app(d: &Dir) {
    d.write("app.wasm", wat::parse_str(APP).unwrap());
}

/// The mocks most tests share, then `tests`.
fn file(tests: &str) -> String {
    format!(
        "component = \"app.wasm\"\n\n[[mock]]\nfunction = \"{NEXT}\"\nreturns = ['1', '2']\n\n\
         [[mock]]\nfunction = \"{LABEL}\"\nreturns = ['\"hi\"']\n\n{tests}"
    )
}

#[test]
fn passing_and_failing_tests_are_reported_like_cargo() {
    let d = Dir::new();
    app(&d);
    d.write(
        "app.test.toml",
        file(&format!(
            r#"
[[test]]
name = "adds"
invoke = 'add(40, 2)'
expect = '42'

[[test]]
name = "counts through the import"
invoke = 'count()'
expect = '3'
calls = {{ "{NEXT}" = 2 }}

[[test]]
name = "greets with the mock's answer"
invoke = 'greeting()'
expect = '"hi"'

[[test]]
name = "adds wrongly"
invoke = 'add(1, 1)'
expect = '3'
"#
        )),
    );
    let run = d.wcomp(&["test"]);
    run.expect(1)
        .has("running 4 tests from 1 file")
        .has("test app.test.toml::adds ... ok")
        .has("test app.test.toml::counts through the import ... ok")
        .has("test app.test.toml::greets with the mock's answer ... ok")
        .has("test app.test.toml::adds wrongly ... FAILED")
        .has("---- app.test.toml::adds wrongly ----")
        .has("call:     add(1, 1)")
        .has("expected: 3")
        .has("actual:   2")
        .has("test result: FAILED. 3 passed, 1 failed");
    // The failure details come after the list of tests.
    let out = &run.stdout;
    assert!(
        out.find("... FAILED").unwrap() < out.find("---- app.test.toml").unwrap(),
        "{out}"
    );

    // Without the failing test: exit 0.
    let text = std::fs::read_to_string(d.path("app.test.toml")).unwrap();
    let (kept, _) = text
        .split_once("[[test]]\nname = \"adds wrongly\"")
        .unwrap();
    d.write("app.test.toml", kept);
    d.wcomp(&["test", "app.test.toml"])
        .expect(0)
        .has("test result: ok. 3 passed, 0 failed");
}

#[test]
fn a_list_mismatch_prints_a_line_diff() {
    let d = Dir::new();
    app(&d);
    let mut wrong: Vec<String> = (1..=30).map(|n| n.to_string()).collect();
    wrong[12] = "31".to_string();
    d.write(
        "list.test.toml",
        file(&format!(
            "[[test]]\nname = \"numbers\"\ninvoke = 'numbers(30)'\nexpect = '[{}]'\n",
            wrong.join(", ")
        )),
    );
    let run = d.wcomp(&["test"]);
    run.expect(1)
        .has("diff (- expected, + actual):")
        .has("\n-   31,\n+   13,\n")
        .has("\n    12,\n")
        .has("\n  ...\n");
    // Only the differing element is marked.
    assert_eq!(run.stdout.matches("\n- ").count(), 1, "{}", run.stdout);
    assert_eq!(run.stdout.matches("\n+ ").count(), 1, "{}", run.stdout);
}

#[test]
fn a_trap_is_caught_and_reported_with_its_message() {
    let d = Dir::new();
    app(&d);
    d.write(
        "trap.test.toml",
        file(
            r#"
[[test]]
name = "traps as expected"
invoke = 'boom()'
expect-trap = "unreachable"

[[test]]
name = "traps unexpectedly"
invoke = 'boom()'

[[test]]
name = "traps with another message"
invoke = 'boom()'
expect-trap = "out of fuel"

[[test]]
name = "does not trap"
invoke = 'add(1, 2)'
expect-trap = "unreachable"
"#,
        ),
    );
    d.wcomp(&["test"])
        .expect(1)
        .has("test trap.test.toml::traps as expected ... ok")
        .has("test trap.test.toml::traps unexpectedly ... FAILED")
        .has("the component trapped:")
        .has("unreachable")
        .has("a trap whose message contains `out of fuel`")
        .has("the trap was:")
        .has("the call returned 3")
        .has("1 passed, 3 failed");
}

/// A component exporting `spin()`, which never returns, `grow()`, which asks for 1 GiB
/// more memory, and `ok()`, which returns 7.
const ENDLESS: &str = r#"
(component
  (core module $m
    (memory 1)
    (func (export "spin") (loop $l br $l))
    (func (export "grow") (result i32) i32.const 16384 memory.grow)
    (func (export "ok") (result i32) i32.const 7))
  (core instance $i (instantiate $m))
  (func $spin (canon lift (core func $i "spin")))
  (func $grow (result s32) (canon lift (core func $i "grow")))
  (func $ok (result u32) (canon lift (core func $i "ok")))
  (export "spin" (func $spin))
  (export "grow" (func $grow))
  (export "ok" (func $ok))
)
"#;

#[test]
fn an_endless_loop_times_out_and_a_memory_bomb_traps_and_the_others_still_run() {
    let d = Dir::new();
    d.write("endless.wasm", wat::parse_str(ENDLESS).unwrap());
    d.write(
        "limits.test.toml",
        r#"component = "endless.wasm"

[[test]]
name = "spins"
invoke = 'spin()'

[[test]]
name = "a timeout is not the trap expected"
invoke = 'spin()'
expect-trap = "interrupt"

[[test]]
name = "grows"
invoke = 'grow()'

[[test]]
name = "returns"
invoke = 'ok()'
expect = '7'
"#,
    );
    d.wcomp(&["test", "--timeout", "1s", "--max-memory", "64MiB"])
        .expect(1)
        .has("test limits.test.toml::spins ... FAILED")
        .has("test limits.test.toml::a timeout is not the trap expected ... FAILED")
        .has("timed out: still running after 1s (`--timeout`)")
        .has("test limits.test.toml::grows ... FAILED")
        .has("a memory may grow to 67108864 bytes: `--max-memory`")
        .has("test limits.test.toml::returns ... ok")
        .has("1 passed, 3 failed");
    d.wcomp(&["test", "--timeout", "0s"])
        .expect(2)
        .has("must be more than zero");
}

#[test]
fn request_tests_are_checked_before_any_test_runs() {
    let d = Dir::new();
    app(&d);
    invalid(
        &d,
        &file(
            r#"
[[test]]
name = "not an HTTP handler"
request = "GET /"

[[test]]
name = "both"
invoke = 'add(1, 2)'
request = "GET /"

[[test]]
name = "neither"
expect = '3'

[[test]]
name = "bad method and target"
request = "G@T nowhere"

[[test]]
name = "expect with a request"
request = "GET /"
expect = '3'
expect-status = 700

[[test]]
name = "response checks with invoke"
invoke = 'add(1, 2)'
expect-body = "3"
"#,
        ),
        &[
            "test `not an HTTP handler`: `request` needs a component that exports wasi:http/incoming-handler",
            "test `both` has both `invoke` and `request`: keep one",
            "test `neither` has neither `invoke`",
            "`G@T` is not an HTTP method",
            "the target must be a path starting with `/`",
            "test `expect with a request`: `expect` is for `invoke` tests",
            "`expect-status = 700` is not an HTTP status",
            "test `response checks with invoke`: `expect-body` is for `request` tests",
        ],
    );
}

#[test]
fn mock_call_counts_are_checked_and_the_last_answer_repeats() {
    let d = Dir::new();
    app(&d);
    d.write(
        "calls.test.toml",
        file(&format!(
            r#"
[[test]]
name = "right count"
invoke = 'count()'
expect = '3'
calls = {{ "{NEXT}" = 2, "{LABEL}" = 0 }}

[[test]]
name = "wrong count"
invoke = 'count()'
calls = {{ "test:deps/numbers#next" = 1 }}

[[test]]
name = "the last answer repeats"
invoke = 'count()'
expect = '10'

[[test.mock]]
function = "{NEXT}"
returns = '5'
"#
        )),
    );
    d.wcomp(&["test"])
        .expect(1)
        .has("test calls.test.toml::right count ... ok")
        .has("test calls.test.toml::the last answer repeats ... ok")
        .has(&format!("calls: `{NEXT}` was called 2 times, expected 1"))
        .has("2 passed, 1 failed");
}

#[test]
fn a_component_mock_answers_a_whole_interface_in_each_test_afresh() {
    let d = Dir::new();
    app(&d);
    std::fs::create_dir(d.path("mocks")).unwrap();
    d.write("mocks/numbers.wasm", wat::parse_str(MOCK).unwrap());
    d.write(
        "plugged.test.toml",
        r#"
component = "app.wasm"

[[mock]]
interface = "test:deps/numbers@0.1.0"
component = "mocks/numbers.wasm"

[[test]]
name = "count"
invoke = 'count()'
expect = '30'
calls = { "test:deps/numbers@0.1.0#next" = 2 }

[[test]]
name = "count again, in a new instance"
invoke = 'count()'
expect = '30'

[[test]]
name = "label"
invoke = 'greeting()'
expect = '"from the mock component"'

[[test]]
name = "a test's own mock wins"
invoke = 'greeting()'
expect = '"mine"'

[[test.mock]]
function = "test:deps/numbers@0.1.0#label"
returns = ['"mine"']
"#,
    );
    d.wcomp(&["test"]).expect(0).has("4 passed, 0 failed");
}

#[test]
fn filter_json_and_junit() {
    let d = Dir::new();
    app(&d);
    d.write(
        "a.test.toml",
        file(
            "[[test]]\nname = \"adds\"\ninvoke = 'add(1, 2)'\nexpect = '3'\n\n\
             [[test]]\nname = \"adds badly\"\ninvoke = 'add(1, 2)'\nexpect = '4'\n\n\
             [[test]]\nname = \"greets\"\ninvoke = 'greeting()'\nexpect = '\"hi\"'\n",
        ),
    );
    d.wcomp(&["test", "--filter", "adds"])
        .expect(1)
        .has("running 2 tests")
        .has("1 passed, 1 failed, 1 skipped");
    d.wcomp(&["test", "--filter", "greets"])
        .expect(0)
        .has("1 passed, 0 failed, 2 skipped");

    let run = d.wcomp(&["test", "--json"]);
    run.expect(1);
    let lines: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines.len(), 4, "{}", run.stdout);
    assert_eq!(lines[0]["type"], "test");
    assert_eq!(lines[0]["name"], "adds");
    assert_eq!(lines[0]["status"], "passed");
    assert_eq!(lines[1]["status"], "failed");
    assert_eq!(lines[1]["failures"][0]["expected"], "4");
    assert_eq!(lines[1]["failures"][0]["actual"], "3");
    assert_eq!(lines[3]["type"], "summary");
    assert_eq!(lines[3]["passed"], 2);
    assert_eq!(lines[3]["failed"], 1);

    d.wcomp(&["test", "--junit", "out/report.xml", "--filter", "adds"])
        .expect(1);
    let xml = std::fs::read_to_string(d.path("out/report.xml")).unwrap();
    let cases = junit_cases(&xml);
    assert_eq!(
        cases,
        [
            ("adds".to_string(), "passed"),
            ("adds badly".to_string(), "failure"),
            ("greets".to_string(), "skipped"),
        ],
        "{xml}"
    );
}

/// Each `<testcase>` of a JUnit report, parsed as XML, with `failure`, `skipped` or
/// `passed`.
fn junit_cases(xml: &str) -> Vec<(String, &'static str)> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut cases = Vec::new();
    loop {
        match reader
            .read_event()
            .unwrap_or_else(|e| panic!("not XML: {e}\n{xml}"))
        {
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == b"testcase" => {
                let name = e
                    .try_get_attribute("name")
                    .unwrap()
                    .unwrap()
                    .unescape_value()
                    .unwrap()
                    .into_owned();
                cases.push((name, "passed"));
            }
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == b"failure" => {
                cases.last_mut().unwrap().1 = "failure";
            }
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == b"skipped" => {
                cases.last_mut().unwrap().1 = "skipped";
            }
            Event::Eof => break,
            _ => {}
        }
    }
    cases
}

/// Runs `wcomp test` on one file and expects exit 2 with all of `needles` and no test run.
#[track_caller]
fn invalid(d: &Dir, text: &str, needles: &[&str]) {
    d.write("bad.test.toml", text);
    let run = d.wcomp(&["test", "bad.test.toml"]);
    run.expect(2);
    for n in needles {
        run.has(n);
    }
    assert!(!run.stdout.contains("test result"), "{}", run.stdout);
}

#[test]
fn toml_errors_and_unknown_keys_are_placed() {
    let d = Dir::new();
    app(&d);
    invalid(
        &d,
        "component = \"app.wasm\"\n[[test]]\nname = \"x\ninvoke = 'add(1, 2)'\n",
        &["bad.test.toml:3:"],
    );
    invalid(
        &d,
        "component = \"app.wasm\"\n[[test]]\nname = \"x\"\ninvoke = 'add(1, 2)'\nexpct = '3'\n",
        &[
            "bad.test.toml:5:1: unknown key `expct`; did you mean `expect`?",
            "1 of 1 test files is invalid; no test ran",
        ],
    );
    invalid(
        &d,
        "component = \"app.wasm\"\n[[mock]]\nfuncion = \"x\"\n",
        &["bad.test.toml:3:1: unknown key `funcion`; did you mean `function`?"],
    );
}

#[test]
fn wave_syntax_errors_point_into_the_value() {
    let d = Dir::new();
    app(&d);
    // `invoke`: the unclosed call; the column is in the file.
    invalid(
        &d,
        &file("[[test]]\nname = \"x\"\ninvoke = 'add(1, 2'\n"),
        &[
            "bad.test.toml:13:19: test `x`: `invoke` is not a WAVE call: unexpected end of input",
            "    add(1, 2\n            ^",
        ],
    );
    // `expect`: a stray character.
    invalid(
        &d,
        &file("[[test]]\nname = \"x\"\ninvoke = 'add(1, 2)'\nexpect = '[1, 2,,]'\n"),
        &[
            "bad.test.toml:14:17: test `x`: `expect` is not WAVE",
            "(character 7 of the value)",
            "    [1, 2,,]\n          ^",
        ],
    );
    // `returns`.
    invalid(
        &d,
        &format!(
            "component = \"app.wasm\"\n[[mock]]\nfunction = \"{NEXT}\"\nreturns = ['1', '{{']\n\
             [[mock]]\nfunction = \"{LABEL}\"\nreturns = ['\"a\"']\n\
             [[test]]\nname = \"x\"\ninvoke = 'count()'\n"
        ),
        &[&format!(
            "bad.test.toml:4:19: the mock of `{NEXT}`: `returns` value is not WAVE"
        )],
    );
}

#[test]
fn names_the_component_lacks_get_a_did_you_mean() {
    let d = Dir::new();
    app(&d);
    invalid(
        &d,
        &file("[[test]]\nname = \"x\"\ninvoke = 'ad(1, 2)'\n"),
        &["test `x`: the component exports no function `ad`; did you mean `add`?"],
    );
    invalid(
        &d,
        "component = \"app.wasm\"\n[[mock]]\nfunction = \"test:deps/numbers@0.1.0#nxt\"\n\
         returns = ['1']\n[[test]]\nname = \"x\"\ninvoke = 'add(1, 2)'\n",
        &[&format!(
            "bad.test.toml:3:12: the component does not import a function \
             `test:deps/numbers@0.1.0#nxt`; did you mean `{NEXT}`?"
        )],
    );
    invalid(
        &d,
        "component = \"app.wasm\"\n[[mock]]\ninterface = \"test:deps/number\"\n\
         component = \"m.wasm\"\n[[test]]\nname = \"x\"\ninvoke = 'add(1, 2)'\n",
        &[
            "does not import the interface `test:deps/number`; did you mean \
           `test:deps/numbers@0.1.0`?",
        ],
    );
}

#[test]
fn mock_values_and_arguments_must_fit_the_wit_types() {
    let d = Dir::new();
    app(&d);
    invalid(
        &d,
        &format!(
            "component = \"app.wasm\"\n[[mock]]\nfunction = \"{NEXT}\"\nreturns = ['\"one\"']\n\
             [[mock]]\nfunction = \"{LABEL}\"\nreturns = ['7']\n\
             [[test]]\nname = \"x\"\ninvoke = 'count()'\n"
        ),
        &[
            &format!("the mock of `{NEXT}`: `returns` value `\"one\"` does not fit the type `u32`"),
            &format!("the mock of `{LABEL}`: `returns` value `7` does not fit the type `string`"),
        ],
    );
    invalid(
        &d,
        &file("[[test]]\nname = \"x\"\ninvoke = 'add(1, 2)'\nexpect = '\"three\"'\n"),
        &["test `x`: `expect` `\"three\"` does not fit the type `u32`"],
    );
    invalid(
        &d,
        &file("[[test]]\nname = \"x\"\ninvoke = 'add(\"1\", 2)'\n"),
        &["test `x`: the arguments do not fit `add(a: u32, b: u32)`"],
    );
}

#[test]
fn imports_nothing_answers_are_named_before_any_test_runs() {
    let d = Dir::new();
    app(&d);
    invalid(
        &d,
        &format!(
            "component = \"app.wasm\"\n[[mock]]\nfunction = \"{NEXT}\"\nreturns = ['1']\n\
             [[test]]\nname = \"x\"\ninvoke = 'add(1, 2)'\n"
        ),
        &[&format!(
            "test `x`: the component imports `{LABEL}`, which no mock answers and the host \
             does not provide"
        )],
    );
}

#[test]
fn the_database_is_given_per_test_or_mocked() {
    let d = Dir::new();
    sql_app(
        &d,
        "package example:app@0.1.0 { interface api { run: func() -> u32; } }",
    );
    invalid(
        &d,
        "component = \"sqlapp.wasm\"\n[[test]]\nname = \"x\"\ninvoke = 'run()'\n",
        &[
            "test `x`: the component imports the wcomp:sql database interface",
            "sqlite::memory:",
        ],
    );
    d.write(
        "db.test.toml",
        "component = \"sqlapp.wasm\"\n\
         [[test]]\nname = \"real\"\ninvoke = 'run()'\ndb = \"sqlite::memory:\"\nexpect-trap = \"unreachable\"\n\
         [[test]]\nname = \"mocked\"\ninvoke = 'api#run()'\nexpect-trap = \"unreachable\"\n\
         [[test.mock]]\nfunction = \"wcomp:sql/query@0.1.0#query\"\nreturns = ['ok({columns: [], rows: []})']\n\
         [[test.mock]]\nfunction = \"wcomp:sql/query@0.1.0#execute\"\nreturns = ['err(io(\"disk full\"))']\n",
    );
    d.wcomp(&["test", "db.test.toml"])
        .expect(0)
        .has("2 passed, 0 failed");
}

#[test]
fn a_file_that_is_not_a_component_and_no_test_files() {
    let d = Dir::new();
    d.write("app.wasm", b"not wasm at all");
    invalid(
        &d,
        "component = \"app.wasm\"\n[[test]]\nname = \"x\"\ninvoke = 'f()'\n",
        &["bad.test.toml:1:13: the component `", "app.wasm"],
    );
    d.write("core.wat", "(module)");
    invalid(
        &d,
        "component = \"core.wat\"\n[[test]]\nname = \"x\"\ninvoke = 'f()'\n",
        &["core"],
    );
    let empty = Dir::new();
    std::fs::create_dir_all(empty.path("build")).unwrap();
    std::fs::write(empty.path("build/old.test.toml"), "").unwrap();
    empty
        .wcomp(&["test"])
        .expect(2)
        .has("no test files (`*.test.toml`) found in `.`")
        .has("hint:");
}
