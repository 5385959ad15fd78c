//! Blob uploads: `POST` starts one (or completes it at once with `?digest=`, or mounts with
//! `?mount=&from=`), `PATCH` appends a chunk, `PUT ?digest=` completes, `GET` reports
//! progress, `DELETE` cancels.
//!
//! Completion is always: stage the bytes in `tmp/` and verify the digest, link the blob in
//! metadata (refused while GC is deleting that digest), then move the file into place. A
//! wrong digest therefore never becomes visible, and the session and its chunks survive a
//! failed completion so the client can retry.
//!
//! A session belongs to the identity that opened it ([`owner_of`]); for anyone else it does
//! not exist (`404 BLOB_UPLOAD_UNKNOWN`). Each identity may have
//! `limits.max_open_uploads_per_user` sessions open, and bytes pushed into a namespace with
//! a quota stop at the quota (`403 DENIED`, both).

use super::{Ctx, DOCKER_CONTENT_DIGEST, DOCKER_UPLOAD_UUID};
use crate::auth::{Action, Caller};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::metadata::{MetaError, UploadSession};
use crate::oci::Digest;
use crate::storage::{BlobStore, Destination, Staged, StorageError};
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;

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

/// Who owns the sessions a caller opens: its user name (also through a bearer token), or
/// `""` on a server without authentication, where all callers are one.
pub fn owner_of(caller: &Caller) -> String {
    match caller {
        Caller::User { name, .. } => format!("user:{name}"),
        Caller::Token(c) if !c.sub.is_empty() => format!("user:{}", c.sub),
        Caller::Token(c) => format!("token:{}", c.jti),
        Caller::Anonymous => "anonymous".into(),
        Caller::Unrestricted => String::new(),
    }
}

async fn session(ctx: &Ctx, name: &str, id: &str) -> ApiResult<UploadSession> {
    check_id(id)?;
    match ctx.state.meta.get_upload(id).await? {
        // A session belongs to the repository it was opened on, and to its opener.
        Some(s) if s.repo == name && s.owner == owner_of(&ctx.caller) => Ok(s),
        _ => Err(ApiError::upload_unknown()),
    }
}

/// The room left under the quota of `name`'s namespace, if it has one.
async fn quota_room(ctx: &Ctx, name: &str) -> ApiResult<Option<Quota>> {
    let Some((pattern, limit)) = ctx.state.config.quota_for(name) else {
        return Ok(None);
    };
    let used = ctx.state.meta.namespace_usage(pattern).await?;
    Ok(Some(Quota {
        pattern: pattern.to_string(),
        limit,
        used,
    }))
}

/// Whether a blob is already linked to some repository of the quota's namespace.
async fn in_namespace(ctx: &Ctx, q: &Quota, d: &Digest) -> ApiResult<bool> {
    let repos = ctx.state.meta.blob_repos(d).await?;
    Ok(repos
        .iter()
        .any(|r| crate::pattern::glob_match(&q.pattern, r)))
}

struct Quota {
    pattern: String,
    limit: u64,
    used: u64,
}

impl Quota {
    fn left(&self) -> u64 {
        self.limit.saturating_sub(self.used)
    }

    fn exceeded(&self) -> ApiError {
        ApiError::new(
            ErrorCode::QuotaExceeded,
            "the push would exceed the namespace's storage quota",
        )
        .with_detail(serde_json::json!({
            "namespace": self.pattern, "quota": self.limit, "used": self.used,
        }))
    }

    /// Refuses `more` bytes (`None`: unknown yet, so only a full namespace is refused).
    fn check(&self, more: Option<u64>) -> ApiResult<()> {
        let fits = match more {
            Some(n) => n <= self.left(),
            None => self.left() > 0,
        };
        if fits { Ok(()) } else { Err(self.exceeded()) }
    }
}

