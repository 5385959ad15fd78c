//! The web interface: server-rendered HTML under `/ui/` (docs/registry.md, "Web interface";
//! its security model is in docs/security.md).
//!
//! Map of the module:
//! * this file: the routes, the session cookie and CSRF tokens, the headers every page
//!   carries (a strict Content-Security-Policy), and the page handlers;
//! * [`artifact`]: what an artifact page shows, gathered from the manifest, the component
//!   layer (its world, producers, composition record), signatures and provenance;
//! * [`wit`]: WIT text highlighted into escaped `<span>`s;
//! * `templates/` (minijinja, HTML-escaped by default) and `assets/` (one CSS file, one
//!   small script), compiled into the binary.
//!
//! Visibility is the pull permission: a page about a repository the visitor may not pull
//! answers `404`, exactly as one that does not exist, and listings are filtered in the
//! metadata query by the visitor's pull patterns.

pub mod artifact;
pub mod wit;

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::handlers::{Ctx, QUERY_VALUE, URL_PATH, percent_encode, query_pairs};
use crate::metadata::ComponentQuery;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::Environment;
use serde::Serialize;
use std::sync::OnceLock;

pub const SESSION_COOKIE: &str = "wcr_session";
/// Longest search query, repository path or form field the interface reads.
pub const MAX_QUERY: usize = 256;
/// Largest login or sign-out form body.
pub const MAX_FORM_BYTES: usize = 4096;
/// Results per page, and the last page a search may ask for.
pub const PAGE_SIZE: u32 = 20;
pub const MAX_PAGE: u32 = 50;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn router(state: &AppState) -> Router<AppState> {
    // Parse the templates now: a broken one fails at startup, not on a visitor's request.
    env();
    let ui = std::sync::Arc::new(artifact::UiState::new(&state.config.ui));
    Router::new()
        .route("/ui", get(|| async { Redirect::permanent("/ui/") }))
        .route("/ui/", get(home))
        .route("/ui/search", get(search))
        .route("/ui/repo/{*path}", get(repo_or_artifact))
        .route("/ui/login", get(login_form).post(login))
        .route("/ui/logout", post(logout))
        .route("/ui/assets/ui.css", get(css))
        .route("/ui/assets/ui.js", get(js))
        .route("/ui/{*rest}", get(not_found_page))
        .layer(middleware::from_fn_with_state(state.clone(), headers))
        .layer(axum::Extension(ui))
}

/// `GET /`: a browser (Accept: text/html) goes to the interface; anything else gets what
/// any unknown path gets.
pub async fn root(State(state): State<AppState>, h: HeaderMap) -> Response {
    let wants_html = h
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if wants_html && state.config.ui.enabled {
        return Redirect::to("/ui/").into_response();
    }
    ApiError::new(crate::error::ErrorCode::NameUnknown, "no such endpoint").into_response()
}

/// The headers of every interface answer: the CSP, no sniffing, no framing, no caching of
/// pages that depend on who is signed in.
async fn headers(req: Request, next: Next) -> Response {
    let is_asset = req.uri().path().starts_with("/ui/assets/");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    for (k, v) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
        (
            header::CACHE_CONTROL,
            if is_asset {
                "public, max-age=3600"
            } else {
                "no-store"
            },
        ),
    ] {
        h.insert(k, HeaderValue::from_static(v));
    }
    resp
}

async fn css() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("assets/ui.css"),
    )
        .into_response()
}

async fn js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("assets/ui.js"),
    )
        .into_response()
}

