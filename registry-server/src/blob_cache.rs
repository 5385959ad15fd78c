//! A replica's local read cache of finished blobs, for a registry whose blobs live on S3
//! (`[storage] cache_dir`).
//!
//! Blobs are content-addressed and never change, so a copy kept on the replica's own disk
//! can never be stale: the only question is whether a repository may read it, and that is
//! decided by metadata before a GET reaches storage (handlers/blobs.rs), exactly as without
//! the cache. A blob GC deleted from S3 is unreachable through metadata, and its cached
//! copy leaves with the least recently used entries.
//!
//! * A whole-blob GET that misses streams from S3 to the client and, on the way, into a
//!   scratch file in the cache directory while it is hashed. Only a copy whose size and
//!   digest match becomes an entry (a rename); anything else is deleted, and a digest
//!   mismatch ends the response with an error, so the client sees a failed transfer, not
//!   wrong bytes. A client that disconnects early leaves nothing behind.
//! * Ranged GETs are served from a cached copy when there is one, and never fill.
//! * The cache holds at most `cache_max_bytes`; the least recently used entries are
//!   removed past that. A blob larger than a quarter of the cache is never cached, so one
//!   pull cannot empty it.
//! * At start-up, entries left by an earlier run are indexed (oldest first) and scratch
//!   files removed. Nothing in the directory matters: deleting it loses only speed.

use crate::oci::{Digest, Hasher};
use crate::storage::ByteRange;
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use tokio::io::AsyncWriteExt;

type BlobStream = BoxStream<'static, Result<Bytes, object_store::Error>>;

const SCRATCH_PREFIX: &str = ".fill-";

pub struct BlobCache {
    dir: PathBuf,
    max_bytes: u64,
    index: Mutex<Index>,
    /// GETs answered from the cache, and blobs added to it (for /metrics).
    pub hits: AtomicU64,
    pub fills: AtomicU64,
}

#[derive(Default)]
struct Index {
    entries: HashMap<String, Entry>,
    total: u64,
    /// Advances on every use; an entry's `used` orders eviction.
    clock: u64,
}

struct Entry {
    size: u64,
    used: u64,
}

