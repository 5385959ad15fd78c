//! What an artifact page shows: the manifest and its layers; for a Wasm layer, what
//! `wcomp inspect` would say (world as WIT, producers, composition record); signatures
//! and SLSA provenance attached as referrers, checked against `[ui] trusted_keys`; the
//! referrers; pull commands.
//!
//! Everything here is data: the template escapes it. The WIT text is the one exception,
//! highlighted (and escaped) by [`super::wit`].

use crate::error::ApiError;
use crate::handlers::Ctx;
use crate::oci::Digest;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use wcomp_trust::{PublicKey, dsse, intoto, simple_signing};

/// Signature payloads and attestation envelopes larger than this are not read.
const MAX_ATTACHED_BYTES: u64 = 1024 * 1024;
/// Referrers of each kind read per page.
const MAX_REFERRERS: u32 = 50;

/// What the web interface keeps for its pages, made once by [`super::router`] and handed
/// to each page through the request's extensions.
#[derive(Default)]
pub struct UiState {
    /// The trusted keys of `[ui] trusted_keys`, read at startup.
    pub keys: Vec<PublicKey>,
    /// What the artifact pages show about each Wasm layer.
    layers: LayerCache,
}

impl UiState {
    pub fn new(config: &crate::config::UiConfig) -> UiState {
        UiState {
            keys: load_keys(&config.trusted_keys),
            layers: LayerCache::default(),
        }
    }
}

/// What the page knows about a Wasm layer, by layer digest: a layer never changes, so
/// neither does this. Bounded: emptied when full.
#[derive(Default)]
struct LayerCache {
    by_digest: Mutex<HashMap<String, Arc<LayerView>>>,
}

impl LayerCache {
    const CAPACITY: usize = 512;

    fn get(&self, d: &str) -> Option<Arc<LayerView>> {
        self.by_digest.lock().ok()?.get(d).cloned()
    }

    fn put(&self, d: &str, v: Arc<LayerView>) {
        if let Ok(mut m) = self.by_digest.lock() {
            if m.len() >= Self::CAPACITY {
                m.clear();
            }
            m.insert(d.to_string(), v);
        }
    }
}