// --- templates -----------------------------------------------------------------------

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut e = Environment::new();
        // Names end in `.html`, so minijinja escapes every value unless marked safe; only
        // the WIT highlighter's output is (it escapes what it emits, see wit.rs).
        for (name, text) in [
            ("base.html", include_str!("templates/base.html")),
            ("home.html", include_str!("templates/home.html")),
            ("search.html", include_str!("templates/search.html")),
            ("repo.html", include_str!("templates/repo.html")),
            ("artifact.html", include_str!("templates/artifact.html")),
            ("login.html", include_str!("templates/login.html")),
            ("message.html", include_str!("templates/message.html")),
        ] {
            e.add_template(name, text)
                .expect("the interface's templates parse (a test renders each)");
        }
        // Percent-encoded output is only unreserved characters, `/`, `:`, `@` and `%`:
        // nothing HTML gives a meaning to, so it needs no escaping.
        e.add_filter("path", |s: String| {
            minijinja::Value::from_safe_string(path_encode(&s))
        });
        e.add_filter("q", |s: String| {
            minijinja::Value::from_safe_string(query_encode(&s))
        });
        e.add_filter("size", human_size);
        e.add_filter("time", |t: i64| crate::storage::chrono_free::rfc3339(t));
        e.add_filter("short", |s: String| short_digest(&s));
        e
    })
}

/// A query-string value: everything but unreserved characters percent-encoded.
pub fn query_encode(s: &str) -> String {
    percent_encode(s, QUERY_VALUE)
}

/// A URL path: unreserved characters, `/`, `:` and `@` kept, the rest percent-encoded.
pub fn path_encode(s: &str) -> String {
    percent_encode(s, URL_PATH)
}

fn human_size(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

fn short_digest(d: &str) -> String {
    match d.split_once(':') {
        Some((alg, hex)) if hex.len() > 12 => format!("{alg}:{}", &hex[..12]),
        _ => d.to_string(),
    }
}

/// What every page's frame needs: who is signed in and the CSRF token of the sign-out form.
#[derive(Serialize)]
struct Frame {
    user: Option<String>,
    csrf: String,
    auth: bool,
}

/// A rendered page. A template error is a bug (every template is rendered by the tests),
/// answered with a plain 500.
fn page(
    status: StatusCode,
    name: &str,
    frame: &Frame,
    title: &str,
    ctx: minijinja::Value,
) -> Response {
    let all = minijinja::context! { frame => frame, title => title, ..ctx };
    match env().get_template(name).and_then(|t| t.render(all)) {
        Ok(html) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, template = name, "ui template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal server error").into_response()
        }
    }
}

fn message(status: StatusCode, v: &Visitor, title: &str, text: &str) -> Response {
    let resp = page(
        status,
        "message.html",
        &v.frame(),
        title,
        minijinja::context! { text => text },
    );
    v.with_cookie(resp)
}

// --- sessions and CSRF ---------------------------------------------------------------

/// The session cookie: `<nonce>.<expiry>.<user, hex>.<mac>`. An anonymous visitor who
/// opened the sign-in form has one with an empty user: its nonce is what the form's CSRF
/// token is bound to. Signing in issues a new nonce (no session fixation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub nonce: String,
    pub expires: i64,
    pub user: Option<String>,
}

impl Session {
    fn new(state: &AppState, user: Option<String>) -> Session {
        Session {
            nonce: crate::auth::random_secret(""),
            expires: crate::auth::now() + state.config.ui.session_ttl_secs,
            user,
        }
    }

    fn body(&self) -> String {
        let user = self.user.as_deref().map(hex::encode).unwrap_or_default();
        format!("{}.{}.{user}", self.nonce, self.expires)
    }

    pub fn encode(&self, state: &AppState) -> String {
        let body = self.body();
        let mac = state.auth.mac("ui-session", &body);
        format!("{body}.{mac}")
    }

    pub fn decode(state: &AppState, value: &str) -> Option<Session> {
        let (body, mac) = value.rsplit_once('.')?;
        if value.len() > 2048 || !state.auth.mac_ok("ui-session", body, mac) {
            return None;
        }
        let mut parts = body.splitn(3, '.');
        let nonce = parts.next()?.to_string();
        let expires: i64 = parts.next()?.parse().ok()?;
        let user = parts.next()?;
        let user = if user.is_empty() {
            None
        } else {
            Some(String::from_utf8(hex::decode(user).ok()?).ok()?)
        };
        (expires > crate::auth::now()).then_some(Session {
            nonce,
            expires,
            user,
        })
    }

    pub fn csrf(&self, state: &AppState) -> String {
        state.auth.mac("ui-csrf", &self.nonce)
    }
}

