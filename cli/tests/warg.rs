//! `wcomp publish` / `wcomp pull` with `warg://` references against a real `warg-server`
//! 0.10 (memory data store, temporary content dir) on a free loopback port. Built only
//! with `--features warg` (`required-features` in cli/Cargo.toml).
//!
//! warg-server comes from registry-server/scripts/install-test-deps.sh. Without it these
//! tests skip with a note, unless `WCOMP_REQUIRE_INTEROP` (or `CI`) is set, where they fail.
#![allow(clippy::disallowed_methods)] // tests set up files with std::fs directly

mod common;

use base64::Engine as _;
use common::{User, find_tool, free_port};
use std::process::{Child, Command, Stdio};
use wcomp_trust::KeyPair;

/// A warg-server with namespace `acme`, stopped when dropped.
struct Warg {
    host: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Warg {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn warg_server() -> Option<Warg> {
    let bin = find_tool("warg-server", &[])?;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let operator = base64::engine::general_purpose::STANDARD
        .encode(KeyPair::generate().ecdsa_p256().to_bytes());
    let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
    let mut child = Command::new(bin)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--content-dir")
        .arg(dir.path().join("content"))
        .args(["--namespace", "acme"])
        .env("WARG_OPERATOR_KEY", format!("ecdsa-p256:{operator}"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    for _ in 0..400 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(Warg {
                host: format!("127.0.0.1:{port}"),
                child,
                _dir: dir,
            });
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "warg-server exited ({status}):\n{}",
                std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("warg-server did not start");
}

// ---------------------------------------------------------------- fixtures

fn component(answer: u32) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(component
  (core module $m (func (export "f") (result i32) i32.const {answer}))
  (core instance $i (instantiate $m))
  (func $f (result u32) (canon lift (core func $i "f")))
  (export "answer" (func $f))
)"#
    ))
    .unwrap()
}

// ---------------------------------------------------------------- tests

#[test]
fn publish_then_pull_each_version_and_the_newest() {
    let Some(reg) = warg_server() else { return };
    let u = User::new();
    u.key("main");
    let id = u.key_id("main");
    u.trust("main", &format!("{}/acme", reg.host));
    let (v1, v2) = (component(1), component(2));
    u.write("v1.wasm", &v1);
    u.write("v2.wasm", &v2);
    let base = format!("warg://{}/acme:answer", reg.host);

    let p = u
        .ok(&["publish", "v1.wasm", &format!("{base}@1.0.0"), "--json"])
        .json();
    assert_eq!(p["key_id"], id.as_str());
    assert_eq!(p["initialized"], true);
    assert_eq!(p["kind"], "component");
    let text = u.ok(&["publish", "v2.wasm", &format!("{base}@1.1.0")]);
    assert!(text.stdout.contains("published"), "{}", text.stdout);
    assert!(!text.stdout.contains("new package log"), "{}", text.stdout);

    let got = u
        .ok(&["pull", &format!("{base}@1.0.0"), "-o", "a.wasm", "--json"])
        .json();
    assert_eq!(std::fs::read(u.path("a.wasm")).unwrap(), v1);
    assert_eq!(got["signer"]["key_id"], id.as_str());
    assert!(got["signer"]["trusted_as"].is_string(), "{got}");

    let newest = u.ok(&["pull", &base, "-o", "newest.wasm", "--json"]).json();
    assert_eq!(newest["version"], "1.1.0");
    assert_eq!(std::fs::read(u.path("newest.wasm")).unwrap(), v2);

    // Default output name, human output.
    let r = u.ok(&["pull", &format!("{base}@1.1.0")]);
    assert!(r.stdout.contains("signed by key"), "{}", r.stdout);
    assert_eq!(std::fs::read(u.path("answer.wasm")).unwrap(), v2);

    // Releases are immutable.
    u.run(&["publish", "v2.wasm", &format!("{base}@1.0.0")])
        .expect(1)
        .has("already exists");
}

#[test]
fn a_wit_package_round_trips() {
    let Some(reg) = warg_server() else { return };
    let u = User::new();
    u.key("main");
    u.write(
        "api.wit",
        b"package acme:api@0.1.0;\ninterface greet { hello: func() -> string; }\n",
    );
    let r = format!("warg://{}/acme:api@0.1.0", reg.host);
    let p = u.ok(&["publish", "api.wit", &r, "--json"]).json();
    assert_eq!(p["kind"], "wit-package");
    u.ok(&["pull", &r, "-o", "api.wasm"]);
    let bytes = std::fs::read(u.path("api.wasm")).unwrap();
    assert_eq!(&bytes[..4], b"\0asm");
}

#[test]
fn a_release_signed_by_an_untrusted_key_is_refused() {
    let Some(reg) = warg_server() else { return };
    let u = User::new();
    u.key("alice");
    u.key("bob");
    let (a, b) = (u.key_id("alice"), u.key_id("bob"));
    u.trust("bob", &format!("{}/acme", reg.host));
    u.write("c.wasm", &component(7));
    let r = format!("warg://{}/acme:app@1.0.0", reg.host);
    u.ok(&["publish", "c.wasm", &r, "--key", "alice"]);

    let refused = u.run(&["pull", &r, "-o", "out.wasm"]);
    refused.expect(1).has("unknown key");
    assert!(refused.stderr.contains(&a), "{}", refused.stderr);
    u.assert_only(&["c.wasm", "alice.pub", "bob.pub"]);

    // `--json` names the failed check on stdout.
    let j = u.run(&["pull", &r, "-o", "out.wasm", "--json"]);
    assert_eq!(j.code, 1);
    assert_eq!(j.json()["check"], "unknown-key");

    // Exactly `--key`: the wrong key refuses, the right one accepts.
    u.run(&["pull", &r, "-o", "out.wasm", "--key", "bob.pub"])
        .expect(1)
        .has(&a);
    u.assert_only(&["c.wasm", "alice.pub", "bob.pub"]);
    u.ok(&["pull", &r, "-o", "out.wasm", "--key", "alice.pub"]);

    // --insecure-skip-verify takes it anyway, loudly.
    std::fs::remove_file(u.path("out.wasm")).unwrap();
    let s = u.ok(&["pull", &r, "-o", "out.wasm", "--insecure-skip-verify"]);
    assert!(s.stderr.contains("WARNING"), "{}", s.stderr);
    assert!(s.stdout.contains("NOT checked"), "{}", s.stdout);
    assert_eq!(std::fs::read(u.path("out.wasm")).unwrap(), component(7));

    // Bob cannot release into Alice's package log.
    u.write("d.wasm", &component(8));
    u.run(&[
        "publish",
        "d.wasm",
        &format!("warg://{}/acme:app@1.0.1", reg.host),
        "--key",
        "bob",
    ])
    .expect(1)
    .has(&b);
}

#[test]
fn with_no_trusted_key_the_pull_warns() {
    let Some(reg) = warg_server() else { return };
    let u = User::new();
    u.key("main");
    let id = u.key_id("main");
    u.write("c.wasm", &component(3));
    let r = format!("warg://{}/acme:app@0.1.0", reg.host);
    u.ok(&["publish", "c.wasm", &r]);
    let p = u.ok(&["pull", &r, "-o", "c2.wasm"]);
    assert!(p.stderr.contains("warning"), "{}", p.stderr);
    assert!(p.stderr.contains("no key is trusted"), "{}", p.stderr);
    assert!(p.stderr.contains(&id), "{}", p.stderr);
}

#[test]
fn a_missing_package_or_version_fails_and_writes_nothing() {
    let Some(reg) = warg_server() else { return };
    let u = User::new();
    u.key("main");
    u.run(&[
        "pull",
        &format!("warg://{}/acme:nope@1.0.0", reg.host),
        "-o",
        "x.wasm",
    ])
    .expect(1)
    .has("does not exist");
    u.write("c.wasm", &component(4));
    u.ok(&[
        "publish",
        "c.wasm",
        &format!("warg://{}/acme:app@1.0.0", reg.host),
    ]);
    u.run(&[
        "pull",
        &format!("warg://{}/acme:app@2.0.0", reg.host),
        "-o",
        "x.wasm",
    ])
    .expect(1)
    .has("released: 1.0.0");
    u.assert_only(&["c.wasm", "main.pub"]);
}

#[test]
fn a_core_module_is_refused_before_anything_is_sent() {
    let Some(reg) = warg_server() else { return };
    let u = User::new();
    u.key("main");
    u.write("core.wasm", &wat::parse_str("(module)").unwrap());
    let r = format!("warg://{}/acme:core@1.0.0", reg.host);
    u.run(&["publish", "core.wasm", &r])
        .expect(1)
        .has("core module");
    u.run(&["pull", &r, "-o", "x.wasm"])
        .expect(1)
        .has("does not exist");
    u.write("junk.wasm", b"not wasm at all");
    u.run(&["publish", "junk.wasm", &r])
        .expect(1)
        .has("junk.wasm");
}

#[test]
fn an_unreachable_registry_is_an_environment_error() {
    let u = User::new();
    u.key("main");
    u.write("c.wasm", &component(5));
    let r = format!("warg://127.0.0.1:{}/acme:app@1.0.0", free_port());
    u.run(&["publish", "c.wasm", &r])
        .expect(2)
        .has("cannot reach the warg registry");
    u.run(&["pull", &r, "-o", "x.wasm"]).expect(2).has("hint:");
    u.assert_only(&["c.wasm", "main.pub"]);
}

#[test]
fn bad_references_and_flags_are_usage_errors() {
    let u = User::new();
    u.key("main");
    u.write("c.wasm", &component(6));
    u.run(&["publish", "c.wasm", "warg://127.0.0.1:1/acme:app"])
        .expect(2)
        .has("no version");
    u.run(&[
        "publish",
        "c.wasm",
        "warg://127.0.0.1:1/acme:app@1.0.0",
        "--no-sign",
    ])
    .expect(2)
    .has("only signed records");
    u.run(&["pull", "warg://127.0.0.1:1/nonamespace"])
        .expect(2)
        .has("not a warg reference");
}
