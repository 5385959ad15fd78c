//! The shared backend test suite. Every function takes a fresh, empty backend and asserts
//! one contract of the [`Metadata`] trait. A backend runs all of them with
//! [`crate::metadata_suite!`], e.g. `metadata_suite!(SqliteMetadata::in_memory().unwrap());`
//! (a PostgreSQL backend passes a constructor that connects to a fresh schema).

use super::*;

fn d(n: u8) -> Digest {
    Digest::of(crate::oci::Algorithm::Sha256, &[n])
}

fn manifest(repo: &str, digest: Digest, blobs: Vec<Digest>, tag: Option<&str>) -> NewManifest {
    NewManifest {
        repo: repo.into(),
        digest,
        media_type: crate::oci::OCI_MANIFEST.into(),
        size: 10,
        artifact_type: Some("application/x-test".into()),
        subject: None,
        annotations: None,
        blobs,
        foreign: vec![],
        children: vec![],
        tag: tag.map(str::to_string),
        may_overwrite_tag: true,
    }
}

pub async fn blobs_are_linked_per_repository(m: &dyn Metadata) {
    m.link_blob("a/x", &d(1), 5, 100).await.unwrap();
    assert_eq!(m.repo_blob("a/x", &d(1)).await.unwrap(), Some(5));
    assert_eq!(
        m.repo_blob("b/y", &d(1)).await.unwrap(),
        None,
        "a blob is visible only where linked"
    );
    assert_eq!(m.blob_repos(&d(1)).await.unwrap(), vec!["a/x".to_string()]);
    assert!(m.unlink_blob("a/x", &d(1)).await.unwrap());
    assert!(!m.unlink_blob("a/x", &d(1)).await.unwrap());
    assert_eq!(m.repo_blob("a/x", &d(1)).await.unwrap(), None);
    assert!(m.repo_exists("a/x").await.unwrap());
}

pub async fn manifest_requires_linked_blobs(m: &dyn Metadata) {
    m.link_blob("r", &d(1), 1, 0).await.unwrap();
    m.link_blob("other", &d(2), 1, 0).await.unwrap();
    let err = m
        .put_manifest(manifest("r", d(9), vec![d(1), d(2)], Some("t")), 0)
        .await
        .unwrap_err();
    match err {
        MetaError::BlobsMissing(v) => assert_eq!(v, vec![d(2).to_string()]),
        e => panic!("unexpected {e:?}"),
    }
    assert_eq!(
        m.get_manifest_by_tag("r", "t").await.unwrap(),
        None,
        "a refused manifest leaves no tag"
    );
    m.link_blob("r", &d(2), 1, 0).await.unwrap();
    m.put_manifest(manifest("r", d(9), vec![d(1), d(2)], Some("t")), 0)
        .await
        .unwrap();
    assert_eq!(
        m.get_manifest_by_tag("r", "t")
            .await
            .unwrap()
            .unwrap()
            .digest,
        d(9)
    );
    assert_eq!(
        m.get_manifest_by_digest("r", &d(9))
            .await
            .unwrap()
            .unwrap()
            .size,
        10
    );
}

pub async fn foreign_layers_need_not_exist_but_stay_referenced(m: &dyn Metadata) {
    m.link_blob("r", &d(1), 1, 10).await.unwrap();
    let mut nd = manifest("r", d(9), vec![d(1)], Some("t"));
    nd.foreign = vec![d(2)];
    m.put_manifest(nd, 10)
        .await
        .expect("a non-distributable layer that was never pushed is not missing");
    assert_eq!(
        m.get_manifest_by_tag("r", "t")
            .await
            .unwrap()
            .unwrap()
            .digest,
        d(9)
    );
    // Pushed later anyway, it is referenced: GC keeps it.
    m.link_blob("r", &d(2), 1, 10).await.unwrap();
    m.link_blob("r", &d(9), 1, 10).await.unwrap();
    let plan = m.gc_mark(100, 100).await.unwrap();
    assert!(plan.blobs.is_empty(), "GC took {:?}", plan.blobs);
}

