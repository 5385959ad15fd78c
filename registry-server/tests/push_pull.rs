//! Spec tests for the pull and push workflows (OCI Distribution 1.1), in-process.

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::json;
use wcomp_registry::oci::{Algorithm, Digest};

#[tokio::test]
async fn base_endpoint_answers_200() {
    let reg = Registry::open();
    let r = reg.get("/v2/").send().await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("docker-distribution-api-version"), "registry/2.0");
}

#[tokio::test]
async fn monolithic_post_then_put_and_pull_back() {
    let reg = Registry::open();
    let data = b"hello layer".to_vec();
    let d = Digest::of(Algorithm::Sha256, &data);
    let r = reg.post("/v2/app/blobs/uploads/").send().await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let loc = r.header("location").to_string();
    assert!(loc.starts_with("/v2/app/blobs/uploads/"), "{loc}");
    let r = reg
        .put(&format!("{loc}?digest={d}"))
        .header("content-type", "application/octet-stream")
        .body(data.clone())
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.header("location"), format!("/v2/app/blobs/{d}"));
    assert_eq!(r.header("docker-content-digest"), d.as_str());

    let r = reg.get(&format!("/v2/app/blobs/{d}")).send().await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, data);
    assert_eq!(r.header("docker-content-digest"), d.as_str());
    let r = reg.head(&format!("/v2/app/blobs/{d}")).send().await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-length"), data.len().to_string());
    assert!(r.body.is_empty());
}

#[tokio::test]
async fn single_post_with_digest_creates_the_blob() {
    let reg = Registry::open();
    let d = reg.push_blob("app", b"one shot").await;
    assert_eq!(
        reg.get(&format!("/v2/app/blobs/{d}")).send().await.body,
        b"one shot"
    );
}

#[tokio::test]
async fn empty_blobs_work_in_every_upload_mode() {
    let reg = Registry::open();
    let d = Digest::of(Algorithm::Sha256, b"");
    reg.push_blob("e", b"").await;
    let r = reg.get(&format!("/v2/e/blobs/{d}")).send().await;
    assert_eq!(
        (r.status, r.header("content-length")),
        (StatusCode::OK, "0")
    );
    // Chunked with no chunks at all, closed by an empty PUT.
    let loc = reg
        .post("/v2/e2/blobs/uploads/")
        .send()
        .await
        .header("location")
        .to_string();
    let r = reg.put(&format!("{loc}?digest={d}")).send().await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(
        reg.head(&format!("/v2/e2/blobs/{d}")).send().await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn sha512_blobs_and_manifests() {
    let reg = Registry::open();
    let data = b"sha512 content";
    let d = Digest::of(Algorithm::Sha512, data);
    let r = reg
        .post(&format!("/v2/s/blobs/uploads/?digest={d}"))
        .body(data.to_vec())
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.header("docker-content-digest"), d.as_str());
    assert_eq!(reg.get(&format!("/v2/s/blobs/{d}")).send().await.body, data);

    let cfg = reg.push_blob("s", b"{}").await;
    let m = image_manifest(&cfg, 2, &[(&d, data.len())], None);
    let md = Digest::of(Algorithm::Sha512, &m);
    let r = reg
        .put(&format!("/v2/s/manifests/{md}"))
        .header("content-type", OCI_MANIFEST)
        .body(m.clone())
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.header("docker-content-digest"), md.as_str());
    assert_eq!(
        reg.get(&format!("/v2/s/manifests/{md}")).send().await.body,
        m
    );
}

#[tokio::test]
async fn chunked_upload_in_order_with_status() {
    let reg = Registry::open();
    let data: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    let d = Digest::of(Algorithm::Sha256, &data);
    let r = reg.post("/v2/c/blobs/uploads/").send().await;
    let mut loc = r.header("location").to_string();
    assert_eq!(r.header("range"), "0-0");
    for (i, chunk) in data.chunks(1000).enumerate().take(2) {
        let start = i * 1000;
        let r = reg
            .patch(&loc)
            .header("content-type", "application/octet-stream")
            .header(
                "content-range",
                &format!("{}-{}", start, start + chunk.len() - 1),
            )
            .body(chunk.to_vec())
            .send()
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
        assert_eq!(r.header("range"), format!("0-{}", start + chunk.len() - 1));
        assert!(!r.header("docker-upload-uuid").is_empty());
        loc = r.header("location").to_string();
    }
    let r = reg.get(&loc).send().await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(r.header("range"), "0-1999");
    // The last chunk travels with the closing PUT.
    let r = reg
        .put(&format!("{loc}?digest={d}"))
        .header("content-range", "2000-2999")
        .body(data[2000..].to_vec())
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(reg.get(&format!("/v2/c/blobs/{d}")).send().await.body, data);
    // The session is gone once complete.
    reg.get(&loc)
        .send()
        .await
        .assert_error(404, "BLOB_UPLOAD_UNKNOWN");
}

