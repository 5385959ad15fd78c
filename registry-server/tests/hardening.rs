//! Hostile and broken clients against the real server over real HTTP: each test
//! names the attack class it covers, as docs/security.md's test matrix does.

mod common;

use common::*;
use reqwest::StatusCode;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use wcomp_registry::auth::hash_password;
use wcomp_registry::metadata::User;
use wcomp_registry::oci::{Algorithm, Digest};

async fn spawn(reg: &Registry) -> (String, std::net::SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(wcomp_registry::server::serve(reg.state.clone(), listener));
    (format!("http://{addr}"), addr)
}

/// A registry with authentication, an admin and users alice and bob (`<name>-pw`), both
/// with `create` and `pull` on `team/**`.
async fn secured(tweak: impl FnOnce(&mut wcomp_registry::config::Config)) -> Registry {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), true);
    tweak(&mut c);
    let reg = Registry::from_config(dir, c, None);
    let m = &reg.state.meta;
    for (name, admin) in [("admin", true), ("alice", false), ("bob", false)] {
        m.put_user(&User {
            name: name.into(),
            password_hash: hash_password(&format!("{name}-pw")).unwrap(),
            admin,
        })
        .await
        .unwrap();
        if !admin {
            m.add_grant(
                &format!("user:{name}"),
                "team/**",
                &["pull".into(), "create".into()],
            )
            .await
            .unwrap();
        }
    }
    reg
}

/// Sends raw bytes on a new connection and reads until the server closes it or `within`
/// passes; returns what was read and whether the server closed the connection.
fn raw(addr: std::net::SocketAddr, send: &[u8], within: Duration) -> (String, bool) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(send).unwrap();
    read_until_closed(&mut s, within)
}

fn read_until_closed(s: &mut TcpStream, within: Duration) -> (String, bool) {
    let end = Instant::now() + within;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (String::from_utf8_lossy(&out).into_owned(), false);
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&out).into_owned(), true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return (String::from_utf8_lossy(&out).into_owned(), true);
            }
            Err(_) => return (String::from_utf8_lossy(&out).into_owned(), false),
        }
    }
}

