//! `wcomp key`, `publish`, `pull` and `verify` end to end: the `wcomp` binary as a
//! subprocess against real registries over real HTTP: our `wcomp-registry` (in-process,
//! with the referrers API) and Debian's `docker-registry` (distribution 2.8, no referrers
//! API, so the cosign tag fallback is exercised), plus cosign's own verifier.
//!
//! Tools that are not installed (docker-registry, cosign) skip their tests with a note,
//! unless `WCOMP_REQUIRE_INTEROP` (or `CI`) is set, where they fail.
#![allow(clippy::disallowed_methods)] // tests set up files with std::fs directly

mod common;

use base64::Engine as _;
use common::{Run, User, find_tool, free_port, wcomp_registry, wcomp_registry_with};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use wcomp_core::Digest;
use wcomp_oci::client::{Client, Options};
use wcomp_oci::manifest::{Descriptor, ImageManifest, OCI_IMAGE_CONFIG, OCI_MANIFEST};
use wcomp_trust::{KeyPair, dsse, intoto, simple_signing};

// ---------------------------------------------------------------- registries

/// Debian's docker-registry (distribution 2.8) on a loopback port.
struct Dist {
    host: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Dist {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn docker_registry() -> Option<Dist> {
    let bin = find_tool("docker-registry", &[PathBuf::from("/usr/bin")])?;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let mut child = Command::new(bin)
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(Dist {
                host: format!("127.0.0.1:{port}"),
                child,
                _dir: dir,
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("docker-registry did not start");
}

// ---------------------------------------------------------------- the user

// ---------------------------------------------------------------- fixtures

const COMPONENT_WAT: &str = r#"(component
  (core module $m (func (export "f") (result i32) i32.const 42))
  (core instance $i (instantiate $m))
  (func $f (result u32) (canon lift (core func $i "f")))
  (export "answer" (func $f))
)"#;

fn component() -> Vec<u8> {
    wat::parse_str(COMPONENT_WAT).unwrap()
}

fn leb(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// `bytes` with a top-level custom section appended.
fn with_custom_section(mut bytes: Vec<u8>, name: &str, data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    leb(name.len(), &mut body);
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(data);
    bytes.push(0);
    leb(body.len(), &mut bytes);
    bytes.extend_from_slice(&body);
    bytes
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn client(host: &str) -> Client {
    Client::new(host, None, Options::default())
}

fn manifest_digest(host: &str, repo: &str, tag: &str) -> Digest {
    rt().block_on(client(host).get_manifest(repo, tag))
        .unwrap()
        .unwrap()
        .digest
}

/// Pushes a cosign-style attached manifest (one layer) about `subject` under `tag`.
fn push_attached(
    host: &str,
    repo: &str,
    tag: Option<&str>,
    subject: &Digest,
    artifact_type: &str,
    layer: Descriptor,
    bytes: &[u8],
) {
    rt().block_on(async {
        let c = client(host);
        let subj = c
            .get_manifest(repo, &subject.to_string())
            .await
            .unwrap()
            .unwrap();
        c.push_blob(repo, bytes, &wcomp_oci::Quiet).await.unwrap();
        let cfg = b"{}";
        c.push_blob(repo, cfg, &wcomp_oci::Quiet).await.unwrap();
        let mut m = ImageManifest::new(Descriptor::of(OCI_IMAGE_CONFIG, cfg), vec![layer]);
        m.artifact_type = Some(artifact_type.into());
        m.subject = Some(Descriptor::of(OCI_MANIFEST, &subj.bytes));
        let json = m.to_json();
        let reference = tag.map_or_else(|| Digest::sha256(&json).to_string(), str::to_string);
        c.push_manifest(repo, &reference, &json, OCI_MANIFEST)
            .await
            .unwrap();
    });
}

fn signature_layer(payload: &[u8], sig: &[u8], key_id: &str) -> Descriptor {
    let mut d = Descriptor::of(simple_signing::PAYLOAD_MEDIA_TYPE, payload);
    d.annotations = BTreeMap::from([
        (
            simple_signing::SIGNATURE_ANNOTATION.to_string(),
            base64::engine::general_purpose::STANDARD.encode(sig),
        ),
        ("dev.wcomp.key-id".to_string(), key_id.to_string()),
    ]);
    d
}

// ---------------------------------------------------------------- tests

#[test]
fn key_generate_list_export_and_refusals() {
    let u = User::new();
    let r = u
        .ok(&["key", "generate", "--name", "first", "--json"])
        .json();
    assert_eq!(r["default"], true);
    let r2 = u
        .ok(&["key", "generate", "--name", "second", "--json"])
        .json();
    assert_eq!(r2["default"], false);
    let list = u.ok(&["key", "list", "--json"]).json();
    let keys = list["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0]["name"], "first");
    assert_eq!(keys[0]["default"], true);
    assert_eq!(keys[0]["key_id"], r["key_id"]);
    // Export without a name is the default key, a PEM that parses to the listed key id.
    let pem = u.ok(&["key", "export"]).stdout;
    let public = wcomp_trust::PublicKey::from_pem(&pem).unwrap();
    assert_eq!(public.key_id(), r["key_id"].as_str().unwrap());
    // The private key is encrypted and private.
    let private = u.config.path().join("keys/first.key");
    let text = std::fs::read_to_string(&private).unwrap();
    assert!(text.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&private).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // Same name twice: refused. No passphrase and no terminal: exit 2 with a hint.
    assert_eq!(u.run(&["key", "generate", "--name", "first"]).code, 2);
    let r = u
        .cmd(&["key", "generate", "--name", "third"])
        .env_remove("WCOMP_KEY_PASSWORD")
        .output()
        .unwrap();
    let r = Run::from(r);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("hint: set WCOMP_KEY_PASSWORD"),
        "{}",
        r.stderr
    );
    assert!(!u.config.path().join("keys/third.key").exists());
    assert_eq!(u.run(&["key", "export", "nope"]).code, 2);
}

/// On a terminal the passphrase is asked twice and never echoed; the key it protects
/// opens with it. Python's `pty` module plays the terminal.
#[test]
fn the_passphrase_prompt_does_not_echo() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("SKIP: no python3 for a pseudo-terminal");
        return;
    }
    let u = User::new();
    let script = r#"
import os, pty, signal, sys
signal.alarm(120)  # a prompt that never returns fails the test instead of hanging it
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], "key", "generate", "--name", "typed"])
seen = b""
def read_until(marker):
    global seen
    while marker not in seen:
        chunk = os.read(fd, 1024)
        if not chunk:
            raise SystemExit("eof before " + repr(marker) + ": " + repr(seen))
        seen += chunk
read_until(b"passphrase to protect key")
os.write(fd, b"typed-secret-9\n")
read_until(b"repeat the passphrase")
os.write(fd, b"typed-secret-9\n")
while True:
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    seen += chunk
_, status = os.waitpid(pid, 0)
sys.stdout.write(seen.decode("utf-8", "replace"))
sys.exit(os.waitstatus_to_exitcode(status))
"#;
    let out = Command::new("python3")
        .args(["-c", script, env!("CARGO_BIN_EXE_wcomp")])
        .env("WCOMP_CONFIG_DIR", u.config.path())
        .env("NO_COLOR", "1")
        .env_remove("WCOMP_KEY_PASSWORD")
        .output()
        .unwrap();
    let terminal = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{terminal}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(terminal.contains("repeat the passphrase"), "{terminal}");
    assert!(
        !terminal.contains("typed-secret-9"),
        "the passphrase was echoed:\n{terminal}"
    );
    let pem = std::fs::read_to_string(u.config.path().join("keys/typed.key")).unwrap();
    KeyPair::from_encrypted_pem(&pem, "typed-secret-9").unwrap();
}

