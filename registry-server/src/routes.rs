//! The route table: every URL the server answers, in one place.
//!
//! OCI repository names contain slashes (`/v2/<name>/manifests/<ref>`), which a router
//! cannot match in the middle of a path, so everything under `/v2/<name>/` goes to
//! [`dispatch`], which reads the resource from the end of the path with [`parse_oci_path`]
//! and picks the handler from the table in its `match`.
//!
//! | method              | path                                      | handler |
//! | ------------------- | ----------------------------------------- | ------- |
//! | GET                 | `/v2/`                                    | base::ping |
//! | GET                 | `/v2/_catalog?n&last`                     | catalog::list |
//! | GET, HEAD           | `/v2/<name>/manifests/<ref>`              | manifests::get |
//! | PUT                 | `/v2/<name>/manifests/<ref>`              | manifests::put |
//! | DELETE              | `/v2/<name>/manifests/<ref>`              | manifests::delete |
//! | GET, HEAD           | `/v2/<name>/blobs/<digest>`               | blobs::get |
//! | DELETE              | `/v2/<name>/blobs/<digest>`               | blobs::delete |
//! | POST                | `/v2/<name>/blobs/uploads/[?digest/mount]`| uploads::start |
//! | GET                 | `/v2/<name>/blobs/uploads/<id>`           | uploads::status |
//! | PATCH               | `/v2/<name>/blobs/uploads/<id>`           | uploads::patch |
//! | PUT                 | `/v2/<name>/blobs/uploads/<id>?digest`    | uploads::finish |
//! | DELETE              | `/v2/<name>/blobs/uploads/<id>`           | uploads::cancel |
//! | GET                 | `/v2/<name>/tags/list?n&last`             | tags::list |
//! | GET                 | `/v2/<name>/referrers/<digest>`           | referrers::list |
//! | GET, POST           | `/token`                                  | token::issue |
//! | GET                 | `/healthz`, `/metrics`                    | ops |
//! | GET                 | `/.well-known/wasm-pkg/registry.json`     | ops::wasm_pkg |
//! | GET                 | `/wcomp/v1/search`                        | search::search |
//! | GET                 | `/` (Accept: text/html: to `/ui/`)        | ui::root |
//! | GET, POST           | `/ui/...`                                 | ui (its own table) |

use crate::app::AppState;
use crate::error::{ApiError, ErrorCode};
use crate::handlers::{
    self, Ctx, base, blobs, catalog, manifests, ops, referrers, search, tags, token, uploads,
};
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};

pub fn router(state: AppState) -> Router {
    let ui = if state.config.ui.enabled {
        crate::ui::router(&state)
    } else {
        Router::new()
    };
    Router::new()
        .route("/", get(crate::ui::root))
        .merge(ui)
        .route("/v2/", get(base::ping))
        .route("/v2", get(base::ping))
        .route("/v2/_catalog", get(catalog::list))
        // Blob bodies are streamed to storage (bounded by quotas and the body timeout);
        // manifests are bounded in their handler.
        .route(
            "/v2/{*path}",
            any(dispatch).layer(DefaultBodyLimit::disable()),
        )
        .route("/token", get(token::issue_get).post(token::issue_post))
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .route("/.well-known/wasm-pkg/registry.json", get(ops::wasm_pkg))
        .route("/wcomp/v1/search", get(search::search))
        .fallback(|| async { ApiError::new(ErrorCode::NameUnknown, "no such endpoint") })
        // Every other route takes at most a small form or nothing.
        .layer(DefaultBodyLimit::max(state.config.limits.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), small_bodies))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// One middleware for every request: metrics and a log line.
async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let started = std::time::Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    state.metrics.record(status);
    tracing::info!(%method, %path, status, elapsed_ms = started.elapsed().as_millis() as u64, "request");
    resp
}

/// Refuses, before reading a byte of it, a body declared larger than `max_body_bytes` on any
/// route but `/v2/<name>/...` (uploads and manifests, bounded where they are read). A body
/// sent without a length is cut off at the same limit where it is read (`handlers::token`).
async fn small_bodies(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let oci_resource = path.starts_with("/v2/") && path != "/v2/" && path != "/v2/_catalog";
    let limit = state.config.limits.max_body_bytes;
    if !oci_resource && handlers::declared_length(req.headers()).is_some_and(|n| n > limit as u64) {
        return ApiError::body_too_large(limit).into_response();
    }
    next.run(req).await
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    Manifest(String),
    Blob(String),
    UploadStart,
    Upload(String),
    Tags,
    Referrers(String),
}

