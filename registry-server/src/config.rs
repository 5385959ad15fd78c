//! Configuration: embedded defaults, then a TOML file, then environment variables, then
//! flags (applied in `main`). Every environment variable the server reads is listed in
//! [`env`].

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Environment variables, declared once.
pub mod env {
    /// Path of the TOML config file.
    pub const CONFIG: &str = "WCOMP_REGISTRY_CONFIG";
    /// `addr:port` to listen on.
    pub const LISTEN: &str = "WCOMP_REGISTRY_LISTEN";
    /// Directory for blobs, the SQLite database and the token key.
    pub const DATA_DIR: &str = "WCOMP_REGISTRY_DATA_DIR";
    /// Password of the first admin, read only when no user exists yet.
    pub const ADMIN_PASSWORD: &str = "WCOMP_REGISTRY_ADMIN_PASSWORD";
    /// `tracing` filter, e.g. `info,wcomp_registry=debug`.
    pub const LOG: &str = "WCOMP_REGISTRY_LOG";
    /// PostgreSQL URL (`postgres://user:password@host:port/db`); overrides `[metadata] url`.
    pub const DATABASE_URL: &str = "WCOMP_REGISTRY_DATABASE_URL";
    /// S3 credentials, read when the config leaves them out (the AWS SDK's names).
    pub const AWS_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
    pub const AWS_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
    pub const AWS_SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// The externally visible base URL (e.g. `https://registry.example.com`), used for the
    /// token realm and `.well-known` answers. When unset, they name the request's Host only
    /// if it is one of `hostnames` or the address the client connected to; otherwise that
    /// address: a forged Host header never chooses where clients send passwords.
    pub public_url: Option<String>,
    /// Host names (with an optional `:port`) this server answers to, for realms and
    /// `.well-known` answers when `public_url` is unset.
    pub hostnames: Vec<String>,
    /// Load balancers and reverse proxies in front of the server (addresses or CIDR
    /// blocks). For a connection from one of them, the client's address (for login
    /// throttling) is the last address in `X-Forwarded-For` that is not itself a trusted
    /// proxy, and the per-address connection cap does not apply to the proxy. From any
    /// other peer, `X-Forwarded-For` is ignored: a client cannot choose its address.
    pub trusted_proxies: Vec<TrustedNet>,
    pub auth: AuthConfig,
    pub limits: Limits,
    pub gc: GcConfig,
    pub wasm_pkg: WasmPkgConfig,
    /// Per-namespace policies, first match wins.
    pub namespaces: Vec<NamespacePolicy>,
    /// Serve HTTPS with this certificate and key; plain HTTP when absent.
    pub tls: Option<TlsConfig>,
    pub metadata: MetadataConfig,
    pub storage: StorageConfig,
    pub ui: UiConfig,
}

/// `[ui]`: the web interface under `/ui/` (docs/registry.md, "Web interface").
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UiConfig {
    pub enabled: bool,
    /// Public keys (PEM files, what `wcomp key generate` writes as `.pub`) whose signatures
    /// the artifact pages check and mark as trusted. A signature by another key is shown
    /// with its key id, unverified: the server has no other way to get the key.
    pub trusted_keys: Vec<PathBuf>,
    /// How long a sign-in lasts.
    pub session_ttl_secs: i64,
}

impl Default for UiConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            trusted_keys: Vec::new(),
            session_ttl_secs: 12 * 3600,
        }
    }
}

/// An address (`10.0.0.5`) or a CIDR block (`10.0.0.0/8`, `fd00::/8`) of trusted proxies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedNet(pub ipnet::IpNet);

impl<'de> Deserialize<'de> for TrustedNet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse::<ipnet::IpNet>()
            .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
            .map(TrustedNet)
            .map_err(|_| {
                serde::de::Error::custom(format!(
                    "`{s}` in trusted_proxies is neither an IP address nor a CIDR block (10.0.0.0/8)"
                ))
            })
    }
}

impl Config {
    /// Whether `ip` is one of `trusted_proxies`.
    pub fn is_trusted_proxy(&self, ip: std::net::IpAddr) -> bool {
        self.trusted_proxies.iter().any(|n| n.0.contains(&ip))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MetadataBackend {
    /// `<data_dir>/registry.db`.
    #[default]
    Sqlite,
    /// A PostgreSQL server shared by every replica.
    Postgres,
}

#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetadataConfig {
    pub backend: MetadataBackend,
    /// `postgres://user:password@host:port/db`; env `WCOMP_REGISTRY_DATABASE_URL` wins.
    pub url: Option<String>,
    /// Connections per replica.
    pub pool_size: usize,
    /// A PEM file of CA certificates to trust for a URL with `sslmode=require`, besides
    /// the Mozilla roots (a private CA, a self-signed server).
    pub tls_ca: Option<std::path::PathBuf>,
}

impl Default for MetadataConfig {
    fn default() -> Self {
        Self {
            backend: MetadataBackend::Sqlite,
            url: None,
            pool_size: 16,
            tls_ca: None,
        }
    }
}

/// Never prints the URL: it may hold a password.
impl std::fmt::Debug for MetadataConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetadataConfig")
            .field("backend", &self.backend)
            .field("url", &self.url.as_ref().map(|_| "<set>"))
            .field("pool_size", &self.pool_size)
            .field("tls_ca", &self.tls_ca)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    /// `<data_dir>/storage`.
    #[default]
    Fs,
    /// An S3-compatible object store (AWS S3, SeaweedFS, MinIO, Ceph RGW).
    S3,
}

