//! Blob uploads: `POST` starts one (or completes it at once with `?digest=`, or mounts with
//! `?mount=&from=`), `PATCH` appends a chunk, `PUT ?digest=` completes, `GET` reports
//! progress, `DELETE` cancels.
//!
//! Completion is always: stage the bytes in `tmp/` and verify the digest, link the blob in
//! metadata (refused while GC is deleting that digest), then move the file into place. A
//! wrong digest therefore never becomes visible, and the session and its chunks survive a
//! failed completion so the client can retry.

use super::{Ctx, DOCKER_CONTENT_DIGEST, DOCKER_UPLOAD_UUID};
use crate::auth::{Action, Caller};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::metadata::{MetaError, UploadSession};
use crate::oci::Digest;
use crate::storage::{BlobStore, Staged};
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;

/// The `Range` header value for an upload at `offset`: `0-<last byte>`, and `0-0` for an empty
/// upload (the convention distribution and clients use).
pub fn range_header(offset: u64) -> String {
    format!("0-{}", offset.saturating_sub(1))
}

fn now() -> i64 {
    crate::auth::now()
}

/// Upload ids are UUIDs we minted; anything else (`../x`, `%2e`) is unknown, never a path.
fn check_id(id: &str) -> ApiResult<()> {
    match uuid::Uuid::parse_str(id) {
        Ok(u) if u.hyphenated().to_string() == id => Ok(()),
        _ => Err(ApiError::upload_unknown()),
    }
}

async fn session(ctx: &Ctx, name: &str, id: &str) -> ApiResult<UploadSession> {
    check_id(id)?;
    match ctx.state.meta.get_upload(id).await? {
        // A session belongs to the repository it was opened on.
        Some(s) if s.repo == name => Ok(s),
        _ => Err(ApiError::upload_unknown()),
    }
}

fn accepted(name: &str, id: &str, offset: u64, status: StatusCode) -> Response {
    let mut h = HeaderMap::new();
    super::set(
        &mut h,
        header::LOCATION.as_str(),
        &format!("/v2/{name}/blobs/uploads/{id}"),
    );
    super::set(&mut h, header::RANGE.as_str(), &range_header(offset));
    super::set(&mut h, DOCKER_UPLOAD_UUID, id);
    super::set(&mut h, header::CONTENT_LENGTH.as_str(), "0");
    (status, h).into_response()
}

fn created(name: &str, d: &Digest) -> Response {
    let mut h = HeaderMap::new();
    super::set(
        &mut h,
        header::LOCATION.as_str(),
        &format!("/v2/{name}/blobs/{d}"),
    );
    super::set(&mut h, DOCKER_CONTENT_DIGEST, d.as_str());
    super::set(&mut h, header::CONTENT_LENGTH.as_str(), "0");
    (StatusCode::CREATED, h).into_response()
}

fn digest_param(q: &HashMap<String, String>) -> ApiResult<Option<Digest>> {
    match q.get("digest") {
        None => Ok(None),
        Some(s) => super::blobs::parse_digest(s).map(Some),
    }
}

