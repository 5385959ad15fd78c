//! The Go -> component pipeline (`cli/src/ops/build_go.rs`), end to end with the real `go`.
//!
//! The sample project (`cli/tests/fixtures/go-rich`) exports records, lists, options,
//! results and a resource. (The `go` template itself is built and run by
//! `templates_build.rs`.) Tests that need `go` print why and pass when it is not on PATH,
//! except under CI, where they fail.
#![allow(clippy::disallowed_methods)] // tests set up files with std::fs directly

// The CLI is a binary crate: the module is compiled into this test directly.
#[path = "../src/ops/build_go.rs"]
#[allow(dead_code, reason = "not every item is used by these tests")]
mod build_go;

use std::path::{Path, PathBuf};
use wcomp_wasm::check::{self, Options, World};
use wit_parser::{Resolve, WorldId};

fn template_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/go-rich")
}

/// `go` from PATH, or `None` (with the reason printed) when there is none.
fn go_or_skip(test: &str) -> Option<build_go::GoToolchain> {
    match build_go::find_go() {
        Ok(go) => Some(go),
        Err(e)
            if e.to_string().contains("not found on PATH") && std::env::var_os("CI").is_none() =>
        {
            println!("skipping {test}: {e}");
            None
        }
        Err(e) => panic!("{e:#}"),
    }
}

fn world(wit: &str, name: &str) -> (Resolve, WorldId) {
    let mut resolve = Resolve::default();
    let pkg = resolve.push_str("world.wit", wit).unwrap();
    let world = resolve.select_world(&[pkg], Some(name)).unwrap();
    (resolve, world)
}

/// A copy of the Go template in a fresh directory.
fn template_project() -> (tempfile::TempDir, Resolve, WorldId) {
    let dir = tempfile::tempdir().unwrap();
    let src = template_dir();
    for file in ["go.mod", "main.go", "export_example_greeter_greet/greet.go"] {
        let to = dir.path().join(file);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(src.join(file), to).unwrap();
    }
    let wit = std::fs::read_to_string(src.join("wit/world.wit")).unwrap();
    let (resolve, world) = world(&wit, "greeter");
    (dir, resolve, world)
}

#[test]
fn template_builds_a_conforming_component() {
    let Some(go) = go_or_skip("template_builds_a_conforming_component") else {
        return;
    };
    let (dir, resolve, world) = template_project();
    let built =
        build_go::build(&go, dir.path(), &resolve, world).unwrap_or_else(|e| panic!("{e:#}"));
    println!(
        "{}: go build {:.1?}, core module {} bytes, component {} bytes",
        go.version,
        built.go_build_time,
        built.core_module_len,
        built.component.len()
    );

    // A component (layer 1), valid, and its world conforms.
    assert_eq!(&built.component[..8], b"\0asm\x0d\0\x01\0");
    let component = wcomp_wasm::component::load("greeter.wasm", &built.component)
        .unwrap_or_else(|e| panic!("{e}"));
    let c = World {
        resolve: &component.resolve,
        id: component.world,
    };
    let exports: Vec<_> = component.resolve.worlds[component.world]
        .exports
        .keys()
        .map(|k| component.resolve.name_world_key(k))
        .collect();
    assert_eq!(exports, ["example:greeter/greet@0.1.0"]);

    // The Go runtime imports WASI through the adapter, so the component targets the
    // world plus the adapter's imports...
    let (target, target_world) = build_go::with_adapter_imports(&resolve, world).unwrap();
    let report = check::check(
        c,
        World {
            resolve: &target,
            id: target_world,
        },
        Options::default(),
    );
    assert!(report.conforms(), "{report:#?}");

    // ...and against the bare world, WASI imports are its only problems.
    let report = check::check(
        c,
        World {
            resolve: &resolve,
            id: world,
        },
        Options::default(),
    );
    assert!(!report.problems.is_empty());
    for p in &report.problems {
        assert_eq!(p.kind, check::ProblemKind::UnsatisfiedImport, "{p:#?}");
        assert!(
            p.item.as_deref().is_some_and(|i| i.starts_with("wasi:")),
            "{p:#?}"
        );
    }

    // The project now holds the bindings, the runtime module and a complete go.mod.
    let go_mod = std::fs::read_to_string(dir.path().join("go.mod")).unwrap();
    assert!(go_mod.contains("replace go.bytecodealliance.org/pkg => ./wit_go_pkg"));
    for file in [
        "wit_exports.go",
        "export_example_greeter_greet/wit_bindings.go",
        "example_greeter_greet/wit_bindings.go",
        "wit_go_pkg/go.mod",
        "wit_go_pkg/wit/runtime/runtime.go",
        "wit_go_pkg/wit/types/option.go",
    ] {
        assert!(dir.path().join(file).is_file(), "{file} missing");
    }

    // Building again changes nothing, here or in another directory (reproducible).
    let again = build_go::build(&go, dir.path(), &resolve, world).unwrap();
    println!("rebuild: go build {:.1?}", again.go_build_time);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("go.mod")).unwrap(),
        go_mod
    );
    assert!(again.component == built.component, "rebuild differs");
    let (elsewhere, ..) = template_project();
    let copy = build_go::build(&go, elsewhere.path(), &resolve, world).unwrap();
    assert!(
        copy.component == built.component,
        "build in another directory differs"
    );
}

