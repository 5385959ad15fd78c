//! Interop with real OCI clients (oras, skopeo, wkg) against the real binary on a loopback
//! port. Each test skips itself (with a note on stderr) when its client is not installed;
//! `registry-server/scripts/install-test-deps.sh` installs them. Set
//! `WCOMP_REQUIRE_INTEROP=1` (scripts/test.sh does under `CI`) to turn a missing client into
//! a failure.

mod common;

use common::find_tool;
use common::wasm::wit_package;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Server {
    child: Child,
    host: String,
    data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(auth: bool) -> Server {
    start_with(auth, None)
}

/// Starts the server; `config` is the text of a TOML config file for it.
fn start_with(auth: bool, config: Option<&str>) -> Server {
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
    if let Some(text) = config {
        let path = data.path().join("config.toml");
        fs_err::write(&path, text).unwrap();
        cmd.arg("--config").arg(path);
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
                data,
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
    fs_err::write(work.path().join("hello.txt"), b"hello from oras\n").unwrap();
    fs_err::write(work.path().join("sig.txt"), b"signature\n").unwrap();
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
    fs_err::create_dir(work.path().join("out")).unwrap();
    run(oras_cmd(&["pull", &reference, "-o", "out"]).arg("--no-tty"));
    assert_eq!(
        fs_err::read(work.path().join("out/hello.txt")).unwrap(),
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
    fs_err::write(work.path().join("data.txt"), b"payload\n").unwrap();
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

// --- wkg (wasm-pkg-tools) ---------------------------------------------------------------

/// A greeter component; `extra` adds a second function, so two versions differ in their
/// bytes and their world.
fn greeter_component(version: &str, extra: bool) -> Vec<u8> {
    let extra = if extra {
        "greet-all: func(names: list<string>) -> string;"
    } else {
        ""
    };
    let wit = format!(
        "package interop:greeter@{version};
         interface api {{ greet: func(name: string) -> string; {extra} }}
         world greeter {{ export api; }}"
    );
    common::wasm::component(&wit, "greeter")
}

/// Runs wkg with its config, cache and credential lookups kept inside `home`, so nothing
/// from the machine's `~/.config/wasm-pkg` or `~/.docker` leaks in.
fn wkg(wkg: &Path, home: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(wkg);
    c.args(args)
        .current_dir(home)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("DOCKER_CONFIG", home.join(".docker"))
        .env("NO_COLOR", "1")
        .env_remove("WKG_CONFIG_FILE")
        .env_remove("WKG_OCI_USERNAME")
        .env_remove("WKG_OCI_PASSWORD")
        .env_remove("WKG_REGISTRY")
        .env_remove("WKG_OCI_INSECURE");
    c
}

/// Runs a command that must fail, returning its stderr.
#[track_caller]
fn run_failing(cmd: &mut Command) -> String {
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    assert!(
        !out.status.success(),
        "{cmd:?} succeeded but should have failed:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A GET on the server with Basic credentials: (status, body).
fn http_get(server: &Server, path: &str, user: &str, password: &str) -> (u16, String) {
    let url = format!("http://{}{path}", server.host);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let r = reqwest::Client::new()
                .get(&url)
                .basic_auth(user, Some(password))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        })
}

/// Runs a registry admin command against the server's data dir; returns stdout.
fn admin(server: &Server, args: &[&str]) -> String {
    run(Command::new(env!("CARGO_BIN_EXE_wcomp-registry"))
        .arg("--data-dir")
        .arg(server.data.path())
        .arg("admin")
        .args(args)
        .env_remove("WCOMP_REGISTRY_CONFIG"))
}

/// `wkg oci push` then `wkg oci pull` returns the same bytes; the server validated the
/// component wkg pushed (the namespace demands components), stored the Wasm OCI artifact
/// wkg wrote, and indexed it: the search API finds it by the interface it exports.
#[test]
fn wkg_oci_push_pull_and_search() {
    let Some(wkg_bin) = find_tool("wkg") else {
        return;
    };
    let server = start_with(
        true,
        Some("[[namespaces]]\npattern = \"interop/**\"\nrequire_components = true\n"),
    );
    let home = tempfile::tempdir().unwrap();
    let component = greeter_component("1.0.0", false);
    fs_err::write(home.path().join("greeter.wasm"), &component).unwrap();
    let reference = format!("{}/interop/greeter:1.0.0", server.host);
    let creds = ["-u", "admin", "-p", "admin-pw", "--insecure", &server.host];

    let pushed = run(wkg(&wkg_bin, home.path(), &["oci", "push"])
        .args(creds)
        .args([&reference, "greeter.wasm"]));
    assert!(pushed.contains("digest: sha256:"), "{pushed}");
    run(wkg(&wkg_bin, home.path(), &["oci", "pull"])
        .args(creds)
        .args([&reference, "-o", "pulled.wasm"]));
    assert_eq!(
        fs_err::read(home.path().join("pulled.wasm")).unwrap(),
        component,
        "the pulled component is byte for byte the pushed one"
    );

    // What wkg wrote is a Wasm OCI artifact: Wasm config, one `application/wasm` layer.
    let (status, manifest) = http_get(
        &server,
        "/v2/interop/greeter/manifests/1.0.0",
        "admin",
        "admin-pw",
    );
    assert_eq!(status, 200, "{manifest}");
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.wasm.config.v0+json"
    );
    assert_eq!(manifest["layers"][0]["mediaType"], "application/wasm");
    assert_eq!(manifest["layers"].as_array().unwrap().len(), 1);

    let (status, found) = http_get(
        &server,
        "/wcomp/v1/search?exports=interop:greeter/api@1",
        "admin",
        "admin-pw",
    );
    assert_eq!(status, 200, "{found}");
    let found: serde_json::Value = serde_json::from_str(&found).unwrap();
    let components = found["components"].as_array().unwrap();
    assert_eq!(components.len(), 1, "{found}");
    assert_eq!(components[0]["repository"], "interop/greeter");
    assert_eq!(components[0]["package"], "interop:greeter");
    assert_eq!(components[0]["version"], "1.0.0");
    assert_eq!(
        components[0]["exports"],
        serde_json::json!([{ "interface": "interop:greeter/api", "version": "1.0.0" }])
    );
    let (_, none) = http_get(
        &server,
        "/wcomp/v1/search?exports=interop:greeter/api@2",
        "admin",
        "admin-pw",
    );
    assert!(none.contains("\"components\":[]"), "{none}");
}

/// `wkg get` and `wkg publish` with a config that maps only the namespace to the server:
/// everything else comes from the server's `/.well-known/wasm-pkg/registry.json`. The
/// server announces a namespace prefix (`wasm/`), so wkg finds the packages only if it read
/// the well-known document: without the prefix it would look in `interop/greeter`.
#[test]
fn wkg_publish_and_get_through_well_known_discovery() {
    let Some(wkg_bin) = find_tool("wkg") else {
        return;
    };
    let server = start_with(true, Some("[wasm_pkg]\nnamespace_prefix = \"wasm/\"\n"));
    let home = tempfile::tempdir().unwrap();
    let v1 = greeter_component("1.0.0", false);
    let v2 = greeter_component("1.1.0", true);
    fs_err::write(home.path().join("v1.wasm"), &v1).unwrap();
    fs_err::write(home.path().join("v2.wasm"), &v2).unwrap();
    let config = home.path().join("wkg.toml");
    fs_err::write(
        &config,
        format!(
            "[namespace_registries]\ninterop = \"{host}\"\n\n\
             [registry.\"{host}\".oci]\nprotocol = \"http\"\n\
             auth = {{ username = \"admin\", password = \"admin-pw\" }}\n",
            host = server.host
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let cache = home.path().join("cache");
    let cache = cache.to_str().unwrap();
    let common = ["--config", config, "--cache", cache];
    // `wkg get -o` wants a path with a directory in it.

    // The components go straight to where the prefix puts them, with `wkg oci push`.
    // (`wkg publish` cannot take them: wkg 0.16 reads the package version from the
    // decoded world before it applies `--package`, and a component's world carries none.)
    for (version, file) in [("1.0.0", "v1.wasm"), ("1.1.0", "v2.wasm")] {
        run(wkg(&wkg_bin, home.path(), &["oci", "push"])
            .args(["-u", "admin", "-p", "admin-pw", "--insecure", &server.host])
            .arg(format!("{}/wasm/interop/greeter:{version}", server.host))
            .arg(file));
    }
    // A WIT package, what `wkg publish` is for: it has to find the place itself.
    let types = wit_package("package interop:types@0.1.0; interface t { type id = u64; }");
    fs_err::write(home.path().join("types.wasm"), &types).unwrap();
    run(wkg(&wkg_bin, home.path(), &["publish", "types.wasm"]).args(common));
    let (status, _) = http_get(
        &server,
        "/v2/wasm/interop/types/manifests/0.1.0",
        "admin",
        "admin-pw",
    );
    assert_eq!(status, 200, "`wkg publish` used the announced prefix");
    run(wkg(&wkg_bin, home.path(), &["get", "interop:types@0.1.0"])
        .arg("-o")
        .arg(home.path().join("got-types.wasm"))
        .args(common));
    assert_eq!(
        fs_err::read(home.path().join("got-types.wasm")).unwrap(),
        types
    );

    let (status, tags) = http_get(
        &server,
        "/v2/wasm/interop/greeter/tags/list",
        "admin",
        "admin-pw",
    );
    assert_eq!(status, 200, "{tags}");
    let tags: serde_json::Value = serde_json::from_str(&tags).unwrap();
    assert_eq!(tags["tags"], serde_json::json!(["1.0.0", "1.1.0"]));

    run(
        wkg(&wkg_bin, home.path(), &["get", "interop:greeter@1.0.0"])
            .arg("-o")
            .arg(home.path().join("got-1.0.0.wasm"))
            .args(common),
    );
    assert_eq!(
        fs_err::read(home.path().join("got-1.0.0.wasm")).unwrap(),
        v1
    );
    // No version: wkg lists the tags and takes the newest.
    run(wkg(&wkg_bin, home.path(), &["get", "interop:greeter"])
        .arg("-o")
        .arg(home.path().join("got-latest.wasm"))
        .args(common));
    assert_eq!(
        fs_err::read(home.path().join("got-latest.wasm")).unwrap(),
        v2
    );
    // A version that does not exist is an error, not some other version.
    let err = run_failing(
        wkg(&wkg_bin, home.path(), &["get", "interop:greeter@9.9.9"])
            .arg("-o")
            .arg(home.path().join("nope.wasm"))
            .args(common),
    );
    assert!(!home.path().join("nope.wasm").exists(), "{err}");
}

/// Pushing needs credentials with push rights: an API token of a user granted `push` on
/// `team/**` pushes there (and pulls back the same bytes); without credentials the server
/// answers 401 and wkg reports an authorisation error; the same token is refused outside
/// its grant. Nothing refused ends up in the registry.
#[test]
fn wkg_push_needs_credentials_with_push_rights() {
    let Some(wkg_bin) = find_tool("wkg") else {
        return;
    };
    let server = start(true);
    admin(&server, &["user-add", "alice", "--password", "alice-pw"]);
    let token = admin(&server, &["token-create", "alice"])
        .trim()
        .to_string();
    assert!(token.starts_with("wcr_"), "{token}");
    admin(
        &server,
        &["grant-add", "user:alice", "team/**", "pull,push"],
    );

    let home = tempfile::tempdir().unwrap();
    let component = greeter_component("1.0.0", false);
    fs_err::write(home.path().join("greeter.wasm"), &component).unwrap();
    let insecure = ["--insecure", server.host.as_str()];
    let team_ref = format!("{}/team/greeter:1.0.0", server.host);

    // No credentials: 401 from the server, an auth error from wkg.
    let err = run_failing(
        wkg(&wkg_bin, home.path(), &["oci", "push"])
            .args(insecure)
            .args([&team_ref, "greeter.wasm"]),
    );
    assert!(
        err.contains("401") && err.contains("UNAUTHORIZED"),
        "wkg should report the 401:\n{err}"
    );
    let (status, _) = http_get(
        &server,
        "/v2/team/greeter/manifests/1.0.0",
        "admin",
        "admin-pw",
    );
    assert_eq!(status, 404, "an anonymous push must leave nothing behind");

    // The token, outside its grant: refused. wkg goes through the Docker token flow, and
    // a bearer token that does not cover the repository gets 401 (docs/registry.md).
    let err = run_failing(
        wkg(&wkg_bin, home.path(), &["oci", "push"])
            .args(insecure)
            .args(["-u", "alice", "-p", &token])
            .args([
                &format!("{}/other/greeter:1.0.0", server.host),
                "greeter.wasm",
            ]),
    );
    assert!(
        err.contains("UNAUTHORIZED") || err.contains("DENIED"),
        "{err}"
    );
    let (status, _) = http_get(
        &server,
        "/v2/other/greeter/manifests/1.0.0",
        "admin",
        "admin-pw",
    );
    assert_eq!(status, 404);

    // The token, inside its grant: pushed, and the same bytes come back.
    run(wkg(&wkg_bin, home.path(), &["oci", "push"])
        .args(insecure)
        .args(["-u", "alice", "-p", &token])
        .args([&team_ref, "greeter.wasm"]));
    run(wkg(&wkg_bin, home.path(), &["oci", "pull"])
        .args(insecure)
        .args(["-u", "alice", "-p", &token])
        .args([&team_ref, "-o", "pulled.wasm"]));
    assert_eq!(
        fs_err::read(home.path().join("pulled.wasm")).unwrap(),
        component
    );
    // A wrong password is refused like no credentials.
    run_failing(
        wkg(&wkg_bin, home.path(), &["oci", "pull"])
            .args(insecure)
            .args(["-u", "alice", "-p", "wrong"])
            .args([&team_ref, "-o", "wrong.wasm"]),
    );
    assert!(!home.path().join("wrong.wasm").exists());
}
