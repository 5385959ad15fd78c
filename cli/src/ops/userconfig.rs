//! wcomp's user configuration for publishing and trust: the config directory
//! (`$WCOMP_CONFIG_DIR`, else `<config dir>/wcomp`), its `config.toml`, the signing keys
//! under `keys/`, the trusted public keys under `trusted/`, and a project's `wcomp.toml`
//! `[trust]` table.
//!
//! ```toml
//! # config.toml
//! default_key = "release"              # set by the first `wcomp key generate`
//! insecure = ["registry.lan:5000"]     # plain http for these hosts
//! [registries]                         # namespace -> registry for `ns:name@1.0.0`
//! acme = "localhost:5000"
//! default = "registry.example.com"     # any other namespace
//! [[trust]]                            # written by `wcomp key trust`
//! key = "trusted/<key id>.pem"         # relative to the config dir, or absolute
//! for = "localhost:5000/acme/**"
//! [unsigned]                           # pattern -> refuse | warn | allow
//! "localhost:5000/scratch/**" = "allow"
//! ```

use super::EnvironmentError;
use crate::env::{CONFIG_DIR as ENV_CONFIG_DIR, KEY_PASSWORD as ENV_KEY_PASSWORD};
use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use wcomp_trust::policy::{Policy, Unsigned};
use wcomp_trust::{KeyPair, PublicKey};

pub fn config_dir() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os(ENV_CONFIG_DIR) {
        return Ok(PathBuf::from(d));
    }
    dirs::config_dir().map(|d| d.join("wcomp")).ok_or_else(|| {
        EnvironmentError(format!(
            "no user configuration directory on this machine; set {ENV_CONFIG_DIR}"
        ))
        .into()
    })
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_key: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub insecure: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub registries: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trust: Vec<TrustEntry>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub unsigned: BTreeMap<String, Unsigned>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustEntry {
    pub key: String,
    #[serde(rename = "for", default = "everywhere")]
    pub pattern: String,
}

fn everywhere() -> String {
    "**".to_string()
}

impl UserConfig {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("config.toml")
    }

    pub fn load(dir: &Path) -> Result<UserConfig> {
        let path = Self::path(dir);
        match fs_err::read_to_string(&path) {
            Ok(text) => toml::from_str(&text)
                .with_context(|| format!("failed to parse `{}`", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(UserConfig::default()),
            Err(e) => Err(e.into()),
        }
    }

    pub fn save(&self, dir: &Path) -> Result<()> {
        fs_err::create_dir_all(dir)?;
        let text = toml::to_string_pretty(self).context("failed to encode config.toml")?;
        wcomp_oci::auth::write_private(&Self::path(dir), text.as_bytes())?;
        Ok(())
    }
}

/// The `[trust]` table of a project's `wcomp.toml` (other tables are read elsewhere).
#[derive(Debug, Default, Deserialize)]
struct ProjectFile {
    #[serde(default)]
    trust: ProjectTrust,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectTrust {
    #[serde(default)]
    keys: Vec<TrustEntry>,
    #[serde(default)]
    unsigned: BTreeMap<String, Unsigned>,
}

/// The trust policy: the user's config plus `./wcomp.toml`'s `[trust]` (key paths there
/// are relative to the project).
pub fn policy(dir: &Path, cfg: &UserConfig) -> Result<Policy> {
    let mut p = Policy::default();
    for t in &cfg.trust {
        let path = resolve(dir, &t.key);
        let key = read_public(&path)?;
        p.add_key(&t.pattern, key, &path.display().to_string())?;
    }
    for (pat, mode) in &cfg.unsigned {
        p.add_unsigned(pat, *mode)?;
    }
    let project = Path::new("wcomp.toml");
    if project.is_file() {
        let text = fs_err::read_to_string(project)?;
        let file: ProjectFile =
            toml::from_str(&text).context("failed to parse the `[trust]` table of `wcomp.toml`")?;
        for t in &file.trust.keys {
            let key = read_public(Path::new(&t.key))?;
            p.add_key(&t.pattern, key, &format!("wcomp.toml: {}", t.key))?;
        }
        for (pat, mode) in &file.trust.unsigned {
            p.add_unsigned(pat, *mode)?;
        }
    }
    Ok(p)
}

fn resolve(dir: &Path, p: &str) -> PathBuf {
    let path = Path::new(p);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        dir.join(path)
    }
}

pub fn read_public(path: &Path) -> Result<PublicKey> {
    let text = fs_err::read_to_string(path).map_err(|e| EnvironmentError(e.to_string()))?;
    PublicKey::from_pem(&text)
        .with_context(|| format!("`{}` is not a usable public key", path.display()))
}

/// Signing keys: `keys/<name>.key` (encrypted, 0600) and `keys/<name>.pub`.
pub fn keys_dir(dir: &Path) -> PathBuf {
    dir.join("keys")
}

pub fn check_key_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && !name.starts_with('.');
    if !ok {
        return Err(EnvironmentError(format!(
            "`{name}` is not a valid key name (letters, digits, `-`, `_`, `.`)"
        ))
        .into());
    }
    Ok(())
}

