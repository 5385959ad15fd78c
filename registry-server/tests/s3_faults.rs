//! A registry on real S3 (SeaweedFS, `WCOMP_TEST_S3`) and PostgreSQL (`WCOMP_TEST_POSTGRES`),
//! its S3 traffic through a TCP proxy the test can cut:
//! * S3 failing in the middle of an upload (a PATCH, then the final PUT) answers 5xx, shows
//!   nothing, and the same requests succeed once S3 is back;
//! * `[storage] redirect = true` answers blob GETs with a presigned S3 URL that serves the
//!   same bytes.
//!
//! Skipped without the servers, except under CI.

use reqwest::StatusCode;
use sha2::{Digest as _, Sha256};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use wcomp_registry::config::{Config, MetadataBackend, StorageBackend};

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

fn servers() -> Option<(String, String)> {
    match (env("WCOMP_TEST_POSTGRES"), env("WCOMP_TEST_S3")) {
        (Some(pg), Some(s3)) => Some((pg, s3)),
        _ => {
            assert!(
                !std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0"),
                "CI: this test needs WCOMP_TEST_POSTGRES and WCOMP_TEST_S3"
            );
            eprintln!("skipped: needs WCOMP_TEST_POSTGRES and WCOMP_TEST_S3");
            None
        }
    }
}

/// Forwards connections to `upstream` while `up` is set; refuses them (closes at once)
/// otherwise, and cuts the ones open when it goes down.
async fn proxy(upstream: String, up: Arc<AtomicBool>) -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = l.accept().await else {
                return;
            };
            if !up.load(Ordering::SeqCst) {
                continue; // dropped: the client sees the connection closed
            }
            let (up, upstream) = (up.clone(), upstream.clone());
            tokio::spawn(async move {
                let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await else {
                    return;
                };
                let copy = tokio::io::copy_bidirectional(&mut client, &mut server);
                let cut = async {
                    while up.load(Ordering::SeqCst) {
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    }
                };
                tokio::select! { _ = copy => {}, _ = cut => {} }
            });
        }
    });
    format!("http://{addr}")
}

/// Takes S3 away, waiting until the proxy has cut the connections the store keeps open.
async fn down(up: &AtomicBool) {
    up.store(false, Ordering::SeqCst);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
}

async fn fresh_database(pg: &str) -> String {
    let name = format!("f{}", uuid::Uuid::new_v4().simple());
    let (c, conn) = tokio_postgres::connect(pg, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    c.batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    format!("{}/{name}", pg.rsplit_once('/').unwrap().0)
}

fn config(db: &str, endpoint: &str, prefix: &str, redirect: bool) -> Config {
    let mut c = Config::default();
    c.auth.enabled = false;
    c.metadata.backend = MetadataBackend::Postgres;
    c.metadata.url = Some(db.into());
    c.storage.backend = StorageBackend::S3;
    c.storage.bucket = Some("wcomp-tests".into());
    c.storage.endpoint = Some(endpoint.into());
    c.storage.prefix = Some(prefix.into());
    c.storage.access_key_id = Some("wcomp-test".into());
    c.storage.secret_access_key = Some("wcomp-test-secret".into());
    c.storage.create_bucket = true;
    c.storage.redirect = redirect;
    c
}

async fn serve(c: Config) -> String {
    let state = wcomp_registry::app::App::connect(c).await.unwrap();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(wcomp_registry::server::serve(state, l));
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_failing_mid_upload_is_5xx_and_retryable_and_redirects_serve_the_bytes() {
    let Some((pg, s3)) = servers() else {
        return;
    };
    let up = Arc::new(AtomicBool::new(true));
    let via = proxy(s3.trim_start_matches("http://").to_string(), up.clone()).await;
    let db = fresh_database(&pg).await;
    let prefix = format!("f{}/", uuid::Uuid::new_v4().simple());
    let base = serve(config(&db, &via, &prefix, false)).await;
    let http = reqwest::Client::new();

    let body: Vec<u8> = (0..2_000_000u32).map(|i| (i % 253) as u8).collect();
    let d = format!("sha256:{}", hex::encode(Sha256::digest(&body)));
    let half = body.len() / 2;
    let r = http
        .post(format!("{base}/v2/f/x/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let patch = |range: std::ops::Range<usize>| {
        http.patch(format!("{base}{loc}"))
            .header(
                "content-range",
                format!("{}-{}", range.start, range.end - 1),
            )
            .body(body[range].to_vec())
            .send()
    };
    assert_eq!(patch(0..half).await.unwrap().status(), StatusCode::ACCEPTED);

    down(&up).await;
    let r = patch(half..body.len()).await.unwrap();
    assert!(r.status().is_server_error(), "S3 down: {}", r.status());
    up.store(true, Ordering::SeqCst);
    // The server closes a connection whose request body it did not read (the failed
    // PATCH), so the client's pooled connection may be gone: one retry on a new one.
    let status = match http.get(format!("{base}{loc}")).send().await {
        Ok(r) => r,
        Err(_) => http.get(format!("{base}{loc}")).send().await.unwrap(),
    };
    assert_eq!(status.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        status.headers()["range"].to_str().unwrap(),
        format!("0-{}", half - 1),
        "the failed chunk was not committed"
    );
    assert_eq!(
        patch(half..body.len()).await.unwrap().status(),
        StatusCode::ACCEPTED,
        "the chunk is retried once S3 is back"
    );

    down(&up).await;
    let r = http
        .put(format!("{base}{loc}?digest={d}"))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_server_error(), "S3 down: {}", r.status());
    up.store(true, Ordering::SeqCst);
    let h = http
        .head(format!("{base}/v2/f/x/blobs/{d}"))
        .send()
        .await
        .unwrap();
    assert_eq!(h.status(), StatusCode::NOT_FOUND, "nothing half-visible");
    let r = http
        .put(format!("{base}{loc}?digest={d}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "the PUT is retried");
    let got = http
        .get(format!("{base}/v2/f/x/blobs/{d}"))
        .send()
        .await
        .unwrap();
    assert!(got.bytes().await.unwrap() == body);

    // A second replica on the same stores, with redirects: the GET goes to S3 itself.
    let redirecting = serve(config(&db, &s3, &prefix, true)).await;
    let no_follow = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = no_follow
        .get(format!("{redirecting}/v2/f/x/blobs/{d}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT);
    let target = r.headers()["location"].to_str().unwrap().to_string();
    assert!(target.starts_with(&s3), "{target}");
    let got = http.get(&target).send().await.unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    assert!(got.bytes().await.unwrap() == body);
}