/// Who is looking, and the cookie to set on the answer, if any.
pub struct Visitor {
    pub ctx: Ctx,
    /// The interface's own state ([`router`] puts it in every request's extensions).
    pub ui: std::sync::Arc<artifact::UiState>,
    session: Session,
    set_cookie: Option<String>,
}

impl Visitor {
    /// Reads the session cookie (never the Authorization header: the interface signs in
    /// through its own form). With `need_session`, a visitor without one gets a fresh
    /// anonymous session, for a form's CSRF token.
    async fn from_parts(
        state: &AppState,
        parts: &axum::http::request::Parts,
        need_session: bool,
    ) -> Result<Visitor, ApiError> {
        let found = cookie(&parts.headers, SESSION_COOKIE).and_then(|v| Session::decode(state, v));
        let mut caller = if state.config.auth.enabled {
            Caller::Anonymous
        } else {
            Caller::Unrestricted
        };
        let mut session = found.clone();
        if let Some(s) = &found
            && let Some(name) = &s.user
            && state.config.auth.enabled
        {
            // A user removed since signing in is signed out.
            match state.meta.get_user(name).await? {
                Some(u) => {
                    caller = Caller::User {
                        name: u.name,
                        admin: u.admin,
                    }
                }
                None => session = None,
            }
        }
        let fresh = session.is_none();
        let session = session.unwrap_or_else(|| Session::new(state, None));
        let set_cookie = (fresh && need_session).then(|| session_cookie(state, &session));
        let ctx = Ctx {
            state: state.clone(),
            caller,
            host: crate::handlers::host_for(state, parts),
        };
        let ui = parts
            .extensions
            .get::<std::sync::Arc<artifact::UiState>>()
            .cloned()
            .unwrap_or_default();
        Ok(Visitor {
            ctx,
            ui,
            session,
            set_cookie,
        })
    }

    fn user(&self) -> Option<String> {
        match &self.ctx.caller {
            Caller::User { name, .. } => Some(name.clone()),
            _ => None,
        }
    }

    fn frame(&self) -> Frame {
        Frame {
            user: self.user(),
            csrf: self.session.csrf(&self.ctx.state),
            auth: self.ctx.state.config.auth.enabled,
        }
    }

    fn with_cookie(&self, mut resp: Response) -> Response {
        if let Some(c) = &self.set_cookie
            && let Ok(v) = HeaderValue::from_str(c)
        {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
        resp
    }

    fn csrf_ok(&self, token: Option<&String>) -> bool {
        token.is_some_and(|t| {
            self.ctx
                .state
                .auth
                .mac_ok("ui-csrf", &self.session.nonce, t)
        })
    }

    async fn may_pull(&self, repo: &str) -> Result<bool, ApiError> {
        Ok(self
            .ctx
            .state
            .auth
            .actions(&self.ctx.caller, repo)
            .await?
            .pull)
    }

    async fn pull_patterns(&self) -> Result<Option<Vec<String>>, ApiError> {
        self.ctx.state.auth.pull_patterns(&self.ctx.caller).await
    }
}

fn secure(state: &AppState) -> bool {
    state.config.tls.is_some()
        || state
            .config
            .public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
}

fn session_cookie(state: &AppState, s: &Session) -> String {
    let max_age = (s.expires - crate::auth::now()).max(0);
    format!(
        "{SESSION_COOKIE}={}; Path=/ui; Max-Age={max_age}; HttpOnly; SameSite=Strict{}",
        s.encode(state),
        if secure(state) { "; Secure" } else { "" }
    )
}

fn clear_cookie(state: &AppState) -> String {
    format!(
        "{SESSION_COOKIE}=; Path=/ui; Max-Age=0; HttpOnly; SameSite=Strict{}",
        if secure(state) { "; Secure" } else { "" }
    )
}

fn cookie<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Runs a page handler: a metadata or storage failure becomes a plain error page.
async fn run<F>(state: AppState, req: Request, need_session: bool, f: F) -> Response
where
    F: AsyncFnOnce(&Visitor, axum::http::request::Parts, Body) -> Result<Response, ApiError>,
{
    let (parts, body) = req.into_parts();
    let v = match Visitor::from_parts(&state, &parts, need_session).await {
        Ok(v) => v,
        Err(e) => return ui_error(e),
    };
    match f(&v, parts, body).await {
        Ok(r) => v.with_cookie(r),
        Err(e) => ui_error(e),
    }
}

fn ui_error(e: ApiError) -> Response {
    let status = e.code.status();
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{}\n", e.message),
    )
        .into_response()
}

