//! Wasm awareness through the `ComponentIndexer` seam: validation in namespaces that require
//! components, the component index and the search API.

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::json;
use std::sync::Arc;
use wcomp_registry::index::{ComponentIndexer, ComponentInfo, IndexError, PreambleIndexer};
use wcomp_registry::oci::{Algorithm, Digest};

/// Stands in for the `wcomp-wasm` analysis: a "component" is `COMPONENT:` + its world as JSON.
struct FakeIndexer;

impl ComponentIndexer for FakeIndexer {
    fn analyze(&self, layer: &[u8]) -> Result<ComponentInfo, IndexError> {
        let rest = layer
            .strip_prefix(b"COMPONENT:")
            .ok_or_else(|| IndexError::Invalid("not a component".into()))?;
        let v: serde_json::Value =
            serde_json::from_slice(rest).map_err(|e| IndexError::Invalid(e.to_string()))?;
        let pairs = |k: &str| {
            v[k].as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        p[0].as_str().unwrap().to_string(),
                        p[1].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        };
        Ok(ComponentInfo {
            package: v["package"].as_str().map(Into::into),
            version: v["version"].as_str().map(Into::into),
            world: v["world"].as_str().map(Into::into),
            imports: pairs("imports"),
            exports: pairs("exports"),
        })
    }
}

fn registry(indexer: Arc<dyn ComponentIndexer>) -> Registry {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), false);
    c.namespaces = vec![wcomp_registry::config::NamespacePolicy {
        pattern: "strict/**".into(),
        require_components: true,
        quota_bytes: None,
    }];
    Registry::from_config(dir, c, Some(indexer))
}

/// Pushes a Wasm OCI artifact (Wasm config, one `application/wasm` layer).
async fn push_wasm(reg: &Registry, repo: &str, tag: &str, layer: &[u8]) -> Resp {
    let config = br#"{"architecture":"wasm","os":"wasip2","layerDigests":[]}"#;
    let c = reg.push_blob(repo, config).await;
    let l = reg.push_blob(repo, layer).await;
    let m = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": { "mediaType": "application/vnd.wasm.config.v0+json", "digest": c.as_str(), "size": config.len() },
        "layers": [{ "mediaType": "application/wasm", "digest": l.as_str(), "size": layer.len() }],
    }))
    .unwrap();
    reg.put(&format!("/v2/{repo}/manifests/{tag}"))
        .header("content-type", OCI_MANIFEST)
        .body(m)
        .send()
        .await
}

fn component(
    package: &str,
    version: &str,
    exports: &[(&str, &str)],
    imports: &[(&str, &str)],
) -> Vec<u8> {
    let mut v = b"COMPONENT:".to_vec();
    v.extend(
        serde_json::to_vec(&json!({
            "package": package, "version": version, "world": format!("{package}/w"),
            "exports": exports, "imports": imports,
        }))
        .unwrap(),
    );
    v
}

#[tokio::test]
async fn strict_namespaces_accept_only_valid_components() {
    let reg = registry(Arc::new(FakeIndexer));
    push_wasm(&reg, "strict/app", "bad", b"\0asm not really")
        .await
        .assert_error(400, "MANIFEST_INVALID");
    assert_eq!(
        reg.get("/v2/strict/app/manifests/bad").send().await.status,
        StatusCode::NOT_FOUND
    );
    // A plain image is not a component artifact either.
    let cfg = reg.push_blob("strict/app", b"{}").await;
    let m = image_manifest(&cfg, 2, &[], None);
    reg.put("/v2/strict/app/manifests/img")
        .header("content-type", OCI_MANIFEST)
        .body(m)
        .send()
        .await
        .assert_error(400, "MANIFEST_INVALID");
    let r = push_wasm(
        &reg,
        "strict/app",
        "good",
        &component("acme:app", "1.0.0", &[], &[]),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    // Signatures still attach: as a referrer, and under cosign's tag fallback.
    let good = Digest::parse(r.header("docker-content-digest")).unwrap();
    let sig = image_manifest(&cfg, 2, &[], Some((&good, 100)));
    let r = reg
        .put("/v2/strict/app/manifests/sig")
        .header("content-type", OCI_MANIFEST)
        .body(sig)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let fallback = image_manifest(&cfg, 2, &[], None);
    let tag = format!("sha256-{}.sig", good.hex());
    let r = reg
        .put(&format!("/v2/strict/app/manifests/{tag}"))
        .header("content-type", OCI_MANIFEST)
        .body(fallback)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    // Elsewhere, an invalid layer is stored but not indexed.
    let r = push_wasm(&reg, "loose/app", "v1", b"anything").await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = reg.get("/wcomp/v1/search").send().await;
    assert_eq!(r.json()["components"].as_array().unwrap().len(), 1);
}

/// Answers as [`FakeIndexer`] and counts the layers it was asked about.
#[derive(Default)]
struct Counting(std::sync::atomic::AtomicUsize);

impl ComponentIndexer for Counting {
    fn analyze(&self, layer: &[u8]) -> Result<ComponentInfo, IndexError> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        FakeIndexer.analyze(layer)
    }
}

