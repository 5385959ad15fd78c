//! Test helpers: a registry on a temporary data dir, driven in-process through the router
//! (`tower::ServiceExt::oneshot`), plus small builders for blobs and manifests.
#![allow(dead_code)]

pub mod wasm;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use base64::Engine as _;
use serde_json::{Value, json};
use std::sync::Arc;
use tower::ServiceExt;
use wcomp_registry::app::{App, AppState};
use wcomp_registry::config::Config;
use wcomp_registry::oci::{Algorithm, Digest};

pub struct Registry {
    pub state: AppState,
    pub router: axum::Router,
    pub dir: tempfile::TempDir,
}

pub fn config(dir: &std::path::Path, auth: bool) -> Config {
    let mut c = Config {
        data_dir: dir.to_path_buf(),
        // The Host the in-process requests below send, so realms may name it.
        hostnames: vec!["registry.test".into()],
        ..Config::default()
    };
    c.auth.enabled = auth;
    c
}

impl Registry {
    /// A registry with authentication disabled.
    pub fn open() -> Registry {
        Self::with(|_| {})
    }

    pub fn with(tweak: impl FnOnce(&mut Config)) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config(dir.path(), false);
        tweak(&mut c);
        Self::from_config(dir, c, None)
    }

    pub fn from_config(
        dir: tempfile::TempDir,
        c: Config,
        indexer: Option<Arc<dyn wcomp_registry::index::ComponentIndexer>>,
    ) -> Registry {
        let state = match indexer {
            Some(i) => App::open_with(c, i).unwrap(),
            None => App::open(c).unwrap(),
        };
        let router = wcomp_registry::routes::router(state.clone());
        Registry { state, router, dir }
    }

    pub fn req(&self, method: Method, uri: &str) -> Req<'_> {
        Req {
            reg: self,
            builder: Request::builder()
                .method(method)
                .uri(uri)
                .header("host", "registry.test"),
            body: Vec::new(),
        }
    }

    pub fn get(&self, uri: &str) -> Req<'_> {
        self.req(Method::GET, uri)
    }

    pub fn head(&self, uri: &str) -> Req<'_> {
        self.req(Method::HEAD, uri)
    }

    pub fn put(&self, uri: &str) -> Req<'_> {
        self.req(Method::PUT, uri)
    }

    pub fn post(&self, uri: &str) -> Req<'_> {
        self.req(Method::POST, uri)
    }

    pub fn patch(&self, uri: &str) -> Req<'_> {
        self.req(Method::PATCH, uri)
    }

    pub fn delete(&self, uri: &str) -> Req<'_> {
        self.req(Method::DELETE, uri)
    }

    /// Monolithic POST ?digest= upload.
    pub async fn push_blob(&self, repo: &str, data: &[u8]) -> Digest {
        let d = Digest::of(Algorithm::Sha256, data);
        let r = self
            .post(&format!("/v2/{repo}/blobs/uploads/?digest={d}"))
            .body(data.to_vec())
            .send()
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        d
    }

    /// Pushes config + one layer and a manifest under `reference`; returns the manifest digest
    /// and the bytes.
    pub async fn push_image(&self, repo: &str, reference: &str, layer: &[u8]) -> (Digest, Vec<u8>) {
        let cfg = self.push_blob(repo, b"{}").await;
        let l = self.push_blob(repo, layer).await;
        let m = image_manifest(&cfg, 2, &[(&l, layer.len())], None);
        let d = self.put_manifest(repo, reference, &m).await;
        (d, m)
    }

    pub async fn put_manifest(&self, repo: &str, reference: &str, body: &[u8]) -> Digest {
        let r = self
            .put(&format!("/v2/{repo}/manifests/{reference}"))
            .header("content-type", OCI_MANIFEST)
            .body(body.to_vec())
            .send()
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        Digest::parse(r.header("docker-content-digest")).unwrap()
    }
}

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const EMPTY_JSON: &str = "application/vnd.oci.empty.v1+json";

pub fn image_manifest(
    config: &Digest,
    config_size: usize,
    layers: &[(&Digest, usize)],
    subject: Option<(&Digest, usize)>,
) -> Vec<u8> {
    let mut m = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.as_str(), "size": config_size },
        "layers": layers.iter().map(|(d, s)| json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d.as_str(), "size": s
        })).collect::<Vec<_>>(),
    });
    if let Some((d, s)) = subject {
        m["subject"] = json!({ "mediaType": OCI_MANIFEST, "digest": d.as_str(), "size": s });
    }
    serde_json::to_vec(&m).unwrap()
}

pub struct Req<'a> {
    reg: &'a Registry,
    builder: axum::http::request::Builder,
    body: Vec<u8>,
}

impl Req<'_> {
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.builder = self.builder.header(k, v);
        self
    }

    pub fn basic(self, user: &str, password: &str) -> Self {
        let v = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.header("authorization", &format!("Basic {v}"))
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    pub fn body(mut self, b: impl Into<Vec<u8>>) -> Self {
        self.body = b.into();
        self
    }

    pub async fn send(self) -> Resp {
        let len = self.body.len();
        let req = self
            .builder
            .header("content-length", len.to_string())
            .body(Body::from(self.body))
            .unwrap();
        let resp = self.reg.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        Resp {
            status,
            headers,
            body,
        }
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, k: &str) -> &str {
        self.headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    /// The first error code of an OCI error envelope.
    pub fn code(&self) -> String {
        let j = self.json();
        j["errors"][0]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no error envelope: {j}"))
            .to_string()
    }
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "{}", self.text());
        assert_eq!(self.code(), code, "{}", self.text());
    }
}

/// A client binary for the interop and browser tests: `$WCOMP_TEST_BIN`, then
/// `target-tools/bin` (where `scripts/install-test-deps.sh` puts them), then `PATH`. Missing
/// is a skip (with a note), or a failure when `WCOMP_REQUIRE_INTEROP` is set (scripts/test.sh
/// sets it under `CI`).
pub fn find_tool(name: &str) -> Option<std::path::PathBuf> {
    let local = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target-tools/bin")
        .join(name);
    let extra = std::env::var_os("WCOMP_TEST_BIN").map(|d| std::path::PathBuf::from(d).join(name));
    let from_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let found = extra
        .into_iter()
        .chain([local])
        .chain(from_path)
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("WCOMP_REQUIRE_INTEROP").is_none(),
            "{name} is required but not installed"
        );
        eprintln!(
            "skipping: `{name}` not installed (registry-server/scripts/install-test-deps.sh)"
        );
    }
    found
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
