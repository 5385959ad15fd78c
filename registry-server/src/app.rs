//! The application state shared by every handler, and how it is opened from a config.
//!
//! With the defaults everything lives in the data dir:
//!
//! ```text
//! <data-dir>/
//!   registry.db        SQLite metadata (WAL mode: also registry.db-wal, registry.db-shm)
//!   token.key          HMAC key of bearer tokens from before the key moved into the
//!                      database (read once, to seed it, so issued tokens stay valid)
//!   storage/           the object store root; layout in storage.rs
//! ```
//!
//! The database holds password hashes and the token signing key, so on Unix the directory
//! is created `0700` and the database `0600`, each with its mode from the moment it exists
//! (never created wider and narrowed afterwards). An existing data dir or database that is
//! wider is narrowed at startup, with a warning.
//!
//! With `[metadata] backend = "postgres"` and `[storage] backend = "s3"` a replica keeps
//! nothing that matters locally: blobs, upload chunks, metadata, users, grants, API tokens
//! and the token signing key (the `token_key` setting) are all shared, so any number of
//! replicas with the same config serve one registry. Per replica there are only caches
//! keyed by content digest (the component analysis memo), which cannot go stale.

use crate::auth::{Auth, AuthSettings};
use crate::config::{Config, MetadataBackend, StorageBackend};
use crate::index::{ComponentIndexer, WasmIndexer};
use crate::metadata::{Metadata, User, sqlite::SqliteMetadata};
use crate::metrics::Metrics;
use crate::storage::BlobStore;
use anyhow::Context as _;
use std::sync::Arc;

pub struct App {
    pub config: Config,
    pub meta: Arc<dyn Metadata>,
    pub blobs: BlobStore,
    pub auth: Auth,
    pub metrics: Metrics,
    pub indexer: Arc<dyn ComponentIndexer>,
    pub analyses: crate::index::AnalysisCache,
    /// Component analyses at once: each holds a layer of up to `max_analyzed_bytes`.
    pub analysis_slots: tokio::sync::Semaphore,
}

/// Analyses at once; with the default 64 MiB cap, at most 128 MiB of layers in memory.
const ANALYSIS_SLOTS: usize = 2;

pub type AppState = Arc<App>;

impl App {
    /// Opens (creating if needed) the data dir named by the config. Only for the embedded
    /// backends (fs + SQLite); [`App::connect`] opens any configuration.
    pub fn open(config: Config) -> anyhow::Result<AppState> {
        Self::open_with(config, Arc::new(WasmIndexer))
    }

    /// Opens the metadata backend and the blob store the config names, checking that both
    /// answer (an unreachable server, wrong credentials, a missing bucket or a database of a
    /// newer schema fail here, before anything is written).
    pub async fn connect(config: Config) -> anyhow::Result<AppState> {
        let (meta, blobs) = open_backends(&config).await?;
        let key = token_key(&config, meta.as_ref()).await?;
        Ok(Self::assemble(
            config,
            meta,
            blobs,
            key,
            Arc::new(WasmIndexer),
        ))
    }

    pub fn open_with(
        config: Config,
        indexer: Arc<dyn ComponentIndexer>,
    ) -> anyhow::Result<AppState> {
        let dir = &config.data_dir;
        anyhow::ensure!(
            config.metadata.backend == MetadataBackend::Sqlite
                && config.storage.backend == StorageBackend::Fs,
            "App::open handles only the embedded backends; use App::connect"
        );
        private::create_dir(dir)?;
        private::create_file(&dir.join("registry.db"))?;
        let meta = SqliteMetadata::open(&dir.join("registry.db"))
            .with_context(|| format!("failed to open metadata in `{}`", dir.display()))?;
        let blobs = BlobStore::local(&dir.join("storage"))
            .with_context(|| format!("failed to open blob storage in `{}`", dir.display()))?;
        let key = sqlite_token_key(&meta, &dir.join("token.key"))?;
        Ok(Self::assemble(config, Arc::new(meta), blobs, key, indexer))
    }

    pub fn assemble(
        config: Config,
        meta: Arc<dyn Metadata>,
        blobs: BlobStore,
        key: Vec<u8>,
        indexer: Arc<dyn ComponentIndexer>,
    ) -> AppState {
        let settings = AuthSettings {
            enabled: config.auth.enabled,
            service: config.auth.service.clone(),
            token_ttl_secs: config.auth.token_ttl_secs,
            anonymous_pull: config.auth.anonymous_pull.clone(),
            realm: config
                .public_url
                .as_ref()
                .map(|u| format!("{}/token", u.trim_end_matches('/'))),
            scheme: if config.tls.is_some() {
                "https"
            } else {
                "http"
            },
        };
        let auth = Auth::with_limits(
            settings,
            key,
            meta.clone(),
            crate::auth::LoginLimits::from_config(&config.limits),
        );
        Arc::new(App {
            config,
            meta,
            blobs,
            auth,
            metrics: Metrics::default(),
            indexer,
            analyses: Default::default(),
            analysis_slots: tokio::sync::Semaphore::new(ANALYSIS_SLOTS),
        })
    }

