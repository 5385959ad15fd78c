//! Versioned schemas. Step `i` (0-based) of a list takes a database from version `i` to
//! `i + 1`; a database records the version it is at in `schema_version`. Both backends keep
//! their lists the same length, so a version number names the same logical schema in both.
//!
//! On open a backend applies, in one transaction, the steps the database is missing, and
//! refuses ([`super::MetaError::SchemaTooNew`]) a database whose version is above
//! [`LATEST`]: it was written by a newer wcomp-registry whose data this one could corrupt.
//!
//! Never edit a released step: append a new one.
//!
//! Version 1 is the schema wcomp-registry had before versioning. Its statements are all
//! `IF NOT EXISTS`, so a SQLite database from before versioning (tables present, no
//! `schema_version`) is taken to version 1 harmlessly and migrated from there.

/// The schema version this build writes.
pub const LATEST: i64 = 4;

pub const SQLITE: &[&str] = &[
    // 1: the original schema.
    r#"

CREATE TABLE IF NOT EXISTS repositories (
    name TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL
);
-- state: 'live' or 'deleting' (GC has claimed it; see gc.rs)
CREATE TABLE IF NOT EXISTS blobs (
    digest TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'live',
    touched_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS repo_blobs (
    repo TEXT NOT NULL,
    digest TEXT NOT NULL,
    PRIMARY KEY (repo, digest)
);
CREATE INDEX IF NOT EXISTS repo_blobs_digest ON repo_blobs(digest);
CREATE TABLE IF NOT EXISTS manifests (
    repo TEXT NOT NULL,
    digest TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    artifact_type TEXT,
    subject TEXT,
    annotations TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (repo, digest)
);
CREATE INDEX IF NOT EXISTS manifests_subject ON manifests(repo, subject);
CREATE INDEX IF NOT EXISTS manifests_digest ON manifests(digest);
-- kind: 'blob' (config, layers) or 'manifest' (index children)
CREATE TABLE IF NOT EXISTS manifest_refs (
    repo TEXT NOT NULL,
    manifest TEXT NOT NULL,
    child TEXT NOT NULL,
    kind TEXT NOT NULL,
    PRIMARY KEY (repo, manifest, child)
);
CREATE INDEX IF NOT EXISTS manifest_refs_child ON manifest_refs(child);
CREATE TABLE IF NOT EXISTS tags (
    repo TEXT NOT NULL,
    name TEXT NOT NULL,
    digest TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (repo, name)
);
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY,
    repo TEXT NOT NULL,
    offset INTEGER NOT NULL,
    chunks TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    admin INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS api_tokens (
    hash TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS grants (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    subject TEXT NOT NULL,
    pattern TEXT NOT NULL,
    actions TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS components (
    repo TEXT NOT NULL,
    manifest TEXT NOT NULL,
    package TEXT,
    version TEXT,
    world TEXT,
    PRIMARY KEY (repo, manifest)
);
CREATE TABLE IF NOT EXISTS component_items (
    repo TEXT NOT NULL,
    manifest TEXT NOT NULL,
    direction TEXT NOT NULL,
    interface TEXT NOT NULL,
    version TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS component_items_iface ON component_items(interface, direction);
"#,
    // 2: state replicas share (the token signing key) and leases (GC runs on one at a time).
    r#"
CREATE TABLE IF NOT EXISTS settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
"#,
    // 3: upload sessions have an owner, and one row per committed chunk (a PATCH
    // appends a row instead of rewriting a list; `uploads.chunks` stays, always ''). The
    // owner column and the move of old chunk lists are code (`sqlite::upgrade_uploads_v3`):
    // a database written by the unversioned build of that change already has the column.
    r#"
CREATE TABLE IF NOT EXISTS upload_chunks (
    upload TEXT NOT NULL,
    seq INTEGER NOT NULL,
    part TEXT NOT NULL,
    PRIMARY KEY (upload, seq)
);
"#,
    // 4: the component index's entries found by repository and manifest (each search
    // result reads its imports and exports so), and tags by push time.
    r#"
CREATE INDEX IF NOT EXISTS component_items_entry ON component_items(repo, manifest);
CREATE INDEX IF NOT EXISTS tags_updated ON tags(updated_at);
"#,
];

/// The same schema for PostgreSQL. Differences from SQLite, and why:
/// * keys that are paged through (`name > $last ORDER BY name`) are `COLLATE "C"`, so the
///   order is bytewise as in SQLite and as OCI clients expect, whatever the server's locale;
/// * `offset` and `user` are reserved words: the columns are `committed` and `username`;
/// * `component_items` has a `BIGSERIAL` id where SQLite's order came from `rowid`.
pub const POSTGRES: &[&str] = &[
    // 1
    r#"
CREATE TABLE repositories (
    name TEXT COLLATE "C" PRIMARY KEY,
    created_at BIGINT NOT NULL
);
CREATE TABLE blobs (
    digest TEXT COLLATE "C" PRIMARY KEY,
    size BIGINT NOT NULL,
    state TEXT NOT NULL DEFAULT 'live',
    touched_at BIGINT NOT NULL
);
CREATE TABLE repo_blobs (
    repo TEXT COLLATE "C" NOT NULL,
    digest TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (repo, digest)
);
CREATE INDEX repo_blobs_digest ON repo_blobs(digest);
CREATE TABLE manifests (
    repo TEXT COLLATE "C" NOT NULL,
    digest TEXT COLLATE "C" NOT NULL,
    media_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    artifact_type TEXT,
    subject TEXT COLLATE "C",
    annotations TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (repo, digest)
);
CREATE INDEX manifests_subject ON manifests(repo, subject);
CREATE INDEX manifests_digest ON manifests(digest);
CREATE TABLE manifest_refs (
    repo TEXT COLLATE "C" NOT NULL,
    manifest TEXT COLLATE "C" NOT NULL,
    child TEXT COLLATE "C" NOT NULL,
    kind TEXT NOT NULL,
    PRIMARY KEY (repo, manifest, child)
);
CREATE INDEX manifest_refs_child ON manifest_refs(child);
CREATE TABLE tags (
    repo TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    digest TEXT COLLATE "C" NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (repo, name)
);
CREATE TABLE uploads (
    id TEXT PRIMARY KEY,
    repo TEXT NOT NULL,
    committed BIGINT NOT NULL,
    chunks TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE users (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    admin BOOLEAN NOT NULL
);
CREATE TABLE api_tokens (
    hash TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE grants (
    id BIGSERIAL PRIMARY KEY,
    subject TEXT NOT NULL,
    pattern TEXT NOT NULL,
    actions TEXT NOT NULL
);
CREATE TABLE components (
    repo TEXT COLLATE "C" NOT NULL,
    manifest TEXT COLLATE "C" NOT NULL,
    package TEXT,
    version TEXT,
    world TEXT,
    PRIMARY KEY (repo, manifest)
);
CREATE TABLE component_items (
    id BIGSERIAL PRIMARY KEY,
    repo TEXT NOT NULL,
    manifest TEXT NOT NULL,
    direction TEXT NOT NULL,
    interface TEXT NOT NULL,
    version TEXT NOT NULL
);
CREATE INDEX component_items_iface ON component_items(interface, direction);
CREATE INDEX component_items_manifest ON component_items(repo, manifest);
"#,
    // 2
    r#"
CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
"#,
    // 3: upload sessions have an owner, and one row per committed chunk
    r#"
ALTER TABLE uploads ADD COLUMN owner TEXT NOT NULL DEFAULT '';
CREATE INDEX uploads_owner ON uploads(owner);
CREATE TABLE upload_chunks (
    upload TEXT NOT NULL,
    seq BIGINT NOT NULL,
    part TEXT NOT NULL,
    PRIMARY KEY (upload, seq)
);
INSERT INTO upload_chunks(upload, seq, part)
    SELECT id, u.ord - 1, u.part FROM uploads,
        unnest(string_to_array(chunks, ',')) WITH ORDINALITY AS u(part, ord)
    WHERE chunks != '' AND u.part != '';
UPDATE uploads SET chunks = '';
"#,
    // 4: as SQLite's step 4.
    r#"
CREATE INDEX component_items_entry ON component_items(repo, manifest);
CREATE INDEX tags_updated ON tags(updated_at);
"#,
];

const _: () = assert!(SQLITE.len() as i64 == LATEST && POSTGRES.len() as i64 == LATEST);

/// What to do with a database at `found`.
pub fn plan(found: i64) -> Result<std::ops::Range<usize>, super::MetaError> {
    if found > LATEST {
        return Err(super::MetaError::SchemaTooNew {
            found,
            supported: LATEST,
        });
    }
    Ok(found.max(0) as usize..LATEST as usize)
}
