//! C and C++ beyond the template round trip (templates_build.rs) and the `--world`
//! stubs (new_world.rs): `wcomp run --invoke` on a built C and C++ component, compiler
//! errors, a missing compiler, `wcomp doctor`'s lines, and examples/codec (a C++ and a C
//! part composed with a Rust part) built, tested and run.
//!
//! The builds need clang with a WASI sysroot and wit-bindgen-cli
//! (scripts/install-toolchains.sh). Without them, the test says so and passes, except
//! under CI (`CI` set), where it fails. The missing-compiler tests need nothing.
#![allow(clippy::disallowed_methods)] // tests set up files with std::fs directly

mod toolchain;

use std::path::Path;
use std::process::{Command, Output};
use toolchain::{text, toolchain_ready, wcomp};

/// `wcomp` in `dir` with `PATH` and `WASI_SDK_PATH` replaced (`None`: unset).
fn wcomp_env(dir: &Path, args: &[&str], path: &Path, sdk: Option<&Path>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wcomp"));
    cmd.args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("PATH", path);
    match sdk {
        Some(s) => cmd.env("WASI_SDK_PATH", s),
        None => cmd.env_remove("WASI_SDK_PATH"),
    };
    cmd.output().unwrap()
}

fn new_project(dir: &Path, template: &str, name: &str) {
    let o = wcomp(
        dir,
        &["new", template, name, "--name", &format!("acme:{name}")],
    );
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn a_missing_compiler_says_what_to_install() {
    let tmp = tempfile::tempdir().unwrap();
    new_project(tmp.path(), "c", "nocc");
    let proj = tmp.path().join("nocc");
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();

    // No clang on PATH, no WASI_SDK_PATH.
    let o = wcomp_env(&proj, &["build"], &empty, None);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("clang is not on PATH"), "{err}");
    assert!(
        err.contains("apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32"),
        "{err}"
    );
    assert!(
        err.contains("wasi-sdk") && err.contains("WASI_SDK_PATH"),
        "{err}"
    );

    // A WASI_SDK_PATH that is not a wasi-sdk is an error, not a fallback to PATH.
    let o = wcomp_env(&proj, &["build"], &empty, Some(&empty));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("WASI_SDK_PATH is `{}`", empty.display()))
            && err.contains("has no bin/clang"),
        "{err}"
    );

    // `new --world` runs wit-bindgen for the stubs' signatures: without it, nothing is
    // written (exit 2) and the command that installs it is named.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rich-world");
    let o = Command::new(env!("CARGO_BIN_EXE_wcomp"))
        .args(["new", "c", "stubs", "--world", fixture.to_str().unwrap()])
        .current_dir(tmp.path())
        .env("NO_COLOR", "1")
        .env("PATH", &empty)
        .env("WCOMP_TOOLS_DIR", &empty)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("wit-bindgen (the CLI, 0.63.0) not found")
            && err.contains("cargo install --locked --root")
            && err.contains("wit-bindgen-cli@0.63.0"),
        "{err}"
    );
    assert!(!tmp.path().join("stubs").exists());

    // C++ names libc++ too; doctor reports both as missing (exit 1).
    let o = wcomp_env(tmp.path(), &["doctor", "--json"], &empty, None);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let all: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let problem = |language: &str| -> String {
        all.as_array()
            .unwrap()
            .iter()
            .find(|s| s["language"] == language)
            .unwrap_or_else(|| panic!("no {language} in {all}"))["problem"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(problem("c").contains("clang is not on PATH"), "{all}");
    assert!(
        problem("cpp").contains("libc++-14-dev-wasm32 libc++abi-14-dev-wasm32"),
        "{all}"
    );
}

/// A C and a C++ project, built once each: `wcomp run --invoke`, doctor, a compiler
/// error, a fix, and the cache.
#[test]
fn c_and_cpp_build_run_and_report_compiler_errors() {
    for (template, source) in [("c", "src/component.c"), ("cpp", "src/component.cpp")] {
        if !toolchain_ready(template) {
            continue;
        }
        let tmp = tempfile::tempdir().unwrap();
        let name = format!("{template}-greeter");
        new_project(tmp.path(), template, &name);
        let proj = tmp.path().join(&name);
        let o = wcomp(&proj, &["build"]);
        assert!(o.status.success(), "{}", text(&o));
        assert!(
            proj.join("gen")
                .join(format!("{}.h", name.replace('-', "_")))
                .is_file()
        );

        let wasm = format!("build/{name}.wasm");
        let o = wcomp(&proj, &["run", &wasm, "--invoke", "greet(\"C world\")"]);
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(
            String::from_utf8_lossy(&o.stdout).trim(),
            "\"Hello, C world!\""
        );

        // Doctor names the compiler and its sysroot.
        let o = wcomp(&proj, &["doctor"]);
        let out = String::from_utf8_lossy(&o.stdout);
        let line = out
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(template))
            .unwrap_or_else(|| panic!("no {template} line in:\n{out}"));
        assert!(
            line.starts_with("ready") && line.contains("clang") && line.contains("sysroot"),
            "{line}"
        );

        // A compile error: clang's diagnostics with file:line, exit 1, nothing written.
        let path = proj.join(source);
        let good = std::fs::read_to_string(&path).unwrap();
        std::fs::write(
            &path,
            format!("{good}\nint broken(void) {{ return nope; }}\n"),
        )
        .unwrap();
        let line = good.lines().count() + 2;
        let o = wcomp(&proj, &["build"]);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(&format!("{source}:{line}:")) && err.contains("error:"),
            "{err}"
        );
        assert!(err.contains("nope"), "{err}");

        // Fixed: it builds again; unchanged: nothing to do.
        std::fs::write(&path, good.replace("Hello", "Bonjour")).unwrap();
        let o = wcomp(&proj, &["build"]);
        assert!(o.status.success(), "{}", text(&o));
        let o = wcomp(&proj, &["run", &wasm, "--invoke", "greet(\"C world\")"]);
        assert_eq!(
            String::from_utf8_lossy(&o.stdout).trim(),
            "\"Bonjour, C world!\""
        );
        let o = wcomp(&proj, &["build"]);
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("up to date"),
            "{}",
            text(&o)
        );
    }
}

