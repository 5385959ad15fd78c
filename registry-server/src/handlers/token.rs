//! `/token`: the Docker token flow. `GET ?service&scope...` with optional Basic credentials
//! (Docker, skopeo, oras), and `POST` with an OAuth2 password-grant form (containerd).

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use axum::extract::{Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

async fn answer(state: &AppState, caller: Caller, scopes: Vec<String>) -> ApiResult<Response> {
    let (token, ttl) = state.auth.issue(&caller, &scopes).await?;
    let issued_at = crate::storage::chrono_free::rfc3339(crate::auth::now());
    Ok(axum::Json(serde_json::json!({
        "token": token,
        "access_token": token,
        "expires_in": ttl,
        "issued_at": issued_at,
    }))
    .into_response())
}

/// Scopes from repeated `scope` parameters, each possibly space-separated.
fn scopes(pairs: &[(String, String)]) -> Vec<String> {
    pairs
        .iter()
        .filter(|(k, _)| k == "scope")
        .flat_map(|(_, v)| v.split(' ').map(str::to_string).collect::<Vec<_>>())
        .filter(|s| !s.is_empty())
        .collect()
}

pub async fn issue_get(State(state): State<AppState>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let result = async {
        let ctx = super::Ctx::new(state, &parts).await?;
        answer(
            &ctx.state,
            ctx.caller,
            scopes(&super::query_all(parts.uri.query())),
        )
        .await
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

pub async fn issue_post(State(state): State<AppState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let result = async {
        // A declared length over the limit was refused before the handler (routes.rs);
        // this stops a body sent without one at the same size.
        let limit = state.config.limits.max_body_bytes;
        let body = axum::body::to_bytes(body, limit)
            .await
            .map_err(|_| ApiError::body_too_large(limit))?;
        let host = super::host_for(&state, &parts);
        let peer = super::client_ip(&state, &parts);
        let headers = &parts.headers;
        let form = super::query_all(std::str::from_utf8(&body).ok());
        let get = |k: &str| {
            form.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        };
        let caller = match (
            get("grant_type").as_deref(),
            get("username"),
            get("password"),
        ) {
            (Some("password"), Some(u), Some(p)) => {
                match state.auth.check_password(&u, &p, peer).await? {
                    Some(admin) => Caller::User { name: u, admin },
                    None => {
                        return Err(state
                            .auth
                            .identify(Some("Basic !"), &host, peer)
                            .await
                            .err()
                            .unwrap_or_else(|| {
                                ApiError::new(
                                    crate::error::ErrorCode::Unauthorized,
                                    "invalid credentials",
                                )
                            }));
                    }
                }
            }
            _ => {
                let authz = headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok());
                state.auth.identify(authz, &host, peer).await?
            }
        };
        answer(&state, caller, scopes(&form)).await
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}