#[tokio::test]
async fn out_of_order_chunk_is_416_and_changes_nothing() {
    let reg = Registry::open();
    let loc = reg
        .post("/v2/c/blobs/uploads/")
        .send()
        .await
        .header("location")
        .to_string();
    let r = reg
        .patch(&loc)
        .header("content-range", "0-3")
        .body(b"abcd".to_vec())
        .send()
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    // A gap, a repeat, and a chunk from the past.
    for range in ["10-13", "0-3", "2-5"] {
        let r = reg
            .patch(&loc)
            .header("content-range", range)
            .body(b"zzzz".to_vec())
            .send()
            .await;
        assert_eq!(
            r.status,
            StatusCode::RANGE_NOT_SATISFIABLE,
            "{range}: {}",
            r.text()
        );
        assert_eq!(r.header("range"), "0-3");
        assert!(r.header("location").starts_with("/v2/c/blobs/uploads/"));
    }
    let r = reg
        .patch(&loc)
        .header("content-range", "4-7")
        .body(b"efgh".to_vec())
        .send()
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let d = Digest::of(Algorithm::Sha256, b"abcdefgh");
    let r = reg.put(&format!("{loc}?digest={d}")).send().await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(
        reg.get(&format!("/v2/c/blobs/{d}")).send().await.body,
        b"abcdefgh"
    );
}