/// `WASI_SDK_PATH`: its `bin/clang++` and `share/wasi-sysroot` are used (and switching
/// to it rebuilds). The wasi-sdk here is made of links to the Debian toolchain in the
/// same layout, so it needs the Debian packages.
#[cfg(unix)]
#[test]
fn wasi_sdk_path_chooses_the_compiler_and_sysroot() {
    if !toolchain_ready("cpp") || !Path::new("/usr/lib/wasm32-wasi/libc.a").is_file() {
        return;
    }
    use std::os::unix::fs::symlink;
    let tmp = tempfile::tempdir().unwrap();
    let sdk = tmp.path().join("wasi-sdk");
    let sysroot = sdk.join("share/wasi-sysroot");
    std::fs::create_dir_all(sdk.join("bin")).unwrap();
    std::fs::create_dir_all(&sysroot).unwrap();
    let path = std::env::var_os("PATH").unwrap();
    let clang = std::env::split_paths(&path)
        .map(|d| d.join("clang"))
        .find(|p| p.is_file())
        .expect("clang on PATH");
    symlink(&clang, sdk.join("bin/clang")).unwrap();
    symlink(clang.with_file_name("clang++"), sdk.join("bin/clang++")).unwrap();
    symlink("/usr/include", sysroot.join("include")).unwrap();
    symlink("/usr/lib", sysroot.join("lib")).unwrap();

    new_project(tmp.path(), "cpp", "sdk-greeter");
    let proj = tmp.path().join("sdk-greeter");
    let o = wcomp(&proj, &["build"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = wcomp_env(&proj, &["build", "-v"], Path::new(&path), Some(&sdk));
    assert!(o.status.success(), "{}", text(&o));
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        out.contains("built acme:sdk-greeter"),
        "not rebuilt:\n{out}"
    );
    assert!(
        out.contains(&format!(
            "{} --target=wasm32-wasi --sysroot={}",
            sdk.join("bin/clang++").display(),
            sysroot.display()
        )),
        "{out}"
    );
    let o = wcomp_env(&proj, &["doctor"], Path::new(&path), Some(&sdk));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(&format!("sysroot {}", sysroot.display())),
        "{out}"
    );
}

/// Copies `from` into `to`, leaving out build outputs.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if ["build", "target", "gen"].iter().any(|s| name == *s) {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &to.join(&name));
        } else {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

/// examples/codec: the C++ checksum and the C base64 plugged into the Rust sealer,
/// built and composed by `wcomp build`, its tests passing and the composition running.
#[test]
fn codec_example_composes_c_cpp_and_rust() {
    if !toolchain_ready("c") || !toolchain_ready("cpp") || !toolchain_ready("rust") {
        return;
    }
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/codec");
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("codec");
    copy_tree(&example, &root);
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("codec-cargo-target");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_wcomp"))
            .args(args)
            .current_dir(&root)
            .env("NO_COLOR", "1")
            .env("CARGO_TARGET_DIR", &target)
            .output()
            .unwrap()
    };
    let o = run(&["build"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(root.join("build/codec.wasm").is_file(), "{}", text(&o));

    let o = run(&["test"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("10 passed, 0 failed"), "{out}");

    let o = run(&["run", "build/codec.wasm", "--invoke", "seal(\"hello\")"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "\"aGVsbG8=.3610a686\""
    );
    let o = run(&[
        "run",
        "build/codec.wasm",
        "--invoke",
        "open(\"aGVsbG8=.3610a686\")",
    ]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "ok(\"hello\")");
}