    /// Creates the first admin when there are no users. Returns the credentials it made so
    /// `serve` can print them once; the password is `admin_password` when given.
    pub async fn ensure_admin(
        &self,
        admin_password: Option<String>,
    ) -> anyhow::Result<Option<(String, String)>> {
        if self.meta.count_users().await? > 0 {
            return Ok(None);
        }
        let password = admin_password.unwrap_or_else(|| crate::auth::random_secret(""));
        let hash = crate::auth::hash_password(&password)?;
        // Another replica starting at the same moment may win; then its password stands
        // (it printed it) and this one prints nothing.
        let created = self
            .meta
            .create_first_user(&User {
                name: "admin".into(),
                password_hash: hash,
                admin: true,
            })
            .await?;
        Ok(created.then(|| ("admin".into(), password)))
    }
}

/// The metadata backend and blob store a config names, both checked.
pub async fn open_backends(config: &Config) -> anyhow::Result<(Arc<dyn Metadata>, BlobStore)> {
    let dir = &config.data_dir;
    let meta: Arc<dyn Metadata> = match config.metadata.backend {
        MetadataBackend::Sqlite => {
            private::create_dir(dir)?;
            private::create_file(&dir.join("registry.db"))?;
            Arc::new(
                SqliteMetadata::open(&dir.join("registry.db"))
                    .with_context(|| format!("failed to open metadata in `{}`", dir.display()))?,
            )
        }
        MetadataBackend::Postgres => {
            let url = config.metadata.url.as_deref().with_context(|| {
                format!(
                    "[metadata] backend = \"postgres\" needs `url` (or {})",
                    crate::config::env::DATABASE_URL
                )
            })?;
            Arc::new(
                crate::metadata::postgres::PostgresMetadata::connect(
                    url,
                    config.metadata.pool_size,
                    config.metadata.tls_ca.as_deref(),
                )
                .await?,
            )
        }
    };
    let blobs = match config.storage.backend {
        StorageBackend::Fs => {
            if config.storage.cache_dir.is_some() {
                tracing::warn!(
                    "[storage] cache_dir is ignored: it caches blobs of the s3 backend, and the fs backend reads local files already"
                );
            }
            BlobStore::local(&dir.join("storage"))
                .with_context(|| format!("failed to open blob storage in `{}`", dir.display()))?
        }
        StorageBackend::S3 => {
            let blobs = BlobStore::s3(&config.storage)
                .await
                .map_err(anyhow::Error::msg)?;
            match &config.storage.cache_dir {
                // Relative to the replica's data dir: one config, a cache per replica.
                Some(cache) => {
                    let cache = dir.join(cache);
                    blobs.with_cache(
                        crate::blob_cache::BlobCache::open(&cache, config.storage.cache_max_bytes)
                            .with_context(|| {
                                format!("failed to open the blob cache in `{}`", cache.display())
                            })?,
                    )
                }
                None => blobs,
            }
        }
    };
    Ok((meta, blobs))
}

/// The bearer-token signing key every replica shares: stored in the database by the first
/// replica to start (from an existing `token.key` file when SQLite has one, so tokens it
/// issued stay valid), adopted by the others.
async fn token_key(config: &Config, meta: &dyn Metadata) -> anyhow::Result<Vec<u8>> {
    let legacy = (config.metadata.backend == MetadataBackend::Sqlite)
        .then(|| fs_err::read(config.data_dir.join("token.key")).ok())
        .flatten()
        .filter(|k| k.len() >= 32);
    let candidate = legacy.unwrap_or_else(random_key);
    let stored = meta
        .shared_setting(TOKEN_KEY_SETTING, &hex::encode(&candidate))
        .await?;
    hex::decode(stored).context("corrupt token_key setting in the database")
}

const TOKEN_KEY_SETTING: &str = "token_key";

fn random_key() -> Vec<u8> {
    let mut key = vec![0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
    key
}

/// [`token_key`] for the synchronous [`App::open`]: SQLite is local, so a runtime of its
/// own on this thread is not needed; the backend's calls run on its blocking threads.
fn sqlite_token_key(meta: &SqliteMetadata, legacy: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let candidate = fs_err::read(legacy)
        .ok()
        .filter(|k| k.len() >= 32)
        .unwrap_or_else(random_key);
    let stored = meta.shared_setting_blocking(TOKEN_KEY_SETTING, &hex::encode(&candidate))?;
    hex::decode(stored).context("corrupt token_key setting in the database")
}

/// Files and directories only the server's user may read.
mod private {
    use std::path::Path;

    #[cfg(unix)]
    fn narrow(path: &Path, mode: u32) -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let meta = fs_err::metadata(path)?;
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "readable by others; narrowing its mode to {mode:o}");
            fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        }
        Ok(())
    }

    /// Creates the directory (and missing parents) with mode 0700.
    pub fn create_dir(dir: &Path) -> std::io::Result<()> {
        // fs-err has no synchronous DirBuilder; the error gets its path by hand.
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt as _;
            b.mode(0o700);
        }
        b.create(dir).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("failed to create directory `{}`: {e}", dir.display()),
            )
        })?;
        #[cfg(unix)]
        narrow(dir, 0o700)?;
        Ok(())
    }

    /// A new file, mode 0600 from its creation; fails if it exists.
    pub fn new_file(path: &Path) -> std::io::Result<fs_err::File> {
        let mut o = fs_err::OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        {
            use fs_err::os::unix::fs::OpenOptionsExt as _;
            o.mode(0o600);
        }
        o.open(path)
    }

    /// Makes sure `path` exists with mode 0600 (SQLite then creates its `-wal` and `-shm`
    /// files with the database's mode).
    pub fn create_file(path: &Path) -> std::io::Result<()> {
        match new_file(path) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                #[cfg(unix)]
                narrow(path, 0o600)?;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}