#[tokio::test]
async fn streamed_patch_without_content_range() {
    let reg = Registry::open();
    let loc = reg
        .post("/v2/c/blobs/uploads/")
        .send()
        .await
        .header("location")
        .to_string();
    for part in [&b"stream"[..], b"ed"] {
        assert_eq!(
            reg.patch(&loc).body(part.to_vec()).send().await.status,
            StatusCode::ACCEPTED
        );
    }
    let d = Digest::of(Algorithm::Sha256, b"streamed");
    assert_eq!(
        reg.put(&format!("{loc}?digest={d}")).send().await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn content_length_disagreeing_with_content_range_is_refused() {
    let reg = Registry::open();
    let loc = reg
        .post("/v2/c/blobs/uploads/")
        .send()
        .await
        .header("location")
        .to_string();
    let r = reg
        .patch(&loc)
        .header("content-range", "0-9")
        .body(b"abc".to_vec())
        .send()
        .await;
    r.assert_error(400, "SIZE_INVALID");
    assert_eq!(reg.get(&loc).send().await.header("range"), "0-0");
}

#[tokio::test]
async fn wrong_digest_is_refused_in_every_upload_mode_and_never_visible() {
    let reg = Registry::open();
    let claimed = Digest::of(Algorithm::Sha256, b"what the client claims");
    // POST ?digest=
    reg.post(&format!("/v2/w/blobs/uploads/?digest={claimed}"))
        .body(b"other".to_vec())
        .send()
        .await
        .assert_error(400, "DIGEST_INVALID");
    // POST then monolithic PUT
    let loc = reg
        .post("/v2/w/blobs/uploads/")
        .send()
        .await
        .header("location")
        .to_string();
    reg.put(&format!("{loc}?digest={claimed}"))
        .body(b"other".to_vec())
        .send()
        .await
        .assert_error(400, "DIGEST_INVALID");
    // chunked, then PUT without body
    let loc2 = reg
        .post("/v2/w/blobs/uploads/")
        .send()
        .await
        .header("location")
        .to_string();
    reg.patch(&loc2)
        .header("content-range", "0-4")
        .body(b"other".to_vec())
        .send()
        .await;
    reg.put(&format!("{loc2}?digest={claimed}"))
        .send()
        .await
        .assert_error(400, "DIGEST_INVALID");
    // Nothing became visible, and the chunked session kept its data for a correct retry.
    reg.head(&format!("/v2/w/blobs/{claimed}")).send().await;
    assert_eq!(
        reg.get(&format!("/v2/w/blobs/{claimed}"))
            .send()
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let right = Digest::of(Algorithm::Sha256, b"other");
    assert_eq!(reg.get(&loc2).send().await.header("range"), "0-4");
    assert_eq!(
        reg.put(&format!("{loc2}?digest={right}"))
            .send()
            .await
            .status,
        StatusCode::CREATED
    );
    // A malformed or unsupported digest parameter.
    reg.post("/v2/w/blobs/uploads/?digest=md5:abc")
        .body(b"x".to_vec())
        .send()
        .await
        .assert_error(400, "DIGEST_INVALID");
    let loc3 = reg
        .post("/v2/w/blobs/uploads/")
        .send()
        .await
        .header("location")
        .to_string();
    reg.put(&loc3)
        .body(b"x".to_vec())
        .send()
        .await
        .assert_error(400, "DIGEST_INVALID");
    // Nothing was left in tmp/.
    let tmp = reg.dir.path().join("storage/tmp");
    let leftovers = fs_err::read_dir(&tmp).map(|d| d.count()).unwrap_or(0);
    assert_eq!(
        leftovers,
        0,
        "staged files of refused uploads remain in {}",
        tmp.display()
    );
}

#[tokio::test]
async fn blob_ranges() {
    let reg = Registry::open();
    let data: Vec<u8> = (0..100u8).collect();
    let d = reg.push_blob("r", &data).await;
    let url = format!("/v2/r/blobs/{d}");
    let r = reg.get(&url).header("range", "bytes=10-19").send().await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.body, &data[10..20]);
    assert_eq!(r.header("content-range"), "bytes 10-19/100");
    let r = reg.get(&url).header("range", "bytes=-5").send().await;
    assert_eq!(r.body, &data[95..]);
    let r = reg.get(&url).header("range", "bytes=90-").send().await;
    assert_eq!(r.body, &data[90..]);
    let r = reg.get(&url).header("range", "bytes=100-200").send().await;
    assert_eq!(r.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(r.header("content-range"), "bytes */100");
}

#[tokio::test]
async fn manifests_by_tag_and_digest_are_byte_exact() {
    let reg = Registry::open();
    let cfg = reg.push_blob("m", b"{}").await;
    // Custom fields, the `data` field, odd whitespace: all must survive untouched.
    let body = format!(
        "{{ \"schemaVersion\" : 2,\n  \"mediaType\": \"{OCI_MANIFEST}\", \"x-custom\": {{\"k\": [1,2]}},\n \"config\": {{\"mediaType\": \"{EMPTY_JSON}\", \"digest\": \"{cfg}\", \"size\": 2, \"data\": \"e30=\"}},\n \"layers\": [] }}"
    );
    let d = reg.put_manifest("m", "v1", body.as_bytes()).await;
    assert_eq!(d, Digest::of(Algorithm::Sha256, body.as_bytes()));
    for reference in ["v1".to_string(), d.to_string()] {
        let r = reg
            .get(&format!("/v2/m/manifests/{reference}"))
            .send()
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body, body.as_bytes());
        assert_eq!(r.header("content-type"), OCI_MANIFEST);
        assert_eq!(r.header("docker-content-digest"), d.as_str());
        let h = reg
            .head(&format!("/v2/m/manifests/{reference}"))
            .send()
            .await;
        assert_eq!(h.status, StatusCode::OK);
        assert_eq!(h.header("content-length"), body.len().to_string());
        assert_eq!(h.header("docker-content-digest"), d.as_str());
    }
    reg.get("/v2/m/manifests/nope")
        .send()
        .await
        .assert_error(404, "MANIFEST_UNKNOWN");
    reg.head("/v2/m/manifests/nope").send().await;
    let unknown = Digest::of(Algorithm::Sha256, b"x");
    reg.get(&format!("/v2/m/manifests/{unknown}"))
        .send()
        .await
        .assert_error(404, "MANIFEST_UNKNOWN");
    reg.get(&format!("/v2/m/blobs/{unknown}"))
        .send()
        .await
        .assert_error(404, "BLOB_UNKNOWN");
}

#[tokio::test]
async fn manifest_errors() {
    let reg = Registry::open();
    let cfg = reg.push_blob("m", b"{}").await;
    let missing = Digest::of(Algorithm::Sha256, b"never pushed");
    let m = image_manifest(&cfg, 2, &[(&missing, 12)], None);
    reg.put("/v2/m/manifests/v1")
        .header("content-type", OCI_MANIFEST)
        .body(m)
        .send()
        .await
        .assert_error(400, "MANIFEST_BLOB_UNKNOWN");
    assert_eq!(
        reg.get("/v2/m/manifests/v1").send().await.status,
        StatusCode::NOT_FOUND
    );

    let good = image_manifest(&cfg, 2, &[], None);
    // Content-Type disagrees with mediaType.
    reg.put("/v2/m/manifests/v1")
        .header("content-type", OCI_INDEX)
        .body(good.clone())
        .send()
        .await
        .assert_error(400, "MANIFEST_INVALID");
    // No Content-Type, not JSON, no schemaVersion.
    reg.put("/v2/m/manifests/v1")
        .body(good.clone())
        .send()
        .await
        .assert_error(400, "MANIFEST_INVALID");
    reg.put("/v2/m/manifests/v1")
        .header("content-type", OCI_MANIFEST)
        .body(b"{not json".to_vec())
        .send()
        .await
        .assert_error(400, "MANIFEST_INVALID");
    reg.put("/v2/m/manifests/v1")
        .header("content-type", OCI_MANIFEST)
        .body(b"{\"layers\":[]}".to_vec())
        .send()
        .await
        .assert_error(400, "MANIFEST_INVALID");
    // Digest reference that is not the body's digest.
    let wrong = Digest::of(Algorithm::Sha256, b"not the manifest");
    reg.put(&format!("/v2/m/manifests/{wrong}"))
        .header("content-type", OCI_MANIFEST)
        .body(good.clone())
        .send()
        .await
        .assert_error(400, "DIGEST_INVALID");
    // An invalid tag.
    reg.put("/v2/m/manifests/-bad")
        .header("content-type", OCI_MANIFEST)
        .body(good)
        .send()
        .await
        .assert_error(400, "MANIFEST_INVALID");
}

/// The image spec says clients SHOULD NOT upload non-distributable layers (they come from the
/// descriptor's `urls`), so a manifest listing them must be accepted without them; every
/// other referenced blob must still be present (the conformance suite's
/// "Non-distributable Layers" data test).
#[tokio::test]
async fn non_distributable_layers_need_not_be_pushed() {
    let reg = Registry::open();
    let cfg = reg.push_blob("nd", b"{}").await;
    let normal = reg.push_blob("nd", b"a normal layer").await;
    let foreign = Digest::of(Algorithm::Sha256, b"licensed base layer, never pushed");
    let layers = |normal: &Digest| {
        json!([
            {"mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
             "digest": foreign.as_str(), "size": 123456,
             "urls": [format!("https://store.example.com/blobs/{foreign}")]},
            {"mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
             "digest": foreign.as_str(), "size": 123456},
            {"mediaType": "application/vnd.oci.image.layer.v1.tar",
             "digest": normal.as_str(), "size": 14}
        ])
    };
    let manifest = |normal: &Digest| {
        serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg.as_str(), "size": 2},
            "layers": layers(normal),
        }))
        .unwrap()
    };
    let body = manifest(&normal);
    let d = reg.put_manifest("nd", "v1", &body).await;
    for reference in ["v1".to_string(), d.to_string()] {
        let r = reg
            .get(&format!("/v2/nd/manifests/{reference}"))
            .send()
            .await;
        assert_eq!(r.status, StatusCode::OK, "{reference}: {}", r.text());
        assert_eq!(r.body, body);
    }
    // The layer itself is still unknown here: nothing was uploaded.
    reg.get(&format!("/v2/nd/blobs/{foreign}"))
        .send()
        .await
        .assert_error(404, "BLOB_UNKNOWN");
    // A missing distributable layer is still refused.
    let missing = Digest::of(Algorithm::Sha256, b"never pushed either");
    reg.put("/v2/nd/manifests/v2")
        .header("content-type", OCI_MANIFEST)
        .body(manifest(&missing))
        .send()
        .await
        .assert_error(400, "MANIFEST_BLOB_UNKNOWN");
}

