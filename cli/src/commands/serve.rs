use super::CliError;
use crate::ops::EnvironmentError;
use crate::ops::host::AllowedHost;
use crate::ops::pull;
use crate::ops::serve::{Limits, NotServable, ServeSpec, Started, serve};
use crate::ops::sql::DbSpec;
use crate::printer::{self, ERROR, paint};
use std::path::PathBuf;
use std::time::Duration;

/// Serve a component as an HTTP service: a fresh instance for every request.
///
/// The component must export `wasi:http/incoming-handler@0.2.x` (the `wasi:http/proxy`
/// world): `wcomp new rust-http`, a composition with an HTTP front, or anything
/// `wasmtime serve` runs. It is compiled once (and cached), pre-instantiated, and each
/// request gets its own instance from wasmtime's pooling allocator, so no state leaks
/// from one request to the next.
///
/// Given a registry reference instead of a file, the component is pulled and its digest,
/// signature and provenance are checked against your trust policy exactly as `wcomp
/// pull` does; anything unsigned, untrusted or tampered is refused.
///
/// The guest gets nothing it was not given: directories with `--dir`, environment
/// variables with `--env`, outgoing HTTP only to `--allow-outbound` hosts, and the
/// `wcomp:sql` database with `--db`. Every limit has a safe default and is answered
/// without taking the server down: 413 for a body over `--max-body`, 503 when every
/// instance is busy for `--queue-timeout`, 504 past `--request-timeout`, 500 for a
/// trap or an instance that grows past `--max-memory` (logged with its wasm backtrace).
///
/// One access-log line per request goes to stdout; events (start-up, traps, reloads) go
/// to stderr. SIGINT or SIGTERM: stop accepting, let requests in flight finish, exit 0.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  wcomp serve build/app.wasm                           http://127.0.0.1:8080
  wcomp serve build/pipeline.wasm --db sqlite:signups.db --listen 0.0.0.0:3000
  wcomp serve localhost:5000/acme/app:1.0.0            pulled, verified, then served
  wcomp serve acme:app@1.0.0 --key acme.pub
  wcomp serve build/app.wasm --watch                   swap in each rebuild
  wcomp serve app.wasm --allow-outbound api.example.com --env API_TOKEN
  wcomp serve app.wasm --request-timeout 5s --max-memory 64MiB --max-concurrency 32
  curl -s localhost:8080/

Sizes take B, KiB, MiB, GiB (or K, M, G: powers of 1024); durations are like 500ms,
30s, 2m.

Exit codes: 0 stopped by SIGINT/SIGTERM; 1 the component cannot be served (not a
wasi:http handler, a core module, fails to start) or the registry artifact failed
verification; 2 usage or environment error (missing file, address in use, bad flag).")]
pub struct Opts {
    /// The component: a file, or a registry reference (`host[:port]/repo:tag`,
    /// `ns:name@1.2.0`).
    component: String,

    /// The address to listen on (`:0` picks a free port; the start-up line says which).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    listen: String,

    /// Give the guest a directory: `HOST[::GUEST]` (guest path defaults to the host path).
    #[arg(long, value_name = "HOST[::GUEST]")]
    dir: Vec<String>,

    /// Give the guest an environment variable: `NAME=VALUE`, or `NAME` to pass this
    /// process's value. Nothing else of the server's environment reaches the guest.
    #[arg(long, value_name = "NAME[=VALUE]")]
    env: Vec<String>,

    /// The database behind `wcomp:sql`: `sqlite:PATH` or `postgres://user@host/db`; one
    /// pool of connections shared by all instances.
    #[arg(long, value_name = "URL")]
    db: Option<DbSpec>,

    /// Let outgoing `wasi:http` requests go to this host (any port) or `HOST:PORT`;
    /// repeat for more. Requests to any other host are denied to the guest.
    #[arg(long, value_name = "HOST[:PORT]")]
    allow_outbound: Vec<AllowedHost>,

