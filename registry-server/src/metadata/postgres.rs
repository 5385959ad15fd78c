//! The PostgreSQL backend, for several replicas sharing one registry.
//!
//! Connections come from a small pool (`deadpool-postgres`). Every trait method is one
//! transaction (or one statement), as in SQLite; where SQLite gets atomicity from its single
//! writer, this backend gets it as follows:
//! * GC against pushes: [`Metadata::link_blob`] and [`Metadata::put_manifest`] hold a shared
//!   transaction-level advisory lock, [`Metadata::gc_mark`] the exclusive one. So GC's claim
//!   waits for every link or manifest in flight to commit and then sees it, and a link or
//!   manifest that starts after the claim sees the blob `deleting`: the serial order the
//!   argument in `gc.rs` needs, while pushes never wait for each other.
//! * A tag pushed with create-only rights is written with `ON CONFLICT ... WHERE digest is the
//!   same`, so two racing creates cannot both win.
//! * [`Metadata::advance_upload`] is one `UPDATE ... WHERE committed = $from` (compare-and-set).
//! * Migrations run under an advisory lock, so replicas starting together migrate once.
//!
//! Connections are plain TCP unless the URL says `sslmode=require`: then TLS, with the
//! server's certificate verified (the wcomp-pgtls crate).

use super::migrations;
use super::*;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use std::time::Duration;
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

/// Key of the advisory lock shared by pushes and held exclusively by GC's claim.
const GC_LOCK: i64 = 0x7763_6f6d_7067_6301;
/// Key of the advisory lock migrations run under.
const MIGRATE_LOCK: i64 = 0x7763_6f6d_7067_6302;
/// Key of the advisory lock the first user is created under.
const FIRST_USER_LOCK: i64 = 0x7763_6f6d_7067_6303;
/// First half of the two-key advisory locks that serialise opening sessions per owner.
const OWNER_LOCK_SPACE: i32 = 0x7763_7001;

#[derive(Clone)]
pub struct PostgresMetadata {
    pool: Pool,
    /// The schema of a [`PostgresMetadata::temporary`] backend, dropped with the last clone.
    #[cfg(test)]
    test_schema: Option<std::sync::Arc<SchemaDropper>>,
}

fn be(e: impl std::fmt::Display) -> MetaError {
    MetaError::Backend(e.to_string())
}

/// A tokio-postgres error with its causes (its `Display` alone often says only "db error").
fn pe(e: tokio_postgres::Error) -> MetaError {
    if let Some(db) = e.as_db_error() {
        return MetaError::Backend(format!("{}: {}", db.severity(), db.message()));
    }
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
        src = s.source();
    }
    MetaError::Backend(msg)
}

/// `user@host:port/db` of a connection URL: what was tried, never the password.
pub fn describe_url(cfg: &tokio_postgres::Config) -> String {
    use tokio_postgres::config::Host;
    let hosts: Vec<String> = cfg
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let host = match h {
                Host::Tcp(s) => s.clone(),
                #[cfg(unix)]
                Host::Unix(p) => p.display().to_string(),
            };
            let port = cfg.get_ports().get(i).or(cfg.get_ports().first());
            format!("{host}:{}", port.copied().unwrap_or(5432))
        })
        .collect();
    format!(
        "{}@{}/{}",
        cfg.get_user().unwrap_or("(default user)"),
        hosts.join(","),
        cfg.get_dbname().unwrap_or("(default database)")
    )
}

impl PostgresMetadata {
    /// Connects (checking at once that the server answers and the credentials work), then
    /// brings the schema to the latest version or refuses a newer one.
    /// `tls_ca`: a PEM file of CA certificates trusted for `sslmode=require`, besides the
    /// Mozilla roots.
    pub async fn connect(
        url: &str,
        pool_size: usize,
        tls_ca: Option<&std::path::Path>,
    ) -> MetaResult<Self> {
        // libpq's `sslrootcert=PATH` in the URL works as `tls_ca` does.
        let (url, root_cert) = wcomp_pgtls::take_root_cert(url);
        let tls_ca = tls_ca.or(root_cert.as_deref());
        let mut cfg: tokio_postgres::Config = url
            .parse()
            .map_err(|e| MetaError::Backend(format!("invalid PostgreSQL URL: {e}")))?;
        if cfg.get_connect_timeout().is_none() {
            cfg.connect_timeout(Duration::from_secs(10));
        }
        Self::with_config(cfg, pool_size, tls_ca).await
    }

    async fn with_config(
        cfg: tokio_postgres::Config,
        pool_size: usize,
        tls_ca: Option<&std::path::Path>,
    ) -> MetaResult<Self> {
        let what = describe_url(&cfg);
        let recycling = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let mgr = if cfg.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
            let tls = wcomp_pgtls::RustlsConnect::new(tls_ca)
                .map_err(|e| be(format!("PostgreSQL TLS (`tls_ca`): {e}")))?;
            Manager::from_config(cfg, tls, recycling)
        } else {
            if tls_ca.is_some() {
                return Err(be(
                    "[metadata] tls_ca is set, and the URL does not ask for TLS: add `sslmode=require` to it",
                ));
            }
            Manager::from_config(cfg, NoTls, recycling)
        };
        let pool = Pool::builder(mgr)
            .max_size(pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(30)))
            .create_timeout(Some(Duration::from_secs(15)))
            .build()
            .map_err(be)?;
        let me = Self {
            pool,
            #[cfg(test)]
            test_schema: None,
        };
        {
            let mut c = me.pool.get().await.map_err(|e| {
                let cause = match &e {
                    deadpool_postgres::PoolError::Backend(pg) => {
                        let code = pg.code();
                        if code == Some(&SqlState::INVALID_PASSWORD)
                            || code == Some(&SqlState::INVALID_AUTHORIZATION_SPECIFICATION)
                        {
                            format!("wrong credentials: {}", pe_text(pg))
                        } else {
                            pe_text(pg)
                        }
                    }
                    deadpool_postgres::PoolError::Timeout(_) => "timed out".into(),
                    other => other.to_string(),
                };
                MetaError::Backend(format!("cannot connect to PostgreSQL at {what}: {cause}"))
            })?;
            migrate(&mut c).await?;
        }
        Ok(me)
    }

    async fn client(&self) -> MetaResult<deadpool_postgres::Object> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(pg) => pe(pg),
            other => be(format!("PostgreSQL pool: {other}")),
        })
    }

    /// A backend in a fresh schema of the database named by `WCOMP_TEST_POSTGRES`, dropped
    /// with the last clone. `None` (the test is skipped) when the variable is unset, except
    /// under CI, where a missing database is a failure.
    #[cfg(test)]
    pub async fn temporary() -> Option<Self> {
        let url = match std::env::var("WCOMP_TEST_POSTGRES") {
            Ok(u) if !u.is_empty() => u,
            _ => {
                assert!(
                    !std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0"),
                    "CI is set but WCOMP_TEST_POSTGRES is not: the PostgreSQL suite must run (scripts/postgres.sh starts a server)"
                );
                eprintln!("skipped: WCOMP_TEST_POSTGRES is not set");
                return None;
            }
        };
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        let base: tokio_postgres::Config = url.parse().expect("WCOMP_TEST_POSTGRES is a URL");
        let (c, conn) = base
            .connect(NoTls)
            .await
            .expect("connect to WCOMP_TEST_POSTGRES");
        tokio::spawn(conn);
        c.batch_execute(&format!("CREATE SCHEMA {schema}"))
            .await
            .unwrap();
        let mut cfg = base.clone();
        cfg.options(format!("-c search_path={schema}"));
        let mut meta = Self::with_config(cfg, 4, None).await.unwrap();
        meta.test_schema = Some(std::sync::Arc::new(SchemaDropper { base, schema }));
        Some(meta)
    }
}

