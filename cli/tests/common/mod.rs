//! Helpers shared by the integration tests: components built from inline WIT with
//! wit-component's dummy core module, runs of the real binary, a registry user with their
//! own config and keys, and the interop tools the tests look for.

#![allow(dead_code)]

pub mod http;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use wit_component::{ComponentEncoder, StringEncoding};
use wit_parser::{ManglingAndAbi, Resolve};

/// The output of one `wcomp` run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }

    #[track_caller]
    pub fn expect(&self, code: i32) -> &Run {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn has(&self, needle: &str) -> &Run {
        assert!(
            self.all().contains(needle),
            "output lacks {needle:?}\n--- stdout\n{}--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// A loopback port free at the time of asking, for a server the test starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether missing interop tools fail the tests (CI, `WCOMP_REQUIRE_INTEROP`) instead of
/// skipping them with a note.
pub fn require_tools() -> bool {
    std::env::var_os("WCOMP_REQUIRE_INTEROP").is_some() || std::env::var_os("CI").is_some()
}

/// An interop tool: in `WCOMP_TEST_BIN`, registry-server/target-tools/bin, `extra`, or on
/// PATH. `None` (with a note) when absent, unless [`require_tools`], which panics.
pub fn find_tool(name: &str, extra: &[PathBuf]) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(d) = std::env::var_os("WCOMP_TEST_BIN") {
        dirs.push(PathBuf::from(d));
    }
    dirs.push(root.join("registry-server/target-tools/bin"));
    dirs.extend(extra.iter().cloned());
    if let Some(p) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&p));
    }
    let found = dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file());
    if found.is_none() {
        assert!(
            !require_tools(),
            "{name} is required (CI / WCOMP_REQUIRE_INTEROP) but not installed: run registry-server/scripts/install-test-deps.sh"
        );
        eprintln!(
            "skipping: `{name}` is not installed (registry-server/scripts/install-test-deps.sh)"
        );
    }
    found
}

/// A registry user: their own config dir (keys, trust, credentials, caches) and work dir,
/// with the key passphrase `test-passphrase` in the environment and no registry settings
/// inherited from the machine.
pub struct User {
    pub config: tempfile::TempDir,
    pub work: tempfile::TempDir,
}

impl User {
    pub fn new() -> User {
        User {
            config: tempfile::tempdir().unwrap(),
            work: tempfile::tempdir().unwrap(),
        }
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_wcomp"));
        c.args(args)
            .current_dir(self.work.path())
            .env("WCOMP_CONFIG_DIR", self.config.path())
            .env("WCOMP_CACHE_DIR", self.config.path().join("cache"))
            .env("WCOMP_KEY_PASSWORD", "test-passphrase")
            .env("HOME", self.work.path())
            .env("NO_COLOR", "1")
            .env_remove("DOCKER_CONFIG")
            .env_remove("WCOMP_AGENT_SOCK")
            .env_remove("WCOMP_REGISTRY")
            .env_remove("WCOMP_REGISTRY_USER")
            .env_remove("WCOMP_REGISTRY_PASSWORD")
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.cmd(args).output().unwrap().into()
    }

    /// Runs with `vars` added to (or replacing in) the environment.
    pub fn run_with<V: AsRef<std::ffi::OsStr>>(&self, args: &[&str], vars: &[(&str, V)]) -> Run {
        let mut c = self.cmd(args);
        for (k, v) in vars {
            c.env(k, v);
        }
        c.output().unwrap().into()
    }

    /// Runs and expects exit 0.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> Run {
        let r = self.run(args);
        assert_eq!(
            r.code, 0,
            "wcomp {args:?} failed:\n{}\n{}",
            r.stdout, r.stderr
        );
        r
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.work.path().join(name)
    }

    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// A key named `name` (the first becomes the default), its public PEM written to
    /// `<name>.pub` in the work dir, whose path is returned.
    pub fn key(&self, name: &str) -> PathBuf {
        self.ok(&["key", "generate", "--name", name]);
        let pem = self.ok(&["key", "export", name]).stdout;
        self.write(&format!("{name}.pub"), pem.as_bytes())
    }

    /// The key id of the key [`User::key`] made.
    pub fn key_id(&self, name: &str) -> String {
        let pem = std::fs::read_to_string(self.path(&format!("{name}.pub"))).unwrap();
        wcomp_trust::PublicKey::from_pem(&pem).unwrap().key_id()
    }

    /// The private key itself, for tests that sign behind wcomp's back.
    pub fn signing_key(&self, name: &str) -> wcomp_trust::KeyPair {
        let pem =
            std::fs::read_to_string(self.config.path().join(format!("keys/{name}.key"))).unwrap();
        wcomp_trust::KeyPair::from_encrypted_pem(&pem, "test-passphrase").unwrap()
    }

    /// Trusts the key [`User::key`] made for `pattern`.
    pub fn trust(&self, name: &str, pattern: &str) {
        self.ok(&["key", "trust", &format!("{name}.pub"), "--for", pattern]);
    }

    /// No file other than `keep` in the work dir (no half-written or temporary output).
    #[track_caller]
    pub fn assert_only(&self, keep: &[&str]) {
        let mut names: Vec<String> = std::fs::read_dir(self.work.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .filter(|n| !keep.contains(&n.as_str()))
            .collect();
        names.sort();
        assert!(names.is_empty(), "unexpected files left behind: {names:?}");
    }
}

