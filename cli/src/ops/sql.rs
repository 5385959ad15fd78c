//! The host side of `wcomp:sql` (wit-packages/sql): one database per run, SQLite or
//! PostgreSQL. Statements use `?` placeholders on both (rewritten to `$n` for
//! PostgreSQL); values map to each database's own types.

use anyhow::{Context, Result, bail};
use std::path::PathBuf;

wasmtime::component::bindgen!({
    path: "../wit-packages/sql",
    world: "wcomp:sql/host",
});

pub use wcomp::sql::types::{Error as SqlError, Rows, Value};

/// Where the data lives: `sqlite:PATH` or `postgres://...` (`postgresql://` too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbSpec {
    Sqlite(PathBuf),
    Postgres(String),
}

impl std::str::FromStr for DbSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(path) = s.strip_prefix("sqlite:") {
            if path.is_empty() {
                return Err("`sqlite:` needs a file path, e.g. `sqlite:data.db`".to_string());
            }
            Ok(DbSpec::Sqlite(PathBuf::from(path)))
        } else if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Ok(DbSpec::Postgres(s.to_string()))
        } else {
            Err(format!(
                "`{s}` is not a database: use `sqlite:PATH` or `postgres://user@host/db`"
            ))
        }
    }
}

impl std::fmt::Display for DbSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbSpec::Sqlite(p) => write!(f, "sqlite:{}", p.display()),
            // Never print a password.
            DbSpec::Postgres(url) => write!(f, "{}", redact(url)),
        }
    }
}

/// `postgres://user:secret@host/db` -> `postgres://user:***@host/db`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((creds, host)) => match creds.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// A database behind the interface.
pub trait Database: Send {
    fn execute(&mut self, statement: &str, params: &[Value]) -> Result<u64, SqlError>;
    fn query(&mut self, statement: &str, params: &[Value]) -> Result<Rows, SqlError>;
}

/// Opens the database a spec names.
pub fn open(spec: &DbSpec) -> Result<Box<dyn Database>> {
    match spec {
        DbSpec::Sqlite(path) => {
            let conn = rusqlite::Connection::open(path)
                .with_context(|| format!("cannot open SQLite database `{}`", path.display()))?;
            // Writers from another process wait instead of failing at once.
            conn.busy_timeout(std::time::Duration::from_secs(5))?;
            Ok(Box::new(Sqlite(conn)))
        }
        DbSpec::Postgres(url) => {
            // `sslmode=require` is TLS with the server verified (against the Mozilla roots
            // and `sslrootcert=PATH`, a PEM file of CA certificates); otherwise plain TCP.
            let (plain_url, root_cert) = wcomp_pgtls::take_root_cert(url);
            let config: postgres::Config = plain_url
                .parse()
                .with_context(|| format!("invalid PostgreSQL URL `{}`", redact(url)))?;
            let connected = if config.get_ssl_mode() == postgres::config::SslMode::Require {
                let tls = wcomp_pgtls::RustlsConnect::new(root_cert.as_deref())
                    .map_err(|e| anyhow::anyhow!("PostgreSQL TLS (`sslrootcert`): {e}"))?;
                config.connect(tls)
            } else if root_cert.is_some() {
                anyhow::bail!(
                    "the PostgreSQL URL `{}` names `sslrootcert` without asking for TLS: add `sslmode=require`",
                    redact(url)
                );
            } else {
                config.connect(postgres::NoTls)
            };
            let client = connected
                .with_context(|| format!("cannot connect to PostgreSQL at `{}`", redact(url)))?;
            Ok(Box::new(Postgres(client)))
        }
    }
}

struct Sqlite(rusqlite::Connection);

fn sqlite_value(v: &Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match v {
        Value::Null => V::Null,
        Value::Integer(i) => V::Integer(*i),
        Value::Real(r) => V::Real(*r),
        Value::Text(t) => V::Text(t.clone()),
        Value::Blob(b) => V::Blob(b.clone()),
    }
}