    /// Stop an instance that runs longer than this; the client gets 504.
    #[arg(long, default_value = "30s", value_parser = duration, value_name = "TIME")]
    request_timeout: Duration,

    /// Linear memory one instance may use (all its memories together); growing past it
    /// fails that request with 500. At most 4GiB (wasm32).
    #[arg(long, default_value = "512MiB", value_parser = memory_size, value_name = "SIZE")]
    max_memory: u64,

    /// Instances running at once; more requests wait up to `--queue-timeout`, then 503.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000), value_name = "N")]
    max_concurrency: u32,

    /// The largest request body; larger ones get 413.
    #[arg(long, default_value = "16MiB", value_parser = size, value_name = "SIZE")]
    max_body: u64,

    /// Open client connections at once; more wait to be accepted.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000), value_name = "N")]
    max_connections: u32,

    /// A client must send a request's headers within this time, or it is cut off.
    #[arg(long, default_value = "10s", value_parser = duration, value_name = "TIME")]
    header_timeout: Duration,

    /// How long a request waits for a free instance before it gets 503.
    #[arg(long, default_value = "5s", value_parser = duration, value_name = "TIME")]
    queue_timeout: Duration,

    /// On SIGINT/SIGTERM, how long requests in flight may take to finish.
    #[arg(long, default_value = "10s", value_parser = duration, value_name = "TIME")]
    shutdown_timeout: Duration,

    /// Watch the file: when it changes, compile and check the new component in the
    /// background and swap it in (a broken file is reported; the old one keeps serving).
    #[arg(long)]
    watch: bool,

    /// Answer `GET PATH` with 200 `ok` (readiness) without running the component. Off
    /// unless given, so it never shadows the component's own routes.
    #[arg(long, value_name = "PATH")]
    health_path: Option<String>,

    /// Registry references: verify with exactly this public key (PEM) instead of the
    /// trust policy.
    #[arg(long, value_name = "PUBLIC.PEM")]
    key: Option<PathBuf>,

    /// Registry references: serve without checking signatures or provenance (the layer
    /// digest is still checked).
    #[arg(long, conflicts_with = "key")]
    insecure_skip_verify: bool,

    /// Registry references: use plain http for a non-loopback registry.
    #[arg(long)]
    insecure: bool,

    /// Write the start-up line, events and the access log as JSON lines.
    #[arg(long)]
    json: bool,
}

/// `30s`, `500ms`, `2m`: more than zero.
pub(super) fn duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("`{s}` is not a duration: {e}"))?;
    if d.is_zero() {
        return Err("must be more than zero".to_string());
    }
    Ok(d)
}

/// `16MiB`, `64M`, `1024`: a byte count, more than zero.
fn size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size (e.g. 512MiB, 64M, 1048576)"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => {
            return Err(format!(
                "`{s}`: unknown unit `{unit}` (use B, KiB, MiB or GiB)"
            ));
        }
    };
    let bytes = n
        .checked_mul(mult)
        .ok_or_else(|| format!("`{s}` is too large"))?;
    if bytes == 0 {
        return Err("must be more than zero".to_string());
    }
    Ok(bytes)
}

/// A memory limit: at least one 64 KiB page, at most wasm32's 4 GiB.
pub(super) fn memory_size(s: &str) -> Result<u64, String> {
    let n = size(s)?;
    if n < 64 << 10 {
        return Err(format!("`{s}` is less than one WebAssembly page (64KiB)"));
    }
    if n > 4 << 30 {
        return Err(format!(
            "`{s}` is more than a 32-bit memory can hold (4GiB)"
        ));
    }
    Ok(n)
}

/// A file (anything that exists, or looks like a path to a .wasm/.wat file) or a
/// registry reference: `host[:port]/repo...` whose first part names a host (has a dot
/// or a port, or is `localhost`), or a package `ns:name@version`.
fn is_reference(s: &str) -> bool {
    if std::path::Path::new(s).exists() || s.ends_with(".wasm") || s.ends_with(".wat") {
        return false;
    }
    match s.split_once('/') {
        Some((first, _)) => first.contains('.') || first.contains(':') || first == "localhost",
        None => s.contains(':') && !s.contains(std::path::MAIN_SEPARATOR),
    }
}

