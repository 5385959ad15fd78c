//! Three real `wcomp-registry serve` processes on one S3 bucket (SeaweedFS) and one
//! PostgreSQL database, behind haproxy in round-robin (`scripts/cluster.sh`, which runs the
//! repo's `deploy/haproxy.cfg`). One cluster, these steps in order:
//! 1. push through replica A, pull through B and C: byte-identical manifests and blobs, the
//!    signature-like referrer listed by both;
//! 2. 32 concurrent chunked uploads through the balancer (so consecutive PATCHes land on
//!    different replicas), kill -9 of one replica in the middle: every upload resumes
//!    through the others and completes, no blob is visible before it is verified, every
//!    blob reads back whole;
//! 3. `wcomp-registry gc` (one more process on the same config) runs repeatedly while the
//!    balancer accepts pushes: every accepted manifest's blobs stay, old garbage goes.
//!
//! Needs `WCOMP_TEST_POSTGRES`, `WCOMP_TEST_S3` and haproxy (scripts/test.sh provides them);
//! skipped without them, except under CI.

use reqwest::StatusCode;
use serde_json::json;
use sha2::{Digest as _, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const UPLOADS: usize = 32;
const CHUNK: usize = 256 * 1024;
const CHUNKS: usize = 8;

fn required() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/cluster.sh")
}

struct Cluster {
    dir: tempfile::TempDir,
    lb: String,
}

impl Cluster {
    fn start() -> Option<Cluster> {
        let have = |k: &str| std::env::var(k).is_ok_and(|v| !v.is_empty());
        let haproxy = Command::new("haproxy").arg("-v").output().is_ok();
        if !(have("WCOMP_TEST_POSTGRES") && have("WCOMP_TEST_S3") && haproxy) {
            assert!(
                !required(),
                "CI: the cluster test needs WCOMP_TEST_POSTGRES, WCOMP_TEST_S3 and haproxy"
            );
            eprintln!("skipped: needs WCOMP_TEST_POSTGRES, WCOMP_TEST_S3 and haproxy");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("bash")
            .arg(script())
            .arg("start")
            .arg(dir.path())
            .arg("noauth")
            .env("WCOMP_REGISTRY_BIN", env!("CARGO_BIN_EXE_wcomp-registry"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cluster.sh start failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lb = String::from_utf8(out.stdout).unwrap().trim().to_string();
        Some(Cluster {
            dir,
            lb: format!("http://{lb}"),
        })
    }

    fn replica(&self, i: usize) -> String {
        let port =
            fs_err::read_to_string(self.dir.path().join(format!("replica-{i}.port"))).unwrap();
        format!("http://127.0.0.1:{}", port.trim())
    }

    fn kill_9(&self, i: usize) {
        let pidfile = self.dir.path().join(format!("replica-{i}.pid"));
        let pid = fs_err::read_to_string(&pidfile).unwrap();
        let st = Command::new("kill")
            .args(["-9", pid.trim()])
            .status()
            .unwrap();
        assert!(st.success());
        fs_err::remove_file(pidfile).unwrap();
    }

    fn gc(&self, grace: i64) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_wcomp-registry"))
            .arg("gc")
            .arg("--config")
            .arg(self.dir.path().join("registry.toml"))
            .arg("--grace-secs")
            .arg(grace.to_string())
            .env_remove("WCOMP_REGISTRY_DATABASE_URL")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "gc failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

fn digest(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(b)))
}

async fn push_blob(http: &reqwest::Client, base: &str, repo: &str, data: &[u8]) -> String {
    let d = digest(data);
    let r = http
        .post(format!("{base}/v2/{repo}/blobs/uploads/?digest={d}"))
        .body(data.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    d
}

async fn put_manifest(
    http: &reqwest::Client,
    base: &str,
    repo: &str,
    reference: &str,
    body: &[u8],
) -> reqwest::Response {
    http.put(format!("{base}/v2/{repo}/manifests/{reference}"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
}

fn manifest(config: &str, layers: &[(&str, usize)], subject: Option<(&str, usize)>) -> Vec<u8> {
    let mut m = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config, "size": 2},
        "layers": layers.iter().map(|(d, n)| json!({
            "mediaType": "application/octet-stream", "digest": d, "size": n
        })).collect::<Vec<_>>(),
    });
    if let Some((d, n)) = subject {
        m["artifactType"] = json!("application/vnd.dev.cosign.simplesigning.v1+json");
        m["subject"] = json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d, "size": n
        });
    }
    serde_json::to_vec(&m).unwrap()
}

