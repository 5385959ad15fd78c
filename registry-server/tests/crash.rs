//! kill -9 the server during many concurrent chunked uploads, restart it, and check that no
//! blob is corrupt, no partial blob is visible, and every interrupted upload resumes.

use reqwest::StatusCode;
use sha2::{Digest as _, Sha256};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const UPLOADS: usize = 12;
const CHUNK: usize = 64 * 1024;
const CHUNKS: usize = 24;

fn start(data: &std::path::Path) -> (Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_wcomp-registry"))
        .args([
            "serve",
            "--insecure-no-auth",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data)
        .env_remove("WCOMP_REGISTRY_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..600 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (child, format!("http://127.0.0.1:{port}"));
        }
        assert!(child.try_wait().unwrap().is_none(), "server exited early");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("server did not start");
}

fn content(i: usize) -> Vec<u8> {
    (0..CHUNK * CHUNKS)
        .map(|j| ((j * 31 + i * 7) % 253) as u8)
        .collect()
}

fn digest(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(b)))
}

fn end_of_range(r: &reqwest::Response) -> usize {
    let range = r.headers()["range"].to_str().unwrap();
    let end: usize = range.trim_start_matches("0-").parse().unwrap();
    if end == 0 { 0 } else { end + 1 }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_chunked_uploads_then_resume() {
    let data = tempfile::tempdir().unwrap();
    let (mut server, base) = start(data.path());
    let http = reqwest::Client::new();
    let progressed = Arc::new(AtomicUsize::new(0));

    // Open every session first, so each has a location to resume from.
    let mut locations = Vec::new();
    for i in 0..UPLOADS {
        let r = http
            .post(format!("{base}/v2/crash/u{i}/blobs/uploads/"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        locations.push(r.headers()["location"].to_str().unwrap().to_string());
    }
    let mut tasks = Vec::new();
    for (i, loc) in locations.iter().cloned().enumerate() {
        let (http, base, progressed) = (http.clone(), base.clone(), progressed.clone());
        tasks.push(tokio::spawn(async move {
            let body = content(i);
            for c in 0..CHUNKS {
                let start = c * CHUNK;
                let r = http
                    .patch(format!("{base}{loc}"))
                    .header("content-range", format!("{start}-{}", start + CHUNK - 1))
                    .body(body[start..start + CHUNK].to_vec())
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == StatusCode::ACCEPTED => {
                        progressed.fetch_add(1, Ordering::SeqCst);
                    }
                    _ => return, // the server died under us
                }
            }
            // Some uploads complete before the kill; that is fine too.
            let _ = http
                .put(format!("{base}{loc}?digest={}", digest(&body)))
                .send()
                .await;
        }));
    }
    // Kill once a good part of the chunks are in, while the rest are in flight.
    while progressed.load(Ordering::SeqCst) < UPLOADS * CHUNKS / 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    for t in tasks {
        t.await.unwrap();
    }

    let (mut server, base) = start(data.path());
    for (i, loc) in locations.iter().enumerate() {
        let body = content(i);
        let d = digest(&body);
        let status = http.get(format!("{base}{loc}")).send().await.unwrap();
        if status.status() == StatusCode::NOT_FOUND {
            // Completed before the kill: the blob must be whole.
            let got = http
                .get(format!("{base}/v2/crash/u{i}/blobs/{d}"))
                .send()
                .await
                .unwrap();
            assert_eq!(
                got.status(),
                StatusCode::OK,
                "upload {i}: neither a session nor a blob"
            );
            assert_eq!(got.bytes().await.unwrap().as_ref(), &body[..]);
            continue;
        }
        assert_eq!(status.status(), StatusCode::NO_CONTENT);
        // Not complete, so not visible.
        let early = http
            .head(format!("{base}/v2/crash/u{i}/blobs/{d}"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            early.status(),
            StatusCode::NOT_FOUND,
            "upload {i}: partial blob visible"
        );
        // Resume from wherever the server says it is; it is always a chunk boundary.
        let mut offset = end_of_range(&status);
        assert_eq!(
            offset % CHUNK,
            0,
            "upload {i}: committed offset {offset} is mid-chunk"
        );
        while offset < body.len() {
            let r = http
                .patch(format!("{base}{loc}"))
                .header("content-range", format!("{offset}-{}", offset + CHUNK - 1))
                .body(body[offset..offset + CHUNK].to_vec())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::ACCEPTED);
            offset = end_of_range(&r);
        }
        let r = http
            .put(format!("{base}{loc}?digest={d}"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::CREATED,
            "upload {i} did not complete after resume"
        );
        let got = http
            .get(format!("{base}/v2/crash/u{i}/blobs/{d}"))
            .send()
            .await
            .unwrap();
        assert_eq!(got.bytes().await.unwrap().as_ref(), &body[..]);
    }
    // Every file under blobs/ holds exactly the bytes its name says.
    let mut stack = vec![data.path().join("storage/blobs")];
    let mut checked = 0;
    while let Some(dir) = stack.pop() {
        for e in fs_err::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let name = p.file_name().unwrap().to_str().unwrap().to_string();
                assert_eq!(
                    hex::encode(Sha256::digest(fs_err::read(&p).unwrap())),
                    name,
                    "corrupt blob {}",
                    p.display()
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, UPLOADS);
    server.kill().unwrap();
    server.wait().unwrap();
}
