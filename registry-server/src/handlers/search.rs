//! `GET /wcomp/v1/search?exports=&imports=&package=&version=&n=`: components in the index,
//! filtered to repositories the caller may pull. `version` is a semver requirement
//! (`^1.2`, `>=0.2, <0.3`) on the component's own version. Documented in docs/registry.md.

use super::{Ctx, query_pairs};
use crate::app::AppState;
use crate::error::{ApiError, ErrorCode};
use crate::metadata::{ComponentEntry, ComponentQuery};
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};

pub async fn search(State(state): State<AppState>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let result = async {
        let ctx = Ctx::new(state, &parts).await?;
        let q = query_pairs(parts.uri.query());
        let max = ctx.state.config.limits.max_page;
        let limit = super::page_size(&q, max)?;
        let req = match q.get("version") {
            Some(v) => Some(semver::VersionReq::parse(v).map_err(|e| {
                ApiError::new(ErrorCode::QueryInvalid, "invalid version requirement")
                    .with_detail(serde_json::json!({ "version": v, "reason": e.to_string() }))
            })?),
            None => None,
        };
        let query = ComponentQuery {
            exports: q.get("exports").cloned(),
            imports: q.get("imports").cloned(),
            package: q.get("package").cloned(),
            limit: max,
        };
        let mut out = Vec::new();
        for e in find(&ctx, &query, req.as_ref(), limit).await? {
            let item = |v: &Vec<(String, String)>| {
                v.iter()
                    .map(|(i, ver)| serde_json::json!({ "interface": i, "version": ver }))
                    .collect::<Vec<_>>()
            };
            out.push(serde_json::json!({
                "repository": e.repo,
                "manifest": e.manifest,
                "package": e.package,
                "version": e.version,
                "world": e.world,
                "imports": item(&e.imports),
                "exports": item(&e.exports),
            }));
        }
        Ok::<_, ApiError>(axum::Json(serde_json::json!({ "components": out })).into_response())
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Index entries matching `query` (read up to `query.limit`) whose own version meets `req`
/// and whose repository the caller may pull, at most `limit` of them. The search API and
/// the web interface's search page both search through here.
pub async fn find(
    ctx: &Ctx,
    query: &ComponentQuery,
    req: Option<&semver::VersionReq>,
    limit: u32,
) -> Result<Vec<ComponentEntry>, ApiError> {
    // Access and version filters apply after the query, which reads a full page.
    let mut out = Vec::new();
    for e in ctx.state.meta.search_components(query).await? {
        if out.len() as u32 >= limit {
            break;
        }
        if let Some(req) = req {
            let matches = e
                .version
                .as_deref()
                .and_then(|v| semver::Version::parse(v).ok())
                .is_some_and(|v| req.matches(&v));
            if !matches {
                continue;
            }
        }
        if !ctx.state.auth.may_list(&ctx.caller, &e.repo).await? {
            continue;
        }
        out.push(e);
    }
    Ok(out)
}
