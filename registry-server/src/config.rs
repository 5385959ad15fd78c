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
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// The externally visible base URL (e.g. `https://registry.example.com`), used for the
    /// token realm and `.well-known` answers. Derived from the Host header when unset.
    pub public_url: Option<String>,
    pub auth: AuthConfig,
    pub limits: Limits,
    pub gc: GcConfig,
    pub wasm_pkg: WasmPkgConfig,
    /// Per-namespace policies, first match wins.
    pub namespaces: Vec<NamespacePolicy>,
    /// Serve HTTPS with this certificate and key; plain HTTP when absent.
    pub tls: Option<TlsConfig>,
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
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    pub max_manifest_bytes: usize,
    /// The most entries one page of `_catalog`, tags or referrers returns, whatever `n` asks.
    pub max_page: u32,
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
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:5000".parse().expect("valid literal"),
            data_dir: PathBuf::from("wcomp-registry-data"),
            public_url: None,
            auth: AuthConfig::default(),
            limits: Limits::default(),
            gc: GcConfig::default(),
            wasm_pkg: WasmPkgConfig::default(),
            namespaces: Vec::new(),
            tls: None,
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
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_manifest_bytes: 4 * 1024 * 1024,
            max_page: 1000,
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
        Ok(cfg)
    }

    pub fn requires_components(&self, repo: &str) -> bool {
        self.namespaces
            .iter()
            .find(|n| crate::auth::glob_match(&n.pattern, repo))
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
}