#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    pub backend: StorageBackend,
    pub bucket: Option<String>,
    /// `http://127.0.0.1:8333`; omit for AWS.
    pub endpoint: Option<String>,
    pub region: String,
    /// Key prefix inside the bucket (`registry/`).
    pub prefix: Option<String>,
    /// Else `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` from the environment; with
    /// neither, requests are unsigned (a server that allows anonymous access).
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// Create the bucket at start-up when it does not exist (else a missing bucket is an
    /// error).
    pub create_bucket: bool,
    /// Answer blob GETs with a redirect to a presigned URL (clients then fetch from S3
    /// directly) instead of streaming through the registry.
    pub redirect: bool,
    /// Lifetime of a presigned URL.
    pub redirect_ttl_secs: u64,
    /// Path-style requests (`endpoint/bucket/key`), which SeaweedFS and MinIO need; on by
    /// default when an endpoint is set.
    pub path_style: Option<bool>,
    /// A local directory where each replica keeps copies of the blobs it served from S3,
    /// so repeated pulls do not go back to S3 (nothing in it matters: deleting it loses
    /// only speed). Relative to the data dir. Off when unset.
    pub cache_dir: Option<PathBuf>,
    /// The most the cache directory holds; least recently used blobs leave first.
    pub cache_max_bytes: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            backend: StorageBackend::Fs,
            bucket: None,
            endpoint: None,
            region: "us-east-1".into(),
            prefix: None,
            access_key_id: None,
            secret_access_key: None,
            create_bucket: false,
            redirect: false,
            redirect_ttl_secs: 300,
            path_style: None,
            cache_dir: None,
            cache_max_bytes: 10 << 30,
        }
    }
}

/// Never prints the secret key.
impl std::fmt::Debug for StorageConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageConfig")
            .field("backend", &self.backend)
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("prefix", &self.prefix)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<set>"),
            )
            .field("create_bucket", &self.create_bucket)
            .field("redirect", &self.redirect)
            .field("cache_dir", &self.cache_dir)
            .field("cache_max_bytes", &self.cache_max_bytes)
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    pub enabled: bool,
    /// The `service` of the token flow.
    pub service: String,
    pub token_ttl_secs: i64,
    /// Repository glob patterns anyone may pull without credentials (`public/**`).
    pub anonymous_pull: Vec<String>,
    /// Serve `/metrics` without credentials. Off: only admins (or anyone, when
    /// authentication is disabled) may read it.
    pub anonymous_metrics: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    pub max_manifest_bytes: usize,
    /// The most entries one page of `_catalog`, tags or referrers returns, whatever `n` asks.
    pub max_page: u32,
    /// The largest request body of every route except blob uploads and manifest PUTs
    /// (`/token`, and bodies sent where none is expected).
    pub max_body_bytes: usize,
    /// A request's headers must be complete this long after the server starts waiting for
    /// them (which, on a kept-alive connection, is right after the previous response).
    pub header_read_timeout_secs: u64,
    /// A connection that moves no byte either way for this long, while no handler is working
    /// on one of its requests, is closed (an idle client, or one that stopped reading a
    /// download).
    pub idle_timeout_secs: u64,
    /// A request body that delivers no byte for this long fails (the upload session keeps
    /// what was committed before the chunk, so the client can resume).
    pub body_timeout_secs: u64,
    /// Open connections, overall and per client IP address; more are answered with an error
    /// and closed.
    pub max_connections: usize,
    pub max_connections_per_address: usize,
    /// Wasm layers up to this size are read and analysed on manifest push; larger ones are
    /// accepted without being indexed (with a `Warning`), or refused where
    /// `require_components` is set.
    pub max_analyzed_bytes: u64,
    /// Upload sessions one identity may have open at once.
    pub max_open_uploads_per_user: u64,
    /// Password hashes (argon2, ~19 MiB each) verified at once; further logins wait.
    pub max_concurrent_password_checks: usize,
    /// Failed logins allowed per account (and, separately, per client address) before each
    /// further failure locks it out for a delay that doubles, from 1 s up to
    /// `login_lockout_max_secs`.
    pub login_failures_per_account: u32,
    pub login_failures_per_address: u32,
    pub login_lockout_max_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GcConfig {
    /// Blobs unreferenced for less than this, and uploads idle for less, are kept.
    pub grace_secs: i64,
    /// Run GC inside `serve` this often; 0 disables it.
    pub interval_secs: u64,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct WasmPkgConfig {
    /// The registry host wasm-pkg clients should use; defaults to this server's host.
    pub registry: Option<String>,
    pub namespace_prefix: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamespacePolicy {
    pub pattern: String,
    /// Refuse manifests with a Wasm config whose layer is not a valid component.
    #[serde(default)]
    pub require_components: bool,
    /// The most bytes of distinct blobs (layers, configs, manifests) all repositories
    /// matching `pattern` may hold together; pushes beyond it get `403 DENIED`.
    #[serde(default)]
    pub quota_bytes: Option<u64>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:5000".parse().expect("valid literal"),
            data_dir: PathBuf::from("wcomp-registry-data"),
            public_url: None,
            hostnames: Vec::new(),
            trusted_proxies: Vec::new(),
            auth: AuthConfig::default(),
            limits: Limits::default(),
            gc: GcConfig::default(),
            wasm_pkg: WasmPkgConfig::default(),
            namespaces: Vec::new(),
            tls: None,
            metadata: MetadataConfig::default(),
            storage: StorageConfig::default(),
            ui: UiConfig::default(),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            service: "wcomp-registry".into(),
            token_ttl_secs: 300,
            anonymous_pull: Vec::new(),
            anonymous_metrics: false,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_manifest_bytes: 4 * 1024 * 1024,
            max_page: 1000,
            max_body_bytes: 64 * 1024,
            header_read_timeout_secs: 10,
            idle_timeout_secs: 60,
            body_timeout_secs: 30,
            max_connections: 1024,
            max_connections_per_address: 256,
            max_analyzed_bytes: 64 * 1024 * 1024,
            max_open_uploads_per_user: 256,
            max_concurrent_password_checks: 4,
            login_failures_per_account: 5,
            login_failures_per_address: 20,
            login_lockout_max_secs: 300,
        }
    }
}

