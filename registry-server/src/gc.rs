//! Online garbage collection.
//!
//! A run removes (1) blobs that no manifest references and that nobody uploaded, mounted or
//! linked within the grace period, (2) upload sessions idle for longer than the grace
//! period, with their chunks, and (3) scratch files of crashed requests.
//!
//! Why it never deletes a blob that a concurrent push is about to reference:
//! * A push references blobs only through `Metadata::put_manifest`, which checks, in the
//!   same transaction that records the references, that each blob is linked to the
//!   repository and `live`.
//! * GC claims blobs in one transaction (`gc_mark`): it flips them to `deleting` and drops
//!   their links, and only takes blobs with no reference and a GC clock (`touched_at`, set by
//!   every upload, mount and re-upload) older than the grace period.
//! * Transactions are serialised, so for any blob either the manifest commits first (the
//!   blob is referenced; GC skips it) or GC claims first (the manifest push fails with
//!   `MANIFEST_BLOB_UNKNOWN` and the client re-uploads, which is safe: no manifest that
//!   was accepted ever points at a deleted blob). The grace period makes the second case
//!   rare: a client that just uploaded a blob has `grace_secs` to push its manifest.
//! * An upload of a digest GC has claimed is not linked until GC has deleted the file and
//!   forgotten the row (`link_blob` refuses `deleting`); the new file is moved into place
//!   only after the link, so GC's file deletion cannot remove the new copy.
//!
//! With several replicas the argument is the same, because it rests only on metadata
//! transactions (PostgreSQL's version of the serial order is in `metadata/postgres.rs`).
//! [`run_exclusive`] adds a database lease so that one replica at a time runs GC: two runs
//! would be safe, but would race to delete the same files for nothing.

use crate::metadata::Metadata;
use crate::storage::BlobStore;
use crate::storage::chrono_free::Timestamp;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GcReport {
    pub blobs_deleted: u64,
    pub uploads_deleted: u64,
    pub scratch_deleted: u64,
    pub orphans_deleted: u64,
}

/// Scratch files and upload sessions younger than this are never touched, whatever the
/// configured grace: they may belong to a request in flight (a blob's GC clock is kept in
/// metadata and needs no such floor).
pub const MIN_SCRATCH_AGE_SECS: i64 = 600;

/// How long a GC run may hold the lease before another replica may take it over (a replica
/// that died mid-run does not block GC for longer).
pub const LEASE_SECS: i64 = 3600;

/// [`run`] under the `gc` lease; `None` when another process holds it.
pub async fn run_exclusive(
    meta: &dyn Metadata,
    blobs: &BlobStore,
    grace_secs: i64,
    now: i64,
) -> anyhow::Result<Option<GcReport>> {
    let holder = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
    if !meta.acquire_lease("gc", &holder, now, LEASE_SECS).await? {
        return Ok(None);
    }
    let out = run(meta, blobs, grace_secs, now).await;
    let released = meta.release_lease("gc", &holder).await;
    let report = out?;
    released?;
    Ok(Some(report))
}

pub async fn run(
    meta: &dyn Metadata,
    blobs: &BlobStore,
    grace_secs: i64,
    now: i64,
) -> anyhow::Result<GcReport> {
    let cutoff = now - grace_secs;
    let scratch_cutoff = now - grace_secs.max(MIN_SCRATCH_AGE_SECS);
    let mut report = GcReport::default();
    let plan = meta.gc_mark(cutoff, scratch_cutoff).await?;
    for d in &plan.blobs {
        blobs.delete_blob(d).await?;
    }
    meta.gc_sweep(&plan.blobs).await?;
    report.blobs_deleted = plan.blobs.len() as u64;
    for u in &plan.uploads {
        blobs.delete_upload(u).await?;
    }
    report.uploads_deleted = plan.uploads.len() as u64;

    for path in blobs.stale_scratch(Timestamp(scratch_cutoff)).await? {
        let parts: Vec<String> = path.parts().map(|p| p.as_ref().to_string()).collect();
        // Chunks of a live session stay however old they are: slow uploads are allowed.
        if parts.first().map(String::as_str) == Some("uploads")
            && let Some(id) = parts.get(1)
            && meta.get_upload(id).await?.is_some()
        {
            continue;
        }
        blobs.delete_path(&path).await?;
        report.scratch_deleted += 1;
    }
    // Files no metadata row knows: left by a metadata restore from an older backup.
    for (d, modified) in blobs.list_blobs().await? {
        if modified < scratch_cutoff && !meta.blob_known(&d).await? {
            blobs.delete_blob(&d).await?;
            report.orphans_deleted += 1;
        }
    }
    Ok(report)
}
