//! Registry credentials: where they come from, and the file `wcomp login` writes.
//!
//! Looked up in this order: `WCOMP_REGISTRY_USER` + `WCOMP_REGISTRY_PASSWORD` (any
//! registry), wcomp's own `credentials.json` (written by `wcomp login`, mode 0600), then
//! Docker's `config.json` (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`):
//! a credential helper named for the host in `credHelpers`, else `auths.<host>.auth`
//! (base64 `user:password`), else the `credsStore` helper. A helper is the program
//! `docker-credential-<name>` on PATH, asked with `get` and the host on stdin.

use crate::Error;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

pub const ENV_USER: &str = "WCOMP_REGISTRY_USER";
pub const ENV_PASSWORD: &str = "WCOMP_REGISTRY_PASSWORD";
/// Where Docker's `config.json` is read from (default `~/.docker`).
pub const ENV_DOCKER_CONFIG: &str = "DOCKER_CONFIG";

/// A user name and a password or token. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, <hidden>)", self.username)
    }
}

/// Where credentials were found (for messages; never the secret itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Env,
    File(PathBuf),
    /// A Docker credential helper (`docker-credential-<name>`).
    Helper(String),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Env => write!(f, "{ENV_USER}/{ENV_PASSWORD}"),
            Source::File(p) => write!(f, "{}", p.display()),
            Source::Helper(h) => write!(f, "docker-credential-{h}"),
        }
    }
}

/// The credentials file `wcomp login` writes under wcomp's config directory.
pub fn wcomp_credentials_file(config_dir: &Path) -> PathBuf {
    config_dir.join("credentials.json")
}

fn docker_config_file() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os(ENV_DOCKER_CONFIG) {
        return Some(PathBuf::from(d).join("config.json"));
    }
    dirs::home_dir().map(|h| h.join(".docker").join("config.json"))
}

/// The credentials for `registry` (`host[:port]`), if any.
pub fn lookup(registry: &str, config_dir: &Path) -> Option<(Credentials, Source)> {
    if let (Ok(u), Ok(p)) = (std::env::var(ENV_USER), std::env::var(ENV_PASSWORD)) {
        return Some((
            Credentials {
                username: u,
                password: p,
            },
            Source::Env,
        ));
    }
    let own = wcomp_credentials_file(config_dir);
    if let Some(c) = from_file(&own, registry) {
        return Some((c, Source::File(own)));
    }
    let docker = docker_config_file()?;
    let doc: Value = serde_json::from_str(&fs_err::read_to_string(&docker).ok()?).ok()?;
    if let Some(helper) = doc["credHelpers"][registry].as_str()
        && let Some(c) = from_helper(helper, registry)
    {
        return Some((c, Source::Helper(helper.to_string())));
    }
    if let Some(c) = from_file(&docker, registry) {
        return Some((c, Source::File(docker)));
    }
    let store = doc["credsStore"].as_str()?;
    from_helper(store, registry).map(|c| (c, Source::Helper(store.to_string())))
}

/// Asks `docker-credential-<helper> get` for `registry`'s credentials.
fn from_helper(helper: &str, registry: &str) -> Option<Credentials> {
    use std::io::Write as _;
    if !helper
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return None;
    }
    let mut child = std::process::Command::new(format!("docker-credential-{helper}"))
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let wrote = child
        .stdin
        .take()
        .map(|mut i| i.write_all(registry.as_bytes()));
    let out = child.wait_with_output().ok()?;
    if !out.status.success() || !matches!(wrote, Some(Ok(()))) {
        return None;
    }
    let v: Value = serde_json::from_slice(&out.stdout).ok()?;
    Some(Credentials {
        username: v["Username"].as_str()?.to_string(),
        password: v["Secret"].as_str()?.to_string(),
    })
}

fn from_file(path: &Path, registry: &str) -> Option<Credentials> {
    let text = fs_err::read_to_string(path).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    let auths = v.get("auths")?.as_object()?;
    // Docker writes Docker Hub as a URL; match `host`, `https://host` and `http://host`.
    let entry = auths.iter().find_map(|(k, e)| {
        let key = k
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/');
        (key == registry).then_some(e)
    })?;
    let auth = entry.get("auth")?.as_str()?;
    let decoded = String::from_utf8(STANDARD.decode(auth).ok()?).ok()?;
    let (u, p) = decoded.split_once(':')?;
    Some(Credentials {
        username: u.to_string(),
        password: p.to_string(),
    })
}

/// Stores credentials for `registry` in wcomp's credentials file (Docker's `auths`
/// layout), written to a temporary file with mode 0600 and renamed into place.
pub fn store(registry: &str, creds: &Credentials, config_dir: &Path) -> Result<PathBuf, Error> {
    let path = wcomp_credentials_file(config_dir);
    let io = |what: String| move |source| Error::Io { what, source };
    fs_err::create_dir_all(config_dir)
        .map_err(io(format!("failed to create {}", config_dir.display())))?;
    let mut doc: Value = fs_err::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| json!({"auths": {}}));
    if !doc["auths"].is_object() {
        doc["auths"] = json!({});
    }
    let auth = STANDARD.encode(format!("{}:{}", creds.username, creds.password));
    doc["auths"][registry] = json!({ "auth": auth });
    let text = serde_json::to_vec_pretty(&doc).expect("JSON serializes");
    write_private(&path, &text)?;
    Ok(path)
}

/// Writes `bytes` to `path` with mode 0600 (on Unix), atomically.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    use std::io::Write as _;
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    let io = |what: String| move |source| Error::Io { what, source };
    let mut opts = fs_err::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use fs_err::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(&tmp)
        .map_err(io(format!("failed to write {}", tmp.display())))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(io(format!("failed to write {}", tmp.display())))?;
    drop(f);
    fs_err::rename(&tmp, path).map_err(io(format!("failed to write {}", path.display())))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_credentials_are_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let c = Credentials {
            username: "u".into(),
            password: "p:w".into(),
        };
        let path = store("localhost:5000", &c, dir.path()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs_err::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(from_file(&path, "localhost:5000"), Some(c.clone()));
        assert_eq!(from_file(&path, "other:1"), None);
        assert!(!format!("{c:?}").contains("p:w"));
    }
}