impl Opts {
    pub fn run(self) -> Result<u8, CliError> {
        let mut env = Vec::new();
        for e in &self.env {
            match e.split_once('=') {
                Some((k, v)) => env.push((k.to_string(), v.to_string())),
                None => match std::env::var(e) {
                    Ok(v) => env.push((e.clone(), v)),
                    Err(_) => {
                        return Err(CliError::usage(anyhow::anyhow!(
                            "`--env {e}`: `{e}` is not set here; give a value with `--env {e}=VALUE`"
                        )));
                    }
                },
            }
        }
        let dirs = self
            .dir
            .iter()
            .map(|d| match d.split_once("::") {
                Some((host, guest)) => (PathBuf::from(host), guest.to_string()),
                None => (PathBuf::from(d), d.clone()),
            })
            .collect();
        if let Some(p) = &self.health_path
            && !p.starts_with('/')
        {
            return Err(CliError::usage(anyhow::anyhow!(
                "`--health-path {p}`: a path starts with `/`, e.g. `/healthz`"
            )));
        }

        // A registry reference is pulled and verified into a private directory that
        // lives as long as the server.
        let mut _pulled_dir = None;
        let (component, origin) = if is_reference(&self.component) {
            if self.watch {
                return Err(CliError::usage(anyhow::anyhow!(
                    "`--watch` watches a file; `{}` is a registry reference",
                    self.component
                )));
            }
            if self.insecure_skip_verify {
                printer::err(&format!(
                    "{}: --insecure-skip-verify: the signature and provenance of {} will NOT be checked; only the layer digest is\n",
                    paint(ERROR, "WARNING"),
                    self.component
                ));
            }
            let dir = tempfile::Builder::new()
                .prefix("wcomp-serve-")
                .tempdir()
                .map_err(|e| {
                    CliError::usage(anyhow::anyhow!("cannot make a temporary directory: {e}"))
                })?;
            let file = dir.path().join("component.wasm");
            let bar = printer::Bar::new();
            let pulled = pull::run(
                pull::Options {
                    reference: self.component.clone(),
                    output: Some(Some(file.clone())),
                    key: self.key.clone(),
                    skip_verify: self.insecure_skip_verify,
                    insecure: self.insecure,
                },
                &bar,
            )
            .map_err(super::op_error)?;
            let mut origin = format!("{} ({})", pulled.reference, pulled.manifest_digest);
            match &pulled.verification {
                Some(v) => {
                    for w in &v.warnings {
                        printer::warn(w);
                    }
                    let signers: Vec<String> = v
                        .signers
                        .iter()
                        .map(|s| format!("key {} (trusted: {})", s.key_id, s.trusted_as))
                        .collect();
                    origin.push_str(&format!(", verified: signed by {}", signers.join(", ")));
                    for a in &v.attestations {
                        origin.push_str(&format!(", attestation {} verified", a.predicate_type));
                    }
                }
                None => origin.push_str(", NOT verified (--insecure-skip-verify)"),
            }
            _pulled_dir = Some(dir);
            (file, Some(origin))
        } else {
            (PathBuf::from(&self.component), None)
        };

        let spec = ServeSpec {
            component,
            listen: self.listen.clone(),
            dirs,
            env,
            db: self.db.clone(),
            allow_outbound: self.allow_outbound.clone(),
            limits: Limits {
                request_timeout: self.request_timeout,
                max_memory: self.max_memory,
                max_concurrency: self.max_concurrency,
                max_body: self.max_body,
                max_connections: self.max_connections,
                header_timeout: self.header_timeout,
                queue_timeout: self.queue_timeout,
                shutdown_timeout: self.shutdown_timeout,
            },
            watch: self.watch,
            health_path: self.health_path.clone(),
            json: self.json,
        };
        let json = self.json;
        let capabilities = self.capabilities();
        let result = serve(spec, |s: &Started| {
            if json {
                let mut v = serde_json::to_value(s).expect("serialisable");
                v["event"] = "listening".into();
                if let Some(o) = &origin {
                    v["origin"] = o.clone().into();
                }
                printer::err(&format!("{v}\n"));
            } else {
                let what = origin.clone().unwrap_or_else(|| s.component.clone());
                printer::err(&format!(
                    "serving {what}\n  component {}{}\n  {}\n  listening on {}\n",
                    s.digest,
                    if s.pooling {
                        ""
                    } else {
                        " (on-demand allocation)"
                    },
                    capabilities,
                    s.address
                ));
            }
        });
        match result {
            Ok(()) => Ok(0),
            Err(e) => Err(if e.downcast_ref::<NotServable>().is_some() {
                CliError::failure(e)
            } else if e.downcast_ref::<EnvironmentError>().is_some() {
                CliError::usage(e)
            } else if let Some(w) = e.downcast_ref::<wcomp_wasm::Error>() {
                match w {
                    wcomp_wasm::Error::NotFound(_) | wcomp_wasm::Error::Read { .. } => {
                        CliError::usage(e)
                    }
                    _ => CliError::failure(e),
                }
            } else {
                CliError::usage(e)
            }),
        }
    }