#[test]
fn publish_pull_round_trip_of_a_component_and_a_wit_package() {
    let reg = wcomp_registry();
    let u = User::new();
    let pubkey = u.key("main");
    u.ok(&[
        "key",
        "trust",
        pubkey.to_str().unwrap(),
        "--for",
        &format!("{}/acme", reg.host),
    ]);
    let bytes = component();
    u.write("answer.wasm", &bytes);
    let reference = format!("{}/acme/answer:1.0.0", reg.host);
    let p = u
        .ok(&[
            "publish",
            "answer.wasm",
            &reference,
            "--json",
            "--annotation",
            "org.opencontainers.image.source=https://example.com/src",
        ])
        .json();
    assert_eq!(p["signed"], true);
    assert_eq!(p["kind"], "component");
    assert_eq!(p["layer_digest"], Digest::sha256(&bytes).to_string());

    // The artifact is the CNCF Wasm OCI layout.
    let (manifest, config) = rt().block_on(async {
        let c = client(&reg.host);
        let m = c
            .get_manifest("acme/answer", "1.0.0")
            .await
            .unwrap()
            .unwrap();
        let m = ImageManifest::from_json(&m.bytes).unwrap();
        let cfg = c
            .get_blob("acme/answer", &m.config.digest.parse().unwrap())
            .await
            .unwrap();
        (m, serde_json::from_slice::<Value>(&cfg).unwrap())
    });
    assert_eq!(
        manifest.config.media_type,
        "application/vnd.wasm.config.v0+json"
    );
    assert_eq!(manifest.layers.len(), 1);
    assert_eq!(manifest.layers[0].media_type, "application/wasm");
    assert_eq!(
        manifest.layers[0].annotations["org.opencontainers.image.title"],
        "answer.wasm"
    );
    assert_eq!(
        manifest.annotations["org.opencontainers.image.version"],
        "1.0.0"
    );
    assert_eq!(
        manifest.annotations["org.opencontainers.image.source"],
        "https://example.com/src"
    );
    assert_eq!(config["architecture"], "wasm");
    assert_eq!(config["os"], "wasip2");
    assert_eq!(config["layerDigests"][0], p["layer_digest"]);
    assert_eq!(
        config["component"]["exports"],
        serde_json::json!(["answer"])
    );

    // Pull with the trust policy: bytes equal, signature and attestation verified.
    let pulled = u
        .ok(&["pull", &reference, "-o", "got.wasm", "--json"])
        .json();
    assert_eq!(std::fs::read(u.path("got.wasm")).unwrap(), bytes);
    let v = &pulled["verification"];
    assert_eq!(v["signers"][0]["key_id"], p["key_id"]);
    assert_eq!(v["referrers_api"], true);
    assert_eq!(
        v["attestations"][0]["predicate_type"],
        "https://slsa.dev/provenance/v1"
    );
    let pred = &v["attestations"][0]["predicate"];
    assert_eq!(
        pred["buildDefinition"]["buildType"],
        "https://wcomp.dev/buildtypes/upload/v1"
    );
    assert!(
        pred["runDetails"]["builder"]["id"]
            .as_str()
            .unwrap()
            .starts_with("https://wcomp.dev/wcomp@")
    );

    // Default output name is the layer title; verify agrees.
    u.ok(&["pull", &reference]);
    assert_eq!(std::fs::read(u.path("answer.wasm")).unwrap(), bytes);
    let v = u.ok(&["verify", &reference]).stdout;
    assert!(v.contains("signed by key"), "{v}");

    // The component's own wasm-metadata becomes manifest annotations (wkg does the
    // same); the tag still sets the version and `--annotation` still wins.
    let mut meta = wasm_metadata::AddMetadata::default();
    meta.description =
        wasm_metadata::AddMetadataField::Set(wasm_metadata::Description::new("answers"));
    meta.licenses =
        wasm_metadata::AddMetadataField::Set(wasm_metadata::Licenses::new("Apache-2.0").unwrap());
    meta.source = wasm_metadata::AddMetadataField::Set(
        wasm_metadata::Source::new("https://example.com/meta").unwrap(),
    );
    meta.version = wasm_metadata::AddMetadataField::Set(wasm_metadata::Version::new("9.9.9"));
    let described = meta.to_wasm(&bytes).unwrap();
    u.write("described.wasm", &described);
    let dref = format!("{}/acme/described:2.0.0", reg.host);
    u.ok(&[
        "publish",
        "described.wasm",
        &dref,
        "--annotation",
        "org.opencontainers.image.licenses=MIT",
    ]);
    let m = rt().block_on(async {
        let m = client(&reg.host)
            .get_manifest("acme/described", "2.0.0")
            .await
            .unwrap()
            .unwrap();
        ImageManifest::from_json(&m.bytes).unwrap()
    });
    assert_eq!(
        m.annotations["org.opencontainers.image.description"],
        "answers"
    );
    assert_eq!(
        m.annotations["org.opencontainers.image.source"],
        "https://example.com/meta"
    );
    assert_eq!(m.annotations["org.opencontainers.image.version"], "2.0.0");
    assert_eq!(m.annotations["org.opencontainers.image.licenses"], "MIT");

    // A WIT package (a directory with deps/).
    let wit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/cli/fixtures/app-dir");
    let wref = format!("{}/acme/app-wit:1.0.0", reg.host);
    let wp = u
        .ok(&["publish", wit.to_str().unwrap(), &wref, "--json"])
        .json();
    assert_eq!(wp["kind"], "wit-package");
    u.ok(&["pull", &wref, "-o", "app-wit.wasm"]);
    let got = std::fs::read(u.path("app-wit.wasm")).unwrap();
    assert_eq!(
        Digest::sha256(&got).to_string(),
        wp["layer_digest"].as_str().unwrap()
    );
    let inspect = u.ok(&["inspect", "app-wit.wasm", "--json"]).json();
    assert_eq!(inspect["kind"], "wit-package");
}

#[test]
fn a_tampered_layer_blob_is_refused_and_nothing_is_written() {
    let reg = wcomp_registry();
    let u = User::new();
    u.key("main");
    let bytes = component();
    u.write("c.wasm", &bytes);
    let reference = format!("{}/acme/tamper:1.0.0", reg.host);
    u.ok(&["publish", "c.wasm", &reference]);
    // Change the blob where the registry stores it (same length, one byte flipped).
    let hex = Digest::sha256(&bytes).hex().to_string();
    let blob = reg
        .data
        .join(format!("storage/blobs/sha256/{}/{hex}", &hex[..2]));
    let mut stored = std::fs::read(&blob).unwrap_or_else(|e| panic!("{}: {e}", blob.display()));
    let last = stored.len() - 1;
    stored[last] ^= 0xff;
    std::fs::write(&blob, &stored).unwrap();
    let r = u.run(&[
        "pull", &reference, "-o", "out.wasm", "--key", "main.pub", "--json",
    ]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("digest mismatch"), "{}", r.stderr);
    assert_eq!(r.json()["check"], "digest-mismatch");
    u.assert_only(&["c.wasm", "main.pub"]);
    // --insecure-skip-verify does not skip the digest.
    let r = u.run(&[
        "pull",
        &reference,
        "-o",
        "out.wasm",
        "--insecure-skip-verify",
    ]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("WARNING"), "{}", r.stderr);
    u.assert_only(&["c.wasm", "main.pub"]);
}

