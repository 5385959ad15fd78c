use super::CliError;
use crate::ops::EnvironmentError;
use crate::ops::userconfig::{self, TrustEntry, UserConfig};
use crate::printer::{self, BOLD, NOTE, OK, paint};
use anyhow::Context as _;
use serde::Serialize;
use std::path::PathBuf;
use wcomp_trust::KeyPair;

/// Manage signing keys and trusted public keys.
///
/// Keys are ECDSA P-256 (cosign's default). Private keys are stored encrypted (PKCS#8
/// PEM, passphrase from WCOMP_KEY_PASSWORD or a prompt) under
/// `$WCOMP_CONFIG_DIR/keys/` (default: the user config dir's `wcomp/keys/`), mode 0600.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  wcomp key generate --name release        a new key (the first one is the default)
  wcomp key list --json                    keys and trusted keys as JSON
  wcomp key export release > release.pub   the public key, for `cosign verify --key`
  wcomp key export release --cosign-private > cosign.key   for `cosign sign --key`
  wcomp key import cosign.key --name ci    a key from `cosign generate-key-pair`
  wcomp key trust acme.pub --for 'reg.example.com/acme/**'
  wcomp key agent --lifetime 8h            (its own terminal) publish then asks no passphrase
  wcomp key agent --stop

Exit codes: 0 success, 1 the operation failed, 2 usage or environment error (no
passphrase and no terminal, unknown key, unreadable file).")]
pub struct Opts {
    #[command(subcommand)]
    command: KeyCommand,
}

