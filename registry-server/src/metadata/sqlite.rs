//! The embedded SQLite backend, in WAL mode, used from blocking threads.
//!
//! * Every writing call runs on the one writer connection, behind a mutex: SQLite serialises
//!   writers anyway, and `BEGIN IMMEDIATE` on every writing call makes each trait method one
//!   atomic step, which the GC argument relies on.
//! * Reading calls take a connection from a small pool of read-only (`query_only`) ones, so
//!   manifest, tag and blob lookups neither wait for each other nor for a write in progress
//!   (WAL lets readers proceed while a writer holds its transaction). Each reading call runs in
//!   one read transaction, so it sees one snapshot, as it did when everything shared one
//!   connection.
//! * An in-memory database cannot be shared between connections: there, reads use the writer.
//!
//! A separate process (`wcomp-registry gc`) may open the same file; `busy_timeout` makes it
//! wait its turn instead of failing.

use super::migrations;
use super::*;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Read connections per database. Reads are short index lookups; a few connections are
/// enough to keep them from queueing on a small machine without holding many file handles.
const READERS: usize = 4;

const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// SQL functions the queries use, on every connection: `wcomp_glob(pattern, name)` and
/// `wcomp_glob_any(patterns, name)` (patterns separated by newlines), with
/// [`crate::pattern::glob_match`]'s semantics, which SQLite's own GLOB does not have (its `*`
/// crosses `/`).
fn register_functions(c: &Connection) -> MetaResult<()> {
    use rusqlite::functions::FunctionFlags;
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    c.create_scalar_function("wcomp_glob", 2, flags, |ctx| {
        let (p, n) = (ctx.get_raw(0).as_str()?, ctx.get_raw(1).as_str()?);
        Ok(crate::pattern::glob_match(p, n))
    })
    .map_err(be)?;
    c.create_scalar_function("wcomp_glob_any", 2, flags, |ctx| {
        let (ps, n) = (ctx.get_raw(0).as_str()?, ctx.get_raw(1).as_str()?);
        Ok(ps.split('\n').any(|p| crate::pattern::glob_match(p, n)))
    })
    .map_err(be)
}

/// The bounds of the names a glob can match, for a range scan of an index: its literal
/// prefix, and that prefix followed by a byte above every character of a repository name.
fn glob_range(pattern: &str) -> (String, String) {
    let prefix: String = pattern
        .chars()
        .take_while(|c| !matches!(c, '*' | '?'))
        .collect();
    let upper = format!("{prefix}\u{7f}");
    (prefix, upper)
}

#[derive(Clone)]
pub struct SqliteMetadata {
    inner: Arc<Inner>,
}

struct Inner {
    writer: Mutex<Connection>,
    /// `None` for an in-memory database.
    readers: Option<ReadPool>,
    /// The directory of a [`SqliteMetadata::temporary`] database, removed after the
    /// connections above are closed (fields drop in order).
    #[cfg(test)]
    _dir: Option<tempfile::TempDir>,
}

/// Opens the read-only connections of the read pool (a `deadpool` pool of at most
/// [`READERS`], each opened on first need; a call waits for a free one).
struct Readers {
    path: PathBuf,
}

type ReadPool = deadpool::managed::Pool<Readers>;

impl deadpool::managed::Manager for Readers {
    type Type = Connection;
    type Error = MetaError;

    async fn create(&self) -> MetaResult<Connection> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let c = Connection::open(&path).map_err(be)?;
            c.busy_timeout(BUSY_TIMEOUT).map_err(be)?;
            // A reading call that tried to write would be a bug; make it an error.
            c.pragma_update(None, "query_only", true).map_err(be)?;
            register_functions(&c)?;
            Ok(c)
        })
        .await
        .map_err(be)?
    }

    async fn recycle(
        &self,
        _: &mut Connection,
        _: &deadpool::managed::Metrics,
    ) -> deadpool::managed::RecycleResult<MetaError> {
        // Every reading call ends its transaction; nothing is left to reset.
        Ok(())
    }
}

fn be(e: impl std::fmt::Display) -> MetaError {
    MetaError::Backend(e.to_string())
}

impl SqliteMetadata {
    pub fn open(path: &Path) -> MetaResult<Self> {
        let conn = Connection::open(path).map_err(be)?;
        let readers = ReadPool::builder(Readers {
            path: path.to_path_buf(),
        })
        .max_size(READERS)
        .build()
        .map_err(be)?;
        Self::init(conn, Some(readers))
    }

    pub fn in_memory() -> MetaResult<Self> {
        Self::init(Connection::open_in_memory().map_err(be)?, None)
    }

    /// A database file in a fresh temporary directory, removed when the last clone is
    /// dropped: the suite runs against it too, so the read pool is tested, not only the
    /// in-memory path.
    #[cfg(test)]
    pub fn temporary() -> MetaResult<Self> {
        let dir = tempfile::tempdir().map_err(be)?;
        let path = dir.path().join("registry.db");
        let mut m = Self::open(&path)?;
        Arc::get_mut(&mut m.inner)
            .expect("just created, not shared")
            ._dir = Some(dir);
        Ok(m)
    }

    fn init(mut conn: Connection, readers: Option<ReadPool>) -> MetaResult<Self> {
        conn.busy_timeout(BUSY_TIMEOUT).map_err(be)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(be)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(be)?;
        migrate(&mut conn)?;
        register_functions(&conn)?;
        Ok(Self {
            inner: Arc::new(Inner {
                writer: Mutex::new(conn),
                readers,
                #[cfg(test)]
                _dir: None,
            }),
        })
    }

    /// [`Metadata::shared_setting`] for callers outside a runtime (`App::open`).
    pub fn shared_setting_blocking(&self, name: &str, candidate: &str) -> MetaResult<String> {
        let mut guard = self
            .inner
            .writer
            .lock()
            .map_err(|_| MetaError::Backend("connection mutex poisoned".into()))?;
        shared_setting(&mut guard, name, candidate)
    }