fn not_found(v: &Visitor) -> Response {
    message(
        StatusCode::NOT_FOUND,
        v,
        "Not found",
        "There is nothing here, or you may not see it. Signing in may help.",
    )
}

async fn not_found_page(State(state): State<AppState>, req: Request) -> Response {
    run(state, req, false, async |v, _, _| Ok(not_found(v))).await
}

// --- pages ---------------------------------------------------------------------------

#[derive(Serialize)]
struct RepoRow {
    name: String,
    updated: i64,
}

async fn home(State(state): State<AppState>, req: Request) -> Response {
    run(state, req, false, async |v, _, _| {
        let patterns = v.pull_patterns().await?;
        let repos: Vec<RepoRow> = v
            .ctx
            .state
            .meta
            .recent_repos(patterns.as_deref(), PAGE_SIZE)
            .await?
            .into_iter()
            .map(|(name, updated)| RepoRow { name, updated })
            .collect();
        Ok(page(
            StatusCode::OK,
            "home.html",
            &v.frame(),
            "Recently pushed",
            minijinja::context! { repos => repos },
        ))
    })
    .await
}

/// What a search query asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum SearchKind {
    /// `ns:pkg/iface[@ver]`: components importing or exporting it.
    Interface(String),
    /// `ns:pkg`: components of that package.
    Package(String),
    /// Anything else: repositories whose name contains it.
    Name(String),
}

pub fn classify_query(q: &str) -> SearchKind {
    let q = q.trim();
    match q.split_once(':') {
        Some((ns, rest)) if !ns.is_empty() && !ns.contains('/') && !rest.is_empty() => {
            if rest.contains('/') {
                SearchKind::Interface(q.to_string())
            } else {
                SearchKind::Package(q.to_string())
            }
        }
        _ => SearchKind::Name(q.to_string()),
    }
}

/// A page number from the query: `1` when absent, `None` (a 400) when not a number in
/// `1..=MAX_PAGE`.
pub fn page_number(v: Option<&String>) -> Option<u32> {
    match v {
        None => Some(1),
        Some(s) if s.len() <= 4 && !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s
            .parse::<u32>()
            .ok()
            .filter(|&n| (1..=MAX_PAGE).contains(&n)),
        Some(_) => None,
    }
}

#[derive(Serialize)]
struct Hit {
    repo: String,
    reference: String,
    package: Option<String>,
    version: Option<String>,
    matched: Vec<String>,
}