/// The trusted keys of `[ui] trusted_keys`, read at startup; an unreadable file is logged
/// and left out.
fn load_keys(paths: &[std::path::PathBuf]) -> Vec<PublicKey> {
    paths
        .iter()
        .filter_map(|p| {
            let read = fs_err::read_to_string(p).map_err(|e| e.to_string());
            match read.and_then(|t| PublicKey::from_pem(&t).map_err(|e| e.to_string())) {
                Ok(k) => Some(k),
                Err(e) => {
                    tracing::error!(path = %p.display(), error = %e, "[ui] trusted key not loaded");
                    None
                }
            }
        })
        .collect()
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct LayerView {
    /// `component`, `wit-package` or `core-module`; empty when not analysed.
    pub kind: String,
    /// Why there is nothing more (too large, not valid Wasm).
    pub note: Option<String>,
    pub world: Option<String>,
    pub imports: Vec<Item>,
    pub exports: Vec<Item>,
    /// The WIT text, highlighted: HTML, escaped by the highlighter.
    pub wit_html: Option<String>,
    pub producers: Vec<[String; 3]>,
    pub metadata: Vec<[String; 2]>,
    pub parts: Vec<Part>,
    pub graph: Option<Graph>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub name: String,
    pub kind: String,
    /// The search query for it (the interface without its version).
    pub query: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Part {
    pub name: String,
    pub source: String,
    pub digest: String,
    pub reference: Option<String>,
    pub manifest_digest: Option<String>,
    /// Its page on this registry, when it is here and the visitor may see it.
    pub link: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Graph {
    pub width: u32,
    pub height: u32,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Node {
    pub name: String,
    /// The name, cut to fit the box.
    pub label: String,
    pub x: u32,
    pub y: u32,
    pub link: Option<String>,
    pub root: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Edge {
    pub x1: u32,
    pub y1: u32,
    pub x2: u32,
    pub y2: u32,
    pub label: String,
}

#[derive(Debug, Serialize)]
pub struct Layer {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    pub title: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Signature {
    pub manifest: String,
    pub key_id: String,
    pub algorithm: String,
    /// `Some(true)`: verifies with the key; `Some(false)`: the key is known and it does not
    /// (or signs another digest); `None`: the key is not known here.
    pub verified: Option<bool>,
    pub trusted: bool,
}

#[derive(Debug, Serialize)]
pub struct Provenance {
    pub manifest: String,
    pub key_id: String,
    pub verified: Option<bool>,
    pub trusted: bool,
    pub about_this: bool,
    pub predicate_type: String,
    pub builder: String,
    pub build_type: String,
    pub source_commit: Option<String>,
    pub started: String,
    pub finished: String,
    pub parts: Vec<Part>,
}

#[derive(Debug, Serialize)]
pub struct Referrer {
    pub digest: String,
    pub artifact_type: String,
    pub size: u64,
}

#[derive(Debug, Serialize)]
pub struct Artifact {
    pub repo: String,
    pub reference: String,
    pub digest: String,
    pub media_type: String,
    pub manifest_size: u64,
    pub total_size: u64,
    /// `component`, `WIT package`, `index`, `other artifact`.
    pub kind: String,
    pub artifact_type: Option<String>,
    pub subject: Option<String>,
    pub annotations: Vec<[String; 2]>,
    pub layers: Vec<Layer>,
    pub children: Vec<String>,
    pub layer: Option<LayerView>,
    pub signatures: Vec<Signature>,
    pub provenance: Vec<Provenance>,
    pub referrers: Vec<Referrer>,
    pub pull: Vec<[String; 2]>,
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn annotations_of(v: &Value) -> Vec<[String; 2]> {
    v.get("annotations")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    [
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_string),
                    ]
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Reads a manifest of `repo` and its JSON.
async fn manifest_json(ctx: &Ctx, d: &Digest) -> Result<Value, ApiError> {
    let bytes = ctx.state.blobs.read_all(d).await?;
    Ok(serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// The artifact page of `reference` (a tag or a digest) in `repo`, or `None` when there is
/// no such manifest. The caller has checked that the visitor may pull `repo`.
pub async fn gather(
    ctx: &Ctx,
    ui: &UiState,
    repo: &str,
    reference: &str,
) -> Result<Option<Artifact>, ApiError> {
    let meta = &ctx.state.meta;
    let rec = if reference.starts_with("sha256:") {
        match Digest::parse(reference) {
            Some(d) => meta.get_manifest_by_digest(repo, &d).await?,
            None => None,
        }
    } else {
        meta.get_manifest_by_tag(repo, reference).await?
    };
    let Some(rec) = rec else { return Ok(None) };
    let m = manifest_json(ctx, &rec.digest).await?;
    let layers: Vec<Layer> = m
        .get("layers")
        .and_then(Value::as_array)
        .map(|ls| {
            ls.iter()
                .map(|l| Layer {
                    media_type: text(l, "mediaType").unwrap_or_default(),
                    digest: text(l, "digest").unwrap_or_default(),
                    size: l.get("size").and_then(Value::as_u64).unwrap_or(0),
                    title: l
                        .get("annotations")
                        .and_then(|a| text(a, "org.opencontainers.image.title")),
                })
                .collect()
        })
        .unwrap_or_default();
    let children = m
        .get("manifests")
        .and_then(Value::as_array)
        .map(|c| c.iter().filter_map(|c| text(c, "digest")).collect())
        .unwrap_or_default();
    let config_type = m.get("config").and_then(|c| text(c, "mediaType"));
    let is_wasm = config_type.as_deref() == Some(crate::oci::WASM_CONFIG);
    let wasm_layer = layers
        .iter()
        .find(|l| l.media_type == crate::oci::WASM_LAYER)
        .filter(|_| is_wasm);
    let layer = match wasm_layer {
        Some(l) => Some(layer_view(ctx, ui, l).await?),
        None => None,
    };
    let kind = match (&layer, rec.media_type.as_str()) {
        (Some(v), _) if v.kind == "component" => "component",
        (Some(v), _) if v.kind == "wit-package" => "WIT package",
        (_, crate::oci::OCI_INDEX | crate::oci::DOCKER_MANIFEST_LIST) => "index",
        _ => "other artifact",
    };
    let layer = match layer {
        Some(v) => {
            // Links depend on who is looking; the cached view has none.
            let mut own = (*v).clone();
            for p in &mut own.parts {
                p.link = part_link(ctx, p).await?;
            }
            own.graph = graph(&own.parts, v.graph.as_ref());
            Some(own)
        }
        None => None,
    };
    let keys = &ui.keys;
    let mut signatures = Vec::new();
    for r in meta
        .referrers(
            repo,
            &rec.digest,
            Some(simple_signing::SIGNATURE_ARTIFACT_TYPE),
            None,
            MAX_REFERRERS,
        )
        .await?
    {
        if let Some(s) = signature(ctx, keys, &r.digest, &rec.digest).await? {
            signatures.push(s);
        }
    }
    let mut provenance = Vec::new();
    for r in meta
        .referrers(
            repo,
            &rec.digest,
            Some(simple_signing::ATTESTATION_ARTIFACT_TYPE),
            None,
            MAX_REFERRERS,
        )
        .await?
    {
        if let Some(p) = attestation(ctx, keys, &r.digest, &rec.digest, &layers).await? {
            provenance.push(p);
        }
    }
    let referrers = meta
        .referrers(repo, &rec.digest, None, None, MAX_REFERRERS)
        .await?
        .into_iter()
        .map(|r| Referrer {
            digest: r.digest.to_string(),
            artifact_type: r.artifact_type.unwrap_or(r.media_type),
            size: r.size,
        })
        .collect();
    let host = match &ctx.state.config.public_url {
        Some(u) => u
            .trim_end_matches('/')
            .split_once("://")
            .map_or(u.as_str(), |(_, h)| h)
            .to_string(),
        None => ctx.host.clone(),
    };
    let full = if reference.starts_with("sha256:") {
        format!("{host}/{repo}@{reference}")
    } else {
        format!("{host}/{repo}:{reference}")
    };
    let plain = if super::secure(&ctx.state) {
        ""
    } else {
        " --plain-http"
    };
    let mut pull = vec![["oras".to_string(), format!("oras pull{plain} {full}")]];
    if is_wasm {
        pull.insert(0, ["wcomp".into(), format!("wcomp pull {full}")]);
        pull.insert(1, ["wkg".into(), format!("wkg oci pull {full}")]);
    }
    let total_size = layers
        .iter()
        .map(|l| l.size)
        .fold(rec.size, u64::saturating_add);
    Ok(Some(Artifact {
        repo: repo.to_string(),
        reference: reference.to_string(),
        digest: rec.digest.to_string(),
        media_type: rec.media_type,
        manifest_size: rec.size,
        total_size,
        kind: kind.to_string(),
        artifact_type: text(&m, "artifactType").or(config_type),
        subject: m.get("subject").and_then(|s| text(s, "digest")),
        annotations: annotations_of(&m),
        layers,
        children,
        layer,
        signatures,
        provenance,
        referrers,
        pull,
    }))
}

/// Analyses the Wasm layer once (cached by digest), on a blocking thread, within the
/// server's analysis slots and size cap.
async fn layer_view(ctx: &Ctx, ui: &UiState, l: &Layer) -> Result<Arc<LayerView>, ApiError> {
    let state = &ctx.state;
    if let Some(v) = ui.layers.get(&l.digest) {
        return Ok(v);
    }
    let cap = state.config.limits.max_analyzed_bytes;
    if l.size > cap {
        return Ok(Arc::new(LayerView {
            note: Some(format!(
                "The layer ({} bytes) is larger than this registry analyses ({cap} bytes).",
                l.size
            )),
            ..Default::default()
        }));
    }
    let Some(d) = Digest::parse(&l.digest) else {
        return Ok(Arc::new(LayerView::default()));
    };
    let _slot = state
        .analysis_slots
        .acquire()
        .await
        .map_err(|e| ApiError::internal("analysis slot", e))?;
    let bytes = state.blobs.read_all(&d).await?;
    let view = tokio::task::spawn_blocking(move || analyse(&bytes))
        .await
        .map_err(|e| ApiError::internal("layer analysis", e))?;
    let view = Arc::new(view);
    ui.layers.put(&l.digest, view.clone());
    Ok(view)
}

fn analyse(bytes: &[u8]) -> LayerView {
    use wcomp_wasm::input::{Content, classify};
    let bin = match classify("layer", bytes) {
        Ok(Content::Wasm(bin)) => bin,
        _ => {
            return LayerView {
                note: Some("The layer is not a Wasm binary.".into()),
                ..Default::default()
            };
        }
    };
    let i = match wcomp_wasm::inspect::inspect_binary("layer", &bin) {
        Ok(i) => i,
        Err(e) => {
            return LayerView {
                note: Some(format!("The layer is not valid Wasm: {e}")),
                ..Default::default()
            };
        }
    };
    let items = |list: &[wcomp_wasm::inspect::ItemSummary]| {
        list.iter()
            .filter(|i| i.kind != "type")
            .map(|i| Item {
                name: i.name.clone(),
                kind: i.kind.to_string(),
                query: match i.kind {
                    "interface" => i.name.split('@').next().unwrap_or(&i.name).to_string(),
                    _ => String::new(),
                },
            })
            .collect::<Vec<_>>()
    };
    let mut view = LayerView {
        kind: i.kind.to_string(),
        wit_html: i.wit.as_deref().map(super::wit::highlight),
        ..Default::default()
    };
    if i.kind == "component"
        && let Some(w) = i.worlds.first()
    {
        view.world = Some(w.name.clone());
        view.imports = items(&w.imports);
        view.exports = items(&w.exports);
    } else {
        view.exports = i
            .worlds
            .iter()
            .map(|w| Item {
                name: w.name.clone(),
                kind: "world".into(),
                query: String::new(),
            })
            .collect();
    }
    if let Some(m) = &i.metadata {
        for (field, entries) in &m.producers {
            for (name, version) in entries {
                view.producers
                    .push([field.clone(), name.clone(), version.clone()]);
            }
        }
        for (k, v) in [
            ("name", &m.name),
            ("description", &m.description),
            ("authors", &m.authors),
            ("licenses", &m.licenses),
            ("source", &m.source),
            ("homepage", &m.homepage),
            ("revision", &m.revision),
            ("version", &m.version),
        ] {
            if let Some(v) = v {
                view.metadata.push([k.to_string(), v.clone()]);
            }
        }
    }
    if let Some(c) = &i.composition {
        view.parts = c
            .parts
            .iter()
            .map(|p| Part {
                name: p.name.clone(),
                source: p.source.clone(),
                digest: p.digest.clone(),
                reference: p.reference.clone(),
                manifest_digest: p.manifest_digest.clone(),
                link: None,
            })
            .collect();
        view.graph = Some(Graph {
            width: 0,
            height: 0,
            nodes: c
                .parts
                .iter()
                .map(|p| Node {
                    name: p.name.clone(),
                    label: String::new(),
                    x: 0,
                    y: 0,
                    link: None,
                    root: c.root.as_deref() == Some(p.name.as_str()),
                })
                .collect(),
            edges: c
                .wires
                .iter()
                .map(|w| Edge {
                    x1: 0,
                    y1: 0,
                    x2: 0,
                    y2: 0,
                    label: format!("{}\u{1f}{}\u{1f}{}", w.exporter, w.importer, w.import),
                })
                .collect(),
        });
    }
    view
}

/// Node size and spacing of the composition graph.
const NODE_W: u32 = 180;
const NODE_H: u32 = 36;
const COL_GAP: u32 = 90;
const ROW_GAP: u32 = 24;

/// Lays the composition out left to right: a part sits one column after every part it
/// imports from (the wiring is acyclic; a cycle is cut after as many rounds as parts).
fn graph(parts: &[Part], wiring: Option<&Graph>) -> Option<Graph> {
    let wiring = wiring?;
    let names: Vec<&str> = wiring.nodes.iter().map(|n| n.name.as_str()).collect();
    let wires: Vec<(usize, usize, String)> = wiring
        .edges
        .iter()
        .filter_map(|e| {
            let mut f = e.label.split('\u{1f}');
            let (from, to, what) = (f.next()?, f.next()?, f.next()?);
            let a = names.iter().position(|n| *n == from)?;
            let b = names.iter().position(|n| *n == to)?;
            Some((a, b, what.to_string()))
        })
        .collect();
    let mut col = vec![0u32; names.len()];
    for _ in 0..names.len() {
        let mut changed = false;
        for (a, b, _) in &wires {
            if col[*b] < col[*a] + 1 {
                col[*b] = col[*a] + 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut rows_in = HashMap::<u32, u32>::new();
    let mut pos = Vec::new();
    for c in &col {
        let r = rows_in.entry(*c).or_default();
        pos.push((10 + c * (NODE_W + COL_GAP), 10 + *r * (NODE_H + ROW_GAP)));
        *r += 1;
    }
    let cols = col.iter().max().map_or(1, |m| m + 1);
    let rows = rows_in.values().max().copied().unwrap_or(1);
    let link_of = |name: &str| {
        parts
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| p.link.clone())
    };
    Some(Graph {
        width: 20 + cols * NODE_W + (cols - 1) * COL_GAP,
        height: 20 + rows * NODE_H + rows.saturating_sub(1) * ROW_GAP,
        nodes: wiring
            .nodes
            .iter()
            .zip(&pos)
            .map(|(n, (x, y))| Node {
                name: n.name.clone(),
                label: label(&n.name),
                x: *x,
                y: *y,
                link: link_of(&n.name),
                root: n.root,
            })
            .collect(),
        edges: wires
            .into_iter()
            .map(|(a, b, what)| Edge {
                x1: pos[a].0 + NODE_W,
                y1: pos[a].1 + NODE_H / 2,
                x2: pos[b].0,
                y2: pos[b].1 + NODE_H / 2,
                label: what,
            })
            .collect(),
    })
}

/// A node's label: at most 22 characters.
fn label(name: &str) -> String {
    if name.chars().count() <= 22 {
        return name.to_string();
    }
    let mut s: String = name.chars().take(21).collect();
    s.push('…');
    s
}

/// The repository a reference names, without its host and tag or digest:
/// `127.0.0.1:5000/acme/part:1.0` -> `acme/part`.
pub fn reference_repo(reference: &str) -> Option<(String, Option<String>)> {
    let (first, rest) = reference.split_once('/')?;
    let path = if first.contains('.') || first.contains(':') || first == "localhost" {
        rest
    } else {
        reference
    };
    let path = path.split('@').next()?;
    let (repo, tag) = match path.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, Some(t.to_string())),
        _ => (path, None),
    };
    crate::oci::valid_repository_name(repo).then(|| (repo.to_string(), tag))
}

/// A part's page here: by the manifest digest of the reference it was pulled from, else
/// the first repository the visitor may pull that holds its bytes.
async fn part_link(ctx: &Ctx, p: &Part) -> Result<Option<String>, ApiError> {
    let meta = &ctx.state.meta;
    let auth = &ctx.state.auth;
    if let Some((repo, tag)) = p.reference.as_deref().and_then(reference_repo)
        && auth.actions(&ctx.caller, &repo).await?.pull
    {
        if let Some(md) = p.manifest_digest.as_deref().and_then(Digest::parse)
            && meta.get_manifest_by_digest(&repo, &md).await?.is_some()
        {
            return Ok(Some(format!("{repo}/{md}")));
        }
        if let Some(t) = tag
            && meta.get_manifest_by_tag(&repo, &t).await?.is_some()
        {
            return Ok(Some(format!("{repo}/{t}")));
        }
    }
    let Some(d) = Digest::parse(&p.digest) else {
        return Ok(None);
    };
    for repo in meta.blob_repos(&d).await?.into_iter().take(20) {
        if auth.actions(&ctx.caller, &repo).await?.pull {
            return Ok(Some(repo));
        }
    }
    Ok(None)
}

/// The single layer of a signature or attestation manifest, with its bytes.
async fn attached_layer(
    ctx: &Ctx,
    manifest: &Digest,
) -> Result<Option<(Value, Vec<u8>)>, ApiError> {
    let m = manifest_json(ctx, manifest).await?;
    let Some(l) = m
        .get("layers")
        .and_then(Value::as_array)
        .and_then(|l| l.first())
    else {
        return Ok(None);
    };
    let size = l.get("size").and_then(Value::as_u64).unwrap_or(u64::MAX);
    let Some(d) = text(l, "digest").and_then(|d| Digest::parse(&d)) else {
        return Ok(None);
    };
    if size > MAX_ATTACHED_BYTES {
        return Ok(None);
    }
    let bytes = ctx.state.blobs.read_all(&d).await?;
    Ok(Some((l.clone(), bytes.to_vec())))
}

fn claimed_key(layer: &Value) -> Option<String> {
    layer
        .get("annotations")
        .and_then(|a| text(a, simple_signing::KEY_ID_ANNOTATION))
}

async fn signature(
    ctx: &Ctx,
    keys: &[PublicKey],
    manifest: &Digest,
    subject: &Digest,
) -> Result<Option<Signature>, ApiError> {
    use base64::Engine as _;
    let Some((layer, payload)) = attached_layer(ctx, manifest).await? else {
        return Ok(None);
    };
    let sig = layer
        .get("annotations")
        .and_then(|a| text(a, simple_signing::SIGNATURE_ANNOTATION))
        .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
        .unwrap_or_default();
    let claimed = claimed_key(&layer);
    let checks = |k: &PublicKey| {
        k.verify(&payload, &sig).is_ok()
            && simple_signing::check(&payload, &subject.to_string()).is_ok()
    };
    let (key_id, verified, trusted) = match claimed
        .as_deref()
        .and_then(|id| keys.iter().find(|k| k.key_id() == id))
    {
        Some(k) => (k.key_id(), Some(checks(k)), true),
        None => match keys.iter().find(|k| checks(k)) {
            Some(k) => (k.key_id(), Some(true), true),
            None => (claimed.unwrap_or_else(|| "(not named)".into()), None, false),
        },
    };
    Ok(Some(Signature {
        manifest: manifest.to_string(),
        key_id,
        algorithm: "ECDSA P-256, SHA-256".into(),
        verified,
        trusted,
    }))
}

async fn attestation(
    ctx: &Ctx,
    keys: &[PublicKey],
    manifest: &Digest,
    subject: &Digest,
    layers: &[Layer],
) -> Result<Option<Provenance>, ApiError> {
    let Some((layer, bytes)) = attached_layer(ctx, manifest).await? else {
        return Ok(None);
    };
    let Ok(env) = dsse::Envelope::from_json(&bytes) else {
        return Ok(None);
    };
    let claimed = claimed_key(&layer);
    let known = claimed
        .as_deref()
        .and_then(|id| keys.iter().find(|k| k.key_id() == id))
        .or_else(|| keys.iter().find(|k| env.verify(k).is_ok()));
    let (payload, verified, key_id, trusted) = match known {
        Some(k) => match env.verify(k) {
            Ok(p) => (Some(p), Some(true), k.key_id(), true),
            Err(_) => (env.payload_bytes().ok(), Some(false), k.key_id(), true),
        },
        None => (
            env.payload_bytes().ok(),
            None,
            claimed.unwrap_or_else(|| "(not named)".into()),
            false,
        ),
    };
    let Some(statement) = payload.and_then(|p| intoto::Statement::from_json(&p).ok()) else {
        return Ok(None);
    };
    let about_this = statement.names_digest(&subject.to_string())
        || layers.iter().any(|l| statement.names_digest(&l.digest));
    let p = statement.slsa_v1().unwrap_or_default();
    let source_commit = p
        .build_definition
        .external_parameters
        .get("sourceRevision")
        .and_then(|r| text(r, "gitCommit"));
    let mut parts = Vec::new();
    for d in &p.build_definition.resolved_dependencies {
        let s = |k: &str| {
            d.annotations
                .get(k)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let mut part = Part {
            name: d.name.clone(),
            source: d.uri.clone(),
            digest: d
                .digest
                .get("sha256")
                .map(|h| format!("sha256:{h}"))
                .unwrap_or_default(),
            reference: s("reference"),
            manifest_digest: s("manifestDigest"),
            link: None,
        };
        part.link = part_link(ctx, &part).await?;
        parts.push(part);
    }
    Ok(Some(Provenance {
        manifest: manifest.to_string(),
        key_id,
        verified,
        trusted,
        about_this,
        predicate_type: statement.predicate_type,
        builder: p.run_details.builder.id,
        build_type: p.build_definition.build_type,
        source_commit,
        started: p.run_details.metadata.started_on,
        finished: p.run_details.metadata.finished_on,
        parts,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_name_their_repository() {
        assert_eq!(
            reference_repo("127.0.0.1:5000/acme/part:1.0"),
            Some(("acme/part".into(), Some("1.0".into())))
        );
        assert_eq!(
            reference_repo("localhost/acme/part@sha256:00"),
            Some(("acme/part".into(), None))
        );
        assert_eq!(reference_repo("reg.example/a"), Some(("a".into(), None)));
        assert_eq!(reference_repo("nohost"), None);
    }

    #[test]
    fn the_graph_puts_importers_after_exporters() {
        let part = |n: &str| Part {
            name: n.into(),
            source: String::new(),
            digest: String::new(),
            reference: None,
            manifest_digest: None,
            link: Some(format!("r/{n}")),
        };
        let node = |n: &str| Node {
            name: n.into(),
            label: String::new(),
            x: 0,
            y: 0,
            link: None,
            root: n == "app",
        };
        let wiring = Graph {
            width: 0,
            height: 0,
            nodes: vec![node("app"), node("lib"), node("base")],
            edges: vec![
                Edge {
                    x1: 0,
                    y1: 0,
                    x2: 0,
                    y2: 0,
                    label: "lib\u{1f}app\u{1f}a:b/c".into(),
                },
                Edge {
                    x1: 0,
                    y1: 0,
                    x2: 0,
                    y2: 0,
                    label: "base\u{1f}lib\u{1f}a:b/d".into(),
                },
            ],
        };
        let g = graph(&[part("app"), part("lib"), part("base")], Some(&wiring)).unwrap();
        assert!(g.nodes[2].x < g.nodes[1].x && g.nodes[1].x < g.nodes[0].x);
        assert_eq!(g.nodes[0].link.as_deref(), Some("r/app"));
        assert_eq!(g.edges.len(), 2);
        assert_eq!(g.edges[0].label, "a:b/c");
    }
}