pub async fn index_requires_child_manifests(m: &dyn Metadata) {
    let mut idx = manifest("r", d(20), vec![], None);
    idx.media_type = crate::oci::OCI_INDEX.into();
    idx.children = vec![d(21)];
    assert!(matches!(
        m.put_manifest(idx.clone(), 0).await,
        Err(MetaError::BlobsMissing(_))
    ));
    m.put_manifest(manifest("r", d(21), vec![], None), 0)
        .await
        .unwrap();
    m.put_manifest(idx, 0).await.unwrap();
}

pub async fn create_only_cannot_move_a_tag(m: &dyn Metadata) {
    m.put_manifest(manifest("r", d(1), vec![], Some("v1")), 0)
        .await
        .unwrap();
    let mut again = manifest("r", d(2), vec![], Some("v1"));
    again.may_overwrite_tag = false;
    assert!(matches!(
        m.put_manifest(again.clone(), 0).await,
        Err(MetaError::TagExists { .. })
    ));
    assert_eq!(
        m.get_manifest_by_tag("r", "v1")
            .await
            .unwrap()
            .unwrap()
            .digest,
        d(1)
    );
    // Re-pushing the same digest under the same tag is not an overwrite.
    let mut same = manifest("r", d(1), vec![], Some("v1"));
    same.may_overwrite_tag = false;
    m.put_manifest(same, 0).await.unwrap();
    again.may_overwrite_tag = true;
    m.put_manifest(again, 0).await.unwrap();
    assert_eq!(
        m.get_manifest_by_tag("r", "v1")
            .await
            .unwrap()
            .unwrap()
            .digest,
        d(2)
    );
}

pub async fn tags_page_lexically(m: &dyn Metadata) {
    for (i, t) in ["b", "a", "c", "d"].iter().enumerate() {
        m.put_manifest(manifest("r", d(i as u8), vec![], Some(t)), 0)
            .await
            .unwrap();
    }
    assert_eq!(m.list_tags("r", None, 2).await.unwrap(), vec!["a", "b"]);
    assert_eq!(
        m.list_tags("r", Some("b"), 2).await.unwrap(),
        vec!["c", "d"]
    );
    assert!(m.list_tags("r", Some("d"), 2).await.unwrap().is_empty());
    assert!(m.delete_tag("r", "a").await.unwrap());
    assert!(!m.delete_tag("r", "a").await.unwrap());
    assert_eq!(
        m.list_tags("r", None, 10).await.unwrap(),
        vec!["b", "c", "d"]
    );
}

pub async fn deleting_a_manifest_drops_its_tags(m: &dyn Metadata) {
    m.put_manifest(manifest("r", d(1), vec![], Some("x")), 0)
        .await
        .unwrap();
    m.put_manifest(manifest("r", d(1), vec![], Some("y")), 0)
        .await
        .unwrap();
    assert!(m.delete_manifest("r", &d(1)).await.unwrap());
    assert!(m.list_tags("r", None, 10).await.unwrap().is_empty());
    assert!(
        m.get_manifest_by_digest("r", &d(1))
            .await
            .unwrap()
            .is_none()
    );
    assert!(!m.delete_manifest("r", &d(1)).await.unwrap());
}

pub async fn referrers_filter_and_page(m: &dyn Metadata) {
    for i in 0..4u8 {
        let mut r = manifest("r", d(10 + i), vec![], None);
        r.subject = Some(d(1));
        r.artifact_type = Some(if i % 2 == 0 { "sig" } else { "sbom" }.into());
        m.put_manifest(r, 0).await.unwrap();
    }
    // Another repository's referrers stay there.
    let mut elsewhere = manifest("other", d(30), vec![], None);
    elsewhere.subject = Some(d(1));
    m.put_manifest(elsewhere, 0).await.unwrap();
    let all = m.referrers("r", &d(1), None, None, 100).await.unwrap();
    assert_eq!(all.len(), 4);
    let sigs = m
        .referrers("r", &d(1), Some("sig"), None, 100)
        .await
        .unwrap();
    assert_eq!(sigs.len(), 2);
    assert!(
        sigs.iter()
            .all(|r| r.artifact_type.as_deref() == Some("sig"))
    );
    let first = m.referrers("r", &d(1), None, None, 3).await.unwrap();
    let rest = m
        .referrers("r", &d(1), None, Some(first[2].digest.as_str()), 3)
        .await
        .unwrap();
    assert_eq!(first.len() + rest.len(), 4);
}

