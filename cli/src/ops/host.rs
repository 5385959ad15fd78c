//! The host that `wcomp run` and `wcomp serve` share: WASI 0.2, `wasi:http` (types and
//! outgoing requests, only to the hosts the user allowed) and the `wcomp:sql` database.
//!
//! `run` links it synchronously (one call, on this thread); `serve` links the same
//! interfaces asynchronously (many instances on a tokio runtime). Both check a
//! component's imports the same way before any guest code runs, so a missing import is
//! named in WIT terms instead of failing at instantiation.

use super::EnvironmentError;
use super::sql::{self, SqlHost};
use anyhow::Result;
use std::sync::Arc;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable, types::ComponentItem};
use wasmtime::{Engine, StoreLimits};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

/// The SQL interface a component may import.
pub const SQL_PACKAGE: &str = "wcomp:sql/";

/// What a store holds for one run or one request.
pub struct State {
    pub wasi: WasiCtx,
    pub http: WasiHttpCtx,
    pub table: ResourceTable,
    pub sql: SqlHost,
    pub outbound: Outbound,
    pub limits: StoreLimits,
}

impl State {
    pub fn new(wasi: WasiCtx, sql: SqlHost, outbound: Outbound, limits: StoreLimits) -> State {
        State {
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            sql,
            outbound,
            limits,
        }
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

/// One `--allow-outbound HOST[:PORT]`: a host name or IP literal (compared without case),
/// on any port or on one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    host: String,
    port: Option<u16>,
}

impl std::str::FromStr for AllowedHost {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "`{s}` is not HOST or HOST:PORT (e.g. `api.example.com`, `127.0.0.1:8080`, \
                 `[::1]:443`)"
            )
        };
        if s.is_empty() || s.contains('/') || s.contains('@') || s.chars().any(char::is_whitespace)
        {
            return Err(bad());
        }
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (h, after) = rest.split_once(']').ok_or_else(bad)?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or_else(bad)?),
            };
            (h.to_string(), port)
        } else {
            match s.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') => (h.to_string(), Some(p)),
                Some(_) => return Err(bad()),
                None => (s.to_string(), None),
            }
        };
        let port = match port {
            Some(p) => Some(p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(bad)?),
            None => None,
        };
        if host.is_empty() {
            return Err(bad());
        }
        Ok(AllowedHost {
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

impl std::fmt::Display for AllowedHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match self.port {
            Some(p) => write!(f, "{host}:{p}"),
            None => write!(f, "{host}"),
        }
    }
}

impl AllowedHost {
    fn allows(&self, host: &str, port: u16) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host.eq_ignore_ascii_case(&self.host) && self.port.is_none_or(|p| p == port)
    }
}

/// The `wasi:http` hooks: outgoing requests go out only to allowed hosts; everything
/// else is answered `HTTP-request-denied` to the guest without touching the network.
#[derive(Clone, Default)]
pub struct Outbound {
    allowed: Arc<Vec<AllowedHost>>,
}

impl Outbound {
    pub fn new(allowed: Vec<AllowedHost>) -> Outbound {
        Outbound {
            allowed: Arc::new(allowed),
        }
    }

    /// Whether a request to this URI may leave the machine.
    pub fn permits(&self, uri: &http::Uri) -> bool {
        let Some(authority) = uri.authority() else {
            return false;
        };
        let tls = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
        let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
        self.allowed
            .iter()
            .any(|a| a.allows(authority.host(), port))
    }
}

type Sent = Box<
    dyn Future<
            Output = wasmtime_wasi_http::Result<(
                http::Response<wasmtime_wasi_http::WasiBody>,
                Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
            )>,
        > + Send,
>;

