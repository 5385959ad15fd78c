//! `GET`/`HEAD`/`PUT`/`DELETE /v2/<name>/manifests/<reference>`.
//!
//! Manifests are stored byte-exact as blobs (so custom fields, `data` and whitespace survive)
//! and described in metadata (media type, references, subject, tags).

use super::{Ctx, DOCKER_CONTENT_DIGEST, OCI_SUBJECT};
use crate::auth::Action;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::metadata::{ManifestRecord, NewManifest};
use crate::oci::{self, Digest, ManifestError, Reference};
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::atomic::Ordering::Relaxed;

fn parse_reference(r: &str) -> ApiResult<Reference> {
    Reference::parse(r).ok_or_else(|| {
        if crate::oci::looks_like_digest(r) {
            ApiError::digest_invalid("invalid or unsupported digest")
                .with_detail(serde_json::json!({ "reference": r }))
        } else {
            ApiError::new(ErrorCode::ManifestInvalid, "invalid tag")
                .with_detail(serde_json::json!({ "reference": r }))
        }
    })
}

async fn lookup(ctx: &Ctx, name: &str, r: &Reference) -> ApiResult<ManifestRecord> {
    let rec = match r {
        Reference::Tag(t) => ctx.state.meta.get_manifest_by_tag(name, t).await?,
        Reference::Digest(d) => ctx.state.meta.get_manifest_by_digest(name, d).await?,
    };
    rec.ok_or_else(|| ApiError::manifest_unknown(r.as_str()))
}

pub async fn get(
    ctx: &Ctx,
    name: &str,
    reference: &str,
    _h: &HeaderMap,
    head: bool,
) -> ApiResult<Response> {
    ctx.require(name, Action::Pull).await?;
    // Nothing can be stored under a reference that is not a valid tag, so it is not found,
    // as a missing tag is (distribution and the spec's conformance suite expect 404); a
    // malformed digest is still DIGEST_INVALID, and a PUT under an invalid tag stays 400.
    let r = match parse_reference(reference) {
        Ok(r) => r,
        Err(e) if e.code == ErrorCode::ManifestInvalid => {
            return Err(ApiError::manifest_unknown(reference));
        }
        Err(e) => return Err(e),
    };
    let rec = lookup(ctx, name, &r).await?;
    let mut h = HeaderMap::new();
    super::set(&mut h, header::CONTENT_TYPE.as_str(), &rec.media_type);
    super::set(&mut h, DOCKER_CONTENT_DIGEST, rec.digest.as_str());
    super::set(
        &mut h,
        header::CONTENT_LENGTH.as_str(),
        &rec.size.to_string(),
    );
    super::set(
        &mut h,
        header::ETAG.as_str(),
        &format!("\"{}\"", rec.digest),
    );
    if head {
        return Ok((StatusCode::OK, h).into_response());
    }
    let bytes = ctx.state.blobs.read_all(&rec.digest).await?;
    ctx.state
        .metrics
        .bytes_sent
        .fetch_add(bytes.len() as u64, Relaxed);
    Ok((StatusCode::OK, h, bytes).into_response())
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        ErrorCode::ManifestTooLarge,
        "manifest exceeds the size limit",
    )
    .with_detail(serde_json::json!({ "limit": limit }))
}

pub async fn put(
    ctx: &Ctx,
    name: &str,
    reference: &str,
    h: &HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let have = ctx.require(name, Action::Create).await?;
    let r = parse_reference(reference)?;
    let limit = ctx.state.config.limits.max_manifest_bytes;
    if let Some(len) = h
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > limit as u64
    {
        return Err(too_large(limit));
    }
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large(limit))?;
    let content_type = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::new(ErrorCode::ManifestInvalid, "Content-Type is required"))?;
    let parsed = oci::parse_manifest(content_type, &bytes).map_err(|e| {
        let msg = e.to_string();
        match e {
            ManifestError::BadDigest(_) => ApiError::new(ErrorCode::ManifestInvalid, msg),
            _ => ApiError::new(ErrorCode::ManifestInvalid, "manifest invalid")
                .with_detail(serde_json::json!({ "reason": msg })),
        }
    })?;
    let (digest, tag) = match &r {
        Reference::Digest(d) => {
            let actual = Digest::of(d.algorithm(), &bytes);
            if &actual != d {
                return Err(ApiError::digest_invalid(
                    "manifest digest does not match the reference",
                )
                .with_detail(
                    serde_json::json!({ "expected": d.as_str(), "actual": actual.as_str() }),
                ));
            }
            (actual, None)
        }
        Reference::Tag(t) => (Digest::sha256(&bytes), Some(t.clone())),
    };
    let (component, warning) = index_component(ctx, name, &parsed, tag.as_deref()).await?;
    let size = bytes.len() as u64;
    let staged = ctx.state.blobs.stage_bytes(bytes, &digest).await?;
    super::uploads::install(ctx, name, staged, 0).await?;
    ctx.state
        .meta
        .put_manifest(
            NewManifest {
                repo: name.to_string(),
                digest: digest.clone(),
                media_type: parsed.media_type.clone(),
                size,
                artifact_type: parsed.artifact_type.clone(),
                subject: parsed.subject.clone(),
                annotations: parsed
                    .annotations
                    .as_ref()
                    .map(|a| serde_json::Value::Object(a.clone()).to_string()),
                blobs: parsed.blobs.clone(),
                foreign: parsed.foreign.clone(),
                children: parsed.children.clone(),
                tag,
                may_overwrite_tag: have.push,
            },
            crate::auth::now(),
        )
        .await?;
    if let Some(info) = component {
        ctx.state
            .meta
            .put_component(&info.into_entry(name, digest.as_str()))
            .await?;
    }
    let mut resp_h = HeaderMap::new();
    super::set(
        &mut resp_h,
        header::LOCATION.as_str(),
        &format!("/v2/{name}/manifests/{digest}"),
    );
    super::set(&mut resp_h, DOCKER_CONTENT_DIGEST, digest.as_str());
    if let Some(s) = &parsed.subject {
        super::set(&mut resp_h, OCI_SUBJECT, s.as_str());
    }
    if let Some(w) = warning {
        // The spec's form for registry warnings: code 299, agent `-`, a quoted text.
        super::set(
            &mut resp_h,
            header::WARNING.as_str(),
            &format!("299 - \"{w}\""),
        );
    }
    Ok((StatusCode::CREATED, resp_h).into_response())
}

