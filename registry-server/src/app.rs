//! The application state shared by every handler, and how it is opened from a data dir.
//!
//! ```text
//! <data-dir>/
//!   registry.db        SQLite metadata (WAL mode: also registry.db-wal, registry.db-shm)
//!   token.key          HMAC key of the bearer tokens (created on first start, mode 0600)
//!   storage/           the object store root; layout in storage.rs
//! ```

use crate::auth::{Auth, AuthSettings};
use crate::config::Config;
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
    /// Opens (creating if needed) the data dir named by the config.
    pub fn open(config: Config) -> anyhow::Result<AppState> {
        Self::open_with(config, Arc::new(WasmIndexer))
    }

    pub fn open_with(
        config: Config,
        indexer: Arc<dyn ComponentIndexer>,
    ) -> anyhow::Result<AppState> {
        let dir = &config.data_dir;
        fs_err::create_dir_all(dir)?;
        let meta = SqliteMetadata::open(&dir.join("registry.db"))
            .with_context(|| format!("failed to open metadata in `{}`", dir.display()))?;
        let blobs = BlobStore::local(&dir.join("storage"))
            .with_context(|| format!("failed to open blob storage in `{}`", dir.display()))?;
        let key = load_or_create_key(&dir.join("token.key"))?;
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

fn load_or_create_key(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    if let Ok(k) = fs_err::read(path)
        && k.len() >= 32
    {
        return Ok(k);
    }
    let mut key = vec![0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
    let tmp = path.with_extension("tmp");
    fs_err::write(&tmp, &key)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs_err::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    }
    fs_err::rename(&tmp, path)?;
    Ok(key)
}
