//! File-driven CLI tests, in the style of wasm-tools' `tests/cli`.
//!
//! Every `*.wat` and `*.wit` file under `tests/cli/` is a case. Its leading comment lines
//! (`;;` in WAT, `//` in WIT) are directives:
//!
//! - `BUILD <out>: <world> [<wit>]` builds a component whose world is `<world>` of this
//!   file (or of `<wit>`) with wit-component, written to `%t/<out>`.
//! - `BUILD-WIT <out>: <wit>` encodes the WIT package at `<wit>` as wasm, to `%t/<out>`.
//! - `TRUNCATE <out>: <in> <bytes>` writes the first `<bytes>` bytes of `%t/<in>`.
//! - `WRITE <out>: <text>` writes `<text>` (with `\n` and `\xNN` escapes) to `%t/<out>`.
//! - `STDIN: <path>` feeds a file to the next `RUN`.
//! - `RUN: <args>` runs `wcomp <args>` in the case's directory.
//!
//! In arguments, `%` is the case file and `%t` a fresh temporary directory (printed back
//! as `%t` in outputs). The expected exit code, stdout and stderr of every `RUN` are in
//! `<case>.out` beside the case; `BLESS=1 cargo test --test cli` rewrites them.
//!
//! Every `validate` run of a valid component is also checked against the anchor,
//! `wit_component::targets` (what `wasm-tools component targets` runs): with
//! `--strict-versions` the verdicts must be the same; without it, the same as the
//! semver-aware variant of that check.
#![allow(clippy::disallowed_methods)] // tests set up files with std::fs directly

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use wcomp_wasm::input::{self, BinaryKind, Content};
use wit_component::{ComponentEncoder, StringEncoding};
use wit_parser::{ManglingAndAbi, Resolve};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/cli");
    let root = root.canonicalize().expect("tests/cli exists");
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let mut cases = Vec::new();
    collect(&root, &mut cases);
    cases.sort();
    let bless = std::env::var_os("BLESS").is_some();
    let (mut passed, mut failed) = (0, 0);
    for case in &cases {
        let rel = case.strip_prefix(&root).unwrap().display().to_string();
        if filter.as_ref().is_some_and(|f| !rel.contains(f.as_str())) {
            continue;
        }
        match run_case(case, bless) {
            Ok(()) => {
                passed += 1;
                println!("test {rel} ... ok");
            }
            Err(e) => {
                failed += 1;
                println!("test {rel} ... FAILED\n{e}\n");
            }
        }
    }
    println!(
        "\ntest result: {}. {passed} passed; {failed} failed; 0 ignored; 0 measured; 0 filtered out\n",
        if failed == 0 { "ok" } else { "FAILED" }
    );
    if failed > 0 {
        std::process::exit(1);
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            // Fixture directories (WIT packages with deps/) are not cases themselves.
            if path.file_name().is_some_and(|n| n != "fixtures") {
                collect(&path, out);
            }
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("wat" | "wit")
        ) {
            out.push(path);
        }
    }
}

fn directives(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map_while(|l| {
            let l = l.trim();
            l.strip_prefix(";;").or_else(|| l.strip_prefix("//"))
        })
        .filter_map(|l| {
            let l = l.trim();
            let (key, rest) = l.split_once(':')?;
            let key = key.trim();
            let is_directive = ["RUN", "STDIN"].contains(&key)
                || key.starts_with("BUILD ")
                || key.starts_with("BUILD-WIT ")
                || key.starts_with("TRUNCATE ")
                || key.starts_with("WRITE ");
            is_directive.then(|| (key.to_string(), rest.trim().to_string()))
        })
        .collect()
}