/// The passphrase for a private key: `WCOMP_KEY_PASSWORD`, or a prompt on a terminal.
pub fn passphrase(purpose: &str, confirm: bool) -> Result<String> {
    if let Ok(p) = std::env::var(ENV_KEY_PASSWORD) {
        return Ok(p);
    }
    use std::io::IsTerminal as _;
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(super::HintedError::new(
            format!("a passphrase is needed to {purpose}, and there is no terminal to ask on"),
            format!("set {ENV_KEY_PASSWORD} to the passphrase"),
        )
        .into());
    }
    let p = read_hidden(&format!("passphrase to {purpose}"))?;
    if confirm && read_hidden("repeat the passphrase")? != p {
        bail!("the passphrases differ");
    }
    Ok(p)
}

/// Prompts on stderr and reads a line from the terminal on stdin without echoing it. The
/// terminal's settings are restored whatever happens, and the typed line is not shown.
#[cfg(unix)]
pub fn read_hidden(prompt: &str) -> Result<String> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    let stdin = std::io::stdin();
    let saved = tcgetattr(&stdin).map_err(|e| EnvironmentError(format!("terminal: {e}")))?;
    let mut quiet = saved.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    quiet.local_modes.insert(LocalModes::ECHONL);
    // Echo goes off before the prompt shows, and input typed ahead is kept (not flushed),
    // so nothing typed after the prompt can be echoed or lost.
    tcsetattr(&stdin, OptionalActions::Now, &quiet)
        .map_err(|e| EnvironmentError(format!("terminal: {e}")))?;
    eprint!("{prompt}: ");
    let mut line = String::new();
    let read = stdin.read_line(&mut line);
    let restored = tcsetattr(&stdin, OptionalActions::Now, &saved);
    read?;
    restored.map_err(|e| EnvironmentError(format!("terminal: {e}")))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Where there is no termios, the line is read as typed, and the prompt says it shows.
#[cfg(not(unix))]
pub fn read_hidden(prompt: &str) -> Result<String> {
    eprint!("{prompt} (input is shown): ");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Loads a signing key by name (under `keys/`) or by path to an encrypted PEM.
pub fn load_signing_key(
    dir: &Path,
    cfg: &UserConfig,
    which: Option<&str>,
) -> Result<(KeyPair, String)> {
    let (path, label) = key_location(dir, cfg, which)?;
    locked_key(&path, label)?.unlock()
}

/// A signing key read and its passphrase obtained, not yet decrypted: decrypting (the key
/// derivation, deliberately slow) can then run while other work goes on.
pub struct LockedKey {
    pem: String,
    pass: String,
    label: String,
}

impl LockedKey {
    pub fn unlock(self) -> Result<(KeyPair, String)> {
        let key = KeyPair::from_encrypted_pem(&self.pem, &self.pass)
            .map_err(|e| EnvironmentError(format!("key `{}`: {e}", self.label)))?;
        Ok((key, self.label))
    }
}

/// Where the key `which` names lives (a name under `keys/`, or a path to an encrypted
/// PEM; none: the default key), and a label for messages.
fn key_location(dir: &Path, cfg: &UserConfig, which: Option<&str>) -> Result<(PathBuf, String)> {
    Ok(match which {
        Some(w) if w.contains('/') || w.ends_with(".key") || w.ends_with(".pem") => {
            (PathBuf::from(w), w.to_string())
        }
        Some(name) => (keys_dir(dir).join(format!("{name}.key")), name.to_string()),
        None => match &cfg.default_key {
            Some(name) => (keys_dir(dir).join(format!("{name}.key")), name.clone()),
            None => {
                return Err(super::HintedError::new(
                    "no signing key",
                    "create one with `wcomp key generate`, pass `--key <name|path>`, or publish unsigned with `--no-sign`",
                )
                .into());
            }
        },
    })
}

/// The key file read and its passphrase obtained, not yet decrypted.
fn locked_key(path: &Path, label: String) -> Result<LockedKey> {
    let pem = fs_err::read_to_string(path).map_err(|e| EnvironmentError(e.to_string()))?;
    let pass = passphrase(&format!("unlock key `{label}`"), false)?;
    Ok(LockedKey { pem, pass, label })
}

/// A signing key ready to sign, or to be unlocked first.
pub enum SigningKey {
    /// Held by a running `wcomp key agent`: no passphrase, no key derivation.
    #[cfg(unix)]
    Agent(super::agent::AgentKey),
    Locked(LockedKey),
}

/// The signing key `which` names: from the key agent when one runs and holds it (found by
/// the key id of the public key stored beside the private one), else read from its file
/// with its passphrase, to be unlocked.
pub fn signing_key(dir: &Path, cfg: &UserConfig, which: Option<&str>) -> Result<SigningKey> {
    let (path, label) = key_location(dir, cfg, which)?;
    #[cfg(unix)]
    if let Ok(public) = read_public(&path.with_extension("pub"))
        && let Some(held) = super::agent::find(&super::agent::socket_path(dir), &public)
    {
        return Ok(SigningKey::Agent(held));
    }
    Ok(SigningKey::Locked(locked_key(&path, label)?))
}
