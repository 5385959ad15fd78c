//! The registry client.

use crate::auth::Credentials;
use crate::manifest::{DOCKER_MANIFEST, Descriptor, Index, OCI_INDEX, OCI_MANIFEST};
use crate::{Error, Reporter};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;
use wcomp_core::Digest;
use wcomp_core::digest::{Algorithm, Hasher};

/// Plain http for loopback hosts (and when the caller says so), https otherwise.
pub fn scheme_for(registry: &str, insecure: bool) -> &'static str {
    let host = registry.rsplit_once(':').map_or(registry, |(h, _)| h);
    if insecure || host == "localhost" || host == "127.0.0.1" || host == "[::1]" {
        "http"
    } else {
        "https"
    }
}

/// Blobs this small are uploaded without a HEAD request first (see
/// [`Client::push_blob_as`]).
pub const SMALL_BLOB: u64 = 64 * 1024;

/// Tuning knobs; the defaults suit real registries, tests shrink them.
#[derive(Debug, Clone)]
pub struct Options {
    /// Blobs up to this size go up in one request.
    pub monolithic_limit: u64,
    /// Chunk size of chunked uploads.
    pub chunk_size: u64,
    /// Attempts per request for transient failures (5xx, connection errors).
    pub attempts: u32,
    /// First backoff; doubles each attempt.
    pub backoff: Duration,
    /// Use plain http even for non-loopback hosts.
    pub insecure: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            monolithic_limit: 4 * 1024 * 1024,
            chunk_size: 8 * 1024 * 1024,
            attempts: 4,
            backoff: Duration::from_millis(250),
            insecure: false,
        }
    }
}

/// A manifest as the registry stored it.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub digest: Digest,
}

/// A client for one registry (`host[:port]`).
pub struct Client {
    http: reqwest::Client,
    registry: String,
    base: String,
    creds: Option<Credentials>,
    options: Options,
    /// Bearer tokens by scope (`repository:a/b:pull,push`).
    tokens: Mutex<HashMap<String, String>>,
    /// The registry asked for basic auth.
    basic: Mutex<bool>,
}

#[derive(Clone, Copy)]
enum Access {
    Pull,
    Push,
}