fn run_case(case: &Path, bless: bool) -> Result<(), String> {
    let text = std::fs::read_to_string(case).map_err(|e| e.to_string())?;
    let dir = case.parent().unwrap();
    let file = case.file_name().unwrap().to_str().unwrap().to_string();
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let t = tmp.path();
    let subst = |s: &str| {
        s.replace("%t", &t.display().to_string())
            .replace('%', &file)
    };
    let mut actual = String::new();
    let mut stdin: Option<PathBuf> = None;
    let mut runs = 0;
    for (key, rest) in directives(&text) {
        if let Some(out) = key.strip_prefix("BUILD ") {
            let mut parts = rest.split_whitespace();
            let world = parts.next().ok_or("BUILD needs a world")?;
            let wit = parts.next().map_or(case.to_path_buf(), |p| dir.join(p));
            let bytes = build_component(&wit, world).map_err(|e| format!("BUILD {out}: {e:#}"))?;
            std::fs::write(t.join(out.trim()), bytes).map_err(|e| e.to_string())?;
        } else if let Some(out) = key.strip_prefix("BUILD-WIT ") {
            let mut resolve = Resolve::new();
            let (pkg, _) = resolve
                .push_path(dir.join(rest.trim()))
                .map_err(|e| format!("BUILD-WIT {out}: {e:#}"))?;
            let bytes =
                wit_component::encode(&resolve, pkg, false).map_err(|e| format!("{e:#}"))?;
            std::fs::write(t.join(out.trim()), bytes).map_err(|e| e.to_string())?;
        } else if let Some(out) = key.strip_prefix("WRITE ") {
            std::fs::write(t.join(out.trim()), unescape(&rest)).map_err(|e| e.to_string())?;
        } else if let Some(out) = key.strip_prefix("TRUNCATE ") {
            let (src, len) = rest.split_once(' ').ok_or("TRUNCATE <out>: <in> <bytes>")?;
            let bytes = std::fs::read(t.join(src)).map_err(|e| e.to_string())?;
            let len: usize = len.trim().parse().map_err(|_| "bad TRUNCATE length")?;
            std::fs::write(t.join(out.trim()), &bytes[..len.min(bytes.len())])
                .map_err(|e| e.to_string())?;
        } else if key == "STDIN" {
            stdin = Some(PathBuf::from(subst(&rest)));
        } else if key == "RUN" {
            runs += 1;
            let args: Vec<String> = rest.split_whitespace().map(subst).collect();
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_wcomp"));
            cmd.args(&args)
                .current_dir(dir)
                .env("NO_COLOR", "1")
                .env_remove("CLICOLOR_FORCE")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            match stdin.take() {
                Some(p) => {
                    let f = std::fs::File::open(dir.join(&p))
                        .map_err(|e| format!("STDIN {}: {e}", p.display()))?;
                    cmd.stdin(f);
                }
                None => {
                    cmd.stdin(Stdio::null());
                }
            }
            let output = cmd.output().map_err(|e| e.to_string())?;
            let code = output.status.code().unwrap_or(-1);
            let norm =
                |b: &[u8]| String::from_utf8_lossy(b).replace(&t.display().to_string(), "%t");
            let _ = write!(
                actual,
                "$ wcomp {}\nexit: {code}\n--- stdout\n{}--- stderr\n{}",
                rest,
                norm(&output.stdout),
                norm(&output.stderr)
            );
            if args.first().map(String::as_str) == Some("validate") && (code == 0 || code == 1) {
                anchor(dir, &args, code)?;
            }
        }
    }
    if runs == 0 {
        return Err("no RUN directive".into());
    }
    let expected_path = case.with_extension(format!(
        "{}.out",
        case.extension().unwrap().to_str().unwrap()
    ));
    if bless {
        std::fs::write(&expected_path, &actual).map_err(|e| e.to_string())?;
        return Ok(());
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
    if expected != actual {
        return Err(format!(
            "output differs from {} (BLESS=1 to update)\n{}",
            expected_path.display(),
            diff(&expected, &actual)
        ));
    }
    Ok(())
}

/// A component whose world is `world` of the WIT at `wit`, from wit-component's dummy
/// core module, as `wasm-tools component embed --dummy | component new` makes.
fn build_component(wit: &Path, world: &str) -> anyhow::Result<Vec<u8>> {
    let mut resolve = Resolve::new();
    let (pkg, _) = resolve.push_path(wit)?;
    let world = resolve.select_world(&[pkg], Some(world))?;
    let mut module = wit_component::dummy_module(&resolve, world, ManglingAndAbi::Standard32);
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        StringEncoding::UTF8,
        false,
    )?;
    ComponentEncoder::default()
        .module(&module)?
        .validate(true)
        .encode()
}

/// Compares the verdict of a `validate` run with `wit_component::targets`.
fn anchor(dir: &Path, args: &[String], code: i32) -> Result<(), String> {
    let mut components = Vec::new();
    let (mut wit, mut world, mut strict) = (None, None, false);
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--wit" => wit = it.next().cloned(),
            "--world" => world = it.next().cloned(),
            "--strict-versions" => strict = true,
            // The anchor knows only the world; host-provided imports are ours alone.
            "--allow-wasi" => return Ok(()),
            "--json" => {}
            other => components.push(other.to_string()),
        }
    }
    // Only single, readable, valid components have a verdict to compare.
    let [component] = components.as_slice() else {
        return Ok(());
    };
    let Some(wit) = wit else { return Ok(()) };
    let Ok(bytes) = std::fs::read(dir.join(component)) else {
        return Ok(());
    };
    let Ok(Content::Wasm(bin)) = input::classify(component, &bytes) else {
        return Ok(());
    };
    if bin.kind != BinaryKind::Component
        || wcomp_wasm::component::validate(component, &bin.bytes).is_err()
    {
        return Ok(());
    }
    let pkg = wcomp_wasm::wit::load(&dir.join(wit)).map_err(|e| e.to_string())?;
    let world = pkg
        .select_world(world.as_deref())
        .map_err(|e| e.to_string())?;
    let anchor = wit_component::targets(&pkg.resolve, world, &bin.bytes, !strict);
    let ours = code == 0;
    if anchor.is_ok() != ours {
        return Err(format!(
            "verdict differs from wit_component::targets (semver_compatible = {}): wcomp says {}, targets says {}",
            !strict,
            if ours { "conforms" } else { "does not conform" },
            match &anchor {
                Ok(()) => "conforms".to_string(),
                Err(e) => format!("does not conform: {e:#}"),
            }
        ));
    }
    Ok(())
}

fn diff(expected: &str, actual: &str) -> String {
    let e: Vec<&str> = expected.lines().collect();
    let a: Vec<&str> = actual.lines().collect();
    let mut out = String::new();
    for i in 0..e.len().max(a.len()) {
        match (e.get(i), a.get(i)) {
            (Some(x), Some(y)) if x == y => {}
            (x, y) => {
                let _ = writeln!(
                    out,
                    "line {}:\n  - {}\n  + {}",
                    i + 1,
                    x.unwrap_or(&"<none>"),
                    y.unwrap_or(&"<none>")
                );
            }
        }
    }
    out
}

/// `\n` and `\xNN` escapes, so WRITE can make binary fixtures.
fn unescape(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'n') {
            out.push(b'\n');
            i += 2;
        } else if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') && i + 3 < b.len() {
            out.push(u8::from_str_radix(&s[i + 2..i + 4], 16).expect("\\xNN escape"));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}