impl BlobCache {
    /// Opens (creating it if needed) a cache directory holding at most `max_bytes`.
    pub fn open(dir: &Path, max_bytes: u64) -> std::io::Result<Arc<Self>> {
        fs_err::create_dir_all(dir)?;
        let mut found = Vec::new();
        for e in fs_err::read_dir(dir)? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(SCRATCH_PREFIX) {
                let _ = fs_err::remove_file(e.path());
                continue;
            }
            let meta = e.metadata()?;
            if meta.is_file() && digest_of_name(&name).is_some() {
                found.push((meta.modified().ok(), name, meta.len()));
            }
        }
        found.sort();
        let cache = Self {
            dir: dir.to_path_buf(),
            max_bytes,
            index: Mutex::new(Index::default()),
            hits: AtomicU64::new(0),
            fills: AtomicU64::new(0),
        };
        {
            let mut ix = cache.lock();
            for (_, name, size) in found {
                ix.clock += 1;
                let used = ix.clock;
                ix.total += size;
                ix.entries.insert(name, Entry { size, used });
            }
            cache.evict(&mut ix);
        }
        Ok(Arc::new(cache))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Index> {
        // The index is plain data: a panic elsewhere cannot leave it inconsistent enough
        // to matter (at worst an entry's size is counted without its file).
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bytes held, and the number of entries.
    pub fn usage(&self) -> (u64, usize) {
        let ix = self.lock();
        (ix.total, ix.entries.len())
    }

    /// The cached copy of `d` (whole, or `range` of it), if there is one.
    pub fn get(&self, d: &Digest, range: Option<ByteRange>) -> Option<BlobStream> {
        let name = file_name(d);
        let size = {
            let mut ix = self.lock();
            ix.clock += 1;
            let now = ix.clock;
            let e = ix.entries.get_mut(&name)?;
            e.used = now;
            e.size
        };
        let path = self.dir.join(&name);
        let file = match fs_err::File::open(&path).map(|f| f.into_parts().0) {
            Ok(f) if f.metadata().is_ok_and(|m| m.len() == size) => f,
            // Removed or changed behind the index's back: forget it, read from storage.
            _ => {
                self.forget(&name);
                return None;
            }
        };
        self.hits.fetch_add(1, Relaxed);
        let span = match range {
            Some(r) => r.start..r.end + 1,
            None => 0..size,
        };
        Some(crate::storage::file_stream(file, path, span))
    }

    /// Passes `inner` (the whole blob `d` of `size` bytes, read from storage) through,
    /// keeping a verified copy when it ends. Blobs too large for the cache pass untouched.
    pub fn fill(self: &Arc<Self>, d: &Digest, size: u64, inner: BlobStream) -> BlobStream {
        if size > self.max_bytes / 4 {
            return inner;
        }
        let scratch = self
            .dir
            .join(format!("{SCRATCH_PREFIX}{}", uuid::Uuid::new_v4().simple()));
        let file = match fs_err::File::create(&scratch) {
            Ok(f) => tokio::fs::File::from_std(f.into_parts().0),
            Err(e) => {
                tracing::warn!(error = %e, dir = %self.dir.display(), "blob cache: cannot write");
                return inner;
            }
        };
        let state = Filling {
            inner,
            copy: Some(Scratch {
                file,
                path: scratch,
                hasher: Hasher::new(d.algorithm()),
                written: 0,
            }),
            digest: d.clone(),
            size,
            cache: self.clone(),
            done: false,
        };
        futures_util::stream::unfold(state, |mut st| async move {
            if st.done {
                return None;
            }
            match st.inner.next().await {
                Some(Ok(chunk)) => {
                    if let Some(c) = st.copy.as_mut() {
                        c.hasher.update(&chunk);
                        c.written += chunk.len() as u64;
                        if c.file.write_all(&chunk).await.is_err() {
                            st.copy = None;
                        }
                    }
                    // The last bytes: keep the copy before handing them on. An HTTP server
                    // that sent Content-Length bytes may drop the body without asking for
                    // its end, and a mismatch must replace these bytes with an error.
                    if st.copy.as_ref().is_some_and(|c| c.written >= st.size) {
                        st.done = true;
                        let c = st.copy.take().expect("checked above");
                        if let Err(e) = st.cache.keep(c, &st.digest, st.size).await {
                            return Some((Err(e), st));
                        }
                    }
                    Some((Ok(chunk), st))
                }
                Some(Err(e)) => {
                    st.copy = None;
                    st.done = true;
                    Some((Err(e), st))
                }
                None => {
                    st.done = true;
                    let c = st.copy.take()?;
                    match st.cache.keep(c, &st.digest, st.size).await {
                        Ok(()) => None,
                        Err(e) => Some((Err(e), st)),
                    }
                }
            }
        })
        .boxed()
    }

    /// Makes a finished scratch copy an entry if it is the blob it claims to be.
    async fn keep(&self, mut c: Scratch, d: &Digest, size: u64) -> Result<(), object_store::Error> {
        let actual = std::mem::replace(&mut c.hasher, Hasher::new(d.algorithm())).finish();
        if c.written != size || actual != *d {
            tracing::error!(
                digest = %d, actual = %actual, size, read = c.written,
                "blob read from storage does not match its digest"
            );
            return Err(object_store::Error::Generic {
                store: "blob cache",
                source: format!("stored blob {d} does not match its digest").into(),
            });
        }
        if c.file.flush().await.is_err() {
            return Ok(());
        }
        let name = file_name(d);
        let path = std::mem::take(&mut c.path);
        if fs_err::rename(&path, self.dir.join(&name)).is_err() {
            let _ = fs_err::remove_file(&path);
            return Ok(());
        }
        self.fills.fetch_add(1, Relaxed);
        let mut ix = self.lock();
        ix.clock += 1;
        let used = ix.clock;
        // A concurrent fill of the same digest renamed identical bytes over it.
        if ix.entries.insert(name, Entry { size, used }).is_none() {
            ix.total += size;
        }
        self.evict(&mut ix);
        Ok(())
    }

    /// Removes least recently used entries until the cache fits.
    fn evict(&self, ix: &mut Index) {
        while ix.total > self.max_bytes {
            let Some(oldest) = ix
                .entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(n, _)| n.clone())
            else {
                break;
            };
            if let Some(e) = ix.entries.remove(&oldest) {
                ix.total -= e.size;
            }
            // A reader holding the file open keeps reading it.
            let _ = fs_err::remove_file(self.dir.join(&oldest));
        }
    }