/// For a Wasm artifact (Wasm config, one `application/wasm` layer), asks the indexer about
/// the layer. In namespaces that require components, anything but a component is refused;
/// elsewhere an invalid layer is stored and simply not indexed.
///
/// The layer is read whole (the validator needs it all), so only layers up to
/// `limits.max_analyzed_bytes` are, and at most a few at once: memory is bounded by
/// configuration, not by what clients push. A larger layer is stored without being indexed,
/// with a warning for the client (the second value), or refused where components are
/// required, since it cannot be checked.
async fn index_component(
    ctx: &Ctx,
    name: &str,
    parsed: &oci::ParsedManifest,
    tag: Option<&str>,
) -> ApiResult<(Option<crate::index::ComponentInfo>, Option<String>)> {
    let required = ctx.state.config.requires_components(name);
    let is_wasm = parsed
        .config
        .as_ref()
        .is_some_and(|(_, mt)| mt == oci::WASM_CONFIG);
    let wasm_layers: Vec<_> = parsed
        .layers
        .iter()
        .filter(|(_, mt)| mt == oci::WASM_LAYER)
        .collect();
    if is_wasm && (wasm_layers.len() != 1 || parsed.layers.len() != 1) && required {
        return Err(ApiError::new(
            ErrorCode::ManifestInvalid,
            "a Wasm component artifact has exactly one application/wasm layer",
        ));
    }
    if !is_wasm || wasm_layers.len() != 1 || parsed.layers.len() != 1 {
        // Signatures, attestations and SBOMs must still attach to components: referrers
        // (with a subject) and cosign's tag fallbacks (`sha256-<hex>.sig`) are not artifacts
        // of their own.
        let attachment = parsed.subject.is_some() || tag.is_some_and(|t| t.starts_with("sha256-"));
        if required && parsed.config.is_some() && !is_wasm && !attachment {
            return Err(ApiError::new(
                ErrorCode::ManifestInvalid,
                "this namespace accepts only Wasm component artifacts (Wasm config, one application/wasm layer)",
            ));
        }
        return Ok((None, None));
    }
    let layer = &wasm_layers[0].0;
    let Some(size) = ctx.state.meta.repo_blob(name, layer).await? else {
        // put_manifest reports the missing blob with the right error.
        return Ok((None, None));
    };
    let cap = ctx.state.config.limits.max_analyzed_bytes;
    if size > cap {
        let why = format!(
            "the Wasm layer ({size} bytes) is larger than this registry analyses ({cap} bytes): stored, not indexed"
        );
        if required {
            return Err(ApiError::new(ErrorCode::ManifestInvalid, why)
                .with_detail(serde_json::json!({ "size": size, "max_analyzed_bytes": cap })));
        }
        tracing::info!(repo = name, layer = %layer, size, cap, "Wasm artifact layer too large to analyse; not indexed");
        return Ok((None, Some(why)));
    }
    let result = match ctx.state.analyses.get(layer.as_str()) {
        Some(known) => known,
        None => {
            let _permit = ctx
                .state
                .analysis_slots
                .acquire()
                .await
                .map_err(|e| ApiError::internal("component analysis", e))?;
            let bytes = ctx.state.blobs.read_all(layer).await?;
            let indexer = ctx.state.indexer.clone();
            let result = tokio::task::spawn_blocking(move || indexer.analyze(&bytes))
                .await
                .map_err(|e| ApiError::internal("component analysis", e))?;
            ctx.state.analyses.put(layer.as_str(), &result);
            result
        }
    };
    match result {
        Ok(mut info) => {
            crate::index::complete_from_reference(&mut info, name, tag);
            Ok((Some(info), None))
        }
        Err(e) if required => Err(ApiError::new(ErrorCode::ManifestInvalid, e.to_string())),
        Err(e) => {
            tracing::info!(repo = name, layer = %layer, error = %e, "Wasm artifact layer not indexed");
            Ok((None, None))
        }
    }
}

pub async fn delete(ctx: &Ctx, name: &str, reference: &str) -> ApiResult<Response> {
    ctx.require(name, Action::Delete).await?;
    let r = parse_reference(reference)?;
    let found = match &r {
        Reference::Tag(t) => ctx.state.meta.delete_tag(name, t).await?,
        Reference::Digest(d) => ctx.state.meta.delete_manifest(name, d).await?,
    };
    if !found {
        return Err(ApiError::manifest_unknown(reference));
    }
    Ok(StatusCode::ACCEPTED.into_response())
}
