//! Prometheus metrics in the text exposition format, from plain atomics: the handful of
//! counters we export does not justify a metrics framework.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

#[derive(Default)]
pub struct Metrics {
    /// Indexed by status class 1xx..5xx.
    responses: [AtomicU64; 5],
    requests: AtomicU64,
    pub bytes_received: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub uploads_started: AtomicU64,
    pub uploads_completed: AtomicU64,
    /// Uploads of a blob stored already, verified and linked without storing it again.
    pub uploads_deduplicated: AtomicU64,
    pub uploads_active: AtomicI64,
    pub gc_runs: AtomicU64,
    pub gc_blobs_deleted: AtomicU64,
    pub gc_uploads_deleted: AtomicU64,
}

impl Metrics {
    pub fn record(&self, status: u16) {
        self.requests.fetch_add(1, Relaxed);
        if let Some(c) = self
            .responses
            .get((status / 100).saturating_sub(1) as usize)
        {
            c.fetch_add(1, Relaxed);
        }
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        let mut counter = |name: &str, help: &str, v: u64| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        };
        counter(
            "wcomp_registry_requests_total",
            "HTTP requests served.",
            self.requests.load(Relaxed),
        );
        counter(
            "wcomp_registry_received_bytes_total",
            "Blob and manifest bytes received.",
            self.bytes_received.load(Relaxed),
        );
        counter(
            "wcomp_registry_sent_bytes_total",
            "Blob and manifest bytes sent.",
            self.bytes_sent.load(Relaxed),
        );
        counter(
            "wcomp_registry_uploads_started_total",
            "Upload sessions started.",
            self.uploads_started.load(Relaxed),
        );
        counter(
            "wcomp_registry_uploads_completed_total",
            "Blob uploads completed.",
            self.uploads_completed.load(Relaxed),
        );
        counter(
            "wcomp_registry_uploads_deduplicated_total",
            "Uploads of a blob stored already: verified and linked, not stored again.",
            self.uploads_deduplicated.load(Relaxed),
        );
        counter(
            "wcomp_registry_gc_runs_total",
            "Garbage collection runs.",
            self.gc_runs.load(Relaxed),
        );
        counter(
            "wcomp_registry_gc_blobs_deleted_total",
            "Blobs deleted by GC.",
            self.gc_blobs_deleted.load(Relaxed),
        );
        counter(
            "wcomp_registry_gc_uploads_deleted_total",
            "Abandoned uploads deleted by GC.",
            self.gc_uploads_deleted.load(Relaxed),
        );
        let _ = writeln!(
            s,
            "# HELP wcomp_registry_responses_total HTTP responses by status class."
        );
        let _ = writeln!(s, "# TYPE wcomp_registry_responses_total counter");
        for (i, c) in self.responses.iter().enumerate() {
            let _ = writeln!(
                s,
                "wcomp_registry_responses_total{{class=\"{}xx\"}} {}",
                i + 1,
                c.load(Relaxed)
            );
        }
        let _ = writeln!(
            s,
            "# HELP wcomp_registry_uploads_active Uploads in progress in this process."
        );
        let _ = writeln!(s, "# TYPE wcomp_registry_uploads_active gauge");
        let _ = writeln!(
            s,
            "wcomp_registry_uploads_active {}",
            self.uploads_active.load(Relaxed)
        );
        s
    }
}
