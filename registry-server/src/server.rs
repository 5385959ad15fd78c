//! Serving: bind, run until SIGINT/SIGTERM, then stop accepting and let in-flight requests
//! (uploads included) finish. Periodic GC runs here when configured. With `[tls]` the
//! listener terminates TLS (rustls with the ring provider).
//!
//! The connection loop is ours (hyper's http1 server) rather than `axum::serve`, which runs
//! without a timer and so without any time limit. Per connection, from `[limits]`:
//! * admission: at most `max_connections`, and `max_connections_per_address` per client IP
//!   ([`ConnGate`]); others get one short `503`/`429` answer and are closed;
//! * `header_read_timeout_secs`: hyper's header timer, which also bounds how long a kept-alive
//!   connection waits for its next request;
//! * `idle_timeout_secs`: no byte in either direction while no handler is working on one of
//!   its requests (`Activity`), e.g. a client that stopped reading a download;
//! * `body_timeout_secs`: a request body that delivers nothing while read (`Progress`).

use crate::app::AppState;
use crate::config::Limits;
use crate::handlers::LocalAddr;
use axum::serve::ListenerExt as _;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

pub async fn serve(state: AppState, listener: tokio::net::TcpListener) -> anyhow::Result<()> {
    if state.config.gc.interval_secs > 0 {
        tokio::spawn(periodic_gc(state.clone()));
    }
    let limits = state.config.limits.clone();
    let tls = state.config.tls.clone();
    let trusted = state.config.trusted_proxies.iter().map(|n| n.0).collect();
    let app = crate::routes::router(state);
    let gate = Arc::new(ConnGate::new(&limits, trusted));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // Every connection task holds a clone of `done_tx`; when the last is gone, all are done.
    let (done_tx, mut done_rx) = tokio::sync::mpsc::channel::<()>(1);
    let conn = Arc::new(ConnSettings { app, limits });
    let spawn = |io: Io, peer: SocketAddr, local: SocketAddr, guard: ConnGuard| {
        let (conn, stop, done) = (conn.clone(), stop_rx.clone(), done_tx.clone());
        tokio::spawn(async move {
            conn.run(io, peer, local, stop, guard).await;
            drop(done);
        });
    };
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    match tls {
        None => {
            let mut l = plain_listener(listener);
            loop {
                let (tcp, peer) = tokio::select! {
                    c = axum::serve::Listener::accept(&mut l) => c,
                    _ = &mut shutdown => break,
                };
                let local = tcp
                    .local_addr()
                    .unwrap_or_else(|_| ([0, 0, 0, 0], 0).into());
                match gate.admit(peer.ip()) {
                    Ok(guard) => spawn(Io::Plain(tcp), peer, local, guard),
                    Err(refusal) => refuse(tcp, refusal),
                }
            }
        }
        Some(t) => {
            let mut l = TlsListener::with_gate(listener, tls_acceptor(&t)?, Some(gate.clone()));
            loop {
                let (tls, peer, guard) = tokio::select! {
                    c = l.accept_admitted() => c,
                    _ = &mut shutdown => break,
                };
                let local = tls
                    .get_ref()
                    .0
                    .local_addr()
                    .unwrap_or_else(|_| ([0, 0, 0, 0], 0).into());
                // Always `Some`: this listener has a gate.
                if let Some(guard) = guard {
                    spawn(Io::Tls(Box::new(tls)), peer, local, guard);
                }
            }
        }
    }
    let _ = stop_tx.send(true);
    drop(done_tx);
    let _ = done_rx.recv().await;
    Ok(())
}

/// What every connection task shares.
struct ConnSettings {
    app: axum::Router,
    limits: Limits,
}

fn secs(s: u64) -> Option<Duration> {
    (s > 0).then(|| Duration::from_secs(s))
}

