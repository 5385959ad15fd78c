//! Interop with real OCI clients against the real binary on a loopback port. Each test skips
//! itself (with a note on stderr) when its client is not installed; `scripts/install-test-deps.sh`
//! installs them. Set `WCOMP_REQUIRE_INTEROP=1` to turn a missing client into a failure.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn find_tool(name: &str) -> Option<PathBuf> {
    let local = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target-tools/bin")
        .join(name);
    let extra = std::env::var_os("WCOMP_TEST_BIN").map(|d| PathBuf::from(d).join(name));
    let from_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let found = extra
        .into_iter()
        .chain([local])
        .chain(from_path)
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("WCOMP_REQUIRE_INTEROP").is_none(),
            "{name} is required but not installed"
        );
        eprintln!(
            "skipping: `{name}` not installed (registry-server/scripts/install-test-deps.sh)"
        );
    }
    found
}

struct Server {
    child: Child,
    host: String,
    _data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(auth: bool) -> Server {
    let data = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wcomp-registry"));
    cmd.args([
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--data-dir",
    ])
    .arg(data.path());
    if !auth {
        cmd.arg("--insecure-no-auth");
    }
    let mut child = cmd
        .env("WCOMP_REGISTRY_ADMIN_PASSWORD", "admin-pw")
        .env_remove("WCOMP_REGISTRY_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..600 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Server {
                child,
                host: format!("127.0.0.1:{port}"),
                _data: data,
            };
        }
        assert!(child.try_wait().unwrap().is_none(), "server exited early");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("server did not start");
}

#[track_caller]
fn run(cmd: &mut Command) -> String {
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn oras_round_trip(auth: bool) {
    let Some(oras) = find_tool("oras") else {
        return;
    };
    let server = start(auth);
    let work = tempfile::tempdir().unwrap();
    let oras_cmd = |args: &[&str]| {
        let mut c = Command::new(&oras);
        c.args(args).arg("--plain-http").current_dir(work.path());
        // Keep oras away from any real credential store.
        c.env("HOME", work.path())
            .env("DOCKER_CONFIG", work.path().join(".docker"));
        if auth {
            c.args(["-u", "admin", "-p", "admin-pw"]);
        }
        c
    };
    std::fs::write(work.path().join("hello.txt"), b"hello from oras\n").unwrap();
    std::fs::write(work.path().join("sig.txt"), b"signature\n").unwrap();
    let reference = format!("{}/interop/artifact:v1", server.host);
    run(oras_cmd(&[
        "push",
        &reference,
        "--artifact-type",
        "application/vnd.example",
        "hello.txt:text/plain",
    ])
    .arg("--no-tty"));
    run(oras_cmd(&[
        "attach",
        &reference,
        "--artifact-type",
        "application/vnd.example.sig",
        "sig.txt:text/plain",
    ])
    .arg("--no-tty"));
    let discovered = run(&mut oras_cmd(&["discover", &reference, "--format", "json"]));
    let v: serde_json::Value = serde_json::from_str(&discovered).unwrap();
    let referrers = v["manifests"]
        .as_array()
        .or_else(|| v["referrers"].as_array())
        .expect("referrers listed");
    assert_eq!(referrers.len(), 1, "{discovered}");
    assert_eq!(referrers[0]["artifactType"], "application/vnd.example.sig");
    std::fs::create_dir(work.path().join("out")).unwrap();
    run(oras_cmd(&["pull", &reference, "-o", "out"]).arg("--no-tty"));
    assert_eq!(
        std::fs::read(work.path().join("out/hello.txt")).unwrap(),
        b"hello from oras\n"
    );
    let tags = run(&mut oras_cmd(&[
        "repo",
        "tags",
        &format!("{}/interop/artifact", server.host),
    ]));
    assert_eq!(tags.trim(), "v1");
    let fetched = run(&mut oras_cmd(&["manifest", "fetch", &reference]));
    assert!(fetched.contains("application/vnd.example"));
}

#[test]
fn oras_push_attach_discover_pull_with_auth() {
    oras_round_trip(true);
}

#[test]
fn oras_push_attach_discover_pull_without_auth() {
    oras_round_trip(false);
}

#[test]
fn skopeo_copies_in_and_out() {
    let (Some(skopeo), Some(oras)) = (find_tool("skopeo"), find_tool("oras")) else {
        return;
    };
    let server = start(true);
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("data.txt"), b"payload\n").unwrap();
    let src = format!("{}/interop/src:v1", server.host);
    run(Command::new(&oras)
        .args([
            "push",
            "--plain-http",
            "--no-tty",
            "-u",
            "admin",
            "-p",
            "admin-pw",
            &src,
            "data.txt:text/plain",
        ])
        .current_dir(work.path())
        .env("HOME", work.path()));
    let layout = format!("oci:{}:v1", work.path().join("layout").display());
    let sk = |args: &[&str]| {
        let mut c = Command::new(&skopeo);
        c.args(args).env("HOME", work.path());
        c
    };
    // Out of the registry into an OCI layout, then back in under another name.
    run(&mut sk(&[
        "copy",
        "--src-tls-verify=false",
        "--src-creds",
        "admin:admin-pw",
        &format!("docker://{src}"),
        &layout,
    ]));
    let dst = format!("docker://{}/interop/dst:v1", server.host);
    run(&mut sk(&[
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        "admin:admin-pw",
        &layout,
        &dst,
    ]));
    let raw = |r: &str| {
        run(&mut sk(&[
            "inspect",
            "--raw",
            "--tls-verify=false",
            "--creds",
            "admin:admin-pw",
            r,
        ]))
    };
    assert_eq!(
        raw(&format!("docker://{src}")),
        raw(&dst),
        "the manifest survives the round trip byte for byte"
    );
    let tags = run(&mut sk(&[
        "list-tags",
        "--tls-verify=false",
        "--creds",
        "admin:admin-pw",
        &format!("docker://{}/interop/dst", server.host),
    ]));
    assert!(tags.contains("\"v1\""), "{tags}");
    // Wrong credentials are refused.
    let out = sk(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        "--creds",
        "admin:wrong",
        &dst,
    ])
    .output()
    .unwrap();
    assert!(!out.status.success());
}