pub async fn uploads_advance_by_compare_and_set(m: &dyn Metadata) {
    m.create_upload("u1", "r", "user:a", 0, 0).await.unwrap();
    let s = m.advance_upload("u1", 0, 10, "p0", 1).await.unwrap();
    assert_eq!((s.offset, s.owner.as_str()), (10, "user:a"));
    assert_eq!(m.upload_chunks("u1").await.unwrap(), vec!["p0"]);
    match m.advance_upload("u1", 0, 10, "p0b", 2).await {
        Err(MetaError::UploadOffset { expected: 10 }) => {}
        other => panic!("out-of-order chunk accepted: {other:?}"),
    }
    // An empty chunk moves nothing and adds no part.
    m.advance_upload("u1", 10, 0, "empty", 3).await.unwrap();
    m.advance_upload("u1", 10, 5, "p10", 3).await.unwrap();
    assert_eq!(m.upload_chunks("u1").await.unwrap(), vec!["p0", "p10"]);
    let s = m.get_upload("u1").await.unwrap().unwrap();
    assert_eq!(
        (s.offset, s.repo.as_str(), s.owner.as_str()),
        (15, "r", "user:a")
    );
    assert!(matches!(
        m.advance_upload("u1", 15, u64::MAX, "huge", 4).await,
        Err(MetaError::Backend(_))
    ));
    assert!(matches!(
        m.advance_upload("nope", 0, 1, "x", 0).await,
        Err(MetaError::UploadUnknown)
    ));
    assert!(m.delete_upload("u1").await.unwrap());
    assert!(m.get_upload("u1").await.unwrap().is_none());
    assert!(m.upload_chunks("u1").await.unwrap().is_empty());
}

pub async fn open_uploads_are_capped_per_owner(m: &dyn Metadata) {
    m.create_upload("a1", "r", "user:a", 2, 0).await.unwrap();
    m.create_upload("a2", "s", "user:a", 2, 0).await.unwrap();
    match m.create_upload("a3", "r", "user:a", 2, 0).await {
        Err(MetaError::TooManyUploads { limit: 2, .. }) => {}
        other => panic!("a third session was opened: {other:?}"),
    }
    m.create_upload("b1", "r", "user:b", 2, 0).await.unwrap();
    m.delete_upload("a1").await.unwrap();
    m.create_upload("a3", "r", "user:a", 2, 0).await.unwrap();
    // 0: no limit.
    m.create_upload("a4", "r", "user:a", 0, 0).await.unwrap();
}

