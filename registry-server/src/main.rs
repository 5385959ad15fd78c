//! The `wcomp-registry` binary: CLI definition and glue. The work happens in the library.

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use wcomp_registry::app::App;
use wcomp_registry::auth::{self, Actions};
use wcomp_registry::config::{Config, env};

/// A private OCI Distribution 1.1 registry that understands WebAssembly components.
#[derive(Parser, Debug)]
#[command(name = "wcomp-registry", version)]
struct Cli {
    /// TOML config file (defaults apply to everything it leaves out).
    #[arg(long, short, global = true, env = env::CONFIG)]
    config: Option<PathBuf>,
    /// Directory for blobs, metadata and keys.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the registry.
    #[command(
        after_help = "Examples:\n  wcomp-registry serve\n  wcomp-registry serve --listen 0.0.0.0:5000 --data-dir /var/lib/wcomp-registry\n  WCOMP_REGISTRY_ADMIN_PASSWORD=s3cret wcomp-registry serve"
    )]
    Serve {
        /// Address and port to listen on (`addr:port`).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Disable authentication entirely. For local experiments only.
        #[arg(long)]
        insecure_no_auth: bool,
        /// Serve HTTPS with this PEM certificate chain (needs --tls-key).
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// PEM private key for --tls-cert.
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
    },
    /// Delete unreferenced blobs and abandoned uploads older than the grace period. Safe to
    /// run while the server is serving.
    Gc {
        /// Override the configured grace period, in seconds.
        #[arg(long)]
        grace_secs: Option<i64>,
    },
    /// Manage users, API tokens and grants.
    #[command(subcommand)]
    Admin(Admin),
    /// Copy a whole registry to another configuration (e.g. fs + SQLite to S3 +
    /// PostgreSQL): users, API tokens, grants, blobs (verified by digest), manifests, tags,
    /// referrers, the component index. An interrupted run resumes when run again.
    #[command(
        after_help = "Examples:\n  wcomp-registry migrate --from old.toml --to new.toml\n\nExit status: 0 copied, 1 a copy failed (run again to resume), 2 a store could not be opened."
    )]
    Migrate {
        /// Config of the registry to copy from.
        #[arg(long)]
        from: PathBuf,
        /// Config of the registry to copy to.
        #[arg(long)]
        to: PathBuf,
        /// Copy into a target that already holds other data.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand, Debug)]
enum Admin {
    /// Create a user or reset its password (read from --password or generated and printed).
    UserAdd {
        name: String,
        #[arg(long)]
        password: Option<String>,
        /// Give the user every right on every repository.
        #[arg(long)]
        admin: bool,
    },
    /// Create an API token for a user (usable as the password in Basic auth), printed once.
    TokenCreate {
        user: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Grant actions on repositories matching a glob (`team/*`, `public/**`) to a user, or
    /// to `anonymous` (which only ever pulls).
    #[command(
        after_help = "Examples:\n  wcomp-registry admin grant-add user:alice 'team/**' pull,push,delete\n  wcomp-registry admin grant-add user:ci 'releases/*' pull,create\n  wcomp-registry admin grant-add anonymous 'public/**' pull"
    )]
    GrantAdd {
        /// `user:<name>` or `anonymous`.
        subject: String,
        pattern: String,
        /// Comma-separated: pull, create (push without moving existing tags), push, delete.
        actions: String,
    },
    /// List every grant.
    GrantList,
    /// Remove a grant by id.
    GrantRemove { id: i64 },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env(env::LOG)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colour only for a person at a terminal: a log file or a pipe gets plain text.
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        )
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: failed to start the runtime: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("Caused by: {cause}");
            }
            let env_error = e.downcast_ref::<Environment>().is_some();
            std::process::ExitCode::from(if env_error { 2 } else { 1 })
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(d) = cli.data_dir {
        config.data_dir = d;
    }
    match cli.command {
        Command::Serve {
            listen,
            insecure_no_auth,
            tls_cert,
            tls_key,
        } => {
            if let Some(l) = listen {
                config.listen = l;
            }
            if let (Some(cert), Some(key)) = (tls_cert, tls_key) {
                config.tls = Some(wcomp_registry::config::TlsConfig { cert, key });
            }
            if let Some(t) = &config.tls {
                // Fail at startup, not at the first connection.
                wcomp_registry::server::tls_acceptor(t)?;
            }
            if insecure_no_auth {
                config.auth.enabled = false;
                tracing::warn!(
                    "authentication is disabled (--insecure-no-auth): anyone can push and delete"
                );
            }
            let addr = config.listen;
            let state = connect(config).await?;
            if let Some((user, password)) = state
                .ensure_admin(std::env::var(env::ADMIN_PASSWORD).ok())
                .await?
            {
                // Not println!: a closed stdout must not kill the server.
                use std::io::Write as _;
                let mut out = std::io::stdout();
                let _ = writeln!(
                    out,
                    "created the first admin user `{user}` with password: {password}"
                );
                let _ = writeln!(
                    out,
                    "(shown once; set {} before the first start to choose it)",
                    env::ADMIN_PASSWORD
                );
                let _ = out.flush();
            }
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("failed to listen on {addr}"))?;
            tracing::info!(addr = %listener.local_addr()?, data_dir = %state.config.data_dir.display(), "wcomp-registry listening");
            wcomp_registry::server::serve(state, listener).await
        }
        Command::Gc { grace_secs } => {
            let grace = grace_secs.unwrap_or(config.gc.grace_secs);
            let state = connect(config).await?;
            let Some(r) = wcomp_registry::gc::run_exclusive(
                state.meta.as_ref(),
                &state.blobs,
                grace,
                auth::now(),
            )
            .await?
            else {
                println!("another process is running GC (it holds the `gc` lease); nothing done");
                return Ok(());
            };
            println!(
                "deleted {} blobs, {} abandoned uploads, {} scratch files, {} orphan files",
                r.blobs_deleted, r.uploads_deleted, r.scratch_deleted, r.orphans_deleted
            );
            Ok(())
        }
        Command::Admin(cmd) => admin(connect(config).await?, cmd).await,
        Command::Migrate { from, to, force } => migrate(&from, &to, force).await,
    }
}