impl ConnSettings {
    /// Serves one connection until it ends, its idle time runs out, or shutdown (which lets
    /// a request in progress finish).
    async fn run(
        &self,
        io: Io,
        peer: SocketAddr,
        local: SocketAddr,
        mut stop: tokio::sync::watch::Receiver<bool>,
        _guard: ConnGuard,
    ) {
        let activity = Arc::new(Activity::new());
        let io = Watched {
            inner: io,
            activity: activity.clone(),
        };
        let (app, body_timeout) = (self.app.clone(), secs(self.limits.body_timeout_secs));
        let seen = activity.clone();
        let service =
            hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let mut req = req.map(|b| match body_timeout {
                    Some(t) => axum::body::Body::new(Progress::new(b, t)),
                    None => axum::body::Body::new(b),
                });
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                req.extensions_mut().insert(LocalAddr(local));
                let busy = Busy::new(seen.clone());
                let call = tower::ServiceExt::oneshot(app.clone(), req);
                async move {
                    let resp = call.await;
                    drop(busy);
                    resp
                }
            });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(secs(self.limits.header_read_timeout_secs))
            .keep_alive(true);
        let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(io), service);
        tokio::pin!(conn);
        let idle = secs(self.limits.idle_timeout_secs);
        let mut stopping = *stop.borrow();
        if stopping {
            conn.as_mut().graceful_shutdown();
        }
        loop {
            // The idle check wakes when the connection could first have been idle for long
            // enough, and looks again: cheap, and no timer is touched per byte.
            let check = async {
                match idle {
                    Some(d) => tokio::time::sleep_until(activity.deadline(d).into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                    return;
                }
                changed = stop.changed(), if !stopping => {
                    stopping = true;
                    if changed.is_ok() {
                        conn.as_mut().graceful_shutdown();
                    }
                }
                _ = check => {
                    if let Some(d) = idle
                        && activity.idle_for(d)
                    {
                        tracing::debug!(%peer, "closing an idle connection");
                        return;
                    }
                }
            }
        }
    }
}

/// Either kind of connection, so one task type serves both.
enum Io {
    Plain(tokio::net::TcpStream),
    Tls(Box<TlsStream>),
}

macro_rules! both {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            Io::Plain($s) => {
                let $s = Pin::new($s);
                $e
            }
            Io::Tls($s) => {
                let $s = Pin::new($s.as_mut());
                $e
            }
        }
    };
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        both!(self, s => s.poll_read(cx, buf))
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        both!(self, s => s.poll_write(cx, buf))
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        both!(self, s => s.poll_write_vectored(cx, bufs))
    }
    fn is_write_vectored(&self) -> bool {
        match self {
            Io::Plain(s) => s.is_write_vectored(),
            Io::Tls(s) => s.is_write_vectored(),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        both!(self, s => s.poll_flush(cx))
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        both!(self, s => s.poll_shutdown(cx))
    }
}

/// When a connection last moved a byte, and how many of its requests a handler is working
/// on (a handler computing for a while is not idleness).
struct Activity {
    epoch: Instant,
    last_ms: AtomicU64,
    busy: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Self {
            epoch: Instant::now(),
            last_ms: AtomicU64::new(0),
            busy: AtomicUsize::new(0),
        }
    }
    fn touch(&self) {
        let ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Relaxed);
    }
    fn deadline(&self, idle: Duration) -> Instant {
        self.epoch + Duration::from_millis(self.last_ms.load(Relaxed)) + idle
    }
    fn idle_for(&self, idle: Duration) -> bool {
        self.busy.load(Relaxed) == 0 && Instant::now() >= self.deadline(idle)
    }
}

/// Marks a request as being handled until dropped (also when the request is abandoned).
struct Busy(Arc<Activity>);

impl Busy {
    fn new(a: Arc<Activity>) -> Self {
        a.busy.fetch_add(1, Relaxed);
        Self(a)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.touch();
        self.0.busy.fetch_sub(1, Relaxed);
    }
}

/// The socket, noting each read or write that moves bytes.
struct Watched {
    inner: Io,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        r
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The error a request body yields when the client sends nothing for `body_timeout_secs`.
#[derive(Debug, thiserror::Error)]
#[error("the client sent no body data for {0:?}")]
pub struct BodyStalled(Duration);

/// A request body that fails when no data arrives for `limit` while it is being read. Only
/// time spent waiting for the client counts: a handler that is busy and not reading is not
/// a stalled client.
struct Progress {
    inner: hyper::body::Incoming,
    limit: Duration,
    /// Since when the reader has been waiting for the next frame.
    waiting_since: Option<Instant>,
    /// Armed once; when it fires it is checked against `waiting_since` and re-armed, so no
    /// timer is touched per frame.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Progress {
    fn new(inner: hyper::body::Incoming, limit: Duration) -> Self {
        Self {
            inner,
            limit,
            waiting_since: None,
            timer: None,
        }
    }
}

impl http_body::Body for Progress {
    type Data = bytes::Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            this.waiting_since = None;
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let since = *this.waiting_since.get_or_insert_with(Instant::now);
        let deadline = since + this.limit;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline.into())));
        while timer.as_mut().poll(cx).is_ready() {
            if Instant::now() >= deadline {
                return Poll::Ready(Some(Err(BodyStalled(this.limit).into())));
            }
            timer.as_mut().reset(deadline.into());
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Total,
    PerAddress,
}