    /// Runs a writing call on the writer connection.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> MetaResult<T> + Send + 'static,
    ) -> MetaResult<T> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = inner
                .writer
                .lock()
                .map_err(|_| MetaError::Backend("connection mutex poisoned".into()))?;
            f(&mut guard)
        })
        .await
        .map_err(be)?
    }

    /// Runs a reading call in one read transaction on a pooled connection (the writer for an
    /// in-memory database).
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> MetaResult<T> + Send + 'static,
    ) -> MetaResult<T> {
        let inner = self.inner.clone();
        let pooled = match &inner.readers {
            Some(pool) => Some(pool.get().await.map_err(be)?),
            None => None,
        };
        tokio::task::spawn_blocking(move || {
            let in_snapshot = |c: &mut Connection| {
                let tx = c.transaction().map_err(be)?;
                let out = f(&tx)?;
                tx.commit().map_err(be)?;
                Ok(out)
            };
            match pooled {
                // Back to the pool when dropped, at the end of this closure.
                Some(mut c) => in_snapshot(&mut c),
                None => {
                    let mut guard = inner
                        .writer
                        .lock()
                        .map_err(|_| MetaError::Backend("connection mutex poisoned".into()))?;
                    in_snapshot(&mut guard)
                }
            }
        })
        .await
        .map_err(be)?
    }
}

/// Brings the database to [`migrations::LATEST`] in one immediate transaction (so two
/// processes opening one file do not both migrate), or refuses a newer one.
fn migrate(conn: &mut Connection) -> MetaResult<()> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(be)?;
    tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        .map_err(be)?;
    let found: Option<i64> = tx
        .query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))
        .map_err(be)?;
    let steps = migrations::plan(found.unwrap_or(0))?;
    if steps.is_empty() {
        return Ok(());
    }
    for (i, step) in migrations::SQLITE[steps.clone()].iter().enumerate() {
        tx.execute_batch(step).map_err(be)?;
        if steps.start + i + 1 == 3 {
            upgrade_uploads_v3(&tx)?;
        }
    }
    tx.execute("DELETE FROM schema_version", []).map_err(be)?;
    tx.execute(
        "INSERT INTO schema_version(version) VALUES (?1)",
        [steps.end as i64],
    )
    .map_err(be)?;
    tx.commit().map_err(be)
}

/// The code half of schema version 3 (upload sessions with owners): adds `uploads.owner` unless present (a
/// database written by the unversioned build of that change has it; old sessions get the
/// owner `""`, which only an unauthenticated server's callers have) and moves chunk lists
/// from `uploads.chunks` into `upload_chunks`.
fn upgrade_uploads_v3(tx: &rusqlite::Transaction<'_>) -> MetaResult<()> {
    let has_owner = tx
        .prepare("SELECT 1 FROM pragma_table_info('uploads') WHERE name = 'owner'")
        .and_then(|mut s| s.exists([]))
        .map_err(be)?;
    if !has_owner {
        tx.execute_batch("ALTER TABLE uploads ADD COLUMN owner TEXT NOT NULL DEFAULT ''")
            .map_err(be)?;
    }
    tx.execute_batch("CREATE INDEX IF NOT EXISTS uploads_owner ON uploads(owner)")
        .map_err(be)?;
    let legacy: Vec<(String, String)> = {
        let mut s = tx
            .prepare("SELECT id, chunks FROM uploads WHERE chunks != ''")
            .map_err(be)?;
        let rows = s
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(be)?;
        rows.collect::<Result<_, _>>().map_err(be)?
    };
    for (id, chunks) in legacy {
        for (seq, part) in chunks.split(',').filter(|p| !p.is_empty()).enumerate() {
            tx.execute(
                "INSERT OR IGNORE INTO upload_chunks(upload, seq, part) VALUES (?1, ?2, ?3)",
                params![id, seq as i64, part],
            )
            .map_err(be)?;
        }
        tx.execute("UPDATE uploads SET chunks = '' WHERE id = ?1", [&id])
            .map_err(be)?;
    }
    Ok(())
}

fn shared_setting(c: &mut Connection, name: &str, candidate: &str) -> MetaResult<String> {
    let tx = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(be)?;
    tx.execute(
        "INSERT INTO settings(name, value) VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING",
        params![name, candidate],
    )
    .map_err(be)?;
    let value = tx
        .query_row("SELECT value FROM settings WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .map_err(be)?;
    tx.commit().map_err(be)?;
    Ok(value)
}

fn parse_digest(s: String) -> MetaResult<Digest> {
    Digest::parse(&s).ok_or_else(|| MetaError::Backend(format!("corrupt digest in database: {s}")))
}

impl SqliteMetadata {
    /// `link_blob`, or with `stored_only` `link_stored_blob`: links only a live row of
    /// that size, and says whether it did.
    async fn link(
        &self,
        repo: &str,
        digest: &Digest,
        size: u64,
        now: i64,
        stored_only: bool,
    ) -> MetaResult<bool> {
        let (repo, d) = (repo.to_string(), digest.to_string());
        self.write(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(be)?;
            let row: Option<(String, i64)> = tx
                .query_row(
                    "SELECT state, size FROM blobs WHERE digest = ?1",
                    [&d],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(be)?;
            match (&row, stored_only) {
                (Some((state, _)), false) if state == "deleting" => {
                    return Err(MetaError::BlobBeingDeleted(d));
                }
                (Some((state, stored)), true) if state == "live" && *stored == size as i64 => {}
                (_, true) => return Ok(false),
                _ => {}
            }
            tx.execute(
                "INSERT INTO blobs(digest, size, state, touched_at) VALUES (?1, ?2, 'live', ?3)
                 ON CONFLICT(digest) DO UPDATE SET touched_at = excluded.touched_at",
                params![d, size as i64, now],
            )
            .map_err(be)?;
            ensure_repo(&tx, &repo, now)?;
            tx.execute(
                "INSERT OR IGNORE INTO repo_blobs(repo, digest) VALUES (?1, ?2)",
                params![repo, d],
            )
            .map_err(be)?;
            tx.commit().map_err(be)?;
            Ok(true)
        })
        .await
    }
}

fn ensure_repo(tx: &rusqlite::Transaction<'_>, repo: &str, now: i64) -> MetaResult<()> {
    tx.execute(
        "INSERT OR IGNORE INTO repositories(name, created_at) VALUES (?1, ?2)",
        params![repo, now],
    )
    .map_err(be)?;
    Ok(())
}

fn get_manifest(conn: &Connection, repo: &str, digest: &str) -> MetaResult<Option<ManifestRecord>> {
    conn.query_row(
        "SELECT digest, media_type, size FROM manifests WHERE repo = ?1 AND digest = ?2",
        params![repo, digest],
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        },
    )
    .optional()
    .map_err(be)?
    .map(|(d, media_type, size)| {
        Ok(ManifestRecord {
            digest: parse_digest(d)?,
            media_type,
            size: size as u64,
        })
    })
    .transpose()
}

