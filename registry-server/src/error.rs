//! Errors, and which type to use where.
//!
//! * Handlers return [`ApiError`]: every variant of the OCI error envelope is built from
//!   [`ErrorCode`], defined once here with its HTTP status, so a handler never picks a status
//!   by hand. `ApiError::internal` logs the cause and answers `500` without leaking it.
//! * Storage and metadata return their own `thiserror` enums ([`crate::storage::StorageError`],
//!   [`crate::metadata::MetaError`]); each of those modules has the `From` impl that turns its
//!   errors into envelopes, so `?` works in handlers. This module imports no other module of
//!   the crate: it is the bottom layer.
//! * `main` and the admin commands use `anyhow`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The error codes of OCI Distribution Spec 1.1 ("Error Codes" table), plus
/// `UNAVAILABLE`-style server errors mapped to `500`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    SizeInvalid,
    Unauthorized,
    Denied,
    Unsupported,
    TooManyRequests,
    /// Not a spec code: a `416` for a chunk that does not continue the upload, or a blob
    /// range outside the blob. The spec gives these no code, so the envelope uses
    /// `BLOB_UPLOAD_INVALID` / `SIZE_INVALID` for the body; only the status differs.
    RangeInvalid,
    /// A manifest over the size limit: `413` with `MANIFEST_INVALID`.
    ManifestTooLarge,
    /// Any other request body over its limit: `413` with `SIZE_INVALID`.
    BodyTooLarge,
    /// A push beyond a namespace's storage quota, or one upload session too many for its
    /// owner: `403` with `DENIED` (the spec's code for "not allowed"; the message and
    /// detail say which limit).
    QuotaExceeded,
    /// A login refused without checking the password because the account or the address
    /// failed too often: `429` with `TOOMANYREQUESTS` and `Retry-After`.
    LoginThrottled,
    /// A malformed query parameter (`n`, a version requirement): `400` with `UNSUPPORTED`
    /// (the spec has no code for it).
    QueryInvalid,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        use wcomp_core::oci::error_code as c;
        match self {
            Self::BlobUnknown => c::BLOB_UNKNOWN,
            Self::BlobUploadInvalid | Self::RangeInvalid => c::BLOB_UPLOAD_INVALID,
            Self::BlobUploadUnknown => c::BLOB_UPLOAD_UNKNOWN,
            Self::DigestInvalid => c::DIGEST_INVALID,
            Self::ManifestBlobUnknown => c::MANIFEST_BLOB_UNKNOWN,
            Self::ManifestInvalid | Self::ManifestTooLarge => c::MANIFEST_INVALID,
            Self::ManifestUnknown => c::MANIFEST_UNKNOWN,
            Self::NameInvalid => c::NAME_INVALID,
            Self::NameUnknown => c::NAME_UNKNOWN,
            Self::SizeInvalid | Self::BodyTooLarge => c::SIZE_INVALID,
            Self::Unauthorized => c::UNAUTHORIZED,
            Self::Denied | Self::QuotaExceeded => c::DENIED,
            Self::Unsupported | Self::QueryInvalid => c::UNSUPPORTED,
            Self::TooManyRequests | Self::LoginThrottled => c::TOOMANYREQUESTS,
            Self::Internal => c::UNKNOWN,
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Self::BlobUnknown
            | Self::BlobUploadUnknown
            | Self::ManifestUnknown
            | Self::NameUnknown => StatusCode::NOT_FOUND,
            Self::BlobUploadInvalid
            | Self::DigestInvalid
            | Self::ManifestBlobUnknown
            | Self::ManifestInvalid
            | Self::NameInvalid
            | Self::SizeInvalid
            | Self::QueryInvalid => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Denied | Self::QuotaExceeded => StatusCode::FORBIDDEN,
            Self::Unsupported => StatusCode::METHOD_NOT_ALLOWED,
            Self::TooManyRequests | Self::LoginThrottled => StatusCode::TOO_MANY_REQUESTS,
            Self::RangeInvalid => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::ManifestTooLarge | Self::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An error answered with the OCI envelope `{"errors":[{code,message,detail}]}`.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub detail: serde_json::Value,
    /// Extra headers, e.g. `WWW-Authenticate` on a 401 or `Range` on a 416. A list rather
    /// than a `HeaderMap` keeps the error small enough to return by value everywhere.
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            detail: serde_json::Value::Null,
            headers: Vec::new(),
        }
    }

    pub fn with_detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail;
        self
    }

    pub fn with_header(mut self, name: header::HeaderName, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.push((name, v));
        }
        self
    }

    /// Logs `cause` with context and answers a bare 500: internals never reach clients.
    pub fn internal(context: &str, cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "{context}");
        Self::new(ErrorCode::Internal, "internal server error")
    }

    pub fn blob_unknown(digest: &str) -> Self {
        Self::new(ErrorCode::BlobUnknown, "blob unknown to registry")
            .with_detail(json!({ "digest": digest }))
    }

    pub fn manifest_unknown(reference: &str) -> Self {
        Self::new(ErrorCode::ManifestUnknown, "manifest unknown")
            .with_detail(json!({ "reference": reference }))
    }

    pub fn name_unknown(name: &str) -> Self {
        Self::new(
            ErrorCode::NameUnknown,
            "repository name not known to registry",
        )
        .with_detail(json!({ "name": name }))
    }

    pub fn upload_unknown() -> Self {
        Self::new(
            ErrorCode::BlobUploadUnknown,
            "blob upload unknown to registry",
        )
    }

    pub fn digest_invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::DigestInvalid, message)
    }

    pub fn denied(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Denied, message)
    }

    pub fn body_too_large(limit: usize) -> Self {
        Self::new(ErrorCode::BodyTooLarge, "request body too large")
            .with_detail(json!({ "limit": limit }))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "errors": [{
                "code": self.code.as_str(),
                "message": self.message,
                "detail": self.detail,
            }]
        });
        let mut resp = (self.code.status(), axum::Json(body)).into_response();
        for (k, v) in self.headers {
            resp.headers_mut().insert(k, v);
        }
        resp
    }
}

/// The `Range` header value for an upload at `offset`: `0-<last byte>`, and `0-0` for an
/// empty upload (the convention distribution and clients use).
pub fn upload_range(offset: u64) -> String {
    format!("0-{}", offset.saturating_sub(1))
}
