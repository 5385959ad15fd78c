//! Metadata: everything except blob bytes, behind the one [`Metadata`] trait.
//!
//! The trait is shaped so that every invariant the protocol depends on is decided inside one
//! backend call (one transaction), never by a handler doing read-then-write:
//! * [`Metadata::put_manifest`] checks that every referenced blob and child manifest is linked
//!   to the repository and alive, and records the references, atomically. Together with
//!   [`Metadata::gc_mark`] (which only takes unreferenced blobs older than the grace period)
//!   this is what keeps GC from deleting a blob a concurrent push is about to reference; see
//!   `gc.rs` for the whole argument.
//! * [`Metadata::advance_upload`] is a compare-and-set on the upload offset, so two PATCHes
//!   racing on one session cannot both succeed.
//!
//! Backends: [`sqlite::SqliteMetadata`] (embedded default) and [`postgres::PostgresMetadata`]
//! (for several replicas). [`suite`] is the shared backend test suite; both run all of it.
//!
//! Schemas are versioned ([`migrations`]): each backend keeps a `schema_version` row, applies
//! the steps it is missing on open, and refuses a database written by a newer wcomp-registry.

pub mod migrations;
pub mod postgres;
pub mod sqlite;
pub mod suite;

use crate::oci::Digest;
use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("manifest references unknown blobs or manifests: {0:?}")]
    BlobsMissing(Vec<String>),
    #[error("tag `{tag}` already points at {digest}")]
    TagExists { tag: String, digest: String },
    #[error("upload offset mismatch: the upload is at {expected}")]
    UploadOffset { expected: u64 },
    #[error("upload session unknown")]
    UploadUnknown,
    #[error("`{owner}` already has {limit} upload sessions open")]
    TooManyUploads { owner: String, limit: u64 },
    #[error("blob {0} is being garbage-collected")]
    BlobBeingDeleted(String),
    #[error("{0} already exists")]
    Conflict(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("metadata backend: {0}")]
    Backend(String),
    #[error(
        "the database has schema version {found}, newer than the {supported} this wcomp-registry understands: upgrade wcomp-registry (or restore a backup made before the upgrade)"
    )]
    SchemaTooNew { found: i64, supported: i64 },
}

/// How a metadata failure is answered: the OCI envelope for what the client got wrong, a
/// bare `500` (logged) for the rest.
impl From<MetaError> for crate::error::ApiError {
    fn from(e: MetaError) -> Self {
        use crate::error::ErrorCode;
        use MetaError as M;
        use axum::http::header;
        use serde_json::json;
        match e {
            M::BlobsMissing(digests) => Self::new(
                ErrorCode::ManifestBlobUnknown,
                "manifest references a blob or manifest unknown to this repository",
            )
            .with_detail(json!({ "digests": digests })),
            M::TagExists { tag, digest } => {
                Self::denied("tag already exists and the caller may not overwrite it")
                    .with_detail(json!({ "tag": tag, "digest": digest }))
            }
            M::UploadOffset { expected } => Self::new(
                ErrorCode::RangeInvalid,
                "chunk does not start at the end of the upload",
            )
            .with_header(header::RANGE, &crate::error::upload_range(expected)),
            M::UploadUnknown => Self::upload_unknown(),
            M::TooManyUploads { limit, .. } => Self::new(
                ErrorCode::QuotaExceeded,
                "too many open upload sessions; finish or cancel some first",
            )
            .with_detail(json!({ "limit": limit })),
            M::BlobBeingDeleted(d) => Self::new(
                ErrorCode::TooManyRequests,
                "blob is being garbage-collected; retry shortly",
            )
            .with_detail(json!({ "digest": d }))
            .with_header(header::RETRY_AFTER, "1"),
            other => Self::internal("metadata failure", other),
        }
    }
}

pub type MetaResult<T> = Result<T, MetaError>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestRecord {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
}