#[tokio::test]
async fn a_layer_is_analyzed_once_however_often_it_is_pushed() {
    let counting = Arc::new(Counting::default());
    let reg = registry(counting.clone());
    let count = || counting.0.load(std::sync::atomic::Ordering::SeqCst);
    // No version inside: each push takes it from its tag.
    let layer = br#"COMPONENT:{"package":"acme:one","world":"acme:one/w","exports":[["acme:one/api","1.0.0"]],"imports":[]}"#;
    for (repo, tag) in [
        ("acme/one", "latest"),
        ("acme/one", "1.0.0"),
        ("other/one", "2.0.0"),
    ] {
        let r = push_wasm(&reg, repo, tag, layer).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    }
    assert_eq!(count(), 1);
    let r = reg.get("/wcomp/v1/search?package=acme:one").send().await;
    let mut versions: Vec<String> = r.json()["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["version"].as_str().unwrap_or("-").to_string())
        .collect();
    versions.sort();
    assert_eq!(versions, ["1.0.0", "2.0.0"]);
    // A refusal is remembered too, and refused the same way again.
    for _ in 0..2 {
        push_wasm(&reg, "strict/one", "1.0.0", b"not a component")
            .await
            .assert_error(400, "MANIFEST_INVALID");
    }
    assert_eq!(count(), 2);
}

#[tokio::test]
async fn search_by_interface_package_and_version_range() {
    let reg = registry(Arc::new(FakeIndexer));
    let http = [("wasi:http/incoming-handler", "0.2.6")];
    let io = [("wasi:io/streams", "0.2.6")];
    for (repo, pkg, ver, ex, im) in [
        ("acme/proxy", "acme:proxy", "1.2.0", &http[..], &io[..]),
        ("acme/proxy", "acme:proxy", "2.0.0", &http[..], &io[..]),
        ("acme/lib", "acme:lib", "0.1.0", &io[..], &[][..]),
    ] {
        let r = push_wasm(&reg, repo, ver, &component(pkg, ver, ex, im)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    }
    let search = |q: &str| {
        let q = q.to_string();
        let reg = &reg;
        async move { reg.get(&format!("/wcomp/v1/search?{q}")).send().await }
    };
    let r = search("exports=wasi:http/incoming-handler@0.2").await;
    let hits = r.json()["components"].as_array().unwrap().clone();
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[0]["repository"], "acme/proxy");
    assert_eq!(
        hits[0]["exports"][0],
        json!({ "interface": "wasi:http/incoming-handler", "version": "0.2.6" })
    );
    let r = search("imports=wasi:io/streams&version=%5E1").await;
    let hits = r.json()["components"].as_array().unwrap().clone();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["version"], "1.2.0");
    assert_eq!(
        search("package=acme:lib").await.json()["components"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        search("exports=wasi:http/incoming-handler@0.3")
            .await
            .json()["components"],
        json!([])
    );
    search("version=not-a-range")
        .await
        .assert_error(400, "UNSUPPORTED");
    // Deleting the manifest removes it from the index.
    let d = Digest::parse(
        reg.head("/v2/acme/lib/manifests/0.1.0")
            .send()
            .await
            .header("docker-content-digest"),
    )
    .unwrap();
    reg.delete(&format!("/v2/acme/lib/manifests/{d}"))
        .send()
        .await;
    assert_eq!(
        search("package=acme:lib").await.json()["components"],
        json!([])
    );
}

#[test]
fn the_default_indexer_checks_the_component_preamble() {
    let component = [0, b'a', b's', b'm', 0x0d, 0, 1, 0, 0];
    let module = [0, b'a', b's', b'm', 1, 0, 0, 0];
    assert!(PreambleIndexer.analyze(&component).is_ok());
    assert!(PreambleIndexer.analyze(&module).is_err());
    assert!(PreambleIndexer.analyze(b"hi").is_err());
    let _ = Digest::of(Algorithm::Sha256, b"");
}

/// The default indexer is the real analysis (`wcomp-wasm`): a real component's exports are
/// searchable, with the package and version taken from the repository and tag; a core
/// module and a truncated component are refused where components are required.
#[tokio::test]
async fn real_components_are_validated_and_indexed() {
    let reg = registry(Arc::new(wcomp_registry::index::WasmIndexer));
    let wat = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/getting-started/greeter.wat");
    let greeter = wat::parse_file(&wat).unwrap();
    let r = push_wasm(&reg, "strict/acme/greeter", "1.2.0", &greeter).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());

    let r = reg
        .get("/wcomp/v1/search?exports=example:greeter/api@1")
        .send()
        .await;
    let found = r.json();
    let components = found["components"].as_array().unwrap();
    assert_eq!(components.len(), 1, "{found}");
    assert_eq!(components[0]["package"], "acme:greeter");
    assert_eq!(components[0]["version"], "1.2.0");
    assert_eq!(
        components[0]["exports"],
        json!([{ "interface": "example:greeter/api", "version": "1.0.0" }])
    );
    let r = reg
        .get("/wcomp/v1/search?exports=example:greeter/api@2")
        .send()
        .await;
    assert_eq!(r.json()["components"], json!([]));

    let module = wat::parse_str("(module)").unwrap();
    push_wasm(&reg, "strict/acme/core", "1.0.0", &module)
        .await
        .assert_error(400, "MANIFEST_INVALID");
    push_wasm(
        &reg,
        "strict/acme/cut",
        "1.0.0",
        &greeter[..greeter.len() / 2],
    )
    .await
    .assert_error(400, "MANIFEST_INVALID");
}
