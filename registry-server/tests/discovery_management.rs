//! Spec tests for content discovery (tags, referrers, catalog) and content management
//! (deletes), plus the error paths shared by every endpoint.

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::json;
use wcomp_registry::oci::{Algorithm, Digest};

#[tokio::test]
async fn tags_list_pages_with_n_last_and_link() {
    let reg = Registry::open();
    for t in ["v3", "v1", "latest", "v2"] {
        reg.push_image("t", t, b"same layer").await;
    }
    let r = reg.get("/v2/t/tags/list").send().await;
    assert_eq!(
        r.json(),
        json!({ "name": "t", "tags": ["latest", "v1", "v2", "v3"] })
    );
    assert_eq!(r.header("link"), "");
    let r = reg.get("/v2/t/tags/list?n=2").send().await;
    assert_eq!(r.json()["tags"], json!(["latest", "v1"]));
    assert_eq!(
        r.header("link"),
        "</v2/t/tags/list?n=2&last=v1>; rel=\"next\""
    );
    let r = reg.get("/v2/t/tags/list?n=2&last=v1").send().await;
    assert_eq!(r.json()["tags"], json!(["v2", "v3"]));
    assert_eq!(r.header("link"), "", "no next page after the last one");
    let r = reg.get("/v2/t/tags/list?last=v3").send().await;
    assert_eq!(r.json()["tags"], json!([]));
    let r = reg.get("/v2/t/tags/list?n=0").send().await;
    assert_eq!(r.json()["tags"], json!([]));
    reg.get("/v2/nothing/tags/list")
        .send()
        .await
        .assert_error(404, "NAME_UNKNOWN");
    reg.get("/v2/t/tags/list?n=abc")
        .send()
        .await
        .assert_error(400, "UNSUPPORTED");
}

#[tokio::test]
async fn huge_n_is_capped_at_the_configured_page_size() {
    let reg = Registry::with(|c| c.limits.max_page = 3);
    for t in ["a", "b", "c", "d", "e"] {
        reg.push_image("t", t, b"l").await;
    }
    for n in ["4", "99999999999999999999999999"] {
        let r = reg.get(&format!("/v2/t/tags/list?n={n}")).send().await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.json()["tags"], json!(["a", "b", "c"]));
        assert!(r.header("link").contains("last=c"), "{}", r.header("link"));
    }
    let r = reg.get("/v2/_catalog?n=99999999999").send().await;
    assert_eq!(r.json()["repositories"], json!(["t"]));
}

#[tokio::test]
async fn catalog_pages() {
    let reg = Registry::open();
    for repo in ["b", "a/x", "c"] {
        reg.push_blob(repo, b"x").await;
    }
    let r = reg.get("/v2/_catalog").send().await;
    assert_eq!(r.json(), json!({ "repositories": ["a/x", "b", "c"] }));
    let r = reg.get("/v2/_catalog?n=2").send().await;
    assert_eq!(r.json()["repositories"], json!(["a/x", "b"]));
    assert_eq!(r.header("link"), "</v2/_catalog?n=2&last=b>; rel=\"next\"");
    let r = reg.get("/v2/_catalog?n=2&last=b").send().await;
    assert_eq!(r.json()["repositories"], json!(["c"]));
}

async fn push_referrer(
    reg: &Registry,
    repo: &str,
    subject: &Digest,
    subject_size: usize,
    artifact_type: &str,
    payload: &[u8],
) -> (Digest, usize) {
    let cfg = reg.push_blob(repo, b"{}").await;
    let layer = reg.push_blob(repo, payload).await;
    let m = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": { "mediaType": EMPTY_JSON, "digest": cfg.as_str(), "size": 2 },
        "layers": [{ "mediaType": "application/octet-stream", "digest": layer.as_str(), "size": payload.len() }],
        "subject": { "mediaType": OCI_MANIFEST, "digest": subject.as_str(), "size": subject_size },
        "annotations": { "org.example.kind": artifact_type },
    }))
    .unwrap();
    let d = Digest::of(Algorithm::Sha256, &m);
    let r = reg
        .put(&format!("/v2/{repo}/manifests/{d}"))
        .header("content-type", OCI_MANIFEST)
        .body(m.clone())
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(
        r.header("oci-subject"),
        subject.as_str(),
        "OCI-Subject on a manifest with a subject"
    );
    (d, m.len())
}

