//! Helpers shared by the compose and run tests: components built from inline WIT with
//! wit-component's dummy core module, and runs of the real binary.

#![allow(dead_code)]

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use wit_component::{ComponentEncoder, StringEncoding};
use wit_parser::{ManglingAndAbi, Resolve};

/// The output of one `wcomp` run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }

    #[track_caller]
    pub fn expect(&self, code: i32) -> &Run {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn has(&self, needle: &str) -> &Run {
        assert!(
            self.all().contains(needle),
            "output lacks {needle:?}\n--- stdout\n{}--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// A scratch directory with the components of one test.
pub struct Dir {
    tmp: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Dir {
        Dir {
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// Builds the world `world` of `wit` (a root package plus nested ones) into
    /// `<world>.wasm`.
    pub fn component(&self, world: &str, wit: &str) -> PathBuf {
        let bytes = build(wit, world);
        let path = self.path(&format!("{world}.wasm"));
        std::fs::write(&path, bytes).unwrap();
        path
    }

    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    pub fn wcomp(&self, args: &[&str]) -> Run {
        let out = Command::new(env!("CARGO_BIN_EXE_wcomp"))
            .args(args)
            .current_dir(self.tmp.path())
            .env("NO_COLOR", "1")
            .env_remove("CLICOLOR_FORCE")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        // `SHOW=1 cargo test --test compose -- --nocapture` prints every run.
        if std::env::var_os("SHOW").is_some() {
            println!(
                "$ wcomp {}\nexit: {}\n--- stdout\n{}--- stderr\n{}",
                args.join(" "),
                run.code,
                run.stdout,
                run.stderr
            );
        }
        run
    }

    /// Nothing but the inputs: no composed component and no WAC file was left behind.
    #[track_caller]
    pub fn nothing_written(&self, inputs: &[&str]) {
        let mut left: Vec<String> = std::fs::read_dir(self.tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !inputs.contains(&n.as_str()))
            .collect();
        left.sort();
        assert!(left.is_empty(), "files were written: {left:?}");
    }
}

/// A component whose world is `world` of `wit`, from wit-component's dummy core module.
pub fn build(wit: &str, world: &str) -> Vec<u8> {
    build_with(Resolve::new(), wit, world)
}

/// [`build`] with packages already in `resolve` (for worlds that use a package from
/// `wit-packages/`).
pub fn build_with(mut resolve: Resolve, wit: &str, world: &str) -> Vec<u8> {
    let pkg = resolve
        .push_str(format!("{world}.wit"), wit)
        .unwrap_or_else(|e| panic!("{e:#}\n{wit}"));
    let world = resolve.select_world(&[pkg], Some(world)).unwrap();
    let mut module = wit_component::dummy_module(&resolve, world, ManglingAndAbi::Standard32);
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        StringEncoding::UTF8,
        false,
    )
    .unwrap();
    ComponentEncoder::default()
        .module(&module)
        .unwrap()
        .validate(true)
        .encode()
        .unwrap()
}

/// `package test:<world>; world <world> { <body> }` followed by the packages it uses.
pub fn world(name: &str, body: &str, packages: &[&str]) -> String {
    format!(
        "package test:{name};\nworld {name} {{\n{body}\n}}\n{}\n",
        packages.join("\n")
    )
}