/// Links a verified blob and moves it into place. While GC is deleting the same digest the
/// link is refused; GC finishes within one sweep, so wait briefly before answering 429.
pub async fn install(ctx: &Ctx, name: &str, staged: Staged) -> ApiResult<()> {
    let mut attempts = 0;
    loop {
        match ctx
            .state
            .meta
            .link_blob(name, &staged.digest, staged.size, now())
            .await
        {
            Ok(()) => break,
            Err(MetaError::BlobBeingDeleted(_)) if attempts < 50 => {
                attempts += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => {
                ctx.state.blobs.discard(staged).await;
                return Err(e.into());
            }
        }
    }
    ctx.state
        .metrics
        .bytes_received
        .fetch_add(staged.size, Relaxed);
    ctx.state.blobs.commit(staged).await?;
    Ok(())
}

pub async fn start(
    ctx: &Ctx,
    name: &str,
    q: &HashMap<String, String>,
    body: Body,
) -> ApiResult<Response> {
    ctx.require(name, Action::Create).await?;
    if let Some(mount) = q.get("mount") {
        let d = super::blobs::parse_digest(mount)?;
        if let Some(r) = try_mount(ctx, name, &d, q.get("from").map(String::as_str)).await? {
            return Ok(r);
        }
        // The spec's fallback when a mount is not possible: an ordinary upload session.
    } else if let Some(d) = digest_param(q)? {
        let staged = ctx
            .state
            .blobs
            .stage_stream(body.into_data_stream(), &d)
            .await?;
        install(ctx, name, staged).await?;
        ctx.state.metrics.uploads_completed.fetch_add(1, Relaxed);
        return Ok(created(name, &d));
    }
    let id = uuid::Uuid::new_v4().hyphenated().to_string();
    ctx.state.meta.create_upload(&id, name, now()).await?;
    ctx.state.metrics.uploads_started.fetch_add(1, Relaxed);
    Ok(accepted(name, &id, 0, StatusCode::ACCEPTED))
}

/// Mounts `d` into `name` if the caller may pull it from `from` (or, without `from`, from any
/// repository holding it). `None` means "not mountable": the caller gets an upload instead,
/// so a refusal reveals nothing about repositories it cannot read.
///
/// A bearer token covers only the repositories it names. When it lacks `pull` on a source
/// that its user could read, the answer is a `401` whose challenge names both repositories
/// (as distribution does), so the client fetches a token that allows the mount and retries.
/// A source the user could not read never causes a challenge (no loop, nothing revealed).
async fn try_mount(
    ctx: &Ctx,
    name: &str,
    d: &Digest,
    from: Option<&str>,
) -> ApiResult<Option<Response>> {
    let candidates = match from {
        Some(f) if crate::oci::valid_repo_name(f) => vec![f.to_string()],
        Some(_) => return Ok(None),
        None => ctx.state.meta.blob_repos(d).await?,
    };
    let mut challenge_for = None;
    for source in candidates {
        let may_read = match &ctx.caller {
            Caller::Unrestricted => true,
            c => ctx.state.auth.actions(c, &source).await?.pull,
        };
        if !may_read {
            if matches!(ctx.caller, Caller::Token(_))
                && challenge_for.is_none()
                && ctx.state.auth.obtainable(&ctx.caller, &source).await?.pull
            {
                challenge_for = Some(source);
            }
            continue;
        }
        let Some(size) = ctx.state.meta.repo_blob(&source, d).await? else {
            continue;
        };
        if ctx.state.blobs.size(d).await?.is_none() {
            continue;
        }
        match ctx.state.meta.link_blob(name, d, size, now()).await {
            Ok(()) => return Ok(Some(created(name, d))),
            Err(MetaError::BlobBeingDeleted(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(source) = challenge_for {
        return Err(ctx.state.auth.unauthorized(
            &ctx.host,
            Some(format!(
                "repository:{name}:pull,push repository:{source}:pull"
            )),
        ));
    }
    Ok(None)
}

pub async fn status(ctx: &Ctx, name: &str, id: &str) -> ApiResult<Response> {
    ctx.require(name, Action::Create).await?;
    let s = session(ctx, name, id).await?;
    Ok(accepted(name, id, s.offset, StatusCode::NO_CONTENT))
}

/// `Content-Range: <start>-<end>` (also accepted: `bytes <start>-<end>/<total>`).
fn parse_content_range(v: &str) -> Option<(u64, u64)> {
    let v = v.trim();
    let v = v.strip_prefix("bytes ").unwrap_or(v);
    let v = v.split('/').next()?;
    let (a, b) = v.split_once('-')?;
    let (a, b) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    (b >= a).then_some((a, b))
}

fn content_length(h: &HeaderMap) -> Option<u64> {
    h.get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

fn out_of_order(name: &str, id: &str, offset: u64) -> ApiError {
    ApiError::new(
        ErrorCode::RangeInvalid,
        "chunk does not start at the end of the upload",
    )
    .with_header(header::LOCATION, &format!("/v2/{name}/blobs/uploads/{id}"))
    .with_header(header::RANGE, &range_header(offset))
    .with_header(header::HeaderName::from_static(DOCKER_UPLOAD_UUID), id)
}

/// Appends a chunk. Chunks must arrive in order: a chunk whose range does not start at the
/// current offset gets 416 with the current `Range`, and changes nothing.
async fn append(
    ctx: &Ctx,
    name: &str,
    s: &UploadSession,
    h: &HeaderMap,
    body: Body,
) -> ApiResult<UploadSession> {
    let declared = match h.get(header::CONTENT_RANGE).and_then(|v| v.to_str().ok()) {
        Some(v) => {
            let (a, b) =
                parse_content_range(v).ok_or_else(|| out_of_order(name, &s.id, s.offset))?;
            if a != s.offset {
                return Err(out_of_order(name, &s.id, s.offset));
            }
            if let Some(len) = content_length(h)
                && len != b - a + 1
            {
                return Err(ApiError::new(
                    ErrorCode::SizeInvalid,
                    "Content-Length does not match Content-Range",
                ));
            }
            Some(b - a + 1)
        }
        None => None,
    };
    let part = BlobStore::new_part_name(s.offset);
    let written = ctx
        .state
        .blobs
        .write_chunk(&s.id, &part, body.into_data_stream())
        .await?;
    if let Some(expected) = declared
        && expected != written
    {
        return Err(ApiError::new(
            ErrorCode::SizeInvalid,
            "chunk length does not match Content-Range",
        )
        .with_detail(serde_json::json!({ "expected": expected, "actual": written })));
    }
    match ctx
        .state
        .meta
        .advance_upload(&s.id, s.offset, written, &part, now())
        .await
    {
        Ok(s) => Ok(s),
        Err(MetaError::UploadOffset { expected }) => Err(out_of_order(name, &s.id, expected)),
        Err(e) => Err(e.into()),
    }
}

pub async fn patch(
    ctx: &Ctx,
    name: &str,
    id: &str,
    h: &HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    ctx.require(name, Action::Create).await?;
    let s = session(ctx, name, id).await?;
    ctx.state.metrics.uploads_active.fetch_add(1, Relaxed);
    let r = append(ctx, name, &s, h, body).await;
    ctx.state.metrics.uploads_active.fetch_sub(1, Relaxed);
    let s = r?;
    Ok(accepted(name, id, s.offset, StatusCode::ACCEPTED))
}

pub async fn finish(
    ctx: &Ctx,
    name: &str,
    id: &str,
    q: &HashMap<String, String>,
    h: &HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    ctx.require(name, Action::Create).await?;
    let s = session(ctx, name, id).await?;
    let d = digest_param(q)?
        .ok_or_else(|| ApiError::digest_invalid("the `digest` query parameter is required"))?;
    let has_body = content_length(h).is_none_or(|n| n > 0);
    let staged = if s.chunks.is_empty() && has_body {
        // Monolithic PUT: stream straight to tmp/ without keeping a chunk copy.
        ctx.state
            .blobs
            .stage_stream(body.into_data_stream(), &d)
            .await?
    } else {
        let s = if has_body {
            append(ctx, name, &s, h, body).await?
        } else {
            s
        };
        ctx.state.blobs.stage_upload(&s.id, &s.chunks, &d).await?
    };
    install(ctx, name, staged).await?;
    ctx.state.meta.delete_upload(id).await?;
    ctx.state.blobs.delete_upload(id).await?;
    ctx.state.metrics.uploads_completed.fetch_add(1, Relaxed);
    Ok(created(name, &d))
}

pub async fn cancel(ctx: &Ctx, name: &str, id: &str) -> ApiResult<Response> {
    ctx.require(name, Action::Create).await?;
    session(ctx, name, id).await?;
    ctx.state.meta.delete_upload(id).await?;
    ctx.state.blobs.delete_upload(id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