impl WasiHttpHooks for Outbound {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Sent {
        _ = fut;
        if !self.permits(request.uri()) {
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        Box::new(async move {
            use http_body_util::BodyExt;
            let (res, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                res.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
}

/// A store's data that the host's interfaces can be linked for: [`State`] itself, or a
/// type that wraps it (`wcomp test` adds its mocks and call counts).
pub trait HostState: WasiView + WasiHttpView + Send + 'static {
    fn sql(&mut self) -> &mut SqlHost;
}

impl HostState for State {
    fn sql(&mut self) -> &mut SqlHost {
        &mut self.sql
    }
}

/// Adds `wcomp:sql` to a linker (sync host functions: a statement runs on the calling
/// thread, which under `serve` is a runtime worker that only this request uses).
pub fn add_sql<T: HostState>(linker: &mut Linker<T>) -> Result<()> {
    sql::wcomp::sql::query::add_to_linker::<T, HasSelf<SqlHost>>(linker, T::sql)?;
    sql::wcomp::sql::types::add_to_linker::<T, HasSelf<SqlHost>>(linker, T::sql)?;
    Ok(())
}

/// Everything `run` links: WASI 0.2, wasi:http, wcomp:sql, synchronous.
pub fn sync_linker<T: HostState>(engine: &Engine) -> Result<Linker<T>> {
    let mut linker: Linker<T> = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker)?;
    add_sql(&mut linker)?;
    Ok(linker)
}

/// Everything `serve` links: the same interfaces, asynchronous.
pub fn async_linker(engine: &Engine) -> Result<Linker<State>> {
    let mut linker: Linker<State> = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    add_sql(&mut linker)?;
    Ok(linker)
}

/// What a component's imports need from the host.
pub struct Needs {
    pub sql: bool,
}

/// Checks that every import of `component` is provided (by the host or, for interfaces
/// imported only for their types, by an empty instance added to `linker`), then that it
/// links. `command` names the command in messages.
pub fn check_imports<T: HostState>(
    engine: &Engine,
    component: &Component,
    linker: &mut Linker<T>,
    name: &str,
    command: &str,
) -> Result<Needs> {
    let ty = component.component_type();
    let mut sql = false;
    let mut missing = Vec::new();
    for (import, item) in ty.imports(engine) {
        if import.starts_with(SQL_PACKAGE) {
            sql = true;
            continue;
        }
        if import.starts_with("wasi:") {
            continue;
        }
        match &item.ty {
            // An interface imported only for its types needs no implementation.
            ComponentItem::ComponentInstance(i)
                if i.exports(engine)
                    .all(|(_, e)| matches!(e.ty, ComponentItem::Type(_))) =>
            {
                linker.instance(import)?;
            }
            _ => missing.push(import.to_string()),
        }
    }
    if !missing.is_empty() {
        return Err(EnvironmentError(format!(
            "`{name}` imports {}, which `{command}` does not provide (it provides WASI 0.2, \
             wasi:http and wcomp:sql); compose it with a component that exports {}",
            quoted(&missing),
            if missing.len() == 1 { "it" } else { "them" }
        ))
        .into());
    }
    // WASI interfaces wasmtime does not implement (or at a version it does not support)
    // are missing too: find out now rather than as a failure at instantiation.
    linker.instantiate_pre(component).map_err(|e| {
        EnvironmentError(format!(
            "`{name}` cannot be linked: {} (`{command}` provides WASI 0.2, wasi:http and \
             wcomp:sql)",
            link_error(&e, command)
        ))
    })?;
    Ok(Needs { sql })
}

/// wasmtime's link error without its own wording about linkers: "imports instance `x`,
/// which wcomp run does not provide".
pub fn link_error(e: &wasmtime::Error, command: &str) -> String {
    let text = format!("{e:#}");
    match text
        .strip_prefix("component imports ")
        .and_then(|rest| rest.split_once(", but a matching implementation was not found"))
    {
        Some((what, _)) => format!("it imports {what}, which `{command}` does not provide"),
        None => text,
    }
}

pub fn quoted(names: &[String]) -> String {
    if names.is_empty() {
        return "nothing".to_string();
    }
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `$WCOMP_CACHE_DIR/wasmtime`, else the user cache dir's `wcomp/wasmtime`;
/// `WCOMP_NO_CACHE=1` turns the cache off.
pub fn compile_cache_dir() -> Option<std::path::PathBuf> {
    if std::env::var_os(crate::env::NO_CACHE).is_some() {
        return None;
    }
    let base = match std::env::var_os(crate::env::CACHE_DIR) {
        Some(d) => std::path::PathBuf::from(d),
        None => dirs::cache_dir()?.join("wcomp"),
    };
    let base = std::path::absolute(base).ok()?;
    Some(base.join("wasmtime"))
}

/// Turns on wasmtime's compiled-code cache for `config`, when there is a cache dir.
pub fn enable_cache(config: &mut wasmtime::Config) {
    if let Some(dir) = compile_cache_dir() {
        let mut cc = wasmtime::CacheConfig::new();
        cc.with_directory(dir);
        if let Ok(cache) = wasmtime::Cache::new(cc) {
            config.cache(Some(cache));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_hosts_parse_and_match() {
        let a: AllowedHost = "API.example.com".parse().unwrap();
        assert!(a.allows("api.example.com", 443));
        assert!(a.allows("api.example.com", 80));
        assert!(!a.allows("example.com", 443));
        let b: AllowedHost = "127.0.0.1:8080".parse().unwrap();
        assert!(b.allows("127.0.0.1", 8080));
        assert!(!b.allows("127.0.0.1", 8081));
        let c: AllowedHost = "[::1]:443".parse().unwrap();
        assert!(c.allows("[::1]", 443));
        assert_eq!(c.to_string(), "[::1]:443");
        for bad in [
            "", "http://x", "a b", "x:0", "x:70000", "x:", "::1", "[::1", "u@h", "[::1]x",
        ] {
            assert!(
                bad.parse::<AllowedHost>().is_err(),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn outbound_checks_scheme_ports() {
        let o = Outbound::new(vec!["example.com:443".parse().unwrap()]);
        assert!(o.permits(&"https://example.com/x".parse().unwrap()));
        assert!(!o.permits(&"http://example.com/x".parse().unwrap()));
        assert!(!o.permits(&"https://evil.com/x".parse().unwrap()));
        assert!(!Outbound::default().permits(&"https://example.com/".parse().unwrap()));
    }
}