#[tokio::test]
async fn manifests_up_to_4mib_are_accepted_and_larger_refused() {
    let reg = Registry::open();
    let cfg = reg.push_blob("big", b"{}").await;
    let make = |total: usize| {
        let base = image_manifest(&cfg, 2, &[], None);
        let mut v: serde_json::Value = serde_json::from_slice(&base).unwrap();
        v["annotations"] = json!({ "pad": "" });
        let overhead = serde_json::to_vec(&v).unwrap().len();
        v["annotations"]["pad"] = "x".repeat(total - overhead).into();
        let b = serde_json::to_vec(&v).unwrap();
        assert_eq!(b.len(), total);
        b
    };
    let at_limit = make(4 * 1024 * 1024);
    reg.put_manifest("big", "max", &at_limit).await;
    assert_eq!(
        reg.get("/v2/big/manifests/max").send().await.body.len(),
        at_limit.len()
    );
    let over = make(4 * 1024 * 1024 + 1);
    let r = reg
        .put("/v2/big/manifests/over")
        .header("content-type", OCI_MANIFEST)
        .body(over)
        .send()
        .await;
    r.assert_error(413, "MANIFEST_INVALID");
    assert_eq!(
        reg.get("/v2/big/manifests/over").send().await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn indexes_and_nested_indexes() {
    let reg = Registry::open();
    let (a, am) = reg.push_image("idx", "a", b"layer a").await;
    let (b, bm) = reg.push_image("idx", "b", b"layer b").await;
    let index = |children: &[(&Digest, usize, &str)]| {
        serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": children.iter().map(|(d, s, mt)| json!({"mediaType": mt, "digest": d.as_str(), "size": s})).collect::<Vec<_>>(),
        }))
        .unwrap()
    };
    let inner = index(&[(&a, am.len(), OCI_MANIFEST), (&b, bm.len(), OCI_MANIFEST)]);
    let r = reg
        .put("/v2/idx/manifests/inner")
        .header("content-type", OCI_INDEX)
        .body(inner.clone())
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let inner_d = Digest::of(Algorithm::Sha256, &inner);
    let outer = index(&[(&inner_d, inner.len(), OCI_INDEX)]);
    let r = reg
        .put("/v2/idx/manifests/outer")
        .header("content-type", OCI_INDEX)
        .body(outer.clone())
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let r = reg.get("/v2/idx/manifests/outer").send().await;
    assert_eq!(
        (r.body.clone(), r.header("content-type")),
        (outer, OCI_INDEX)
    );
    // A child that is not in the repository.
    let ghost = Digest::of(Algorithm::Sha256, b"ghost");
    let bad = index(&[(&ghost, 10, OCI_MANIFEST)]);
    reg.put("/v2/idx/manifests/bad")
        .header("content-type", OCI_INDEX)
        .body(bad)
        .send()
        .await
        .assert_error(400, "MANIFEST_BLOB_UNKNOWN");
}