/// What [`Metadata::put_manifest`] stores.
#[derive(Debug, Clone)]
pub struct NewManifest {
    pub repo: String,
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
    pub artifact_type: Option<String>,
    pub subject: Option<Digest>,
    /// The manifest's `annotations`, JSON, for the referrers list.
    pub annotations: Option<String>,
    /// Blobs that must be live in `repo` (else [`MetaError::BlobsMissing`]).
    pub blobs: Vec<Digest>,
    /// Non-distributable layers: not required to exist, but referenced like `blobs` so that
    /// GC keeps them if they were (or later are) pushed.
    pub foreign: Vec<Digest>,
    pub children: Vec<Digest>,
    pub tag: Option<String>,
    /// Whether an existing tag may be moved to another digest (push vs create-only rights).
    pub may_overwrite_tag: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referrer {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
    pub artifact_type: Option<String>,
    pub annotations: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadSession {
    pub id: String,
    pub repo: String,
    /// The identity that opened the session (`handlers::uploads::owner_of`); nobody else
    /// may see or use it.
    pub owner: String,
    /// Bytes committed so far (the sum of the chunk sizes).
    pub offset: u64,
    pub updated_at: i64,
}

/// An API token as stored (its SHA-256, never the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub hash: String,
    pub user: String,
    pub description: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub password_hash: String,
    pub admin: bool,
}

/// A grant of `actions` on the repositories matching `pattern` to `subject`
/// (`user:<name>` or `anonymous`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: i64,
    pub subject: String,
    pub pattern: String,
    pub actions: Vec<String>,
}

/// What GC found to remove in one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcPlan {
    pub blobs: Vec<Digest>,
    pub uploads: Vec<String>,
}

/// One row of the component index: a manifest whose layer is a Wasm component.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ComponentEntry {
    pub repo: String,
    pub manifest: String,
    pub package: Option<String>,
    pub version: Option<String>,
    pub world: Option<String>,
    /// `(interface, version)`, e.g. `("wasi:http/incoming-handler", "0.2.0")`.
    pub imports: Vec<(String, String)>,
    pub exports: Vec<(String, String)>,
}

/// A tag as the web interface's repository page lists it (`ui/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagDetail {
    pub tag: String,
    pub digest: String,
    pub media_type: String,
    pub size: u64,
    pub artifact_type: Option<String>,
    /// When the tag was last pushed (seconds since the epoch).
    pub updated_at: i64,
    /// Whether the component index has the tagged manifest.
    pub component: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ComponentQuery {
    pub exports: Option<String>,
    pub imports: Option<String>,
    pub package: Option<String>,
    pub limit: u32,
}