fn pe_text(e: &tokio_postgres::Error) -> String {
    match pe_ref(e) {
        MetaError::Backend(s) => s,
        other => other.to_string(),
    }
}

fn pe_ref(e: &tokio_postgres::Error) -> MetaError {
    if let Some(db) = e.as_db_error() {
        return MetaError::Backend(format!("{}: {}", db.severity(), db.message()));
    }
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
        src = s.source();
    }
    MetaError::Backend(msg)
}

/// See [`migrations`].
async fn migrate(c: &mut deadpool_postgres::Object) -> MetaResult<()> {
    let tx = c.transaction().await.map_err(pe)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK])
        .await
        .map_err(pe)?;
    // Not `IF NOT EXISTS`: that logs a NOTICE at every start.
    let exists: bool = tx
        .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])
        .await
        .map_err(pe)?
        .get(0);
    if !exists {
        tx.batch_execute("CREATE TABLE schema_version (version BIGINT NOT NULL)")
            .await
            .map_err(pe)?;
    }
    let found: Option<i64> = tx
        .query_one("SELECT MAX(version) FROM schema_version", &[])
        .await
        .map_err(pe)?
        .get(0);
    // End the transaction explicitly on every path: a dropped one is rolled back only when
    // the connection task next runs, and meanwhile it would hold the migration lock.
    let steps = match migrations::plan(found.unwrap_or(0)) {
        Ok(s) if s.is_empty() => return tx.rollback().await.map_err(pe),
        Ok(s) => s,
        Err(e) => {
            tx.rollback().await.map_err(pe)?;
            return Err(e);
        }
    };
    for step in &migrations::POSTGRES[steps.clone()] {
        tx.batch_execute(step).await.map_err(pe)?;
    }
    tx.execute("DELETE FROM schema_version", &[])
        .await
        .map_err(pe)?;
    tx.execute(
        "INSERT INTO schema_version(version) VALUES ($1)",
        &[&(steps.end as i64)],
    )
    .await
    .map_err(pe)?;
    tx.commit().await.map_err(pe)
}

#[cfg(test)]
struct SchemaDropper {
    base: tokio_postgres::Config,
    schema: String,
}

#[cfg(test)]
impl Drop for SchemaDropper {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which cannot be blocked on: a thread with a
        // runtime of its own does the work.
        let (base, schema) = (self.base.clone(), self.schema.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let (c, conn) = base.connect(NoTls).await.ok()?;
                tokio::spawn(conn);
                c.batch_execute(&format!(
                    "SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS {schema} CASCADE"
                ))
                .await
                .ok()
            })
        })
        .join();
    }
}

fn parse_digest(s: String) -> MetaResult<Digest> {
    Digest::parse(&s).ok_or_else(|| MetaError::Backend(format!("corrupt digest in database: {s}")))
}

impl PostgresMetadata {
    /// `link_blob`, or with `stored_only` `link_stored_blob`: links only a live row of
    /// that size, and says whether it did. Holds the GC lock shared, as every push does.
    async fn link(
        &self,
        repo: &str,
        digest: &Digest,
        size: u64,
        now: i64,
        stored_only: bool,
    ) -> MetaResult<bool> {
        let d = digest.as_str();
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pe)?;
        tx.execute("SELECT pg_advisory_xact_lock_shared($1)", &[&GC_LOCK])
            .await
            .map_err(pe)?;
        let row: Option<(String, i64)> = tx
            .query_opt("SELECT state, size FROM blobs WHERE digest = $1", &[&d])
            .await
            .map_err(pe)?
            .map(|r| (r.get(0), r.get(1)));
        match (&row, stored_only) {
            (Some((state, _)), false) if state == "deleting" => {
                return Err(MetaError::BlobBeingDeleted(d.to_string()));
            }
            (Some((state, stored)), true) if state == "live" && *stored == size as i64 => {}
            (_, true) => return Ok(false),
            _ => {}
        }
        tx.execute(
            "INSERT INTO blobs(digest, size, state, touched_at) VALUES ($1, $2, 'live', $3)
             ON CONFLICT(digest) DO UPDATE SET touched_at = GREATEST(blobs.touched_at, excluded.touched_at)",
            &[&d, &(size as i64), &now],
        )
        .await
        .map_err(pe)?;
        ensure_repo(&tx, repo, now).await?;
        tx.execute(
            "INSERT INTO repo_blobs(repo, digest) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&repo, &d],
        )
        .await
        .map_err(pe)?;
        tx.commit().await.map_err(pe)?;
        Ok(true)
    }
}

async fn ensure_repo(tx: &tokio_postgres::Transaction<'_>, repo: &str, now: i64) -> MetaResult<()> {
    tx.execute(
        "INSERT INTO repositories(name, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        &[&repo, &now],
    )
    .await
    .map_err(pe)?;
    Ok(())
}