pub async fn catalog_filters_and_usage_sum_in_the_query(m: &dyn Metadata) {
    for (r, blob) in [
        ("team/a", 1),
        ("team/b", 1),
        ("team/b", 2),
        ("team/b/c", 3),
        ("other", 4),
    ] {
        m.link_blob(r, &d(blob), 10 * blob as u64, 0).await.unwrap();
    }
    let p = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        m.list_repos_matching(&p(&["team/*"]), None, 10)
            .await
            .unwrap(),
        vec!["team/a", "team/b"]
    );
    assert_eq!(
        m.list_repos_matching(&p(&["team/**", "other"]), Some("team/a"), 2)
            .await
            .unwrap(),
        vec!["team/b", "team/b/c"]
    );
    assert!(
        m.list_repos_matching(&[], None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // d(1) is in two repositories of the namespace and counts once.
    assert_eq!(m.namespace_usage("team/*").await.unwrap(), 10 + 20);
    assert_eq!(m.namespace_usage("team/**").await.unwrap(), 10 + 20 + 30);
    assert_eq!(m.namespace_usage("nothing/**").await.unwrap(), 0);
    // Open uploads hold bytes too, until they finish or are collected.
    m.create_upload("u1", "team/a", "", 0, 0).await.unwrap();
    m.advance_upload("u1", 0, 7, "p", 0).await.unwrap();
    m.create_upload("u2", "other", "", 0, 0).await.unwrap();
    m.advance_upload("u2", 0, 5, "p", 0).await.unwrap();
    assert_eq!(m.namespace_usage("team/*").await.unwrap(), 10 + 20 + 7);
    m.delete_upload("u1").await.unwrap();
    assert_eq!(m.namespace_usage("team/*").await.unwrap(), 10 + 20);
}

pub async fn gc_takes_only_old_unreferenced_blobs(m: &dyn Metadata) {
    m.link_blob("r", &d(1), 1, 10).await.unwrap(); // referenced below
    m.link_blob("r", &d(2), 1, 10).await.unwrap(); // old, unreferenced: garbage
    m.link_blob("r", &d(3), 1, 500).await.unwrap(); // young: a push may be about to use it
    m.put_manifest(manifest("r", d(9), vec![d(1)], Some("t")), 10)
        .await
        .unwrap();
    m.link_blob("r", &d(9), 1, 10).await.unwrap(); // the manifest's own bytes
    m.create_upload("old", "r", "", 0, 10).await.unwrap();
    m.advance_upload("old", 0, 1, "p", 10).await.unwrap();
    m.create_upload("new", "r", "", 0, 500).await.unwrap();
    let plan = m.gc_mark(100, 100).await.unwrap();
    assert_eq!(plan.blobs, vec![d(2)]);
    assert_eq!(plan.uploads, vec!["old".to_string()]);
    assert_eq!(
        m.repo_blob("r", &d(2)).await.unwrap(),
        None,
        "a claimed blob is unreadable at once"
    );
    assert!(matches!(
        m.link_blob("r", &d(2), 1, 600).await,
        Err(MetaError::BlobBeingDeleted(_))
    ));
    assert!(matches!(
        m.put_manifest(manifest("r", d(8), vec![d(2)], None), 600)
            .await,
        Err(MetaError::BlobsMissing(_))
    ));
    m.gc_sweep(&plan.blobs).await.unwrap();
    assert!(!m.blob_known(&d(2)).await.unwrap());
    // Once swept, the digest can be pushed again.
    m.link_blob("r", &d(2), 1, 700).await.unwrap();
    assert_eq!(m.repo_blob("r", &d(2)).await.unwrap(), Some(1));
    assert!(m.get_upload("new").await.unwrap().is_some());
    assert!(m.upload_chunks("old").await.unwrap().is_empty());
}

pub async fn a_stored_blob_links_without_its_bytes_only_while_it_is_live(m: &dyn Metadata) {
    // Never stored: nothing to link to, and nothing changes.
    assert!(!m.link_stored_blob("b", &d(1), 3, 10).await.unwrap());
    assert!(!m.blob_known(&d(1)).await.unwrap());
    assert!(!m.repo_exists("b").await.unwrap());
    m.link_blob("a", &d(1), 3, 10).await.unwrap();
    // Another size is another blob's claim on this digest: refused.
    assert!(!m.link_stored_blob("b", &d(1), 4, 20).await.unwrap());
    assert_eq!(m.repo_blob("b", &d(1)).await.unwrap(), None);
    assert!(m.link_stored_blob("b", &d(1), 3, 20).await.unwrap());
    assert_eq!(m.repo_blob("b", &d(1)).await.unwrap(), Some(3));
    // The link renewed the blob: GC with a cutoff after the first push leaves it.
    m.unlink_blob("a", &d(1)).await.unwrap();
    m.unlink_blob("b", &d(1)).await.unwrap();
    assert!(m.gc_mark(15, 15).await.unwrap().blobs.is_empty());
    // Claimed by GC: refused until swept, and a sweep leaves nothing to link to.
    let plan = m.gc_mark(100, 100).await.unwrap();
    assert_eq!(plan.blobs, vec![d(1)]);
    assert!(!m.link_stored_blob("b", &d(1), 3, 200).await.unwrap());
    m.gc_sweep(&plan.blobs).await.unwrap();
    assert!(!m.link_stored_blob("b", &d(1), 3, 300).await.unwrap());
    assert_eq!(m.repo_blob("b", &d(1)).await.unwrap(), None);
}

pub async fn users_tokens_and_grants(m: &dyn Metadata) {
    assert_eq!(m.count_users().await.unwrap(), 0);
    // Replicas starting together on an empty database: one creates the first admin.
    let first = |password: &str| User {
        name: "admin".into(),
        password_hash: password.into(),
        admin: true,
    };
    let (a, b, c) = (first("a"), first("b"), first("c"));
    let tries = futures_util::future::join_all([
        m.create_first_user(&a),
        m.create_first_user(&b),
        m.create_first_user(&c),
    ])
    .await;
    let won: Vec<bool> = tries.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
    let admin = m.get_user("admin").await.unwrap().unwrap();
    let winner = won.iter().position(|w| *w).unwrap();
    assert_eq!(admin.password_hash, ["a", "b", "c"][winner]);
    assert!(!m.create_first_user(&first("d")).await.unwrap());
    assert_eq!(m.count_users().await.unwrap(), 1);

    let u = User {
        name: "alice".into(),
        password_hash: "h".into(),
        admin: false,
    };
    m.put_user(&u).await.unwrap();
    assert_eq!(m.get_user("alice").await.unwrap(), Some(u));
    assert_eq!(m.count_users().await.unwrap(), 2);
    m.put_api_token("alice", "abc", "ci", 0).await.unwrap();
    assert_eq!(
        m.api_token_user("abc").await.unwrap().as_deref(),
        Some("alice")
    );
    assert_eq!(m.api_token_user("abd").await.unwrap(), None);
    let id = m
        .add_grant("user:alice", "team/*", &["pull".into(), "push".into()])
        .await
        .unwrap();
    m.add_grant("anonymous", "public/**", &["pull".into()])
        .await
        .unwrap();
    let g = m.grants_for("user:alice").await.unwrap();
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].actions, vec!["pull", "push"]);
    assert_eq!(m.list_grants().await.unwrap().len(), 2);
    assert!(m.remove_grant(id).await.unwrap());
    assert!(m.grants_for("user:alice").await.unwrap().is_empty());
}

