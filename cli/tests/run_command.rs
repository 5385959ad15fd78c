//! `wcomp run` on a real `wasi:cli/run` command (a Rust program built for wasm32-wasip2
//! in the test): arguments, explicit capabilities (`--env`, `--dir`, none by default),
//! standard output, and the guest's exit code.
//!
//! Needs Rust's wasm32-wasip2 target (scripts/install-toolchains.sh); under CI a missing
//! target is a failure.
#![allow(clippy::disallowed_methods)] // tests set up files with std::fs directly

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

const MAIN: &str = r#"
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    println!("args: {}", args.join(" "));
    match std::env::var("GREETING") {
        Ok(v) => println!("GREETING={v}"),
        Err(_) => println!("GREETING unset"),
    }
    match std::fs::read_to_string("/data/input.txt") {
        Ok(text) => println!("input: {}", text.trim()),
        Err(_) => println!("no /data"),
    }
    if let Ok(code) = std::env::var("EXIT_WITH") {
        std::process::exit(code.parse().unwrap());
    }
}
"#;

fn command_component() -> Option<&'static PathBuf> {
    static ONCE: OnceLock<Option<PathBuf>> = OnceLock::new();
    ONCE.get_or_init(|| {
        let targets = Command::new("rustup")
            .args(["target", "list", "--installed"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).contains("wasm32-wasip2"))
            .unwrap_or(false);
        if !targets {
            assert!(
                std::env::var_os("CI").is_none(),
                "wasm32-wasip2 is missing under CI; scripts/install-toolchains.sh installs it"
            );
            eprintln!("skipping: the wasm32-wasip2 Rust target is not installed");
            return None;
        }
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("run-command");
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::write(
            dir.join("Cargo.toml"),
            "[package]\nname = \"cmd\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
        )
        .unwrap();
        std::fs::write(dir.join("src/main.rs"), MAIN).unwrap();
        let o = Command::new("cargo")
            .args(["build", "--release", "--target", "wasm32-wasip2"])
            .current_dir(&dir)
            .env_remove("CARGO_TARGET_DIR")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        Some(dir.join("target/wasm32-wasip2/release/cmd.wasm"))
    })
    .as_ref()
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wcomp"))
        .arg("run")
        .args(args)
        .env("NO_COLOR", "1")
        .env(
            "WCOMP_CACHE_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("run-cache"),
        )
        .env("GREETING", "from the host")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn a_command_sees_only_the_capabilities_it_is_given() {
    let Some(cmd) = command_component() else {
        return;
    };
    let cmd = cmd.to_str().unwrap();
    // Nothing granted: no environment, no directory, even though wcomp has GREETING.
    let o = run(&[cmd]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert_eq!(stdout(&o), "args: \nGREETING unset\nno /data\n");

    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("input.txt"), "hello from a file\n").unwrap();
    let dir = format!("{}::/data", data.path().display());
    let o = run(&[cmd, "--env", "GREETING", "--dir", &dir, "--", "one", "two"]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert_eq!(
        stdout(&o),
        "args: one two\nGREETING=from the host\ninput: hello from a file\n"
    );
}

#[test]
fn a_failing_command_makes_wcomp_fail() {
    let Some(cmd) = command_component() else {
        return;
    };
    // WASI 0.2's `exit` carries success or failure only, so exit(7) arrives as failure.
    let o = run(&[cmd.to_str().unwrap(), "--env", "EXIT_WITH=7"]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let o = run(&[cmd.to_str().unwrap(), "--env", "EXIT_WITH=0"]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
}

#[test]
fn invoking_a_command_without_exports_lists_what_it_exports() {
    let Some(cmd) = command_component() else {
        return;
    };
    let o = run(&[cmd.to_str().unwrap(), "--invoke", "main()"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("exports no function `main`"), "{err}");
    assert!(err.contains("wasi:cli/run@0.2"), "{err}");
}

#[test]
fn a_missing_dir_or_unset_env_is_a_usage_error() {
    let Some(cmd) = command_component() else {
        return;
    };
    let cmd = cmd.to_str().unwrap();
    let o = run(&[cmd, "--dir", "/does/not/exist::/data"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a directory"));
    let o = run(&[cmd, "--env", "WCOMP_SURELY_UNSET_VARIABLE"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not set here"));
}