/// A scratch directory with the components of one test.
pub struct Dir {
    tmp: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Dir {
        Dir {
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// Builds the world `world` of `wit` (a root package plus nested ones) into
    /// `<world>.wasm`.
    pub fn component(&self, world: &str, wit: &str) -> PathBuf {
        let bytes = build(wit, world);
        let path = self.path(&format!("{world}.wasm"));
        std::fs::write(&path, bytes).unwrap();
        path
    }

    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    pub fn wcomp(&self, args: &[&str]) -> Run {
        let out = Command::new(env!("CARGO_BIN_EXE_wcomp"))
            .args(args)
            .current_dir(self.tmp.path())
            .env("NO_COLOR", "1")
            .env_remove("CLICOLOR_FORCE")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        // `SHOW=1 cargo test --test compose -- --nocapture` prints every run.
        if std::env::var_os("SHOW").is_some() {
            println!(
                "$ wcomp {}\nexit: {}\n--- stdout\n{}--- stderr\n{}",
                args.join(" "),
                run.code,
                run.stdout,
                run.stderr
            );
        }
        run
    }

    /// Nothing but the inputs: no composed component and no WAC file was left behind.
    #[track_caller]
    pub fn nothing_written(&self, inputs: &[&str]) {
        let mut left: Vec<String> = std::fs::read_dir(self.tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !inputs.contains(&n.as_str()))
            .collect();
        left.sort();
        assert!(left.is_empty(), "files were written: {left:?}");
    }
}

/// A component whose world is `world` of `wit`, from wit-component's dummy core module.
pub fn build(wit: &str, world: &str) -> Vec<u8> {
    build_with(Resolve::new(), wit, world)
}

/// [`build`] with packages already in `resolve` (for worlds that use a package from
/// `wit-packages/`).
pub fn build_with(mut resolve: Resolve, wit: &str, world: &str) -> Vec<u8> {
    let pkg = resolve
        .push_str(format!("{world}.wit"), wit)
        .unwrap_or_else(|e| panic!("{e:#}\n{wit}"));
    let world = resolve.select_world(&[pkg], Some(world)).unwrap();
    let mut module = wit_component::dummy_module(&resolve, world, ManglingAndAbi::Standard32);
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        StringEncoding::UTF8,
        false,
    )
    .unwrap();
    ComponentEncoder::default()
        .module(&module)
        .unwrap()
        .validate(true)
        .encode()
        .unwrap()
}

/// `package test:<world>; world <world> { <body> }` followed by the packages it uses.
pub fn world(name: &str, body: &str, packages: &[&str]) -> String {
    format!(
        "package test:{name};\nworld {name} {{\n{body}\n}}\n{}\n",
        packages.join("\n")
    )
}

/// Our registry, served in-process on a loopback port for the whole test binary run.
pub struct Wreg {
    pub host: String,
    pub data: PathBuf,
    _dir: tempfile::TempDir,
}

pub fn wcomp_registry() -> Wreg {
    wcomp_registry_with(|_| {})
}

/// With `auth.enabled`, the admin's password is `admin-pw`.
pub fn wcomp_registry_with(tweak: impl FnOnce(&mut wcomp_registry::config::Config)) -> Wreg {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    let mut cfg = wcomp_registry::config::Config {
        data_dir: data.clone(),
        ..Default::default()
    };
    cfg.auth.enabled = false;
    tweak(&mut cfg);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let auth = cfg.auth.enabled;
            let state = wcomp_registry::app::App::open(cfg).unwrap();
            if auth {
                state.ensure_admin(Some("admin-pw".into())).await.unwrap();
            }
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap()).unwrap();
            let _ = wcomp_registry::server::serve(state, l).await;
        });
    });
    let addr = rx.recv().unwrap();
    Wreg {
        host: addr.to_string(),
        data,
        _dir: dir,
    }
}

/// Writes `sqlapp.wasm` into `d`: a dummy component (its functions trap) importing
/// `wcomp:sql/query` from wit-packages/sql and exporting `example:app/api` of `api_package`.
pub fn sql_app(d: &Dir, api_package: &str) {
    let mut resolve = Resolve::new();
    resolve
        .push_path(concat!(env!("CARGO_MANIFEST_DIR"), "/../wit-packages/sql"))
        .unwrap();
    let wit = world(
        "sqlapp",
        "import wcomp:sql/query@0.1.0; export example:app/api@0.1.0;",
        &[api_package],
    );
    d.write("sqlapp.wasm", build_with(resolve, &wit, "sqlapp"));
}