#[test]
fn signatures_by_other_keys_missing_signatures_and_foreign_attestations_are_refused() {
    let reg = wcomp_registry();
    let u = User::new();
    let main = u.key("main");
    u.key("other");
    u.ok(&[
        "key",
        "trust",
        main.to_str().unwrap(),
        "--for",
        &format!("{}/acme", reg.host),
    ]);
    u.write("c.wasm", &component());

    // (b) Signed, but by a key not trusted for the namespace.
    let r1 = format!("{}/acme/by-other:1.0.0", reg.host);
    u.ok(&["publish", "c.wasm", &r1, "--key", "other"]);
    let r = u.run(&["pull", &r1, "-o", "x.wasm", "--json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("unknown key"), "{}", r.stderr);
    assert_eq!(r.json()["check"], "unknown-key");
    // ... and with --key naming the trusted key exactly.
    let r = u.run(&["pull", &r1, "-o", "x.wasm", "--key", "main.pub"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("unknown key"), "{}", r.stderr);

    // (c) Unsigned in a namespace with a trusted key: refused; elsewhere: a warning.
    let r2 = format!("{}/acme/unsigned:1.0.0", reg.host);
    let p = u.ok(&["publish", "c.wasm", &r2, "--no-sign"]);
    assert!(p.stderr.contains("WITHOUT a signature"), "{}", p.stderr);
    let r = u.run(&["pull", &r2, "-o", "x.wasm", "--json"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("no signature"), "{}", r.stderr);
    assert_eq!(r.json()["check"], "no-signature");
    // --insecure-skip-verify takes it anyway, and says so loudly.
    let r = u.run(&[
        "pull",
        &r2,
        "-o",
        "skipped.wasm",
        "--insecure-skip-verify",
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("WARNING") && r.stderr.contains("NOT be checked"),
        "{}",
        r.stderr
    );
    assert_eq!(
        r.json()["skipped"],
        serde_json::json!(["signature", "attestation"])
    );
    std::fs::remove_file(u.path("skipped.wasm")).unwrap();
    let r3 = format!("{}/scratch/unsigned:1.0.0", reg.host);
    u.ok(&["publish", "c.wasm", &r3, "--no-sign"]);
    let r = u.ok(&["pull", &r3, "-o", "scratch.wasm"]);
    assert!(r.stderr.contains("is not signed"), "{}", r.stderr);

    // (d) A correctly signed artifact plus an attestation, signed by the trusted key,
    // whose statement is about another digest.
    let r4 = format!("{}/acme/foreign-att:1.0.0", reg.host);
    u.ok(&["publish", "c.wasm", &r4]);
    u.ok(&["pull", &r4, "-o", "before.wasm"]);
    let d = manifest_digest(&reg.host, "acme/foreign-att", "1.0.0");
    let elsewhere = Digest::sha256(b"some other artifact");
    let statement =
        intoto::Statement::provenance("x", &elsewhere.to_string(), &intoto::Provenance::default());
    let env = dsse::sign(
        &u.signing_key("main"),
        dsse::INTOTO_PAYLOAD_TYPE,
        &statement.to_json(),
    )
    .unwrap()
    .to_json();
    let mut layer = Descriptor::of(dsse::ENVELOPE_MEDIA_TYPE, &env);
    layer
        .annotations
        .insert("predicateType".into(), intoto::SLSA_PROVENANCE_V1.into());
    push_attached(
        &reg.host,
        "acme/foreign-att",
        None,
        &d,
        "application/vnd.dev.cosign.artifact.att.v1+json",
        layer,
        &env,
    );
    let r = u.run(&["pull", &r4, "-o", "x.wasm", "--json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("attestation subject mismatch"),
        "{}",
        r.stderr
    );
    assert_eq!(r.json()["check"], "attestation-subject-mismatch");
    u.assert_only(&[
        "c.wasm",
        "main.pub",
        "other.pub",
        "scratch.wasm",
        "before.wasm",
    ]);
}

#[test]
fn publishing_a_core_module_or_a_non_wasm_file_is_refused() {
    let reg = wcomp_registry();
    let u = User::new();
    u.key("main");
    u.write("core.wat", b"(module (func (export \"f\")))");
    u.write("notes.txt", b"hello, not wasm");
    let reference = format!("{}/acme/bad:1.0.0", reg.host);
    let r = u.run(&["publish", "core.wat", &reference]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("core WebAssembly module"), "{}", r.stderr);
    let r = u.run(&["publish", "notes.txt", &reference]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("not a WebAssembly file"), "{}", r.stderr);
    let r = u.run(&["publish", "missing.wasm", &reference]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    u.write("ok.wasm", &component());
    let r = u.run(&["publish", "ok.wasm", "not-a-reference"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("invalid reference"), "{}", r.stderr);
    // A wrong passphrase (the key is unlocked while the layer uploads): no manifest, no
    // tag.
    let r = u.run_with(
        &["publish", "ok.wasm", &reference],
        &[("WCOMP_KEY_PASSWORD", "not the passphrase")],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("could not be decrypted"), "{}", r.stderr);
    // Nothing reached the registry.
    let tags = rt().block_on(client(&reg.host).tags("acme/bad")).unwrap();
    assert!(tags.is_empty(), "{tags:?}");
}

/// A manifest the registry refuses (a WIT package where only components are accepted):
/// the publish fails, and the signature and attestation pushed beside it are deleted again,
/// so no `.sig`/`.att` tag is left behind.
#[test]
fn a_refused_manifest_leaves_no_signature_behind() {
    let reg = wcomp_registry_with(|c| {
        c.namespaces = vec![wcomp_registry::config::NamespacePolicy {
            pattern: "strict/**".into(),
            require_components: true,
            quota_bytes: None,
        }];
    });
    let u = User::new();
    u.key("main");
    let wit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/cli/fixtures/app-dir");
    let r = u.run(&[
        "publish",
        wit.to_str().unwrap(),
        &format!("{}/strict/app-wit:1.0.0", reg.host),
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let tags = rt()
        .block_on(client(&reg.host).tags("strict/app-wit"))
        .unwrap();
    assert!(tags.is_empty(), "left behind: {tags:?}");
}

#[test]
fn the_key_agent_signs_for_publish_without_the_passphrase() {
    use std::io::BufRead as _;
    let reg = wcomp_registry();
    let u = User::new();
    let pubkey = u.key("main");
    let key_id = u.signing_key("main").public().key_id();
    u.write("answer.wasm", &component());
    let socket = u.config.path().join("agent.sock");
    // No passphrase anywhere and no terminal: only an agent can sign.
    let without_passphrase = |args: &[&str]| -> Run {
        u.cmd(args)
            .env_remove("WCOMP_KEY_PASSWORD")
            .output()
            .unwrap()
            .into()
    };
    let start_agent = |extra: &[&str]| {
        let mut child = u
            .cmd(&[&["key", "agent"], extra].concat())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(
            line.trim(),
            format!(
                "WCOMP_AGENT_SOCK='{}'; export WCOMP_AGENT_SOCK;",
                socket.display()
            )
        );
        child
    };

    // A wrong passphrase or an unknown key starts nothing.
    let r = u.run_with(
        &["key", "agent"],
        &[("WCOMP_KEY_PASSWORD", "not the passphrase")],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("could not be decrypted"), "{}", r.stderr);
    assert!(!socket.exists());
    let r = u.run(&["key", "agent", "missing"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no key named `missing`"), "{}", r.stderr);

    let mut agent = start_agent(&["--lifetime", "120s"]);
    let reference = format!("{}/acme/agent:1.0.0", reg.host);
    let r = without_passphrase(&["publish", "answer.wasm", &reference, "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let p = r.json();
    assert_eq!(p["signed"], true);
    assert_eq!(p["key_id"], key_id.as_str());
    // The signature and the attestation verify under the key itself.
    u.ok(&[
        "pull",
        &reference,
        "-o",
        "pulled.wasm",
        "--key",
        pubkey.to_str().unwrap(),
    ]);
    // One agent per socket.
    let r = u.run(&["key", "agent"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("already listens"), "{}", r.stderr);

    u.ok(&["key", "agent", "--stop"]);
    assert!(agent.wait().unwrap().success());
    assert!(!socket.exists());
    let next = format!("{}/acme/agent:1.0.1", reg.host);
    let r = without_passphrase(&["publish", "answer.wasm", &next]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no terminal"), "{}", r.stderr);

    // An agent killed outright leaves its socket; clients then use the key file, and a new
    // agent replaces the stale socket.
    let mut agent = start_agent(&["--lifetime", "120s"]);
    agent.kill().unwrap();
    agent.wait().unwrap();
    assert!(socket.exists());
    u.ok(&["publish", "answer.wasm", &next]);
    // `--lifetime`: the agent exits by itself and removes its socket.
    let mut agent = start_agent(&["--lifetime", "1s"]);
    assert!(agent.wait().unwrap().success());
    assert!(!socket.exists());
}

#[test]
fn composition_provenance_lists_exactly_its_parts() {
    let reg = wcomp_registry();
    let u = User::new();
    let main = u.key("main");
    u.ok(&["key", "trust", main.to_str().unwrap()]);
    let d1 = Digest::sha256(b"validator bytes");
    let d2 = Digest::sha256(b"db adapter bytes");
    let record = serde_json::json!({
        "version": 1, "tool": "wcomp 0.1.0",
        "parts": [
            {"name": "validator", "source": "parts/validator.wasm", "digest": d1.to_string()},
            {"name": "db", "source": "127.0.0.1:9/acme/db:1.0.0", "digest": d2.to_string(),
             "manifestDigest": d2.to_string(), "signer": "abc123"}
        ]
    });
    let bytes = with_custom_section(
        component(),
        "wcomp-composition",
        &serde_json::to_vec(&record).unwrap(),
    );
    // A nested custom section of the same name is not the composition's own; the test
    // component has none, so only the top-level one counts.
    u.write("composed.wasm", &bytes);
    let reference = format!("{}/acme/pipeline:1.0.0", reg.host);
    let p = u
        .ok(&["publish", "composed.wasm", &reference, "--json"])
        .json();
    assert_eq!(
        p["build_type"],
        "https://wcomp.dev/buildtypes/composition/v1"
    );
    // The `db` part names a registry nobody runs: `verify` reports it as failed (exit 1),
    // and the provenance still lists both parts.
    let r = u.run(&["verify", &reference, "--json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["parts"][0]["status"], "not-checked");
    assert_eq!(v["parts"][1]["status"], "failed");
    let pred = &v["verification"]["attestations"][0]["predicate"]["buildDefinition"];
    assert_eq!(
        pred["buildType"],
        "https://wcomp.dev/buildtypes/composition/v1"
    );
    let deps = pred["resolvedDependencies"].as_array().unwrap();
    assert_eq!(deps.len(), 2, "{deps:?}");
    assert_eq!(deps[0]["name"], "validator");
    assert_eq!(deps[0]["uri"], "parts/validator.wasm");
    assert_eq!(deps[0]["digest"]["sha256"], d1.hex());
    assert_eq!(deps[1]["name"], "db");
    assert_eq!(deps[1]["uri"], "127.0.0.1:9/acme/db:1.0.0");
    assert_eq!(deps[1]["digest"]["sha256"], d2.hex());
    assert_eq!(deps[1]["annotations"]["signer"], "abc123");
    let text = u.run(&["verify", &reference]).stdout;
    assert!(text.contains("parts (2)"), "{text}");
    assert!(text.contains("validator"), "{text}");
    // A plain component has no dependencies listed.
    u.write("plain.wasm", &component());
    let plain = format!("{}/acme/plain:1.0.0", reg.host);
    u.ok(&["publish", "plain.wasm", &plain]);
    let v = u.ok(&["verify", &plain, "--json"]).json();
    assert!(v["verification"]["attestations"][0]["predicate"]["buildDefinition"]["resolvedDependencies"].is_null());
}

#[test]
fn docker_registry_without_referrers_uses_the_cosign_tags() {
    let Some(dist) = docker_registry() else {
        return;
    };
    let u = User::new();
    u.key("main");
    u.key("other");
    let bytes = component();
    u.write("c.wasm", &bytes);
    let reference = format!("{}/acme/app:1.0.0", dist.host);
    u.ok(&["publish", "c.wasm", &reference]);
    let r = u
        .ok(&[
            "pull", &reference, "-o", "got.wasm", "--key", "main.pub", "--json",
        ])
        .json();
    assert_eq!(std::fs::read(u.path("got.wasm")).unwrap(), bytes);
    assert_eq!(r["verification"]["referrers_api"], false);
    assert_eq!(
        r["verification"]["attestations"].as_array().unwrap().len(),
        1
    );
    std::fs::remove_file(u.path("got.wasm")).unwrap();

    // A 9 MiB component goes up in chunked PATCHes (over the 4 MiB monolithic limit).
    let filler: Vec<u8> = (0..9 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let big = with_custom_section(component(), "filler", &filler);
    u.write("big.wasm", &big);
    let big_ref = format!("{}/acme/big:1.0.0", dist.host);
    u.ok(&["publish", "big.wasm", &big_ref]);
    u.ok(&["pull", &big_ref, "-o", "big-got.wasm", "--key", "main.pub"]);
    assert!(std::fs::read(u.path("big-got.wasm")).unwrap() == big);
    std::fs::remove_file(u.path("big-got.wasm")).unwrap();
    std::fs::remove_file(u.path("big.wasm")).unwrap();

    let d = manifest_digest(&dist.host, "acme/app", "1.0.0");
    let sig_tag = format!("sha256-{}.sig", d.hex());
    let payload = simple_signing::payload(
        &format!("{}/acme/app", dist.host),
        &d.to_string(),
        &Default::default(),
    );
    let main = u.signing_key("main");
    let other = u.signing_key("other");

    // (b) The signature replaced by one from another key.
    let sig = other.sign(&payload);
    push_attached(
        &dist.host,
        "acme/app",
        Some(&sig_tag),
        &d,
        simple_signing::SIGNATURE_ARTIFACT_TYPE,
        signature_layer(&payload, &sig, &other.public().key_id()),
        &payload,
    );
    let r = u.run(&["pull", &reference, "-o", "got.wasm", "--key", "main.pub"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("unknown key"), "{}", r.stderr);

    // A signature that claims the trusted key but does not verify with it.
    let sig = other.sign(&payload);
    push_attached(
        &dist.host,
        "acme/app",
        Some(&sig_tag),
        &d,
        simple_signing::SIGNATURE_ARTIFACT_TYPE,
        signature_layer(&payload, &sig, &main.public().key_id()),
        &payload,
    );
    let r = u.run(&["pull", &reference, "-o", "got.wasm", "--key", "main.pub"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("bad signature"), "{}", r.stderr);

    // (c) The signature dropped: delete the signature manifest (and with it the tag).
    let sig_digest = manifest_digest(&dist.host, "acme/app", &sig_tag);
    rt().block_on(client(&dist.host).delete_manifest("acme/app", &sig_digest.to_string()))
        .unwrap();
    let r = u.run(&[
        "pull", &reference, "-o", "got.wasm", "--key", "main.pub", "--json",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.json()["check"], "no-signature");

    // (d) Signed again, but the attestation tag now holds a statement about another digest.
    let sig = main.sign(&payload);
    push_attached(
        &dist.host,
        "acme/app",
        Some(&sig_tag),
        &d,
        simple_signing::SIGNATURE_ARTIFACT_TYPE,
        signature_layer(&payload, &sig, &main.public().key_id()),
        &payload,
    );
    u.ok(&["pull", &reference, "-o", "again.wasm", "--key", "main.pub"]);
    let statement = intoto::Statement::provenance(
        "x",
        &Digest::sha256(b"else").to_string(),
        &intoto::Provenance::default(),
    );
    let env = dsse::sign(&main, dsse::INTOTO_PAYLOAD_TYPE, &statement.to_json())
        .unwrap()
        .to_json();
    let layer = Descriptor::of(dsse::ENVELOPE_MEDIA_TYPE, &env);
    push_attached(
        &dist.host,
        "acme/app",
        Some(&format!("sha256-{}.att", d.hex())),
        &d,
        "application/vnd.dev.cosign.artifact.att.v1+json",
        layer,
        &env,
    );
    let r = u.run(&["pull", &reference, "-o", "got.wasm", "--key", "main.pub"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("attestation subject mismatch"),
        "{}",
        r.stderr
    );
    u.assert_only(&["c.wasm", "main.pub", "other.pub", "again.wasm"]);
}

#[test]
fn cosign_and_wcomp_verify_each_others_signatures_and_attestations() {
    let Some(cosign) = find_tool("cosign", &[]) else {
        return;
    };
    let reg = wcomp_registry();
    let u = User::new();
    let main = u.key("main");
    let other = u.key("other");
    u.write("c.wasm", &component());
    let mut hosts = vec![reg.host.clone()];
    let dist = docker_registry();
    if let Some(d) = &dist {
        hosts.push(d.host.clone());
    }
    for host in hosts {
        let reference = format!("{host}/acme/cosigned:1.0.0");
        u.ok(&["publish", "c.wasm", &reference]);
        let cosign_run = |args: &[&str]| -> Run {
            Command::new(&cosign)
                .args(args)
                .env("HOME", u.work.path())
                .env("SIGSTORE_NO_CACHE", "1")
                .env("TUF_ROOT", u.work.path().join("tuf"))
                .stdin(Stdio::null())
                .output()
                .unwrap()
                .into()
        };
        let key = main.to_str().unwrap();
        let r = cosign_run(&[
            "verify",
            "--key",
            key,
            "--insecure-ignore-tlog=true",
            "--allow-http-registry",
            &reference,
        ]);
        assert_eq!(
            r.code, 0,
            "cosign verify on {host}:\n{}\n{}",
            r.stdout, r.stderr
        );
        assert!(
            r.stdout.contains("cosign container image signature"),
            "{}",
            r.stdout
        );
        let r = cosign_run(&[
            "verify-attestation",
            "--key",
            key,
            "--type",
            "slsaprovenance1",
            "--insecure-ignore-tlog=true",
            "--allow-http-registry",
            &reference,
        ]);
        assert_eq!(
            r.code, 0,
            "cosign verify-attestation on {host}:\n{}\n{}",
            r.stdout, r.stderr
        );
        // The other way round: cosign signs and attests (in-toto v0.1, as cosign writes
        // it) with its own key format, and wcomp verifies.
        let theirs = format!("{host}/acme/cosign-signed:1.0.0");
        let d = u
            .ok(&["publish", "c.wasm", &theirs, "--no-sign", "--json"])
            .json()["manifest_digest"]
            .as_str()
            .unwrap()
            .to_string();
        let by_digest = format!("{host}/acme/cosign-signed@{d}");
        if !u.path("cosign.pub").exists() {
            let r: Run = Command::new(&cosign)
                .args(["generate-key-pair"])
                .current_dir(u.work.path())
                .env("COSIGN_PASSWORD", "cosign-pw")
                .stdin(Stdio::null())
                .output()
                .unwrap()
                .into();
            assert_eq!(r.code, 0, "{}", r.stderr);
        }
        u.write(
            "pred.json",
            br#"{"buildDefinition":{"buildType":"https://example.com/t","externalParameters":{}},"runDetails":{"builder":{"id":"https://example.com/b"}}}"#,
        );
        for args in [
            vec![
                "sign",
                "--key",
                "cosign.key",
                "--tlog-upload=false",
                "--allow-http-registry",
                "-y",
                &by_digest,
            ],
            vec![
                "attest",
                "--key",
                "cosign.key",
                "--predicate",
                "pred.json",
                "--type",
                "slsaprovenance1",
                "--tlog-upload=false",
                "--allow-http-registry",
                "-y",
                &by_digest,
            ],
        ] {
            let r: Run = Command::new(&cosign)
                .args(&args)
                .current_dir(u.work.path())
                .env("HOME", u.work.path())
                .env("COSIGN_PASSWORD", "cosign-pw")
                .stdin(Stdio::null())
                .output()
                .unwrap()
                .into();
            assert_eq!(r.code, 0, "cosign {args:?}:\n{}", r.stderr);
        }
        let v = u
            .ok(&["verify", &theirs, "--key", "cosign.pub", "--json"])
            .json();
        let v = &v["verification"];
        assert_eq!(v["signers"].as_array().unwrap().len(), 1, "{v}");
        assert_eq!(
            v["attestations"][0]["statement_type"],
            "https://in-toto.io/Statement/v0.1"
        );
        assert_eq!(
            v["attestations"][0]["predicate"]["runDetails"]["builder"]["id"],
            "https://example.com/b"
        );

        // And cosign refuses a key that did not sign.
        let r = cosign_run(&[
            "verify",
            "--key",
            other.to_str().unwrap(),
            "--insecure-ignore-tlog=true",
            "--allow-http-registry",
            &reference,
        ]);
        assert_ne!(r.code, 0, "cosign accepted a signature under the wrong key");
    }
}

/// Keys move between the tools: a key from `cosign generate-key-pair` imports as a wcomp
/// signing key (same key id), and a wcomp key exported with `--cosign-private` is one
/// cosign signs with: `cosign sign --key` stores a signature that `wcomp pull` verifies
/// against the wcomp key. A wrong password imports nothing.
#[test]
fn keys_import_from_and_export_to_cosign() {
    let Some(cosign) = find_tool("cosign", &[]) else {
        return;
    };
    let reg = wcomp_registry();
    let u = User::new();
    let cosign_cmd = |args: &[&str], password: &str| -> Run {
        Command::new(&cosign)
            .args(args)
            .current_dir(u.work.path())
            .env("HOME", u.work.path())
            .env("COSIGN_PASSWORD", password)
            .stdin(Stdio::null())
            .output()
            .unwrap()
            .into()
    };
    let r = cosign_cmd(&["generate-key-pair"], "cosign-pw");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let cosign_id =
        wcomp_trust::PublicKey::from_pem(&std::fs::read_to_string(u.path("cosign.pub")).unwrap())
            .unwrap()
            .key_id();

    // Wrong password: refused (exit 1), no key written.
    let r = u.run_with(
        &["key", "import", "cosign.key", "--name", "ci"],
        &[("COSIGN_PASSWORD", "wrong")],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("could not be decrypted"), "{}", r.stderr);
    assert!(!u.config.path().join("keys/ci.key").exists());
    let r = u.run_with(
        &["key", "import", "cosign.key", "--name", "ci", "--json"],
        &[("COSIGN_PASSWORD", "cosign-pw")],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["key_id"], cosign_id.as_str());
    assert_eq!(u.signing_key("ci").public().key_id(), cosign_id);

    // A wcomp key, exported for cosign under another password; cosign reads it.
    u.key("main");
    let main_id = u.signing_key("main").public().key_id();
    let r = u.run_with(
        &["key", "export", "main", "--cosign-private"],
        &[("COSIGN_PASSWORD", "export-pw")],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    u.write("exported.key", r.stdout.as_bytes());
    let r = cosign_cmd(&["public-key", "--key", "exported.key"], "export-pw");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        wcomp_trust::PublicKey::from_pem(&r.stdout)
            .unwrap()
            .key_id(),
        main_id
    );
    // cosign signs with it; wcomp verifies the signature against the wcomp key.
    u.write("c.wasm", &component());
    let reference = format!("{}/acme/exported:1.0.0", reg.host);
    let d = u
        .ok(&["publish", "c.wasm", &reference, "--no-sign", "--json"])
        .json()["manifest_digest"]
        .as_str()
        .unwrap()
        .to_string();
    let r = cosign_cmd(
        &[
            "sign",
            "--key",
            "exported.key",
            "--tlog-upload=false",
            "--allow-http-registry",
            "-y",
            &format!("{}/acme/exported@{d}", reg.host),
        ],
        "export-pw",
    );
    assert_eq!(r.code, 0, "cosign sign: {}", r.stderr);
    let v = u
        .ok(&["verify", &reference, "--key", "main.pub", "--json"])
        .json();
    assert_eq!(
        v["verification"]["signers"][0]["key_id"],
        main_id.as_str(),
        "{v}"
    );
}

#[test]
fn package_names_resolve_through_the_registrys_well_known_document() {
    let reg = wcomp_registry_with(|c| c.wasm_pkg.namespace_prefix = Some("wasm/".into()));
    let u = User::new();
    u.key("main");
    let bytes = component();
    u.write("c.wasm", &bytes);
    // The namespace's registry from the environment...
    let p = u
        .cmd(&["publish", "c.wasm", "acme:answer@1.2.0", "--json"])
        .env("WCOMP_REGISTRY", &reg.host)
        .output()
        .unwrap();
    let p = Run::from(p);
    assert_eq!(p.code, 0, "{}", p.stderr);
    assert_eq!(
        p.json()["reference"],
        format!("{}/wasm/acme/answer:1.2.0", reg.host)
    );
    // ... or from config.toml's [registries]; the prefix from .well-known either way.
    std::fs::write(
        u.config.path().join("config.toml"),
        format!(
            "default_key = \"main\"\n[registries]\nacme = \"{}\"\n",
            reg.host
        ),
    )
    .unwrap();
    u.ok(&[
        "pull",
        "acme:answer@1.2.0",
        "-o",
        "got.wasm",
        "--key",
        "main.pub",
    ]);
    assert_eq!(std::fs::read(u.path("got.wasm")).unwrap(), bytes);
    // An unknown namespace says how to configure one.
    let r = u.run(&["pull", "other:thing@1.0.0"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("hint: set WCOMP_REGISTRY"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("[registries]"), "{}", r.stderr);
}

#[test]
fn login_stores_private_credentials_that_publish_and_pull_use() {
    let reg = wcomp_registry_with(|c| c.auth.enabled = true);
    let u = User::new();
    u.key("main");
    u.write("c.wasm", &component());
    let reference = format!("{}/acme/private:1.0.0", reg.host);
    let r = u.run(&["publish", "c.wasm", &reference]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("wcomp login"), "{}", r.stderr);

    let login = |password: &str| -> Run {
        let mut child = u
            .cmd(&["login", &reg.host, "-u", "admin", "--password-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(password.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap().into()
    };
    let r = login("wrong-pw\n");
    assert_eq!(r.code, 1, "{}", r.stderr);
    let creds = u.config.path().join("credentials.json");
    assert!(!creds.exists());
    let r = login("admin-pw\n");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stdout.contains("admin-pw") && !r.stderr.contains("admin-pw"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&creds).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let p = u.ok(&["publish", "c.wasm", &reference]);
    assert!(!p.stdout.contains("admin-pw") && !p.stderr.contains("admin-pw"));
    u.ok(&["pull", &reference, "-o", "got.wasm", "--key", "main.pub"]);
}

#[test]
fn verify_checks_composition_parts_named_by_reference() {
    let reg = wcomp_registry();
    let u = User::new();
    let main = u.key("main");
    u.ok(&[
        "key",
        "trust",
        main.to_str().unwrap(),
        "--for",
        &format!("{}/acme", reg.host),
    ]);
    // Two published parts: one signed, one not (refused in a namespace with a trusted key).
    let good = wat::parse_str(COMPONENT_WAT.replace("42", "1")).unwrap();
    let bad = wat::parse_str(COMPONENT_WAT.replace("42", "2")).unwrap();
    u.write("good.wasm", &good);
    u.write("bad.wasm", &bad);
    let good_ref = format!("{}/acme/good:1.0.0", reg.host);
    let bad_ref = format!("{}/acme/bad:1.0.0", reg.host);
    u.ok(&["publish", "good.wasm", &good_ref]);
    u.ok(&["publish", "bad.wasm", &bad_ref, "--no-sign"]);
    let record = |parts: Value| {
        serde_json::to_vec(
            &serde_json::json!({"version": 1, "tool": "wcomp 0.1.0", "parts": parts}),
        )
        .unwrap()
    };
    let good_part = serde_json::json!({"name": "good", "source": good_ref, "reference": good_ref,
        "digest": Digest::sha256(&good).to_string()});
    let local_part = serde_json::json!({"name": "local", "source": "local.wasm",
        "digest": Digest::sha256(b"local").to_string()});
    u.write(
        "ok-comp.wasm",
        &with_custom_section(
            component(),
            "wcomp-composition",
            &record(serde_json::json!([good_part, local_part])),
        ),
    );
    let ok_ref = format!("{}/acme/ok-comp:1.0.0", reg.host);
    u.ok(&["publish", "ok-comp.wasm", &ok_ref]);
    let v = u.ok(&["verify", &ok_ref, "--json"]).json();
    let parts = v["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0]["status"], "verified", "{parts:?}");
    assert_eq!(
        parts[0]["signer"],
        v["verification"]["signers"][0]["key_id"]
    );
    assert_eq!(parts[1]["status"], "not-checked");

    // A part whose registry artifact is unsigned, and a part whose digest is not the
    // artifact's: both fail, and so does `wcomp verify`.
    let unsigned_part = serde_json::json!({"name": "bad", "source": bad_ref, "reference": bad_ref,
        "digest": Digest::sha256(&bad).to_string()});
    let swapped_part = serde_json::json!({"name": "swapped", "source": good_ref, "reference": good_ref,
        "digest": Digest::sha256(&bad).to_string()});
    u.write(
        "bad-comp.wasm",
        &with_custom_section(
            component(),
            "wcomp-composition",
            &record(serde_json::json!([unsigned_part, swapped_part])),
        ),
    );
    let bad_comp = format!("{}/acme/bad-comp:1.0.0", reg.host);
    u.ok(&["publish", "bad-comp.wasm", &bad_comp]);
    let r = u.run(&["verify", &bad_comp, "--json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = r.json();
    assert_eq!(v["parts"][0]["status"], "failed");
    assert!(
        v["parts"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("no signature"),
        "{v}"
    );
    assert_eq!(v["parts"][1]["status"], "failed");
    assert!(
        v["parts"][1]["detail"]
            .as_str()
            .unwrap()
            .contains("digest mismatch"),
        "{v}"
    );
    let text = u.run(&["verify", &bad_comp]);
    assert_eq!(text.code, 1);
    assert!(
        text.stdout.contains("FAILED: no signature"),
        "{}",
        text.stdout
    );
}

#[test]
fn a_projects_wcomp_toml_trust_table_is_policy() {
    let reg = wcomp_registry();
    let u = User::new();
    u.key("main");
    u.write("c.wasm", &component());
    // No user-level trust; the project trusts main.pub for its namespace.
    u.write(
        "wcomp.toml",
        format!(
            "[package]\nname = \"acme:proj\"\nversion = \"0.1.0\"\n\n[trust]\nkeys = [{{ key = \"main.pub\", for = \"{}/proj\" }}]\n",
            reg.host
        )
        .as_bytes(),
    );
    let unsigned = format!("{}/proj/unsigned:1.0.0", reg.host);
    u.ok(&["publish", "c.wasm", &unsigned, "--no-sign"]);
    let r = u.run(&["pull", &unsigned, "-o", "x.wasm"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("no signature"), "{}", r.stderr);
    let signed = format!("{}/proj/signed:1.0.0", reg.host);
    u.ok(&["publish", "c.wasm", &signed]);
    let v = u.ok(&["pull", &signed, "-o", "x.wasm", "--json"]).json();
    assert!(
        v["verification"]["signers"][0]["trusted_as"]
            .as_str()
            .unwrap()
            .contains("wcomp.toml"),
        "{v}"
    );
}

#[test]
fn credentials_come_from_the_environment_and_dockers_config() {
    let reg = wcomp_registry_with(|c| c.auth.enabled = true);
    let u = User::new();
    u.key("main");
    u.write("c.wasm", &component());
    let reference = format!("{}/acme/env-creds:1.0.0", reg.host);
    let r: Run = u
        .cmd(&["publish", "c.wasm", &reference])
        .env("WCOMP_REGISTRY_USER", "admin")
        .env("WCOMP_REGISTRY_PASSWORD", "admin-pw")
        .output()
        .unwrap()
        .into();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let docker = u.work.path().join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode("admin:admin-pw");
    std::fs::write(
        docker.join("config.json"),
        format!(
            "{{\"auths\":{{\"http://{}\":{{\"auth\":\"{auth}\"}}}}}}",
            reg.host
        ),
    )
    .unwrap();
    let r = u.run_with(
        &["pull", &reference, "-o", "got.wasm", "--key", "main.pub"],
        &[("DOCKER_CONFIG", &docker)],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    // A Docker credential helper named for the host in `credHelpers`.
    let helper_dir = u.work.path().join("helpers");
    std::fs::create_dir_all(&helper_dir).unwrap();
    let helper = helper_dir.join("docker-credential-fake");
    std::fs::write(
        &helper,
        "#!/bin/sh\nread host\nprintf '{\"ServerURL\":\"%s\",\"Username\":\"admin\",\"Secret\":\"admin-pw\"}' \"$host\"\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let helper_docker = u.work.path().join("docker-helper");
    std::fs::create_dir_all(&helper_docker).unwrap();
    std::fs::write(
        helper_docker.join("config.json"),
        format!("{{\"credHelpers\":{{\"{}\":\"fake\"}}}}", reg.host),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        helper_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let r: Run = u
        .cmd(&["pull", &reference, "-o", "helped.wasm", "--key", "main.pub"])
        .env("DOCKER_CONFIG", &helper_docker)
        .env("PATH", path)
        .output()
        .unwrap()
        .into();
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Without any of them, the same pull is refused by the registry.
    let r = u.run(&["pull", &reference, "-o", "again.wasm", "--key", "main.pub"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(!u.path("again.wasm").exists());
}

/// Publishes the fixture `tests/cli/fixtures/app.wit` as `example:app@<version>` to the
/// registry at `host` (through `WCOMP_REGISTRY`), with `extra` flags.
fn publish_app_wit(u: &User, host: &str, version: &str, extra: &[&str]) -> Run {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/cli/fixtures/app.wit");
    let text = std::fs::read_to_string(&fixture).unwrap();
    let file = format!("app-{version}.wit");
    u.write(
        &file,
        text.replace(
            "package example:app@1.0.0;",
            &format!("package example:app@{version};"),
        )
        .as_bytes(),
    );
    let args = [&["wit", "publish", "--wit", &file][..], extra].concat();
    let r: Run = u
        .cmd(&args)
        .env("WCOMP_REGISTRY", host)
        .output()
        .unwrap()
        .into();
    assert_eq!(r.code, 0, "{}", r.stderr);
    r
}

/// Points the WIT project in `dir` at `example:app` `requirement` from `host`.
fn require_app(dir: &Path, host: &str, requirement: &str) {
    std::fs::write(
        dir.join("wcomp.toml"),
        format!(
            "[package]\nname = \"acme:proj\"\nversion = \"0.1.0\"\n\n[dependencies]\n\"example:app\" = {{ version = \"{requirement}\", registry = \"{host}\" }}\n"
        ),
    )
    .unwrap();
}

/// A WIT project `name` in the work dir whose world imports `example:app/api@1.0.0`,
/// required as `requirement` from `host`.
fn app_project(u: &User, name: &str, host: &str, requirement: &str) -> PathBuf {
    let dir = u.path(name);
    std::fs::create_dir_all(dir.join("wit")).unwrap();
    std::fs::write(
        dir.join("wit/world.wit"),
        "package acme:proj;\n\nworld w {\n  import example:app/api@1.0.0;\n}\n",
    )
    .unwrap();
    require_app(&dir, host, requirement);
    dir
}

#[test]
fn wit_dependencies_are_fetched_verified_locked_and_cached() {
    let reg = wcomp_registry();
    let u = User::new();
    let main = u.key("main");
    u.ok(&["key", "trust", main.to_str().unwrap()]);
    let r = publish_app_wit(&u, &reg.host, "1.0.0", &["--json"]);
    assert_eq!(
        r.json()["reference"],
        format!("{}/example/app:1.0.0", reg.host)
    );
    let proj = app_project(&u, "proj", &reg.host, "1.0.0");
    let f = u
        .ok(&["wit", "fetch", "--path", "proj", "--type", "wasm", "--json"])
        .json();
    let p = &f["packages"][0];
    assert_eq!(p["from"], "registry");
    assert_eq!(
        p["signer"],
        u.ok(&["key", "list", "--json"]).json()["keys"][0]["key_id"]
    );
    assert_eq!(f["lock_changed"], true);
    let dep = proj.join("wit/deps/example-app-1.0.0.wasm");
    let bytes = std::fs::read(&dep).unwrap();
    assert_eq!(
        Digest::sha256(&bytes).to_string(),
        p["layer"].as_str().unwrap()
    );
    let lock = std::fs::read_to_string(proj.join("wcomp.lock")).unwrap();
    for field in [
        "name = \"example:app\"",
        "version = \"1.0.0\"",
        "manifest = \"sha256:",
        "layer = \"sha256:",
        "signer = \"",
        "reference = \"",
    ] {
        assert!(lock.contains(field), "{field} missing from:\n{lock}");
    }
    // The project's WIT resolves with the fetched package in deps/.
    let i = u.ok(&["inspect", "proj/wit", "--json"]).json();
    assert_eq!(i["kind"], "wit-package");

    // Locked and offline: from the cache, lock unchanged.
    std::fs::remove_file(&dep).unwrap();
    let f = u
        .ok(&[
            "wit",
            "fetch",
            "--path",
            "proj",
            "--locked",
            "--offline",
            "--type",
            "wasm",
            "--json",
        ])
        .json();
    assert_eq!(f["packages"][0]["from"], "cache");
    assert_eq!(f["lock_changed"], false);
    assert_eq!(std::fs::read(&dep).unwrap(), bytes);

    // wkg's default layout (what `wcomp wit fetch` writes without `--type`): the package
    // printed as WIT in a directory of its own, replacing the `.wasm` of the other layout
    // (both at once would define the package twice).
    let f = u.ok(&["wit", "fetch", "--path", "proj", "--json"]).json();
    let dir = proj.join("wit/deps/example-app-1.0.0");
    assert_eq!(f["packages"][0]["path"], "proj/wit/deps/example-app-1.0.0");
    assert_eq!(f["lock_changed"], false);
    let text = std::fs::read_to_string(dir.join("package.wit")).unwrap();
    assert!(text.contains("package example:app@1.0.0;"), "{text}");
    assert!(
        !dep.exists(),
        "the .wasm layout was left beside the WIT one"
    );
    // The package's own dependency gets its directory too, as wkg writes it.
    let cli = std::fs::read_to_string(proj.join("wit/deps/wasi-cli-0.2.6/package.wit")).unwrap();
    assert!(cli.contains("interface environment"), "{cli}");
    let i = u.ok(&["inspect", "proj/wit", "--json"]).json();
    assert_eq!(i["kind"], "wit-package");

    // A new version under --locked, and an empty cache under --offline: refused.
    require_app(&proj, &reg.host, "1.0.1");
    let r = u.run(&["wit", "fetch", "--path", "proj", "--locked"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("--locked"), "{}", r.stderr);
    require_app(&proj, &reg.host, "1.0.0");
    let r = u.run_with(
        &["wit", "fetch", "--path", "proj", "--offline"],
        &[("WCOMP_CACHE_DIR", u.path("empty-cache"))],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("--offline"), "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(proj.join("wcomp.lock")).unwrap(),
        lock
    );
}

/// A requirement (`^1.0`, `~1.0`) resolves to the newest published version that meets it,
/// is pinned in the lock (and kept by `--locked` while it still meets it), and a
/// requirement nothing meets is refused with the versions there are.
#[test]
fn wit_dependency_ranges_resolve_to_the_newest_matching_version() {
    let reg = wcomp_registry();
    let u = User::new();
    for version in ["1.0.0", "1.1.0", "2.0.0-rc.1"] {
        publish_app_wit(&u, &reg.host, version, &["--no-sign"]);
    }
    let proj = app_project(&u, "proj", &reg.host, "*");
    let wants = |req: &str| require_app(&proj, &reg.host, req);
    wants("^1.0");
    let f = u.ok(&["wit", "fetch", "--path", "proj", "--json"]).json();
    assert_eq!(
        f["packages"][0]["version"], "1.1.0",
        "the newest 1.x, not the 2.0 pre-release"
    );
    assert!(
        proj.join("wit/deps/example-app-1.1.0/package.wit")
            .is_file()
    );
    let lock = std::fs::read_to_string(proj.join("wcomp.lock")).unwrap();
    assert!(lock.contains("version = \"1.1.0\""), "{lock}");
    // The pin still meets the requirement: --locked and --offline keep it.
    let f = u
        .ok(&[
            "wit",
            "fetch",
            "--path",
            "proj",
            "--locked",
            "--offline",
            "--json",
        ])
        .json();
    assert_eq!(f["packages"][0]["version"], "1.1.0");
    assert_eq!(f["lock_changed"], false);
    // A narrower requirement the pin does not meet: --locked refuses, a plain fetch
    // re-resolves and re-pins.
    wants("~1.0.0");
    let r = u.run(&["wit", "fetch", "--path", "proj", "--locked"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let f = u.ok(&["wit", "fetch", "--path", "proj", "--json"]).json();
    assert_eq!(f["packages"][0]["version"], "1.0.0");
    assert_eq!(f["lock_changed"], true);
    // Nothing meets it: exit 1, naming what exists; the lock is untouched.
    let before = std::fs::read_to_string(proj.join("wcomp.lock")).unwrap();
    wants("^3");
    let r = u.run(&["wit", "fetch", "--path", "proj"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("no published version of `example:app` meets `^3`")
            && r.stderr.contains("1.0.0, 1.1.0, 2.0.0-rc.1"),
        "{}",
        r.stderr
    );
    assert_eq!(
        std::fs::read_to_string(proj.join("wcomp.lock")).unwrap(),
        before
    );
    // Not a version at all: a usage error.
    wants("one point oh");
    assert_eq!(u.run(&["wit", "fetch", "--path", "proj"]).code, 2);
}

/// The same `[dependencies]` fetched by `wcomp wit fetch` and by `wkg wit fetch` (0.16.1)
/// from the same registry give the same `wit/deps/`: the same directories, the same
/// files, the same packages with the same interfaces (the text may differ only in how
/// the two versions of wit-component print it).
#[test]
fn wit_fetch_writes_the_deps_directory_wkg_writes() {
    let Some(wkg) = find_tool("wkg", &[]) else {
        return;
    };
    let reg = wcomp_registry();
    let u = User::new();
    publish_app_wit(&u, &reg.host, "1.0.0", &["--no-sign"]);
    for project in ["by-wcomp", "by-wkg"] {
        app_project(&u, project, &reg.host, "1.0.0");
    }
    u.ok(&["wit", "fetch", "--path", "by-wcomp"]);
    let home = u.path("wkg-home");
    std::fs::create_dir_all(&home).unwrap();
    let config = home.join("wkg.toml");
    std::fs::write(
        &config,
        format!(
            "[namespace_registries]\nexample = \"{host}\"\n\n[registry.\"{host}\".oci]\nprotocol = \"http\"\n",
            host = reg.host
        ),
    )
    .unwrap();
    let out = Command::new(&wkg)
        .args(["wit", "fetch", "--config"])
        .arg(&config)
        .arg("--cache")
        .arg(home.join("cache"))
        .current_dir(u.path("by-wkg"))
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("DOCKER_CONFIG", home.join(".docker"))
        .env_remove("WKG_CONFIG_FILE")
        .env_remove("WKG_REGISTRY")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "wkg wit fetch: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = |project: &str| {
        let deps = u.path(project).join("wit/deps");
        let mut files: Vec<(String, String)> = Vec::new();
        for dir in std::fs::read_dir(&deps).unwrap() {
            let dir = dir.unwrap().path();
            for file in std::fs::read_dir(&dir).unwrap() {
                let file = file.unwrap().path();
                let rel = file.strip_prefix(&deps).unwrap().display().to_string();
                files.push((rel, std::fs::read_to_string(&file).unwrap()));
            }
        }
        files.sort();
        files
    };
    let (ours, theirs) = (tree("by-wcomp"), tree("by-wkg"));
    let names = |t: &[(String, String)]| t.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&ours), names(&theirs));
    assert_eq!(
        names(&ours),
        [
            "example-app-1.0.0/package.wit",
            "wasi-cli-0.2.6/package.wit"
        ]
    );
    // Each file parses to the same package with the same interfaces and functions.
    let shape = |text: &str| {
        let group = wit_parser::UnresolvedPackageGroup::parse("package.wit", text).unwrap();
        let p = &group.main;
        let mut items: Vec<String> = p
            .interfaces
            .iter()
            .flat_map(|(_, i)| {
                let name = i.name.clone().unwrap_or_default();
                i.functions.keys().map(move |f| format!("{name}#{f}"))
            })
            .collect();
        items.extend(p.worlds.iter().map(|(_, w)| format!("world {}", w.name)));
        items.sort();
        (p.name.to_string(), items)
    };
    for ((name, a), (_, b)) in ours.iter().zip(&theirs) {
        assert_eq!(shape(a), shape(b), "{name}:\n--- wcomp\n{a}\n--- wkg\n{b}");
    }
}

/// Imports `example:x/x` and exports `api.run() = x.f(41)`.
const CALLER_WAT: &str = r#"(component
  (type $xt (instance (export "f" (func (param "a" u32) (result u32)))))
  (import "example:x/x@0.1.0" (instance $x (type $xt)))
  (core func $f (canon lower (func $x "f")))
  (core module $m
    (import "x" "f" (func $f (param i32) (result i32)))
    (func (export "run") (result i32) i32.const 41 call $f))
  (core instance $xi (export "f" (func $f)))
  (core instance $i (instantiate $m (with "x" (instance $xi))))
  (func $run (result u32) (canon lift (core func $i "run")))
  (instance $api (export "run" (func $run)))
  (export "example:app/api@0.1.0" (instance $api))
)"#;

/// Exports `example:x/x` whose `f` adds one.
const ADDER_WAT: &str = r#"(component
  (core module $m (func (export "f") (param i32) (result i32) local.get 0 i32.const 1 i32.add))
  (core instance $i (instantiate $m))
  (func $f (param "a" u32) (result u32) (canon lift (core func $i "f")))
  (instance $x (export "f" (func $f)))
  (export "example:x/x@0.1.0" (instance $x))
)"#;

#[test]
fn compose_pulls_parts_by_reference_verifies_them_and_records_their_signers() {
    let reg = wcomp_registry();
    let u = User::new();
    let main = u.key("main");
    u.ok(&[
        "key",
        "trust",
        main.to_str().unwrap(),
        "--for",
        &format!("{}/acme/**", reg.host),
    ]);
    u.write("caller.wasm", &wat::parse_str(CALLER_WAT).unwrap());
    u.write("adder.wasm", &wat::parse_str(ADDER_WAT).unwrap());
    let adder_ref = format!("{}/acme/adder:1.0.0", reg.host);
    let published = u
        .ok(&["publish", "adder.wasm", &adder_ref, "--json"])
        .json();

    // The plug comes from the registry: pulled, verified, recorded with its signer.
    let out = u
        .ok(&[
            "compose",
            "caller.wasm",
            "--plug",
            &adder_ref,
            "-o",
            "both.wasm",
            "--json",
        ])
        .json();
    assert_eq!(out["parts"][1]["name"], "adder", "{out}");
    let i = u.ok(&["inspect", "both.wasm", "--json"]).json();
    let part = &i["composition"]["parts"][1];
    assert_eq!(part["source"], adder_ref.as_str());
    assert_eq!(part["reference"], adder_ref.as_str());
    assert_eq!(part["manifest_digest"], published["manifest_digest"]);
    assert_eq!(part["signer"], published["key_id"]);
    assert_eq!(
        part["digest"],
        Digest::sha256(&wat::parse_str(ADDER_WAT).unwrap()).to_string()
    );

    // Published with that provenance, `verify` re-checks the part by its reference.
    let pipeline = format!("{}/acme/both:1.0.0", reg.host);
    u.ok(&["publish", "both.wasm", &pipeline]);
    let v = u.ok(&["verify", &pipeline, "--json"]).json();
    assert_eq!(v["parts"][1]["status"], "verified", "{v}");

    // An unsigned part in a namespace with a trusted key is refused at compose time, and
    // nothing is written.
    let unsigned = format!("{}/acme/unsigned-adder:1.0.0", reg.host);
    u.ok(&["publish", "adder.wasm", &unsigned, "--no-sign"]);
    let r = u.run(&[
        "compose",
        "caller.wasm",
        "--plug",
        &unsigned,
        "-o",
        "refused.wasm",
    ]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("unsigned-adder"), "{}", r.stderr);
    assert!(r.stderr.contains("no signature"), "{}", r.stderr);
    assert!(!u.path("refused.wasm").exists());
}