    fn forget(&self, name: &str) {
        let mut ix = self.lock();
        if let Some(e) = ix.entries.remove(name) {
            ix.total -= e.size;
        }
    }
}

struct Filling {
    inner: BlobStream,
    /// The copy being written; `None` once it failed or was handed to the cache.
    copy: Option<Scratch>,
    digest: Digest,
    size: u64,
    cache: Arc<BlobCache>,
    done: bool,
}

/// A scratch file, deleted unless it was renamed into the cache (its path is then empty).
struct Scratch {
    file: tokio::fs::File,
    path: PathBuf,
    hasher: Hasher,
    written: u64,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = fs_err::remove_file(&self.path);
        }
    }
}

/// `sha256:ab..` is cached as `sha256-ab..`.
fn file_name(d: &Digest) -> String {
    d.as_str().replacen(':', "-", 1)
}

fn digest_of_name(name: &str) -> Option<Digest> {
    Digest::parse(&name.replacen('-', ":", 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(data: &[u8]) -> Digest {
        Digest::sha256(data)
    }

    fn stream_of(data: &[u8]) -> BlobStream {
        let chunks: Vec<Result<Bytes, object_store::Error>> = data
            .chunks(7)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        futures_util::stream::iter(chunks).boxed()
    }

    async fn collect(s: BlobStream) -> Result<Vec<u8>, object_store::Error> {
        let mut out = Vec::new();
        let mut s = s;
        while let Some(c) = s.next().await {
            out.extend_from_slice(&c?);
        }
        Ok(out)
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs_err::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[tokio::test]
    async fn a_miss_fills_and_the_next_get_is_served_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let cache = BlobCache::open(dir.path(), 1 << 20).unwrap();
        let data = b"hello, cached component bytes".repeat(10);
        let d = digest(&data);
        assert!(cache.get(&d, None).is_none());
        let through = collect(cache.fill(&d, data.len() as u64, stream_of(&data)))
            .await
            .unwrap();
        assert_eq!(through, data);
        assert_eq!(files(dir.path()), vec![file_name(&d)]);
        assert_eq!(cache.usage(), (data.len() as u64, 1));
        let hit = collect(cache.get(&d, None).unwrap()).await.unwrap();
        assert_eq!(hit, data);
        let part = collect(
            cache
                .get(&d, Some(ByteRange { start: 7, end: 11 }))
                .unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(part, &data[7..12]);
        assert_eq!(cache.hits.load(Relaxed), 2);
    }

    #[tokio::test]
    async fn bytes_that_do_not_match_the_digest_are_not_kept_and_end_in_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let cache = BlobCache::open(dir.path(), 1 << 20).unwrap();
        let data = b"what the registry stored".to_vec();
        let d = digest(b"what the digest names");
        let err = collect(cache.fill(&d, data.len() as u64, stream_of(&data)))
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("does not match its digest"),
            "{err}"
        );
        assert!(files(dir.path()).is_empty());
        assert!(cache.get(&d, None).is_none());
        // Short of the size the metadata gave: not kept either.
        let d = digest(&data);
        let _ = collect(cache.fill(&d, data.len() as u64 + 1, stream_of(&data))).await;
        assert!(files(dir.path()).is_empty());
    }

    /// A reader that takes exactly the blob's bytes and never asks for the end of the
    /// stream (as an HTTP server does once Content-Length bytes are sent) still leaves
    /// the copy in the cache.
    #[tokio::test]
    async fn a_reader_that_stops_at_the_last_byte_fills_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let cache = BlobCache::open(dir.path(), 1 << 20).unwrap();
        let data = b"exactly this many bytes".repeat(5);
        let d = digest(&data);
        let mut s = cache.fill(&d, data.len() as u64, stream_of(&data));
        let mut got = Vec::new();
        while got.len() < data.len() {
            got.extend_from_slice(&s.next().await.unwrap().unwrap());
        }
        drop(s);
        assert_eq!(got, data);
        assert_eq!(collect(cache.get(&d, None).unwrap()).await.unwrap(), data);
        // A mismatch shows in place of the last bytes.
        let wrong = digest(b"something else");
        let mut s = cache.fill(&wrong, data.len() as u64, stream_of(&data));
        let mut last = None;
        for _ in 0..data.len().div_ceil(7) {
            last = s.next().await;
        }
        assert!(last.unwrap().is_err());
    }

    #[tokio::test]
    async fn a_reader_that_stops_early_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let cache = BlobCache::open(dir.path(), 1 << 20).unwrap();
        let data = vec![42u8; 100];
        let d = digest(&data);
        let mut s = cache.fill(&d, 100, stream_of(&data));
        s.next().await.unwrap().unwrap();
        drop(s);
        assert!(files(dir.path()).is_empty());
        assert!(cache.get(&d, None).is_none());
    }

    #[tokio::test]
    async fn the_least_recently_used_entries_leave_first_and_big_blobs_pass_by() {
        let dir = tempfile::tempdir().unwrap();
        let cache = BlobCache::open(dir.path(), 100).unwrap();
        let blobs: Vec<Vec<u8>> = (0..4u8).map(|i| vec![i; 25]).collect();
        let ds: Vec<Digest> = blobs.iter().map(|b| digest(b)).collect();
        for (b, d) in blobs.iter().zip(&ds).take(3) {
            collect(cache.fill(d, 25, stream_of(b))).await.unwrap();
        }
        // Use the first, so the second is now the least recently used.
        collect(cache.get(&ds[0], None).unwrap()).await.unwrap();
        collect(cache.fill(&ds[3], 25, stream_of(&blobs[3])))
            .await
            .unwrap();
        assert_eq!(cache.usage(), (100, 4));
        let more = vec![9u8; 25];
        collect(cache.fill(&digest(&more), 25, stream_of(&more)))
            .await
            .unwrap();
        assert_eq!(cache.usage(), (100, 4));
        assert!(cache.get(&ds[1], None).is_none(), "least recently used");
        assert!(cache.get(&ds[0], None).is_some());
        assert!(!files(dir.path()).contains(&file_name(&ds[1])));
        // Over a quarter of the cache: streamed through, never kept.
        let big = vec![7u8; 26];
        let got = collect(cache.fill(&digest(&big), 26, stream_of(&big)))
            .await
            .unwrap();
        assert_eq!(got, big);
        assert!(cache.get(&digest(&big), None).is_none());
    }

    #[tokio::test]
    async fn entries_survive_a_restart_and_scratch_files_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let data = vec![1u8; 40];
        let d = digest(&data);
        {
            let cache = BlobCache::open(dir.path(), 1000).unwrap();
            collect(cache.fill(&d, 40, stream_of(&data))).await.unwrap();
        }
        fs_err::write(dir.path().join(format!("{SCRATCH_PREFIX}left-over")), b"x").unwrap();
        fs_err::write(dir.path().join("unrelated.txt"), b"x").unwrap();
        let cache = BlobCache::open(dir.path(), 1000).unwrap();
        assert_eq!(cache.usage(), (40, 1));
        assert_eq!(collect(cache.get(&d, None).unwrap()).await.unwrap(), data);
        assert!(
            !files(dir.path())
                .iter()
                .any(|f| f.starts_with(SCRATCH_PREFIX))
        );
        // A smaller limit on the next start evicts down to it.
        drop(cache);
        let cache = BlobCache::open(dir.path(), 10).unwrap();
        assert_eq!(cache.usage(), (0, 0));
    }

    #[tokio::test]
    async fn a_copy_changed_behind_the_index_is_not_served() {
        let dir = tempfile::tempdir().unwrap();
        let cache = BlobCache::open(dir.path(), 1000).unwrap();
        let data = vec![5u8; 30];
        let d = digest(&data);
        collect(cache.fill(&d, 30, stream_of(&data))).await.unwrap();
        fs_err::write(dir.path().join(file_name(&d)), b"truncated").unwrap();
        assert!(cache.get(&d, None).is_none());
        assert_eq!(cache.usage(), (0, 0));
    }
}