#[tokio::test]
async fn cross_repository_mount() {
    let reg = Registry::open();
    let d = reg.push_blob("src", b"shared layer").await;
    let r = reg
        .post(&format!("/v2/dst/blobs/uploads/?mount={d}&from=src"))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.header("location"), format!("/v2/dst/blobs/{d}"));
    assert_eq!(r.header("docker-content-digest"), d.as_str());
    assert_eq!(
        reg.get(&format!("/v2/dst/blobs/{d}")).send().await.body,
        b"shared layer"
    );
    // From a repository that lacks it: an ordinary upload session instead.
    let r = reg
        .post(&format!("/v2/dst2/blobs/uploads/?mount={d}&from=elsewhere"))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert!(r.header("location").starts_with("/v2/dst2/blobs/uploads/"));
    assert_eq!(
        reg.get(&format!("/v2/dst2/blobs/{d}")).send().await.status,
        StatusCode::NOT_FOUND
    );
    // Without `from` (anonymous mount): found in a readable repository.
    let r = reg
        .post(&format!("/v2/dst3/blobs/uploads/?mount={d}"))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
}

#[tokio::test]
async fn uploads_are_bound_to_their_repository_and_ids_are_checked() {
    let reg = Registry::open();
    let loc = reg
        .post("/v2/one/blobs/uploads/")
        .send()
        .await
        .header("location")
        .to_string();
    let id = loc.rsplit('/').next().unwrap();
    reg.get(&format!("/v2/two/blobs/uploads/{id}"))
        .send()
        .await
        .assert_error(404, "BLOB_UPLOAD_UNKNOWN");
    reg.patch(&format!("/v2/two/blobs/uploads/{id}"))
        .body(b"x".to_vec())
        .send()
        .await
        .assert_error(404, "BLOB_UPLOAD_UNKNOWN");
    for bad in [
        "..%2f..%2fregistry.db",
        "not-a-uuid",
        &id.to_uppercase(),
        "00000000-0000-0000-0000-000000000000",
    ] {
        reg.get(&format!("/v2/one/blobs/uploads/{bad}"))
            .send()
            .await
            .assert_error(404, "BLOB_UPLOAD_UNKNOWN");
    }
    assert_eq!(reg.delete(&loc).send().await.status, StatusCode::NO_CONTENT);
    reg.get(&loc)
        .send()
        .await
        .assert_error(404, "BLOB_UPLOAD_UNKNOWN");
}