#[async_trait]
pub trait Metadata: Send + Sync + 'static {
    // --- repositories -----------------------------------------------------------------
    async fn repo_exists(&self, repo: &str) -> MetaResult<bool>;
    /// Repository names after `last`, sorted, at most `n`.
    async fn list_repos(&self, last: Option<&str>, n: u32) -> MetaResult<Vec<String>>;
    /// As [`Metadata::list_repos`], only names matching at least one of `patterns`
    /// ([`crate::pattern::glob_match`]; [`crate::pattern::glob_to_regex`] translates one for a
    /// database). The catalog of a caller who may see few repositories filters here, in the
    /// query, rather than walking every repository.
    async fn list_repos_matching(
        &self,
        patterns: &[String],
        last: Option<&str>,
        n: u32,
    ) -> MetaResult<Vec<String>>;
    /// The summed size of the distinct live blobs linked to repositories matching `pattern`
    /// (a blob in two of them counts once), plus what the open upload sessions of those
    /// repositories hold: a namespace's storage use, for its quota.
    async fn namespace_usage(&self, pattern: &str) -> MetaResult<u64>;

    // --- blobs ------------------------------------------------------------------------
    /// Records that a verified blob exists and links it to `repo`, refreshing its GC clock.
    /// Fails with [`MetaError::BlobBeingDeleted`] while GC is removing that digest; the
    /// caller must not install the file then.
    async fn link_blob(&self, repo: &str, digest: &Digest, size: u64, now: i64) -> MetaResult<()>;
    /// Links a blob that is already stored: only when a live row of that size exists (not
    /// being deleted), and returns whether it did; otherwise nothing changes. For an
    /// upload whose bytes were verified against the stored copy and not written again.
    async fn link_stored_blob(
        &self,
        repo: &str,
        digest: &Digest,
        size: u64,
        now: i64,
    ) -> MetaResult<bool>;
    /// The size of a blob linked to `repo`, if any (and not being deleted).
    async fn repo_blob(&self, repo: &str, digest: &Digest) -> MetaResult<Option<u64>>;
    /// Repositories a blob is linked to (for mounts without `from`).
    async fn blob_repos(&self, digest: &Digest) -> MetaResult<Vec<String>>;
    /// Removes a repository's link; `false` if there was none.
    async fn unlink_blob(&self, repo: &str, digest: &Digest) -> MetaResult<bool>;

    // --- manifests and tags -----------------------------------------------------------
    async fn put_manifest(&self, m: NewManifest, now: i64) -> MetaResult<()>;
    async fn get_manifest_by_digest(
        &self,
        repo: &str,
        digest: &Digest,
    ) -> MetaResult<Option<ManifestRecord>>;
    async fn get_manifest_by_tag(
        &self,
        repo: &str,
        tag: &str,
    ) -> MetaResult<Option<ManifestRecord>>;
    /// Deletes a manifest, the tags pointing at it and its references. `false` if absent.
    async fn delete_manifest(&self, repo: &str, digest: &Digest) -> MetaResult<bool>;
    async fn delete_tag(&self, repo: &str, tag: &str) -> MetaResult<bool>;
    /// Tags after `last` (lexical), at most `n`.
    async fn list_tags(&self, repo: &str, last: Option<&str>, n: u32) -> MetaResult<Vec<String>>;
    /// Manifests in `repo` whose subject is `subject`, after digest `last`, at most `n`.
    async fn referrers(
        &self,
        repo: &str,
        subject: &Digest,
        artifact_type: Option<&str>,
        last: Option<&str>,
        n: u32,
    ) -> MetaResult<Vec<Referrer>>;

    // --- upload sessions --------------------------------------------------------------
    /// Opens a session owned by `owner`, unless `owner` already has `max_open` sessions (0:
    /// no limit), which fails with [`MetaError::TooManyUploads`]; counted and created in
    /// one step.
    async fn create_upload(
        &self,
        id: &str,
        repo: &str,
        owner: &str,
        max_open: u64,
        now: i64,
    ) -> MetaResult<()>;
    async fn get_upload(&self, id: &str) -> MetaResult<Option<UploadSession>>;
    /// Storage names of the session's committed chunks, in order (see `storage.rs`); read
    /// once, when the upload completes.
    async fn upload_chunks(&self, id: &str) -> MetaResult<Vec<String>>;
    /// Appends the chunk stored as `part`, `len` bytes starting at `from`, if the session is
    /// still at `from` (compare-and-set). Costs the same whatever the number of chunks
    /// before it: the chunk is added, the list is not rewritten.
    async fn advance_upload(
        &self,
        id: &str,
        from: u64,
        len: u64,
        part: &str,
        now: i64,
    ) -> MetaResult<UploadSession>;
    /// Deletes a session and its chunk list.
    async fn delete_upload(&self, id: &str) -> MetaResult<bool>;

    // --- garbage collection -----------------------------------------------------------
    /// Atomically marks blobs that no manifest references and that were not linked or
    /// uploaded after `cutoff` as being deleted, drops their links, and lists them together
    /// with upload sessions idle since before `uploads_cutoff` (which it deletes).
    async fn gc_mark(&self, cutoff: i64, uploads_cutoff: i64) -> MetaResult<GcPlan>;
    /// Forgets blobs whose files are gone.
    async fn gc_sweep(&self, blobs: &[Digest]) -> MetaResult<()>;
    /// Whether any metadata row knows this blob (live or being deleted).
    async fn blob_known(&self, digest: &Digest) -> MetaResult<bool>;

    // --- users, tokens, grants --------------------------------------------------------
    async fn put_user(&self, user: &User) -> MetaResult<()>;
    async fn get_user(&self, name: &str) -> MetaResult<Option<User>>;
    async fn count_users(&self) -> MetaResult<u64>;
    /// Adds `user` only when there is no user at all, atomically: of replicas starting
    /// together on an empty database, exactly one gets `true`.
    async fn create_first_user(&self, user: &User) -> MetaResult<bool>;
    /// Stores an API token (its SHA-256) for `user`.
    async fn put_api_token(
        &self,
        user: &str,
        token_hash: &str,
        description: &str,
        now: i64,
    ) -> MetaResult<()>;
    /// The user an API token (by its SHA-256) belongs to.
    async fn api_token_user(&self, token_hash: &str) -> MetaResult<Option<String>>;
    async fn add_grant(&self, subject: &str, pattern: &str, actions: &[String]) -> MetaResult<i64>;
    async fn remove_grant(&self, id: i64) -> MetaResult<bool>;
    async fn grants_for(&self, subject: &str) -> MetaResult<Vec<Grant>>;
    async fn list_grants(&self) -> MetaResult<Vec<Grant>>;

    // --- component index (filled by a `ComponentIndexer`, see index.rs) ---------------
    async fn put_component(&self, entry: &ComponentEntry) -> MetaResult<()>;
    async fn search_components(&self, q: &ComponentQuery) -> MetaResult<Vec<ComponentEntry>>;

    // --- browsing (the web interface, `ui/`) ----------------------------------------
    // `patterns` filters as in `list_repos_matching` (only names matching one of them);
    // `None` means every repository.
    /// Repositories with the time their newest tag was pushed, newest first, at most `n`.
    async fn recent_repos(
        &self,
        patterns: Option<&[String]>,
        n: u32,
    ) -> MetaResult<Vec<(String, i64)>>;
    /// Repository names containing `needle`, sorted; `skip` of them left out, at most `n`.
    async fn find_repos(
        &self,
        patterns: Option<&[String]>,
        needle: &str,
        skip: u32,
        n: u32,
    ) -> MetaResult<Vec<String>>;
    /// Tags of `repo` after `last` (lexical), at most `n`, with their manifests.
    async fn tag_details(
        &self,
        repo: &str,
        last: Option<&str>,
        n: u32,
    ) -> MetaResult<Vec<TagDetail>>;

    // --- state shared by replicas -----------------------------------------------------
    /// The value stored under `name`, storing `candidate` first when there is none (the
    /// first writer wins). How every replica ends up with the same token signing key.
    async fn shared_setting(&self, name: &str, candidate: &str) -> MetaResult<String>;
    /// Takes (or renews) the lease `name` for `holder` until `now + ttl_secs` when it is
    /// free, expired or already `holder`'s. `true` if `holder` now holds it. GC runs under
    /// the `gc` lease so that one replica at a time runs it.
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        ttl_secs: i64,
    ) -> MetaResult<bool>;
    /// Gives the lease up if `holder` holds it.
    async fn release_lease(&self, name: &str, holder: &str) -> MetaResult<()>;

    // --- export, for `wcomp-registry migrate` ------------------------------------------
    /// The value stored under `name`, if any (see [`Metadata::shared_setting`]).
    async fn get_setting(&self, name: &str) -> MetaResult<Option<String>>;
    async fn list_users(&self) -> MetaResult<Vec<User>>;
    async fn list_api_tokens(&self) -> MetaResult<Vec<ApiToken>>;
    /// Live blobs linked to `repo`, with their sizes, by digest.
    async fn repo_blob_links(&self, repo: &str) -> MetaResult<Vec<(Digest, u64)>>;
    /// Every manifest of `repo` as [`Metadata::put_manifest`] would take it back: its blob
    /// references all in `foreign` (recorded alike, and not re-checked), its index children
    /// in `children`, no tag. Manifests without children come first.
    async fn export_manifests(&self, repo: &str) -> MetaResult<Vec<NewManifest>>;
}
