//! Operational endpoints: health, metrics, wasm-pkg discovery. None needs credentials.

use crate::app::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;

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

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

/// `/.well-known/wasm-pkg/registry.json`, so `wkg` resolves `ns:name@version` here.
pub async fn wasm_pkg(State(state): State<AppState>, headers: HeaderMap) -> impl IntoResponse {
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
        .unwrap_or_else(|| super::host_of(&headers));
    let mut oci = serde_json::json!({ "registry": registry });
    if let Some(prefix) = &state.config.wasm_pkg.namespace_prefix {
        oci["namespacePrefix"] = prefix.clone().into();
    }
    axum::Json(serde_json::json!({ "preferredProtocol": "oci", "oci": oci }))
}
