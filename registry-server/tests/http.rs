//! The real server over real HTTP on a loopback port: the library's `serve` in-process, and
//! the `wcomp-registry` binary as an operator runs it.

mod common;

use common::*;
use reqwest::StatusCode;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use wcomp_registry::oci::{Algorithm, Digest};

async fn spawn_in_process(reg: &Registry) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(wcomp_registry::server::serve(reg.state.clone(), listener));
    format!("http://{addr}")
}

#[tokio::test]
async fn push_and_pull_a_large_blob_in_chunks_over_http() {
    let reg = Registry::open();
    let base = spawn_in_process(&reg).await;
    let http = reqwest::Client::new();
    let data: Vec<u8> = (0..(6 * 1024 * 1024 + 17))
        .map(|i: u32| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    let d = Digest::of(Algorithm::Sha256, &data);
    let r = http
        .post(format!("{base}/v2/big/blob/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let mut loc = r.headers()["location"].to_str().unwrap().to_string();
    let chunk = 2 * 1024 * 1024 + 1;
    for (i, c) in data.chunks(chunk).enumerate() {
        let start = i * chunk;
        let r = http
            .patch(format!("{base}{loc}"))
            .header("content-type", "application/octet-stream")
            .header("content-range", format!("{start}-{}", start + c.len() - 1))
            .body(c.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        loc = r.headers()["location"].to_str().unwrap().to_string();
    }
    let r = http
        .put(format!("{base}{loc}?digest={d}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    let r = http
        .get(format!("{base}/v2/big/blob/blobs/{d}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["docker-content-digest"], d.as_str());
    assert_eq!(r.bytes().await.unwrap().as_ref(), &data[..]);
    let r = http
        .get(format!("{base}/v2/big/blob/blobs/{d}"))
        .header("range", "bytes=1048576-1048675")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &data[1048576..1048676]);
}

#[tokio::test]
async fn token_flow_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path(), true);
    let reg = Registry::from_config(dir, c, None);
    reg.state.ensure_admin(Some("pw".into())).await.unwrap();
    let base = spawn_in_process(&reg).await;
    let http = reqwest::Client::new();
    let r = http.get(format!("{base}/v2/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let challenge = r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    let realm = challenge
        .split("realm=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(realm, format!("{base}/token"));
    let t: serde_json::Value = serde_json::from_slice(
        &http
            .get(format!(
                "{realm}?service=wcomp-registry&scope=repository:a/b:pull,push"
            ))
            .basic_auth("admin", Some("pw"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    let token = t["token"].as_str().unwrap();
    let d = Digest::of(Algorithm::Sha256, b"x");
    let r = http
        .post(format!("{base}/v2/a/b/blobs/uploads/?digest={d}"))
        .bearer_auth(token)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
}

struct Server {
    child: Child,
    base: String,
    stdout: Vec<String>,
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_wcomp-registry"))
}

/// Starts the binary and waits until it accepts connections. Stdout is collected by a
/// thread; with `banner`, also waits for the admin credentials line (printed before binding).
fn start(data: &std::path::Path, admin_password: Option<&str>, banner: bool) -> Server {
    let port = free_port();
    let mut cmd = bin();
    cmd.args([
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--data-dir",
    ])
    .arg(data);
    cmd.env_remove("WCOMP_REGISTRY_ADMIN_PASSWORD")
        .env_remove("WCOMP_REGISTRY_CONFIG");
    if let Some(p) = admin_password {
        cmd.env("WCOMP_REGISTRY_ADMIN_PASSWORD", p);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    {
        let (out, lines) = (child.stdout.take().unwrap(), lines.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
    }
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..600 {
        let up = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
        let printed = !banner
            || lines
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.starts_with("(shown once"));
        if up && printed {
            let stdout = lines.lock().unwrap().clone();
            return Server {
                child,
                base,
                stdout,
            };
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("server exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("server did not start");
}

fn terminate(mut s: Server) -> std::process::ExitStatus {
    let _ = Command::new("kill")
        .args(["-TERM", &s.child.id().to_string()])
        .status();
    for _ in 0..200 {
        if let Some(st) = s.child.try_wait().unwrap() {
            return st;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = s.child.kill();
    panic!("server did not shut down on SIGTERM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_with_defaults_and_admin_commands_work() {
    let data = tempfile::tempdir().unwrap();
    // First start with a chosen admin password: the server reports the admin it created.
    let s = tokio::task::spawn_blocking({
        let p = data.path().to_path_buf();
        move || start(&p, Some("first-pw"), true)
    })
    .await
    .unwrap();
    assert!(
        s.stdout
            .iter()
            .any(|l| l.contains("created the first admin user `admin`")),
        "{:?}",
        s.stdout
    );
    let http = reqwest::Client::new();
    let base = s.base.clone();
    assert_eq!(
        http.get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let wk = http
        .get(format!("{base}/.well-known/wasm-pkg/registry.json"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let wk: serde_json::Value = serde_json::from_slice(&wk).unwrap();
    assert_eq!(wk["preferredProtocol"], "oci");
    assert_eq!(wk["oci"]["registry"], base.trim_start_matches("http://"));
    let d = Digest::of(Algorithm::Sha256, b"hello");
    let r = http
        .post(format!("{base}/v2/team/app/blobs/uploads/?digest={d}"))
        .basic_auth("admin", Some("first-pw"))
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let metrics = http
        .get(format!("{base}/metrics"))
        .basic_auth("admin", Some("first-pw"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("wcomp_registry_uploads_completed_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("wcomp_registry_responses_total{class=\"2xx\"}"),
        "{metrics}"
    );

    // Admin commands against the live data dir: a user, a grant, an API token.
    let run = |args: &[&str]| {
        let out = bin()
            .args(args)
            .arg("--data-dir")
            .arg(data.path())
            .env_remove("WCOMP_REGISTRY_CONFIG")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    run(&["admin", "user-add", "alice", "--password", "alice-pw"]);
    run(&["admin", "grant-add", "user:alice", "team/**", "pull"]);
    assert!(run(&["admin", "grant-list"]).contains("user:alice\tteam/**\tpull"));
    let token = run(&["admin", "token-create", "alice"]).trim().to_string();
    assert!(token.starts_with("wcr_"));
    let r = http
        .get(format!("{base}/v2/team/app/blobs/{d}"))
        .basic_auth("alice", Some(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = http
        .post(format!("{base}/v2/team/app/blobs/uploads/"))
        .basic_auth("alice", Some("alice-pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "pull-only grant");
    // GC as a separate process while the server runs.
    assert!(run(&["gc"]).starts_with("deleted 0 blobs"));
    let bad = bin()
        .args(["admin", "grant-add", "alice", "x", "pull"])
        .arg("--data-dir")
        .arg(data.path())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));

    let status = tokio::task::spawn_blocking(move || terminate(s))
        .await
        .unwrap();
    assert!(status.success(), "graceful shutdown exits 0, got {status}");

    // A restart keeps everything and creates no second admin.
    let s = tokio::task::spawn_blocking({
        let p = data.path().to_path_buf();
        move || start(&p, None, false)
    })
    .await
    .unwrap();
    let r = http
        .get(format!("{}/v2/team/app/blobs/{d}", s.base))
        .basic_auth("admin", Some("first-pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"hello");
    tokio::task::spawn_blocking(move || terminate(s))
        .await
        .unwrap();
}

#[tokio::test]
async fn insecure_no_auth_and_generated_admin_password() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = bin()
        .args([
            "serve",
            "--insecure-no-auth",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data.path())
        .env_remove("WCOMP_REGISTRY_ADMIN_PASSWORD")
        .env_remove("WCOMP_REGISTRY_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    // Keep reading so the pipe stays open for whatever the server prints next.
    std::thread::spawn(move || reader.lines().for_each(drop));
    let password = first.rsplit(": ").next().unwrap().trim().to_string();
    assert!(
        password.len() >= 20,
        "a generated password is printed: {first}"
    );
    let http = reqwest::Client::new();
    let mut ok = false;
    // Generous: under a parallel test run the debug binary can be slow to bind.
    for _ in 0..600 {
        if let Ok(r) = http
            .get(format!("http://127.0.0.1:{port}/v2/"))
            .send()
            .await
        {
            assert_eq!(r.status(), StatusCode::OK, "no auth needed");
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(ok, "server did not start");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_an_in_flight_upload_finish() {
    use std::io::{Read, Write};
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = bin()
        .args([
            "serve",
            "--insecure-no-auth",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data.path())
        .env_remove("WCOMP_REGISTRY_CONFIG")
        .env("WCOMP_REGISTRY_ADMIN_PASSWORD", "pw")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let mut loc = None;
    for _ in 0..600 {
        if let Ok(r) = http
            .post(format!("http://127.0.0.1:{port}/v2/g/blobs/uploads/"))
            .send()
            .await
        {
            loc = Some(r.headers()["location"].to_str().unwrap().to_string());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let loc = loc.expect("server did not start");
    let pid = child.id();
    let loc2 = loc.clone();
    let status = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let body = vec![7u8; 200_000];
        write!(
            s,
            "PATCH {loc} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nContent-Range: 0-{}\r\n\r\n",
            body.len(),
            body.len() - 1
        )
        .unwrap();
        s.write_all(&body[..1000]).unwrap();
        s.flush().unwrap();
        // The upload is mid-body when the server is asked to stop.
        std::thread::sleep(Duration::from_millis(300));
        Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        s.write_all(&body[1000..]).unwrap();
        let mut resp = [0u8; 12];
        s.read_exact(&mut resp).unwrap();
        String::from_utf8_lossy(&resp).to_string()
    })
    .await
    .unwrap();
    assert_eq!(status, "HTTP/1.1 202", "the in-flight chunk was accepted");
    let exit = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(exit.success(), "{exit}");
    // And it is committed. (A restarted server would not show it to anyone: the session
    // belongs to the unauthenticated caller who opened it, so read the metadata itself.)
    let id = loc2.rsplit('/').next().unwrap().to_string();
    let meta =
        wcomp_registry::metadata::sqlite::SqliteMetadata::open(&data.path().join("registry.db"))
            .unwrap();
    let session = wcomp_registry::metadata::Metadata::get_upload(&meta, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(session.offset, 200_000);
}

#[tokio::test]
async fn serves_https_when_tls_is_configured() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), true);
    c.tls = Some(wcomp_registry::config::TlsConfig {
        cert: fixtures.join("tls-cert.pem"),
        key: fixtures.join("tls-key.pem"),
    });
    let reg = Registry::from_config(dir, c, None);
    reg.state.ensure_admin(Some("pw".into())).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(wcomp_registry::server::serve(reg.state.clone(), listener));
    let ca = reqwest::Certificate::from_pem(&fs_err::read(fixtures.join("ca-cert.pem")).unwrap())
        .unwrap();
    let https = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let r = https
        .get(format!("https://127.0.0.1:{port}/v2/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains(&format!("realm=\"https://127.0.0.1:{port}/token\"")),
        "{challenge}"
    );
    let r = https
        .get(format!("https://127.0.0.1:{port}/v2/"))
        .basic_auth("admin", Some("pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Plain HTTP to the TLS port gets no HTTP answer, and the server keeps serving.
    assert!(
        reqwest::get(format!("http://127.0.0.1:{port}/v2/"))
            .await
            .is_err()
    );
    let r = https
        .get(format!("https://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

/// The log on stderr is plain text when stderr is not a terminal: no colour codes in a log
/// file or a pipe.
#[test]
fn the_log_in_a_file_or_a_pipe_has_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("registry.log");
    let in_file = log_of_a_start(
        &dir.path().join("file"),
        Stdio::from(fs_err::File::create(&log_path).unwrap().into_parts().0),
    );
    assert!(in_file.is_none());
    let from_file = fs_err::read_to_string(&log_path).unwrap();
    let from_pipe = log_of_a_start(&dir.path().join("pipe"), Stdio::piped()).unwrap();
    for log in [from_file, from_pipe] {
        assert!(log.contains("INFO"), "{log}");
        assert!(!log.contains("\x1b["), "{log:?}");
    }
}

/// Starts the registry with `stderr`, waits until it listens, stops it; returns what it
/// wrote on a piped stderr.
fn log_of_a_start(data: &std::path::Path, stderr: Stdio) -> Option<String> {
    let port = free_port();
    let mut child = bin()
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data)
        .env_remove("WCOMP_REGISTRY_CONFIG")
        .env_remove("NO_COLOR")
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut up = false;
    for _ in 0..600 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    assert!(up, "the server did not start");
    (!out.stderr.is_empty()).then(|| String::from_utf8_lossy(&out.stderr).into_owned())
}
