//! `GET /v2/_catalog`: repositories the caller may pull, paged with `n` and `last`.

use super::{Ctx, page_size, percent_encode, query_pairs};
use crate::app::AppState;
use crate::error::ApiError;
use axum::extract::{Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

pub async fn list(State(state): State<AppState>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let result = async {
        let ctx = Ctx::new(state, &parts).await?;
        // Anonymous callers see the catalog only when something is anonymously pullable at all;
        // otherwise they are challenged like on `/v2/`, so clients can log in.
        if matches!(ctx.caller, crate::auth::Caller::Anonymous)
            && ctx.state.config.auth.anonymous_pull.is_empty()
        {
            let grants = ctx.state.meta.grants_for("anonymous").await?;
            if grants.is_empty() {
                return Err(ctx
                    .state
                    .auth
                    .unauthorized(&ctx.host, Some("registry:catalog:*".into())));
            }
        }
        let q = query_pairs(parts.uri.query());
        let max = ctx.state.config.limits.max_page;
        let n = page_size(&q, max)?;
        let mut cursor = q.get("last").cloned();
        let mut repos = Vec::new();
        // Filtering by access means a page of the table may yield fewer visible names, so
        // read on until the page is full; `max_page` rows per read bound each query.
        let more = loop {
            let batch = ctx.state.meta.list_repos(cursor.as_deref(), max).await?;
            let exhausted = (batch.len() as u32) < max;
            for r in batch {
                cursor = Some(r.clone());
                if ctx.state.auth.may_list(&ctx.caller, &r).await? {
                    if repos.len() as u32 == n {
                        break;
                    }
                    repos.push(r);
                }
            }
            if repos.len() as u32 >= n {
                // Whether anything visible remains is only known by looking; a Link to an
                // empty page is allowed and cheaper.
                break n > 0;
            }
            if exhausted {
                break false;
            }
        };
        let mut resp = axum::Json(serde_json::json!({ "repositories": repos })).into_response();
        if more && let Some(last) = repos.last() {
            super::set(
                resp.headers_mut(),
                header::LINK.as_str(),
                &format!(
                    "</v2/_catalog?n={n}&last={}>; rel=\"next\"",
                    percent_encode(last)
                ),
            );
        }
        Ok::<_, ApiError>(resp)
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}