fn get_grants(conn: &Connection, subject: Option<&str>) -> MetaResult<Vec<Grant>> {
    let mut stmt = conn
        .prepare("SELECT id, subject, pattern, actions FROM grants WHERE ?1 IS NULL OR subject = ?1 ORDER BY id")
        .map_err(be)?;
    let rows = stmt
        .query_map(params![subject], |r| {
            Ok(Grant {
                id: r.get(0)?,
                subject: r.get(1)?,
                pattern: r.get(2)?,
                actions: r
                    .get::<_, String>(3)?
                    .split(',')
                    .map(str::to_string)
                    .collect(),
            })
        })
        .map_err(be)?;
    rows.collect::<Result<_, _>>().map_err(be)
}

/// `patterns` as `wcomp_glob_any` takes them: `Some(None)` for "every repository", `None`
/// when no pattern (so no repository) is allowed.
fn joined_patterns(patterns: Option<&[String]>) -> Option<Option<String>> {
    match patterns {
        Some([]) => None,
        Some(p) => Some(Some(p.join("\n"))),
        None => Some(None),
    }
}

#[async_trait]
impl Metadata for SqliteMetadata {
    async fn repo_exists(&self, repo: &str) -> MetaResult<bool> {
        let repo = repo.to_string();
        self.read(move |c| {
            c.query_row("SELECT 1 FROM repositories WHERE name = ?1", [repo], |_| {
                Ok(())
            })
            .optional()
            .map(|o| o.is_some())
            .map_err(be)
        })
        .await
    }

    async fn list_repos(&self, last: Option<&str>, n: u32) -> MetaResult<Vec<String>> {
        let last = last.unwrap_or("").to_string();
        self.read(move |c| {
            let mut s = c
                .prepare("SELECT name FROM repositories WHERE name > ?1 ORDER BY name LIMIT ?2")
                .map_err(be)?;
            let rows = s.query_map(params![last, n], |r| r.get(0)).map_err(be)?;
            rows.collect::<Result<_, _>>().map_err(be)
        })
        .await
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
        let last = last.unwrap_or("").to_string();
        let joined = patterns.join("\n");
        self.read(move |c| {
            let mut s = c
                .prepare(
                    "SELECT name FROM repositories WHERE name > ?1 AND wcomp_glob_any(?2, name)
                     ORDER BY name LIMIT ?3",
                )
                .map_err(be)?;
            let rows = s
                .query_map(params![last, joined, n], |r| r.get(0))
                .map_err(be)?;
            rows.collect::<Result<_, _>>().map_err(be)
        })
        .await
    }

    async fn namespace_usage(&self, pattern: &str) -> MetaResult<u64> {
        let pattern = pattern.to_string();
        let (lo, hi) = glob_range(&pattern);
        self.read(move |c| {
            c.query_row(
                "SELECT (SELECT COALESCE(SUM(size), 0) FROM blobs WHERE state = 'live' AND digest IN (
                            SELECT digest FROM repo_blobs
                            WHERE repo >= ?2 AND repo < ?3 AND wcomp_glob(?1, repo)))
                      + (SELECT COALESCE(SUM(offset), 0) FROM uploads
                         WHERE repo >= ?2 AND repo < ?3 AND wcomp_glob(?1, repo))",
                params![pattern, lo, hi],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(be)
        })
        .await
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
        let (repo, d) = (repo.to_string(), digest.to_string());
        self.read(move |c| {
            c.query_row(
                "SELECT b.size FROM repo_blobs rb JOIN blobs b ON b.digest = rb.digest
                 WHERE rb.repo = ?1 AND rb.digest = ?2 AND b.state = 'live'",
                params![repo, d],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map(|o| o.map(|s| s as u64))
            .map_err(be)
        })
        .await
    }

    async fn blob_repos(&self, digest: &Digest) -> MetaResult<Vec<String>> {
        let d = digest.to_string();
        self.read(move |c| {
            let mut s = c
                .prepare("SELECT repo FROM repo_blobs WHERE digest = ?1 ORDER BY repo LIMIT 100")
                .map_err(be)?;
            let rows = s.query_map([d], |r| r.get(0)).map_err(be)?;
            rows.collect::<Result<_, _>>().map_err(be)
        })
        .await
    }

    async fn unlink_blob(&self, repo: &str, digest: &Digest) -> MetaResult<bool> {
        let (repo, d) = (repo.to_string(), digest.to_string());
        self.write(move |c| {
            c.execute(
                "DELETE FROM repo_blobs WHERE repo = ?1 AND digest = ?2",
                params![repo, d],
            )
            .map(|n| n > 0)
            .map_err(be)
        })
        .await
    }