async fn start_upload(http: &reqwest::Client, base: &str, repo: &str) -> String {
    let r = http
        .post(format!("{base}/v2/{repo}/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    r.headers()["location"].to_str().unwrap().to_string()
}

async fn json(r: reqwest::Response) -> serde_json::Value {
    serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
}

async fn code_of(r: reqwest::Response) -> (StatusCode, String) {
    let status = r.status();
    let j = json(r).await;
    (
        status,
        j["errors"][0]["code"].as_str().unwrap_or("").to_string(),
    )
}

/// Attack: integer overflow in `Content-Range` (and other client numbers).
#[tokio::test]
async fn overflowing_content_ranges_are_refused_not_wrapped() {
    let reg = Registry::open();
    let (base, _) = spawn(&reg).await;
    let http = reqwest::Client::new();
    let loc = start_upload(&http, &base, "a/b").await;
    for range in [
        "0-18446744073709551615",
        "18446744073709551615-18446744073709551615",
        "0-99999999999999999999999",
        "5-3",
        "-1-5",
        "+0-4",
    ] {
        let r = http
            .patch(format!("{base}{loc}"))
            .header("content-range", range)
            .body("hello")
            .send()
            .await
            .unwrap();
        let status = r.status();
        assert!(
            status == StatusCode::RANGE_NOT_SATISFIABLE || status == StatusCode::BAD_REQUEST,
            "{range}: {status}"
        );
        assert_eq!(
            r.headers()["range"],
            "0-0",
            "{range}: the upload is unchanged"
        );
    }
    // The session still works, from 0.
    let r = http
        .patch(format!("{base}{loc}"))
        .header("content-range", "0-4")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    // Other client numbers: a page size beyond u64, a range beyond the blob.
    let d = reg.push_blob("a/b", b"0123456789").await;
    let r = http
        .get(format!("{base}/v2/_catalog?n=99999999999999999999999999"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = http
        .get(format!("{base}/v2/a/b/blobs/{d}"))
        .header("range", "bytes=2-18446744073709551615")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"23456789");
    let r = http
        .get(format!("{base}/v2/a/b/blobs/{d}"))
        .header("range", "bytes=-18446744073709551615")
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"0123456789");
}

/// Attack: unbounded request bodies on small routes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_token_body_is_refused_before_it_is_read() {
    let reg = Registry::open();
    let (base, addr) = spawn(&reg).await;
    tokio::task::spawn_blocking(move || huge_bodies(addr))
        .await
        .unwrap();
    // A small form still works.
    let r = reqwest::Client::new()
        .post(format!("{base}/token"))
        .body("grant_type=refresh_token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

fn huge_bodies(addr: std::net::SocketAddr) {
    // 1 GiB declared; the server answers after the headers, without waiting for it.
    let (resp, _) = raw(
        addr,
        b"POST /token HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 1073741824\r\n\r\ngrant_type=password&",
        Duration::from_secs(20),
    );
    assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");
    assert!(resp.contains("SIZE_INVALID"), "{resp}");
    // Without a length (chunked), it is cut off at the limit.
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"POST /token HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n")
        .unwrap();
    let chunk = vec![b'a'; 16 * 1024];
    for _ in 0..8 {
        if s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .is_err()
            || s.write_all(&chunk).is_err()
            || s.write_all(b"\r\n").is_err()
        {
            break;
        }
    }
    let (resp, _) = read_until_closed(&mut s, Duration::from_secs(20));
    assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");
}

/// Attack: idle connections, slowly sent headers (slowloris), stalled uploads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_slow_and_stalled_connections_are_cut_off_while_others_are_served() {
    let reg = Registry::with(|c| {
        c.limits.idle_timeout_secs = 1;
        c.limits.header_read_timeout_secs = 3;
        c.limits.body_timeout_secs = 1;
    });
    let (base, addr) = spawn(&reg).await;
    let idle = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        read_until_closed(&mut s, Duration::from_secs(30)).1
    });
    let slow = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"GET /v2/ HTTP/1.1\r\n").unwrap();
        // One header byte every 200 ms keeps the connection busy, never finishing.
        let end = Instant::now() + Duration::from_secs(30);
        while Instant::now() < end {
            if s.write_all(b"x").is_err() {
                return true;
            }
            s.set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            let mut b = [0u8; 256];
            match s.read(&mut b) {
                Ok(0) => return true,
                // hyper may answer 408 before closing.
                Ok(_) => return read_until_closed(&mut s, Duration::from_secs(5)).1,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => {}
            }
        }
        false
    });
    // Honest clients are served meanwhile. The server closes connections idle for 1 s: the
    // client drops its own sooner, so it never sends on one the server is closing.
    let http = reqwest::Client::builder()
        .pool_idle_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    for _ in 0..5 {
        let r = http.get(format!("{base}/v2/")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(idle.await.unwrap(), "an idle connection was kept open");
    assert!(slow.await.unwrap(), "a slowly sent header was waited for");

    // An upload that stalls mid-chunk fails; what was committed before stays, so the client
    // resumes from there.
    let loc = start_upload(&http, &base, "s/t").await;
    let r = http
        .patch(format!("{base}{loc}"))
        .header("content-range", "0-4")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let stalled = format!(
        "PATCH {loc} HTTP/1.1\r\nhost: x\r\ncontent-range: 5-104\r\ncontent-length: 100\r\n\r\nonly ten b"
    );
    let (resp, closed) =
        tokio::task::spawn_blocking(move || raw(addr, stalled.as_bytes(), Duration::from_secs(30)))
            .await
            .unwrap();
    assert!(closed || resp.starts_with("HTTP/1.1 4"), "{resp}");
    let r = http.get(format!("{base}{loc}")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(r.headers()["range"], "0-4");
    let d = Digest::of(Algorithm::Sha256, b"hello world");
    let r = http
        .put(format!("{base}{loc}?digest={d}"))
        .header("content-range", "5-10")
        .body(" world")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
}

/// Attack: exhausting connections, overall and from one address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_capped_overall_and_per_address() {
    let reg = Registry::with(|c| {
        c.limits.max_connections_per_address = 2;
    });
    let (base, addr) = spawn(&reg).await;
    let held: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(addr).unwrap()).collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (resp, closed) = tokio::task::spawn_blocking(move || {
        raw(
            addr,
            b"GET /v2/ HTTP/1.1\r\nhost: x\r\n\r\n",
            Duration::from_secs(10),
        )
    })
    .await
    .unwrap();
    assert!(resp.starts_with("HTTP/1.1 429"), "{resp}");
    assert!(resp.to_lowercase().contains("retry-after: 1"), "{resp}");
    assert!(closed);
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = reqwest::get(format!("{base}/v2/")).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let reg = Registry::with(|c| {
        c.limits.max_connections = 1;
    });
    let (_, addr) = spawn(&reg).await;
    let held = TcpStream::connect(addr).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (resp, _) = tokio::task::spawn_blocking(move || {
        raw(
            addr,
            b"GET /v2/ HTTP/1.1\r\nhost: x\r\n\r\n",
            Duration::from_secs(10),
        )
    })
    .await
    .unwrap();
    assert!(resp.starts_with("HTTP/1.1 503"), "{resp}");
    drop(held);
}