/// Splits the part of a path after `/v2/` into a repository name and a resource. The name is
/// not validated here; `None` means no resource matches.
pub fn parse_oci_path(rest: &str) -> Option<(&str, Resource)> {
    if let Some(name) = rest.strip_suffix("/tags/list") {
        return Some((name, Resource::Tags));
    }
    if let Some(name) = rest
        .strip_suffix("/blobs/uploads/")
        .or_else(|| rest.strip_suffix("/blobs/uploads"))
    {
        return Some((name, Resource::UploadStart));
    }
    let (head, last) = rest.rsplit_once('/')?;
    let (name, kind) = head.rsplit_once('/')?;
    let last = last.to_string();
    match kind {
        "manifests" => Some((name, Resource::Manifest(last))),
        "blobs" => Some((name, Resource::Blob(last))),
        "referrers" => Some((name, Resource::Referrers(last))),
        "uploads" => name
            .strip_suffix("/blobs")
            .map(|n| (n, Resource::Upload(last))),
        _ => None,
    }
}

async fn dispatch(State(state): State<AppState>, req: Request) -> Response {
    match dispatch_inner(state, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn dispatch_inner(state: AppState, req: Request) -> Result<Response, ApiError> {
    let (parts, body): (_, Body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let rest = path.strip_prefix("/v2/").unwrap_or("");
    let Some((name, resource)) = parse_oci_path(rest) else {
        return Err(ApiError::new(ErrorCode::NameUnknown, "no such endpoint"));
    };
    if !crate::oci::valid_repository_name(name) {
        return Err(
            ApiError::new(ErrorCode::NameInvalid, "invalid repository name")
                .with_detail(serde_json::json!({ "name": name })),
        );
    }
    let ctx = Ctx::new(state, &parts).await?;
    let name = name.to_string();
    let q = handlers::query_pairs(parts.uri.query());
    let h = &parts.headers;
    let head = parts.method == Method::HEAD;
    match (parts.method.clone(), resource) {
        (Method::GET | Method::HEAD, Resource::Manifest(r)) => {
            manifests::get(&ctx, &name, &r, h, head).await
        }
        (Method::PUT, Resource::Manifest(r)) => manifests::put(&ctx, &name, &r, h, body).await,
        (Method::DELETE, Resource::Manifest(r)) => manifests::delete(&ctx, &name, &r).await,
        (Method::GET | Method::HEAD, Resource::Blob(d)) => {
            blobs::get(&ctx, &name, &d, h, head).await
        }
        (Method::DELETE, Resource::Blob(d)) => blobs::delete(&ctx, &name, &d).await,
        (Method::POST, Resource::UploadStart) => uploads::start(&ctx, &name, &q, h, body).await,
        (Method::GET, Resource::Upload(id)) => uploads::status(&ctx, &name, &id).await,
        (Method::PATCH, Resource::Upload(id)) => uploads::patch(&ctx, &name, &id, h, body).await,
        (Method::PUT, Resource::Upload(id)) => uploads::finish(&ctx, &name, &id, &q, h, body).await,
        (Method::DELETE, Resource::Upload(id)) => uploads::cancel(&ctx, &name, &id).await,
        (Method::GET, Resource::Tags) => tags::list(&ctx, &name, &q).await,
        (Method::GET, Resource::Referrers(d)) => referrers::list(&ctx, &name, &d, &q).await,
        _ => Err(ApiError::new(
            ErrorCode::Unsupported,
            "method not allowed on this resource",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_from_the_end() {
        assert_eq!(
            parse_oci_path("a/b/manifests/v1"),
            Some(("a/b", Resource::Manifest("v1".into())))
        );
        assert_eq!(
            parse_oci_path("a/blobs/uploads/"),
            Some(("a", Resource::UploadStart))
        );
        assert_eq!(
            parse_oci_path("a/blobs/uploads/xyz"),
            Some(("a", Resource::Upload("xyz".into())))
        );
        assert_eq!(
            parse_oci_path("a/blobs/sha256:00"),
            Some(("a", Resource::Blob("sha256:00".into())))
        );
        assert_eq!(
            parse_oci_path("x/y/z/tags/list"),
            Some(("x/y/z", Resource::Tags))
        );
        assert_eq!(
            parse_oci_path("r/referrers/sha256:1"),
            Some(("r", Resource::Referrers("sha256:1".into())))
        );
        assert_eq!(parse_oci_path("r/unknown/thing"), None);
        assert_eq!(parse_oci_path("manifests/x"), None);
    }
}
