//! Online garbage collection: what it removes, what it keeps, and that concurrent pushes
//! lose nothing.

mod common;

use axum::http::StatusCode;
use common::*;
use std::sync::Arc;
use wcomp_registry::auth::now;
use wcomp_registry::gc;
use wcomp_registry::oci::{Algorithm, Digest};

fn blob_file(reg: &Registry, d: &Digest) -> std::path::PathBuf {
    let hex = d.hex();
    reg.dir.path().join(format!(
        "storage/blobs/{}/{}/{}",
        d.algorithm().as_str(),
        &hex[..2],
        hex
    ))
}

#[tokio::test]
async fn collects_unreferenced_blobs_after_the_grace_period_only() {
    let reg = Registry::open();
    let (m, _) = reg.push_image("g", "v1", b"kept layer").await;
    let loose = reg.push_blob("g", b"loose blob").await;
    let kept = Digest::of(Algorithm::Sha256, b"kept layer");
    assert!(blob_file(&reg, &loose).exists());

    // Within the grace period nothing goes.
    let r = gc::run(reg.state.meta.as_ref(), &reg.state.blobs, 3600, now())
        .await
        .unwrap();
    assert_eq!(r.blobs_deleted, 0);
    assert!(blob_file(&reg, &loose).exists());

    // Later, the loose blob goes and everything a manifest references stays.
    let r = gc::run(
        reg.state.meta.as_ref(),
        &reg.state.blobs,
        3600,
        now() + 7200,
    )
    .await
    .unwrap();
    assert_eq!(r.blobs_deleted, 1);
    assert!(!blob_file(&reg, &loose).exists());
    reg.get(&format!("/v2/g/blobs/{loose}"))
        .send()
        .await
        .assert_error(404, "BLOB_UNKNOWN");
    assert_eq!(
        reg.get(&format!("/v2/g/blobs/{kept}")).send().await.body,
        b"kept layer"
    );
    assert_eq!(
        reg.get(&format!("/v2/g/manifests/{m}")).send().await.status,
        StatusCode::OK
    );

    // The same bytes can be pushed again afterwards.
    reg.push_blob("g", b"loose blob").await;
    assert_eq!(
        reg.get(&format!("/v2/g/blobs/{loose}")).send().await.body,
        b"loose blob"
    );
}