pub async fn catalog_pages(m: &dyn Metadata) {
    for r in ["c", "a", "b/x"] {
        m.link_blob(r, &d(1), 1, 0).await.unwrap();
    }
    assert_eq!(m.list_repos(None, 2).await.unwrap(), vec!["a", "b/x"]);
    assert_eq!(m.list_repos(Some("b/x"), 2).await.unwrap(), vec!["c"]);
}

pub async fn component_index_search(m: &dyn Metadata) {
    let e = ComponentEntry {
        repo: "acme/handler".into(),
        manifest: d(1).to_string(),
        package: Some("acme:handler".into()),
        version: Some("1.0.0".into()),
        world: Some("acme:handler/proxy".into()),
        imports: vec![("wasi:io/streams".into(), "0.2.6".into())],
        exports: vec![("wasi:http/incoming-handler".into(), "0.2.6".into())],
    };
    m.put_component(&e).await.unwrap();
    let q = |ex: Option<&str>, im: Option<&str>, p: Option<&str>| ComponentQuery {
        exports: ex.map(Into::into),
        imports: im.map(Into::into),
        package: p.map(Into::into),
        limit: 10,
    };
    assert_eq!(
        m.search_components(&q(Some("wasi:http/incoming-handler@0.2"), None, None))
            .await
            .unwrap(),
        vec![e.clone()]
    );
    assert!(
        m.search_components(&q(Some("wasi:http/incoming-handler@0.3"), None, None))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        m.search_components(&q(Some("wasi:http/incoming-handler@0.2.60"), None, None))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        m.search_components(&q(None, Some("wasi:io/streams"), Some("acme:handler")))
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        m.search_components(&q(Some("wasi:io/streams"), None, None))
            .await
            .unwrap()
            .is_empty(),
        "an import is not an export"
    );
}