async fn get_manifest(
    c: &impl deadpool_postgres::GenericClient,
    repo: &str,
    digest: &str,
    lock: bool,
) -> MetaResult<Option<ManifestRecord>> {
    let sql = if lock {
        "SELECT digest, media_type, size FROM manifests WHERE repo = $1 AND digest = $2 FOR SHARE"
    } else {
        "SELECT digest, media_type, size FROM manifests WHERE repo = $1 AND digest = $2"
    };
    let row = c.query_opt(sql, &[&repo, &digest]).await.map_err(pe)?;
    row.map(|r| {
        Ok(ManifestRecord {
            digest: parse_digest(r.get(0))?,
            media_type: r.get(1),
            size: r.get::<_, i64>(2) as u64,
        })
    })
    .transpose()
}

fn grant_from(r: &tokio_postgres::Row) -> Grant {
    Grant {
        id: r.get(0),
        subject: r.get(1),
        pattern: r.get(2),
        actions: r
            .get::<_, String>(3)
            .split(',')
            .map(str::to_string)
            .collect(),
    }
}

/// `patterns` as regular expressions for `~ ANY(...)`: `Some(None)` for "every
/// repository", `None` when no pattern (so no repository) is allowed.
fn pattern_regexes(patterns: Option<&[String]>) -> Option<Option<Vec<String>>> {
    match patterns {
        Some([]) => None,
        Some(p) => Some(Some(
            p.iter().map(|p| crate::pattern::glob_to_regex(p)).collect(),
        )),
        None => Some(None),
    }
}

#[async_trait]
impl Metadata for PostgresMetadata {
    async fn repo_exists(&self, repo: &str) -> MetaResult<bool> {
        let c = self.client().await?;
        let r = c
            .query_opt("SELECT 1 FROM repositories WHERE name = $1", &[&repo])
            .await
            .map_err(pe)?;
        Ok(r.is_some())
    }