async fn migrate(from: &std::path::Path, to: &std::path::Path, force: bool) -> anyhow::Result<()> {
    let open = |p: &std::path::Path| {
        let p = p.to_path_buf();
        async move {
            let c = Config::load(Some(&p))?;
            wcomp_registry::app::open_backends(&c)
                .await
                .with_context(|| format!("opening the registry of `{}`", p.display()))
        }
    };
    let (src_meta, src_blobs) = open(from)
        .await
        .map_err(|e| anyhow::Error::new(Environment(e)))?;
    let (dst_meta, dst_blobs) = open(to)
        .await
        .map_err(|e| anyhow::Error::new(Environment(e)))?;
    let bar = Bar(indicatif::ProgressBar::new(0));
    let s = wcomp_registry::migrate::run(
        (src_meta.as_ref(), &src_blobs),
        (dst_meta.as_ref(), &dst_blobs),
        &wcomp_registry::migrate::Options {
            force,
            stop_after_blobs: None,
        },
        &bar,
    )
    .await?;
    bar.0.finish_and_clear();
    println!(
        "copied {} users, {} API tokens, {} grants, {} repositories, {} blobs ({} bytes; {} already there), {} manifests, {} tags, {} indexed components",
        s.users,
        s.tokens,
        s.grants,
        s.repositories,
        s.blobs_copied,
        s.bytes_copied,
        s.blobs_present,
        s.manifests,
        s.tags,
        s.components
    );
    Ok(())
}

/// The migration's progress on stderr.
struct Bar(indicatif::ProgressBar);

impl wcomp_registry::migrate::Reporter for Bar {
    fn phase(&self, name: &str, total: u64) {
        self.0.set_length(total);
        self.0.set_position(0);
        self.0.set_message(name.to_string());
        self.0.set_style(
            indicatif::ProgressStyle::with_template("{msg:>22} [{bar:30}] {pos}/{len}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
    }
    fn advance(&self, n: u64) {
        self.0.inc(n);
    }
}

/// An environment problem (exit 2): the configured storage or database cannot be used.
#[derive(Debug)]
struct Environment(anyhow::Error);

impl std::fmt::Display for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.0)
    }
}

impl std::error::Error for Environment {}

async fn connect(config: Config) -> anyhow::Result<Arc<App>> {
    App::connect(config)
        .await
        .map_err(|e| anyhow::Error::new(Environment(e)))
}

async fn admin(state: Arc<App>, cmd: Admin) -> anyhow::Result<()> {
    let meta = &state.meta;
    match cmd {
        Admin::UserAdd {
            name,
            password,
            admin,
        } => {
            let generated = password.is_none();
            let password = password.unwrap_or_else(|| auth::random_secret(""));
            let hash = auth::hash_password(&password)?;
            meta.put_user(&wcomp_registry::metadata::User {
                name: name.clone(),
                password_hash: hash,
                admin,
            })
            .await?;
            if generated {
                println!("user `{name}` password: {password}");
            } else {
                println!("user `{name}` saved");
            }
        }
        Admin::TokenCreate { user, description } => {
            anyhow::ensure!(meta.get_user(&user).await?.is_some(), "no user `{user}`");
            let token = auth::random_secret("wcr_");
            meta.put_api_token(&user, &auth::sha256_hex(&token), &description, auth::now())
                .await?;
            println!("{token}");
        }
        Admin::GrantAdd {
            subject,
            pattern,
            actions,
        } => {
            anyhow::ensure!(
                subject == "anonymous"
                    || subject.strip_prefix("user:").is_some_and(|u| !u.is_empty()),
                "subject must be `user:<name>` or `anonymous`"
            );
            let list: Vec<String> = actions.split(',').map(|s| s.trim().to_string()).collect();
            for a in &list {
                anyhow::ensure!(
                    ["pull", "create", "push", "delete", "*"].contains(&a.as_str()),
                    "unknown action `{a}`"
                );
            }
            let id = meta.add_grant(&subject, &pattern, &list).await?;
            println!(
                "grant {id}: {subject} may {:?} on `{pattern}`",
                Actions::parse(&list).names()
            );
        }
        Admin::GrantList => {
            for g in meta.list_grants().await? {
                println!(
                    "{}\t{}\t{}\t{}",
                    g.id,
                    g.subject,
                    g.pattern,
                    g.actions.join(",")
                );
            }
        }
        Admin::GrantRemove { id } => {
            anyhow::ensure!(meta.remove_grant(id).await?, "no grant {id}");
            println!("grant {id} removed");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_is_well_formed() {
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }
}
