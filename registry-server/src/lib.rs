//! `wcomp-registry`: a private OCI Distribution 1.1 registry that understands Wasm components.
//!
//! Map of the crate:
//! * [`routes`]: the one route table; `/v2/<name>/...` is dispatched from the end of the path.
//! * [`handlers`]: one module per OCI resource (manifests, blobs, uploads, tags, referrers,
//!   catalog) plus token, search and operational endpoints.
//! * [`error`]: the OCI error envelope; every code defined once with its status.
//! * [`oci`]: the OCI vocabulary of `wcomp-core` (digests, names, references, media types)
//!   and manifest parsing: all client input is checked here.
//! * [`storage`]: blob bytes over `object_store` (content-addressed, staged then renamed).
//! * [`metadata`]: the one `Metadata` trait, the SQLite backend, the shared backend suite.
//! * [`auth`]: callers, grants, argon2 passwords, API tokens, the Docker bearer-token flow.
//! * [`gc`]: online garbage collection and why it is safe against concurrent pushes.
//! * [`index`]: the seam where `wcomp-wasm` will validate and index pushed components.
//! * [`ui`]: the web interface under `/ui/` (server-rendered HTML, sessions, CSRF, CSP).
//! * [`config`], [`app`], [`metrics`], [`server`]: configuration, state, counters, serving
//!   (plain HTTP or rustls TLS, graceful shutdown, periodic GC).
//! * [`pattern`]: the repository globs of grants, `anonymous_pull` and namespaces.
//!
//! The modules are layered (docs/architecture.md lists the layers): a module imports only
//! from layers below its own, so no two modules import each other.

pub mod app;
pub mod auth;
pub mod blob_cache;
pub mod config;
pub mod error;
pub mod gc;
pub mod handlers;
pub mod index;
pub mod metadata;
pub mod metrics;
pub mod migrate;
pub mod oci;
pub mod pattern;
pub mod routes;
pub mod server;
pub mod storage;
pub mod ui;