    async fn list_repos(&self, last: Option<&str>, n: u32) -> MetaResult<Vec<String>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT name FROM repositories WHERE name > $1 ORDER BY name LIMIT $2",
                &[&last.unwrap_or(""), &i64::from(n)],
            )
            .await
            .map_err(pe)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn list_repos_matching(
        &self,
        patterns: &[String],
        last: Option<&str>,
        n: u32,
    ) -> MetaResult<Vec<String>> {
        if patterns.is_empty() {
            return Ok(Vec::new());
        }
        let regexes: Vec<String> = patterns
            .iter()
            .map(|p| crate::pattern::glob_to_regex(p))
            .collect();
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT name FROM repositories WHERE name > $1 AND name ~ ANY($2)
                 ORDER BY name LIMIT $3",
                &[&last.unwrap_or(""), &regexes, &i64::from(n)],
            )
            .await
            .map_err(pe)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn namespace_usage(&self, pattern: &str) -> MetaResult<u64> {
        let re = crate::pattern::glob_to_regex(pattern);
        let c = self.client().await?;
        let n: i64 = c
            .query_one(
                "SELECT ((SELECT COALESCE(SUM(size), 0) FROM blobs WHERE state = 'live' AND digest IN (
                             SELECT digest FROM repo_blobs WHERE repo ~ $1))
                       + (SELECT COALESCE(SUM(committed), 0) FROM uploads WHERE repo ~ $1))::BIGINT",
                &[&re],
            )
            .await
            .map_err(pe)?
            .get(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn link_blob(&self, repo: &str, digest: &Digest, size: u64, now: i64) -> MetaResult<()> {
        self.link(repo, digest, size, now, false).await.map(drop)
    }

    async fn link_stored_blob(
        &self,
        repo: &str,
        digest: &Digest,
        size: u64,
        now: i64,
    ) -> MetaResult<bool> {
        self.link(repo, digest, size, now, true).await
    }

    async fn repo_blob(&self, repo: &str, digest: &Digest) -> MetaResult<Option<u64>> {
        let c = self.client().await?;
        let r = c
            .query_opt(
                "SELECT b.size FROM repo_blobs rb JOIN blobs b ON b.digest = rb.digest
                 WHERE rb.repo = $1 AND rb.digest = $2 AND b.state = 'live'",
                &[&repo, &digest.as_str()],
            )
            .await
            .map_err(pe)?;
        Ok(r.map(|r| r.get::<_, i64>(0) as u64))
    }

    async fn blob_repos(&self, digest: &Digest) -> MetaResult<Vec<String>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT repo FROM repo_blobs WHERE digest = $1 ORDER BY repo LIMIT 100",
                &[&digest.as_str()],
            )
            .await
            .map_err(pe)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn unlink_blob(&self, repo: &str, digest: &Digest) -> MetaResult<bool> {
        let c = self.client().await?;
        let n = c
            .execute(
                "DELETE FROM repo_blobs WHERE repo = $1 AND digest = $2",
                &[&repo, &digest.as_str()],
            )
            .await
            .map_err(pe)?;
        Ok(n > 0)
    }

    async fn put_manifest(&self, m: NewManifest, now: i64) -> MetaResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pe)?;
        tx.execute("SELECT pg_advisory_xact_lock_shared($1)", &[&GC_LOCK])
            .await
            .map_err(pe)?;
        let mut missing = Vec::new();
        if !m.blobs.is_empty() {
            let wanted: Vec<&str> = m.blobs.iter().map(|b| b.as_str()).collect();
            let rows = tx
                .query(
                    "SELECT rb.digest FROM repo_blobs rb JOIN blobs b ON b.digest = rb.digest
                     WHERE rb.repo = $1 AND rb.digest = ANY($2) AND b.state = 'live'",
                    &[&m.repo, &wanted],
                )
                .await
                .map_err(pe)?;
            let found: std::collections::HashSet<String> =
                rows.iter().map(|r| r.get::<_, String>(0)).collect();
            for b in &m.blobs {
                if !found.contains(b.as_str()) {
                    missing.push(b.to_string());
                }
            }
        }
        for ch in &m.children {
            if get_manifest(&tx, &m.repo, ch.as_str(), true)
                .await?
                .is_none()
            {
                missing.push(ch.to_string());
            }
        }
        if !missing.is_empty() {
            return Err(MetaError::BlobsMissing(missing));
        }
        ensure_repo(&tx, &m.repo, now).await?;
        tx.execute(
            "INSERT INTO manifests(repo, digest, media_type, size, artifact_type, subject, annotations, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT(repo, digest) DO UPDATE SET media_type = excluded.media_type",
            &[
                &m.repo,
                &m.digest.as_str(),
                &m.media_type,
                &(m.size as i64),
                &m.artifact_type,
                &m.subject.as_ref().map(|s| s.to_string()),
                &m.annotations,
                &now,
            ],
        )
        .await
        .map_err(pe)?;
        tx.execute(
            "DELETE FROM manifest_refs WHERE repo = $1 AND manifest = $2",
            &[&m.repo, &m.digest.as_str()],
        )
        .await
        .map_err(pe)?;
        let mut children: Vec<&str> = Vec::new();
        let mut kinds: Vec<&str> = Vec::new();
        for (list, kind) in [
            (&m.blobs, "blob"),
            (&m.foreign, "blob"),
            (&m.children, "manifest"),
        ] {
            for child in list {
                children.push(child.as_str());
                kinds.push(kind);
            }
        }
        if !children.is_empty() {
            tx.execute(
                "INSERT INTO manifest_refs(repo, manifest, child, kind)
                 SELECT $1, $2, child, kind FROM UNNEST($3::TEXT[], $4::TEXT[]) AS u(child, kind)
                 ON CONFLICT DO NOTHING",
                &[&m.repo, &m.digest.as_str(), &children, &kinds],
            )
            .await
            .map_err(pe)?;
        }
        if let Some(tag) = &m.tag {
            let sql = if m.may_overwrite_tag {
                "INSERT INTO tags(repo, name, digest, updated_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT(repo, name) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at"
            } else {
                // Create-only: re-pushing the same digest is fine, moving the tag is not.
                "INSERT INTO tags(repo, name, digest, updated_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT(repo, name) DO UPDATE SET updated_at = excluded.updated_at
                 WHERE tags.digest = excluded.digest"
            };
            let n = tx
                .execute(sql, &[&m.repo, tag, &m.digest.as_str(), &now])
                .await
                .map_err(pe)?;
            if n == 0 {
                let cur: String = tx
                    .query_one(
                        "SELECT digest FROM tags WHERE repo = $1 AND name = $2",
                        &[&m.repo, tag],
                    )
                    .await
                    .map_err(pe)?
                    .get(0);
                return Err(MetaError::TagExists {
                    tag: tag.clone(),
                    digest: cur,
                });
            }
        }
        tx.commit().await.map_err(pe)
    }

    async fn get_manifest_by_digest(
        &self,
        repo: &str,
        digest: &Digest,
    ) -> MetaResult<Option<ManifestRecord>> {
        let c = self.client().await?;
        get_manifest(&c, repo, digest.as_str(), false).await
    }

    async fn get_manifest_by_tag(
        &self,
        repo: &str,
        tag: &str,
    ) -> MetaResult<Option<ManifestRecord>> {
        let c = self.client().await?;
        let row = c
            .query_opt(
                "SELECT m.digest, m.media_type, m.size FROM tags t
                 JOIN manifests m ON m.repo = t.repo AND m.digest = t.digest
                 WHERE t.repo = $1 AND t.name = $2",
                &[&repo, &tag],
            )
            .await
            .map_err(pe)?;
        row.map(|r| {
            Ok(ManifestRecord {
                digest: parse_digest(r.get(0))?,
                media_type: r.get(1),
                size: r.get::<_, i64>(2) as u64,
            })
        })
        .transpose()
    }

    async fn delete_manifest(&self, repo: &str, digest: &Digest) -> MetaResult<bool> {
        let d = digest.as_str();
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pe)?;
        let n = tx
            .execute(
                "DELETE FROM manifests WHERE repo = $1 AND digest = $2",
                &[&repo, &d],
            )
            .await
            .map_err(pe)?;
        for sql in [
            "DELETE FROM tags WHERE repo = $1 AND digest = $2",
            "DELETE FROM manifest_refs WHERE repo = $1 AND manifest = $2",
            "DELETE FROM components WHERE repo = $1 AND manifest = $2",
            "DELETE FROM component_items WHERE repo = $1 AND manifest = $2",
        ] {
            tx.execute(sql, &[&repo, &d]).await.map_err(pe)?;
        }
        tx.commit().await.map_err(pe)?;
        Ok(n > 0)
    }

    async fn delete_tag(&self, repo: &str, tag: &str) -> MetaResult<bool> {
        let c = self.client().await?;
        let n = c
            .execute(
                "DELETE FROM tags WHERE repo = $1 AND name = $2",
                &[&repo, &tag],
            )
            .await
            .map_err(pe)?;
        Ok(n > 0)
    }

    async fn list_tags(&self, repo: &str, last: Option<&str>, n: u32) -> MetaResult<Vec<String>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT name FROM tags WHERE repo = $1 AND name > $2 ORDER BY name LIMIT $3",
                &[&repo, &last.unwrap_or(""), &i64::from(n)],
            )
            .await
            .map_err(pe)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn referrers(
        &self,
        repo: &str,
        subject: &Digest,
        artifact_type: Option<&str>,
        last: Option<&str>,
        n: u32,
    ) -> MetaResult<Vec<Referrer>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT digest, media_type, size, artifact_type, annotations FROM manifests
                 WHERE repo = $1 AND subject = $2 AND ($3::TEXT IS NULL OR artifact_type = $3::TEXT)
                   AND digest > $4 ORDER BY digest LIMIT $5",
                &[
                    &repo,
                    &subject.as_str(),
                    &artifact_type,
                    &last.unwrap_or(""),
                    &i64::from(n),
                ],
            )
            .await
            .map_err(pe)?;
        rows.into_iter()
            .map(|r| {
                Ok(Referrer {
                    digest: parse_digest(r.get(0))?,
                    media_type: r.get(1),
                    size: r.get::<_, i64>(2) as u64,
                    artifact_type: r.get(3),
                    annotations: r.get(4),
                })
            })
            .collect()
    }

    async fn create_upload(
        &self,
        id: &str,
        repo: &str,
        owner: &str,
        max_open: u64,
        now: i64,
    ) -> MetaResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pe)?;
        if max_open > 0 {
            // Per owner, so that two replicas opening sessions for one owner at once count
            // each other's.
            tx.execute(
                "SELECT pg_advisory_xact_lock($1, hashtext($2))",
                &[&OWNER_LOCK_SPACE, &owner],
            )
            .await
            .map_err(pe)?;
            let open: i64 = tx
                .query_one("SELECT COUNT(*) FROM uploads WHERE owner = $1", &[&owner])
                .await
                .map_err(pe)?
                .get(0);
            if u64::try_from(open).unwrap_or(0) >= max_open {
                tx.rollback().await.map_err(pe)?;
                return Err(MetaError::TooManyUploads {
                    owner: owner.to_string(),
                    limit: max_open,
                });
            }
        }
        tx.execute(
            "INSERT INTO uploads(id, repo, owner, committed, chunks, created_at, updated_at)
             VALUES ($1, $2, $3, 0, '', $4, $4)",
            &[&id, &repo, &owner, &now],
        )
        .await
        .map_err(pe)?;
        tx.commit().await.map_err(pe)
    }

    async fn get_upload(&self, id: &str) -> MetaResult<Option<UploadSession>> {
        let c = self.client().await?;
        let r = c
            .query_opt(
                "SELECT id, repo, owner, committed, updated_at FROM uploads WHERE id = $1",
                &[&id],
            )
            .await
            .map_err(pe)?;
        Ok(r.map(|r| UploadSession {
            id: r.get(0),
            repo: r.get(1),
            owner: r.get(2),
            offset: r.get::<_, i64>(3) as u64,
            updated_at: r.get(4),
        }))
    }

    async fn upload_chunks(&self, id: &str) -> MetaResult<Vec<String>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT part FROM upload_chunks WHERE upload = $1 ORDER BY seq",
                &[&id],
            )
            .await
            .map_err(pe)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn advance_upload(
        &self,
        id: &str,
        from: u64,
        len: u64,
        part: &str,
        now: i64,
    ) -> MetaResult<UploadSession> {
        let to = from
            .checked_add(len)
            .and_then(|o| i64::try_from(o).ok())
            .ok_or_else(|| MetaError::Backend("upload offset overflows".into()))?;
        let from_i = i64::try_from(from)
            .map_err(|_| MetaError::Backend("upload offset overflows".into()))?;
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pe)?;
        // The compare-and-set; it also locks the session's row until the chunk is recorded.
        let row = tx
            .query_opt(
                "UPDATE uploads SET committed = $3, updated_at = $4
                 WHERE id = $1 AND committed = $2
                 RETURNING repo, owner",
                &[&id, &from_i, &to, &now],
            )
            .await
            .map_err(pe)?;
        let Some(row) = row else {
            let cur = tx
                .query_opt("SELECT committed FROM uploads WHERE id = $1", &[&id])
                .await
                .map_err(pe)?;
            tx.rollback().await.map_err(pe)?;
            return match cur {
                Some(r) => Err(MetaError::UploadOffset {
                    expected: r.get::<_, i64>(0) as u64,
                }),
                None => Err(MetaError::UploadUnknown),
            };
        };
        if len > 0 {
            tx.execute(
                "INSERT INTO upload_chunks(upload, seq, part)
                 VALUES ($1, (SELECT COALESCE(MAX(seq), -1) + 1 FROM upload_chunks WHERE upload = $1), $2)",
                &[&id, &part],
            )
            .await
            .map_err(pe)?;
        }
        tx.commit().await.map_err(pe)?;
        Ok(UploadSession {
            id: id.to_string(),
            repo: row.get(0),
            owner: row.get(1),
            offset: to as u64,
            updated_at: now,
        })
    }

    async fn delete_upload(&self, id: &str) -> MetaResult<bool> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pe)?;
        tx.execute("DELETE FROM upload_chunks WHERE upload = $1", &[&id])
            .await
            .map_err(pe)?;
        let n = tx
            .execute("DELETE FROM uploads WHERE id = $1", &[&id])
            .await
            .map_err(pe)?;
        tx.commit().await.map_err(pe)?;
        Ok(n > 0)
    }

    async fn gc_mark(&self, cutoff: i64, uploads_cutoff: i64) -> MetaResult<GcPlan> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pe)?;
        // Waits for every link and manifest push in flight; later ones wait for this.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&GC_LOCK])
            .await
            .map_err(pe)?;
        tx.execute(
            "UPDATE blobs SET state = 'deleting'
             WHERE state = 'live' AND touched_at < $1
               AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.digest = blobs.digest)
               AND NOT EXISTS (SELECT 1 FROM manifest_refs r WHERE r.child = blobs.digest)",
            &[&cutoff],
        )
        .await
        .map_err(pe)?;
        tx.execute(
            "DELETE FROM repo_blobs WHERE digest IN (SELECT digest FROM blobs WHERE state = 'deleting')",
            &[],
        )
        .await
        .map_err(pe)?;
        // Includes blobs a crashed earlier run had claimed but not swept.
        let blobs = tx
            .query(
                "SELECT digest FROM blobs WHERE state = 'deleting' ORDER BY digest",
                &[],
            )
            .await
            .map_err(pe)?
            .into_iter()
            .map(|r| parse_digest(r.get(0)))
            .collect::<MetaResult<Vec<_>>>()?;
        let uploads = tx
            .query(
                "DELETE FROM uploads WHERE updated_at < $1 RETURNING id",
                &[&uploads_cutoff],
            )
            .await
            .map_err(pe)?;
        let mut uploads: Vec<String> = uploads.iter().map(|r| r.get(0)).collect();
        uploads.sort();
        tx.execute(
            "DELETE FROM upload_chunks WHERE upload = ANY($1)",
            &[&uploads],
        )
        .await
        .map_err(pe)?;
        tx.commit().await.map_err(pe)?;
        Ok(GcPlan { blobs, uploads })
    }

    async fn gc_sweep(&self, blobs: &[Digest]) -> MetaResult<()> {
        let list: Vec<&str> = blobs.iter().map(|d| d.as_str()).collect();
        let c = self.client().await?;
        c.execute(
            "DELETE FROM blobs WHERE digest = ANY($1) AND state = 'deleting'",
            &[&list],
        )
        .await
        .map_err(pe)?;
        Ok(())
    }

    async fn blob_known(&self, digest: &Digest) -> MetaResult<bool> {
        let c = self.client().await?;
        let r = c
            .query_opt("SELECT 1 FROM blobs WHERE digest = $1", &[&digest.as_str()])
            .await
            .map_err(pe)?;
        Ok(r.is_some())
    }

    async fn put_user(&self, u: &User) -> MetaResult<()> {
        let c = self.client().await?;
        c.execute(
            "INSERT INTO users(name, password_hash, admin) VALUES ($1, $2, $3)
             ON CONFLICT(name) DO UPDATE SET password_hash = excluded.password_hash, admin = excluded.admin",
            &[&u.name, &u.password_hash, &u.admin],
        )
        .await
        .map_err(pe)?;
        Ok(())
    }

    async fn create_first_user(&self, u: &User) -> MetaResult<bool> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pe)?;
        // Under the lock, the INSERT's snapshot sees a user another replica committed.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&FIRST_USER_LOCK])
            .await
            .map_err(pe)?;
        let added = tx
            .execute(
                "INSERT INTO users(name, password_hash, admin)
                 SELECT $1, $2, $3 WHERE NOT EXISTS (SELECT 1 FROM users)",
                &[&u.name, &u.password_hash, &u.admin],
            )
            .await
            .map_err(pe)?;
        tx.commit().await.map_err(pe)?;
        Ok(added == 1)
    }

    async fn get_user(&self, name: &str) -> MetaResult<Option<User>> {
        let c = self.client().await?;
        let r = c
            .query_opt(
                "SELECT name, password_hash, admin FROM users WHERE name = $1",
                &[&name],
            )
            .await
            .map_err(pe)?;
        Ok(r.map(|r| User {
            name: r.get(0),
            password_hash: r.get(1),
            admin: r.get(2),
        }))
    }

    async fn count_users(&self) -> MetaResult<u64> {
        let c = self.client().await?;
        let n: i64 = c
            .query_one("SELECT COUNT(*) FROM users", &[])
            .await
            .map_err(pe)?
            .get(0);
        Ok(n as u64)
    }

    async fn put_api_token(
        &self,
        user: &str,
        token_hash: &str,
        description: &str,
        now: i64,
    ) -> MetaResult<()> {
        let c = self.client().await?;
        c.execute(
            "INSERT INTO api_tokens(hash, username, description, created_at) VALUES ($1, $2, $3, $4)",
            &[&token_hash, &user, &description, &now],
        )
        .await
        .map_err(pe)?;
        Ok(())
    }

    async fn api_token_user(&self, token_hash: &str) -> MetaResult<Option<String>> {
        let c = self.client().await?;
        let r = c
            .query_opt(
                "SELECT username FROM api_tokens WHERE hash = $1",
                &[&token_hash],
            )
            .await
            .map_err(pe)?;
        Ok(r.map(|r| r.get(0)))
    }

    async fn add_grant(&self, subject: &str, pattern: &str, actions: &[String]) -> MetaResult<i64> {
        let c = self.client().await?;
        let r = c
            .query_one(
                "INSERT INTO grants(subject, pattern, actions) VALUES ($1, $2, $3) RETURNING id",
                &[&subject, &pattern, &actions.join(",")],
            )
            .await
            .map_err(pe)?;
        Ok(r.get(0))
    }

    async fn remove_grant(&self, id: i64) -> MetaResult<bool> {
        let c = self.client().await?;
        let n = c
            .execute("DELETE FROM grants WHERE id = $1", &[&id])
            .await
            .map_err(pe)?;
        Ok(n > 0)
    }

    async fn grants_for(&self, subject: &str) -> MetaResult<Vec<Grant>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT id, subject, pattern, actions FROM grants WHERE subject = $1 ORDER BY id",
                &[&subject],
            )
            .await
            .map_err(pe)?;
        Ok(rows.iter().map(grant_from).collect())
    }

    async fn list_grants(&self) -> MetaResult<Vec<Grant>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT id, subject, pattern, actions FROM grants ORDER BY id",
                &[],
            )
            .await
            .map_err(pe)?;
        Ok(rows.iter().map(grant_from).collect())
    }

    async fn put_component(&self, e: &ComponentEntry) -> MetaResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(pe)?;
        tx.execute(
            "INSERT INTO components(repo, manifest, package, version, world) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT(repo, manifest) DO UPDATE SET package = excluded.package,
                 version = excluded.version, world = excluded.world",
            &[&e.repo, &e.manifest, &e.package, &e.version, &e.world],
        )
        .await
        .map_err(pe)?;
        tx.execute(
            "DELETE FROM component_items WHERE repo = $1 AND manifest = $2",
            &[&e.repo, &e.manifest],
        )
        .await
        .map_err(pe)?;
        for (dir, items) in [("import", &e.imports), ("export", &e.exports)] {
            for (iface, ver) in items {
                tx.execute(
                    "INSERT INTO component_items(repo, manifest, direction, interface, version) VALUES ($1, $2, $3, $4, $5)",
                    &[&e.repo, &e.manifest, &dir, iface, ver],
                )
                .await
                .map_err(pe)?;
            }
        }
        tx.commit().await.map_err(pe)
    }

    async fn recent_repos(
        &self,
        patterns: Option<&[String]>,
        n: u32,
    ) -> MetaResult<Vec<(String, i64)>> {
        let Some(regexes) = pattern_regexes(patterns) else {
            return Ok(Vec::new());
        };
        // Newest tags first (index `tags_updated`), a batch at a time, until `n`
        // repositories: a repository's first row is its newest push.
        const BATCH: i64 = 1000;
        let c = self.client().await?;
        let mut out: Vec<(String, i64)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut offset = 0i64;
        while out.len() < n as usize {
            let rows = c
                .query(
                    "SELECT repo, updated_at FROM tags
                     WHERE $1::TEXT[] IS NULL OR repo ~ ANY($1)
                     ORDER BY updated_at DESC, repo, name LIMIT $2 OFFSET $3",
                    &[&regexes, &BATCH, &offset],
                )
                .await
                .map_err(pe)?;
            for r in &rows {
                let repo: String = r.get(0);
                if out.len() < n as usize && seen.insert(repo.clone()) {
                    out.push((repo, r.get(1)));
                }
            }
            if (rows.len() as i64) < BATCH {
                break;
            }
            offset += BATCH;
        }
        Ok(out)
    }

    async fn find_repos(
        &self,
        patterns: Option<&[String]>,
        needle: &str,
        skip: u32,
        n: u32,
    ) -> MetaResult<Vec<String>> {
        let Some(regexes) = pattern_regexes(patterns) else {
            return Ok(Vec::new());
        };
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT name FROM repositories
                 WHERE strpos(name, $1) > 0 AND ($2::TEXT[] IS NULL OR name ~ ANY($2))
                 ORDER BY name LIMIT $3 OFFSET $4",
                &[&needle, &regexes, &i64::from(n), &i64::from(skip)],
            )
            .await
            .map_err(pe)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn tag_details(
        &self,
        repo: &str,
        last: Option<&str>,
        n: u32,
    ) -> MetaResult<Vec<TagDetail>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT t.name, t.digest, m.media_type, m.size, m.artifact_type, t.updated_at,
                        EXISTS (SELECT 1 FROM components k
                                WHERE k.repo = t.repo AND k.manifest = t.digest)
                 FROM tags t JOIN manifests m ON m.repo = t.repo AND m.digest = t.digest
                 WHERE t.repo = $1 AND t.name > $2 ORDER BY t.name LIMIT $3",
                &[&repo, &last.unwrap_or(""), &i64::from(n)],
            )
            .await
            .map_err(pe)?;
        Ok(rows
            .iter()
            .map(|r| TagDetail {
                tag: r.get(0),
                digest: r.get(1),
                media_type: r.get(2),
                size: u64::try_from(r.get::<_, i64>(3)).unwrap_or(0),
                artifact_type: r.get(4),
                updated_at: r.get(5),
                component: r.get(6),
            })
            .collect())
    }

    async fn search_components(&self, q: &ComponentQuery) -> MetaResult<Vec<ComponentEntry>> {
        // Same matching as SQLite: `iface@ver` matches `ver` and any version it is a
        // prefix of at a dot boundary.
        let split = |s: &Option<String>| {
            s.as_ref().map(|s| match s.split_once('@') {
                Some((i, v)) => (i.to_string(), Some(v.to_string())),
                None => (s.clone(), None),
            })
        };
        let (ex, im) = (split(&q.exports), split(&q.imports));
        let item_filter = |dir: &str, i: usize, v: usize| {
            format!(
                "EXISTS (SELECT 1 FROM component_items i WHERE i.repo = c.repo AND i.manifest = c.manifest
                 AND i.direction = '{dir}' AND i.interface = ${i}::TEXT
                 AND (${v}::TEXT IS NULL OR i.version = ${v}::TEXT OR i.version LIKE ${v}::TEXT || '.%'))"
            )
        };
        let mut sql = String::from(
            "SELECT c.repo, c.manifest, c.package, c.version, c.world FROM components c WHERE TRUE",
        );
        if ex.is_some() {
            sql += &format!(" AND {}", item_filter("export", 1, 2));
        } else {
            sql += " AND ($1::TEXT IS NULL AND $2::TEXT IS NULL)";
        }
        if im.is_some() {
            sql += &format!(" AND {}", item_filter("import", 3, 4));
        } else {
            sql += " AND ($3::TEXT IS NULL AND $4::TEXT IS NULL)";
        }
        sql +=
            " AND ($5::TEXT IS NULL OR c.package = $5::TEXT) ORDER BY c.repo, c.manifest LIMIT $6";
        let (e1, e2) = ex.map_or((None, None), |(i, v)| (Some(i), v));
        let (i1, i2) = im.map_or((None, None), |(i, v)| (Some(i), v));
        let limit = i64::from(q.limit.max(1));
        let params: [&(dyn ToSql + Sync); 6] = [&e1, &e2, &i1, &i2, &q.package, &limit];
        let c = self.client().await?;
        let rows = c.query(&sql, &params).await.map_err(pe)?;
        let mut out: Vec<ComponentEntry> = rows
            .iter()
            .map(|r| ComponentEntry {
                repo: r.get(0),
                manifest: r.get(1),
                package: r.get(2),
                version: r.get(3),
                world: r.get(4),
                imports: vec![],
                exports: vec![],
            })
            .collect();
        for e in &mut out {
            let rows = c
                .query(
                    "SELECT direction, interface, version FROM component_items
                     WHERE repo = $1 AND manifest = $2 ORDER BY id",
                    &[&e.repo, &e.manifest],
                )
                .await
                .map_err(pe)?;
            for r in rows {
                let (dir, iface, ver): (String, String, String) = (r.get(0), r.get(1), r.get(2));
                if dir == "import" {
                    e.imports.push((iface, ver))
                } else {
                    e.exports.push((iface, ver))
                }
            }
        }
        Ok(out)
    }

    async fn shared_setting(&self, name: &str, candidate: &str) -> MetaResult<String> {
        let c = self.client().await?;
        c.execute(
            "INSERT INTO settings(name, value) VALUES ($1, $2) ON CONFLICT(name) DO NOTHING",
            &[&name, &candidate],
        )
        .await
        .map_err(pe)?;
        let r = c
            .query_one("SELECT value FROM settings WHERE name = $1", &[&name])
            .await
            .map_err(pe)?;
        Ok(r.get(0))
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        ttl_secs: i64,
    ) -> MetaResult<bool> {
        let c = self.client().await?;
        let r = c
            .query_opt(
                "INSERT INTO leases(name, holder, expires_at) VALUES ($1, $2, $3)
                 ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
                 WHERE leases.expires_at <= $4 OR leases.holder = excluded.holder
                 RETURNING holder",
                &[&name, &holder, &(now + ttl_secs), &now],
            )
            .await
            .map_err(pe)?;
        Ok(r.is_some())
    }

    async fn release_lease(&self, name: &str, holder: &str) -> MetaResult<()> {
        let c = self.client().await?;
        c.execute(
            "DELETE FROM leases WHERE name = $1 AND holder = $2",
            &[&name, &holder],
        )
        .await
        .map_err(pe)?;
        Ok(())
    }

    async fn get_setting(&self, name: &str) -> MetaResult<Option<String>> {
        let c = self.client().await?;
        let r = c
            .query_opt("SELECT value FROM settings WHERE name = $1", &[&name])
            .await
            .map_err(pe)?;
        Ok(r.map(|r| r.get(0)))
    }

    async fn list_users(&self) -> MetaResult<Vec<User>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT name, password_hash, admin FROM users ORDER BY name",
                &[],
            )
            .await
            .map_err(pe)?;
        Ok(rows
            .iter()
            .map(|r| User {
                name: r.get(0),
                password_hash: r.get(1),
                admin: r.get(2),
            })
            .collect())
    }

    async fn list_api_tokens(&self) -> MetaResult<Vec<ApiToken>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT hash, username, description, created_at FROM api_tokens ORDER BY hash",
                &[],
            )
            .await
            .map_err(pe)?;
        Ok(rows
            .iter()
            .map(|r| ApiToken {
                hash: r.get(0),
                user: r.get(1),
                description: r.get(2),
                created_at: r.get(3),
            })
            .collect())
    }

    async fn repo_blob_links(&self, repo: &str) -> MetaResult<Vec<(Digest, u64)>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT b.digest, b.size FROM repo_blobs rb JOIN blobs b ON b.digest = rb.digest
                 WHERE rb.repo = $1 AND b.state = 'live' ORDER BY b.digest",
                &[&repo],
            )
            .await
            .map_err(pe)?;
        rows.iter()
            .map(|r| Ok((parse_digest(r.get(0))?, r.get::<_, i64>(1) as u64)))
            .collect()
    }

    async fn export_manifests(&self, repo: &str) -> MetaResult<Vec<NewManifest>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT digest, media_type, size, artifact_type, subject, annotations
                 FROM manifests WHERE repo = $1 ORDER BY digest",
                &[&repo],
            )
            .await
            .map_err(pe)?;
        let mut out = Vec::new();
        for r in rows {
            let d: String = r.get(0);
            let mut m = NewManifest {
                repo: repo.to_string(),
                digest: parse_digest(d.clone())?,
                media_type: r.get(1),
                size: r.get::<_, i64>(2) as u64,
                artifact_type: r.get(3),
                subject: r
                    .get::<_, Option<String>>(4)
                    .map(parse_digest)
                    .transpose()?,
                annotations: r.get(5),
                blobs: vec![],
                foreign: vec![],
                children: vec![],
                tag: None,
                may_overwrite_tag: true,
            };
            let refs = c
                .query(
                    "SELECT child, kind FROM manifest_refs WHERE repo = $1 AND manifest = $2 ORDER BY child",
                    &[&repo, &d],
                )
                .await
                .map_err(pe)?;
            for rr in refs {
                let child = parse_digest(rr.get(0))?;
                if rr.get::<_, String>(1) == "manifest" {
                    m.children.push(child)
                } else {
                    m.foreign.push(child)
                }
            }
            out.push(m);
        }
        out.sort_by_key(|m| !m.children.is_empty());
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_newer_schema_is_refused_and_an_older_one_migrated() {
        let Some(t) = PostgresMetadata::temporary().await else {
            return;
        };
        let c = t.client().await.unwrap();
        // Back to version 1 (before settings, leases, upload owners, chunk rows and the
        // browsing indexes), with a session in the old form: its chunk list must survive
        // the migration.
        c.batch_execute(
            "DROP TABLE settings; DROP TABLE leases; DROP TABLE upload_chunks;
             DROP INDEX component_items_entry; DROP INDEX tags_updated;
             DROP INDEX uploads_owner; ALTER TABLE uploads DROP COLUMN owner;
             UPDATE schema_version SET version = 1;
             INSERT INTO uploads(id, repo, committed, chunks, created_at, updated_at)
                 VALUES ('old', 'r', 15, 'p0,p10', 0, 0)",
        )
        .await
        .unwrap();
        drop(c);
        let dropper = t.test_schema.clone().unwrap();
        let mut cfg = dropper.base.clone();
        cfg.options(format!("-c search_path={}", dropper.schema));
        let again = PostgresMetadata::with_config(cfg.clone(), 1, None)
            .await
            .unwrap();
        assert_eq!(again.shared_setting("k", "v").await.unwrap(), "v");
        assert_eq!(again.upload_chunks("old").await.unwrap(), vec!["p0", "p10"]);
        let old = again.get_upload("old").await.unwrap().unwrap();
        assert_eq!((old.offset, old.owner.as_str()), (15, ""));
        let c = again.client().await.unwrap();
        c.batch_execute("UPDATE schema_version SET version = 99")
            .await
            .unwrap();
        drop(c);
        let err = PostgresMetadata::with_config(cfg, 1, None)
            .await
            .err()
            .expect("a newer schema is refused");
        assert!(
            matches!(
                err,
                MetaError::SchemaTooNew {
                    found: 99,
                    supported: migrations::LATEST
                }
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn wrong_credentials_and_unreachable_servers_are_named() {
        let err = PostgresMetadata::connect("postgres://u:p@127.0.0.1:1/db", 1, None)
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("cannot connect to PostgreSQL at u@127.0.0.1:1/db"),
            "{err}"
        );
        assert!(!err.contains(":p@"), "the password is never shown: {err}");
        let Ok(url) = std::env::var("WCOMP_TEST_POSTGRES") else {
            return;
        };
        if url.is_empty() {
            return;
        }
        // The test server trusts everyone; a role that does not exist is still refused.
        let mut cfg: tokio_postgres::Config = url.parse().unwrap();
        cfg.user("no_such_role_wcomp");
        let err = PostgresMetadata::with_config(cfg, 1, None)
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("no_such_role_wcomp"), "{err}");
    }

    /// `sslmode=require` speaks TLS and verifies the server: refused without the CA that
    /// signed its certificate, encrypted with it (scripts/postgres.sh's server has TLS).
    #[tokio::test]
    async fn sslmode_require_verifies_the_server_against_tls_ca() {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let (Some(url), Some(ca)) = (env("WCOMP_TEST_POSTGRES"), env("WCOMP_TEST_POSTGRES_CA"))
        else {
            assert!(
                env("CI").is_none_or(|v| v == "false" || v == "0"),
                "CI is set but WCOMP_TEST_POSTGRES(_CA) is not: scripts/postgres.sh starts a server with TLS"
            );
            eprintln!("skipped: WCOMP_TEST_POSTGRES or WCOMP_TEST_POSTGRES_CA is not set");
            return;
        };
        let ca = std::path::Path::new(&ca);
        let mut cfg: tokio_postgres::Config = url.parse().unwrap();
        cfg.ssl_mode(tokio_postgres::config::SslMode::Require);

        let err = PostgresMetadata::with_config(cfg.clone(), 1, None)
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("cannot connect to PostgreSQL") && err.contains("certificate"),
            "{err}"
        );
        let err = PostgresMetadata::connect(&url, 1, Some(ca))
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("add `sslmode=require`"), "{err}");

        let tls = wcomp_pgtls::RustlsConnect::new(Some(ca)).unwrap();
        let (c, conn) = cfg.connect(tls).await.unwrap();
        tokio::spawn(conn);
        let encrypted: bool = c
            .query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert!(encrypted);
        // The pool over TLS migrates a fresh schema and answers.
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        c.batch_execute(&format!("CREATE SCHEMA {schema}"))
            .await
            .unwrap();
        let mut in_schema = cfg.clone();
        in_schema.options(format!("-c search_path={schema}"));
        let meta = PostgresMetadata::with_config(in_schema, 1, Some(ca))
            .await
            .unwrap();
        assert_eq!(meta.count_users().await.unwrap(), 0);
        drop(meta);
        c.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
            .await
            .unwrap();
    }
}

#[cfg(test)]
mod suite_backend {
    crate::metadata_suite!(optional super::PostgresMetadata::temporary().await);
}