/// Attack: user enumeration through login timing. Compares the two distributions (a rank
/// statistic and the medians), with generous bounds; no fixed time is asserted. Before the
/// dummy-hash verify, unknown users answered in 1 ms and known ones in 27 ms: every pair
/// was ordered the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_users_and_wrong_passwords_take_the_same_time() {
    let reg = secured(|c| {
        c.limits.login_failures_per_account = 10_000;
        c.limits.login_failures_per_address = 10_000;
    })
    .await;
    let (base, _) = spawn(&reg).await;
    let http = reqwest::Client::new();
    let time = |user: String, pw: String| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let t = Instant::now();
            let r = http
                .get(format!("{base}/v2/"))
                .basic_auth(user, Some(pw))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
            t.elapsed().as_secs_f64()
        }
    };
    // Warm up (connection, caches).
    time("alice".into(), "nope".into()).await;
    let (mut unknown, mut wrong) = (Vec::new(), Vec::new());
    for i in 0..20 {
        let u = time(format!("nobody{i}"), format!("guess{i}"));
        let w = time("alice".into(), format!("guess{i}"));
        // Alternate the order so drift in machine load hits both alike.
        if i % 2 == 0 {
            unknown.push(u.await);
            wrong.push(w.await);
        } else {
            wrong.push(w.await);
            unknown.push(u.await);
        }
    }
    // Mann-Whitney U as a fraction: 0.5 when neither kind tends to be faster, 0 or 1 when
    // one always is.
    let mut u = 0.0;
    for a in &unknown {
        for b in &wrong {
            u += if a < b {
                1.0
            } else if a == b {
                0.5
            } else {
                0.0
            };
        }
    }
    let u = u / (unknown.len() * wrong.len()) as f64;
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (mu, mw) = (median(&mut unknown), median(&mut wrong));
    assert!(
        (0.1..=0.9).contains(&u),
        "timings differ: U = {u:.2}, medians {mu:.4}s (unknown) vs {mw:.4}s (wrong password)"
    );
    assert!(
        (1.0 / 3.0..=3.0).contains(&(mu / mw)),
        "medians {mu:.4}s (unknown) vs {mw:.4}s (wrong password)"
    );
}