#[tokio::test]
async fn referrers_list_filter_and_missing_subject() {
    let reg = Registry::open();
    // The subject is not pushed yet: the referrer is accepted anyway.
    let subject_bytes = image_manifest(&Digest::of(Algorithm::Sha256, b"{}"), 2, &[], None);
    let subject = Digest::of(Algorithm::Sha256, &subject_bytes);
    let (sig, sig_len) = push_referrer(
        &reg,
        "r",
        &subject,
        subject_bytes.len(),
        "application/vnd.example.sig",
        b"sig",
    )
    .await;
    let (sbom, _) = push_referrer(
        &reg,
        "r",
        &subject,
        subject_bytes.len(),
        "application/vnd.example.sbom",
        b"sbom",
    )
    .await;
    let r = reg.get(&format!("/v2/r/referrers/{subject}")).send().await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), OCI_INDEX);
    assert_eq!(r.header("oci-filters-applied"), "");
    let idx = r.json();
    assert_eq!(idx["schemaVersion"], 2);
    assert_eq!(idx["mediaType"], OCI_INDEX);
    let list = idx["manifests"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    let sig_entry = list
        .iter()
        .find(|m| m["digest"] == sig.as_str())
        .expect("signature listed");
    assert_eq!(sig_entry["artifactType"], "application/vnd.example.sig");
    assert_eq!(sig_entry["size"], sig_len);
    assert_eq!(sig_entry["mediaType"], OCI_MANIFEST);
    assert_eq!(
        sig_entry["annotations"]["org.example.kind"],
        "application/vnd.example.sig"
    );

    let r = reg
        .get(&format!(
            "/v2/r/referrers/{subject}?artifactType=application/vnd.example.sbom"
        ))
        .send()
        .await;
    assert_eq!(r.header("oci-filters-applied"), "artifactType");
    let list = r.json()["manifests"].as_array().unwrap().clone();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["digest"], sbom.as_str());

    // Pushing the subject later changes nothing about its referrers.
    reg.push_blob("r", b"{}").await;
    reg.put_manifest("r", subject.as_str(), &subject_bytes)
        .await;
    let r = reg.get(&format!("/v2/r/referrers/{subject}")).send().await;
    assert_eq!(r.json()["manifests"].as_array().unwrap().len(), 2);

    // Unknown subject: an empty index, not a 404.
    let other = Digest::of(Algorithm::Sha256, b"nobody");
    let r = reg.get(&format!("/v2/r/referrers/{other}")).send().await;
    assert_eq!(
        (r.status, r.json()["manifests"].clone()),
        (StatusCode::OK, json!([]))
    );
    reg.get("/v2/r/referrers/sha256:short")
        .send()
        .await
        .assert_error(400, "DIGEST_INVALID");

    // Deleting a referrer removes it from the list.
    assert_eq!(
        reg.delete(&format!("/v2/r/manifests/{sig}"))
            .send()
            .await
            .status,
        StatusCode::ACCEPTED
    );
    let r = reg.get(&format!("/v2/r/referrers/{subject}")).send().await;
    assert_eq!(r.json()["manifests"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn referrers_without_artifact_type_use_the_config_media_type() {
    let reg = Registry::open();
    let subject = Digest::of(Algorithm::Sha256, b"subject");
    let cfg = reg.push_blob("r", b"{}").await;
    let m = image_manifest(&cfg, 2, &[], Some((&subject, 7)));
    reg.put_manifest("r", "ref", &m).await;
    let r = reg.get(&format!("/v2/r/referrers/{subject}")).send().await;
    assert_eq!(
        r.json()["manifests"][0]["artifactType"],
        "application/vnd.oci.image.config.v1+json"
    );
}

#[tokio::test]
async fn referrers_page_with_link() {
    let reg = Registry::with(|c| c.limits.max_page = 2);
    let subject = Digest::of(Algorithm::Sha256, b"s");
    for i in 0..3u8 {
        push_referrer(&reg, "p", &subject, 1, "application/x", &[i]).await;
    }
    let r = reg.get(&format!("/v2/p/referrers/{subject}")).send().await;
    assert_eq!(r.json()["manifests"].as_array().unwrap().len(), 2);
    let link = r.header("link").to_string();
    let next = link.trim_start_matches('<').split('>').next().unwrap();
    let r2 = reg.get(next).send().await;
    assert_eq!(r2.json()["manifests"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn deleting_tags_manifests_and_blobs() {
    let reg = Registry::open();
    let (d, _) = reg.push_image("del", "v1", b"layer").await;
    reg.push_image("del", "v2", b"layer").await;
    // A tag delete leaves the manifest reachable by digest.
    assert_eq!(
        reg.delete("/v2/del/manifests/v1").send().await.status,
        StatusCode::ACCEPTED
    );
    reg.get("/v2/del/manifests/v1")
        .send()
        .await
        .assert_error(404, "MANIFEST_UNKNOWN");
    assert_eq!(
        reg.get(&format!("/v2/del/manifests/{d}"))
            .send()
            .await
            .status,
        StatusCode::OK
    );
    // A manifest delete removes it and every tag on it.
    assert_eq!(
        reg.delete(&format!("/v2/del/manifests/{d}"))
            .send()
            .await
            .status,
        StatusCode::ACCEPTED
    );
    reg.get(&format!("/v2/del/manifests/{d}"))
        .send()
        .await
        .assert_error(404, "MANIFEST_UNKNOWN");
    reg.get("/v2/del/manifests/v2")
        .send()
        .await
        .assert_error(404, "MANIFEST_UNKNOWN");
    reg.delete(&format!("/v2/del/manifests/{d}"))
        .send()
        .await
        .assert_error(404, "MANIFEST_UNKNOWN");
    let r = reg.get("/v2/del/tags/list").send().await;
    assert_eq!(r.json()["tags"], json!([]));
    // Blob delete.
    let b = reg.push_blob("del", b"blob to delete").await;
    assert_eq!(
        reg.delete(&format!("/v2/del/blobs/{b}"))
            .send()
            .await
            .status,
        StatusCode::ACCEPTED
    );
    reg.get(&format!("/v2/del/blobs/{b}"))
        .send()
        .await
        .assert_error(404, "BLOB_UNKNOWN");
    reg.delete(&format!("/v2/del/blobs/{b}"))
        .send()
        .await
        .assert_error(404, "BLOB_UNKNOWN");
}

#[tokio::test]
async fn a_blob_is_visible_only_in_repositories_it_was_pushed_or_mounted_to() {
    let reg = Registry::open();
    let d = reg.push_blob("team-a/private", b"secret layer").await;
    reg.get(&format!("/v2/team-b/app/blobs/{d}"))
        .send()
        .await
        .assert_error(404, "BLOB_UNKNOWN");
    reg.head(&format!("/v2/team-b/app/blobs/{d}")).send().await;
}

#[tokio::test]
async fn path_traversal_and_invalid_names_are_refused() {
    let reg = Registry::open();
    reg.push_blob("ok", b"x").await;
    for path in [
        "/v2/../ok/tags/list",
        "/v2/a/../ok/tags/list",
        "/v2/%2e%2e/ok/tags/list",
        "/v2/UPPER/tags/list",
        "/v2/a//b/tags/list",
        "/v2/a/./b/manifests/latest",
        "/v2/-a/manifests/latest",
    ] {
        reg.get(path).send().await.assert_error(400, "NAME_INVALID");
    }
    // Not a valid tag: nothing can be stored under it, so a GET finds nothing.
    reg.get("/v2/ok/manifests/..%2f..%2fregistry.db")
        .send()
        .await
        .assert_error(404, "MANIFEST_UNKNOWN");
    for reference in ["sha256:..%2f..%2fx", "md5:0123"] {
        let r = reg
            .get(&format!("/v2/ok/manifests/{reference}"))
            .send()
            .await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{reference}: {}",
            r.text()
        );
    }
    reg.get("/v2/ok/blobs/sha256:..%2f..%2fregistry.db")
        .send()
        .await
        .assert_error(400, "DIGEST_INVALID");
}

#[tokio::test]
async fn unknown_methods_and_endpoints() {
    let reg = Registry::open();
    reg.patch("/v2/x/manifests/latest")
        .send()
        .await
        .assert_error(405, "UNSUPPORTED");
    reg.get("/v2/x/whatever/else")
        .send()
        .await
        .assert_error(404, "NAME_UNKNOWN");
    // Every error is the JSON envelope with code, message and detail.
    let r = reg.get("/v2/x/manifests/nope").send().await;
    let e = &r.json()["errors"][0];
    assert!(e["message"].is_string() && e.get("detail").is_some());
    assert_eq!(r.header("content-type"), "application/json");
}
