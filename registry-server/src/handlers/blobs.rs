//! `GET`/`HEAD`/`DELETE /v2/<name>/blobs/<digest>`. A blob is readable from a repository
//! only when metadata links it there, even though the bytes are shared by all repositories:
//! knowing a digest must not grant access to another team's layers.

use super::{Ctx, DOCKER_CONTENT_DIGEST};
use crate::auth::Action;
use crate::error::{ApiError, ApiResult};
use crate::oci::Digest;
use crate::storage::parse_range;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use std::sync::atomic::Ordering::Relaxed;

pub fn parse_digest(s: &str) -> ApiResult<Digest> {
    Digest::parse(s).ok_or_else(|| {
        ApiError::digest_invalid("invalid or unsupported digest")
            .with_detail(serde_json::json!({ "digest": s }))
    })
}

pub async fn get(
    ctx: &Ctx,
    name: &str,
    digest: &str,
    headers: &HeaderMap,
    head: bool,
) -> ApiResult<Response> {
    ctx.require(name, Action::Pull).await?;
    let d = parse_digest(digest)?;
    let size = ctx
        .state
        .meta
        .repo_blob(name, &d)
        .await?
        .ok_or_else(|| ApiError::blob_unknown(digest))?;
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(r) => parse_range(r, size)?,
        None => None,
    };
    let mut h = HeaderMap::new();
    super::set(&mut h, DOCKER_CONTENT_DIGEST, d.as_str());
    super::set(
        &mut h,
        header::CONTENT_TYPE.as_str(),
        "application/octet-stream",
    );
    super::set(&mut h, header::ACCEPT_RANGES.as_str(), "bytes");
    super::set(&mut h, header::ETAG.as_str(), &format!("\"{d}\""));
    let (status, len) = match range {
        Some(r) => {
            super::set(
                &mut h,
                header::CONTENT_RANGE.as_str(),
                &format!("bytes {}-{}/{size}", r.start, r.end),
            );
            (StatusCode::PARTIAL_CONTENT, r.end - r.start + 1)
        }
        None => (StatusCode::OK, size),
    };
    super::set(&mut h, header::CONTENT_LENGTH.as_str(), &len.to_string());
    if head {
        return Ok((status, h).into_response());
    }
    // `[storage] redirect = true`: the client fetches the bytes from S3 itself (ranges
    // included: it sends its Range header there).
    if let Some(url) = ctx.state.blobs.presigned_get(&d).await? {
        let mut h = HeaderMap::new();
        super::set(&mut h, DOCKER_CONTENT_DIGEST, d.as_str());
        super::set(&mut h, header::LOCATION.as_str(), &url);
        return Ok((StatusCode::TEMPORARY_REDIRECT, h).into_response());
    }
    let stream = ctx.state.blobs.open(&d, range).await?;
    ctx.state.metrics.bytes_sent.fetch_add(len, Relaxed);
    let body = Body::from_stream(stream.map(|r| r.map_err(std::io::Error::other)));
    Ok((status, h, body).into_response())
}

pub async fn delete(ctx: &Ctx, name: &str, digest: &str) -> ApiResult<Response> {
    ctx.require(name, Action::Delete).await?;
    let d = parse_digest(digest)?;
    // The bytes stay until GC finds no link or manifest reference left.
    if !ctx.state.meta.unlink_blob(name, &d).await? {
        return Err(ApiError::blob_unknown(digest));
    }
    Ok(StatusCode::ACCEPTED.into_response())
}
