//! Operational endpoints: health, metrics, wasm-pkg discovery. Only metrics needs
//! credentials (an admin's), unless `auth.anonymous_metrics` is set: request counts and
//! bytes moved say more about a private registry than its owner may want to say.

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use axum::extract::{Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

/// Healthy when the metadata store answers.
pub async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    match state.meta.count_users().await {
        Ok(_) => (axum::http::StatusCode::OK, "ok\n"),
        Err(e) => {
            tracing::error!(%e, "health check failed");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "metadata unavailable\n",
            )
        }
    }
}

pub async fn metrics(State(state): State<AppState>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    if !state.config.auth.anonymous_metrics {
        let ctx = match super::Ctx::new(state.clone(), &parts).await {
            Ok(c) => c,
            Err(e) => return e.into_response(),
        };
        match ctx.caller {
            Caller::Unrestricted | Caller::User { admin: true, .. } => {}
            Caller::Anonymous => {
                return state.auth.unauthorized(&ctx.host, None).into_response();
            }
            _ => return ApiError::denied("metrics are for admins").into_response(),
        }
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render() + &blob_cache_metrics(&state),
    )
        .into_response()
}

/// The replica's blob cache, when `[storage] cache_dir` is set.
fn blob_cache_metrics(state: &crate::app::AppState) -> String {
    let Some(c) = state.blobs.cache() else {
        return String::new();
    };
    let (bytes, entries) = c.usage();
    let hits = c.hits.load(std::sync::atomic::Ordering::Relaxed);
    let fills = c.fills.load(std::sync::atomic::Ordering::Relaxed);
    format!(
        "# HELP wcomp_registry_blob_cache_hits_total Blob GETs answered from the local cache.\n\
         # TYPE wcomp_registry_blob_cache_hits_total counter\n\
         wcomp_registry_blob_cache_hits_total {hits}\n\
         # HELP wcomp_registry_blob_cache_fills_total Blobs added to the local cache.\n\
         # TYPE wcomp_registry_blob_cache_fills_total counter\n\
         wcomp_registry_blob_cache_fills_total {fills}\n\
         # HELP wcomp_registry_blob_cache_bytes Bytes held by the local blob cache.\n\
         # TYPE wcomp_registry_blob_cache_bytes gauge\n\
         wcomp_registry_blob_cache_bytes {bytes}\n\
         # HELP wcomp_registry_blob_cache_entries Blobs held by the local blob cache.\n\
         # TYPE wcomp_registry_blob_cache_entries gauge\n\
         wcomp_registry_blob_cache_entries {entries}\n"
    )
}

/// `/.well-known/wasm-pkg/registry.json`, so `wkg` resolves `ns:name@version` here.
pub async fn wasm_pkg(State(state): State<AppState>, req: Request) -> impl IntoResponse {
    let (parts, _) = req.into_parts();
    let registry = state
        .config
        .wasm_pkg
        .registry
        .clone()
        .or_else(|| {
            state.config.public_url.as_ref().map(|u| {
                u.trim_start_matches("https://")
                    .trim_start_matches("http://")
                    .trim_end_matches('/')
                    .to_string()
            })
        })
        .unwrap_or_else(|| super::host_for(&state, &parts));
    let mut oci = serde_json::json!({ "registry": registry });
    if let Some(prefix) = &state.config.wasm_pkg.namespace_prefix {
        oci["namespacePrefix"] = prefix.clone().into();
    }
    axum::Json(serde_json::json!({ "preferredProtocol": "oci", "oci": oci }))
}
