//! `GET /v2/<name>/tags/list?n&last`.

use super::{Ctx, LINK_VALUE, page_size, percent_encode};
use crate::auth::Action;
use crate::error::{ApiError, ApiResult};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;

pub async fn list(ctx: &Ctx, name: &str, q: &HashMap<String, String>) -> ApiResult<Response> {
    ctx.require(name, Action::Pull).await?;
    if !ctx.state.meta.repo_exists(name).await? {
        return Err(ApiError::name_unknown(name));
    }
    let n = page_size(q, ctx.state.config.limits.max_page)?;
    let last = q.get("last").map(String::as_str);
    // One extra row tells whether a next page exists.
    let mut tags = ctx
        .state
        .meta
        .list_tags(name, last, n.saturating_add(1))
        .await?;
    let more = tags.len() as u32 > n;
    tags.truncate(n as usize);
    let mut resp = axum::Json(serde_json::json!({ "name": name, "tags": tags })).into_response();
    if more && let Some(l) = tags.last() {
        super::set(
            resp.headers_mut(),
            header::LINK.as_str(),
            &format!(
                "</v2/{name}/tags/list?n={n}&last={}>; rel=\"next\"",
                percent_encode(l, LINK_VALUE)
            ),
        );
    }
    Ok(resp)
}