async fn get_bytes(http: &reqwest::Client, url: String) -> Vec<u8> {
    let r = http
        .get(&url)
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "GET {url}");
    r.bytes().await.unwrap().to_vec()
}

fn end_of_range(r: &reqwest::Response) -> Option<usize> {
    let range = r.headers().get("range")?.to_str().ok()?;
    let end: usize = range.trim_start_matches("0-").parse().ok()?;
    Some(if end == 0 { 0 } else { end + 1 })
}

fn content(i: usize) -> Vec<u8> {
    (0..CHUNK * CHUNKS)
        .map(|j| ((j * 29 + i * 13) % 251) as u8)
        .collect()
}

/// One chunked upload through the balancer that survives a replica dying: on any failure
/// it asks (any replica) where the session is and continues from there.
async fn resilient_upload(
    http: reqwest::Client,
    lb: String,
    i: usize,
    progressed: Arc<AtomicUsize>,
) {
    let body = content(i);
    let d = digest(&body);
    let repo = format!("cluster/u{i}");
    let loc = loop {
        match http
            .post(format!("{lb}/v2/{repo}/blobs/uploads/"))
            .send()
            .await
        {
            Ok(r) if r.status() == StatusCode::ACCEPTED => {
                break r.headers()["location"].to_str().unwrap().to_string();
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    let mut offset = 0usize;
    let mut failures = 0;
    while offset < body.len() {
        let end = (offset + CHUNK).min(body.len());
        let r = http
            .patch(format!("{lb}{loc}"))
            .header("content-range", format!("{offset}-{}", end - 1))
            .body(body[offset..end].to_vec())
            .send()
            .await;
        match r {
            Ok(r) if r.status() == StatusCode::ACCEPTED => {
                offset = end_of_range(&r).unwrap();
                progressed.fetch_add(1, Ordering::SeqCst);
            }
            _ => {
                failures += 1;
                assert!(failures < 50, "upload {i}: too many failures");
                tokio::time::sleep(Duration::from_millis(200)).await;
                // Not complete, so not visible anywhere.
                if let Ok(h) = http.head(format!("{lb}/v2/{repo}/blobs/{d}")).send().await {
                    assert_ne!(
                        h.status(),
                        StatusCode::OK,
                        "upload {i}: partial blob visible"
                    );
                }
                if let Ok(s) = http.get(format!("{lb}{loc}")).send().await
                    && s.status() == StatusCode::NO_CONTENT
                {
                    offset = end_of_range(&s).unwrap();
                }
            }
        }
    }
    loop {
        match http.put(format!("{lb}{loc}?digest={d}")).send().await {
            Ok(r) if r.status() == StatusCode::CREATED => break,
            Ok(r) if r.status().is_client_error() => {
                // A retried PUT whose first try completed: the session is gone, the blob is there.
                let h = http
                    .head(format!("{lb}/v2/{repo}/blobs/{d}"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(
                    h.status(),
                    StatusCode::OK,
                    "upload {i}: PUT refused and no blob"
                );
                break;
            }
            _ => {
                failures += 1;
                assert!(failures < 50, "upload {i}: too many failures");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    let got = get_bytes(&http, format!("{lb}/v2/{repo}/blobs/{d}")).await;
    assert!(got == body, "upload {i}: blob read back differs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_behind_haproxy() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let http = reqwest::Client::new();
    let (a, b, c) = (cluster.replica(1), cluster.replica(2), cluster.replica(3));

    // 1. Push through A, pull through B and C.
    let layer: Vec<u8> = (0..3_000_000u32).map(|i| (i % 241) as u8).collect();
    let config = push_blob(&http, &a, "team/app", b"{}").await;
    let ld = push_blob(&http, &a, "team/app", &layer).await;
    let image = manifest(&config, &[(&ld, layer.len())], None);
    let r = put_manifest(&http, &a, "team/app", "v1", &image).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let image_digest = digest(&image);
    let sig_layer = b"signature payload".to_vec();
    let sd = push_blob(&http, &a, "team/app", &sig_layer).await;
    let sig = manifest(
        &config,
        &[(&sd, sig_layer.len())],
        Some((&image_digest, image.len())),
    );
    let r = put_manifest(&http, &a, "team/app", &digest(&sig), &sig).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    for base in [&b, &c] {
        assert_eq!(
            get_bytes(&http, format!("{base}/v2/team/app/manifests/v1")).await,
            image
        );
        assert!(get_bytes(&http, format!("{base}/v2/team/app/blobs/{ld}")).await == layer);
        let refs: serde_json::Value = serde_json::from_slice(
            &get_bytes(
                &http,
                format!("{base}/v2/team/app/referrers/{image_digest}"),
            )
            .await,
        )
        .unwrap();
        assert_eq!(refs["manifests"][0]["digest"], digest(&sig), "{refs}");
        assert_eq!(
            get_bytes(
                &http,
                format!("{base}/v2/team/app/manifests/{}", digest(&sig))
            )
            .await,
            sig
        );
    }

    // 2. 32 chunked uploads through the balancer; kill -9 replica 2 in the middle.
    let progressed = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..UPLOADS)
        .map(|i| {
            tokio::spawn(resilient_upload(
                http.clone(),
                cluster.lb.clone(),
                i,
                progressed.clone(),
            ))
        })
        .collect();
    while progressed.load(Ordering::SeqCst) < UPLOADS * CHUNKS / 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    cluster.kill_9(2);
    for t in tasks {
        t.await.unwrap();
    }
    // The balancer really spread the requests: the survivors both served uploads.
    for base in [&a, &c] {
        let m = http
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let started: u64 = m
            .lines()
            .find_map(|l| l.strip_prefix("wcomp_registry_uploads_started_total "))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        assert!(started > 0, "replica {base} took no upload:\n{m}");
    }

    // 3. GC (another process, same config) while the balancer accepts pushes.
    let garbage = push_blob(&http, &cluster.lb, "team/garbage", b"old and unreferenced").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pushes = {
        let (http, lb) = (http.clone(), cluster.lb.clone());
        tokio::spawn(async move {
            let mut accepted = Vec::new();
            for i in 0..40u32 {
                let layer = format!("layer {i} {}", "x".repeat(i as usize * 100)).into_bytes();
                loop {
                    let config = push_blob(&http, &lb, "team/live", b"{}").await;
                    let ld = push_blob(&http, &lb, "team/live", &layer).await;
                    let m = manifest(&config, &[(&ld, layer.len())], None);
                    let r = put_manifest(&http, &lb, "team/live", &format!("t{i}"), &m).await;
                    if r.status() == StatusCode::CREATED {
                        accepted.push((i, ld, layer));
                        break;
                    }
                    // GC took a blob between upload and manifest: refused, so re-upload.
                    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
                }
            }
            accepted
        })
    };
    let mut gc_runs = 0;
    while !pushes.is_finished() {
        let out = cluster.gc(1);
        assert!(
            out.contains("deleted") || out.contains("another process"),
            "{out}"
        );
        gc_runs += 1;
    }
    let accepted = pushes.await.unwrap();
    assert_eq!(accepted.len(), 40);
    cluster.gc(1);
    for (i, ld, layer) in &accepted {
        let m = get_bytes(&http, format!("{}/v2/team/live/manifests/t{i}", cluster.lb)).await;
        assert!(String::from_utf8_lossy(&m).contains(ld.as_str()));
        assert!(
            get_bytes(&http, format!("{}/v2/team/live/blobs/{ld}", cluster.lb)).await == *layer
        );
    }
    let g = http
        .head(format!("{}/v2/team/garbage/blobs/{garbage}", cluster.lb))
        .send()
        .await
        .unwrap();
    assert_eq!(
        g.status(),
        StatusCode::NOT_FOUND,
        "garbage survived {gc_runs} GC runs"
    );
    // The earlier pushes are referenced and stay.
    assert!(get_bytes(&http, format!("{}/v2/team/app/blobs/{ld}", cluster.lb)).await == layer);
}