#[test]
fn go_compile_errors_carry_the_compiler_output() {
    let Some(go) = go_or_skip("go_compile_errors_carry_the_compiler_output") else {
        return;
    };
    let (dir, resolve, world) = template_project();
    let greet = dir.path().join("export_example_greeter_greet/greet.go");
    let source = std::fs::read_to_string(&greet).unwrap();
    let broken = source.replace(
        "return fmt.Sprintf(\"Hello, %s (%d)!\", who.Name, who.Age)",
        "return 42",
    );
    assert_ne!(source, broken);
    std::fs::write(&greet, broken).unwrap();

    let err = build_go::build(&go, dir.path(), &resolve, world).unwrap_err();
    let message = format!("{err:#}");
    assert!(message.contains("go build"), "{message}");
    assert!(message.contains("greet.go"), "{message}");
    assert!(message.contains("cannot use 42"), "{message}");
    let failed = err
        .downcast_ref::<build_go::GoBuildFailed>()
        .expect("a GoBuildFailed");
    assert!(failed.output.contains("cannot use 42"));
}

#[test]
fn async_worlds_are_refused() {
    for (what, wit) in [
        (
            "function `fetch` in `example:fetch/api` is async",
            "interface api { fetch: async func(url: string) -> string; }",
        ),
        (
            "function `read` in `example:fetch/api` uses a stream",
            "interface api { read: func() -> result<stream<u8>, string>; }",
        ),
        (
            "type `later` in `example:fetch/api` uses a future",
            "interface api { record later { value: future<u32> } }",
        ),
    ] {
        let (resolve, world) = world(
            &format!("package example:fetch;\n{wit}\nworld fetcher {{ export api; }}\n"),
            "fetcher",
        );
        let dir = tempfile::tempdir().unwrap();
        // No Go needed: the world is refused before bindings are written or Go runs.
        let err = build_go::generate_bindings(&resolve, world, dir.path()).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("world `fetcher` is async"), "{message}");
        assert!(message.contains("patched Go runtime"), "{message}");
        assert!(message.contains(what), "{message}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}

#[test]
fn bindings_of_interfaces_the_world_dropped_are_removed() {
    let (resolve, world_a) = world(
        "package example:app;\n\
         interface one { f: func() -> u32; }\n\
         interface two { record r { x: u32 } g: func() -> r; }\n\
         world a { export one; export two; }\n\
         world b { export one; }\n",
        "a",
    );
    let dir = tempfile::tempdir().unwrap();
    build_go::generate_bindings(&resolve, world_a, dir.path()).unwrap();
    // Types of exported interfaces go in a package named after the interface; the
    // user implements its functions in `export_<name>`.
    let two = dir.path().join("example_app_two");
    assert!(two.join("wit_bindings.go").is_file());
    std::fs::write(two.join("impl.go"), "package example_app_two\n").unwrap();

    let world_b = resolve
        .worlds
        .iter()
        .find(|(_, w)| w.name == "b")
        .unwrap()
        .0;
    build_go::generate_bindings(&resolve, world_b, dir.path()).unwrap();
    assert!(!two.join("wit_bindings.go").exists());
    assert!(two.join("impl.go").is_file(), "the user's file stays");
    assert!(dir.path().join("wit_exports.go").is_file());
}

#[test]
fn a_go_mod_for_another_module_is_refused() {
    let (_, resolve, world) = template_project();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("go.mod"),
        "module example.com/me\n\ngo 1.25\n",
    )
    .unwrap();
    let err = build_go::generate_bindings(&resolve, world, dir.path()).unwrap_err();
    let message = format!("{err:#}");
    assert!(message.contains("`module wit_component`"), "{message}");
    // Nothing was written.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn names_the_generator_changes_are_reported() {
    let (resolve, world) = world(
        "package example:clash;\n\
         interface api {\n\
           resource file { drop: func(); on-drop: func(); close: func(); }\n\
           variant entry { tag(string), other }\n\
           open: func() -> file;\n\
           first: func() -> entry;\n\
         }\n\
         world clash { export api; }\n",
        "clash",
    );
    let dir = tempfile::tempdir().unwrap();
    let notes = build_go::generate_bindings(&resolve, world, dir.path()).unwrap();
    assert_eq!(notes.len(), 3, "{notes:#?}");
    assert!(
        notes[0].contains("method `drop` of resource `file` is `Drop_` in Go"),
        "{notes:#?}"
    );
    assert!(notes[1].contains("`OnDrop_`"), "{notes:#?}");
    assert!(
        notes[2].contains("case `tag` of variant `entry`"),
        "{notes:#?}"
    );
    // The generator did rename them.
    let exports = std::fs::read_to_string(dir.path().join("wit_exports.go")).unwrap();
    assert!(exports.contains(".Drop_()"), "{exports}");
    assert!(exports.contains(".OnDrop_()"), "{exports}");
    let types =
        std::fs::read_to_string(dir.path().join("example_clash_api/wit_bindings.go")).unwrap();
    assert!(types.contains("Tag_()"), "{types}");
}

#[test]
fn imports_and_world_level_functions() {
    let Some(go) = go_or_skip("imports_and_world_level_functions") else {
        return;
    };
    let (resolve, world) = world(
        "package example:host;\n\
         interface log {\n\
           enum level { info, warn }\n\
           write: func(level: level, message: string);\n\
         }\n\
         world app {\n\
           import log;\n\
           import now: func() -> u64;\n\
           export run: func(input: string) -> string;\n\
         }\n",
        "app",
    );
    let dir = tempfile::tempdir().unwrap();
    // World-level functions: imports in package wit_world, exports in export_wit_world.
    let run = dir.path().join("export_wit_world/run.go");
    std::fs::create_dir_all(run.parent().unwrap()).unwrap();
    std::fs::write(
        &run,
        r#"package export_wit_world

import (
	"fmt"

	"wit_component/example_host_log"
	"wit_component/wit_world"
)

func Run(input string) string {
	example_host_log.Write(example_host_log.Level_Info, "running")
	return fmt.Sprintf("%s at %d", input, wit_world.Now())
}
"#,
    )
    .unwrap();
    let built =
        build_go::build(&go, dir.path(), &resolve, world).unwrap_or_else(|e| panic!("{e:#}"));
    let component = wcomp_wasm::component::load("app.wasm", &built.component).unwrap();
    let (target, target_world) = build_go::with_adapter_imports(&resolve, world).unwrap();
    let report = check::check(
        World {
            resolve: &component.resolve,
            id: component.world,
        },
        World {
            resolve: &target,
            id: target_world,
        },
        Options::default(),
    );
    assert!(report.conforms(), "{report:#?}");
    let imports: Vec<_> = component.resolve.worlds[component.world]
        .imports
        .keys()
        .map(|k| component.resolve.name_world_key(k))
        .filter(|n| !n.starts_with("wasi:"))
        .collect();
    assert_eq!(imports, ["example:host/log", "now"]);
}

#[test]
fn wasi_imports_of_the_world_merge_with_the_adapters() {
    let Some(go) = go_or_skip("wasi_imports_of_the_world_merge_with_the_adapters") else {
        return;
    };
    let (resolve, world) = world(
        "package example:envy;\n\
         world envy {\n\
           import wasi:cli/environment@0.2.6;\n\
           export args: func() -> list<string>;\n\
         }\n\
         package wasi:cli@0.2.6 {\n\
           interface environment { get-arguments: func() -> list<string>; }\n\
         }\n",
        "envy",
    );
    let dir = tempfile::tempdir().unwrap();
    let args = dir.path().join("export_wit_world/args.go");
    std::fs::create_dir_all(args.parent().unwrap()).unwrap();
    std::fs::write(
        &args,
        "package export_wit_world\n\n\
         import \"wit_component/wasi_cli_environment\"\n\n\
         func Args() []string {\n\treturn wasi_cli_environment.GetArguments()\n}\n",
    )
    .unwrap();
    let built =
        build_go::build(&go, dir.path(), &resolve, world).unwrap_or_else(|e| panic!("{e:#}"));
    let component = wcomp_wasm::component::load("envy.wasm", &built.component).unwrap();
    let (target, target_world) = build_go::with_adapter_imports(&resolve, world).unwrap();
    let c = World {
        resolve: &component.resolve,
        id: component.world,
    };
    let target = World {
        resolve: &target,
        id: target_world,
    };
    assert!(check::check(c, target, Options::default()).conforms());
    // wit-component keeps one version of each WASI interface: the newest, the adapter's.
    let imports: Vec<_> = component.resolve.worlds[component.world]
        .imports
        .keys()
        .map(|k| component.resolve.name_world_key(k))
        .collect();
    let environment: Vec<_> = imports
        .iter()
        .filter(|n| n.starts_with("wasi:cli/environment@"))
        .collect();
    assert_eq!(environment.len(), 1, "{imports:?}");
    assert_ne!(environment[0], "wasi:cli/environment@0.2.6", "{imports:?}");
}