/// Counts open connections, overall and per client address.
pub struct ConnGate {
    max_total: usize,
    max_per_address: usize,
    /// Trusted proxies: many clients behind one address, so no per-address cap.
    uncapped: Vec<ipnet::IpNet>,
    total: AtomicUsize,
    by_address: Mutex<HashMap<IpAddr, usize>>,
}

/// An admitted connection; dropping it frees its place.
pub struct ConnGuard {
    gate: Arc<ConnGate>,
    ip: IpAddr,
}

impl ConnGate {
    pub fn new(l: &Limits, uncapped: Vec<ipnet::IpNet>) -> Self {
        Self {
            max_total: l.max_connections,
            max_per_address: l.max_connections_per_address,
            uncapped,
            total: AtomicUsize::new(0),
            by_address: Mutex::new(HashMap::new()),
        }
    }

    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<ConnGuard, Refusal> {
        let mut by = self.by_address.lock().unwrap_or_else(|e| e.into_inner());
        if self.total.load(Relaxed) >= self.max_total {
            return Err(Refusal::Total);
        }
        let n = by.entry(ip).or_insert(0);
        if *n >= self.max_per_address && !self.uncapped.iter().any(|net| net.contains(&ip)) {
            return Err(Refusal::PerAddress);
        }
        *n += 1;
        self.total.fetch_add(1, Relaxed);
        Ok(ConnGuard {
            gate: self.clone(),
            ip,
        })
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        let mut by = self
            .gate
            .by_address
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = by.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                by.remove(&self.ip);
            }
        }
        self.gate.total.fetch_sub(1, Relaxed);
    }
}

/// Answers a connection over the caps with one short HTTP response, then closes it: a
/// client sees why (and when to retry) instead of a reset.
fn refuse<S: AsyncWrite + Unpin + Send + 'static>(mut io: S, why: Refusal) {
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt as _;
        let (status, message) = match why {
            Refusal::Total => ("503 Service Unavailable", "too many open connections"),
            Refusal::PerAddress => (
                "429 Too Many Requests",
                "too many open connections from this address",
            ),
        };
        let body = format!(
            r#"{{"errors":[{{"code":"TOOMANYREQUESTS","message":"{message}","detail":null}}]}}"#
        );
        let resp = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            io.write_all(resp.as_bytes()).await?;
            io.shutdown().await
        })
        .await;
    });
}

/// The plain-HTTP listener: every accepted socket gets TCP_NODELAY. Without it, a
/// response whose headers and body leave in separate writes (every streamed blob) holds its
/// body until the client's delayed ACK arrives, 40 ms on Linux: a 1 MB pull with its small
/// signature blobs took 56 ms instead of 10.
pub fn plain_listener(
    listener: tokio::net::TcpListener,
) -> impl axum::serve::Listener<Io = tokio::net::TcpStream, Addr = std::net::SocketAddr> {
    listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    })
}

pub fn tls_acceptor(t: &crate::config::TlsConfig) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    use anyhow::Context as _;
    use rustls_pki_types::pem::PemObject as _;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(&t.cert)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .with_context(|| {
            format!(
                "failed to read TLS certificates from `{}`",
                t.cert.display()
            )
        })?;
    let key = PrivateKeyDer::from_pem_file(&t.key)
        .with_context(|| format!("failed to read the TLS key from `{}`", t.key.display()))?;
    let provider = std::sync::Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("invalid TLS certificate or key")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config)))
}

type TlsStream = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;

/// A listener that yields connections whose TLS handshake is done. Handshakes run in their
/// own tasks, with a timeout, so one slow or hostile client cannot stall accepting others.
pub struct TlsListener {
    rx: tokio::sync::mpsc::Receiver<Admitted>,
    local: std::net::SocketAddr,
}

/// A connection after its handshake, with its place under the connection caps (`None`
/// without a gate).
type Admitted = (TlsStream, SocketAddr, Option<ConnGuard>);

impl TlsListener {
    pub fn new(listener: tokio::net::TcpListener, acceptor: tokio_rustls::TlsAcceptor) -> Self {
        Self::with_gate(listener, acceptor, None)
    }

