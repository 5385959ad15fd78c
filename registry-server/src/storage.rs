//! Blob storage over the `object_store` crate (local filesystem today; S3 later without
//! touching handlers).
//!
//! Layout under the store's root:
//!
//! ```text
//! blobs/<alg>/<hex[..2]>/<hex>   finished blobs: content-addressed, shared by every repository
//! uploads/<uuid>/<offset>-<rand>  the chunks of an upload session, one object each
//! tmp/<uuid>                     a blob being assembled; renamed into blobs/ once verified
//! ```
//!
//! Why this shape:
//! * A blob becomes visible under `blobs/` only by a rename of a fully written, hashed and
//!   verified `tmp/` object, so a wrong digest or a crash never leaves a partial blob where
//!   readers look.
//! * Each PATCH is written as its own object with an atomic put, so a chunk is either all
//!   there or absent; after a crash the session's committed offset (kept in metadata) still
//!   names only complete chunks and the client resumes from it.
//! * Whether a blob may be read from a repository is decided by metadata (links), never by
//!   the mere existence of a file here.

use crate::oci::{Digest, Hasher};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, GetResultPayload, ObjectStore, WriteMultipart};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("blob `{0}` not found")]
    NotFound(String),
    #[error("digest mismatch: expected {expected}, content is {actual}")]
    DigestMismatch { expected: String, actual: String },
    #[error("range not satisfiable for a blob of {size} bytes")]
    RangeNotSatisfiable { size: u64 },
    #[error("content length {actual} does not match the declared {expected}")]
    SizeMismatch { expected: u64, actual: u64 },
    #[error("failed to read request body: {0}")]
    Body(String),
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    #[error("failed to prepare storage: {0}")]
    Io(#[from] std::io::Error),
}

pub type StorageResult<T> = Result<T, StorageError>;

/// A blob that was written to `tmp/` and verified, waiting for [`BlobStore::commit`].
#[derive(Debug)]
pub struct Staged {
    tmp: Path,
    pub digest: Digest,
    pub size: u64,
}

/// A byte range of a blob, already resolved against its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    /// Inclusive, like HTTP.
    pub end: u64,
}

/// Multipart part size when writing: one part per concurrent upload is buffered, so this
/// bounds memory per upload. 5 MiB is the smallest part S3 accepts; the local filesystem
/// writes parts in place and does well with much smaller ones.
const PART_SIZE: usize = 5 * 1024 * 1024;
const LOCAL_PART_SIZE: usize = 512 * 1024;

/// Blob GETs read the file in pieces of this size. Large enough that the per-read costs
/// (a blocking-pool hand-off, two syscalls) vanish next to the copy; small enough that 32
/// concurrent downloads, each with one piece on the socket and one being read, stay within
/// a few tens of MB.
const READ_CHUNK: usize = 256 * 1024;

type ReadAhead = tokio::task::JoinHandle<std::io::Result<(std::fs::File, Vec<u8>)>>;

/// Reads the next `want` bytes at the file's cursor (after seeking to `seek`, if given) on a
/// blocking thread.
fn read_piece(file: std::fs::File, seek: Option<u64>, want: usize) -> ReadAhead {
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = file;
        if let Some(pos) = seek {
            file.seek(SeekFrom::Start(pos))?;
        }
        // `read_to_end` fills the spare capacity without zeroing it first, which
        // `vec![0; want]` + `read_exact` would do (a fifth of the CPU of a large GET).
        let mut buf = Vec::with_capacity(want);
        (&mut file).take(want as u64).read_to_end(&mut buf)?;
        if buf.len() != want {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok((file, buf))
    })
}

/// Streams `range` of an open file in `READ_CHUNK` pieces, keeping one read ahead: while
/// hyper writes a piece to the socket, the next one is read on a blocking thread.
fn file_stream(
    file: std::fs::File,
    path: std::path::PathBuf,
    range: std::ops::Range<u64>,
) -> futures_util::stream::BoxStream<'static, Result<Bytes, object_store::Error>> {
    let end = range.end;
    let piece = move |pos: u64| ((end - pos) as usize).min(READ_CHUNK);
    let first = (range.start < end).then(|| {
        (
            read_piece(file, Some(range.start), piece(range.start)),
            range.start,
        )
    });
    futures_util::stream::unfold(first, move |pending| {
        let path = path.clone();
        async move {
            let (handle, pos) = pending?;
            let read = match handle.await {
                Ok(r) => r,
                Err(e) => Err(std::io::Error::other(e)),
            };
            match read {
                Ok((file, buf)) => {
                    let next_pos = pos + buf.len() as u64;
                    let next = (next_pos < end)
                        .then(|| (read_piece(file, None, piece(next_pos)), next_pos));
                    Some((Ok(Bytes::from(buf)), next))
                }
                Err(e) => Some((Err(io_error(&path, e)), None)),
            }
        }
    })
    .boxed()
}