fn sqlite_error(e: rusqlite::Error) -> SqlError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            SqlError::Constraint(e.to_string())
        }
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(
                f.code,
                rusqlite::ErrorCode::CannotOpen
                    | rusqlite::ErrorCode::DiskFull
                    | rusqlite::ErrorCode::SystemIoFailure
                    | rusqlite::ErrorCode::DatabaseBusy
                    | rusqlite::ErrorCode::DatabaseLocked
                    | rusqlite::ErrorCode::ReadOnly
                    | rusqlite::ErrorCode::DatabaseCorrupt
                    | rusqlite::ErrorCode::NotADatabase
            ) =>
        {
            SqlError::Io(e.to_string())
        }
        _ => SqlError::InvalidStatement(e.to_string()),
    }
}

impl Database for Sqlite {
    fn execute(&mut self, statement: &str, params: &[Value]) -> Result<u64, SqlError> {
        let mut stmt = self.0.prepare(statement).map_err(sqlite_error)?;
        let n = stmt
            .execute(rusqlite::params_from_iter(params.iter().map(sqlite_value)))
            .map_err(sqlite_error)?;
        Ok(n as u64)
    }

    fn query(&mut self, statement: &str, params: &[Value]) -> Result<Rows, SqlError> {
        let mut stmt = self.0.prepare(statement).map_err(sqlite_error)?;
        let columns: Vec<String> = stmt.column_names().iter().map(|c| c.to_string()).collect();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(params.iter().map(sqlite_value)))
            .map_err(sqlite_error)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(sqlite_error)? {
            let mut values = Vec::with_capacity(columns.len());
            for i in 0..columns.len() {
                use rusqlite::types::ValueRef;
                values.push(match row.get_ref(i).map_err(sqlite_error)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(i) => Value::Integer(i),
                    ValueRef::Real(r) => Value::Real(r),
                    ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                });
            }
            out.push(values);
        }
        Ok(Rows { columns, rows: out })
    }
}

struct Postgres(postgres::Client);

/// A parameter written as whatever type PostgreSQL inferred for its placeholder.
#[derive(Debug)]
struct PgParam<'a>(&'a Value);

