//! Serving: bind, run until SIGINT/SIGTERM, then stop accepting and let in-flight requests
//! (uploads included) finish. Periodic GC runs here when configured.

use crate::app::AppState;
use std::sync::atomic::Ordering::Relaxed;

pub async fn serve(state: AppState, listener: tokio::net::TcpListener) -> anyhow::Result<()> {
    if state.config.gc.interval_secs > 0 {
        tokio::spawn(periodic_gc(state.clone()));
    }
    let app = crate::routes::router(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}

async fn periodic_gc(state: AppState) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(
        state.config.gc.interval_secs,
    ));
    tick.tick().await;
    loop {
        tick.tick().await;
        match crate::gc::run(
            state.meta.as_ref(),
            &state.blobs,
            state.config.gc.grace_secs,
            crate::auth::now(),
        )
        .await
        {
            Ok(r) => {
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