impl Client {
    pub fn new(registry: &str, creds: Option<Credentials>, options: Options) -> Client {
        let http = reqwest::Client::builder()
            .user_agent(concat!("wcomp/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .expect("the TLS backend initialises");
        Client {
            http,
            registry: registry.to_string(),
            base: format!("{}://{registry}", scheme_for(registry, options.insecure)),
            creds,
            options,
            tokens: Mutex::new(HashMap::new()),
            basic: Mutex::new(false),
        }
    }

    pub fn registry(&self) -> &str {
        &self.registry
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        }
    }

    fn scope(repo: &str, access: Access) -> String {
        match access {
            Access::Pull => format!("repository:{repo}:pull"),
            Access::Push => format!("repository:{repo}:pull,push"),
        }
    }

    /// Sends the request `build` makes, with auth, answering one auth challenge and
    /// retrying transient failures with exponential backoff.
    async fn send(
        &self,
        method: Method,
        url: &str,
        scope: Option<&str>,
        build: &(dyn Fn(RequestBuilder) -> RequestBuilder + Sync),
    ) -> Result<Response, Error> {
        let mut attempt = 0;
        let mut challenged = false;
        loop {
            attempt += 1;
            let mut req = build(self.http.request(method.clone(), url));
            let token = scope.and_then(|s| self.tokens.lock().unwrap().get(s).cloned());
            if let Some(t) = token {
                req = req.bearer_auth(t);
            } else if *self.basic.lock().unwrap()
                && let Some(c) = &self.creds
            {
                req = req.basic_auth(&c.username, Some(&c.password));
            }
            let result = req.send().await.map_err(|source| Error::Http {
                url: url.to_string(),
                source,
            });
            let resp = match result {
                Ok(r) => r,
                Err(e) if e.transient() && attempt < self.options.attempts => {
                    self.pause(attempt).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            if resp.status() == StatusCode::UNAUTHORIZED {
                if challenged {
                    return Err(Error::Unauthorized {
                        registry: self.registry.clone(),
                        anonymous: self.creds.is_none(),
                    });
                }
                challenged = true;
                self.answer_challenge(resp.headers(), scope).await?;
                attempt -= 1;
                continue;
            }
            if resp.status().is_server_error() && attempt < self.options.attempts {
                self.pause(attempt).await;
                continue;
            }
            return Ok(resp);
        }
    }

    async fn pause(&self, attempt: u32) {
        tokio::time::sleep(self.options.backoff * 2u32.pow(attempt.saturating_sub(1))).await;
    }

    async fn answer_challenge(
        &self,
        headers: &HeaderMap,
        scope: Option<&str>,
    ) -> Result<(), Error> {
        let challenge = headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let lower = challenge.to_ascii_lowercase();
        if lower.starts_with("basic") {
            if self.creds.is_none() {
                return Err(Error::Unauthorized {
                    registry: self.registry.clone(),
                    anonymous: true,
                });
            }
            *self.basic.lock().unwrap() = true;
            return Ok(());
        }
        if !lower.starts_with("bearer") {
            return Err(Error::Unauthorized {
                registry: self.registry.clone(),
                anonymous: self.creds.is_none(),
            });
        }
        let params = parse_challenge(&challenge["bearer".len()..]);
        let realm = params.get("realm").ok_or_else(|| Error::Malformed {
            what: "WWW-Authenticate header".into(),
            message: "a Bearer challenge without realm".into(),
        })?;
        let mut query: Vec<(&str, String)> = Vec::new();
        if let Some(s) = params.get("service") {
            query.push(("service", s.clone()));
        }
        let wanted = scope
            .map(str::to_string)
            .or_else(|| params.get("scope").cloned());
        if let Some(s) = &wanted {
            query.push(("scope", s.clone()));
        }
        let mut req = self.http.get(realm).query(&query);
        if let Some(c) = &self.creds {
            req = req.basic_auth(&c.username, Some(&c.password));
        }
        let resp = req.send().await.map_err(|source| Error::Http {
            url: realm.clone(),
            source,
        })?;
        if !resp.status().is_success() {
            return Err(Error::Unauthorized {
                registry: self.registry.clone(),
                anonymous: self.creds.is_none(),
            });
        }
        let body: serde_json::Value = resp.json_bytes().await?;
        let token = body["token"]
            .as_str()
            .or_else(|| body["access_token"].as_str())
            .ok_or_else(|| Error::Malformed {
                what: "token response".into(),
                message: "no `token` field".into(),
            })?;
        self.tokens
            .lock()
            .unwrap()
            .insert(wanted.unwrap_or_default(), token.to_string());
        Ok(())
    }

    /// `GET /v2/`: is the registry there and do our credentials work?
    pub async fn ping(&self) -> Result<(), Error> {
        let url = self.url("/v2/");
        let resp = self.send(Method::GET, &url, Some(""), &|r| r).await?;
        expect(resp, &[StatusCode::OK], "GET", &url).await.map(drop)
    }

    /// Whether the repository has the blob.
    pub async fn blob_exists(&self, repo: &str, digest: &Digest) -> Result<bool, Error> {
        let url = self.url(&format!("/v2/{repo}/blobs/{digest}"));
        let scope = Self::scope(repo, Access::Push);
        let resp = self.send(Method::HEAD, &url, Some(&scope), &|r| r).await?;
        match resp.status() {
            StatusCode::OK => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            s => Err(status_error("HEAD", &url, s, None)),
        }
    }

    /// Uploads `data` unless the registry already has it. Small blobs go up in one
    /// request; big ones in chunks, resuming from the registry's recorded offset when a
    /// chunk fails.
    pub async fn push_blob(
        &self,
        repo: &str,
        data: &[u8],
        reporter: &dyn Reporter,
    ) -> Result<Digest, Error> {
        let digest = Digest::sha256(data);
        self.push_blob_as(repo, &digest, data, reporter).await?;
        Ok(digest)
    }

    /// [`Client::push_blob`] for a caller that already hashed `data` (the registry checks
    /// the digest). Blobs up to [`SMALL_BLOB`] go up without asking whether the registry
    /// has them: the question costs the same round trip as the upload.
    pub async fn push_blob_as(
        &self,
        repo: &str,
        digest: &Digest,
        data: &[u8],
        reporter: &dyn Reporter,
    ) -> Result<(), Error> {
        let small = data.len() as u64 <= SMALL_BLOB;
        if !small && self.blob_exists(repo, digest).await? {
            reporter.advance(data.len() as u64);
            return Ok(());
        }
        if data.len() as u64 <= self.options.monolithic_limit {
            self.push_monolithic(repo, digest, data).await?;
            reporter.advance(data.len() as u64);
        } else {
            self.push_chunked(repo, digest, data, reporter).await?;
        }
        Ok(())
    }

    async fn push_monolithic(&self, repo: &str, digest: &Digest, data: &[u8]) -> Result<(), Error> {
        let scope = Self::scope(repo, Access::Push);
        let url = self.url(&format!("/v2/{repo}/blobs/uploads/?digest={digest}"));
        let body = bytes_of(data);
        let resp = self
            .send(Method::POST, &url, Some(&scope), &|r| {
                r.header("content-type", "application/octet-stream")
                    .body(body.clone())
            })
            .await?;
        match resp.status() {
            StatusCode::CREATED => Ok(()),
            // The registry opened a session instead: finish it with a monolithic PUT.
            StatusCode::ACCEPTED => {
                let loc = self.location(&resp, &url)?;
                let put = with_query(&loc, &format!("digest={digest}"));
                let resp = self
                    .send(Method::PUT, &put, Some(&scope), &|r| {
                        r.header("content-type", "application/octet-stream")
                            .body(body.clone())
                    })
                    .await?;
                expect(resp, &[StatusCode::CREATED], "PUT", &put)
                    .await
                    .map(drop)
            }
            s => Err(status_error("POST", &url, s, error_detail(resp).await)),
        }
    }

    async fn start_upload(&self, repo: &str) -> Result<String, Error> {
        let scope = Self::scope(repo, Access::Push);
        let url = self.url(&format!("/v2/{repo}/blobs/uploads/"));
        let resp = self.send(Method::POST, &url, Some(&scope), &|r| r).await?;
        if resp.status() != StatusCode::ACCEPTED {
            let s = resp.status();
            return Err(status_error("POST", &url, s, error_detail(resp).await));
        }
        self.location(&resp, &url)
    }

    /// Where an upload session stands: the next byte offset and the session URL.
    pub async fn upload_status(&self, repo: &str, location: &str) -> Result<(u64, String), Error> {
        let scope = Self::scope(repo, Access::Push);
        let url = self.url(location);
        let resp = self.send(Method::GET, &url, Some(&scope), &|r| r).await?;
        if resp.status() != StatusCode::NO_CONTENT {
            let s = resp.status();
            return Err(status_error("GET", &url, s, error_detail(resp).await));
        }
        let next = resp
            .headers()
            .get("range")
            .and_then(|v| v.to_str().ok())
            .and_then(|r| r.rsplit_once('-'))
            .and_then(|(_, end)| end.parse::<u64>().ok())
            .map_or(0, |end| end + 1);
        let loc = self.location(&resp, &url).unwrap_or(url);
        Ok((next, loc))
    }

    async fn push_chunked(
        &self,
        repo: &str,
        digest: &Digest,
        data: &[u8],
        reporter: &dyn Reporter,
    ) -> Result<(), Error> {
        let scope = Self::scope(repo, Access::Push);
        let mut location = self.start_upload(repo).await?;
        let mut offset: u64 = 0;
        let mut failures = 0;
        let total = data.len() as u64;
        while offset < total {
            let end = (offset + self.options.chunk_size).min(total);
            let chunk = bytes_of(&data[offset as usize..end as usize]);
            let url = self.url(&location);
            let range = format!("{offset}-{}", end - 1);
            let result = self
                .send(Method::PATCH, &url, Some(&scope), &|r| {
                    r.header("content-type", "application/octet-stream")
                        .header("content-range", range.clone())
                        .body(chunk.clone())
                })
                .await;
            let resp = match result {
                Ok(r) if r.status() == StatusCode::ACCEPTED => r,
                Ok(r)
                    if failures < self.options.attempts && r.status() != StatusCode::NOT_FOUND =>
                {
                    // 416 and friends: ask the registry where it stands and go on from there.
                    drop(r);
                    failures += 1;
                    self.pause(failures).await;
                    (offset, location) = self.upload_status(repo, &location).await?;
                    continue;
                }
                Ok(r) => {
                    let s = r.status();
                    return Err(status_error("PATCH", &url, s, error_detail(r).await));
                }
                Err(e) if e.transient() && failures < self.options.attempts => {
                    failures += 1;
                    self.pause(failures).await;
                    (offset, location) = self.upload_status(repo, &location).await?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            location = self.location(&resp, &url)?;
            reporter.advance(end - offset);
            offset = end;
        }
        let put = with_query(&self.url(&location), &format!("digest={digest}"));
        let resp = self.send(Method::PUT, &put, Some(&scope), &|r| r).await?;
        expect(resp, &[StatusCode::CREATED], "PUT", &put)
            .await
            .map(drop)
    }

    /// Uploads part of a blob into a new session and returns the session URL, leaving
    /// the upload unfinished (for tests and benchmarks of resume).
    pub async fn start_partial_upload(&self, repo: &str, data: &[u8]) -> Result<String, Error> {
        let scope = Self::scope(repo, Access::Push);
        let location = self.start_upload(repo).await?;
        let url = self.url(&location);
        let body = bytes_of(data);
        let range = format!("0-{}", data.len().saturating_sub(1));
        let resp = self
            .send(Method::PATCH, &url, Some(&scope), &|r| {
                r.header("content-type", "application/octet-stream")
                    .header("content-range", range.clone())
                    .body(body.clone())
            })
            .await?;
        let resp = expect(resp, &[StatusCode::ACCEPTED], "PATCH", &url).await?;
        self.location(&resp, &url)
    }

    /// Finishes an upload session that holds a prefix of `data` (its length read from
    /// the registry), sending only the rest.
    pub async fn resume_upload(
        &self,
        repo: &str,
        location: &str,
        data: &[u8],
    ) -> Result<Digest, Error> {
        let scope = Self::scope(repo, Access::Push);
        let digest = Digest::sha256(data);
        let (offset, location) = self.upload_status(repo, location).await?;
        let rest = bytes_of(&data[offset as usize..]);
        let url = with_query(&self.url(&location), &format!("digest={digest}"));
        let range = format!("{offset}-{}", data.len().saturating_sub(1));
        let resp = self
            .send(Method::PATCH, &self.url(&location), Some(&scope), &|r| {
                r.header("content-type", "application/octet-stream")
                    .header("content-range", range.clone())
                    .body(rest.clone())
            })
            .await?;
        let patch_url = self.url(&location);
        let resp = expect(resp, &[StatusCode::ACCEPTED], "PATCH", &patch_url).await?;
        let loc = self.location(&resp, &url)?;
        let put = with_query(&self.url(&loc), &format!("digest={digest}"));
        let resp = self.send(Method::PUT, &put, Some(&scope), &|r| r).await?;
        expect(resp, &[StatusCode::CREATED], "PUT", &put).await?;
        Ok(digest)
    }

    /// Pushes a manifest under `reference` (a tag or its digest); returns its digest.
    pub async fn push_manifest(
        &self,
        repo: &str,
        reference: &str,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<Digest, Error> {
        let scope = Self::scope(repo, Access::Push);
        let url = self.url(&format!("/v2/{repo}/manifests/{reference}"));
        let body = bytes_of(bytes);
        let mt = media_type.to_string();
        let resp = self
            .send(Method::PUT, &url, Some(&scope), &|r| {
                r.header("content-type", mt.clone()).body(body.clone())
            })
            .await?;
        expect(resp, &[StatusCode::CREATED], "PUT", &url).await?;
        Ok(Digest::sha256(bytes))
    }

    /// Fetches a manifest by tag or digest. When asked by digest, the bytes are checked
    /// against it. `Ok(None)` when the registry has no such manifest.
    pub async fn get_manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<Option<FetchedManifest>, Error> {
        let scope = Self::scope(repo, Access::Pull);
        let url = self.url(&format!("/v2/{repo}/manifests/{reference}"));
        let accept = format!("{OCI_MANIFEST}, {OCI_INDEX}, {DOCKER_MANIFEST}");
        let resp = self
            .send(Method::GET, &url, Some(&scope), &|r| {
                r.header("accept", accept.clone())
            })
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let resp = expect(resp, &[StatusCode::OK], "GET", &url).await?;
        let media_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or(OCI_MANIFEST)
            .to_string();
        let bytes = resp.bytes().await.map_err(|source| Error::Http {
            url: url.clone(),
            source,
        })?;
        // Checked with the algorithm asked for (sha256 when asked by tag).
        let asked = reference.parse::<Digest>().ok();
        let alg = asked.as_ref().map_or(Algorithm::Sha256, Digest::algorithm);
        let digest = Digest::of(alg, &bytes);
        if let Some(asked) = asked
            && asked != digest
        {
            return Err(Error::DigestMismatch {
                what: format!("manifest {reference}"),
                expected: asked.to_string(),
                actual: digest.to_string(),
            });
        }
        Ok(Some(FetchedManifest {
            bytes: bytes.to_vec(),
            media_type,
            digest,
        }))
    }

    /// Deletes a manifest (by digest) or a tag.
    pub async fn delete_manifest(&self, repo: &str, reference: &str) -> Result<(), Error> {
        let scope = format!("repository:{repo}:delete");
        let url = self.url(&format!("/v2/{repo}/manifests/{reference}"));
        let resp = self
            .send(Method::DELETE, &url, Some(&scope), &|r| r)
            .await?;
        expect(
            resp,
            &[StatusCode::ACCEPTED, StatusCode::OK],
            "DELETE",
            &url,
        )
        .await
        .map(drop)
    }

    /// Streams a blob into `out`, hashing as it goes; fails without finishing when the
    /// bytes do not hash to `digest` or the size differs from `size` (when given).
    pub async fn pull_blob(
        &self,
        repo: &str,
        digest: &Digest,
        size: Option<u64>,
        out: &mut dyn Write,
        reporter: &dyn Reporter,
    ) -> Result<u64, Error> {
        let scope = Self::scope(repo, Access::Pull);
        let url = self.url(&format!("/v2/{repo}/blobs/{digest}"));
        let mut hasher = Hasher::new(digest.algorithm());
        let mut n: u64 = 0;
        let mut failures = 0;
        // A download cut by a transient error continues with `Range: bytes=<n>-`.
        'request: loop {
            let range = (n > 0).then(|| format!("bytes={n}-"));
            let resp = self
                .send(Method::GET, &url, Some(&scope), &|r| match &range {
                    Some(h) => r.header("range", h.clone()),
                    None => r,
                })
                .await?;
            if resp.status() == StatusCode::NOT_FOUND {
                return Err(Error::NotFound(format!("blob {digest} in {repo}")));
            }
            let wanted = if n > 0 {
                StatusCode::PARTIAL_CONTENT
            } else {
                StatusCode::OK
            };
            let mut resp = expect(resp, &[wanted], "GET", &url).await?;
            loop {
                let chunk = match resp.chunk().await {
                    Ok(Some(c)) => c,
                    Ok(None) => break 'request,
                    Err(source) => {
                        let e = Error::Http {
                            url: url.clone(),
                            source,
                        };
                        // Any failure while reading the body (reset, truncated
                        // body: hyper reports those as decode errors) is worth a
                        // ranged retry.
                        if failures < self.options.attempts {
                            failures += 1;
                            self.pause(failures).await;
                            continue 'request;
                        }
                        return Err(e);
                    }
                };
                hasher.update(&chunk);
                n += chunk.len() as u64;
                if size.is_some_and(|s| n > s) {
                    break 'request;
                }
                out.write_all(&chunk).map_err(|source| Error::Io {
                    what: "failed to write the download".into(),
                    source,
                })?;
                reporter.advance(chunk.len() as u64);
            }
        }
        let actual = hasher.finish().to_string();
        if actual != digest.to_string() || size.is_some_and(|s| s != n) {
            return Err(Error::DigestMismatch {
                what: format!("blob {digest}"),
                expected: digest.to_string(),
                actual: if size.is_some_and(|s| s != n) {
                    format!("{actual} ({n} bytes, expected {})", size.unwrap_or(0))
                } else {
                    actual
                },
            });
        }
        Ok(n)
    }

    /// A small blob in memory (configs, signature payloads), digest-checked.
    pub async fn get_blob(&self, repo: &str, digest: &Digest) -> Result<Vec<u8>, Error> {
        let mut buf = Vec::new();
        self.pull_blob(repo, digest, None, &mut buf, &crate::Quiet)
            .await?;
        Ok(buf)
    }

    /// All tags of a repository, following `Link` pages.
    pub async fn tags(&self, repo: &str) -> Result<Vec<String>, Error> {
        let scope = Self::scope(repo, Access::Pull);
        let mut url = self.url(&format!("/v2/{repo}/tags/list"));
        let mut tags = Vec::new();
        loop {
            let resp = self.send(Method::GET, &url, Some(&scope), &|r| r).await?;
            if resp.status() == StatusCode::NOT_FOUND {
                return Ok(tags);
            }
            let resp = expect(resp, &[StatusCode::OK], "GET", &url).await?;
            let next = resp
                .headers()
                .get("link")
                .and_then(|v| v.to_str().ok())
                .and_then(|l| l.split_once('<'))
                .and_then(|(_, r)| r.split_once('>'))
                .map(|(u, _)| self.url(u));
            let v: serde_json::Value = resp.json_bytes().await?;
            if let Some(list) = v["tags"].as_array() {
                tags.extend(list.iter().filter_map(|t| t.as_str().map(str::to_string)));
            }
            match next {
                Some(n) => url = n,
                None => return Ok(tags),
            }
        }
    }

    /// The referrers of `digest`, optionally filtered by artifact type. `Ok(None)` when
    /// the registry has no referrers API (404), so callers fall back to tags.
    pub async fn referrers(
        &self,
        repo: &str,
        digest: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Option<Vec<Descriptor>>, Error> {
        let scope = Self::scope(repo, Access::Pull);
        let url = self.url(&format!("/v2/{repo}/referrers/{digest}"));
        let at = artifact_type.map(str::to_string);
        let resp = self
            .send(Method::GET, &url, Some(&scope), &|r| match &at {
                Some(t) => r.query(&[("artifactType", t)]),
                None => r,
            })
            .await?;
        if resp.status() == StatusCode::NOT_FOUND || resp.status() == StatusCode::METHOD_NOT_ALLOWED
        {
            return Ok(None);
        }
        let resp = expect(resp, &[StatusCode::OK], "GET", &url).await?;
        let index: Index = resp.json_bytes().await?;
        Ok(Some(
            index
                .manifests
                .into_iter()
                .filter(|d| {
                    at.as_ref()
                        .is_none_or(|t| d.artifact_type.as_ref() == Some(t))
                })
                .collect(),
        ))
    }

    fn location(&self, resp: &Response, request_url: &str) -> Result<String, Error> {
        let loc = resp
            .headers()
            .get("location")
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .ok_or_else(|| Error::Malformed {
                what: format!("answer to {request_url}"),
                message: "no Location header".into(),
            })?;
        Ok(self.url(loc))
    }
}

/// One copy into a shared buffer; retries clone the handle, not the bytes.
fn bytes_of(data: &[u8]) -> bytes::Bytes {
    bytes::Bytes::copy_from_slice(data)
}

fn with_query(url: &str, q: &str) -> String {
    if url.contains('?') {
        format!("{url}&{q}")
    } else {
        format!("{url}?{q}")
    }
}

fn status_error(method: &str, url: &str, status: StatusCode, detail: Option<String>) -> Error {
    Error::Status {
        method: method.to_string(),
        url: url.to_string(),
        status: status.as_u16(),
        detail,
    }
}

/// The OCI error envelope's first message, if the body has one.
async fn error_detail(resp: Response) -> Option<String> {
    let bytes = resp.bytes().await.ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let e = &v["errors"][0];
    Some(format!(
        "{} {}",
        e["code"].as_str().unwrap_or(""),
        e["message"].as_str().unwrap_or("")
    ))
}

async fn expect(
    resp: Response,
    ok: &[StatusCode],
    method: &str,
    url: &str,
) -> Result<Response, Error> {
    if ok.contains(&resp.status()) {
        return Ok(resp);
    }
    let s = resp.status();
    Err(status_error(method, url, s, error_detail(resp).await))
}

trait JsonBytes {
    async fn json_bytes<T: serde::de::DeserializeOwned>(self) -> Result<T, Error>;
}

impl JsonBytes for Response {
    async fn json_bytes<T: serde::de::DeserializeOwned>(self) -> Result<T, Error> {
        let url = self.url().to_string();
        let bytes = self.bytes().await.map_err(|source| Error::Http {
            url: url.clone(),
            source,
        })?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Malformed {
            what: format!("answer from {url}"),
            message: e.to_string(),
        })
    }
}

/// `realm="..",service="..",scope=".."` into a map.
fn parse_challenge(s: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            match q.split_once('"') {
                Some((v, n)) => (v.to_string(), n),
                None => (q.to_string(), ""),
            }
        } else {
            match after.split_once(',') {
                Some((v, n)) => (v.to_string(), n),
                None => (after.to_string(), ""),
            }
        };
        out.insert(key, value);
        rest = next.trim_start_matches(',').trim();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse_with_quoted_commas() {
        let p = parse_challenge(
            r#" realm="http://r/token",service="reg",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(p["realm"], "http://r/token");
        assert_eq!(p["service"], "reg");
        assert_eq!(p["scope"], "repository:a/b:pull,push");
    }

    #[test]
    fn plain_http_only_for_loopback_unless_insecure() {
        assert_eq!(scheme_for("localhost:5000", false), "http");
        assert_eq!(scheme_for("127.0.0.1:8080", false), "http");
        assert_eq!(scheme_for("reg.example.com", false), "https");
        assert_eq!(scheme_for("reg.example.com", true), "http");
    }
}