impl postgres::types::ToSql for PgParam<'_> {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use postgres::types::Type as T;
        match self.0 {
            Value::Null => Ok(postgres::types::IsNull::Yes),
            Value::Integer(i) => match *ty {
                T::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                T::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                T::INT8 => i.to_sql(ty, out),
                T::FLOAT4 => (*i as f32).to_sql(ty, out),
                T::FLOAT8 => (*i as f64).to_sql(ty, out),
                T::BOOL => (*i != 0).to_sql(ty, out),
                _ => i.to_string().to_sql(ty, out),
            },
            Value::Real(r) => match *ty {
                T::FLOAT4 => (*r as f32).to_sql(ty, out),
                T::FLOAT8 => r.to_sql(ty, out),
                _ => r.to_string().to_sql(ty, out),
            },
            Value::Text(t) => t.to_sql(ty, out),
            Value::Blob(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

fn pg_error(e: postgres::Error) -> SqlError {
    let text = match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => e.to_string(),
    };
    match e.code().map(|c| c.code()) {
        Some(code) if code.starts_with("23") => SqlError::Constraint(text),
        Some(code) if code.starts_with("42") || code.starts_with("22") => {
            SqlError::InvalidStatement(text)
        }
        Some(_) => SqlError::Io(text),
        // A parameter that does not convert, or the connection failing.
        None if e.is_closed() => SqlError::Io(text),
        None => SqlError::InvalidStatement(text),
    }
}

/// `?` placeholders to `$1, $2, ...`, leaving string literals (`'...'`, `E'...'` with
/// backslash escapes, `$tag$...$tag$`), quoted identifiers and comments (`-- ...`,
/// `/* ... */`, nested as PostgreSQL nests them) alone.
pub fn numbered_placeholders(sql: &str) -> String {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    let mut i = 0;
    // Copies `chars[from..to]` (clamped) and returns where copying stopped.
    let copy = |out: &mut String, from: usize, to: usize| -> usize {
        let to = to.min(chars.len());
        out.extend(&chars[from..to]);
        to
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let prev_is_word = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        match c {
            '\'' | '"' => {
                // Doubled quotes inside end one literal and open the next: the same text.
                let end = chars[i + 1..]
                    .iter()
                    .position(|&d| d == c)
                    .map_or(chars.len(), |p| i + 1 + p + 1);
                i = copy(&mut out, i, end);
            }
            'E' | 'e' if next == Some('\'') && !prev_is_word => {
                let mut j = i + 2;
                while j < chars.len() && chars[j] != '\'' {
                    j += if chars[j] == '\\' { 2 } else { 1 };
                }
                i = copy(&mut out, i, j + 1);
            }
            '-' if next == Some('-') => {
                let end = chars[i..]
                    .iter()
                    .position(|&d| d == '\n')
                    .map_or(chars.len(), |p| i + p + 1);
                i = copy(&mut out, i, end);
            }
            '/' if next == Some('*') => {
                let (mut j, mut depth) = (i + 2, 1);
                while j < chars.len() && depth > 0 {
                    match (chars[j], chars.get(j + 1)) {
                        ('/', Some('*')) => (depth, j) = (depth + 1, j + 2),
                        ('*', Some('/')) => (depth, j) = (depth - 1, j + 2),
                        _ => j += 1,
                    }
                }
                i = copy(&mut out, i, j);
            }
            '$' if !prev_is_word => {
                // `$tag$ ... $tag$` (the tag may be empty); `$1` is not a quote.
                let tag_end = chars[i + 1..]
                    .iter()
                    .position(|&d| !(d.is_alphanumeric() || d == '_'))
                    .map(|p| i + 1 + p);
                match tag_end {
                    Some(t)
                        if chars[t] == '$'
                            && !chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()) =>
                    {
                        let tag: String = chars[i..=t].iter().collect();
                        let body: String = chars[t + 1..].iter().collect();
                        let end = body.find(&tag).map_or(chars.len(), |p| {
                            t + 1 + body[..p].chars().count() + tag.chars().count()
                        });
                        i = copy(&mut out, i, end);
                    }
                    _ => {
                        out.push(c);
                        i += 1;
                    }
                }
            }
            '?' => {
                n += 1;
                out.push_str(&format!("${n}"));
                i += 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

impl Postgres {
    fn params<'a>(params: &'a [Value]) -> Vec<PgParam<'a>> {
        params.iter().map(PgParam).collect()
    }
}

impl Database for Postgres {
    fn execute(&mut self, statement: &str, params: &[Value]) -> Result<u64, SqlError> {
        let sql = numbered_placeholders(statement);
        let owned = Self::params(params);
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = owned
            .iter()
            .map(|p| p as &(dyn postgres::types::ToSql + Sync))
            .collect();
        self.0.execute(sql.as_str(), &refs).map_err(pg_error)
    }

    fn query(&mut self, statement: &str, params: &[Value]) -> Result<Rows, SqlError> {
        use postgres::types::Type as T;
        let sql = numbered_placeholders(statement);
        let stmt = self.0.prepare(&sql).map_err(pg_error)?;
        let columns: Vec<String> = stmt
            .columns()
            .iter()
            .map(|c| c.name().to_string())
            .collect();
        let owned = Self::params(params);
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = owned
            .iter()
            .map(|p| p as &(dyn postgres::types::ToSql + Sync))
            .collect();
        let rows = self.0.query(&stmt, &refs).map_err(pg_error)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let mut values = Vec::with_capacity(columns.len());
            for (i, col) in row.columns().iter().enumerate() {
                let v = match *col.type_() {
                    T::INT2 => row
                        .try_get::<_, Option<i16>>(i)
                        .map(|v| v.map(|x| Value::Integer(x.into()))),
                    T::INT4 => row
                        .try_get::<_, Option<i32>>(i)
                        .map(|v| v.map(|x| Value::Integer(x.into()))),
                    T::INT8 => row
                        .try_get::<_, Option<i64>>(i)
                        .map(|v| v.map(Value::Integer)),
                    T::FLOAT4 => row
                        .try_get::<_, Option<f32>>(i)
                        .map(|v| v.map(|x| Value::Real(x.into()))),
                    T::FLOAT8 => row.try_get::<_, Option<f64>>(i).map(|v| v.map(Value::Real)),
                    T::BOOL => row
                        .try_get::<_, Option<bool>>(i)
                        .map(|v| v.map(|x| Value::Integer(x.into()))),
                    T::BYTEA => row
                        .try_get::<_, Option<Vec<u8>>>(i)
                        .map(|v| v.map(Value::Blob)),
                    _ => row
                        .try_get::<_, Option<String>>(i)
                        .map(|v| v.map(Value::Text)),
                }
                .map_err(|e| {
                    SqlError::InvalidStatement(format!(
                        "column `{}` has type {}, which wcomp:sql cannot return: {e}",
                        col.name(),
                        col.type_()
                    ))
                })?;
                values.push(v.unwrap_or(Value::Null));
            }
            out.push(values);
        }
        Ok(Rows { columns, rows: out })
    }
}

/// What the store holds for the interface: the open database, if the run has one.
pub struct SqlHost {
    pub db: Option<Box<dyn Database>>,
}

fn no_db() -> SqlError {
    SqlError::Io("no database: run with `--db sqlite:PATH` or `--db postgres://...`".to_string())
}

impl wcomp::sql::types::Host for SqlHost {}

impl wcomp::sql::query::Host for SqlHost {
    fn execute(&mut self, statement: String, params: Vec<Value>) -> Result<u64, SqlError> {
        match &mut self.db {
            Some(db) => db.execute(&statement, &params),
            None => Err(no_db()),
        }
    }

    fn query(&mut self, statement: String, params: Vec<Value>) -> Result<Rows, SqlError> {
        match &mut self.db {
            Some(db) => db.query(&statement, &params),
            None => Err(no_db()),
        }
    }
}

/// Connections shared by the instances of `wcomp serve`: each request takes one when its
/// guest runs its first statement and gives it back when the request ends, so at most
/// one connection per instance in flight is ever open, and idle ones are reused (a new
/// PostgreSQL connection costs a round trip and authentication).
pub struct Pool {
    spec: DbSpec,
    idle: std::sync::Mutex<Vec<Box<dyn Database>>>,
    max_idle: usize,
}

impl Pool {
    /// Opens one connection at once, so a wrong URL or an unreachable server is found
    /// at start-up, not at the first request.
    pub fn open(spec: &DbSpec, max_idle: usize) -> Result<Pool> {
        let first = open(spec)?;
        Ok(Pool {
            spec: spec.clone(),
            idle: std::sync::Mutex::new(vec![first]),
            max_idle: max_idle.max(1),
        })
    }

    /// A handle for one request; it connects lazily.
    pub fn handle(pool: &std::sync::Arc<Pool>) -> Pooled {
        Pooled {
            pool: pool.clone(),
            conn: None,
            broken: false,
        }
    }

    fn take(&self) -> Result<Box<dyn Database>, SqlError> {
        if let Some(c) = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop() {
            return Ok(c);
        }
        open(&self.spec).map_err(|e| SqlError::Io(format!("{e:#}")))
    }
}

/// Runs `f` outside the async runtime when called on one of its workers.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// One request's connection from a [`Pool`].
pub struct Pooled {
    pool: std::sync::Arc<Pool>,
    conn: Option<Box<dyn Database>>,
    /// A connection that failed with an I/O error is not given back.
    broken: bool,
}

impl Pooled {
    fn with<T>(
        &mut self,
        f: impl FnOnce(&mut dyn Database) -> Result<T, SqlError>,
    ) -> Result<T, SqlError> {
        // The database clients block (PostgreSQL's runs a runtime of its own), and this
        // runs on a worker of serve's runtime: leave the runtime for the call.
        let r = blocking(|| {
            if self.conn.is_none() {
                self.conn = Some(self.pool.take()?);
            }
            let conn = self.conn.as_deref_mut().expect("taken above");
            f(conn)
        });
        if matches!(r, Err(SqlError::Io(_))) {
            self.broken = true;
        }
        r
    }
}

impl Database for Pooled {
    fn execute(&mut self, statement: &str, params: &[Value]) -> Result<u64, SqlError> {
        self.with(|c| c.execute(statement, params))
    }

    fn query(&mut self, statement: &str, params: &[Value]) -> Result<Rows, SqlError> {
        self.with(|c| c.query(statement, params))
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let Some(mut c) = self.conn.take() else {
            return;
        };
        // Closing a PostgreSQL client stops its runtime: not on a runtime worker.
        blocking(move || {
            if self.broken {
                drop(c);
                return;
            }
            // A guest that trapped inside a transaction must not hand it to the next
            // request. Outside one this is a no-op (a warning or an ignored error).
            let _ = c.execute("ROLLBACK", &[]);
            let mut idle = self.pool.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < self.pool.max_idle {
                idle.push(c);
            }
        });
    }
}

/// Checks a spec can be opened before any component code runs.
pub fn check_spec(spec: &DbSpec) -> Result<()> {
    if let DbSpec::Sqlite(path) = spec
        && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        bail!(
            "the directory of the SQLite database `{}` does not exist",
            path.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::numbered_placeholders as p;

    #[test]
    fn placeholders_are_numbered_in_order() {
        assert_eq!(
            p("INSERT INTO t (a, b) VALUES (?, ?)"),
            "INSERT INTO t (a, b) VALUES ($1, $2)"
        );
        assert_eq!(p("SELECT 1"), "SELECT 1");
        assert_eq!(p("?"), "$1");
    }

    #[test]
    fn quoted_text_is_left_alone() {
        assert_eq!(
            p("SELECT '?', \"a?b\" FROM t WHERE x = ?"),
            "SELECT '?', \"a?b\" FROM t WHERE x = $1"
        );
        // A doubled quote stays inside the literal.
        assert_eq!(p("SELECT 'it''s ?' , ?"), "SELECT 'it''s ?' , $1");
        // Backslash escapes in E'' strings.
        assert_eq!(p("SELECT E'it\\'s ?', ?"), "SELECT E'it\\'s ?', $1");
        // A word ending in e before a quote is not an E string.
        assert_eq!(p("SELECT name'x?'"), "SELECT name'x?'");
        // Dollar quoting, with and without a tag.
        assert_eq!(p("SELECT $$a ? b$$, ?"), "SELECT $$a ? b$$, $1");
        assert_eq!(p("SELECT $q$ ? $$ ? $q$, ?"), "SELECT $q$ ? $$ ? $q$, $1");
        // An unterminated literal swallows the rest rather than panicking.
        assert_eq!(p("SELECT 'open ?"), "SELECT 'open ?");
        assert_eq!(p("SELECT $$open ?"), "SELECT $$open ?");
    }

    #[test]
    fn comments_are_left_alone() {
        assert_eq!(
            p("SELECT ? -- why?\nFROM t WHERE a = ?"),
            "SELECT $1 -- why?\nFROM t WHERE a = $2"
        );
        assert_eq!(
            p("SELECT /* a ? /* nested ? */ still ? */ ?"),
            "SELECT /* a ? /* nested ? */ still ? */ $1"
        );
        assert_eq!(p("SELECT ? /* open ?"), "SELECT $1 /* open ?");
        // Not comments: a minus, a division.
        assert_eq!(p("SELECT ? - ?, ? / ?"), "SELECT $1 - $2, $3 / $4");
    }

    #[test]
    fn non_ascii_text_survives() {
        assert_eq!(p("SELECT 'é?', ?, 'ü'"), "SELECT 'é?', $1, 'ü'");
    }
}