fn io_error(path: &std::path::Path, e: std::io::Error) -> object_store::Error {
    object_store::Error::Generic {
        store: "LocalFileSystem",
        source: format!("reading {}: {e}", path.display()).into(),
    }
}

#[derive(Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    part_size: usize,
}

impl BlobStore {
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self {
            store,
            part_size: PART_SIZE,
        }
    }

    pub fn local(root: &std::path::Path) -> StorageResult<Self> {
        fs_err::create_dir_all(root)?;
        let fs = object_store::local::LocalFileSystem::new_with_prefix(root)?;
        Ok(Self {
            store: Arc::new(fs),
            part_size: LOCAL_PART_SIZE,
        })
    }

    fn blob_path(d: &Digest) -> Path {
        let hex = d.hex();
        Path::from(format!(
            "blobs/{}/{}/{}",
            d.algorithm().as_str(),
            &hex[..2],
            hex
        ))
    }

    fn part_path(upload: &str, part: &str) -> Path {
        Path::from(format!("uploads/{upload}/{part}"))
    }

    /// A fresh storage name for a chunk starting at `offset`. Unique per request, so two
    /// racing PATCHes at one offset never write the same object; metadata records the winner.
    pub fn new_part_name(offset: u64) -> String {
        format!("{offset:020}-{}", uuid::Uuid::new_v4().simple())
    }

    /// Streams `body` into a new object at `path`, feeding every byte to `on_data`.
    /// Returns the number of bytes written; on any error the object is not created.
    async fn write_stream<S, E>(
        &self,
        path: &Path,
        body: S,
        mut on_data: impl FnMut(&[u8]),
    ) -> StorageResult<u64>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let upload = self.store.put_multipart(path).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, self.part_size);
        let mut body = std::pin::pin!(body);
        let mut n = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(StorageError::Body(e.to_string()));
                }
            };
            on_data(&chunk);
            n += chunk.len() as u64;
            if let Err(e) = writer.wait_for_capacity(1).await {
                return Err(e.into());
            }
            writer.put(chunk);
        }
        writer.finish().await?;
        Ok(n)
    }

    /// Writes one chunk of an upload session as its own object. The caller records the new
    /// offset in metadata only after this returns.
    pub async fn write_chunk<S, E>(&self, upload: &str, part: &str, body: S) -> StorageResult<u64>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        self.write_stream(&Self::part_path(upload, part), body, |_| {})
            .await
    }

    /// Streams a body straight into `tmp/`, hashing as it goes, and verifies it.
    pub async fn stage_stream<S, E>(&self, body: S, expected: &Digest) -> StorageResult<Staged>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let tmp = Path::from(format!("tmp/{}", uuid::Uuid::new_v4()));
        let mut hasher = Hasher::new(expected.algorithm());
        let size = self.write_stream(&tmp, body, |d| hasher.update(d)).await?;
        self.verify(tmp, hasher, size, expected).await
    }

    pub async fn stage_bytes(&self, bytes: Bytes, expected: &Digest) -> StorageResult<Staged> {
        let actual = Digest::of(expected.algorithm(), &bytes);
        if &actual != expected {
            return Err(StorageError::DigestMismatch {
                expected: expected.to_string(),
                actual: actual.to_string(),
            });
        }
        let tmp = Path::from(format!("tmp/{}", uuid::Uuid::new_v4()));
        let size = bytes.len() as u64;
        self.store.put(&tmp, bytes.into()).await?;
        Ok(Staged {
            tmp,
            digest: actual,
            size,
        })
    }

    /// Concatenates the committed chunks of an upload (at `offsets`, in order) into `tmp/` and
    /// verifies the digest. The chunks stay until [`BlobStore::delete_upload`], so a failed
    /// verification loses nothing the client sent.
    pub async fn stage_upload(
        &self,
        upload: &str,
        chunks: &[String],
        expected: &Digest,
    ) -> StorageResult<Staged> {
        type Chunk = futures_util::stream::BoxStream<'static, Result<Bytes, object_store::Error>>;
        let paths: Vec<Path> = chunks.iter().map(|c| Self::part_path(upload, c)).collect();
        let state: (
            Arc<dyn ObjectStore>,
            std::vec::IntoIter<Path>,
            Option<Chunk>,
        ) = (self.store.clone(), paths.into_iter(), None);
        // Reads the chunks one after the other, opening each only when the previous is done.
        let parts =
            futures_util::stream::unfold(state, |(store, mut paths, mut current)| async move {
                loop {
                    if let Some(s) = current.as_mut()
                        && let Some(item) = s.next().await
                    {
                        return Some((item, (store, paths, current)));
                    }
                    let path = paths.next()?;
                    match store.get(&path).await {
                        // Large reads for local files, as for blob GETs (`open`): the store's
                        // own stream reads 8 KiB per blocking call, which made finishing a
                        // chunked 100 MB upload take 375 ms.
                        Ok(r) => {
                            let range = r.range.clone();
                            current = Some(match r.payload {
                                GetResultPayload::File(file, path) => {
                                    file_stream(file, path, range)
                                }
                                GetResultPayload::Stream(s) => s,
                            })
                        }
                        Err(e) => return Some((Err(e), (store, Vec::new().into_iter(), None))),
                    }
                }
            });
        let tmp = Path::from(format!("tmp/{}", uuid::Uuid::new_v4()));
        let mut hasher = Hasher::new(expected.algorithm());
        let size = self.write_stream(&tmp, parts, |d| hasher.update(d)).await?;
        self.verify(tmp, hasher, size, expected).await
    }

    async fn verify(
        &self,
        tmp: Path,
        hasher: Hasher,
        size: u64,
        expected: &Digest,
    ) -> StorageResult<Staged> {
        let actual = hasher.finish();
        if &actual != expected {
            let _ = self.store.delete(&tmp).await;
            return Err(StorageError::DigestMismatch {
                expected: expected.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(Staged {
            tmp,
            digest: actual,
            size,
        })
    }

    /// Moves a verified blob into place. Content-addressing makes a concurrent commit of the
    /// same digest harmless: both renames install identical bytes.
    pub async fn commit(&self, staged: Staged) -> StorageResult<()> {
        self.store
            .rename(&staged.tmp, &Self::blob_path(&staged.digest))
            .await?;
        Ok(())
    }

    pub async fn discard(&self, staged: Staged) {
        let _ = self.store.delete(&staged.tmp).await;
    }

    pub async fn size(&self, d: &Digest) -> StorageResult<Option<u64>> {
        match self.store.head(&Self::blob_path(d)).await {
            Ok(m) => Ok(Some(m.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn read_all(&self, d: &Digest) -> StorageResult<Bytes> {
        match self.store.get(&Self::blob_path(d)).await {
            Ok(r) => Ok(r.bytes().await?),
            Err(object_store::Error::NotFound { .. }) => Err(StorageError::NotFound(d.to_string())),
            Err(e) => Err(e.into()),
        }
    }

    /// Opens a blob for reading, whole or a range of it.
    pub async fn open(
        &self,
        d: &Digest,
        range: Option<ByteRange>,
    ) -> StorageResult<futures_util::stream::BoxStream<'static, Result<Bytes, object_store::Error>>>
    {
        let opts = GetOptions {
            range: range.map(|r| GetRange::Bounded(r.start..r.end + 1)),
            ..Default::default()
        };
        let r = match self.store.get_opts(&Self::blob_path(d), opts).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(StorageError::NotFound(d.to_string()));
            }
            Err(e) => return Err(e.into()),
        };
        // The local store's own stream reads 8 KiB per blocking call; reading the file
        // ourselves in large chunks makes blob GETs several times faster.
        let range = r.range.clone();
        match r.payload {
            GetResultPayload::File(file, path) => Ok(file_stream(file, path, range)),
            GetResultPayload::Stream(s) => Ok(s),
        }
    }

    pub async fn delete_blob(&self, d: &Digest) -> StorageResult<()> {
        match self.store.delete(&Self::blob_path(d)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn delete_upload(&self, upload: &str) -> StorageResult<()> {
        let prefix = Path::from(format!("uploads/{upload}"));
        let mut list = self.store.list(Some(&prefix));
        while let Some(meta) = list.next().await {
            match self.store.delete(&meta?.location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Objects under `tmp/` and `uploads/` last written before `cutoff`: leftovers of crashed
    /// requests, for GC.
    pub async fn stale_scratch(&self, cutoff: chrono_free::Timestamp) -> StorageResult<Vec<Path>> {
        let mut out = Vec::new();
        for prefix in ["tmp", "uploads"] {
            let mut list = self.store.list(Some(&Path::from(prefix)));
            while let Some(meta) = list.next().await {
                let meta = meta?;
                if meta.last_modified.timestamp() < cutoff.0 {
                    out.push(meta.location);
                }
            }
        }
        Ok(out)
    }

    pub async fn delete_path(&self, p: &Path) -> StorageResult<()> {
        match self.store.delete(p).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Every finished blob digest in the store (for GC of files no metadata row knows).
    pub async fn list_blobs(&self) -> StorageResult<Vec<(Digest, i64)>> {
        let mut out = Vec::new();
        let mut list = self.store.list(Some(&Path::from("blobs")));
        while let Some(meta) = list.next().await {
            let meta = meta?;
            let parts: Vec<_> = meta
                .location
                .parts()
                .map(|p| p.as_ref().to_string())
                .collect();
            if let [_, alg, _, hex] = parts.as_slice()
                && let Some(d) = Digest::parse(&format!("{alg}:{hex}"))
            {
                out.push((d, meta.last_modified.timestamp()));
            }
        }
        Ok(out)
    }
}

/// Seconds since the Unix epoch; the only clock type the crate needs.
pub mod chrono_free {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    pub struct Timestamp(pub i64);

    /// `secs` since the epoch as RFC 3339 UTC (`2026-11-23T21:54:57Z`), as the token
    /// response's `issued_at` must be (Docker clients parse it).
    pub fn rfc3339(secs: i64) -> String {
        let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        )
    }

    pub fn now() -> Timestamp {
        Timestamp(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0),
        )
    }
}

/// Parses an HTTP `Range: bytes=...` header against a blob of `size` bytes. `Ok(None)` means
/// "no usable range, send everything" (unknown units are ignored, as RFC 9110 allows).
pub fn parse_range(header: &str, size: u64) -> StorageResult<Option<ByteRange>> {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        // Multipart ranges are not supported; serving the whole blob is allowed.
        return Ok(None);
    }
    let (a, b) = spec
        .split_once('-')
        .ok_or(StorageError::RangeNotSatisfiable { size })?;
    let unsat = StorageError::RangeNotSatisfiable { size };
    let r = match (a.trim(), b.trim()) {
        ("", suffix) => {
            let n: u64 = suffix
                .parse()
                .map_err(|_| StorageError::RangeNotSatisfiable { size })?;
            if n == 0 || size == 0 {
                return Err(unsat);
            }
            ByteRange {
                start: size.saturating_sub(n),
                end: size - 1,
            }
        }
        (start, end) => {
            let start: u64 = start
                .parse()
                .map_err(|_| StorageError::RangeNotSatisfiable { size })?;
            let end: u64 = if end.is_empty() {
                size.saturating_sub(1)
            } else {
                end.parse()
                    .map_err(|_| StorageError::RangeNotSatisfiable { size })?
            };
            if start >= size || end < start {
                return Err(unsat);
            }
            ByteRange {
                start,
                end: end.min(size - 1),
            }
        }
    };
    Ok(Some(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(chrono_free::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(chrono_free::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(chrono_free::rfc3339(1_795_470_897), "2026-11-23T21:54:57Z");
    }

    #[test]
    fn ranges() {
        assert_eq!(
            parse_range("bytes=0-9", 100).unwrap(),
            Some(ByteRange { start: 0, end: 9 })
        );
        assert_eq!(
            parse_range("bytes=90-", 100).unwrap(),
            Some(ByteRange { start: 90, end: 99 })
        );
        assert_eq!(
            parse_range("bytes=-10", 100).unwrap(),
            Some(ByteRange { start: 90, end: 99 })
        );
        assert_eq!(
            parse_range("bytes=50-500", 100).unwrap(),
            Some(ByteRange { start: 50, end: 99 })
        );
        assert!(parse_range("bytes=100-", 100).is_err());
        assert!(parse_range("bytes=5-2", 100).is_err());
        assert!(parse_range("bytes=0-0", 0).is_err());
        assert_eq!(parse_range("items=0-1", 100).unwrap(), None);
    }
}
