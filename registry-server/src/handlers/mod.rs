//! One module per OCI resource. Handlers take a [`Ctx`] (state + caller), check access
//! first, validate every client-supplied string with `oci.rs`, and return `ApiResult`.

pub mod base;
pub mod blobs;
pub mod catalog;
pub mod manifests;
pub mod ops;
pub mod referrers;
pub mod search;
pub mod tags;
pub mod token;
pub mod uploads;

use crate::app::AppState;
use crate::auth::{Action, Actions, Caller};
use crate::error::{ApiError, ApiResult};
use axum::http::{HeaderMap, HeaderValue, header, request::Parts};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use std::collections::HashMap;

pub const DOCKER_CONTENT_DIGEST: &str = "docker-content-digest";
pub const DOCKER_UPLOAD_UUID: &str = "docker-upload-uuid";
pub const OCI_SUBJECT: &str = "oci-subject";
pub const OCI_FILTERS_APPLIED: &str = "oci-filters-applied";

/// The address a client connected to (this server's side of the socket), which `server.rs`
/// puts in every request's extensions next to axum's `ConnectInfo` (the peer). Realms are
/// built from it rather than from the Host header (see [`host_for`]).
#[derive(Debug, Clone, Copy)]
pub struct LocalAddr(pub std::net::SocketAddr);

pub struct Ctx {
    pub state: AppState,
    pub caller: Caller,
    pub host: String,
}

impl Ctx {
    pub async fn new(state: AppState, parts: &Parts) -> ApiResult<Ctx> {
        let host = host_for(&state, parts);
        let authz = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let caller = state
            .auth
            .identify(authz, &host, client_ip(&state, parts))
            .await?;
        Ok(Ctx {
            state,
            caller,
            host,
        })
    }

    pub async fn require(&self, repo: &str, action: Action) -> ApiResult<Actions> {
        self.state
            .auth
            .require(&self.caller, repo, action, &self.host)
            .await
    }
}

/// The client's IP address: the connection's peer (set by `server.rs` for every
/// connection; absent when the router is driven in-process), or, when the peer is one of
/// the configured `trusted_proxies`, the last address in `X-Forwarded-For` that is not a
/// trusted proxy itself (each proxy appends the address it saw).
pub fn client_ip(state: &AppState, parts: &Parts) -> Option<std::net::IpAddr> {
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())?;
    if !state.config.is_trusted_proxy(peer) {
        return Some(peer);
    }
    // The header is bounded by the header size limit; a few hops are all that matter.
    let hops: Vec<&str> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev().take(16) {
        match hop.trim().parse::<std::net::IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !state.config.is_trusted_proxy(ip) {
                    break;
                }
            }
            // Garbage: what the last trusted hop saw is all that can be believed.
            Err(_) => break,
        }
    }
    Some(client)
}

/// The host (and port) to name in token realms and `.well-known` answers when `public_url`
/// is unset. The Host header is used only when it is one of the configured `hostnames` or
/// the very address the client connected to; otherwise (a Host an attacker chose, e.g. to
/// have clients send their passwords elsewhere) it is the first configured host name, or
/// the address the client connected to.
pub fn host_for(state: &AppState, parts: &Parts) -> String {
    let local = parts
        .extensions
        .get::<LocalAddr>()
        .map_or(state.config.listen, |l| l.0);
    let given = parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(|h| h.trim().to_ascii_lowercase());
    if let Some(h) = given {
        let named = state.config.hostnames.iter().any(|n| {
            n.eq_ignore_ascii_case(&h)
                || h.rsplit_once(':').is_some_and(|(name, port)| {
                    n.eq_ignore_ascii_case(name) && port.bytes().all(|b| b.is_ascii_digit())
                })
        });
        if named || h == local.to_string() {
            return h;
        }
    }
    match state.config.hostnames.first() {
        Some(n) => n.clone(),
        None => local.to_string(),
    }
}

/// The `Content-Length` a request declares, if any and well-formed.
pub fn declared_length(h: &HeaderMap) -> Option<u64> {
    h.get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Query parameters; a repeated key keeps its first value, except that [`query_all`] sees all.
pub fn query_pairs(q: Option<&str>) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for (k, v) in query_all(q) {
        out.entry(k).or_insert(v);
    }
    out
}

/// `application/x-www-form-urlencoded` pairs (a query string or a form body), decoded as
/// axum's `Query` and `Form` decode them: `+` is a space, a malformed `%` escape is kept
/// as it is, invalid UTF-8 is replaced.
pub fn query_all(q: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// Characters that are never percent-encoded: RFC 3986's unreserved ones.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
/// A query-string value: everything but unreserved characters encoded.
pub const QUERY_VALUE: &AsciiSet = UNRESERVED;
/// A value in the URL of a `Link` header (a repository, a tag, an artifact type): `/` kept.
pub const LINK_VALUE: &AsciiSet = &UNRESERVED.remove(b'/');
/// A URL path: `/`, `:` and `@` kept too.
pub const URL_PATH: &AsciiSet = &UNRESERVED.remove(b'/').remove(b':').remove(b'@');

/// `s` with the characters in `set` percent-encoded (uppercase hex).
pub fn percent_encode(s: &str, set: &'static AsciiSet) -> String {
    utf8_percent_encode(s, set).to_string()
}

/// The page size for a listing: `n` from the query, capped at the configured maximum so a
/// huge `n` cannot make one request scan the whole table. A non-numeric `n` is an error.
pub fn page_size(q: &HashMap<String, String>, max: u32) -> ApiResult<u32> {
    match q.get("n") {
        None => Ok(max),
        // Digits only, and any count of them: a number beyond u64 is just "very many".
        Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => Ok(n
            .parse::<u64>()
            .map_or(max, |n| u32::try_from(n.min(u64::from(max))).unwrap_or(max))),
        Some(n) => Err(ApiError::new(
            crate::error::ErrorCode::QueryInvalid,
            "invalid page size `n`",
        )
        .with_detail(serde_json::json!({ "n": n }))),
    }
}

pub fn set(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        let q = query_pairs(Some("scope=repository%3Aa%2Fb%3Apull&n=5&n=6&x"));
        assert_eq!(q["scope"], "repository:a/b:pull");
        assert_eq!(q["n"], "5");
        assert_eq!(q["x"], "");
        assert_eq!(query_pairs(Some("a=%zz%4"))["a"], "%zz%4");
        assert_eq!(query_pairs(Some("q=a+b%20c&&=v"))["q"], "a b c");
    }

    #[test]
    fn percent_encoding_keeps_what_each_place_allows() {
        assert_eq!(percent_encode("a/b c:d", LINK_VALUE), "a/b%20c%3Ad");
        assert_eq!(percent_encode("a/b c:d@e", URL_PATH), "a/b%20c:d@e");
        assert_eq!(percent_encode("a/b~", QUERY_VALUE), "a%2Fb~");
    }
}