async fn search(State(state): State<AppState>, req: Request) -> Response {
    run(state, req, false, async |v, parts, _| {
        let q = query_pairs(parts.uri.query());
        let text = q.get("q").map(|s| s.trim().to_string()).unwrap_or_default();
        let version = q
            .get("version")
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        if text.len() > MAX_QUERY || version.len() > MAX_QUERY {
            return Ok(message(
                StatusCode::BAD_REQUEST,
                v,
                "Search",
                "That query is too long.",
            ));
        }
        let Some(page_no) = page_number(q.get("page")) else {
            return Ok(message(
                StatusCode::BAD_REQUEST,
                v,
                "Search",
                "No such page.",
            ));
        };
        let req = if version.is_empty() {
            None
        } else {
            match semver::VersionReq::parse(&version) {
                Ok(r) => Some(r),
                Err(_) => {
                    return Ok(message(
                        StatusCode::BAD_REQUEST,
                        v,
                        "Search",
                        "That is not a version requirement (try ^1.2 or >=0.2, <0.3).",
                    ));
                }
            }
        };
        // Pages are at most MAX_PAGE * PAGE_SIZE deep: no overflow.
        let skip = (page_no - 1) * PAGE_SIZE;
        let want = skip + PAGE_SIZE + 1;
        let kind = classify_query(&text);
        let mut repos = Vec::new();
        let mut hits = Vec::new();
        let mut more = false;
        if !text.is_empty() {
            match &kind {
                SearchKind::Name(n) => {
                    let patterns = v.pull_patterns().await?;
                    let mut found = v
                        .ctx
                        .state
                        .meta
                        .find_repos(patterns.as_deref(), n, skip, PAGE_SIZE + 1)
                        .await?;
                    more = found.len() > PAGE_SIZE as usize;
                    found.truncate(PAGE_SIZE as usize);
                    repos = found;
                }
                SearchKind::Interface(_) | SearchKind::Package(_) => {
                    // The access and version filters run after the query. A visitor who
                    // sees everything, with no version filter, loses no entry to them: read
                    // exactly what the page needs. Otherwise read a full API page.
                    let sees_all = req.is_none() && v.pull_patterns().await?.is_none();
                    let limit = if sees_all {
                        want
                    } else {
                        v.ctx.state.config.limits.max_page.max(want)
                    };
                    let queries: Vec<ComponentQuery> = match &kind {
                        SearchKind::Interface(i) => vec![
                            ComponentQuery {
                                exports: Some(i.clone()),
                                limit,
                                ..Default::default()
                            },
                            ComponentQuery {
                                imports: Some(i.clone()),
                                limit,
                                ..Default::default()
                            },
                        ],
                        SearchKind::Package(p) | SearchKind::Name(p) => vec![ComponentQuery {
                            package: Some(p.clone()),
                            limit,
                            ..Default::default()
                        }],
                    };
                    let iface = match &kind {
                        SearchKind::Interface(i) => i.split('@').next().unwrap_or(i).to_string(),
                        _ => String::new(),
                    };
                    let mut all: Vec<Hit> = Vec::new();
                    for (i, query) in queries.iter().enumerate() {
                        let how = if i == 0 { "exports" } else { "imports" };
                        for e in
                            crate::handlers::search::find(&v.ctx, query, req.as_ref(), want).await?
                        {
                            let matched = if iface.is_empty() {
                                Vec::new()
                            } else {
                                vec![format!("{how} {iface}")]
                            };
                            match all
                                .iter_mut()
                                .find(|h| h.repo == e.repo && h.reference == e.manifest)
                            {
                                Some(h) => h.matched.extend(matched),
                                None => all.push(Hit {
                                    repo: e.repo,
                                    reference: e.manifest,
                                    package: e.package,
                                    version: e.version,
                                    matched,
                                }),
                            }
                        }
                    }
                    more = all.len() > (skip + PAGE_SIZE) as usize;
                    hits = all
                        .into_iter()
                        .skip(skip as usize)
                        .take(PAGE_SIZE as usize)
                        .collect();
                }
            }
        }
        let kind_name = match kind {
            SearchKind::Interface(_) => "interface",
            SearchKind::Package(_) => "package",
            SearchKind::Name(_) => "name",
        };
        Ok(page(
            StatusCode::OK,
            "search.html",
            &v.frame(),
            "Search",
            minijinja::context! {
                q => text, version => version, kind => kind_name, repos => repos,
                hits => hits, page => page_no, more => more,
            },
        ))
    })
    .await
}

/// Splits `/ui/repo/<name>[/<tag or digest>]`: the reference is the last segment when it is
/// a digest or a tag and what precedes it is a repository of its own... both readings are
/// valid names, so the longest existing repository wins (see [`repo_or_artifact`]).
fn split_reference(path: &str) -> Option<(&str, &str)> {
    let (name, last) = path.rsplit_once('/')?;
    let ok = last.starts_with("sha256:") || crate::oci::valid_tag(last);
    (ok && crate::oci::valid_repository_name(name)).then_some((name, last))
}

