//! The client against the real `wcomp-registry` over real HTTP on a loopback port.
#![allow(clippy::disallowed_methods)] // tests set up files with std::fs directly

use wcomp_core::Digest;
use wcomp_oci::auth::Credentials;
use wcomp_oci::client::{Client, Options};
use wcomp_oci::manifest::{Descriptor, ImageManifest, OCI_EMPTY, OCI_MANIFEST};
use wcomp_registry::app::App;
use wcomp_registry::config::Config;

struct Server {
    host: String,
    _dir: tempfile::TempDir,
}

async fn start(auth: bool) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    c.auth.enabled = auth;
    let state = App::open(c).unwrap();
    if auth {
        state.ensure_admin(Some("pw".into())).await.unwrap();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(wcomp_registry::server::serve(state, listener));
    Server {
        host: addr.to_string(),
        _dir: dir,
    }
}

fn small_chunks() -> Options {
    Options {
        monolithic_limit: 1000,
        chunk_size: 4096,
        ..Options::default()
    }
}

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

#[tokio::test]
async fn chunked_push_pull_and_digest_verification() {
    let s = start(false).await;
    let c = Client::new(&s.host, None, small_chunks());
    c.ping().await.unwrap();
    let blob = data(50_000);
    let d = c.push_blob("a/b", &blob, &wcomp_oci::Quiet).await.unwrap();
    assert_eq!(d, Digest::sha256(&blob));
    // A second push finds the blob and sends nothing.
    assert!(c.blob_exists("a/b", &d).await.unwrap());
    let mut out = Vec::new();
    c.pull_blob(
        "a/b",
        &d,
        Some(blob.len() as u64),
        &mut out,
        &wcomp_oci::Quiet,
    )
    .await
    .unwrap();
    assert_eq!(out, blob);
    // Asking for the right digest with the wrong size fails.
    let err = c
        .pull_blob("a/b", &d, Some(10), &mut Vec::new(), &wcomp_oci::Quiet)
        .await
        .unwrap_err();
    assert!(
        matches!(err, wcomp_oci::Error::DigestMismatch { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn an_interrupted_upload_resumes_from_the_registrys_offset() {
    let s = start(false).await;
    let c = Client::new(&s.host, None, small_chunks());
    let blob = data(30_000);
    let loc = c
        .start_partial_upload("a/r", &blob[..12_345])
        .await
        .unwrap();
    let (offset, _) = c.upload_status("a/r", &loc).await.unwrap();
    assert_eq!(offset, 12_345);
    let d = c.resume_upload("a/r", &loc, &blob).await.unwrap();
    assert_eq!(c.get_blob("a/r", &d).await.unwrap(), blob);
}

#[tokio::test]
async fn manifests_tags_and_referrers() {
    let s = start(false).await;
    let c = Client::new(&s.host, None, Options::default());
    let cfg = c.push_blob("x/y", b"{}", &wcomp_oci::Quiet).await.unwrap();
    let m = ImageManifest::new(
        Descriptor {
            media_type: OCI_EMPTY.into(),
            digest: cfg.to_string(),
            size: 2,
            artifact_type: None,
            annotations: Default::default(),
        },
        vec![],
    );
    let md = c
        .push_manifest("x/y", "v1", &m.to_json(), OCI_MANIFEST)
        .await
        .unwrap();
    let got = c
        .get_manifest("x/y", &md.to_string())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.digest, md);
    assert_eq!(c.tags("x/y").await.unwrap(), vec!["v1".to_string()]);
    assert!(c.get_manifest("x/y", "nope").await.unwrap().is_none());
    let mut r = m.clone();
    r.artifact_type = Some("application/x-test".into());
    r.subject = Some(Descriptor::of(OCI_MANIFEST, &m.to_json()));
    c.push_manifest(
        "x/y",
        &Digest::sha256(&r.to_json()).to_string(),
        &r.to_json(),
        OCI_MANIFEST,
    )
    .await
    .unwrap();
    let refs = c.referrers("x/y", &md, None).await.unwrap().unwrap();
    assert_eq!(refs.len(), 1);
    assert_eq!(refs[0].artifact_type.as_deref(), Some("application/x-test"));
    let none = c
        .referrers("x/y", &md, Some("application/other"))
        .await
        .unwrap()
        .unwrap();
    assert!(none.is_empty());
}

#[tokio::test]
async fn token_flow_with_and_without_credentials() {
    let s = start(true).await;
    let anon = Client::new(&s.host, None, Options::default());
    let err = anon
        .push_blob("p/q", b"x", &wcomp_oci::Quiet)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            wcomp_oci::Error::Unauthorized {
                anonymous: true,
                ..
            }
        ),
        "{err}"
    );
    let creds = Credentials {
        username: "admin".into(),
        password: "pw".into(),
    };
    let c = Client::new(&s.host, Some(creds), Options::default());
    let d = c.push_blob("p/q", b"x", &wcomp_oci::Quiet).await.unwrap();
    assert_eq!(c.get_blob("p/q", &d).await.unwrap(), b"x");
    let bad = Client::new(
        &s.host,
        Some(Credentials {
            username: "admin".into(),
            password: "wrong".into(),
        }),
        Options::default(),
    );
    let err = bad.ping().await.unwrap_err();
    assert!(
        matches!(
            err,
            wcomp_oci::Error::Unauthorized {
                anonymous: false,
                ..
            }
        ),
        "{err}"
    );
}

/// A TCP proxy that cuts the connection once `cut_after` bytes in total have gone
/// upstream (client to registry) or, with `downstream`, back to the client; the first
/// time only, as a dropped network link would.
async fn flaky_proxy(
    upstream: String,
    cut_after: u64,
    downstream: bool,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let cut = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let cut2 = cut.clone();
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = l.accept().await else {
                return;
            };
            let upstream = tokio::net::TcpStream::connect(&upstream).await.unwrap();
            let (cut, sent) = (cut2.clone(), sent.clone());
            tokio::spawn(async move {
                let (cr, cw) = client.into_split();
                let (ur, uw) = upstream.into_split();
                // Copies one direction, cutting it (and so the connection) if it is the
                // counted one and the budget runs out.
                async fn pump(
                    mut from: tokio::net::tcp::OwnedReadHalf,
                    mut to: tokio::net::tcp::OwnedWriteHalf,
                    counted: Option<(Arc<AtomicBool>, Arc<AtomicU64>, u64)>,
                ) {
                    let mut buf = vec![0u8; 16 * 1024];
                    loop {
                        let n = match from.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        if let Some((cut, sent, cut_after)) = &counted {
                            let before = sent.fetch_add(n as u64, Ordering::SeqCst);
                            if !cut.load(Ordering::SeqCst) && before + n as u64 > *cut_after {
                                let keep = cut_after.saturating_sub(before) as usize;
                                let _ = to.write_all(&buf[..keep]).await;
                                cut.store(true, Ordering::SeqCst);
                                return;
                            }
                        }
                        if to.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                }
                let counted = Some((cut, sent, cut_after));
                let (up_count, down_count) = if downstream {
                    (None, counted)
                } else {
                    (counted, None)
                };
                // When either direction ends, drop both: the link is gone.
                tokio::select! {
                    _ = pump(cr, uw, up_count) => {}
                    _ = pump(ur, cw, down_count) => {}
                }
            });
        }
    });
    (addr, cut)
}

