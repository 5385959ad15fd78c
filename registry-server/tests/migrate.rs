//! `wcomp-registry migrate` (the library call behind it): a registry on fs + SQLite with an
//! image, a signature-like referrer, users, a grant and an API token is copied to S3
//! (SeaweedFS, `WCOMP_TEST_S3`) + PostgreSQL (`WCOMP_TEST_POSTGRES`); the first run is
//! interrupted after one blob and the second resumes; the target then serves the same
//! digests and the same rights. Skipped without the servers, except under CI.

use reqwest::StatusCode;
use serde_json::json;
use sha2::{Digest as _, Sha256};
use wcomp_registry::app::App;
use wcomp_registry::config::{Config, MetadataBackend, StorageBackend};
use wcomp_registry::metadata::User;
use wcomp_registry::migrate::{NoReporter, Options};

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

fn digest(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(b)))
}

async fn serve(state: wcomp_registry::app::AppState) -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(wcomp_registry::server::serve(state, l));
    format!("http://{addr}")
}

async fn push(http: &reqwest::Client, base: &str, repo: &str, data: &[u8]) -> String {
    let d = digest(data);
    let r = http
        .post(format!("{base}/v2/{repo}/blobs/uploads/?digest={d}"))
        .basic_auth("admin", Some("admin-pw"))
        .body(data.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_sqlite_to_s3_postgres_resumes_and_keeps_digests_and_rights() {
    let (Some(pg), Some(s3)) = (env("WCOMP_TEST_POSTGRES"), env("WCOMP_TEST_S3")) else {
        assert!(
            !std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0"),
            "CI: this test needs WCOMP_TEST_POSTGRES and WCOMP_TEST_S3"
        );
        eprintln!("skipped: needs WCOMP_TEST_POSTGRES and WCOMP_TEST_S3");
        return;
    };
    // The source: fs + SQLite, with auth.
    let dir = tempfile::tempdir().unwrap();
    let mut src_cfg = Config {
        data_dir: dir.path().join("data"),
        ..Config::default()
    };
    src_cfg.auth.enabled = true;
    let src = App::open(src_cfg.clone()).unwrap();
    for (name, admin) in [("admin", true), ("alice", false)] {
        src.meta
            .put_user(&User {
                name: name.into(),
                password_hash: wcomp_registry::auth::hash_password(&format!("{name}-pw")).unwrap(),
                admin,
            })
            .await
            .unwrap();
    }
    src.meta
        .add_grant("user:alice", "team/**", &["pull".into()])
        .await
        .unwrap();
    src.meta
        .put_api_token(
            "alice",
            &wcomp_registry::auth::sha256_hex("wcr_alice_token"),
            "ci",
            0,
        )
        .await
        .unwrap();
    let base = serve(src.clone()).await;
    let http = reqwest::Client::new();
    let layer: Vec<u8> = (0..1_500_000u32).map(|i| (i % 239) as u8).collect();
    let config = push(&http, &base, "team/app", b"{}").await;
    let ld = push(&http, &base, "team/app", &layer).await;
    let image = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config, "size": 2},
        "layers": [{"mediaType": "application/octet-stream", "digest": ld, "size": layer.len()}]
    }))
    .unwrap();
    let sig_blob = push(&http, &base, "team/app", b"signature").await;
    let sig = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.dev.cosign.simplesigning.v1+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config, "size": 2},
        "layers": [{"mediaType": "application/octet-stream", "digest": sig_blob, "size": 9}],
        "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": digest(&image), "size": image.len()}
    }))
    .unwrap();
    for (reference, body) in [("v1".to_string(), &image), (digest(&sig), &sig)] {
        let r = http
            .put(format!("{base}/v2/team/app/manifests/{reference}"))
            .basic_auth("admin", Some("admin-pw"))
            .header("content-type", "application/vnd.oci.image.manifest.v1+json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }

    // The target: S3 + PostgreSQL, a fresh database and prefix.
    let name = format!("m{}", uuid::Uuid::new_v4().simple());
    let (c, conn) = tokio_postgres::connect(&pg, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    c.batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let mut dst_cfg = Config::default();
    dst_cfg.auth.enabled = true;
    dst_cfg.metadata.backend = MetadataBackend::Postgres;
    dst_cfg.metadata.url = Some(format!("{}/{name}", pg.rsplit_once('/').unwrap().0));
    dst_cfg.storage.backend = StorageBackend::S3;
    dst_cfg.storage.bucket = Some("wcomp-tests".into());
    dst_cfg.storage.endpoint = Some(s3);
    dst_cfg.storage.prefix = Some(format!("{name}/"));
    dst_cfg.storage.access_key_id = Some("wcomp-test".into());
    dst_cfg.storage.secret_access_key = Some("wcomp-test-secret".into());
    dst_cfg.storage.create_bucket = true;

    let (dm, db) = wcomp_registry::app::open_backends(&dst_cfg).await.unwrap();
    let run = |stop: Option<u64>| {
        let (src, dm, db) = (src.clone(), dm.clone(), db.clone());
        async move {
            wcomp_registry::migrate::run(
                (src.meta.as_ref(), &src.blobs),
                (dm.as_ref(), &db),
                &Options {
                    force: false,
                    stop_after_blobs: stop,
                },
                &NoReporter,
            )
            .await
        }
    };
    let err = run(Some(1)).await.unwrap_err();
    assert!(err.to_string().contains("stopped after 1 blobs"), "{err}");
    let done = run(None).await.unwrap();
    assert!(done.blobs_present >= 1, "the second run resumed: {done:?}");
    assert_eq!(done.users, 2);
    assert_eq!(done.grants, 1);
    assert_eq!(done.tags, 1);
    // A target holding another registry's data is refused.
    let other = tempfile::tempdir().unwrap();
    let other = App::open(Config {
        data_dir: other.path().to_path_buf(),
        ..Config::default()
    })
    .unwrap();
    let refused = wcomp_registry::migrate::run(
        (other.meta.as_ref(), &other.blobs),
        (dm.as_ref(), &db),
        &Options {
            force: false,
            stop_after_blobs: None,
        },
        &NoReporter,
    )
    .await
    .unwrap_err();
    assert!(refused.to_string().contains("--force"), "{refused}");

    // The target serves the same digests and the same rights.
    let dst = App::connect(dst_cfg).await.unwrap();
    let to = serve(dst).await;
    let alice = |r: reqwest::RequestBuilder| r.basic_auth("alice", Some("alice-pw"));
    let got = alice(http.get(format!("{to}/v2/team/app/manifests/v1")))
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.bytes().await.unwrap().as_ref(), &image[..]);
    let got = alice(http.get(format!("{to}/v2/team/app/blobs/{ld}")))
        .send()
        .await
        .unwrap();
    assert!(got.bytes().await.unwrap() == layer);
    let refs = alice(http.get(format!("{to}/v2/team/app/referrers/{}", digest(&image))))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let refs: serde_json::Value = serde_json::from_slice(&refs).unwrap();
    assert_eq!(refs["manifests"][0]["digest"], digest(&sig), "{refs}");
    // alice may pull but not push; her API token works as her password.
    let r = alice(http.post(format!("{to}/v2/team/app/blobs/uploads/")))
        .send()
        .await
        .unwrap();
    assert!(
        r.status() == StatusCode::FORBIDDEN || r.status() == StatusCode::UNAUTHORIZED,
        "{}",
        r.status()
    );
    let r = http
        .get(format!("{to}/v2/team/app/blobs/{ld}"))
        .basic_auth("alice", Some("wcr_alice_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}