    /// One line saying what the guest may use.
    fn capabilities(&self) -> String {
        let mut parts = Vec::new();
        parts.push(if self.dir.is_empty() {
            "no directories".to_string()
        } else {
            format!("directories {}", self.dir.join(", "))
        });
        parts.push(if self.env.is_empty() {
            "no environment".to_string()
        } else {
            let names: Vec<&str> = self
                .env
                .iter()
                .map(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k))
                .collect();
            format!("environment {}", names.join(", "))
        });
        parts.push(if self.allow_outbound.is_empty() {
            "no outbound HTTP".to_string()
        } else {
            let hosts: Vec<String> = self.allow_outbound.iter().map(|h| h.to_string()).collect();
            format!("outbound HTTP to {}", hosts.join(", "))
        });
        parts.push(match &self.db {
            Some(db) => format!("database {db}"),
            None => "no database".to_string(),
        });
        format!(
            "guest gets {}; limits {} per request, {} memory, {} at once, {} bodies",
            parts.join(", "),
            humantime::format_duration(self.request_timeout),
            printer::human_size(self.max_memory),
            self.max_concurrency,
            printer::human_size(self.max_body)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units_and_refuse_nonsense() {
        assert_eq!(size("16MiB").unwrap(), 16 << 20);
        assert_eq!(size("64M").unwrap(), 64 << 20);
        assert_eq!(size("1024").unwrap(), 1024);
        assert_eq!(size("2g").unwrap(), 2 << 30);
        for bad in [
            "0",
            "0MiB",
            "-1",
            "MiB",
            "12XB",
            "99999999999999999999",
            "18446744073709551615G",
        ] {
            assert!(size(bad).is_err(), "{bad}");
        }
        assert!(memory_size("1KiB").is_err());
        assert!(memory_size("5GiB").is_err());
        assert_eq!(memory_size("64KiB").unwrap(), 64 << 10);
    }

    #[test]
    fn durations_must_be_positive() {
        assert_eq!(duration("500ms").unwrap(), Duration::from_millis(500));
        assert!(duration("0s").is_err());
        assert!(duration("soon").is_err());
    }

    #[test]
    fn references_and_files_are_told_apart() {
        assert!(is_reference("localhost:5000/acme/app:1.0"));
        assert!(is_reference("registry.example.com/acme/app:1.0"));
        assert!(is_reference("acme:app@1.0.0"));
        assert!(!is_reference("build/app.wasm"));
        assert!(!is_reference("missing/thing"));
        assert!(!is_reference("app.wat"));
    }
}