/// A request body cut off after `cap` bytes; `over` says afterwards whether it was, so the
/// handler answers with the quota error rather than a generic body error.
fn capped(
    body: Body,
    cap: Option<u64>,
    over: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, axum::Error>> + Send {
    use futures_util::StreamExt as _;
    let mut left = cap.unwrap_or(u64::MAX);
    body.into_data_stream().map(move |chunk| {
        let chunk = chunk?;
        match left.checked_sub(chunk.len() as u64) {
            Some(l) => {
                left = l;
                Ok(chunk)
            }
            None => {
                over.store(true, Relaxed);
                Err(axum::Error::new(StorageError::Body(
                    "quota exceeded".into(),
                )))
            }
        }
    })
}

fn accepted(name: &str, id: &str, offset: u64, status: StatusCode) -> Response {
    let mut h = HeaderMap::new();
    super::set(
        &mut h,
        header::LOCATION.as_str(),
        &format!("/v2/{name}/blobs/uploads/{id}"),
    );
    super::set(
        &mut h,
        header::RANGE.as_str(),
        &crate::error::upload_range(offset),
    );
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
/// `held`: what the upload session it came from holds (already counted in the namespace's
/// use, and released when the session is deleted).
pub async fn install(ctx: &Ctx, name: &str, staged: Staged, held: u64) -> ApiResult<()> {
    // A blob already in the namespace costs nothing more; a new one must fit. Checked here
    // as well as while streaming, since a blob may arrive in many requests. Two concurrent
    // pushes may each fit alone and overshoot together by at most one blob each.
    if let Some(q) = quota_room(ctx, name).await?
        && let Err(e) = q.check(Some(staged.size.saturating_sub(held)))
        && !in_namespace(ctx, &q, &staged.digest).await?
    {
        ctx.state.blobs.discard(staged).await;
        return Err(e);
    }
    if staged.already_stored {
        // Its bytes went nowhere: only a copy that is still live may be linked. One that
        // GC took meanwhile is answered as while GC runs (429), and the retry stores it.
        let linked = ctx
            .state
            .meta
            .link_stored_blob(name, &staged.digest, staged.size, now())
            .await?;
        if !linked {
            return Err(MetaError::BlobBeingDeleted(staged.digest.to_string()).into());
        }
        ctx.state.metrics.uploads_deduplicated.fetch_add(1, Relaxed);
        ctx.state
            .metrics
            .bytes_received
            .fetch_add(staged.size, Relaxed);
        return Ok(());
    }
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

/// Where a blob of digest `d` goes once received:
/// * a digest no metadata row knows is new content: on S3 straight to its place (no copy
///   out of `tmp/`), elsewhere through `tmp/`;
/// * a digest stored already (a row, and the object in the store) is only hashed, and
///   linked only if that copy is still live then (`install`);
/// * a digest being collected takes the `tmp/` path, whose commit comes after GC is done
///   with the old copy (storage.rs, gc.rs).
async fn destination(ctx: &Ctx, d: &Digest) -> ApiResult<Destination> {
    if !ctx.state.meta.blob_known(d).await? {
        return Ok(if ctx.state.blobs.copies_on_commit() {
            Destination::InPlace
        } else {
            Destination::Tmp
        });
    }
    Ok(match ctx.state.blobs.size(d).await? {
        Some(size) => Destination::Stored(size),
        None => Destination::Tmp,
    })
}

/// Receives a whole blob sent in one request (see [`destination`]), within the namespace's
/// quota.
async fn stage_body(
    ctx: &Ctx,
    name: &str,
    h: &HeaderMap,
    body: Body,
    d: &Digest,
) -> ApiResult<Staged> {
    let mut quota = quota_room(ctx, name).await?;
    if let Some(q) = &quota
        && in_namespace(ctx, q, d).await?
    {
        // Pushed again: stored once, counted once.
        quota = None;
    }
    if let Some(q) = &quota {
        q.check(content_length(h))?;
    }
    let over = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stream = capped(body, quota.as_ref().map(Quota::left), over.clone());
    let dest = destination(ctx, d).await?;
    let staged = ctx.state.blobs.stage(stream, d, dest).await;
    match staged {
        Ok(s) => Ok(s),
        Err(_) if over.load(Relaxed) => Err(quota.map_or_else(
            || ApiError::new(ErrorCode::QuotaExceeded, "quota exceeded"),
            |q| q.exceeded(),
        )),
        Err(e) => Err(e.into()),
    }
}

pub async fn start(
    ctx: &Ctx,
    name: &str,
    q: &HashMap<String, String>,
    h: &HeaderMap,
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
        let staged = stage_body(ctx, name, h, body, &d).await?;
        install(ctx, name, staged, 0).await?;
        ctx.state.metrics.uploads_completed.fetch_add(1, Relaxed);
        return Ok(created(name, &d));
    }
    if let Some(q) = quota_room(ctx, name).await? {
        q.check(None)?;
    }
    let id = uuid::Uuid::new_v4().hyphenated().to_string();
    let owner = owner_of(&ctx.caller);
    let max_open = ctx.state.config.limits.max_open_uploads_per_user;
    ctx.state
        .meta
        .create_upload(&id, name, &owner, max_open, now())
        .await?;
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
        Some(f) if crate::oci::valid_repository_name(f) => vec![f.to_string()],
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
        // A mount adds to the target namespace's use like an upload would.
        if let Some(q) = quota_room(ctx, name).await?
            && let Err(e) = q.check(Some(size))
            && !in_namespace(ctx, &q, d).await?
        {
            return Err(e);
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

/// `Content-Range: <start>-<end>` (also accepted: `bytes <start>-<end>/<total>`), as the
/// first byte and the length of the chunk. `None` for anything else, including a range
/// whose length does not fit in a `u64` (`0-18446744073709551615`): every step is checked,
/// so no client number can overflow.
pub fn parse_content_range(v: &str) -> Option<(u64, u64)> {
    let v = v.trim();
    let v = v.strip_prefix("bytes ").unwrap_or(v);
    let v = v.split('/').next()?;
    let (a, b) = v.split_once('-')?;
    let digits = |s: &str| {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    let (a, b) = (digits(a)?, digits(b)?);
    let len = b.checked_sub(a)?.checked_add(1)?;
    // The chunk must also end within what an offset can count.
    a.checked_add(len)?;
    Some((a, len))
}

fn content_length(h: &HeaderMap) -> Option<u64> {
    super::declared_length(h)
}

fn out_of_order(name: &str, id: &str, offset: u64) -> ApiError {
    ApiError::new(
        ErrorCode::RangeInvalid,
        "chunk does not start at the end of the upload",
    )
    .with_header(header::LOCATION, &format!("/v2/{name}/blobs/uploads/{id}"))
    .with_header(header::RANGE, &crate::error::upload_range(offset))
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
    let declared = match h.get(header::CONTENT_RANGE) {
        Some(v) => {
            let (a, len) = v
                .to_str()
                .ok()
                .and_then(parse_content_range)
                .ok_or_else(|| out_of_order(name, &s.id, s.offset))?;
            if a != s.offset {
                return Err(out_of_order(name, &s.id, s.offset));
            }
            if let Some(cl) = content_length(h)
                && cl != len
            {
                return Err(ApiError::new(
                    ErrorCode::SizeInvalid,
                    "Content-Length does not match Content-Range",
                ));
            }
            Some(len)
        }
        None => None,
    };
    // What the namespace's open sessions hold (this one included) counts against the
    // quota before their blobs are complete: many open uploads cannot add up past it.
    let quota = quota_room(ctx, name).await?;
    let left = quota.as_ref().map(Quota::left);
    if let (Some(q), Some(left)) = (&quota, left) {
        match declared.or(content_length(h)) {
            Some(n) if n > left => return Err(q.exceeded()),
            None if left == 0 => return Err(q.exceeded()),
            _ => {}
        }
    }
    let over = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let part = BlobStore::new_part_name(s.offset);
    let written = match ctx
        .state
        .blobs
        .write_chunk(&s.id, &part, capped(body, left, over.clone()))
        .await
    {
        Ok(n) => n,
        Err(_) if over.load(Relaxed) => {
            return Err(quota.map_or_else(
                || ApiError::new(ErrorCode::QuotaExceeded, "quota exceeded"),
                |q| q.exceeded(),
            ));
        }
        Err(e) => return Err(e.into()),
    };
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
    let mut held = 0;
    let staged = if s.offset == 0 && has_body {
        // Monolithic PUT: stream straight to tmp/ without keeping a chunk copy.
        stage_body(ctx, name, h, body, &d).await?
    } else {
        held = s.offset;
        if has_body {
            held = append(ctx, name, &s, h, body).await?.offset;
        }
        let chunks = ctx.state.meta.upload_chunks(&s.id).await?;
        let dest = destination(ctx, &d).await?;
        ctx.state
            .blobs
            .stage_upload(&s.id, &chunks, &d, dest)
            .await?
    };
    install(ctx, name, staged, held).await?;
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

#[cfg(test)]
mod tests {
    use super::parse_content_range;

    #[test]
    fn content_ranges_parse_with_checked_arithmetic() {
        assert_eq!(parse_content_range("0-4"), Some((0, 5)));
        assert_eq!(parse_content_range("bytes 5-9/100"), Some((5, 5)));
        assert_eq!(parse_content_range(" 7 - 7 "), Some((7, 1)));
        // `b - a + 1` does not fit.
        assert_eq!(parse_content_range("0-18446744073709551615"), None);
        // The length fits, the end of the chunk does not.
        assert_eq!(
            parse_content_range("18446744073709551615-18446744073709551615"),
            None
        );
        assert_eq!(
            parse_content_range("18446744073709551614-18446744073709551614"),
            Some((u64::MAX - 1, 1))
        );
        for bad in [
            "5-3",
            "-1-5",
            "+0-4",
            "0-+4",
            "a-b",
            "",
            "-",
            "0-",
            "-4",
            "99999999999999999999-1",
        ] {
            assert_eq!(parse_content_range(bad), None, "{bad}");
        }
    }
}
