//! `GET /v2/`: the API version check, and the place clients learn the auth challenge.

use super::Ctx;
use crate::app::AppState;
use crate::error::ApiError;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};

pub async fn ping(State(state): State<AppState>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let result = async {
        let ctx = Ctx::new(state, &parts).await?;
        ctx.state.auth.check_base(&ctx.caller, &ctx.host)?;
        Ok::<_, ApiError>((
            [("docker-distribution-api-version", "registry/2.0")],
            axum::Json(serde_json::json!({})),
        ))
    }
    .await;
    match result {
        Ok(r) => r.into_response(),
        Err(e) => {
            let mut r = e.into_response();
            r.headers_mut().insert(
                "docker-distribution-api-version",
                axum::http::HeaderValue::from_static("registry/2.0"),
            );
            r
        }
    }
}