async fn repo_or_artifact(State(state): State<AppState>, req: Request) -> Response {
    run(state, req, false, async |v, parts, _| {
        let raw = parts.uri.path().strip_prefix("/ui/repo/").unwrap_or("");
        if raw.len() > 2 * MAX_QUERY {
            return Ok(not_found(v));
        }
        let path = crate::handlers::query_all(Some(&format!("p={raw}")))
            .pop()
            .map(|(_, p)| p)
            .unwrap_or_default();
        let path = path.trim_end_matches('/');
        let meta = &v.ctx.state.meta;
        // `a/b/c` is repository `a/b/c`, or tag `c` of `a/b`: a whole-path repository wins.
        if crate::oci::valid_repository_name(path) && meta.repo_exists(path).await? {
            if !v.may_pull(path).await? {
                return Ok(not_found(v));
            }
            return repo_page(v, path).await;
        }
        let Some((name, reference)) = split_reference(path) else {
            return Ok(not_found(v));
        };
        if !v.may_pull(name).await? {
            return Ok(not_found(v));
        }
        match artifact::gather(&v.ctx, &v.ui, name, reference).await? {
            Some(a) => {
                let title = format!("{name}:{reference}");
                Ok(page(
                    StatusCode::OK,
                    "artifact.html",
                    &v.frame(),
                    &title,
                    minijinja::context! { a => a },
                ))
            }
            None => Ok(not_found(v)),
        }
    })
    .await
}

#[derive(Serialize)]
struct TagRow {
    tag: String,
    digest: String,
    size: u64,
    updated: i64,
    kind: &'static str,
    signed: bool,
}

/// Tags that hold signatures and attestations (`sha256-<hex>.sig` / `.att`, where cosign
/// and `wcomp publish` put them) are shown on their subject's row, not as rows.
fn attached_tag(tag: &str) -> bool {
    tag.strip_prefix("sha256-")
        .and_then(|t| t.strip_suffix(".sig").or_else(|| t.strip_suffix(".att")))
        .is_some_and(|hex| hex.len() == 64)
}

async fn repo_page(v: &Visitor, name: &str) -> Result<Response, ApiError> {
    let meta = &v.ctx.state.meta;
    let details = meta.tag_details(name, None, 200).await?;
    let mut tags = Vec::new();
    for t in details.into_iter().filter(|t| !attached_tag(&t.tag)) {
        let signed = match crate::oci::Digest::parse(&t.digest) {
            Some(d) => !meta
                .referrers(
                    name,
                    &d,
                    Some(wcomp_trust::simple_signing::SIGNATURE_ARTIFACT_TYPE),
                    None,
                    1,
                )
                .await?
                .is_empty(),
            None => false,
        };
        let kind = if t.component {
            "component"
        } else if t.artifact_type.as_deref() == Some(crate::oci::WASM_CONFIG) {
            "Wasm, not a component (a WIT package?)"
        } else {
            "other artifact"
        };
        tags.push(TagRow {
            tag: t.tag,
            digest: t.digest,
            size: t.size,
            updated: t.updated_at,
            kind,
            signed,
        });
    }
    Ok(page(
        StatusCode::OK,
        "repo.html",
        &v.frame(),
        name,
        minijinja::context! { name => name, tags => tags },
    ))
}

// --- sign-in -------------------------------------------------------------------------

async fn login_form(State(state): State<AppState>, req: Request) -> Response {
    run(state, req, true, async |v, _, _| {
        Ok(page(
            StatusCode::OK,
            "login.html",
            &v.frame(),
            "Sign in",
            minijinja::context! { error => "" },
        ))
    })
    .await
}

/// The fields of a posted form, once its size and CSRF token are checked; otherwise the
/// page refusing it. A browser that says the post comes from another site is refused too.
async fn checked_form(
    v: &Visitor,
    parts: &axum::http::request::Parts,
    body: Body,
) -> Result<std::collections::HashMap<String, String>, Response> {
    let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
        return Err(message(
            StatusCode::PAYLOAD_TOO_LARGE,
            v,
            "Refused",
            "That form is too large.",
        ));
    };
    let form = query_pairs(Some(&String::from_utf8_lossy(&bytes)));
    let cross_site = parts
        .headers
        .get("sec-fetch-site")
        .and_then(|s| s.to_str().ok())
        .is_some_and(|s| s == "cross-site");
    if cross_site || !v.csrf_ok(form.get("csrf")) {
        return Err(message(
            StatusCode::FORBIDDEN,
            v,
            "Refused",
            "This form has expired or did not come from this site. Reload the page and try again.",
        ));
    }
    Ok(form)
}

