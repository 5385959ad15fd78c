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
}

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
        fs_err::create_dir_all(dir)?;
        anyhow::ensure!(
            config.metadata.backend == MetadataBackend::Sqlite
                && config.storage.backend == StorageBackend::Fs,
            "App::open handles only the embedded backends; use App::connect"
        );
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
        let auth = Auth::new(settings, key, meta.clone());
        Arc::new(App {
            config,
            meta,
            blobs,
            auth,
            metrics: Metrics::default(),
            indexer,
            analyses: Default::default(),
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
        self.meta
            .put_user(&User {
                name: "admin".into(),
                password_hash: hash,
                admin: true,
            })
            .await?;
        Ok(Some(("admin".into(), password)))
    }
}

/// The metadata backend and blob store a config names, both checked.
pub async fn open_backends(config: &Config) -> anyhow::Result<(Arc<dyn Metadata>, BlobStore)> {
    let dir = &config.data_dir;
    let meta: Arc<dyn Metadata> = match config.metadata.backend {
        MetadataBackend::Sqlite => {
            fs_err::create_dir_all(dir)?;
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
                )
                .await?,
            )
        }
    };
    let blobs = match config.storage.backend {
        StorageBackend::Fs => BlobStore::local(&dir.join("storage"))
            .with_context(|| format!("failed to open blob storage in `{}`", dir.display()))?,
        StorageBackend::S3 => BlobStore::s3(&config.storage)
            .await
            .map_err(anyhow::Error::msg)?,
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