#[tokio::test]
async fn chunked_upload_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let first = Registry::from_config(dir, config(&path, false), None);
    let loc = first
        .post("/v2/r/blobs/uploads/")
        .send()
        .await
        .header("location")
        .to_string();
    first
        .patch(&loc)
        .header("content-range", "0-4")
        .body(b"hello".to_vec())
        .send()
        .await;
    let Registry {
        state, router, dir, ..
    } = first;
    drop((state, router));
    let second = Registry::from_config(dir, config(&path, false), None);
    let r = second.get(&loc).send().await;
    assert_eq!(
        (r.status, r.header("range")),
        (StatusCode::NO_CONTENT, "0-4")
    );
    second
        .patch(&loc)
        .header("content-range", "5-10")
        .body(b" world".to_vec())
        .send()
        .await;
    let d = Digest::of(Algorithm::Sha256, b"hello world");
    assert_eq!(
        second.put(&format!("{loc}?digest={d}")).send().await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        second.get(&format!("/v2/r/blobs/{d}")).send().await.body,
        b"hello world"
    );
}

/// A blob the registry stores already (here pushed to another repository) is hashed as it
/// arrives and written nowhere: the second push links the stored copy. Content that does
/// not match the digest is still refused, and a stored copy that went missing is stored
/// again rather than linked.
#[tokio::test]
async fn a_blob_stored_already_is_verified_and_linked_not_stored_again() {
    let reg = Registry::open();
    let data = b"a layer many repositories share".repeat(100);
    let d = reg.push_blob("first", &data).await;
    let file = {
        let hex = d.hex();
        reg.dir
            .path()
            .join(format!("storage/blobs/sha256/{}/{hex}", &hex[..2]))
    };
    let stamp = || fs_err::metadata(&file).unwrap().modified().unwrap();
    let before = stamp();
    let reg = &reg;
    let deduplicated = |n: u32| async move {
        let m = reg.get("/metrics").send().await.text();
        assert!(
            m.contains(&format!("wcomp_registry_uploads_deduplicated_total {n}")),
            "{m}"
        );
    };
    // Monolithic, then chunked: both link the stored copy.
    reg.push_blob("second", &data).await;
    let loc = reg
        .post("/v2/third/blobs/uploads/")
        .send()
        .await
        .header("location")
        .to_string();
    let r = reg
        .patch(&loc)
        .header("content-range", &format!("0-{}", data.len() - 1))
        .body(data.clone())
        .send()
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let r = reg.put(&format!("{loc}?digest={d}")).send().await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    deduplicated(2).await;
    assert_eq!(stamp(), before, "the stored copy was not written again");
    for repo in ["first", "second", "third"] {
        assert_eq!(
            reg.get(&format!("/v2/{repo}/blobs/{d}")).send().await.body,
            data
        );
    }
    // Same digest, other bytes: refused and not linked.
    reg.post(&format!("/v2/fourth/blobs/uploads/?digest={d}"))
        .body(b"not the layer".to_vec())
        .send()
        .await
        .assert_error(400, "DIGEST_INVALID");
    assert_eq!(
        reg.head(&format!("/v2/fourth/blobs/{d}"))
            .send()
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // The stored copy is gone (a lost file): the next push stores it again.
    fs_err::remove_file(&file).unwrap();
    reg.push_blob("fifth", &data).await;
    deduplicated(2).await;
    assert_eq!(fs_err::read(&file).unwrap(), data);
}
