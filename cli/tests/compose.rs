//! `wcomp compose`: the behaviour docs/compose.md documents, on components built here from
//! small WIT worlds with wit-component's dummy core module (composition runs no code).
//!
//! Every test runs the real binary and checks its exit code, what it printed and, when it
//! fails, that nothing was written.
#![allow(clippy::disallowed_methods)] // tests set up files with std::fs directly

mod common;

use common::{Dir, Run, world};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use std::path::Path;

// Interfaces the parts below share, as nested WIT packages.

const X: &str = "package example:x@0.1.0 { interface x { f: func(a: u32) -> u32; } }";
const Y: &str = "package example:y@0.1.0 { interface y { g: func() -> string; } }";
const LOG: &str = "package example:host@0.1.0 { interface log { log: func(msg: string); } }";
const API: &str = "package example:app@0.1.0 { interface api { run: func() -> u32; } }";

fn records(version: &str) -> String {
    format!(
        "package example:store@{version} {{ interface records {{ \
           record rec {{ id: u32, name: string }} \
           get: func(id: u32) -> option<rec>; }} }}"
    )
}

const OTHER: &str = "package example:other@0.1.0 { \
    interface one { one: func() -> u32; } \
    interface two { two: func() -> u32; } }";

fn sha256(path: &Path) -> String {
    format!(
        "sha256:{}",
        hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
    )
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// a imports x from b, b imports y from c, c imports log from the host.
fn chain(d: &Dir) {
    d.component(
        "a",
        &world(
            "a",
            "import example:x/x@0.1.0; export example:app/api@0.1.0;",
            &[X, API],
        ),
    );
    d.component(
        "b",
        &world(
            "b",
            "import example:y/y@0.1.0; export example:x/x@0.1.0;",
            &[X, Y],
        ),
    );
    d.component(
        "c",
        &world(
            "c",
            "import example:host/log@0.1.0; export example:y/y@0.1.0;",
            &[Y, LOG],
        ),
    );
}

#[test]
fn plugs_feed_plugs_and_the_output_records_its_parts() {
    let d = Dir::new();
    chain(&d);
    let run = d.wcomp(&[
        "compose",
        "a.wasm",
        "--plug",
        "b.wasm",
        "--plug",
        "c.wasm",
        "-o",
        "out.wasm",
        "--print-wit",
    ]);
    run.expect(0)
        .has("composed out.wasm")
        .has("a: example:x/x@0.1.0 <- b")
        .has("b: example:y/y@0.1.0 <- c")
        .has("example:host/log@0.1.0");
    // The world: the root's exports; only what no part satisfies is imported.
    assert!(
        run.stdout.contains("export example:app/api@0.1.0;"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("import example:host/log@0.1.0;"),
        "{}",
        run.stdout
    );
    for satisfied in ["import example:x/x", "import example:y/y"] {
        assert!(!run.stdout.contains(satisfied), "{}", run.stdout);
    }

    // The composition record: three parts, their sources and digests.
    let inspect = d.wcomp(&["inspect", "out.wasm", "--json"]);
    inspect.expect(0);
    let record = &inspect.json()["composition"];
    assert_eq!(record["root"], "a");
    let parts = record["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 3, "{record:#}");
    for name in ["a", "b", "c"] {
        let p = parts
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no part {name}: {record:#}"));
        let file = format!("{name}.wasm");
        assert_eq!(p["source"], file.as_str());
        assert_eq!(p["digest"], sha256(&d.path(&file)).as_str());
        assert_eq!(
            p["size"].as_u64().unwrap(),
            std::fs::metadata(d.path(&file)).unwrap().len()
        );
    }
    let wires = record["wires"].as_array().unwrap();
    assert_eq!(wires.len(), 2, "{record:#}");

    // The text view shows the same.
    let text = d.wcomp(&["inspect", "out.wasm"]);
    text.expect(0).has("from 3 parts");
    for name in ["a", "b", "c"] {
        text.has(&sha256(&d.path(&format!("{name}.wasm"))));
    }

    // And inspect's world agrees with --print-wit.
    let world = &inspect.json()["worlds"][0];
    let imports: Vec<&str> = world["imports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    let exports: Vec<&str> = world["exports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(imports, ["example:host/log@0.1.0"]);
    assert_eq!(exports, ["example:app/api@0.1.0"]);
}

/// Plugs offering `example:store/records` at several versions (each also exports something
/// else the roots import, so every plug is used).
fn stores(d: &Dir) {
    let (r5, r6, r7) = (records("0.1.5"), records("0.1.6"), records("0.1.7"));
    d.component(
        "sa",
        &world(
            "sa",
            "export example:store/records@0.1.5; export example:other/one@0.1.0;",
            &[&r5, OTHER],
        ),
    );
    d.component(
        "sb",
        &world(
            "sb",
            "export example:store/records@0.1.5; export example:other/two@0.1.0;",
            &[&r5, OTHER],
        ),
    );
    d.component(
        "sc",
        &world(
            "sc",
            "export example:store/records@0.1.7; export example:other/two@0.1.0;",
            &[&r7, OTHER],
        ),
    );
    d.component(
        "sd",
        &world(
            "sd",
            "export example:store/records@0.1.6; export example:other/one@0.1.0;",
            &[&r6, OTHER],
        ),
    );
}

fn store_root(d: &Dir, name: &str, version: &str) {
    d.component(
        name,
        &world(
            name,
            &format!(
                "import example:store/records@{version}; import example:other/one@0.1.0; \
                 import example:other/two@0.1.0; export example:app/api@0.1.0;"
            ),
            &[&records(version), OTHER, API],
        ),
    );
}

fn wire<'a>(json: &'a Value, import: &str) -> &'a Value {
    json["plan"]["wires"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["import"] == import)
        .unwrap_or_else(|| panic!("no wire for {import}: {json:#}"))
}

#[test]
fn an_exact_match_beats_a_compatible_one() {
    let d = Dir::new();
    stores(&d);
    store_root(&d, "app", "0.1.5");
    // sc offers 0.1.7 (compatible, newer); sa offers 0.1.5 exactly.
    let run = d.wcomp(&[
        "compose", "app.wasm", "--plug", "sc.wasm", "--plug", "sa.wasm", "-o", "o.wasm", "--json",
    ]);
    let json = run.expect(0).json();
    assert_eq!(json["output"], "o.wasm");
    assert_eq!(json["sha256"], sha256(&d.path("o.wasm")).as_str());
    let w = wire(&json, "example:store/records@0.1.5");
    assert_eq!(w["exporter"], "sa", "{json:#}");
    assert_eq!(w["how"], "exact");
    assert_eq!(w["export"], "example:store/records@0.1.5");

    // A `--wire` beats the exact match, and finds the exporter's compatible version.
    let json = d
        .wcomp(&[
            "compose",
            "app.wasm",
            "--plug",
            "sc.wasm",
            "--plug",
            "sa.wasm",
            "-o",
            "o.wasm",
            "--json",
            "--wire",
            "app:example:store/records@0.1.5=sc",
        ])
        .expect(0)
        .json();
    let w = wire(&json, "example:store/records@0.1.5");
    assert_eq!(w["exporter"], "sc", "{json:#}");
    assert_eq!(w["export"], "example:store/records@0.1.7");
    assert_eq!(w["how"], "manual");
}

#[test]
fn two_newest_compatible_versions_are_ambiguous() {
    let d = Dir::new();
    stores(&d);
    store_root(&d, "app", "0.1.0");
    d.component(
        "se",
        &world(
            "se",
            "export example:store/records@0.1.7; export example:other/one@0.1.0;",
            &[&records("0.1.7"), OTHER],
        ),
    );
    d.wcomp(&[
        "compose", "app.wasm", "--plug", "sc.wasm", "--plug", "se.wasm", "-o", "o.wasm",
    ])
    .expect(1)
    .has("`app`'s import `example:store/records@0.1.0` is ambiguous")
    .has("--wire app:example:store/records@0.1.0=sc:example:store/records@0.1.7");
    assert!(!d.path("o.wasm").exists());
}

#[test]
fn among_compatible_versions_the_newest_wins() {
    let d = Dir::new();
    stores(&d);
    store_root(&d, "app", "0.1.0");
    let run = d.wcomp(&[
        "compose", "app.wasm", "--plug", "sd.wasm", "--plug", "sc.wasm", "-o", "o.wasm", "--json",
    ]);
    let json = run.expect(0).json();
    let w = wire(&json, "example:store/records@0.1.0");
    assert_eq!(w["exporter"], "sc", "{json:#}");
    assert_eq!(w["export"], "example:store/records@0.1.7");
    assert_eq!(w["how"], "compatible");
    // The text report says it too.
    d.wcomp(&[
        "compose", "app.wasm", "--plug", "sd.wasm", "--plug", "sc.wasm", "-o", "o.wasm",
    ])
    .expect(0)
    .has("semver-compatible: example:store/records@0.1.7");

    // The WAC written for a compatible wire composes the same.
    d.wcomp(&[
        "compose",
        "app.wasm",
        "--plug",
        "sd.wasm",
        "--plug",
        "sc.wasm",
        "-o",
        "auto.wasm",
        "--emit-wac",
        "w.wac",
    ])
    .expect(0);
    d.wcomp(&[
        "compose",
        "w.wac",
        "--dep",
        "compose:app=app.wasm",
        "--dep",
        "compose:sd=sd.wasm",
        "--dep",
        "compose:sc=sc.wasm",
        "-o",
        "wac.wasm",
    ])
    .expect(0);
    assert_eq!(world_of(&d, "auto.wasm"), world_of(&d, "wac.wasm"));
}

#[test]
fn two_exporters_are_ambiguous_until_a_wire_settles_it() {
    let d = Dir::new();
    stores(&d);
    store_root(&d, "app", "0.1.5");
    let args = [
        "compose", "app.wasm", "--plug", "sa.wasm", "--plug", "sb.wasm", "-o", "o.wasm",
    ];
    d.wcomp(&args)
        .expect(1)
        .has("`app`'s import `example:store/records@0.1.5` is ambiguous")
        .has("`sa` exports `example:store/records@0.1.5`")
        .has("`sb` exports `example:store/records@0.1.5`")
        .has("--wire app:example:store/records@0.1.5=");
    d.nothing_written(&["app.wasm", "sa.wasm", "sb.wasm", "sc.wasm", "sd.wasm"]);

    let json = d.wcomp(&[&args[..], &["--json"]].concat()).expect(1).json();
    assert_eq!(json["problems"][0]["kind"], "ambiguous", "{json:#}");
    d.nothing_written(&["app.wasm", "sa.wasm", "sb.wasm", "sc.wasm", "sd.wasm"]);

    // Settled by hand, both ways round: the wire decides.
    for (by_hand, other) in [("sb", "sa"), ("sa", "sb")] {
        let spec = format!("app:example:store/records@0.1.5={by_hand}");
        let json = d
            .wcomp(&[&args[..], &["--wire", &spec, "--json"]].concat())
            .expect(0)
            .json();
        let w = wire(&json, "example:store/records@0.1.5");
        assert_eq!(w["exporter"], by_hand, "{json:#}");
        assert_eq!(w["how"], "manual");
        let other_wires: Vec<&Value> = json["plan"]["wires"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w["exporter"] == other)
            .collect();
        assert_eq!(other_wires.len(), 1, "{json:#}");
    }
    // The versionless import name works when the importer has one version of it.
    d.wcomp(
        &[
            &args[..],
            &[
                "--wire",
                "app:example:store/records=sb:example:store/records@0.1.5",
            ],
        ]
        .concat(),
    )
    .expect(0)
    .has("(--wire)");
}

#[test]
fn wire_errors_are_usage_errors() {
    let d = Dir::new();
    stores(&d);
    store_root(&d, "app", "0.1.5");
    let inputs = ["app.wasm", "sa.wasm", "sb.wasm", "sc.wasm", "sd.wasm"];
    let base = [
        "compose",
        "app.wasm",
        "--plug",
        "sa.wasm",
        "--plug",
        "sb.wasm",
        "-o",
        "o.wasm",
        "--emit-wac",
        "o.wac",
    ];
    let cases: &[(&str, &[&str])] = &[
        (
            "app:example:store/records@0.1.5=sbb",
            &[
                "part `sbb`",
                "did you mean `sb`",
                "parts: `app`, `sa`, `sb`",
            ],
        ),
        (
            "ap:example:store/records@0.1.5=sa",
            &["part `ap`", "did you mean `app`"],
        ),
        (
            "app:example:store/recods@0.1.5=sa",
            &[
                "`app` does not import `example:store/recods@0.1.5`",
                "did you mean `example:store/records@0.1.5`?",
            ],
        ),
        (
            "app:example:store/records@0.1.5=sa:example:store/record@0.1.5",
            &[
                "`sa` does not export `example:store/record@0.1.5`",
                "did you mean `example:store/records@0.1.5`?",
            ],
        ),
        (
            "app:example:other/two@0.1.0=sa",
            &["`sa` exports nothing that matches `example:other/two@0.1.0`"],
        ),
        ("nonsense", &["is not a wire", "importer:import=exporter"]),
        ("app=sa", &["is not a wire"]),
    ];
    for (spec, needles) in cases {
        let run = d.wcomp(&[&base[..], &["--wire", spec]].concat());
        run.expect(2);
        for n in *needles {
            run.has(n);
        }
        d.nothing_written(&inputs);
    }
}

#[test]
fn a_cycle_is_refused_naming_it() {
    let d = Dir::new();
    d.component(
        "a",
        &world(
            "a",
            "import example:x/x@0.1.0; export example:y/y@0.1.0; export example:app/api@0.1.0;",
            &[X, Y, API],
        ),
    );
    d.component(
        "b",
        &world(
            "b",
            "import example:y/y@0.1.0; export example:x/x@0.1.0;",
            &[X, Y],
        ),
    );
    d.wcomp(&["compose", "a.wasm", "--plug", "b.wasm", "-o", "o.wasm"])
        .expect(1)
        .has("cycle")
        .has("a -> b -> a");
    d.nothing_written(&["a.wasm", "b.wasm"]);
}

#[test]
fn an_unused_plug_is_refused_with_the_near_miss() {
    let d = Dir::new();
    d.component(
        "a",
        &world(
            "a",
            "import example:store/records@0.1.0; export example:app/api@0.1.0;",
            &[&records("0.1.0"), API],
        ),
    );
    d.component(
        "b",
        &world(
            "b",
            "export example:store/records@0.2.0;",
            &[&records("0.2.0")],
        ),
    );
    d.component("c", &world("c", "export example:y/y@0.1.0;", &[Y]));
    d.wcomp(&["compose", "a.wasm", "--plug", "b.wasm", "-o", "o.wasm"])
        .expect(1)
        .has("plug `b` is not used")
        .has("`b` exports `example:store/records@0.2.0` but `a` imports `example:store/records@0.1.0`");
    d.wcomp(&["compose", "a.wasm", "--plug", "c.wasm", "-o", "o.wasm"])
        .expect(1)
        .has("plug `c` is not used")
        .has("`c` exports `example:y/y@0.1.0`");
    let json = d
        .wcomp(&["compose", "a.wasm", "--plug", "c.wasm", "--json"])
        .expect(1)
        .json();
    assert_eq!(json["problems"][0]["kind"], "unused-plug", "{json:#}");
    d.nothing_written(&["a.wasm", "b.wasm", "c.wasm"]);
}

#[test]
fn a_type_mismatch_is_explained_in_wit() {
    let d = Dir::new();
    let iface = |age: &str, extra: &str| {
        format!(
            "package example:pipeline@0.1.0 {{ interface validate {{ \
               record signup {{ email: string, age: {age} }} \
               check: func(s: signup) -> bool; {extra} }} }}"
        )
    };
    d.component(
        "adapter",
        &world(
            "adapter",
            "import example:pipeline/validate@0.1.0; export example:app/api@0.1.0;",
            &[&iface("u32", "count: func() -> u32;"), API],
        ),
    );
    d.component(
        "validator",
        &world(
            "validator",
            "export example:pipeline/validate@0.1.0;",
            &[&iface("u8", "")],
        ),
    );
    let args = [
        "compose",
        "adapter.wasm",
        "--plug",
        "validator.wasm",
        "-o",
        "o.wasm",
    ];
    let run = d.wcomp(&args);
    run.expect(1)
        .has("`validator`'s export `example:pipeline/validate@0.1.0` cannot satisfy `adapter`'s import `example:pipeline/validate@0.1.0`")
        .has("signup")
        .has("age")
        .has("u8")
        .has("u32")
        .has("count")
        .has("nothing was written");
    for internal in ["ResourceId", "TypeId", "Id {", "type mismatch for", "idx"] {
        assert!(!run.all().contains(internal), "{internal}: {}", run.all());
    }
    d.nothing_written(&["adapter.wasm", "validator.wasm"]);

    let json = d.wcomp(&[&args[..], &["--json"]].concat()).expect(1).json();
    let problems = json["problems"].as_array().unwrap();
    assert!(
        problems.iter().all(|p| p["kind"] == "type-mismatch"),
        "{json:#}"
    );
    let text = serde_json::to_string(problems).unwrap();
    assert!(text.contains("u8") && text.contains("u32"), "{json:#}");
    assert!(
        problems
            .iter()
            .any(|p| p["expected"].is_string() || p["found"].is_string()),
        "expected/found WIT: {json:#}"
    );
    d.nothing_written(&["adapter.wasm", "validator.wasm"]);
}

#[test]
fn leftover_imports_are_listed_or_refused() {
    let d = Dir::new();
    chain(&d);
    let args = [
        "compose", "a.wasm", "--plug", "b.wasm", "--plug", "c.wasm", "-o", "out.wasm",
    ];
    d.wcomp(&args)
        .expect(0)
        .has("imports: (left for the host)")
        .has("    example:host/log@0.1.0");
    std::fs::remove_file(d.path("out.wasm")).unwrap();

    d.wcomp(&[&args[..], &["--no-imports"]].concat())
        .expect(1)
        .has("--no-imports")
        .has("`c` imports `example:host/log@0.1.0`");
    let json = d
        .wcomp(&[&args[..], &["--no-imports", "--json"]].concat())
        .expect(1)
        .json();
    assert_eq!(json["problems"][0]["kind"], "open-import", "{json:#}");
    d.nothing_written(&["a.wasm", "b.wasm", "c.wasm"]);

    // A closed composition: nothing left over.
    d.component(
        "logger",
        &world("logger", "export example:host/log@0.1.0;", &[LOG]),
    );
    d.wcomp(&[&args[..], &["--plug", "logger.wasm", "--no-imports"]].concat())
        .expect(0)
        .has("imports: none");
}

#[test]
fn wasi_versions_are_unified() {
    let d = Dir::new();
    // A WASI excerpt: the newer version has a function the older one lacks, and the part
    // importing the older version calls only the one they share.
    let env = |v: &str, extra: &str| {
        format!(
            "package wasi:cli@{v} {{ interface environment {{ \
               get-environment: func() -> list<tuple<string, string>>; {extra} }} }}"
        )
    };
    d.component(
        "app",
        &world(
            "app",
            "import wasi:cli/environment@0.2.3; import example:x/x@0.1.0; \
             export example:app/api@0.1.0;",
            &[&env("0.2.3", ""), X, API],
        ),
    );
    d.component(
        "lib",
        &world(
            "lib",
            "import wasi:cli/environment@0.2.6; export example:x/x@0.1.0;",
            &[&env("0.2.6", "get-arguments: func() -> list<string>;"), X],
        ),
    );
    let args = ["compose", "app.wasm", "--plug", "lib.wasm", "-o", "o.wasm"];
    let run = d.wcomp(&args);
    run.expect(0)
        .has("unified: wasi:cli/environment@0.2.6 imported once")
        .has("@0.2.3 (app)")
        .has("@0.2.6 (lib)");
    let json = d.wcomp(&[&args[..], &["--json"]].concat()).expect(0).json();
    assert_eq!(names(&json["imports"]), ["wasi:cli/environment@0.2.6"]);
    assert_eq!(json["unified"][0]["chosen"], "wasi:cli/environment@0.2.6");
    // Each part's open import is bound to the one import of the composition.
    let open = json["plan"]["open_imports"].as_array().unwrap();
    assert_eq!(open.len(), 2, "{json:#}");
    for o in open {
        assert_eq!(o["bound_to"], "wasi:cli/environment@0.2.6", "{json:#}");
    }
    let inspect = d.wcomp(&["inspect", "o.wasm", "--json"]).expect(0).json();
    let imports: Vec<&Value> = inspect["worlds"][0]["imports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["name"])
        .collect();
    assert_eq!(imports, ["wasi:cli/environment@0.2.6"]);
    let wit = json["wit"].as_str().unwrap();
    assert!(!wit.contains("@0.2.3"), "{wit}");
    for f in ["get-environment: func", "get-arguments: func"] {
        assert!(wit.contains(f), "{f}: {wit}");
    }
}

fn world_of(d: &Dir, file: &str) -> Value {
    let json = d.wcomp(&["inspect", file, "--json"]).expect(0).json();
    json["worlds"].clone()
}

#[test]
fn emitted_wac_reproduces_the_composition() {
    let d = Dir::new();
    chain(&d);
    let run = d.wcomp(&[
        "compose",
        "a.wasm",
        "--plug",
        "b.wasm",
        "--plug",
        "c.wasm",
        "-o",
        "auto.wasm",
        "--emit-wac",
        "chain.wac",
    ]);
    run.expect(0).has("wiring written to chain.wac");
    let wac = std::fs::read_to_string(d.path("chain.wac")).unwrap();
    for dep in [
        "--dep compose:a=a.wasm",
        "--dep compose:b=b.wasm",
        "--dep compose:c=c.wasm",
    ] {
        assert!(wac.contains(dep), "{wac}");
    }
    let run = d.wcomp(&[
        "compose",
        "chain.wac",
        "--dep",
        "compose:a=a.wasm",
        "--dep",
        "compose:b=b.wasm",
        "--dep",
        "compose:c=c.wasm",
        "-o",
        "wac.wasm",
    ]);
    run.expect(0);
    assert_eq!(world_of(&d, "auto.wasm"), world_of(&d, "wac.wasm"));
    // The WAC composition records its parts and its source too.
    let record = &d.wcomp(&["inspect", "wac.wasm", "--json"]).expect(0).json()["composition"];
    assert_eq!(record["parts"].as_array().unwrap().len(), 3, "{record:#}");
    assert_eq!(record["wac"].as_str(), Some(wac.as_str()));
}

#[test]
fn wac_errors_point_at_the_file() {
    let d = Dir::new();
    chain(&d);
    // Line 3, column 9: `new` is missing its package.
    d.write(
        "bad.wac",
        "package example:bad;\n\nlet a = { ... };\nexport a;\n",
    );
    let run = d.wcomp(&["compose", "bad.wac", "--dep", "compose:a=a.wasm"]);
    run.expect(2).has("bad.wac:3:9:");

    d.write(
        "missing.wac",
        "package example:m;\n\nlet b = new compose:b { ... };\nlet a = new compose:a {\n  \"example:x/x@0.1.0\": b[\"example:x/x@0.1.0\"], ...\n};\nexport a[\"example:app/api@0.1.0\"];\n",
    );
    d.wcomp(&["compose", "missing.wac", "--dep", "compose:a=a.wasm"])
        .expect(2)
        .has("missing.wac:3:13:")
        .has("`compose:b`")
        .has("--dep compose:b=");

    // A WAC file that parses but does not compose: the parts cannot be composed (exit 1).
    d.write(
        "wrong.wac",
        "package example:w;\n\nlet a = new compose:a { ... };\nexport a[\"example:nope/nope\"];\n",
    );
    d.wcomp(&["compose", "wrong.wac", "--dep", "compose:a=a.wasm"])
        .expect(1)
        .has("wrong.wac:4:")
        .has("example:nope/nope");
    d.nothing_written(&[
        "a.wasm",
        "b.wasm",
        "c.wasm",
        "bad.wac",
        "missing.wac",
        "wrong.wac",
    ]);

    // A `--dep` file that does not exist, a version that is not one: usage errors.
    d.wcomp(&["compose", "missing.wac", "--dep", "compose:a=nowhere.wasm"])
        .expect(2)
        .has("nowhere.wasm");
    d.wcomp(&[
        "compose",
        "missing.wac",
        "--dep",
        "compose:a@one=a.wasm",
        "--dep",
        "compose:b=b.wasm",
    ])
    .expect(2)
    .has("`one` is not a version");
    // Packages of one name in two namespaces are two parts.
    d.write(
        "two.wac",
        "package example:two;\n\nlet c = new other:c { ... };\nlet b = new example:c {\n  \"example:y/y@0.1.0\": c[\"example:y/y@0.1.0\"], ...\n};\nlet a = new example:a {\n  \"example:x/x@0.1.0\": b[\"example:x/x@0.1.0\"], ...\n};\nexport a[\"example:app/api@0.1.0\"];\n",
    );
    let json = d
        .wcomp(&[
            "compose",
            "two.wac",
            "--dep",
            "example:a=a.wasm",
            "--dep",
            "example:c=b.wasm",
            "--dep",
            "other:c=c.wasm",
            "-o",
            "two.wasm",
            "--json",
        ])
        .expect(0)
        .json();
    let parts: Vec<&str> = json["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(parts, ["a", "example-c", "other-c"]);
    std::fs::remove_file(d.path("two.wasm")).unwrap();
    std::fs::remove_file(d.path("two.wac")).unwrap();

    // `--dep` itself malformed: a usage error.
    d.wcomp(&["compose", "missing.wac", "--dep", "compose-a.wasm"])
        .expect(2)
        .has("`--dep compose-a.wasm`");
}

#[test]
fn parts_that_are_not_components_are_refused() {
    let d = Dir::new();
    chain(&d);
    let b = std::fs::read(d.path("b.wasm")).unwrap();
    d.write("truncated.wasm", &b[..b.len() / 2]);
    d.write("module.wasm", b"\0asm\x01\0\0\0");
    d.write(
        "notes.wasm",
        "these are not the components you are looking for\n",
    );
    let inputs = [
        "a.wasm",
        "b.wasm",
        "c.wasm",
        "truncated.wasm",
        "module.wasm",
        "notes.wasm",
    ];
    for (file, code, needle) in [
        ("module.wasm", 1, "core"),
        ("notes.wasm", 1, "notes.wasm"),
        ("truncated.wasm", 1, "truncated.wasm"),
        ("absent.wasm", 2, "absent.wasm"),
    ] {
        let run = d.wcomp(&["compose", "a.wasm", "--plug", file, "-o", "o.wasm"]);
        run.expect(code).has(needle);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        d.nothing_written(&inputs);
    }
    // The same as a WAC file's `--dep`, whose world is not decoded: still refused, named.
    d.write(
        "one.wac",
        "package example:one;\n\nlet a = new compose:a { ... };\nexport a[\"example:app/api@0.1.0\"];\n",
    );
    let inputs = [inputs.as_slice(), &["one.wac"]].concat();
    for (file, code, needle) in [
        ("module.wasm", 1, "core"),
        ("notes.wasm", 1, "notes.wasm"),
        ("truncated.wasm", 1, "truncated.wasm"),
        ("absent.wasm", 2, "absent.wasm"),
    ] {
        let dep = format!("compose:a={file}");
        let run = d.wcomp(&["compose", "one.wac", "--dep", &dep, "-o", "o.wasm"]);
        run.expect(code).has(needle);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        d.nothing_written(&inputs);
    }
}

/// A root that imports `answer: func() -> u32` and exports it again as `get`, and a plug
/// exporting `answer` whose core function has `body` (`i64.const 42` makes it invalid
/// code with valid types), written as `root.wat` and `<name>.wat` for each plug.
fn answer_parts(d: &Dir, plugs: &[(&str, &str)]) {
    d.write(
        "root.wat",
        "(component (import \"answer\" (func $a (result u32))) (export \"get\" (func $a)))",
    );
    for (name, body) in plugs {
        d.write(
            &format!("{name}.wat"),
            format!(
                "(component (core module $m (func (export \"f\") (result i32) {body})) (core instance $i (instantiate $m)) (func $f (result u32) (canon lift (core func $i \"f\"))) (export \"answer\" (func $f)))"
            ),
        );
    }
}

/// `wcomp compose` with `args` in `d`, its validation memory in `cache`.
fn compose_with_cache(d: &Dir, cache: &std::path::Path, args: &[&str]) -> Run {
    std::process::Command::new(env!("CARGO_BIN_EXE_wcomp"))
        .arg("compose")
        .args(args)
        .current_dir(d.path(""))
        .env("WCOMP_CACHE_DIR", cache)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
        .into()
}

/// A part whose code is invalid (its types are fine, so wiring succeeds) is named in the
/// error, and nothing is written. Parts of a composition that validates are remembered as
/// valid in the cache (their code was checked as part of the output).
#[test]
fn a_part_with_invalid_code_is_named_and_valid_parts_are_remembered() {
    let d = Dir::new();
    answer_parts(&d, &[("good", "i32.const 42"), ("bad", "i64.const 42")]);
    let cache = d.path("cache");
    let compose = |plug: &str, out: &str| {
        compose_with_cache(&d, &cache, &["root.wat", "--plug", plug, "-o", out])
    };
    compose("bad.wat", "bad.wasm")
        .expect(1)
        .has("`bad.wat` is not a valid component: type mismatch");
    d.nothing_written(&["root.wat", "good.wat", "bad.wat", "cache"]);
    let remembered = || remembered(&cache);
    assert_eq!(
        remembered(),
        0,
        "nothing is remembered from a failed composition"
    );
    compose("good.wat", "ok.wasm").expect(0);
    assert_eq!(remembered(), 2, "both parts are remembered as valid");
    // Remembered parts: the output's bodies are not checked again, and it still works.
    compose("good.wat", "again.wasm").expect(0);
    assert_eq!(
        std::fs::read(d.path("ok.wasm")).unwrap().len(),
        std::fs::read(d.path("again.wasm")).unwrap().len()
    );
}

/// A large binary part composed before is composed through its stand-in, its bytes
/// copied into the output unread: the output is the same, byte for byte, as when the part
/// is read in full. A part file rewritten in place is read in full again.
#[test]
fn a_large_part_composed_again_goes_through_its_stand_in() {
    let d = Dir::new();
    answer_parts(&d, &[]);
    let plug = |fill: &str| {
        wat::parse_str(format!(
            "(component (core module $m (memory 24) (data (i32.const 0) \"{}\") (func (export \"f\") (result i32) i32.const 42)) (core instance $i (instantiate $m)) (func $f (result u32) (canon lift (core func $i \"f\"))) (export \"answer\" (func $f)))",
            fill.repeat(300_000)
        ))
        .unwrap()
    };
    let first_plug = plug("wcomp");
    assert!(first_plug.len() > 1 << 20, "a large part");
    d.write("plug.wasm", &first_plug);
    // A file's identity is remembered only once it has not changed for a second.
    std::thread::sleep(std::time::Duration::from_millis(1_100));
    let cache = d.path("cache");
    let compose = |cache: &Path, out: &str| {
        let json = compose_with_cache(
            &d,
            cache,
            &["root.wat", "--plug", "plug.wasm", "-o", out, "--json"],
        )
        .expect(0)
        .json();
        assert_eq!(
            json["sha256"],
            sha256(&d.path(out)),
            "{out}: the digest shown"
        );
        assert_eq!(json["size"], std::fs::read(d.path(out)).unwrap().len());
        let plug = json["parts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "plug");
        assert_eq!(
            plug.unwrap()["digest"],
            sha256(&d.path("plug.wasm")),
            "{out}"
        );
        std::fs::read(d.path(out)).unwrap()
    };
    let entries = |sub: &str| {
        std::fs::read_dir(cache.join("validated"))
            .unwrap()
            .map(|v| std::fs::read_dir(v.unwrap().path().join(sub)).map_or(0, Iterator::count))
            .sum::<usize>()
    };
    // Read in full, validated; its stand-in is stored.
    let read = compose(&cache, "read.wasm");
    assert_eq!(entries("stand-ins"), 1);
    assert_eq!(entries("outputs"), 0, "nothing went through a stand-in yet");
    // Through the stand-in: hashed as it is written, the digest remembered.
    let spliced = compose(&cache, "spliced.wasm");
    assert_eq!(
        entries("outputs"),
        1,
        "the output went through the stand-in"
    );
    // Again: the digest is recalled.
    let again = compose(&cache, "again.wasm");
    assert!(
        read == spliced && spliced == again,
        "the same bytes every way"
    );
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(&spliced)
        .unwrap();
    let fresh = compose(&d.path("fresh-cache"), "fresh.wasm");
    assert!(fresh == spliced, "an empty memory composes the same bytes");
    // From a WAC file too.
    d.write(
        "app.wac",
        "package example:app;\n\nlet p = new test:plug {};\nlet r = new test:root { answer: p.answer };\nexport r.get;\n",
    );
    let wac = |cache: &Path, out: &str| {
        let args = [
            "app.wac",
            "--dep",
            "test:root=root.wat",
            "--dep",
            "test:plug=plug.wasm",
        ];
        compose_with_cache(&d, cache, &[&args[..], &["-o", out]].concat()).expect(0);
        std::fs::read(d.path(out)).unwrap()
    };
    let from_wac = wac(&cache, "wac.wasm");
    assert_eq!(
        entries("outputs"),
        2,
        "the WAC output went through the stand-in"
    );
    assert!(
        from_wac == wac(&d.path("wac-cache"), "wac-read.wasm"),
        "as read in full"
    );

    // Rewritten in place, same size: its identity changes, so it is read in full.
    let second_plug = plug("WCOMP");
    assert_eq!(second_plug.len(), first_plug.len());
    std::fs::write(d.path("plug.wasm"), &second_plug).unwrap();
    let changed = compose(&cache, "changed.wasm");
    let has_new_data = |bytes: &[u8]| String::from_utf8_lossy(bytes).contains("WCOMPWCOMP");
    assert!(has_new_data(&changed) && !has_new_data(&spliced));
}

/// How many components the validation memory under `cache` holds:
/// `<cache>/validated/<validator version>/<sha256 hex>`, one file per component.
fn remembered(cache: &std::path::Path) -> usize {
    std::fs::read_dir(cache.join("validated")).map_or(0, |versions| {
        versions
            .flatten()
            .map(|v| std::fs::read_dir(v.path()).map_or(0, Iterator::count))
            .sum()
    })
}

/// From a WAC file, the output is validated in full, which checks the code of each
/// `--dep` it embeds; a `--dep` it does not embed is validated on its own. An invalid one
/// is named either way, and only what passed is remembered.
#[test]
fn a_wac_dep_with_invalid_code_is_named_used_or_not() {
    let d = Dir::new();
    answer_parts(
        &d,
        &[
            ("good", "i32.const 42"),
            ("spare", "i32.const 7"),
            ("bad", "i64.const 42"),
        ],
    );
    d.write(
        "app.wac",
        "package example:app;\n\nlet p = new test:plug {};\nlet r = new test:root { answer: p.answer };\nexport r.get;\n",
    );
    let cache = d.path("cache");
    let compose = |deps: &[&str], out: &str| {
        let mut args = vec!["app.wac", "-o", out];
        for dep in deps {
            args.extend(["--dep", dep]);
        }
        compose_with_cache(&d, &cache, &args)
    };
    // Used: its code is in the output.
    compose(&["test:root=root.wat", "test:plug=bad.wat"], "a.wasm")
        .expect(1)
        .has("`bad.wat` is not a valid component: type mismatch");
    // Not used by the WAC file: still checked.
    compose(
        &[
            "test:root=root.wat",
            "test:plug=good.wat",
            "test:spare=bad.wat",
        ],
        "b.wasm",
    )
    .expect(1)
    .has("`bad.wat` is not a valid component: type mismatch");
    d.nothing_written(&[
        "root.wat",
        "good.wat",
        "spare.wat",
        "bad.wat",
        "app.wac",
        "cache",
    ]);
    assert_eq!(
        remembered(&cache),
        0,
        "nothing is remembered from a failure"
    );

    compose(
        &[
            "test:root=root.wat",
            "test:plug=good.wat",
            "test:spare=spare.wat",
        ],
        "c.wasm",
    )
    .expect(0);
    assert_eq!(remembered(&cache), 3, "the two used and the unused one");
    compose(
        &[
            "test:root=root.wat",
            "test:plug=good.wat",
            "test:spare=spare.wat",
        ],
        "d.wasm",
    )
    .expect(0);
    assert_eq!(
        std::fs::read(d.path("c.wasm")).unwrap(),
        std::fs::read(d.path("d.wasm")).unwrap()
    );
}

#[test]
fn output_names_and_part_names() {
    let d = Dir::new();
    chain(&d);
    // Default output: `<root>.composed.wasm` in the current directory; NAME=PATH names
    // a part (the root too).
    d.wcomp(&[
        "compose",
        "app=a.wasm",
        "--plug",
        "b.wasm",
        "--plug",
        "c.wasm",
    ])
    .expect(0)
    .has("composed app.composed.wasm")
    .has("app (root)  a.wasm");
    assert!(d.path("app.composed.wasm").is_file());
    std::fs::remove_file(d.path("app.composed.wasm")).unwrap();
    let inputs = ["a.wasm", "b.wasm", "c.wasm"];

    // Two parts with one name.
    d.wcomp(&[
        "compose", "a.wasm", "--plug", "b.wasm", "--plug", "b=c.wasm",
    ])
    .expect(2)
    .has("two parts are named `b`");
    d.nothing_written(&inputs);
    // A name that is not kebab-case.
    d.wcomp(&[
        "compose",
        "a.wasm",
        "--plug",
        "Bee=b.wasm",
        "--plug",
        "c.wasm",
    ])
    .expect(2)
    .has("`Bee` is not a valid part name");
    d.nothing_written(&inputs);

    // An output that cannot be written: nothing else is written either (not the WAC).
    let run = d.wcomp(&[
        "compose",
        "a.wasm",
        "--plug",
        "b.wasm",
        "--plug",
        "c.wasm",
        "-o",
        "a.wasm/out.wasm",
        "--emit-wac",
        "out.wac",
    ]);
    run.expect(2).has("cannot write `a.wasm/out.wasm`");
    d.nothing_written(&inputs);
}

#[test]
fn a_near_miss_is_noted_when_the_composition_works() {
    let d = Dir::new();
    d.component(
        "a",
        &world(
            "a",
            "import example:store/records@0.1.0; import example:y/y@0.1.0; \
             export example:app/api@0.1.0;",
            &[&records("0.1.0"), Y, API],
        ),
    );
    d.component(
        "b",
        &world(
            "b",
            "export example:store/records@0.2.0; export example:y/y@0.1.0;",
            &[&records("0.2.0"), Y],
        ),
    );
    let run = d.wcomp(&["compose", "a.wasm", "--plug", "b.wasm", "-o", "o.wasm"]);
    run.expect(0)
        .has("note: `b` exports `example:store/records@0.2.0` but `a` imports `example:store/records@0.1.0`")
        .has("    example:store/records@0.1.0");
}

#[test]
fn emitted_wac_handles_function_exports_and_keyword_names() {
    let d = Dir::new();
    d.component(
        "root",
        &world(
            "root",
            "import example:x/x@0.1.0; export hello: func() -> u32; export example:app/api@0.1.0;",
            &[X, API],
        ),
    );
    d.component("b", &world("b", "export example:x/x@0.1.0;", &[X]));
    d.wcomp(&[
        "compose",
        "root.wasm",
        "--plug",
        "type=b.wasm",
        "-o",
        "auto.wasm",
        "--emit-wac",
        "w.wac",
    ])
    .expect(0);
    let wac = std::fs::read_to_string(d.path("w.wac")).unwrap();
    d.wcomp(&[
        "compose",
        "w.wac",
        "--dep",
        "compose:root=root.wasm",
        "--dep",
        "compose:type=b.wasm",
        "-o",
        "wac.wasm",
    ])
    .expect(0);
    assert_eq!(world_of(&d, "auto.wasm"), world_of(&d, "wac.wasm"), "{wac}");
}

#[test]
fn a_wac_file_that_cannot_be_written_leaves_no_component() {
    let d = Dir::new();
    chain(&d);
    d.wcomp(&[
        "compose",
        "a.wasm",
        "--plug",
        "b.wasm",
        "--plug",
        "c.wasm",
        "-o",
        "out.wasm",
        "--emit-wac",
        "b.wasm/chain.wac",
    ])
    .expect(2)
    .has("cannot write `b.wasm/chain.wac`");
    d.nothing_written(&["a.wasm", "b.wasm", "c.wasm"]);
}

#[test]
fn shared_types_and_resources_cross_a_wire() {
    let d = Dir::new();
    // `query` uses types from `types` (the wcomp:sql shape): both parts import `types`,
    // the plug exports `query`; and a resource crosses the wire in `conn`.
    let db = "package example:db@0.1.0 { \
        interface types { variant value { null, integer(s64), text(string) } } \
        interface query { use types.{value}; q: func(v: list<value>) -> list<value>; } \
        interface conn { resource connection { constructor(url: string); \
            run: func(sql: string) -> u64; } open: func() -> connection; } }";
    d.component(
        "app",
        &world(
            "app",
            "import example:db/query@0.1.0; import example:db/conn@0.1.0; \
             export example:app/api@0.1.0;",
            &[db, API],
        ),
    );
    d.component(
        "store",
        &world(
            "store",
            "export example:db/query@0.1.0; export example:db/conn@0.1.0;",
            &[db],
        ),
    );
    let json = d
        .wcomp(&[
            "compose",
            "app.wasm",
            "--plug",
            "store.wasm",
            "-o",
            "o.wasm",
            "--json",
        ])
        .expect(0)
        .json();
    assert_eq!(
        names(&json["imports"]),
        ["example:db/types@0.1.0"],
        "{json:#}"
    );
    assert_eq!(
        json["plan"]["wires"].as_array().unwrap().len(),
        2,
        "{json:#}"
    );

    // A resource with a method the importer calls and the exporter lacks is a mismatch.
    let db2 = db.replace("run: func(sql: string) -> u64;", "");
    d.component(
        "store2",
        &world(
            "store2",
            "export example:db/query@0.1.0; export example:db/conn@0.1.0;",
            &[&db2],
        ),
    );
    d.wcomp(&[
        "compose",
        "app.wasm",
        "--plug",
        "store2.wasm",
        "-o",
        "o2.wasm",
    ])
    .expect(1)
    .has("`store2`'s export `example:db/conn@0.1.0` cannot satisfy `app`'s import")
    .has("run");
    assert!(!d.path("o2.wasm").exists());
}

#[test]
fn only_compatible_wasi_versions_are_unified() {
    let d = Dir::new();
    let env = |v: &str| {
        format!(
            "package wasi:cli@{v} {{ interface environment {{ \
               get-environment: func() -> list<tuple<string, string>>; }} }}"
        )
    };
    d.component(
        "a",
        &world(
            "a",
            "import wasi:cli/environment@0.2.3; import example:x/x@0.1.0; \
             export example:app/api@0.1.0;",
            &[&env("0.2.3"), X, API],
        ),
    );
    d.component(
        "b",
        &world(
            "b",
            "import wasi:cli/environment@0.2.6; import example:y/y@0.1.0; \
             export example:x/x@0.1.0;",
            &[&env("0.2.6"), X, Y],
        ),
    );
    d.component(
        "c",
        &world(
            "c",
            "import wasi:cli/environment@0.3.0; export example:y/y@0.1.0;",
            &[&env("0.3.0"), Y],
        ),
    );
    let args = [
        "compose", "a.wasm", "--plug", "b.wasm", "--plug", "c.wasm", "-o", "o.wasm",
    ];
    d.wcomp(&args).expect(0).has(
        "unified: wasi:cli/environment@0.2.6 imported once (parts import @0.2.3 (a), @0.2.6 (b))",
    );
    let json = d.wcomp(&[&args[..], &["--json"]].concat()).expect(0).json();
    let mut imports = names(&json["imports"]);
    imports.sort();
    assert_eq!(
        imports,
        ["wasi:cli/environment@0.2.6", "wasi:cli/environment@0.3.0"]
    );
    assert_eq!(json["unified"].as_array().unwrap().len(), 1, "{json:#}");
}

#[test]
fn an_unused_plug_with_a_similar_name_says_so() {
    let d = Dir::new();
    let store = "package example:store@0.1.0 { \
        interface records { get: func(id: u32) -> string; } \
        interface recs { get: func(id: u32) -> string; } }";
    d.component(
        "a",
        &world(
            "a",
            "import example:store/recs@0.1.0; export example:app/api@0.1.0;",
            &[store, API],
        ),
    );
    d.component(
        "b",
        &world("b", "export example:store/records@0.1.0;", &[store]),
    );
    d.wcomp(&["compose", "a.wasm", "--plug", "b.wasm", "-o", "o.wasm"])
        .expect(1)
        .has("plug `b` is not used")
        .has("did you mean `b`'s export `example:store/records@0.1.0`?")
        .has("--wire a:example:store/recs@0.1.0=b:example:store/records@0.1.0");
    d.nothing_written(&["a.wasm", "b.wasm"]);
}

#[test]
fn bare_functions_are_wired_and_checked_too() {
    let d = Dir::new();
    d.component(
        "app",
        &world(
            "app",
            "import greet: func(name: string) -> string; export example:app/api@0.1.0;",
            &[API],
        ),
    );
    d.component(
        "good",
        &world("good", "export greet: func(name: string) -> string;", &[]),
    );
    d.component(
        "bad",
        &world("bad", "export greet: func(name: string) -> u32;", &[]),
    );
    let json = d
        .wcomp(&[
            "compose",
            "app.wasm",
            "--plug",
            "good.wasm",
            "-o",
            "o.wasm",
            "--json",
        ])
        .expect(0)
        .json();
    assert_eq!(wire(&json, "greet")["exporter"], "good", "{json:#}");
    assert_eq!(names(&json["imports"]), Vec::<String>::new());
    d.wcomp(&["compose", "app.wasm", "--plug", "bad.wasm", "-o", "o2.wasm"])
        .expect(1)
        .has("`bad`'s export `greet` cannot satisfy `app`'s import `greet`")
        .has("u32");
    assert!(!d.path("o2.wasm").exists());
}

#[test]
fn mismatched_kinds_of_types_are_explained_without_internals() {
    let d = Dir::new();
    let shapes = |body: &str| {
        format!(
            "package example:shapes@0.1.0 {{ interface s {{ {body} use-it: func(x: t) -> t; }} }}"
        )
    };
    d.component(
        "app",
        &world(
            "app",
            "import example:shapes/s@0.1.0; export example:app/api@0.1.0;",
            &[&shapes("resource t { get: func() -> u32; } variant v { a, b(u32) } enum e { x, y } take: func(v: v, e: e);"), API],
        ),
    );
    d.component(
        "lib",
        &world(
            "lib",
            "export example:shapes/s@0.1.0;",
            &[&shapes("record t { get: u32 } variant v { a, b(string) } enum e { x, z } take: func(v: v, e: e);")],
        ),
    );
    let run = d.wcomp(&["compose", "app.wasm", "--plug", "lib.wasm", "-o", "o.wasm"]);
    run.expect(1)
        .has("`lib`'s export `example:shapes/s@0.1.0` cannot satisfy `app`'s import")
        .has("`lib` has a record, `app` has a resource")
        .has("case `b`: `lib` has `string`, `app` has `u32`")
        .has("case `z` is named `y` in `app`")
        // `take` differs only by types already reported: said there, not again.
        .has("used by function `take`");
    assert!(!run.all().contains("function `take` in"), "{}", run.all());
    for internal in [
        "ResourceId",
        "TypeId",
        "Id {",
        "idx",
        "TypeDefKind",
        "Handle(",
    ] {
        assert!(!run.all().contains(internal), "{internal}: {}", run.all());
    }
    assert!(!d.path("o.wasm").exists());
}

#[test]
fn a_versionless_wire_must_name_one_version() {
    let d = Dir::new();
    let log = |v: &str| {
        format!("package example:host@{v} {{ interface log {{ log: func(msg: string); }} }}")
    };
    d.component(
        "a",
        &world(
            "a",
            "import example:host/log@0.1.0; import example:host/log@1.0.0; \
             export example:app/api@0.1.0;",
            &[&log("0.1.0"), &log("1.0.0"), API],
        ),
    );
    d.component(
        "b",
        &world("b", "export example:host/log@1.0.0;", &[&log("1.0.0")]),
    );
    d.wcomp(&[
        "compose",
        "a.wasm",
        "--plug",
        "b.wasm",
        "-o",
        "o.wasm",
        "--wire",
        "a:example:host/log=b",
    ])
    .expect(2)
    .has("`a` imports several versions of `example:host/log`")
    .has("`example:host/log@0.1.0`, `example:host/log@1.0.0`");
    d.nothing_written(&["a.wasm", "b.wasm"]);
    // With the version, it composes; the other version stays an import.
    let json = d
        .wcomp(&[
            "compose",
            "a.wasm",
            "--plug",
            "b.wasm",
            "-o",
            "o.wasm",
            "--json",
            "--wire",
            "a:example:host/log@1.0.0=b",
        ])
        .expect(0)
        .json();
    assert_eq!(names(&json["imports"]), ["example:host/log@0.1.0"]);
}

#[test]
fn compatible_imports_that_disagree_are_explained() {
    let d = Dir::new();
    // Semver says compatible, the types say otherwise: they cannot be imported once.
    let log = |v: &str, ty: &str| {
        format!("package example:host@{v} {{ interface log {{ log: func(msg: {ty}); }} }}")
    };
    d.component(
        "a",
        &world(
            "a",
            "import example:host/log@0.1.0; import example:x/x@0.1.0; \
             export example:app/api@0.1.0;",
            &[&log("0.1.0", "string"), X, API],
        ),
    );
    d.component(
        "b",
        &world(
            "b",
            "import example:host/log@0.1.1; export example:x/x@0.1.0;",
            &[&log("0.1.1", "list<u8>"), X],
        ),
    );
    let run = d.wcomp(&["compose", "a.wasm", "--plug", "b.wasm", "-o", "o.wasm"]);
    run.expect(1)
        .has("the parts import `example:host/log` with types that disagree")
        .has("`a` imports `example:host/log@0.1.0`")
        .has("`b` imports `example:host/log@0.1.1`")
        .has("msg")
        .has("nothing was written");
    assert!(!d.path("o.wasm").exists());
    let json = d
        .wcomp(&["compose", "a.wasm", "--plug", "b.wasm", "--json"])
        .expect(1)
        .json();
    assert_eq!(json["problems"][0]["kind"], "type-mismatch", "{json:#}");
}