async fn login(State(state): State<AppState>, req: Request) -> Response {
    // No fresh session here: a post without one fails its CSRF check anyway.
    run(state, req, false, async |v, parts, body| {
        let form = match checked_form(v, &parts, body).await {
            Ok(f) => f,
            Err(refusal) => return Ok(refusal),
        };
        let state = &v.ctx.state;
        if !state.config.auth.enabled {
            return Ok(Redirect::to("/ui/").into_response());
        }
        let user = form.get("user").map(String::as_str).unwrap_or("");
        let password = form.get("password").map(String::as_str).unwrap_or("");
        let again = |status, error: &str| {
            page(
                status,
                "login.html",
                &v.frame(),
                "Sign in",
                minijinja::context! { error => error, user => user },
            )
        };
        if user.is_empty() || user.len() > MAX_QUERY || password.len() > MAX_QUERY {
            return Ok(again(
                StatusCode::BAD_REQUEST,
                "Enter a user name and a password or API token.",
            ));
        }
        let peer = crate::handlers::client_ip(state, &parts);
        match state.auth.check_password(user, password, peer).await {
            Ok(Some(_)) => {
                let session = Session::new(state, Some(user.to_string()));
                let mut resp = Redirect::to("/ui/").into_response();
                if let Ok(c) = HeaderValue::from_str(&session_cookie(state, &session)) {
                    resp.headers_mut().insert(header::SET_COOKIE, c);
                }
                Ok(resp)
            }
            Ok(None) => Ok(again(
                StatusCode::UNAUTHORIZED,
                "Wrong user name, password or token.",
            )),
            Err(e) if e.code == crate::error::ErrorCode::LoginThrottled => {
                let mut r = again(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many failed sign-ins. Wait a little and try again.",
                );
                for (k, val) in e.headers {
                    r.headers_mut().insert(k, val);
                }
                Ok(r)
            }
            Err(e) => Err(e),
        }
    })
    .await
}

async fn logout(State(state): State<AppState>, req: Request) -> Response {
    run(state, req, false, async |v, parts, body| {
        if let Err(refusal) = checked_form(v, &parts, body).await {
            return Ok(refusal);
        }
        let mut resp = Redirect::to("/ui/").into_response();
        if let Ok(c) = HeaderValue::from_str(&clear_cookie(&v.ctx.state)) {
            resp.headers_mut().insert(header::SET_COOKIE, c);
        }
        Ok(resp)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_classified() {
        assert_eq!(
            classify_query("wasi:http/incoming-handler@0.2"),
            SearchKind::Interface("wasi:http/incoming-handler@0.2".into())
        );
        assert_eq!(
            classify_query("acme:greeter"),
            SearchKind::Package("acme:greeter".into())
        );
        assert_eq!(
            classify_query("team/app"),
            SearchKind::Name("team/app".into())
        );
        assert_eq!(
            classify_query("localhost:5000/x"),
            SearchKind::Interface("localhost:5000/x".into())
        );
    }

    #[test]
    fn page_numbers_are_bounded() {
        assert_eq!(page_number(None), Some(1));
        assert_eq!(page_number(Some(&"3".into())), Some(3));
        for bad in ["0", "51", "-1", "", "99999999999999999999", "1e3", "x"] {
            assert_eq!(page_number(Some(&bad.into())), None, "{bad}");
        }
    }

    #[test]
    fn attached_tags_are_recognised() {
        let hex = "a".repeat(64);
        assert!(attached_tag(&format!("sha256-{hex}.sig")));
        assert!(attached_tag(&format!("sha256-{hex}.att")));
        assert!(!attached_tag("sha256-abc.sig"));
        assert!(!attached_tag("v1"));
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_size(10), "10 B");
        assert_eq!(human_size(2048), "2.0 KiB");
        assert_eq!(human_size(3 * 1024 * 1024), "3.0 MiB");
    }
}