/// Attack: online password guessing, per account and per address.
#[tokio::test]
async fn failed_logins_are_throttled_with_retry_after() {
    let reg = secured(|c| {
        c.limits.login_failures_per_account = 3;
        c.limits.login_failures_per_address = 100;
    })
    .await;
    let (base, _) = spawn(&reg).await;
    let http = reqwest::Client::new();
    let login = |user: &str, pw: &str| {
        http.get(format!("{base}/v2/"))
            .basic_auth(user, Some(pw))
            .send()
    };
    for i in 0..3 {
        let r = login("alice", &format!("guess{i}")).await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    // The fourth failure locks the account: refused, even with the right password.
    let r = login("alice", "guess3").await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = login("alice", "alice-pw").await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=300).contains(&wait));
    assert_eq!(code_of(r).await.1, "TOOMANYREQUESTS");
    // So is the token endpoint's form login.
    let r = http
        .post(format!("{base}/token"))
        .body("grant_type=password&username=alice&password=alice-pw")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // Another account is not locked.
    assert_eq!(
        login("bob", "bob-pw").await.unwrap().status(),
        StatusCode::OK
    );
    // After the delay, the right password works again.
    tokio::time::sleep(Duration::from_secs(wait + 1)).await;
    assert_eq!(
        login("alice", "alice-pw").await.unwrap().status(),
        StatusCode::OK
    );

    // Per address: many accounts (existing or not) from one address.
    let reg = secured(|c| {
        c.limits.login_failures_per_account = 100;
        c.limits.login_failures_per_address = 3;
    })
    .await;
    let (base, _) = spawn(&reg).await;
    let mut last = StatusCode::OK;
    for i in 0..5 {
        last = http
            .get(format!("{base}/v2/"))
            .basic_auth(format!("user{i}"), Some("x"))
            .send()
            .await
            .unwrap()
            .status();
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
}