    async fn put_manifest(&self, m: NewManifest, now: i64) -> MetaResult<()> {
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(be)?;
            let mut missing = Vec::new();
            for b in &m.blobs {
                let ok = tx
                    .query_row(
                        "SELECT 1 FROM repo_blobs rb JOIN blobs b ON b.digest = rb.digest
                         WHERE rb.repo = ?1 AND rb.digest = ?2 AND b.state = 'live'",
                        params![m.repo, b.as_str()],
                        |_| Ok(()),
                    )
                    .optional()
                    .map_err(be)?
                    .is_some();
                if !ok {
                    missing.push(b.to_string());
                }
            }
            for ch in &m.children {
                if get_manifest(&tx, &m.repo, ch.as_str())?.is_none() {
                    missing.push(ch.to_string());
                }
            }
            if !missing.is_empty() {
                return Err(MetaError::BlobsMissing(missing));
            }
            if let Some(tag) = &m.tag {
                let current: Option<String> = tx
                    .query_row("SELECT digest FROM tags WHERE repo = ?1 AND name = ?2", params![m.repo, tag], |r| r.get(0))
                    .optional()
                    .map_err(be)?;
                if let Some(cur) = current
                    && cur != m.digest.as_str()
                    && !m.may_overwrite_tag
                {
                    return Err(MetaError::TagExists { tag: tag.clone(), digest: cur });
                }
            }
            ensure_repo(&tx, &m.repo, now)?;
            tx.execute(
                "INSERT INTO manifests(repo, digest, media_type, size, artifact_type, subject, annotations, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT(repo, digest) DO UPDATE SET media_type = excluded.media_type",
                params![
                    m.repo,
                    m.digest.as_str(),
                    m.media_type,
                    m.size as i64,
                    m.artifact_type,
                    m.subject.as_ref().map(|s| s.to_string()),
                    m.annotations,
                    now
                ],
            )
            .map_err(be)?;
            tx.execute("DELETE FROM manifest_refs WHERE repo = ?1 AND manifest = ?2", params![m.repo, m.digest.as_str()])
                .map_err(be)?;
            for (list, kind) in [(&m.blobs, "blob"), (&m.foreign, "blob"), (&m.children, "manifest")] {
                for child in list {
                    tx.execute(
                        "INSERT OR IGNORE INTO manifest_refs(repo, manifest, child, kind) VALUES (?1, ?2, ?3, ?4)",
                        params![m.repo, m.digest.as_str(), child.as_str(), kind],
                    )
                    .map_err(be)?;
                }
            }
            if let Some(tag) = &m.tag {
                tx.execute(
                    "INSERT INTO tags(repo, name, digest, updated_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(repo, name) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at",
                    params![m.repo, tag, m.digest.as_str(), now],
                )
                .map_err(be)?;
            }
            tx.commit().map_err(be)
        })
        .await
    }

    async fn get_manifest_by_digest(
        &self,
        repo: &str,
        digest: &Digest,
    ) -> MetaResult<Option<ManifestRecord>> {
        let (repo, d) = (repo.to_string(), digest.to_string());
        self.read(move |c| get_manifest(c, &repo, &d)).await
    }

    async fn get_manifest_by_tag(
        &self,
        repo: &str,
        tag: &str,
    ) -> MetaResult<Option<ManifestRecord>> {
        let (repo, tag) = (repo.to_string(), tag.to_string());
        self.read(move |c| {
            let d: Option<String> = c
                .query_row(
                    "SELECT digest FROM tags WHERE repo = ?1 AND name = ?2",
                    params![repo, tag],
                    |r| r.get(0),
                )
                .optional()
                .map_err(be)?;
            match d {
                Some(d) => get_manifest(c, &repo, &d),
                None => Ok(None),
            }
        })
        .await
    }

    async fn delete_manifest(&self, repo: &str, digest: &Digest) -> MetaResult<bool> {
        let (repo, d) = (repo.to_string(), digest.to_string());
        self.write(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(be)?;
            let n = tx
                .execute(
                    "DELETE FROM manifests WHERE repo = ?1 AND digest = ?2",
                    params![repo, d],
                )
                .map_err(be)?;
            tx.execute(
                "DELETE FROM tags WHERE repo = ?1 AND digest = ?2",
                params![repo, d],
            )
            .map_err(be)?;
            tx.execute(
                "DELETE FROM manifest_refs WHERE repo = ?1 AND manifest = ?2",
                params![repo, d],
            )
            .map_err(be)?;
            tx.execute(
                "DELETE FROM components WHERE repo = ?1 AND manifest = ?2",
                params![repo, d],
            )
            .map_err(be)?;
            tx.execute(
                "DELETE FROM component_items WHERE repo = ?1 AND manifest = ?2",
                params![repo, d],
            )
            .map_err(be)?;
            tx.commit().map_err(be)?;
            Ok(n > 0)
        })
        .await
    }

    async fn delete_tag(&self, repo: &str, tag: &str) -> MetaResult<bool> {
        let (repo, tag) = (repo.to_string(), tag.to_string());
        self.write(move |c| {
            c.execute(
                "DELETE FROM tags WHERE repo = ?1 AND name = ?2",
                params![repo, tag],
            )
            .map(|n| n > 0)
            .map_err(be)
        })
        .await
    }

    async fn list_tags(&self, repo: &str, last: Option<&str>, n: u32) -> MetaResult<Vec<String>> {
        let (repo, last) = (repo.to_string(), last.unwrap_or("").to_string());
        self.read(move |c| {
            let mut s = c
                .prepare(
                    "SELECT name FROM tags WHERE repo = ?1 AND name > ?2 ORDER BY name LIMIT ?3",
                )
                .map_err(be)?;
            let rows = s
                .query_map(params![repo, last, n], |r| r.get(0))
                .map_err(be)?;
            rows.collect::<Result<_, _>>().map_err(be)
        })
        .await
    }

    async fn referrers(
        &self,
        repo: &str,
        subject: &Digest,
        artifact_type: Option<&str>,
        last: Option<&str>,
        n: u32,
    ) -> MetaResult<Vec<Referrer>> {
        let (repo, subject) = (repo.to_string(), subject.to_string());
        let (at, last) = (
            artifact_type.map(str::to_string),
            last.unwrap_or("").to_string(),
        );
        self.read(move |c| {
            let mut s = c
                .prepare(
                    "SELECT digest, media_type, size, artifact_type, annotations FROM manifests
                     WHERE repo = ?1 AND subject = ?2 AND (?3 IS NULL OR artifact_type = ?3) AND digest > ?4
                     ORDER BY digest LIMIT ?5",
                )
                .map_err(be)?;
            let rows = s
                .query_map(params![repo, subject, at, last, n], |r| {
                    Ok((r.get::<_, String>(0)?, r.get(1)?, r.get::<_, i64>(2)?, r.get(3)?, r.get(4)?))
                })
                .map_err(be)?;
            let mut out = Vec::new();
            for row in rows {
                let (d, media_type, size, artifact_type, annotations) = row.map_err(be)?;
                out.push(Referrer { digest: parse_digest(d)?, media_type, size: size as u64, artifact_type, annotations });
            }
            Ok(out)
        })
        .await
    }

    async fn create_upload(
        &self,
        id: &str,
        repo: &str,
        owner: &str,
        max_open: u64,
        now: i64,
    ) -> MetaResult<()> {
        let (id, repo, owner) = (id.to_string(), repo.to_string(), owner.to_string());
        self.write(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(be)?;
            if max_open > 0 {
                let open: i64 = tx
                    .query_row(
                        "SELECT COUNT(*) FROM uploads WHERE owner = ?1",
                        [&owner],
                        |r| r.get(0),
                    )
                    .map_err(be)?;
                if u64::try_from(open).unwrap_or(0) >= max_open {
                    return Err(MetaError::TooManyUploads {
                        owner,
                        limit: max_open,
                    });
                }
            }
            tx.execute(
                "INSERT INTO uploads(id, repo, owner, offset, chunks, created_at, updated_at)
                 VALUES (?1, ?2, ?3, 0, '', ?4, ?4)",
                params![id, repo, owner, now],
            )
            .map_err(be)?;
            tx.commit().map_err(be)
        })
        .await
    }

    async fn get_upload(&self, id: &str) -> MetaResult<Option<UploadSession>> {
        let id = id.to_string();
        self.read(move |c| {
            c.query_row(
                "SELECT id, repo, owner, offset, updated_at FROM uploads WHERE id = ?1",
                [id],
                |r| {
                    Ok(UploadSession {
                        id: r.get(0)?,
                        repo: r.get(1)?,
                        owner: r.get(2)?,
                        offset: r.get::<_, i64>(3)? as u64,
                        updated_at: r.get(4)?,
                    })
                },
            )
            .optional()
            .map_err(be)
        })
        .await
    }

    async fn upload_chunks(&self, id: &str) -> MetaResult<Vec<String>> {
        let id = id.to_string();
        self.read(move |c| {
            let mut s = c
                .prepare("SELECT part FROM upload_chunks WHERE upload = ?1 ORDER BY seq")
                .map_err(be)?;
            let rows = s.query_map([id], |r| r.get(0)).map_err(be)?;
            rows.collect::<Result<_, _>>().map_err(be)
        })
        .await
    }

    async fn advance_upload(
        &self,
        id: &str,
        from: u64,
        len: u64,
        part: &str,
        now: i64,
    ) -> MetaResult<UploadSession> {
        let (id, part) = (id.to_string(), part.to_string());
        self.write(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(be)?;
            let row: Option<(String, String, i64)> = tx
                .query_row(
                    "SELECT repo, owner, offset FROM uploads WHERE id = ?1",
                    [&id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()
                .map_err(be)?;
            let Some((repo, owner, offset)) = row else {
                return Err(MetaError::UploadUnknown);
            };
            if offset as u64 != from {
                return Err(MetaError::UploadOffset {
                    expected: offset as u64,
                });
            }
            let offset = from
                .checked_add(len)
                .filter(|o| i64::try_from(*o).is_ok())
                .ok_or_else(|| MetaError::Backend("upload offset overflows".into()))?;
            if len > 0 {
                tx.execute(
                    "INSERT INTO upload_chunks(upload, seq, part)
                     VALUES (?1, (SELECT COALESCE(MAX(seq), -1) + 1 FROM upload_chunks WHERE upload = ?1), ?2)",
                    params![id, part],
                )
                .map_err(be)?;
            }
            tx.execute(
                "UPDATE uploads SET offset = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, offset as i64, now],
            )
            .map_err(be)?;
            tx.commit().map_err(be)?;
            Ok(UploadSession {
                id,
                repo,
                owner,
                offset,
                updated_at: now,
            })
        })
        .await
    }

    async fn delete_upload(&self, id: &str) -> MetaResult<bool> {
        let id = id.to_string();
        self.write(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(be)?;
            tx.execute("DELETE FROM upload_chunks WHERE upload = ?1", [&id])
                .map_err(be)?;
            let n = tx
                .execute("DELETE FROM uploads WHERE id = ?1", [&id])
                .map_err(be)?;
            tx.commit().map_err(be)?;
            Ok(n > 0)
        })
        .await
    }

    async fn gc_mark(&self, cutoff: i64, uploads_cutoff: i64) -> MetaResult<GcPlan> {
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(be)?;
            tx.execute(
                "UPDATE blobs SET state = 'deleting'
                 WHERE state = 'live' AND touched_at < ?1
                   AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.digest = blobs.digest)
                   AND NOT EXISTS (SELECT 1 FROM manifest_refs r WHERE r.child = blobs.digest)",
                [cutoff],
            )
            .map_err(be)?;
            tx.execute(
                "DELETE FROM repo_blobs WHERE digest IN (SELECT digest FROM blobs WHERE state = 'deleting')",
                [],
            )
            .map_err(be)?;
            // Includes blobs a crashed earlier run had claimed but not swept.
            let blobs = {
                let mut s = tx.prepare("SELECT digest FROM blobs WHERE state = 'deleting' ORDER BY digest").map_err(be)?;
                let rows = s.query_map([], |r| r.get::<_, String>(0)).map_err(be)?;
                rows.map(|r| r.map_err(be).and_then(parse_digest)).collect::<MetaResult<Vec<_>>>()?
            };
            let uploads = {
                let mut s = tx.prepare("SELECT id FROM uploads WHERE updated_at < ?1 ORDER BY id").map_err(be)?;
                let rows = s.query_map([uploads_cutoff], |r| r.get::<_, String>(0)).map_err(be)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(be)?
            };
            tx.execute(
                "DELETE FROM upload_chunks WHERE upload IN (SELECT id FROM uploads WHERE updated_at < ?1)",
                [uploads_cutoff],
            )
            .map_err(be)?;
            tx.execute("DELETE FROM uploads WHERE updated_at < ?1", [uploads_cutoff]).map_err(be)?;
            tx.commit().map_err(be)?;
            Ok(GcPlan { blobs, uploads })
        })
        .await
    }

    async fn gc_sweep(&self, blobs: &[Digest]) -> MetaResult<()> {
        let blobs: Vec<String> = blobs.iter().map(|d| d.to_string()).collect();
        self.write(move |c| {
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(be)?;
            for d in blobs {
                tx.execute(
                    "DELETE FROM blobs WHERE digest = ?1 AND state = 'deleting'",
                    [d],
                )
                .map_err(be)?;
            }
            tx.commit().map_err(be)
        })
        .await
    }

    async fn blob_known(&self, digest: &Digest) -> MetaResult<bool> {
        let d = digest.to_string();
        self.read(move |c| {
            c.query_row("SELECT 1 FROM blobs WHERE digest = ?1", [d], |_| Ok(()))
                .optional()
                .map(|o| o.is_some())
                .map_err(be)
        })
        .await
    }

    async fn put_user(&self, user: &User) -> MetaResult<()> {
        let u = user.clone();
        self.write(move |c| {
            c.execute(
                "INSERT INTO users(name, password_hash, admin) VALUES (?1, ?2, ?3)
                 ON CONFLICT(name) DO UPDATE SET password_hash = excluded.password_hash, admin = excluded.admin",
                params![u.name, u.password_hash, u.admin],
            )
            .map(|_| ())
            .map_err(be)
        })
        .await
    }

    async fn create_first_user(&self, user: &User) -> MetaResult<bool> {
        let u = user.clone();
        // One statement on the one writer connection: atomic in one process, and SQLite's
        // write lock makes it so across processes sharing the file.
        self.write(move |c| {
            c.execute(
                "INSERT INTO users(name, password_hash, admin)
                 SELECT ?1, ?2, ?3 WHERE NOT EXISTS (SELECT 1 FROM users)",
                params![u.name, u.password_hash, u.admin],
            )
            .map(|n| n == 1)
            .map_err(be)
        })
        .await
    }

    async fn get_user(&self, name: &str) -> MetaResult<Option<User>> {
        let name = name.to_string();
        self.read(move |c| {
            c.query_row(
                "SELECT name, password_hash, admin FROM users WHERE name = ?1",
                [name],
                |r| {
                    Ok(User {
                        name: r.get(0)?,
                        password_hash: r.get(1)?,
                        admin: r.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(be)
        })
        .await
    }

    async fn count_users(&self) -> MetaResult<u64> {
        self.read(|c| {
            c.query_row("SELECT COUNT(*) FROM users", [], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
                .map_err(be)
        })
        .await
    }

    async fn put_api_token(
        &self,
        user: &str,
        token_hash: &str,
        description: &str,
        now: i64,
    ) -> MetaResult<()> {
        let (u, h, d) = (
            user.to_string(),
            token_hash.to_string(),
            description.to_string(),
        );
        self.write(move |c| {
            c.execute(
                "INSERT INTO api_tokens(hash, user, description, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![h, u, d, now],
            )
            .map(|_| ())
            .map_err(be)
        })
        .await
    }

    async fn api_token_user(&self, token_hash: &str) -> MetaResult<Option<String>> {
        let h = token_hash.to_string();
        self.read(move |c| {
            c.query_row("SELECT user FROM api_tokens WHERE hash = ?1", [h], |r| {
                r.get(0)
            })
            .optional()
            .map_err(be)
        })
        .await
    }

    async fn add_grant(&self, subject: &str, pattern: &str, actions: &[String]) -> MetaResult<i64> {
        let (s, p, a) = (subject.to_string(), pattern.to_string(), actions.join(","));
        self.write(move |c| {
            c.execute(
                "INSERT INTO grants(subject, pattern, actions) VALUES (?1, ?2, ?3)",
                params![s, p, a],
            )
            .map_err(be)?;
            Ok(c.last_insert_rowid())
        })
        .await
    }

    async fn remove_grant(&self, id: i64) -> MetaResult<bool> {
        self.write(move |c| {
            c.execute("DELETE FROM grants WHERE id = ?1", [id])
                .map(|n| n > 0)
                .map_err(be)
        })
        .await
    }

    async fn grants_for(&self, subject: &str) -> MetaResult<Vec<Grant>> {
        let s = subject.to_string();
        self.read(move |c| get_grants(c, Some(&s))).await
    }

    async fn list_grants(&self) -> MetaResult<Vec<Grant>> {
        self.read(|c| get_grants(c, None)).await
    }

    async fn put_component(&self, e: &ComponentEntry) -> MetaResult<()> {
        let e = e.clone();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(be)?;
            tx.execute(
                "INSERT OR REPLACE INTO components(repo, manifest, package, version, world) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![e.repo, e.manifest, e.package, e.version, e.world],
            )
            .map_err(be)?;
            tx.execute("DELETE FROM component_items WHERE repo = ?1 AND manifest = ?2", params![e.repo, e.manifest])
                .map_err(be)?;
            for (dir, items) in [("import", &e.imports), ("export", &e.exports)] {
                for (iface, ver) in items {
                    tx.execute(
                        "INSERT INTO component_items(repo, manifest, direction, interface, version) VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![e.repo, e.manifest, dir, iface, ver],
                    )
                    .map_err(be)?;
                }
            }
            tx.commit().map_err(be)
        })
        .await
    }

    async fn recent_repos(
        &self,
        patterns: Option<&[String]>,
        n: u32,
    ) -> MetaResult<Vec<(String, i64)>> {
        let Some(joined) = joined_patterns(patterns) else {
            return Ok(Vec::new());
        };
        self.read(move |c| {
            let mut s = c
                .prepare(
                    // Newest tags first (index `tags_updated`), stopping at `n` repositories:
                    // a repository's first row is its newest push.
                    "SELECT repo, updated_at FROM tags
                     WHERE ?1 IS NULL OR wcomp_glob_any(?1, repo)
                     ORDER BY updated_at DESC, repo",
                )
                .map_err(be)?;
            let mut rows = s.query(params![joined]).map_err(be)?;
            let mut out: Vec<(String, i64)> = Vec::new();
            let mut seen = std::collections::HashSet::new();
            while out.len() < n as usize
                && let Some(r) = rows.next().map_err(be)?
            {
                let repo: String = r.get(0).map_err(be)?;
                if seen.insert(repo.clone()) {
                    out.push((repo, r.get(1).map_err(be)?));
                }
            }
            Ok(out)
        })
        .await
    }

    async fn find_repos(
        &self,
        patterns: Option<&[String]>,
        needle: &str,
        skip: u32,
        n: u32,
    ) -> MetaResult<Vec<String>> {
        let Some(joined) = joined_patterns(patterns) else {
            return Ok(Vec::new());
        };
        let needle = needle.to_string();
        self.read(move |c| {
            let mut s = c
                .prepare(
                    "SELECT name FROM repositories
                     WHERE instr(name, ?1) > 0 AND (?2 IS NULL OR wcomp_glob_any(?2, name))
                     ORDER BY name LIMIT ?3 OFFSET ?4",
                )
                .map_err(be)?;
            let rows = s
                .query_map(params![needle, joined, n, skip], |r| r.get(0))
                .map_err(be)?;
            rows.collect::<Result<_, _>>().map_err(be)
        })
        .await
    }

    async fn tag_details(
        &self,
        repo: &str,
        last: Option<&str>,
        n: u32,
    ) -> MetaResult<Vec<TagDetail>> {
        let (repo, last) = (repo.to_string(), last.unwrap_or("").to_string());
        self.read(move |c| {
            let mut s = c
                .prepare(
                    "SELECT t.name, t.digest, m.media_type, m.size, m.artifact_type, t.updated_at,
                            EXISTS (SELECT 1 FROM components k
                                    WHERE k.repo = t.repo AND k.manifest = t.digest)
                     FROM tags t JOIN manifests m ON m.repo = t.repo AND m.digest = t.digest
                     WHERE t.repo = ?1 AND t.name > ?2 ORDER BY t.name LIMIT ?3",
                )
                .map_err(be)?;
            let rows = s
                .query_map(params![repo, last, n], |r| {
                    Ok(TagDetail {
                        tag: r.get(0)?,
                        digest: r.get(1)?,
                        media_type: r.get(2)?,
                        size: u64::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
                        artifact_type: r.get(4)?,
                        updated_at: r.get(5)?,
                        component: r.get(6)?,
                    })
                })
                .map_err(be)?;
            rows.collect::<Result<_, _>>().map_err(be)
        })
        .await
    }

    async fn search_components(&self, q: &ComponentQuery) -> MetaResult<Vec<ComponentEntry>> {
        let q = q.clone();
        self.read(move |c| {
            // `iface@ver` matches `ver` itself and any version it is a prefix of at a dot
            // boundary: `wasi:http/incoming-handler@0.2` matches 0.2.0 and 0.2.6, not 0.20.
            let split = |s: &Option<String>| {
                s.as_ref().map(|s| match s.split_once('@') {
                    Some((i, v)) => (i.to_string(), Some(v.to_string())),
                    None => (s.clone(), None),
                })
            };
            let (ex, im) = (split(&q.exports), split(&q.imports));
            let item_filter = |dir: &str| {
                format!(
                    // Uncorrelated, so it runs once through `component_items_iface`
                    // rather than once per component.
                    "(c.repo, c.manifest) IN (SELECT i.repo, i.manifest FROM component_items i
                     WHERE i.direction = '{dir}' AND i.interface = ?{} AND (?{} IS NULL OR i.version = ?{} OR i.version LIKE ?{} || '.%'))",
                    if dir == "export" { 1 } else { 3 },
                    if dir == "export" { 2 } else { 4 },
                    if dir == "export" { 2 } else { 4 },
                    if dir == "export" { 2 } else { 4 },
                )
            };
            let mut sql = String::from("SELECT c.repo, c.manifest, c.package, c.version, c.world FROM components c WHERE 1 = 1");
            if ex.is_some() {
                sql += &format!(" AND {}", item_filter("export"));
            }
            if im.is_some() {
                sql += &format!(" AND {}", item_filter("import"));
            }
            sql += " AND (?5 IS NULL OR c.package = ?5) ORDER BY c.repo, c.manifest LIMIT ?6";
            let (e1, e2) = ex.map_or((None, None), |(i, v)| (Some(i), v));
            let (i1, i2) = im.map_or((None, None), |(i, v)| (Some(i), v));
            let mut s = c.prepare(&sql).map_err(be)?;
            let rows = s
                .query_map(params![e1, e2, i1, i2, q.package, q.limit.max(1)], |r| {
                    Ok(ComponentEntry {
                        repo: r.get(0)?,
                        manifest: r.get(1)?,
                        package: r.get(2)?,
                        version: r.get(3)?,
                        world: r.get(4)?,
                        imports: vec![],
                        exports: vec![],
                    })
                })
                .map_err(be)?;
            let mut out: Vec<ComponentEntry> = rows.collect::<Result<_, _>>().map_err(be)?;
            let mut items = c
                .prepare("SELECT direction, interface, version FROM component_items WHERE repo = ?1 AND manifest = ?2 ORDER BY rowid")
                .map_err(be)?;
            for e in &mut out {
                let rows = items
                    .query_map(params![e.repo, e.manifest], |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?)))
                    .map_err(be)?;
                for row in rows {
                    let (dir, iface, ver) = row.map_err(be)?;
                    if dir == "import" { e.imports.push((iface, ver)) } else { e.exports.push((iface, ver)) }
                }
            }
            Ok(out)
        })
        .await
    }

    async fn shared_setting(&self, name: &str, candidate: &str) -> MetaResult<String> {
        let (n, v) = (name.to_string(), candidate.to_string());
        self.write(move |c| shared_setting(c, &n, &v)).await
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        ttl_secs: i64,
    ) -> MetaResult<bool> {
        let (n, h) = (name.to_string(), holder.to_string());
        self.write(move |c| {
            c.query_row(
                "INSERT INTO leases(name, holder, expires_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
                 WHERE leases.expires_at <= ?4 OR leases.holder = excluded.holder
                 RETURNING holder",
                params![n, h, now + ttl_secs, now],
                |_| Ok(()),
            )
            .optional()
            .map(|o| o.is_some())
            .map_err(be)
        })
        .await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> MetaResult<()> {
        let (n, h) = (name.to_string(), holder.to_string());
        self.write(move |c| {
            c.execute(
                "DELETE FROM leases WHERE name = ?1 AND holder = ?2",
                params![n, h],
            )
            .map(|_| ())
            .map_err(be)
        })
        .await
    }

    async fn get_setting(&self, name: &str) -> MetaResult<Option<String>> {
        let n = name.to_string();
        self.read(move |c| {
            c.query_row("SELECT value FROM settings WHERE name = ?1", [n], |r| {
                r.get(0)
            })
            .optional()
            .map_err(be)
        })
        .await
    }

    async fn list_users(&self) -> MetaResult<Vec<User>> {
        self.read(|c| {
            let mut s = c
                .prepare("SELECT name, password_hash, admin FROM users ORDER BY name")
                .map_err(be)?;
            let rows = s
                .query_map([], |r| {
                    Ok(User {
                        name: r.get(0)?,
                        password_hash: r.get(1)?,
                        admin: r.get(2)?,
                    })
                })
                .map_err(be)?;
            rows.collect::<Result<_, _>>().map_err(be)
        })
        .await
    }

    async fn list_api_tokens(&self) -> MetaResult<Vec<ApiToken>> {
        self.read(|c| {
            let mut s = c
                .prepare("SELECT hash, user, description, created_at FROM api_tokens ORDER BY hash")
                .map_err(be)?;
            let rows = s
                .query_map([], |r| {
                    Ok(ApiToken {
                        hash: r.get(0)?,
                        user: r.get(1)?,
                        description: r.get(2)?,
                        created_at: r.get(3)?,
                    })
                })
                .map_err(be)?;
            rows.collect::<Result<_, _>>().map_err(be)
        })
        .await
    }

    async fn repo_blob_links(&self, repo: &str) -> MetaResult<Vec<(Digest, u64)>> {
        let repo = repo.to_string();
        self.read(move |c| {
            let mut s = c
                .prepare(
                    "SELECT b.digest, b.size FROM repo_blobs rb JOIN blobs b ON b.digest = rb.digest
                     WHERE rb.repo = ?1 AND b.state = 'live' ORDER BY b.digest",
                )
                .map_err(be)?;
            let rows = s
                .query_map([repo], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                })
                .map_err(be)?;
            rows.map(|r| {
                let (d, n) = r.map_err(be)?;
                Ok((parse_digest(d)?, n as u64))
            })
            .collect()
        })
        .await
    }

    async fn export_manifests(&self, repo: &str) -> MetaResult<Vec<NewManifest>> {
        let repo = repo.to_string();
        self.read(move |c| {
            let mut s = c
                .prepare(
                    "SELECT digest, media_type, size, artifact_type, subject, annotations
                     FROM manifests WHERE repo = ?1 ORDER BY digest",
                )
                .map_err(be)?;
            let rows = s
                .query_map([&repo], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, Option<String>>(4)?,
                        r.get::<_, Option<String>>(5)?,
                    ))
                })
                .map_err(be)?;
            let mut refs = c
                .prepare("SELECT child, kind FROM manifest_refs WHERE repo = ?1 AND manifest = ?2 ORDER BY child")
                .map_err(be)?;
            let mut out = Vec::new();
            for row in rows {
                let (d, media_type, size, artifact_type, subject, annotations) = row.map_err(be)?;
                let mut m = NewManifest {
                    repo: repo.clone(),
                    digest: parse_digest(d.clone())?,
                    media_type,
                    size: size as u64,
                    artifact_type,
                    subject: subject.map(parse_digest).transpose()?,
                    annotations,
                    blobs: vec![],
                    foreign: vec![],
                    children: vec![],
                    tag: None,
                    may_overwrite_tag: true,
                };
                let rs = refs
                    .query_map(params![repo, d], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                    .map_err(be)?;
                for r in rs {
                    let (child, kind) = r.map_err(be)?;
                    let child = parse_digest(child)?;
                    if kind == "manifest" { m.children.push(child) } else { m.foreign.push(child) }
                }
                out.push(m);
            }
            out.sort_by_key(|m| !m.children.is_empty());
            Ok(out)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Holds the writer connection, inside an open write transaction, on another thread,
    /// and reads meanwhile. With reads on the writer (as before the pool) the read would
    /// wait for the mutex until the transaction ends, which here it never would: the
    /// generous timeout only turns that hang into a failure.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_proceed_while_a_write_transaction_is_open() {
        let meta = SqliteMetadata::temporary().unwrap();
        let d = Digest::of(crate::oci::Algorithm::Sha256, b"x");
        meta.link_blob("r", &d, 5, 0).await.unwrap();

        let (opened_tx, opened_rx) = std::sync::mpsc::channel();
        let (finish_tx, finish_rx) = std::sync::mpsc::channel::<()>();
        let inner = meta.inner.clone();
        let writer = std::thread::spawn(move || {
            let mut c = inner.writer.lock().unwrap();
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .unwrap();
            tx.execute("DELETE FROM repo_blobs WHERE repo = 'r'", [])
                .unwrap();
            opened_tx.send(()).unwrap();
            finish_rx.recv().unwrap();
            tx.commit().unwrap();
        });
        tokio::task::spawn_blocking(move || opened_rx.recv().unwrap())
            .await
            .unwrap();

        let reads = async {
            // Several at once, more than there are read connections.
            let lookups = (0..2 * READERS).map(|_| meta.repo_blob("r", &d));
            let sizes = futures_util::future::try_join_all(lookups).await.unwrap();
            let exists = meta.repo_exists("r").await.unwrap();
            (sizes, exists)
        };
        let (sizes, exists) = tokio::time::timeout(std::time::Duration::from_secs(60), reads)
            .await
            .expect("reads waited for the open write transaction");
        assert!(
            sizes.iter().all(|s| *s == Some(5)),
            "readers see the last committed state, not the open transaction: {sizes:?}"
        );
        assert!(exists);

        finish_tx.send(()).unwrap();
        writer.join().unwrap();
        assert_eq!(
            meta.repo_blob("r", &d).await.unwrap(),
            None,
            "a committed write is visible to the next read"
        );
    }

    #[tokio::test]
    async fn read_connections_refuse_writes() {
        let meta = SqliteMetadata::temporary().unwrap();
        let err = meta
            .read(|c| {
                c.execute("DELETE FROM tags", []).map_err(be)?;
                Ok(())
            })
            .await
            .unwrap_err();
        assert!(err.to_string().contains("readonly"), "{err}");
    }
}

#[cfg(test)]
mod file_backend {
    crate::metadata_suite!(super::SqliteMetadata::temporary().unwrap());
}
