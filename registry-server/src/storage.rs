//! Blob storage over the `object_store` crate: the local filesystem (default) or any
//! S3-compatible object store ([`BlobStore::s3`]), behind the same calls.
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
//!
//! On S3 the same layout sits under the configured key prefix. Each PATCH is one object
//! (any size: S3's 5 MiB minimum applies only to the parts of one multipart upload); when
//! the upload finishes, its chunks are read back in order, hashed and written as one S3
//! multipart upload of 5 MiB parts into `tmp/`, then copied to `blobs/` (S3 has no rename:
//! copy, then delete). So chunks below 5 MiB are "stitched at the end", and since chunks and
//! session offsets live in S3 and the database, any replica can take the next PATCH or PUT.
//! Anything smaller than one part (a chunk, a small blob) is written with a single PUT, and a
//! blob already under `blobs/` with the same size is not copied over again.
//!
//! The PUT that finishes an upload names the digest; when no metadata row knows it, the
//! blob (the request's body, or the stitched chunks) is streamed on S3 straight to
//! `blobs/` ([`BlobStore::stage_in_place`]):
//! the multipart upload is completed (which is when S3 shows the object) only once the
//! hash matched, and is aborted otherwise. That saves the copy out of `tmp/`, and stays
//! safe against GC because GC can only delete a digest it claimed through a metadata row.

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
    /// Written straight to its place under `blobs/` ([`BlobStore::stage_in_place`]), or
    /// not written at all because the same bytes are stored already: commit has nothing
    /// to move, discard nothing to delete.
    in_place: bool,
    /// Not written: verified against a copy already stored ([`Destination::Stored`]), so
    /// it may be linked only while that copy is live (`Metadata::link_stored_blob`).
    pub already_stored: bool,
}

/// Where the bytes of a blob being received go once verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// `tmp/`, then renamed (or copied) into place on commit.
    Tmp,
    /// Straight to its place under `blobs/` on S3 ([`BlobStore::stage_in_place`]).
    InPlace,
    /// Nowhere: a copy of this size is stored already, and the body is only hashed.
    Stored(u64),
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
/// Parts of one multipart upload sent to S3 at once while the next is read from the
/// client (each up to [`PART_SIZE`] in memory).
const PARTS_IN_FLIGHT: usize = 2;
/// S3's limit for one CopyObject (a bigger object needs a multipart copy).
const COPY_OBJECT_LIMIT: u64 = 5 << 30;
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
pub(crate) fn file_stream(
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
    /// Whether a rename copies the object (S3: copy, then delete) rather than moving it.
    rename_copies: bool,
    /// The largest object a rename may copy server-side (S3's CopyObject takes 5 GiB);
    /// a bigger one is streamed through this process into its place.
    copy_limit: u64,
    /// For presigned GET redirects: the unprefixed S3 store, the key prefix and the URL
    /// lifetime.
    signer: Option<(
        Arc<object_store::aws::AmazonS3>,
        String,
        std::time::Duration,
    )>,
    /// `[storage] cache_dir`: finished blobs read from S3 are kept on local disk too.
    cache: Option<Arc<crate::blob_cache::BlobCache>>,
}