    /// As [`TlsListener::new`], admitting connections through `gate` before their
    /// handshake (a handshake costs more than a refusal).
    pub fn with_gate(
        listener: tokio::net::TcpListener,
        acceptor: tokio_rustls::TlsAcceptor,
        gate: Option<Arc<ConnGate>>,
    ) -> Self {
        let local = listener
            .local_addr()
            .unwrap_or_else(|_| ([0, 0, 0, 0], 0).into());
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let (tcp, addr) = match listener.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        // Usually EMFILE: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        continue;
                    }
                };
                // As for plain HTTP (`plain_listener`).
                let _ = tcp.set_nodelay(true);
                let guard = match gate.as_ref().map(|g| g.admit(addr.ip())) {
                    None => None,
                    Some(Ok(g)) => Some(g),
                    Some(Err(why)) => {
                        // Said in plain text over the TCP socket: there is no TLS session
                        // yet, and starting one is what a refusal should save.
                        refuse(tcp, why);
                        continue;
                    }
                };
                let (acceptor, conn_tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    let hs = tokio::time::timeout(
                        std::time::Duration::from_secs(10),
                        acceptor.accept(tcp),
                    )
                    .await;
                    match hs {
                        Ok(Ok(tls)) => {
                            let _ = conn_tx.send((tls, addr, guard)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%addr, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%addr, "TLS handshake timed out"),
                    }
                });
                if tx.is_closed() {
                    break;
                }
            }
        });
        Self { rx, local }
    }

    async fn accept_admitted(&mut self) -> Admitted {
        match self.rx.recv().await {
            Some(c) => c,
            // The accept task only ends when this listener is gone.
            None => std::future::pending().await,
        }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some((tls, addr, _)) => (tls, addr),
            // The accept task only ends when this listener is gone.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> tokio::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

async fn periodic_gc(state: AppState) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(
        state.config.gc.interval_secs,
    ));
    tick.tick().await;
    loop {
        tick.tick().await;
        match crate::gc::run_exclusive(
            state.meta.as_ref(),
            &state.blobs,
            state.config.gc.grace_secs,
            crate::auth::now(),
        )
        .await
        {
            // Another replica (or `wcomp-registry gc`) holds the GC lease.
            Ok(None) => {}
            Ok(Some(r)) => {
                state.metrics.gc_runs.fetch_add(1, Relaxed);
                state
                    .metrics
                    .gc_blobs_deleted
                    .fetch_add(r.blobs_deleted, Relaxed);
                state
                    .metrics
                    .gc_uploads_deleted
                    .fetch_add(r.uploads_deleted, Relaxed);
                tracing::info!(?r, "garbage collection finished");
            }
            Err(e) => tracing::error!(error = %e, "garbage collection failed"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::serve::Listener as _;
    use std::path::Path;

    #[test]
    fn a_trusted_proxy_is_not_capped_per_address() {
        let limits = Limits {
            max_connections: 10,
            max_connections_per_address: 1,
            ..Limits::default()
        };
        let gate = Arc::new(ConnGate::new(&limits, vec!["10.0.0.0/8".parse().unwrap()]));
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        let _p1 = gate.admit(proxy).unwrap();
        let _p2 = gate.admit(proxy).unwrap();
        let _c1 = gate.admit(client).unwrap();
        assert_eq!(gate.admit(client).err(), Some(Refusal::PerAddress));
    }

    #[tokio::test]
    async fn plain_connections_send_without_delay() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let mut l = plain_listener(l);
        let (accepted, client) = tokio::join!(l.accept(), tokio::net::TcpStream::connect(addr));
        let _client = client.unwrap();
        assert!(accepted.0.nodelay().unwrap());
    }

    #[tokio::test]
    async fn tls_connections_send_without_delay() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let acceptor = tls_acceptor(&crate::config::TlsConfig {
            cert: fixtures.join("tls-cert.pem"),
            key: fixtures.join("tls-key.pem"),
        })
        .unwrap();
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let mut l = TlsListener::new(l, acceptor);

        use rustls_pki_types::pem::PemObject as _;
        let mut roots = tokio_rustls::rustls::RootCertStore::empty();
        roots
            .add(
                rustls_pki_types::CertificateDer::from_pem_file(fixtures.join("ca-cert.pem"))
                    .unwrap(),
            )
            .unwrap();
        let provider = std::sync::Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
        let client = async {
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
            connector.connect(name, tcp).await.unwrap()
        };
        let (accepted, _client) = tokio::join!(l.accept(), client);
        assert!(accepted.0.get_ref().0.nodelay().unwrap());
    }
}