#[derive(clap::Subcommand)]
enum KeyCommand {
    /// Create a key pair; the first one becomes the default signing key.
    Generate {
        /// Name of the key (default: `default`).
        #[arg(long, default_value = "default")]
        name: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List signing keys and trusted public keys.
    List {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print a signing key's public key (PEM, SPKI) to standard output; with
    /// `--cosign-private`, the private key in cosign's format instead.
    Export {
        /// The key's name (default: the default key).
        name: Option<String>,
        /// Print the private key as cosign's `ENCRYPTED SIGSTORE PRIVATE KEY`, for `cosign
        /// sign --key`. It is encrypted with COSIGN_PASSWORD if set, else with the key's
        /// own passphrase.
        #[arg(long)]
        cosign_private: bool,
    },
    /// Import a private key written by `cosign generate-key-pair` (its password from
    /// COSIGN_PASSWORD or a prompt) as a wcomp signing key.
    Import {
        /// The cosign private key file (`cosign.key`).
        file: PathBuf,
        /// Name of the new key (default: `default`).
        #[arg(long, default_value = "default")]
        name: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Hold unlocked signing keys in memory, like ssh-agent, so `wcomp publish` neither
    /// asks for a passphrase nor spends the key derivation again. Serves the same user only,
    /// on a Unix socket (mode 0600), and never hands a private key out. Runs until Ctrl-C,
    /// SIGTERM, `--stop` or `--lifetime`.
    Agent {
        /// Keys to hold (default: the default key). Each key's passphrase comes from
        /// WCOMP_KEY_PASSWORD or a prompt.
        names: Vec<String>,
        /// The socket (default: WCOMP_AGENT_SOCK, else `agent.sock` in the config dir).
        /// Clients look in the same places.
        #[arg(long)]
        socket: Option<PathBuf>,
        /// Exit after this long: `30m`, `8h`, `1d` (default: until stopped).
        #[arg(long, value_name = "DURATION", value_parser = crate::ops::agent::parse_lifetime)]
        lifetime: Option<std::time::Duration>,
        /// Stop the agent listening on the socket, and exit.
        #[arg(long, conflicts_with_all = ["names", "lifetime"])]
        stop: bool,
    },
    /// Trust a public key (PEM) for artifacts matching a pattern.
    Trust {
        /// The public key file (PEM), as written by `wcomp key export` or `cosign public-key`.
        public_pem: PathBuf,
        /// Which artifacts: a glob over `host[:port]/repository` (`*` one segment, `**`
        /// any; a plain prefix covers everything below it). Default: everywhere.
        #[arg(long = "for", value_name = "PATTERN", default_value = "**")]
        pattern: String,
    },
}

#[derive(Serialize)]
struct KeyInfo {
    name: String,
    key_id: String,
    default: bool,
    public_key: String,
    private_key: String,
}

#[derive(Serialize)]
struct TrustInfo {
    key_id: String,
    pattern: String,
    file: String,
}

impl Opts {
    pub fn run(self) -> Result<u8, CliError> {
        let dir = userconfig::config_dir()?;
        match self.command {
            KeyCommand::Generate { name, json } => generate(&dir, &name, json),
            KeyCommand::List { json } => list(&dir, json),
            KeyCommand::Export {
                name,
                cosign_private,
            } => export(&dir, name, cosign_private),
            KeyCommand::Import { file, name, json } => import(&dir, &file, &name, json),
            KeyCommand::Trust {
                public_pem,
                pattern,
            } => trust(&dir, &public_pem, &pattern),
            KeyCommand::Agent {
                names,
                socket,
                lifetime,
                stop,
            } => agent(&dir, names, socket, lifetime, stop),
        }
    }
}

fn agent(
    dir: &std::path::Path,
    names: Vec<String>,
    socket: Option<PathBuf>,
    lifetime: Option<std::time::Duration>,
    stop: bool,
) -> Result<u8, CliError> {
    use crate::ops::agent;
    let socket = socket.unwrap_or_else(|| agent::socket_path(dir));
    if stop {
        agent::stop(&socket).map_err(CliError::usage)?;
        printer::err(&format!(
            "{} the key agent on {}\n",
            paint(OK, "stopped"),
            socket.display()
        ));
        return Ok(0);
    }
    // Before any passphrase is asked for.
    agent::check_free(&socket).map_err(CliError::usage)?;
    let cfg = UserConfig::load(dir)?;
    let names = match (names.is_empty(), cfg.default_key.clone()) {
        (false, _) => names,
        (true, Some(n)) => vec![n],
        (true, None) => {
            return Err(CliError::usage(EnvironmentError(
                "no default key to hold; name one, or create one with `wcomp key generate`".into(),
            )));
        }
    };
    let mut keys = Vec::new();
    for name in names {
        userconfig::check_key_name(&name)?;
        if !userconfig::keys_dir(dir)
            .join(format!("{name}.key"))
            .is_file()
        {
            return Err(CliError::usage(EnvironmentError(format!(
                "no key named `{name}` (see `wcomp key list`)"
            ))));
        }
        let (key, _) = userconfig::load_signing_key(dir, &cfg, Some(&name))?;
        keys.push((name, key));
    }
    let held: Vec<String> = keys
        .iter()
        .map(|(n, k)| format!("`{n}` ({})", k.public().key_id()))
        .collect();
    agent::serve(&socket, keys, lifetime, || {
        // Where the socket is, as a line a POSIX shell can run (the path single-quoted).
        let quoted = socket.display().to_string().replace('\'', "'\\''");
        printer::out(&format!(
            "{}='{quoted}'; export {};\n",
            crate::env::AGENT_SOCK,
            crate::env::AGENT_SOCK
        ));
        printer::err(&format!(
            "{} key agent holding {} on {}; stop it with Ctrl-C or `wcomp key agent --stop`\n",
            paint(OK, "started"),
            held.join(", "),
            socket.display()
        ));
    })?;
    Ok(0)
}

fn generate(dir: &std::path::Path, name: &str, json: bool) -> Result<u8, CliError> {
    userconfig::check_key_name(name)?;
    let keys = userconfig::keys_dir(dir);
    let private = keys.join(format!("{name}.key"));
    if private.exists() {
        return Err(CliError::usage(EnvironmentError(format!(
            "a key named `{name}` already exists ({}); choose another `--name`",
            private.display()
        ))));
    }
    let pass = userconfig::passphrase(&format!("protect key `{name}`"), true)?;
    store(dir, name, &KeyPair::generate(), &pass, json, "created")
}

/// Writes `key` as the signing key `name` (private encrypted with `pass`, mode 0600; public
/// beside it); the first key becomes the default.
fn store(
    dir: &std::path::Path,
    name: &str,
    key: &KeyPair,
    pass: &str,
    json: bool,
    verb: &str,
) -> Result<u8, CliError> {
    let keys = userconfig::keys_dir(dir);
    let private = keys.join(format!("{name}.key"));
    let public = keys.join(format!("{name}.pub"));
    let pem = key.to_encrypted_pem(pass).map_err(anyhow::Error::from)?;
    fs_err::create_dir_all(&keys).map_err(anyhow::Error::from)?;
    wcomp_oci::auth::write_private(&private, pem.as_bytes()).map_err(anyhow::Error::from)?;
    fs_err::write(&public, key.public().to_pem()).map_err(anyhow::Error::from)?;
    let mut cfg = UserConfig::load(dir)?;
    let first = cfg.default_key.is_none();
    if first {
        cfg.default_key = Some(name.to_string());
        cfg.save(dir)?;
    }
    let info = KeyInfo {
        name: name.to_string(),
        key_id: key.public().key_id(),
        default: first,
        public_key: public.display().to_string(),
        private_key: private.display().to_string(),
    };
    if json {
        printer::json(&info)?;
    } else {
        printer::out(&format!(
            "{} key `{}` ({}){}\n  private: {}\n  public:  {}\n",
            paint(OK, verb),
            name,
            info.key_id,
            if first {
                ", the default signing key"
            } else {
                ""
            },
            info.private_key,
            info.public_key
        ));
    }
    Ok(0)
}

fn list(dir: &std::path::Path, json: bool) -> Result<u8, CliError> {
    let cfg = UserConfig::load(dir)?;
    let mut keys = Vec::new();
    let kd = userconfig::keys_dir(dir);
    if kd.is_dir() {
        let mut entries: Vec<_> = fs_err::read_dir(&kd)
            .map_err(anyhow::Error::from)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "pub"))
            .collect();
        entries.sort();
        for p in entries {
            let name = p
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            let key = userconfig::read_public(&p)?;
            keys.push(KeyInfo {
                default: cfg.default_key.as_deref() == Some(name.as_str()),
                key_id: key.key_id(),
                public_key: p.display().to_string(),
                private_key: kd.join(format!("{name}.key")).display().to_string(),
                name,
            });
        }
    }
    let mut trusted = Vec::new();
    for t in &cfg.trust {
        let path = if std::path::Path::new(&t.key).is_absolute() {
            PathBuf::from(&t.key)
        } else {
            dir.join(&t.key)
        };
        let key = userconfig::read_public(&path)?;
        trusted.push(TrustInfo {
            key_id: key.key_id(),
            pattern: t.pattern.clone(),
            file: path.display().to_string(),
        });
    }
    if json {
        printer::json(&serde_json::json!({"schema": 1, "keys": keys, "trusted": trusted}))?;
        return Ok(0);
    }
    let mut s = String::new();
    s.push_str(&format!("{}\n", paint(BOLD, "signing keys")));
    if keys.is_empty() {
        s.push_str("  (none; create one with `wcomp key generate`)\n");
    }
    for k in &keys {
        s.push_str(&format!(
            "  {}{}  {}\n",
            k.name,
            if k.default { " (default)" } else { "" },
            k.key_id
        ));
    }
    s.push_str(&format!("{}\n", paint(BOLD, "trusted keys")));
    if trusted.is_empty() {
        s.push_str("  (none; add one with `wcomp key trust <public.pem> --for <pattern>`)\n");
    }
    for t in &trusted {
        s.push_str(&format!("  {}  for {}\n", t.key_id, t.pattern));
    }
    printer::out(&s);
    Ok(0)
}

fn export(
    dir: &std::path::Path,
    name: Option<String>,
    cosign_private: bool,
) -> Result<u8, CliError> {
    let cfg = UserConfig::load(dir)?;
    let Some(name) = name.or(cfg.default_key) else {
        return Err(CliError::usage(EnvironmentError(
            "no default key; create one with `wcomp key generate`".into(),
        )));
    };
    userconfig::check_key_name(&name)?;
    let path = userconfig::keys_dir(dir).join(format!("{name}.pub"));
    if !path.is_file() {
        return Err(CliError::usage(EnvironmentError(format!(
            "no key named `{name}` (see `wcomp key list`)"
        ))));
    }
    if cosign_private {
        let cfg = UserConfig::load(dir)?;
        let (key, _) = userconfig::load_signing_key(dir, &cfg, Some(&name))?;
        let password = match std::env::var(crate::env::COSIGN_PASSWORD) {
            Ok(p) => p,
            Err(_) => userconfig::passphrase(&format!("unlock key `{name}`"), false)?,
        };
        let pem = key.to_cosign_pem(&password).map_err(anyhow::Error::from)?;
        printer::out(&pem);
        return Ok(0);
    }
    let key = userconfig::read_public(&path)?;
    printer::out(&key.to_pem());
    Ok(0)
}

fn import(
    dir: &std::path::Path,
    file: &std::path::Path,
    name: &str,
    json: bool,
) -> Result<u8, CliError> {
    userconfig::check_key_name(name)?;
    let private = userconfig::keys_dir(dir).join(format!("{name}.key"));
    if private.exists() {
        return Err(CliError::usage(EnvironmentError(format!(
            "a key named `{name}` already exists ({}); choose another `--name`",
            private.display()
        ))));
    }
    let pem = fs_err::read_to_string(file)
        .map_err(|e| CliError::usage(EnvironmentError(e.to_string())))?;
    let password = match std::env::var(crate::env::COSIGN_PASSWORD) {
        Ok(p) => p,
        Err(_) => {
            use std::io::IsTerminal as _;
            if !std::io::stdin().is_terminal() {
                return Err(CliError::usage(crate::ops::HintedError::new(
                    "the cosign key's password is needed, and there is no terminal to ask on",
                    "set COSIGN_PASSWORD to it",
                )));
            }
            userconfig::read_hidden(&format!("password of {}", file.display()))
                .map_err(CliError::usage)?
        }
    };
    let key = KeyPair::from_cosign_pem(&pem, &password).map_err(|e| {
        CliError::failure(anyhow::Error::new(e).context(format!("cannot read {}", file.display())))
    })?;
    let pass = userconfig::passphrase(&format!("protect key `{name}`"), true)?;
    store(dir, name, &key, &pass, json, "imported")
}

fn trust(dir: &std::path::Path, pem: &std::path::Path, pattern: &str) -> Result<u8, CliError> {
    let key = userconfig::read_public(pem)?;
    let mut check = wcomp_trust::policy::Policy::default();
    check
        .add_key(pattern, key.clone(), "check")
        .map_err(CliError::usage)?;
    let id = key.key_id();
    let rel = format!("trusted/{id}.pem");
    fs_err::create_dir_all(dir.join("trusted")).map_err(anyhow::Error::from)?;
    fs_err::write(dir.join(&rel), key.to_pem())
        .with_context(|| format!("failed to store the key under {}", dir.display()))?;
    let mut cfg = UserConfig::load(dir)?;
    if !cfg
        .trust
        .iter()
        .any(|t| t.key == rel && t.pattern == pattern)
    {
        cfg.trust.push(TrustEntry {
            key: rel,
            pattern: pattern.to_string(),
        });
        cfg.save(dir)?;
    }
    printer::out(&format!(
        "{} key {id} for {}\n{}: unsigned artifacts matching it are now refused unless `[unsigned]` in config.toml says otherwise\n",
        paint(OK, "trusted"),
        pattern,
        paint(NOTE, "note")
    ));
    Ok(0)
}