impl BlobStore {
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Self {
            store,
            part_size: PART_SIZE,
            rename_copies: true,
            copy_limit: COPY_OBJECT_LIMIT,
            signer: None,
            cache: None,
        }
    }

    pub fn local(root: &std::path::Path) -> StorageResult<Self> {
        fs_err::create_dir_all(root)?;
        let fs = object_store::local::LocalFileSystem::new_with_prefix(root)?;
        Ok(Self {
            store: Arc::new(fs),
            part_size: LOCAL_PART_SIZE,
            rename_copies: false,
            copy_limit: u64::MAX,
            signer: None,
            cache: None,
        })
    }

    /// Opens an S3 bucket and checks at once that it answers: an unreachable endpoint,
    /// wrong credentials and a missing bucket (created first with `create_bucket`) are
    /// errors here, not at the first push.
    pub async fn s3(cfg: &crate::config::StorageConfig) -> Result<Self, String> {
        use object_store::aws::AmazonS3Builder;
        let bucket = cfg
            .bucket
            .clone()
            .ok_or("[storage] backend = \"s3\" needs `bucket`")?;
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let key_id = cfg
            .access_key_id
            .clone()
            .or_else(|| env(crate::config::env::AWS_ACCESS_KEY_ID));
        let secret = cfg
            .secret_access_key
            .clone()
            .or_else(|| env(crate::config::env::AWS_SECRET_ACCESS_KEY));
        // Only what the config says: no environment scan (AWS_ENDPOINT, ...) behind its back.
        let mut b = AmazonS3Builder::new()
            .with_bucket_name(&bucket)
            .with_region(&cfg.region)
            .with_retry(object_store::RetryConfig {
                backoff: Default::default(),
                max_retries: 3,
                retry_timeout: std::time::Duration::from_secs(20),
            })
            .with_client_options(
                object_store::ClientOptions::new()
                    .with_connect_timeout(std::time::Duration::from_secs(5))
                    .with_timeout(std::time::Duration::from_secs(300)),
            );
        let mut what = format!("bucket `{bucket}`");
        if let Some(ep) = &cfg.endpoint {
            what += &format!(" at {ep}");
            b = b
                .with_endpoint(ep)
                .with_allow_http(ep.starts_with("http://"))
                .with_virtual_hosted_style_request(!cfg.path_style.unwrap_or(true));
        } else {
            what += &format!(" in AWS region {}", cfg.region);
        }
        match (&key_id, &secret) {
            (Some(k), Some(s)) => {
                b = b.with_access_key_id(k).with_secret_access_key(s);
                if let Some(t) = env(crate::config::env::AWS_SESSION_TOKEN) {
                    b = b.with_token(t);
                }
            }
            (None, None) => b = b.with_skip_signature(true),
            _ => return Err("S3 credentials need both an access key id and a secret key".into()),
        }
        let s3 = Arc::new(b.build().map_err(|e| format!("invalid S3 settings: {e}"))?);
        let prefix = cfg
            .prefix
            .as_deref()
            .unwrap_or("")
            .trim_matches('/')
            .to_string();
        let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
            s3.clone()
        } else {
            let inner: Arc<dyn ObjectStore> = s3.clone();
            Arc::new(object_store::prefix::PrefixStore::new(
                inner,
                prefix.as_str(),
            ))
        };
        let me = Self {
            store,
            part_size: PART_SIZE,
            rename_copies: true,
            copy_limit: COPY_OBJECT_LIMIT,
            signer: cfg.redirect.then(|| {
                (
                    s3.clone(),
                    prefix.clone(),
                    std::time::Duration::from_secs(cfg.redirect_ttl_secs),
                )
            }),
            cache: None,
        };
        match me.probe().await {
            Ok(()) => Ok(me),
            Err(e) if is_missing_bucket(&e) && cfg.create_bucket => {
                create_bucket(&s3, cfg, &bucket)
                    .await
                    .map_err(|e| format!("failed to create {what}: {e}"))?;
                me.probe()
                    .await
                    .map_err(|e| format!("S3 {what}: {}", describe_s3_error(&e)))?;
                Ok(me)
            }
            Err(e) if is_missing_bucket(&e) => Err(format!(
                "S3 {what} does not exist (create it, or set `create_bucket = true` under [storage])"
            )),
            Err(e) => Err(format!("S3 {what}: {}", describe_s3_error(&e))),
        }
    }

    /// Keeps finished blobs read from this store in a local cache as well.
    pub fn with_cache(mut self, cache: Arc<crate::blob_cache::BlobCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    pub fn cache(&self) -> Option<&Arc<crate::blob_cache::BlobCache>> {
        self.cache.as_ref()
    }

    /// One cheap request that needs the bucket and the credentials.
    async fn probe(&self) -> Result<(), object_store::Error> {
        self.store
            .list_with_delimiter(Some(&Path::from("blobs")))
            .await
            .map(|_| ())
    }

    /// A presigned URL for a blob GET, when `redirect` is on.
    pub async fn presigned_get(&self, d: &Digest) -> StorageResult<Option<String>> {
        use object_store::signer::Signer;
        let Some((s3, prefix, ttl)) = &self.signer else {
            return Ok(None);
        };
        let key = Self::blob_path(d);
        let key = if prefix.is_empty() {
            key
        } else {
            Path::from(format!("{prefix}/{key}"))
        };
        let url = s3.signed_url(http::Method::GET, &key, *ttl).await?;
        Ok(Some(url.to_string()))
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

    /// Streams `body` into a new object at `path`, feeding every byte to `hasher` when
    /// there is one. With `expected`, the object is created only if the hash then matches
    /// it (a [`StorageError::DigestMismatch`] otherwise). Returns the number of bytes
    /// written; on any error the object is not created.
    async fn write_stream<S, E>(
        &self,
        path: &Path,
        body: S,
        mut hasher: Option<&mut Hasher>,
        expected: Option<&Digest>,
    ) -> StorageResult<u64>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        // Whether what was hashed is what the caller expects, before the object exists.
        let check = |hasher: &Option<&mut Hasher>| match (hasher, expected) {
            (Some(h), Some(want)) => {
                let actual = (**h).clone().finish();
                if actual == *want {
                    Ok(())
                } else {
                    Err(StorageError::DigestMismatch {
                        expected: want.to_string(),
                        actual: actual.to_string(),
                    })
                }
            }
            _ => Ok(()),
        };
        let mut body = std::pin::pin!(body);
        let mut n = 0u64;
        // A body smaller than one part goes up in one PUT: a multipart upload costs three
        // requests (create, part, complete), and S3 servers assemble it on completion.
        let mut head = Vec::new();
        let mut head_len = 0usize;
        while head_len < self.part_size {
            match body.next().await {
                None => {
                    check(&hasher)?;
                    self.store
                        .put(path, head.into_iter().collect::<object_store::PutPayload>())
                        .await?;
                    return Ok(n);
                }
                Some(Err(e)) => return Err(StorageError::Body(e.to_string())),
                Some(Ok(chunk)) => {
                    if let Some(h) = hasher.as_mut() {
                        h.update(&chunk);
                    }
                    n += chunk.len() as u64;
                    head_len += chunk.len();
                    head.push(chunk);
                }
            }
        }
        let upload = self.store.put_multipart(path).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, self.part_size);
        for chunk in head {
            if let Err(e) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
                return Err(e.into());
            }
            writer.put(chunk);
        }
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(StorageError::Body(e.to_string()));
                }
            };
            if let Some(h) = hasher.as_mut() {
                h.update(&chunk);
            }
            n += chunk.len() as u64;
            if let Err(e) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
                return Err(e.into());
            }
            writer.put(chunk);
        }
        if let Err(e) = check(&hasher) {
            let _ = writer.abort().await;
            return Err(e);
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
        self.write_stream(&Self::part_path(upload, part), body, None, None)
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
        let size = self
            .write_stream(&tmp, body, Some(&mut hasher), None)
            .await?;
        self.verify(tmp, hasher, size, expected).await
    }

    /// Where a rename is a copy (S3): streams a blob whose digest the client named up
    /// front straight to its place under `blobs/`, hashing as it goes, and creates the
    /// object (completes the multipart upload, which S3 shows only then) only when the
    /// digest matches. Saves the copy out of `tmp/`. Elsewhere, [`BlobStore::stage_stream`].
    ///
    /// Only for a digest no metadata row knows: GC then cannot have claimed it, and
    /// cannot claim it before it is linked (a claim needs a row older than the grace
    /// period), so GC's deletion of an older copy can never remove this one (gc.rs).
    pub async fn stage_in_place<S, E>(&self, body: S, expected: &Digest) -> StorageResult<Staged>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        if !self.rename_copies {
            return self.stage_stream(body, expected).await;
        }
        let path = Self::blob_path(expected);
        let mut hasher = Hasher::new(expected.algorithm());
        let size = self
            .write_stream(&path, body, Some(&mut hasher), Some(expected))
            .await?;
        Ok(Staged {
            tmp: path,
            digest: expected.clone(),
            size,
            in_place: true,
            already_stored: false,
        })
    }

    /// Receives a blob into `dest`.
    pub async fn stage<S, E>(
        &self,
        body: S,
        expected: &Digest,
        dest: Destination,
    ) -> StorageResult<Staged>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        match dest {
            Destination::Tmp => self.stage_stream(body, expected).await,
            Destination::InPlace => self.stage_in_place(body, expected).await,
            Destination::Stored(size) => self.stage_nowhere(body, expected, size).await,
        }
    }

    /// For a digest stored already with `stored` bytes: hashes the body and writes it
    /// nowhere. Many pushes of one blob (the same layer to several repositories, a CI
    /// pushing again what it pushed before) then cost one write to the store, not one
    /// each; the caller links the blob only if the stored copy is still live.
    async fn stage_nowhere<S, E>(
        &self,
        body: S,
        expected: &Digest,
        stored: u64,
    ) -> StorageResult<Staged>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let mut body = std::pin::pin!(body);
        let mut hasher = Hasher::new(expected.algorithm());
        let mut size = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| StorageError::Body(e.to_string()))?;
            hasher.update(&chunk);
            size += chunk.len() as u64;
        }
        let actual = hasher.finish();
        if &actual != expected {
            return Err(StorageError::DigestMismatch {
                expected: expected.to_string(),
                actual: actual.to_string(),
            });
        }
        if size != stored {
            // Same digest, another length: the stored copy is not what its name says.
            return Err(StorageError::SizeMismatch {
                expected: stored,
                actual: size,
            });
        }
        Ok(Staged {
            tmp: Self::blob_path(expected),
            digest: actual,
            size,
            in_place: true,
            already_stored: true,
        })
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
            in_place: false,
            already_stored: false,
        })
    }

    /// Concatenates the committed chunks of an upload (at `offsets`, in order) into `dest`
    /// and verifies the digest ([`Destination::InPlace`] for a digest no metadata row knows;
    /// [`Destination::Stored`] reads them only to hash them). The chunks
    /// stay until [`BlobStore::delete_upload`], so a failed verification loses nothing the
    /// client sent.
    pub async fn stage_upload(
        &self,
        upload: &str,
        chunks: &[String],
        expected: &Digest,
        dest: Destination,
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
        self.stage(parts, expected, dest).await
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
            in_place: false,
            already_stored: false,
        })
    }

    /// Moves a verified blob into place. Content-addressing makes a concurrent commit of the
    /// same digest harmless: both renames install identical bytes. Where a rename is a copy
    /// of the whole object (S3), a blob already in place with the same size is kept and
    /// the new copy dropped, as distribution does: 32 clients pushing one blob cost one
    /// server-side copy, not 32.
    pub async fn commit(&self, staged: Staged) -> StorageResult<()> {
        if staged.in_place {
            return Ok(());
        }
        if self.rename_copies
            && let Ok(m) = self.store.head(&Self::blob_path(&staged.digest)).await
            && m.size == staged.size
        {
            let _ = self.store.delete(&staged.tmp).await;
            return Ok(());
        }
        if self.rename_copies && staged.size > self.copy_limit {
            // Too big for one server-side copy: read it back and write it into place as a
            // multipart upload, which S3 shows only once it is complete.
            let body = self.store.get(&staged.tmp).await?.into_stream();
            self.write_stream(&Self::blob_path(&staged.digest), body, None, None)
                .await?;
            let _ = self.store.delete(&staged.tmp).await;
            return Ok(());
        }
        self.store
            .rename(&staged.tmp, &Self::blob_path(&staged.digest))
            .await?;
        Ok(())
    }

    /// Whether committing a staged blob copies it (S3), which
    /// [`BlobStore::stage_in_place`] avoids.
    pub fn copies_on_commit(&self) -> bool {
        self.rename_copies
    }

    /// Lowers the server-side copy limit, so tests reach the streamed path with small
    /// blobs.
    #[cfg(test)]
    pub fn with_copy_limit(mut self, limit: u64) -> Self {
        self.copy_limit = limit;
        self
    }

    /// Drops a staged blob that will not be linked. One written in place stays: a
    /// concurrent push of the same digest may have linked it meanwhile, and GC's orphan
    /// sweep removes it after the grace period if nothing did.
    pub async fn discard(&self, staged: Staged) {
        if !staged.in_place {
            let _ = self.store.delete(&staged.tmp).await;
        }
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

    /// Opens a blob for reading, whole or a range of it: from the local cache when it
    /// holds the blob, else from the store (a whole blob then fills the cache on the way).
    pub async fn open(
        &self,
        d: &Digest,
        range: Option<ByteRange>,
    ) -> StorageResult<futures_util::stream::BoxStream<'static, Result<Bytes, object_store::Error>>>
    {
        if let Some(c) = &self.cache
            && let Some(s) = c.get(d, range)
        {
            return Ok(s);
        }
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
        let size = r.meta.size;
        match r.payload {
            GetResultPayload::File(file, path) => Ok(file_stream(file, path, range)),
            GetResultPayload::Stream(s) => match (&self.cache, range.start, range.end) {
                (Some(c), 0, end) if end == size => Ok(c.fill(d, size, s)),
                _ => Ok(s),
            },
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

fn error_text(e: &object_store::Error) -> String {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        let t = s.to_string();
        if !msg.contains(&t) {
            msg = format!("{msg}: {t}");
        }
        src = s.source();
    }
    msg
}

fn is_missing_bucket(e: &object_store::Error) -> bool {
    error_text(e).contains("NoSuchBucket")
}

/// Names the usual start-up failures plainly; the store's own message follows.
fn describe_s3_error(e: &object_store::Error) -> String {
    let text = error_text(e);
    let kind = if [
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AccessDenied",
        "403",
    ]
    .iter()
    .any(|k| text.contains(k))
    {
        "wrong credentials (or no access to the bucket)"
    } else if ["connect", "Connection refused", "dns error", "timed out"]
        .iter()
        .any(|k| text.contains(k))
    {
        "unreachable"
    } else {
        "failed"
    };
    format!("{kind}: {text}")
}

/// `PUT /<bucket>` (CreateBucket), signed as a presigned request by the store itself so that
/// no second S3 client is needed.
async fn create_bucket(
    s3: &object_store::aws::AmazonS3,
    cfg: &crate::config::StorageConfig,
    bucket: &str,
) -> Result<(), String> {
    let signed = cfg.access_key_id.is_some()
        || std::env::var(crate::config::env::AWS_ACCESS_KEY_ID).is_ok_and(|v| !v.is_empty());
    let url = if signed {
        use object_store::signer::Signer;
        s3.signed_url(
            http::Method::PUT,
            &Path::from(""),
            std::time::Duration::from_secs(60),
        )
        .await
        .map_err(|e| e.to_string())?
        .to_string()
    } else {
        let ep = cfg
            .endpoint
            .as_deref()
            .map(|e| e.trim_end_matches('/').to_string())
            .unwrap_or_else(|| format!("https://s3.{}.amazonaws.com", cfg.region));
        format!("{ep}/{bucket}")
    };
    let body = if cfg.region != "us-east-1" {
        format!(
            "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>",
            cfg.region
        )
    } else {
        String::new()
    };
    let resp = reqwest::Client::new()
        .put(url)
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let text = resp.text().await.unwrap_or_default();
    if text.contains("BucketAlreadyOwnedByYou") {
        return Ok(());
    }
    Err(format!("{status}: {text}"))
}

/// How a storage failure is answered: the OCI envelope for what the client got wrong, a bare
/// `500` (logged) for the rest.
impl From<StorageError> for crate::error::ApiError {
    fn from(e: StorageError) -> Self {
        use crate::error::ErrorCode;
        use StorageError as S;
        use axum::http::header;
        use serde_json::json;
        match e {
            S::NotFound(d) => Self::blob_unknown(&d),
            S::DigestMismatch { expected, actual } => {
                Self::digest_invalid("provided digest did not match uploaded content")
                    .with_detail(json!({ "expected": expected, "actual": actual }))
            }
            S::RangeNotSatisfiable { size } => {
                Self::new(ErrorCode::RangeInvalid, "requested range not satisfiable")
                    .with_header(header::CONTENT_RANGE, &format!("bytes */{size}"))
            }
            S::SizeMismatch { expected, actual } => {
                Self::new(ErrorCode::SizeInvalid, "content length does not match")
                    .with_detail(json!({ "expected": expected, "actual": actual }))
            }
            S::Body(msg) => Self::new(ErrorCode::BlobUploadInvalid, "failed to read request body")
                .with_detail(json!({ "reason": msg })),
            other => Self::internal("storage failure", other),
        }
    }
}

/// Seconds since the Unix epoch, the only clock type the crate needs, and its RFC 3339 form.
pub mod chrono_free {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    pub struct Timestamp(pub i64);

    /// `secs` since the epoch as RFC 3339 UTC (`2026-11-23T21:54:57Z`), as the token
    /// response's `issued_at` must be (Docker clients parse it). Times before the epoch
    /// are shown as the epoch.
    pub fn rfc3339(secs: i64) -> String {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs.max(0) as u64);
        humantime::format_rfc3339_seconds(t).to_string()
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

/// The storage suite: every function takes a fresh, empty store and checks one contract;
/// it runs against the filesystem and, with `WCOMP_TEST_S3` set (scripts/seaweedfs.sh), a
/// real S3 server.
#[cfg(test)]
mod suite {
    use super::*;
    use crate::oci::Algorithm;

    type Body = futures_util::stream::Iter<std::vec::IntoIter<Result<Bytes, std::io::Error>>>;

    fn body(parts: &[&[u8]]) -> Body {
        futures_util::stream::iter(
            parts
                .iter()
                .map(|p| Ok(Bytes::copy_from_slice(p)))
                .collect::<Vec<_>>(),
        )
    }

    async fn read(s: &BlobStore, d: &Digest, r: Option<ByteRange>) -> Vec<u8> {
        let mut out = Vec::new();
        let mut st = s.open(d, r).await.unwrap();
        while let Some(c) = st.next().await {
            out.extend_from_slice(&c.unwrap());
        }
        out
    }

    pub async fn a_verified_blob_becomes_visible_only_on_commit(s: BlobStore) {
        let data = vec![7u8; 300_000];
        let d = Digest::of(Algorithm::Sha256, &data);
        let staged = s.stage_stream(body(&[&data]), &d).await.unwrap();
        assert_eq!(s.size(&d).await.unwrap(), None, "not visible before commit");
        s.commit(staged).await.unwrap();
        assert_eq!(s.size(&d).await.unwrap(), Some(300_000));
        assert_eq!(read(&s, &d, None).await, data);
        assert_eq!(
            read(&s, &d, Some(ByteRange { start: 10, end: 19 })).await,
            vec![7u8; 10]
        );
        assert_eq!(s.list_blobs().await.unwrap().len(), 1);
        s.delete_blob(&d).await.unwrap();
        assert_eq!(s.size(&d).await.unwrap(), None);
        assert!(matches!(
            s.open(&d, None).await,
            Err(StorageError::NotFound(_))
        ));
    }

    pub async fn a_wrong_digest_leaves_nothing(s: BlobStore) {
        let d = Digest::of(Algorithm::Sha256, b"other");
        assert!(matches!(
            s.stage_stream(body(&[b"data"]), &d).await,
            Err(StorageError::DigestMismatch { .. })
        ));
        assert_eq!(s.size(&d).await.unwrap(), None);
        assert!(
            s.stale_scratch(chrono_free::Timestamp(i64::MAX))
                .await
                .unwrap()
                .is_empty(),
            "the staged object was removed"
        );
    }

    /// Chunks of any size (here 1 byte to 6 MiB, across S3's 5 MiB part size) are stitched
    /// in order into one verified blob.
    pub async fn chunks_are_stitched_in_order(s: BlobStore) {
        let sizes = [1usize, 6 * 1024 * 1024 + 3, 100, 5 * 1024 * 1024];
        let mut all = Vec::new();
        let mut names = Vec::new();
        for (i, n) in sizes.iter().enumerate() {
            let chunk: Vec<u8> = (0..*n).map(|j| (i * 31 + j % 251) as u8).collect();
            let name = BlobStore::new_part_name(all.len() as u64);
            let written = s.write_chunk("u1", &name, body(&[&chunk])).await.unwrap();
            assert_eq!(written, *n as u64);
            all.extend_from_slice(&chunk);
            names.push(name);
        }
        let d = Digest::of(Algorithm::Sha256, &all);
        // Stitched into tmp/ and committed, then (the blob deleted) stitched in place; a
        // wrong digest in place leaves nothing.
        let staged = s
            .stage_upload("u1", &names, &d, Destination::Tmp)
            .await
            .unwrap();
        assert_eq!(staged.size, all.len() as u64);
        s.commit(staged).await.unwrap();
        assert_eq!(read(&s, &d, None).await, all);
        s.delete_blob(&d).await.unwrap();
        let wrong = Digest::of(Algorithm::Sha256, b"other");
        assert!(
            s.stage_upload("u1", &names, &wrong, Destination::InPlace)
                .await
                .is_err()
        );
        assert!(s.list_blobs().await.unwrap().is_empty());
        let staged = s
            .stage_upload("u1", &names, &d, Destination::InPlace)
            .await
            .unwrap();
        s.commit(staged).await.unwrap();
        assert_eq!(read(&s, &d, None).await, all);
        s.delete_upload("u1").await.unwrap();
        let left = s
            .stale_scratch(chrono_free::Timestamp(i64::MAX))
            .await
            .unwrap();
        assert!(left.is_empty(), "{left:?}");
    }

    /// The same blob pushed twice at once (two staged copies, both committed): one blob,
    /// the right bytes, no scratch object left, whether the second commit renames over the
    /// first (files) or drops its copy (S3).
    pub async fn a_blob_committed_twice_is_stored_once(s: BlobStore) {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
        let d = Digest::of(Algorithm::Sha256, &data);
        let first = s.stage_stream(body(&[&data]), &d).await.unwrap();
        let second = s
            .stage_stream(body(&[&data[..1000], &data[1000..]]), &d)
            .await
            .unwrap();
        s.commit(first).await.unwrap();
        s.commit(second).await.unwrap();
        assert_stored_once(&s, &d, &data).await;
    }

    /// A blob over the server-side copy limit (5 GiB on S3; lowered here) is streamed into
    /// place: the same bytes, no scratch object left.
    pub async fn a_blob_too_big_to_copy_is_streamed_into_place(s: BlobStore) {
        let s = s.with_copy_limit(1000);
        let data: Vec<u8> = (0..(PART_SIZE as u32 + 300_000))
            .map(|i| (i % 251) as u8)
            .collect();
        let d = Digest::of(Algorithm::Sha256, &data);
        let staged = s
            .stage_stream(body(&[&data[..PART_SIZE / 2], &data[PART_SIZE / 2..]]), &d)
            .await
            .unwrap();
        s.commit(staged).await.unwrap();
        assert_stored_once(&s, &d, &data).await;
    }

    /// A blob written in place (S3; elsewhere through `tmp/`) exists only when its digest
    /// matched, small (one PUT) or large (a multipart upload, aborted on a mismatch).
    pub async fn a_blob_written_in_place_exists_only_when_its_digest_matches(s: BlobStore) {
        for len in [1000usize, PART_SIZE * 2 + 12_345] {
            let data: Vec<u8> = (0..len as u32).map(|i| (i % 247) as u8).collect();
            let d = Digest::of(Algorithm::Sha256, &data);
            let wrong = Digest::of(Algorithm::Sha256, b"something else");
            let half = len / 2;
            let err = s
                .stage_in_place(body(&[&data[..half], &data[half..]]), &wrong)
                .await
                .unwrap_err();
            assert!(matches!(err, StorageError::DigestMismatch { .. }), "{err}");
            assert_eq!(s.size(&wrong).await.unwrap(), None);
            assert_eq!(s.size(&d).await.unwrap(), None);
            assert!(s.list_blobs().await.unwrap().is_empty());
            let staged = s
                .stage_in_place(body(&[&data[..half], &data[half..]]), &d)
                .await
                .unwrap();
            assert_eq!(staged.size, len as u64);
            s.commit(staged).await.unwrap();
            assert_stored_once(&s, &d, &data).await;
            s.delete_blob(&d).await.unwrap();
        }
    }

    /// `d` reads back as `data`, it is the only blob, and no scratch object is left.
    async fn assert_stored_once(s: &BlobStore, d: &Digest, data: &[u8]) {
        assert_eq!(read(s, d, None).await, data);
        assert_eq!(s.list_blobs().await.unwrap().len(), 1);
        let left = s
            .stale_scratch(chrono_free::Timestamp(i64::MAX))
            .await
            .unwrap();
        assert!(left.is_empty(), "{left:?}");
    }

    pub async fn a_blob_stored_already_is_only_hashed(s: BlobStore) {
        let data = vec![3u8; 200_000];
        let d = Digest::of(Algorithm::Sha256, &data);
        let first = s.stage_stream(body(&[&data]), &d).await.unwrap();
        s.commit(first).await.unwrap();
        let wrong = Digest::of(Algorithm::Sha256, b"other");
        assert!(matches!(
            s.stage(body(&[&data]), &wrong, Destination::Stored(200_000))
                .await,
            Err(StorageError::DigestMismatch { .. })
        ));
        assert!(matches!(
            s.stage(body(&[&data]), &d, Destination::Stored(199_999))
                .await,
            Err(StorageError::SizeMismatch { .. })
        ));
        let again = s
            .stage(
                body(&[&data[..1000], &data[1000..]]),
                &d,
                Destination::Stored(200_000),
            )
            .await
            .unwrap();
        assert!(again.already_stored);
        assert_eq!(again.size, 200_000);
        s.commit(again).await.unwrap();
        assert_stored_once(&s, &d, &data).await;
    }

    pub async fn an_empty_blob_round_trips(s: BlobStore) {
        let d = Digest::of(Algorithm::Sha256, b"");
        let staged = s.stage_bytes(Bytes::new(), &d).await.unwrap();
        s.commit(staged).await.unwrap();
        assert_eq!(s.size(&d).await.unwrap(), Some(0));
        assert!(read(&s, &d, None).await.is_empty());
    }

    macro_rules! storage_suite {
        ($make:expr; $($case:ident),* $(,)?) => {
            $(
                #[tokio::test]
                async fn $case() {
                    let Some((store, _keep)) = ($make) else { return };
                    super::$case(store).await;
                }
            )*
        };
    }

    /// A store that streams (as S3 does) with a cache: the first whole read fills the
    /// cache, later ones (whole or ranged) are served by it even once the object is gone;
    /// a ranged read of an uncached blob does not fill.
    #[tokio::test]
    async fn whole_reads_fill_the_local_cache_and_ranged_reads_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let mem: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
        let cache = crate::blob_cache::BlobCache::open(dir.path(), 1 << 30).unwrap();
        let s = BlobStore::new(mem.clone()).with_cache(cache.clone());
        let data: Vec<u8> = (0..400_000u32).map(|i| i as u8).collect();
        let d = Digest::of(Algorithm::Sha256, &data);
        let staged = s.stage_stream(body(&[&data]), &d).await.unwrap();
        s.commit(staged).await.unwrap();
        let r = ByteRange { start: 10, end: 19 };
        assert_eq!(read(&s, &d, Some(r)).await, &data[10..20]);
        assert_eq!(cache.usage(), (0, 0), "a ranged read does not fill");
        assert_eq!(read(&s, &d, None).await, data);
        assert_eq!(cache.usage(), (400_000, 1));
        mem.delete(&BlobStore::blob_path(&d)).await.unwrap();
        assert_eq!(read(&s, &d, None).await, data);
        assert_eq!(read(&s, &d, Some(r)).await, &data[10..20]);
        assert_eq!(cache.hits.load(std::sync::atomic::Ordering::Relaxed), 2);
    }

    mod fs {
        storage_suite!(
            {
                let dir = tempfile::tempdir().unwrap();
                Some((super::BlobStore::local(dir.path()).unwrap(), dir))
            };
            a_verified_blob_becomes_visible_only_on_commit, a_wrong_digest_leaves_nothing,
            chunks_are_stitched_in_order, an_empty_blob_round_trips,
            a_blob_committed_twice_is_stored_once, a_blob_too_big_to_copy_is_streamed_into_place,
            a_blob_written_in_place_exists_only_when_its_digest_matches,
            a_blob_stored_already_is_only_hashed);
    }

    mod s3 {
        storage_suite!(
            crate::storage::test_s3::bucket().await.map(|s| (s, ()));
            a_verified_blob_becomes_visible_only_on_commit, a_wrong_digest_leaves_nothing,
            chunks_are_stitched_in_order, an_empty_blob_round_trips,
            a_blob_committed_twice_is_stored_once, a_blob_too_big_to_copy_is_streamed_into_place,
            a_blob_written_in_place_exists_only_when_its_digest_matches,
            a_blob_stored_already_is_only_hashed);
    }
}

/// A fresh bucket on the S3 server named by `WCOMP_TEST_S3` (scripts/seaweedfs.sh), with the
/// credentials that script configures.
#[cfg(test)]
pub mod test_s3 {
    /// The identity scripts/seaweedfs.sh configures.
    pub const ACCESS_KEY: &str = "wcomp-test";
    pub const SECRET_KEY: &str = "wcomp-test-secret";

    /// The bucket the suites share; each test gets a prefix of its own (SeaweedFS gives
    /// every bucket volumes of its own, so a bucket per test would exhaust them).
    pub const BUCKET: &str = "wcomp-tests";

    pub fn config(bucket: &str) -> Option<crate::config::StorageConfig> {
        let endpoint = match std::env::var("WCOMP_TEST_S3") {
            Ok(u) if !u.is_empty() => u,
            _ => {
                assert!(
                    !std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0"),
                    "CI is set but WCOMP_TEST_S3 is not: the S3 suite must run (scripts/seaweedfs.sh starts a server)"
                );
                eprintln!("skipped: WCOMP_TEST_S3 is not set");
                return None;
            }
        };
        Some(crate::config::StorageConfig {
            backend: crate::config::StorageBackend::S3,
            bucket: Some(bucket.into()),
            endpoint: Some(endpoint),
            prefix: Some(format!("t-{}/", uuid::Uuid::new_v4().simple())),
            access_key_id: Some(ACCESS_KEY.into()),
            secret_access_key: Some(SECRET_KEY.into()),
            create_bucket: true,
            ..Default::default()
        })
    }

    pub async fn bucket() -> Option<super::BlobStore> {
        let cfg = config(BUCKET)?;
        Some(super::BlobStore::s3(&cfg).await.unwrap())
    }
}

#[cfg(test)]
mod s3_startup {
    use super::*;

    #[tokio::test]
    async fn an_unreachable_endpoint_is_named() {
        let cfg = crate::config::StorageConfig {
            backend: crate::config::StorageBackend::S3,
            bucket: Some("b".into()),
            endpoint: Some("http://127.0.0.1:1".into()),
            access_key_id: Some("k".into()),
            secret_access_key: Some("s".into()),
            ..Default::default()
        };
        let err = BlobStore::s3(&cfg).await.err().unwrap();
        assert!(err.contains("bucket `b` at http://127.0.0.1:1"), "{err}");
        assert!(err.contains("unreachable"), "{err}");
        assert!(!err.contains("\"s\""), "{err}");
    }

    #[tokio::test]
    async fn a_missing_bucket_and_wrong_credentials_are_named() {
        let name = format!("t-{}", uuid::Uuid::new_v4().simple());
        let Some(mut cfg) = test_s3::config(&name) else {
            return;
        };
        cfg.create_bucket = false;
        let err = BlobStore::s3(&cfg).await.err().unwrap();
        assert!(err.contains("does not exist"), "{err}");
        assert!(err.contains("create_bucket"), "{err}");
        cfg.create_bucket = true;
        BlobStore::s3(&cfg).await.unwrap();
        cfg.secret_access_key = Some("wrong".into());
        let err = BlobStore::s3(&cfg).await.err().unwrap();
        assert!(err.contains("wrong credentials"), "{err}");
        assert!(!err.contains("wrong\""), "the secret is not shown: {err}");
    }
}