pub async fn browsing_lists_recent_found_and_detailed(m: &dyn Metadata) {
    for (i, r) in ["team/a", "team/b", "other/c"].into_iter().enumerate() {
        let n = u8::try_from(i).unwrap();
        m.link_blob(r, &d(100 + n), 3, 0).await.unwrap();
        let mut man = manifest(r, d(110 + n), vec![d(100 + n)], Some("v1"));
        man.size = 42;
        m.put_manifest(man, 10 * i64::from(n)).await.unwrap();
    }
    m.put_component(&ComponentEntry {
        repo: "team/a".into(),
        manifest: d(110).to_string(),
        ..Default::default()
    })
    .await
    .unwrap();
    let recent = m.recent_repos(None, 10).await.unwrap();
    assert_eq!(
        recent,
        vec![
            ("other/c".to_string(), 20),
            ("team/b".to_string(), 10),
            ("team/a".to_string(), 0)
        ]
    );
    let team = ["team/*".to_string()];
    assert_eq!(m.recent_repos(Some(&team), 1).await.unwrap().len(), 1);
    assert!(m.recent_repos(Some(&[]), 10).await.unwrap().is_empty());
    assert_eq!(
        m.find_repos(None, "team/", 0, 10).await.unwrap(),
        vec!["team/a", "team/b"]
    );
    assert_eq!(
        m.find_repos(None, "team/", 1, 10).await.unwrap(),
        vec!["team/b"]
    );
    assert_eq!(
        m.find_repos(Some(&team), "c", 0, 10).await.unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(
        m.find_repos(None, "%", 0, 10).await.unwrap(),
        Vec::<String>::new(),
        "the needle is literal"
    );
    let tags = m.tag_details("team/a", None, 10).await.unwrap();
    assert_eq!(
        tags,
        vec![TagDetail {
            tag: "v1".into(),
            digest: d(110).to_string(),
            media_type: crate::oci::OCI_MANIFEST.into(),
            size: 42,
            artifact_type: Some("application/x-test".into()),
            updated_at: 0,
            component: true,
        }]
    );
    assert!(!m.tag_details("team/b", None, 10).await.unwrap()[0].component);
    assert!(
        m.tag_details("team/b", Some("v1"), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn shared_settings_first_writer_wins(m: &dyn Metadata) {
    assert_eq!(m.shared_setting("token_key", "a").await.unwrap(), "a");
    assert_eq!(
        m.shared_setting("token_key", "b").await.unwrap(),
        "a",
        "a second replica adopts the first one's value"
    );
    assert_eq!(m.shared_setting("other", "c").await.unwrap(), "c");
    assert_eq!(m.get_setting("other").await.unwrap().as_deref(), Some("c"));
    assert_eq!(m.get_setting("none").await.unwrap(), None);
}

pub async fn leases_exclude_other_holders_until_expiry(m: &dyn Metadata) {
    assert!(m.acquire_lease("gc", "r1", 100, 60).await.unwrap());
    assert!(!m.acquire_lease("gc", "r2", 120, 60).await.unwrap());
    assert!(
        m.acquire_lease("gc", "r1", 130, 60).await.unwrap(),
        "the holder renews"
    );
    assert!(!m.acquire_lease("gc", "r2", 189, 60).await.unwrap());
    assert!(
        m.acquire_lease("gc", "r2", 190, 60).await.unwrap(),
        "an expired lease is taken over"
    );
    m.release_lease("gc", "r1").await.unwrap();
    assert!(
        !m.acquire_lease("gc", "r1", 200, 60).await.unwrap(),
        "only the holder releases"
    );
    m.release_lease("gc", "r2").await.unwrap();
    assert!(m.acquire_lease("gc", "r1", 200, 60).await.unwrap());
    assert!(m.acquire_lease("other", "r2", 200, 60).await.unwrap());
}

pub async fn export_lists_what_was_put(m: &dyn Metadata) {
    m.link_blob("r", &d(1), 7, 0).await.unwrap();
    let mut sig = manifest("r", d(9), vec![d(1)], Some("t"));
    sig.subject = Some(d(8));
    sig.annotations = Some("{\"a\":\"b\"}".into());
    m.put_manifest(sig, 0).await.unwrap();
    let mut idx = manifest("r", d(20), vec![], None);
    idx.media_type = crate::oci::OCI_INDEX.into();
    idx.children = vec![d(9)];
    m.put_manifest(idx, 0).await.unwrap();
    assert_eq!(m.repo_blob_links("r").await.unwrap(), vec![(d(1), 7)]);
    let ms = m.export_manifests("r").await.unwrap();
    assert_eq!(ms.len(), 2);
    assert_eq!(ms[0].digest, d(9), "manifests without children first");
    assert_eq!(ms[0].foreign, vec![d(1)]);
    assert_eq!(ms[0].subject, Some(d(8)));
    assert_eq!(ms[0].annotations.as_deref(), Some("{\"a\":\"b\"}"));
    assert_eq!(ms[0].artifact_type.as_deref(), Some("application/x-test"));
    assert_eq!(ms[1].children, vec![d(9)]);
    m.put_user(&User {
        name: "u".into(),
        password_hash: "h".into(),
        admin: true,
    })
    .await
    .unwrap();
    m.put_api_token("u", "hash", "ci", 5).await.unwrap();
    assert_eq!(m.list_users().await.unwrap().len(), 1);
    assert_eq!(
        m.list_api_tokens().await.unwrap(),
        vec![ApiToken {
            hash: "hash".into(),
            user: "u".into(),
            description: "ci".into(),
            created_at: 5
        }]
    );
}

/// Expands to one `#[tokio::test]` per suite function, each on a fresh backend built by
/// `$make` (an expression evaluated once per test, inside the async test: it may `.await`).
#[macro_export]
macro_rules! metadata_suite {
    ($make:expr) => {
        $crate::metadata_suite!(optional Some($make));
    };
    // A backend that may be unavailable: `$make` evaluates to an `Option`; `None` skips.
    (optional $make:expr) => {
        $crate::metadata_suite!(@cases $make;
            blobs_are_linked_per_repository, manifest_requires_linked_blobs,
            foreign_layers_need_not_exist_but_stay_referenced,
            index_requires_child_manifests, create_only_cannot_move_a_tag, tags_page_lexically,
            deleting_a_manifest_drops_its_tags, referrers_filter_and_page,
            uploads_advance_by_compare_and_set, open_uploads_are_capped_per_owner,
            catalog_filters_and_usage_sum_in_the_query, gc_takes_only_old_unreferenced_blobs,
            a_stored_blob_links_without_its_bytes_only_while_it_is_live,
            users_tokens_and_grants, catalog_pages, component_index_search,
            browsing_lists_recent_found_and_detailed,
            shared_settings_first_writer_wins, leases_exclude_other_holders_until_expiry,
            export_lists_what_was_put);
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let Some(backend) = ($make) else { return };
                $crate::metadata::suite::$case(&backend).await;
            }
        )*
    };
}

#[cfg(test)]
mod sqlite_backend {
    crate::metadata_suite!(crate::metadata::sqlite::SqliteMetadata::in_memory().unwrap());
}