#[tokio::test]
async fn a_chunked_upload_cut_mid_chunk_resumes_and_completes() {
    let s = start(false).await;
    // The link drops in the middle of the third chunk.
    let (proxy, cut) = flaky_proxy(s.host.clone(), 2 * 4096 + 2500, false).await;
    let c = Client::new(
        &proxy,
        None,
        Options {
            backoff: std::time::Duration::from_millis(10),
            ..small_chunks()
        },
    );
    let blob = data(40_000);
    let d = c
        .push_blob("cut/blob", &blob, &wcomp_oci::Quiet)
        .await
        .unwrap();
    assert!(
        cut.load(std::sync::atomic::Ordering::SeqCst),
        "the proxy never cut the link"
    );
    let direct = Client::new(&s.host, None, Options::default());
    assert_eq!(direct.get_blob("cut/blob", &d).await.unwrap(), blob);
}

#[tokio::test]
async fn a_download_cut_midway_continues_with_a_range_request() {
    let s = start(false).await;
    let direct = Client::new(&s.host, None, Options::default());
    let blob = data(300_000);
    let d = direct
        .push_blob("cut/down", &blob, &wcomp_oci::Quiet)
        .await
        .unwrap();
    let (proxy, cut) = flaky_proxy(s.host.clone(), 120_000, true).await;
    let c = Client::new(
        &proxy,
        None,
        Options {
            backoff: std::time::Duration::from_millis(10),
            ..Options::default()
        },
    );
    let mut out = Vec::new();
    let n = c
        .pull_blob(
            "cut/down",
            &d,
            Some(blob.len() as u64),
            &mut out,
            &wcomp_oci::Quiet,
        )
        .await
        .unwrap();
    assert!(
        cut.load(std::sync::atomic::Ordering::SeqCst),
        "the proxy never cut the link"
    );
    assert_eq!(n, blob.len() as u64);
    assert_eq!(out, blob);
}