impl Default for GcConfig {
    fn default() -> Self {
        Self {
            grace_secs: 3600,
            interval_secs: 0,
        }
    }
}

impl Config {
    /// Defaults, overlaid by the file at `path` (if any) and then by the environment.
    pub fn load(path: Option<&std::path::Path>) -> anyhow::Result<Config> {
        let mut cfg = match path {
            Some(p) => {
                let text = fs_err::read_to_string(p)?;
                toml::from_str(&text)
                    .map_err(|e| anyhow::anyhow!("invalid config `{}`: {e}", p.display()))?
            }
            None => Config::default(),
        };
        if let Ok(v) = std::env::var(env::LISTEN) {
            cfg.listen = v
                .parse()
                .map_err(|e| anyhow::anyhow!("invalid {}=`{v}`: {e}", env::LISTEN))?;
        }
        if let Ok(v) = std::env::var(env::DATA_DIR) {
            cfg.data_dir = PathBuf::from(v);
        }
        if let Ok(v) = std::env::var(env::DATABASE_URL)
            && !v.is_empty()
        {
            cfg.metadata.url = Some(v);
        }
        Ok(cfg)
    }

    /// The first namespace policy with a quota that covers `repo`.
    pub fn quota_for(&self, repo: &str) -> Option<(&str, u64)> {
        self.namespaces
            .iter()
            .filter(|n| crate::pattern::glob_match(&n.pattern, repo))
            .find_map(|n| n.quota_bytes.map(|q| (n.pattern.as_str(), q)))
    }

    pub fn requires_components(&self, repo: &str) -> bool {
        self.namespaces
            .iter()
            .find(|n| crate::pattern::glob_match(&n.pattern, repo))
            .is_some_and(|n| n.require_components)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_overrides_defaults_and_rejects_unknown_keys() {
        let cfg: Config = toml::from_str(
            "listen = \"0.0.0.0:8080\"\n[auth]\nanonymous_pull = [\"public/**\"]\n[[namespaces]]\npattern = \"wasi/*\"\nrequire_components = true\n",
        )
        .unwrap();
        assert_eq!(cfg.listen.port(), 8080);
        assert_eq!(cfg.limits.max_manifest_bytes, 4 * 1024 * 1024);
        assert!(cfg.auth.enabled);
        assert!(cfg.requires_components("wasi/http"));
        assert!(!cfg.requires_components("acme/http"));
        assert!(toml::from_str::<Config>("lisen = \"x\"").is_err());
    }

    #[test]
    fn trusted_proxies_are_addresses_or_cidr_blocks() {
        let cfg: Config =
            toml::from_str("trusted_proxies = [\"10.0.0.0/8\", \"::1\", \"192.0.2.7\"]").unwrap();
        assert!(cfg.is_trusted_proxy("10.200.0.1".parse().unwrap()));
        assert!(cfg.is_trusted_proxy("::1".parse().unwrap()));
        assert!(cfg.is_trusted_proxy("192.0.2.7".parse().unwrap()));
        assert!(!cfg.is_trusted_proxy("192.0.2.8".parse().unwrap()));
        let err = toml::from_str::<Config>("trusted_proxies = [\"10.0.0.0/33\"]")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("`10.0.0.0/33` in trusted_proxies"), "{err}");
    }
}