#[tokio::test]
async fn deleting_a_manifest_frees_its_blobs_unless_shared() {
    let reg = Registry::open();
    let (m1, _) = reg.push_image("a", "v1", b"only in a").await;
    reg.push_image("b", "v1", b"only in b").await; // shares the `{}` config blob
    assert_eq!(
        reg.delete(&format!("/v2/a/manifests/{m1}"))
            .send()
            .await
            .status,
        StatusCode::ACCEPTED
    );
    gc::run(reg.state.meta.as_ref(), &reg.state.blobs, 0, now() + 10)
        .await
        .unwrap();
    assert!(!blob_file(&reg, &Digest::of(Algorithm::Sha256, b"only in a")).exists());
    assert!(
        !blob_file(&reg, &m1).exists(),
        "the manifest's own bytes go too"
    );
    let cfg = Digest::of(Algorithm::Sha256, b"{}");
    assert!(blob_file(&reg, &cfg).exists(), "still referenced by b");
    assert_eq!(
        reg.get(&format!("/v2/b/blobs/{cfg}")).send().await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn abandoned_uploads_and_scratch_files_are_removed() {
    let reg = Registry::open();
    let loc = reg
        .post("/v2/u/blobs/uploads/")
        .send()
        .await
        .header("location")
        .to_string();
    reg.patch(&loc)
        .header("content-range", "0-2")
        .body(b"abc".to_vec())
        .send()
        .await;
    let id = loc.rsplit('/').next().unwrap().to_string();
    let dir = reg.dir.path().join("storage/uploads").join(&id);
    assert_eq!(fs_err::read_dir(&dir).unwrap().count(), 1);
    // A leftover of a crashed request.
    fs_err::create_dir_all(reg.dir.path().join("storage/tmp")).unwrap();
    fs_err::write(reg.dir.path().join("storage/tmp/crashed"), b"partial").unwrap();

    let r = gc::run(reg.state.meta.as_ref(), &reg.state.blobs, 3600, now())
        .await
        .unwrap();
    assert_eq!(
        (r.uploads_deleted, r.scratch_deleted),
        (0, 0),
        "young uploads and scratch stay"
    );
    // A short grace does not touch them either: in-flight requests get a fixed floor.
    let r = gc::run(reg.state.meta.as_ref(), &reg.state.blobs, 0, now() + 10)
        .await
        .unwrap();
    assert_eq!((r.uploads_deleted, r.scratch_deleted), (0, 0));
    let r = gc::run(
        reg.state.meta.as_ref(),
        &reg.state.blobs,
        60,
        now() + gc::MIN_SCRATCH_AGE_SECS + 10,
    )
    .await
    .unwrap();
    assert_eq!(r.uploads_deleted, 1);
    assert_eq!(r.scratch_deleted, 1);
    reg.get(&loc)
        .send()
        .await
        .assert_error(404, "BLOB_UPLOAD_UNKNOWN");
    assert_eq!(fs_err::read_dir(&dir).map(|d| d.count()).unwrap_or(0), 0);
    assert!(!reg.dir.path().join("storage/tmp/crashed").exists());
}

/// Pushes an image, retrying as a client would when GC wins a race (the manifest names a
/// blob GC just claimed: MANIFEST_BLOB_UNKNOWN; or the blob is mid-deletion: 429).
/// With a grace of 0 a pusher can lose the race many times in a row on a loaded machine
/// (CI once saw 50 losses), so it retries until a generous deadline, backing off a little
/// each time; only safety is asserted, never how fast a push gets through.
async fn push_with_retries(reg: &Registry, repo: &str, tag: &str, layer: &[u8]) -> Digest {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    let mut attempt = 0u64;
    while std::time::Instant::now() < deadline {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(attempt.min(20))).await;
        }
        attempt += 1;
        let cfg = reg
            .post(&format!(
                "/v2/{repo}/blobs/uploads/?digest={}",
                Digest::of(Algorithm::Sha256, b"{}")
            ))
            .body(b"{}".to_vec())
            .send()
            .await;
        let l = reg
            .post(&format!(
                "/v2/{repo}/blobs/uploads/?digest={}",
                Digest::of(Algorithm::Sha256, layer)
            ))
            .body(layer.to_vec())
            .send()
            .await;
        if cfg.status != StatusCode::CREATED || l.status != StatusCode::CREATED {
            assert_eq!(
                cfg.status.as_u16().max(l.status.as_u16()),
                429,
                "{} {}",
                cfg.text(),
                l.text()
            );
            continue;
        }
        let m = image_manifest(
            &Digest::of(Algorithm::Sha256, b"{}"),
            2,
            &[(&Digest::of(Algorithm::Sha256, layer), layer.len())],
            None,
        );
        let r = reg
            .put(&format!("/v2/{repo}/manifests/{tag}"))
            .header("content-type", OCI_MANIFEST)
            .body(m)
            .send()
            .await;
        match r.status {
            StatusCode::CREATED => {
                return Digest::parse(r.header("docker-content-digest")).unwrap();
            }
            _ => {
                let code = r.code();
                assert!(
                    code == "MANIFEST_BLOB_UNKNOWN" || code == "TOOMANYREQUESTS",
                    "{}",
                    r.text()
                );
            }
        }
    }
    panic!("push of {repo}:{tag} never got through in {attempt} attempts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_running_against_concurrent_pushes_loses_nothing() {
    let reg = Arc::new(Registry::open());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // The harshest setting: grace 0, GC looping as fast as it can, so every blob not yet
    // referenced is a candidate at every moment.
    let gc_task = {
        let (reg, stop) = (reg.clone(), stop.clone());
        tokio::spawn(async move {
            let mut runs = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                gc::run(reg.state.meta.as_ref(), &reg.state.blobs, 0, now() + 1)
                    .await
                    .unwrap();
                runs += 1;
                tokio::task::yield_now().await;
            }
            runs
        })
    };
    let mut pushers = Vec::new();
    for p in 0..6 {
        let reg = reg.clone();
        pushers.push(tokio::spawn(async move {
            let mut pushed = Vec::new();
            for i in 0..5 {
                let layer = format!("layer {p}-{i}").into_bytes();
                let repo = format!("c/p{p}");
                let d = push_with_retries(&reg, &repo, &format!("t{i}"), &layer).await;
                pushed.push((repo, d, layer));
            }
            pushed
        }));
    }
    let mut all = Vec::new();
    for p in pushers {
        all.extend(p.await.unwrap());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(gc_task.await.unwrap() > 0);
    // One more collection after the dust settles, then everything accepted must be whole.
    gc::run(reg.state.meta.as_ref(), &reg.state.blobs, 0, now() + 10)
        .await
        .unwrap();
    for (repo, d, layer) in all {
        let m = reg.get(&format!("/v2/{repo}/manifests/{d}")).send().await;
        assert_eq!(m.status, StatusCode::OK);
        assert_eq!(Digest::of(Algorithm::Sha256, &m.body), d);
        let ld = Digest::of(Algorithm::Sha256, &layer);
        let l = reg.get(&format!("/v2/{repo}/blobs/{ld}")).send().await;
        assert_eq!(l.body, layer, "layer of an accepted manifest lost");
        let c = reg
            .get(&format!(
                "/v2/{repo}/blobs/{}",
                Digest::of(Algorithm::Sha256, b"{}")
            ))
            .send()
            .await;
        assert_eq!(c.body, b"{}", "config of an accepted manifest lost");
    }
}

#[tokio::test]
async fn serve_runs_gc_periodically_when_configured() {
    let reg = Registry::with(|c| {
        c.gc.interval_secs = 1;
        c.gc.grace_secs = 0;
    });
    let loose = reg.push_blob("p", b"loose").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    tokio::spawn(wcomp_registry::server::serve(reg.state.clone(), listener));
    // Poll (no timing assertion): the blob goes once a tick sees it older than the grace.
    for _ in 0..300 {
        let m = reg.get("/metrics").send().await.text();
        if m.contains("wcomp_registry_gc_blobs_deleted_total 1") {
            assert!(!blob_file(&reg, &loose).exists());
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("periodic GC never removed the loose blob");
}
