//! `GET /v2/<name>/referrers/<digest>?artifactType=`: an image index of the manifests whose
//! `subject` is the digest. The subject need not exist (the answer is then empty).

use super::{Ctx, LINK_VALUE, OCI_FILTERS_APPLIED, percent_encode};
use crate::auth::Action;
use crate::error::{ApiError, ApiResult};
use crate::oci::{Digest, OCI_INDEX};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;

pub async fn list(
    ctx: &Ctx,
    name: &str,
    digest: &str,
    q: &HashMap<String, String>,
) -> ApiResult<Response> {
    ctx.require(name, Action::Pull).await?;
    let subject =
        Digest::parse(digest).ok_or_else(|| ApiError::digest_invalid("invalid digest"))?;
    let filter = q.get("artifactType").filter(|s| !s.is_empty());
    let n = super::page_size(q, ctx.state.config.limits.max_page)?;
    let last = q.get("last").map(String::as_str);
    let mut refs = ctx
        .state
        .meta
        .referrers(
            name,
            &subject,
            filter.map(String::as_str),
            last,
            n.saturating_add(1),
        )
        .await?;
    let more = refs.len() as u32 > n;
    refs.truncate(n as usize);
    let manifests: Vec<serde_json::Value> = refs
        .iter()
        .map(|r| {
            let mut d = serde_json::json!({
                "mediaType": r.media_type,
                "digest": r.digest.as_str(),
                "size": r.size,
            });
            if let Some(at) = &r.artifact_type {
                d["artifactType"] = at.clone().into();
            }
            if let Some(a) = r
                .annotations
                .as_deref()
                .and_then(|a| serde_json::from_str::<serde_json::Value>(a).ok())
            {
                d["annotations"] = a;
            }
            d
        })
        .collect();
    let body =
        serde_json::json!({ "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests });
    let mut resp = (
        [(header::CONTENT_TYPE, OCI_INDEX)],
        serde_json::to_vec(&body).map_err(|e| ApiError::internal("referrers json", e))?,
    )
        .into_response();
    if filter.is_some() {
        super::set(resp.headers_mut(), OCI_FILTERS_APPLIED, "artifactType");
    }
    if more && let Some(l) = refs.last() {
        let mut link = format!("</v2/{name}/referrers/{digest}?n={n}&last={}", l.digest);
        if let Some(f) = filter {
            link += &format!("&artifactType={}", percent_encode(f, LINK_VALUE));
        }
        link += ">; rel=\"next\"";
        super::set(resp.headers_mut(), header::LINK.as_str(), &link);
    }
    Ok(resp)
}
