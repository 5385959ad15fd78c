//! `GET /v2/_catalog`: repositories the caller may pull, paged with `n` and `last`.

use super::{Ctx, LINK_VALUE, page_size, percent_encode, query_pairs};
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
        let last = q.get("last").map(String::as_str);
        // One more than asked for says whether a next page exists. The caller's view is
        // filtered in the query, so a caller who may see few of many repositories costs
        // one index walk, not an access check per repository.
        let want = n.saturating_add(1);
        let mut repos = match ctx.state.auth.pull_patterns(&ctx.caller).await? {
            None => ctx.state.meta.list_repos(last, want).await?,
            Some(patterns) => {
                ctx.state
                    .meta
                    .list_repos_matching(&patterns, last, want)
                    .await?
            }
        };
        let more = repos.len() > n as usize;
        repos.truncate(n as usize);
        let mut resp = axum::Json(serde_json::json!({ "repositories": repos })).into_response();
        if more && let Some(last) = repos.last() {
            super::set(
                resp.headers_mut(),
                header::LINK.as_str(),
                &format!(
                    "</v2/_catalog?n={n}&last={}>; rel=\"next\"",
                    percent_encode(last, LINK_VALUE)
                ),
            );
        }
        Ok::<_, ApiError>(resp)
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}
