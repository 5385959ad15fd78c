//! Every environment variable the CLI reads, in one place; docs/cli.md lists the same
//! ones for users. Two libraries read the rest: anstream decides colour for all output
//! (`NO_COLOR`, `CLICOLOR_FORCE`), and wcomp-oci reads registry credentials
//! (`WCOMP_REGISTRY_USER`, `WCOMP_REGISTRY_PASSWORD`: [`wcomp_oci::auth::ENV_USER`],
//! [`wcomp_oci::auth::ENV_PASSWORD`]) and Docker's config directory (`DOCKER_CONFIG`:
//! [`wcomp_oci::auth::ENV_DOCKER_CONFIG`]).

/// wcomp's user config directory: templates, keys, trusted keys, `config.toml`,
/// `credentials.json` (default: the user config dir + `/wcomp`).
pub const CONFIG_DIR: &str = "WCOMP_CONFIG_DIR";
/// The passphrase of signing keys (else a terminal prompt).
pub const KEY_PASSWORD: &str = "WCOMP_KEY_PASSWORD";
/// The socket of `wcomp key agent` (default: `agent.sock` in the config dir).
pub const AGENT_SOCK: &str = "WCOMP_AGENT_SOCK";
/// The registry for `ns:name@version` package names (overrides `[registries]`).
pub const REGISTRY: &str = "WCOMP_REGISTRY";
/// wcomp's cache: downloads, validated components, compiled components (default: the
/// user cache dir + `/wcomp`).
pub const CACHE_DIR: &str = "WCOMP_CACHE_DIR";
/// Set to turn off the cache of compiled components for `run`, `serve` and `test`.
pub const NO_CACHE: &str = "WCOMP_NO_CACHE";
/// Where wcomp-managed tools (componentize-js, wit-bindgen-cli) are installed (default
/// `~/.local/share/wcomp/tools`).
pub const TOOLS_DIR: &str = "WCOMP_TOOLS_DIR";
/// A wasi-sdk for C and C++ builds, instead of the `clang` on `PATH`.
pub const WASI_SDK_PATH: &str = "WASI_SDK_PATH";
/// The passphrase of a cosign key being imported or exported (`wcomp key import/export`).
pub const COSIGN_PASSWORD: &str = "COSIGN_PASSWORD";
/// Where toolchains (cargo, go, clang, componentize-py, ...) are looked for.
pub const PATH: &str = "PATH";