/// Attack: a fresh `X-Forwarded-For` for each password guess. The header is believed only
/// from a configured trusted proxy; behind one, each client address has its own count,
/// and what a client wrote into the header itself (left of what the proxy appended) is
/// ignored.
#[tokio::test]
async fn login_throttling_sees_through_trusted_proxies_only() {
    let http = reqwest::Client::new();
    let guess = |base: &str, user: &str, pw: &str, forwarded: &str| {
        http.get(format!("{base}/v2/"))
            .basic_auth(user, Some(pw))
            .header("x-forwarded-for", forwarded)
            .send()
    };
    let throttled = |c: &mut wcomp_registry::config::Config| {
        c.limits.login_failures_per_account = 100;
        c.limits.login_failures_per_address = 3;
    };

    // Not a trusted proxy: the header is ignored, the loopback address is locked out.
    let reg = secured(throttled).await;
    let (base, _) = spawn(&reg).await;
    let mut last = StatusCode::OK;
    for i in 0..5 {
        last = guess(&base, &format!("user{i}"), "x", &format!("203.0.113.{i}"))
            .await
            .unwrap()
            .status();
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);

    // The test's connections come from 127.0.0.1, trusted here as the balancer.
    let reg = secured(|c| {
        throttled(c);
        c.trusted_proxies = vec![wcomp_registry::config::TrustedNet(
            "127.0.0.0/8".parse().unwrap(),
        )];
    })
    .await;
    let (base, _) = spawn(&reg).await;
    for i in 0..5 {
        last = guess(&base, &format!("user{i}"), "x", "198.51.100.7")
            .await
            .unwrap()
            .status();
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    // The same client forging an address in front of the one the proxy appended.
    let r = guess(&base, "alice", "alice-pw", "192.0.2.1, 198.51.100.7")
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // Another client behind the same balancer is not locked out.
    let r = guess(&base, "alice", "alice-pw", "198.51.100.8")
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

/// Attack: writing into, finishing or cancelling another user's upload session.
#[tokio::test]
async fn another_users_upload_session_does_not_exist_for_them() {
    let reg = secured(|_| {}).await;
    let (base, _) = spawn(&reg).await;
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base}/v2/team/app/blobs/uploads/"))
        .basic_auth("alice", Some("alice-pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let d = Digest::of(Algorithm::Sha256, b"evil");
    for req in [
        http.get(format!("{base}{loc}")),
        http.patch(format!("{base}{loc}")).body("evil"),
        http.put(format!("{base}{loc}?digest={d}")).body("evil"),
        http.delete(format!("{base}{loc}")),
    ] {
        let r = req.basic_auth("bob", Some("bob-pw")).send().await.unwrap();
        assert_eq!(
            code_of(r).await,
            (StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN".into())
        );
    }
    // Alice's own session is untouched and hers to finish, also through a bearer token.
    let token = json(
        http.get(format!(
            "{base}/token?service=wcomp-registry&scope=repository:team/app:pull,push"
        ))
        .basic_auth("alice", Some("alice-pw"))
        .send()
        .await
        .unwrap(),
    )
    .await;
    let d = Digest::of(Algorithm::Sha256, b"mine");
    let r = http
        .put(format!("{base}{loc}?digest={d}"))
        .bearer_auth(token["token"].as_str().unwrap())
        .body("mine")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
}

/// Attack: reading secrets from the data dir through loose file modes.
#[cfg(unix)]
#[tokio::test]
async fn the_data_dir_and_its_secrets_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let data = parent.path().join("data");
    let c = config(&data, true);
    let state = wcomp_registry::app::App::open(c).unwrap();
    state.ensure_admin(Some("pw".into())).await.unwrap();
    let reg = Registry {
        router: wcomp_registry::routes::router(state.clone()),
        state,
        dir: parent,
    };
    let (base, _) = spawn(&reg).await;
    let r = reqwest::Client::new()
        .get(format!("{base}/v2/"))
        .basic_auth("admin", Some("pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let mode = |p: &std::path::Path| fs_err::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    // The token signing key lives in the database (replicas share it).
    for f in ["registry.db", "registry.db-wal"] {
        assert_eq!(mode(&data.join(f)), 0o600, "{f}");
    }
    // A data dir made wider by hand is narrowed at the next start.
    fs_err::set_permissions(
        data.join("registry.db"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    drop(wcomp_registry::app::App::open(config(&data, true)).unwrap());
    assert_eq!(mode(&data.join("registry.db")), 0o600);
}

/// Attack: reading operational data (`/metrics`) anonymously; steering the token realm
/// with a forged Host header.
#[tokio::test]
async fn metrics_need_an_admin_and_the_realm_ignores_forged_hosts() {
    let reg = secured(|_| {}).await;
    let (base, _) = spawn(&reg).await;
    let http = reqwest::Client::new();
    let r = http.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = http
        .get(format!("{base}/metrics"))
        .basic_auth("alice", Some("alice-pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = http
        .get(format!("{base}/metrics"))
        .basic_auth("admin", Some("admin-pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let r = http
        .get(format!("{base}/v2/"))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    let challenge = r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    // The configured host name (tests configure `registry.test`), never the forged one.
    assert!(
        challenge.contains("realm=\"http://registry.test/token\""),
        "{challenge}"
    );
    // Without configured names, the address the client connected to.
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), true);
    c.hostnames.clear();
    let reg = Registry::from_config(dir, c, None);
    let (base2, addr2) = spawn(&reg).await;
    let r = http
        .get(format!("{base2}/v2/"))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    let challenge = r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        challenge.contains(&format!("realm=\"http://{addr2}/token\"")),
        "{challenge}"
    );
}

/// Attack: memory exhaustion through a huge component layer analysed on manifest push.
#[tokio::test]
async fn component_analysis_is_bounded_by_the_configured_size() {
    let indexer = std::sync::Arc::new(Recording::default());
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), false);
    c.limits.max_analyzed_bytes = 64;
    c.namespaces = vec![wcomp_registry::config::NamespacePolicy {
        pattern: "strict/**".into(),
        require_components: true,
        quota_bytes: None,
    }];
    let reg = Registry::from_config(dir, c, Some(indexer.clone()));
    let (base, _) = spawn(&reg).await;
    let mut small = b"\0asm\x0d\0\x01\0".to_vec();
    small.resize(64, 0);
    let mut large = small.clone();
    large.resize(10_000, 0);
    let r = push_wasm(&reg, &base, "lib/small", &small).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert!(r.headers().get("warning").is_none());
    let r = push_wasm(&reg, &base, "lib/large", &large).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let warning = r.headers()["warning"].to_str().unwrap().to_string();
    assert!(
        warning.starts_with("299 - \"") && warning.contains("not indexed"),
        "{warning}"
    );
    assert_eq!(
        *indexer.largest.lock().unwrap(),
        64,
        "only the small layer was read"
    );
    // Where components are required, a layer that cannot be checked is refused.
    let r = push_wasm(&reg, &base, "strict/large", &large).await;
    assert_eq!(
        code_of(r).await,
        (StatusCode::BAD_REQUEST, "MANIFEST_INVALID".into())
    );
}

#[derive(Default)]
struct Recording {
    largest: std::sync::Mutex<usize>,
}

impl wcomp_registry::index::ComponentIndexer for Recording {
    fn analyze(
        &self,
        layer: &[u8],
    ) -> Result<wcomp_registry::index::ComponentInfo, wcomp_registry::index::IndexError> {
        let mut l = self.largest.lock().unwrap();
        *l = (*l).max(layer.len());
        Ok(Default::default())
    }
}

async fn push_wasm(reg: &Registry, base: &str, repo: &str, layer: &[u8]) -> reqwest::Response {
    let config = br#"{"architecture":"wasm","os":"wasip2","layerDigests":[]}"#;
    let c = reg.push_blob(repo, config).await;
    let l = reg.push_blob(repo, layer).await;
    let m = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": { "mediaType": "application/vnd.wasm.config.v0+json", "digest": c.as_str(), "size": config.len() },
        "layers": [{ "mediaType": "application/wasm", "digest": l.as_str(), "size": layer.len() }],
    });
    reqwest::Client::new()
        .put(format!("{base}/v2/{repo}/manifests/v1"))
        .header("content-type", OCI_MANIFEST)
        .body(serde_json::to_vec(&m).unwrap())
        .send()
        .await
        .unwrap()
}

/// Attack: filling the disk (namespace quotas) and the session table (open uploads).
#[tokio::test]
async fn quotas_and_session_caps_answer_with_their_codes() {
    let reg = Registry::with(|c| {
        c.limits.max_open_uploads_per_user = 3;
        c.namespaces = vec![wcomp_registry::config::NamespacePolicy {
            pattern: "q/**".into(),
            require_components: false,
            quota_bytes: Some(1000),
        }];
    });
    let (base, _) = spawn(&reg).await;
    let http = reqwest::Client::new();
    let push = |repo: &str, data: Vec<u8>| {
        let d = Digest::of(Algorithm::Sha256, &data);
        http.post(format!("{base}/v2/{repo}/blobs/uploads/?digest={d}"))
            .body(data)
            .send()
    };
    let a = vec![1u8; 600];
    assert_eq!(
        push("q/one", a.clone()).await.unwrap().status(),
        StatusCode::CREATED
    );
    // The same blob in another repository of the namespace costs nothing more.
    assert_eq!(
        push("q/two", a.clone()).await.unwrap().status(),
        StatusCode::CREATED
    );
    let r = push("q/two", vec![2u8; 600]).await.unwrap();
    let (status, code) = code_of(r).await;
    assert_eq!((status, code.as_str()), (StatusCode::FORBIDDEN, "DENIED"));
    // Chunked: the chunk that would cross the quota is refused, declared or not.
    let loc = start_upload(&http, &base, "q/three").await;
    let r = http
        .patch(format!("{base}{loc}"))
        .header("content-range", "0-499")
        .body(vec![3u8; 500])
        .send()
        .await
        .unwrap();
    assert_eq!(code_of(r).await, (StatusCode::FORBIDDEN, "DENIED".into()));
    // Outside the namespace there is no quota.
    assert_eq!(
        push("free", vec![4u8; 5000]).await.unwrap().status(),
        StatusCode::CREATED
    );

    // Open sessions per identity (here the one identity of a server without auth); one is
    // open already (q/three).
    for _ in 0..2 {
        start_upload(&http, &base, "free").await;
    }
    let r = http
        .post(format!("{base}/v2/free/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(code_of(r).await, (StatusCode::FORBIDDEN, "DENIED".into()));
    let r = http.delete(format!("{base}{loc}")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    start_upload(&http, &base, "free").await;
}

/// Attack: a quota outrun by many open uploads, each within it alone. The bytes every
/// open session of the namespace holds count, so together they stop at the quota; a
/// session that finishes converts what it holds into its blob without counting twice.
#[tokio::test]
async fn open_uploads_add_up_against_the_quota() {
    let reg = Registry::with(|c| {
        c.namespaces = vec![wcomp_registry::config::NamespacePolicy {
            pattern: "q/**".into(),
            require_components: false,
            quota_bytes: Some(1000),
        }];
    });
    let (base, _) = spawn(&reg).await;
    let http = reqwest::Client::new();
    let patch = |loc: String, from: usize, data: Vec<u8>| {
        http.patch(format!("{base}{loc}"))
            .header("content-range", format!("{from}-{}", from + data.len() - 1))
            .body(data)
            .send()
    };
    let mut sessions = Vec::new();
    for (i, repo) in ["q/a", "q/b", "q/c"].into_iter().enumerate() {
        let loc = start_upload(&http, &base, repo).await;
        let r = patch(loc.clone(), 0, vec![i as u8; 300]).await.unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED, "{repo}");
        sessions.push(loc);
    }
    // 900 held by open sessions: 200 more in a fourth does not fit, nor in an open one.
    let fourth = start_upload(&http, &base, "q/d").await;
    let r = patch(fourth.clone(), 0, vec![9u8; 200]).await.unwrap();
    assert_eq!(code_of(r).await, (StatusCode::FORBIDDEN, "DENIED".into()));
    let r = patch(sessions[1].clone(), 300, vec![9u8; 200])
        .await
        .unwrap();
    assert_eq!(code_of(r).await, (StatusCode::FORBIDDEN, "DENIED".into()));
    // Finishing a session turns its 300 held bytes into a 300-byte blob: it fits.
    let d = Digest::of(Algorithm::Sha256, &[0u8; 300]);
    let sep = if sessions[0].contains('?') { '&' } else { '?' };
    let r = http
        .put(format!("{base}{}{sep}digest={d}", sessions[0]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    // Cancelling one frees what it held.
    let r = http
        .delete(format!("{base}{}", sessions[2]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = patch(fourth, 0, vec![9u8; 200]).await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
}

/// Not an attack: a reference that is not a valid tag is simply not found on GET and HEAD
/// (as distribution answers), and invalid on PUT.
#[tokio::test]
async fn invalid_tags_are_unknown_on_get_and_invalid_on_put() {
    let reg = Registry::open();
    let (base, _) = spawn(&reg).await;
    let http = reqwest::Client::new();
    let bad = "-not-a-tag";
    let r = http
        .get(format!("{base}/v2/a/b/manifests/{bad}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        code_of(r).await,
        (StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN".into())
    );
    let r = http
        .head(format!("{base}/v2/a/b/manifests/{bad}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = http
        .put(format!("{base}/v2/a/b/manifests/{bad}"))
        .header("content-type", OCI_MANIFEST)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

/// Work that grows with the registry: a caller who may see a few of many repositories
/// gets exactly those, paged, from a filtered query.
#[tokio::test]
async fn the_catalog_lists_only_what_the_caller_may_pull() {
    let reg = secured(|_| {}).await;
    let x = Digest::sha256(b"x");
    let repos = (0..30).map(|i| format!("other/r{i:02}"));
    for r in repos.chain(["team/a".into(), "team/b/c".into()]) {
        reg.state.meta.link_blob(&r, &x, 1, 0).await.unwrap();
    }
    let (base, _) = spawn(&reg).await;
    let http = reqwest::Client::new();
    let list = |q: &str| {
        http.get(format!("{base}/v2/_catalog{q}"))
            .basic_auth("alice", Some("alice-pw"))
            .send()
    };
    let r = list("?n=1").await.unwrap();
    assert!(
        r.headers()["link"]
            .to_str()
            .unwrap()
            .contains("last=team/a")
    );
    let j = json(r).await;
    assert_eq!(j["repositories"], serde_json::json!(["team/a"]));
    let r = list("?n=1&last=team/a").await.unwrap();
    let j = json(r).await;
    assert_eq!(j["repositories"], serde_json::json!(["team/b/c"]));
    let r = list("").await.unwrap();
    assert!(r.headers().get("link").is_none());
    let j = json(r).await;
    assert_eq!(j["repositories"], serde_json::json!(["team/a", "team/b/c"]));
}
