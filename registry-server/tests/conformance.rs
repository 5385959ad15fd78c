//! The official OCI distribution-spec conformance suite (all four workflows: pull, push,
//! content discovery, content management) against the real binary on loopback ports, once
//! without auth and once with auth, through `scripts/conformance.sh`.
//!
//! The suite is a Go program built from the Go module proxy (`conformance.sh --install`, run by
//! `scripts/install-test-deps.sh`). Without it and without Go the test skips itself, except
//! under `CI` or `WCOMP_REQUIRE_INTEROP`, where that is a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
}

fn required() -> bool {
    std::env::var_os("WCOMP_REQUIRE_INTEROP").is_some()
        || std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Whether a built suite is already in the tools directory the script uses.
fn suite_built() -> bool {
    let dir = std::env::var_os("WCOMP_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target-tools/bin"));
    fs_err::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("oci-conformance-")
        })
    })
}

/// `pass=N fail=N ...` of one pass from the script's summary line.
fn counts<'a>(stdout: &'a str, mode: &str) -> Option<&'a str> {
    let prefix = format!("conformance ({mode}): ");
    stdout.lines().find_map(|l| l.strip_prefix(prefix.as_str()))
}

#[test]
fn oci_conformance_suite_passes_with_and_without_auth() {
    if !suite_built() && !on_path("go") {
        assert!(
            !required(),
            "the OCI conformance suite is required here but neither built nor buildable (no Go)"
        );
        eprintln!(
            "skipping: no OCI conformance suite and no Go to build it \
             (registry-server/scripts/install-test-deps.sh)"
        );
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/conformance.sh");
    let results = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .arg(&script)
        .env("WCOMP_REGISTRY_BIN", env!("CARGO_BIN_EXE_wcomp-registry"))
        .env("WCOMP_CONFORMANCE_RESULTS", results.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    if out.status.code() == Some(2) && !required() {
        // Setup trouble (e.g. the Go proxy unreachable), not a conformance failure.
        eprintln!("skipping: the conformance suite could not be set up:\n{stderr}");
        return;
    }
    assert!(
        out.status.success(),
        "the conformance suite failed:\n{stdout}\n{stderr}"
    );
    for mode in ["noauth", "auth"] {
        let line = counts(&stdout, mode).unwrap_or_else(|| panic!("no {mode} result:\n{stdout}"));
        assert!(
            line.starts_with("Pass ") && line.contains(" fail=0 ") && line.contains(" skip=0 "),
            "{mode}: {line}"
        );
        let pass: u32 = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("pass="))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        // The 1.1 profile has several hundred cases; a handful would mean the suite ran
        // almost nothing (e.g. it lost its configuration).
        assert!(pass > 500, "{mode}: only {pass} tests passed");
        // The suite's own reports exist for each pass.
        assert!(results.path().join(mode).join("results.yaml").is_file());
    }
}
