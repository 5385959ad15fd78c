//! `GET /wcomp/v1/search?exports=&imports=&package=&n=`: components in the index, filtered to
//! repositories the caller may pull. Documented in docs/registry.md.

use super::{Ctx, query_pairs};
use crate::app::AppState;
use crate::error::ApiError;
use crate::metadata::ComponentQuery;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};

pub async fn search(State(state): State<AppState>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let result = async {
        let ctx = Ctx::new(state, &parts).await?;
        let q = query_pairs(parts.uri.query());
        let limit = super::page_size(&q, ctx.state.config.limits.max_page)?;
        let query = ComponentQuery {
            exports: q.get("exports").cloned(),
            imports: q.get("imports").cloned(),
            package: q.get("package").cloned(),
            limit,
        };
        let mut out = Vec::new();
        for e in ctx.state.meta.search_components(&query).await? {
            if !ctx.state.auth.may_list(&ctx.caller, &e.repo).await? {
                continue;
            }
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
