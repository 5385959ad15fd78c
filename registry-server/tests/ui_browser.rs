//! The web interface in a real browser: Debian's `chromium`, driven over WebDriver
//! (`chromium-driver`) with a few JSON requests (no WebDriver crate: the protocol is small).
//! The registry is the real binary on a loopback port, filled by the real clients: `wcomp
//! publish` (a signed composition with provenance, a WIT package, an unsigned component, a
//! private component) and `oras push` (a non-Wasm artifact). Then, as a visitor would:
//! search by interface, open the composition (exported interface, key id, "verified", a
//! link to each part), see that an anonymous visitor sees no private repository and that
//! signing in shows it, that a form without its CSRF token is refused, that pushed markup
//! runs nowhere, and that axe-core finds no serious or critical accessibility violation.
//!
//! `registry-server/scripts/install-test-deps.sh` installs chromium, chromium-driver,
//! oras and axe-core. Without them the test skips, except under `CI` (or with
//! `WCOMP_REQUIRE_INTEROP`), where it fails. `WCOMP_UI_SCREENSHOTS=<dir>` saves screenshots
//! of the main pages there (docs/ui/ holds the ones docs/registry.md shows).

mod common;

use base64::Engine as _;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const ADMIN_PW: &str = "browser-admin-pw";
const KEY_PW: &str = "key-passphrase";
const PAYLOAD_SCRIPT: &str = "<script>window.__pwned=1</script>";
const PAYLOAD_IMG: &str = "\"><img src=x onerror=\"window.__pwned=1\">";
const PAYLOAD_URL: &str = "javascript:window.__pwned=1";

fn required() -> bool {
    std::env::var_os("CI").is_some() || std::env::var_os("WCOMP_REQUIRE_INTEROP").is_some()
}

/// A tool the test needs, or `None` (a skip) when it is missing outside CI.
fn need(name: &str, found: Option<PathBuf>) -> Option<PathBuf> {
    if found.is_none() {
        assert!(
            !required(),
            "{name} is required under CI but not installed (registry-server/scripts/install-test-deps.sh)"
        );
        eprintln!("skipping: {name} not installed (registry-server/scripts/install-test-deps.sh)");
    }
    found
}

fn axe_js() -> Option<PathBuf> {
    let tools = std::env::var_os("WCOMP_TOOLS_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_DATA_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
                .map(|d| d.join("wcomp/tools"))
        })?;
    let env = std::env::var_os("WCOMP_AXE_JS").map(PathBuf::from);
    env.into_iter()
        .chain(
            fs_err::read_dir(&tools)
                .ok()?
                .flatten()
                .map(|e| e.path().join("node_modules/axe-core/axe.min.js")),
        )
        .find(|p| p.is_file())
}

/// The workspace's `wcomp` binary, next to the test's own target directory.
fn wcomp_bin() -> Option<PathBuf> {
    let registry = PathBuf::from(env!("CARGO_BIN_EXE_wcomp-registry"));
    let p = registry.with_file_name("wcomp");
    p.is_file().then_some(p)
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(url: &str) {
    for _ in 0..200 {
        if let Ok(out) = Command::new("curl")
            .args(["-s", "-o", "/dev/null", url])
            .status()
            && out.success()
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{url} did not answer");
}

/// The `wcomp` CLI with its config, keys and credentials inside `home`.
struct Cli {
    bin: PathBuf,
    home: PathBuf,
    host: String,
}

impl Cli {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new(&self.bin)
            .args(args)
            .current_dir(&self.home)
            .env("HOME", &self.home)
            .env("WCOMP_CONFIG_DIR", self.home.join("config"))
            .env("XDG_CACHE_HOME", self.home.join("cache"))
            .env("WCOMP_KEY_PASSWORD", KEY_PW)
            .env("WCOMP_REGISTRY_USER", "admin")
            .env("WCOMP_REGISTRY_PASSWORD", ADMIN_PW)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "wcomp {args:?}: {}\n{text}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    }

    fn write(&self, name: &str, bytes: &[u8]) -> String {
        let p = self.home.join(name);
        fs_err::write(&p, bytes).unwrap();
        p.to_string_lossy().into_owned()
    }

    fn publish(&self, file: &str, repo: &str, extra: &[&str]) {
        let reference = format!("{}/{repo}", self.host);
        let mut args = vec!["publish", file, &reference];
        args.extend_from_slice(extra);
        self.run(&args);
    }
}

const X: &str = "package example:x@0.1.0 { interface x { f: func(a: u32) -> u32; } }";
const API: &str = "package example:app@0.1.0 { interface api { run: func() -> u32; } }";

fn world(name: &str, body: &str, deps: &[&str]) -> String {
    format!(
        "package local:{name}@0.1.0;\nworld {name} {{ {body} }}\n{}",
        deps.join("\n")
    )
}

/// Fills the registry: see the module docs.
fn publish_everything(cli: &Cli, oras: &Path) -> String {
    let key = cli.run(&["key", "generate", "--json"]);
    let key_id = serde_json::from_str::<Value>(&key).unwrap()["key_id"]
        .as_str()
        .unwrap()
        .to_string();
    let app = cli.write(
        "app.wasm",
        &common::wasm::component(
            &world(
                "app",
                "import example:x/x@0.1.0; export example:app/api@0.1.0;",
                &[X, API],
            ),
            "app",
        ),
    );
    let lib = cli.write(
        "lib.wasm",
        &common::wasm::component(&world("lib", "export example:x/x@0.1.0;", &[X]), "lib"),
    );
    cli.publish(&app, "public/app:1.0.0", &[]);
    cli.publish(&lib, "public/lib:1.0.0", &[]);
    let out = cli.home.join("pipeline.wasm");
    cli.run(&["compose", &app, "--plug", &lib, "-o", out.to_str().unwrap()]);
    let description = format!("org.opencontainers.image.description={PAYLOAD_SCRIPT}");
    let link = format!("org.opencontainers.image.url={PAYLOAD_URL}");
    let img = format!("dev.example.note={PAYLOAD_IMG}");
    cli.publish(
        out.to_str().unwrap(),
        "public/pipeline:1.0.0",
        &[
            "--annotation",
            &description,
            "--annotation",
            &link,
            "--annotation",
            &img,
        ],
    );
    // Markup in a WIT doc comment, and in producers and provenance fields.
    let wit = cli.write(
        "api.wit",
        format!("package example:docs@0.2.0;\n/// {PAYLOAD_SCRIPT} {PAYLOAD_IMG}\ninterface api {{ hello: func(); }}\n").as_bytes(),
    );
    cli.publish(&wit, "public/docs:0.2.0", &[]);
    let producers = common::wasm::producers(&[("language", PAYLOAD_SCRIPT, PAYLOAD_IMG)]);
    let mut xss = common::wasm::component(&world("lib", "export example:x/x@0.1.0;", &[X]), "lib");
    xss = common::wasm::with_custom_section(xss, "producers", &producers);
    let record = json!({"version": 1, "tool": PAYLOAD_SCRIPT, "parts": [
        {"name": PAYLOAD_IMG, "source": PAYLOAD_URL, "digest": format!("sha256:{}", "0".repeat(64))}
    ]});
    xss = common::wasm::with_custom_section(
        xss,
        "wcomp-composition",
        &serde_json::to_vec(&record).unwrap(),
    );
    let xss = cli.write("xss.wasm", &xss);
    cli.publish(&xss, "public/markup:1.0.0", &[]);
    cli.publish(&lib, "public/unsigned:1.0.0", &["--no-sign"]);
    cli.publish(&lib, "private/secret:1.0.0", &[]);
    let notes = cli.write("notes.txt", b"not wasm");
    let st = Command::new(oras)
        .current_dir(&cli.home)
        .env("HOME", &cli.home)
        .args([
            "push",
            "--plain-http",
            "-u",
            "admin",
            "-p",
            ADMIN_PW,
            &format!("{}/public/notes:v1", cli.host),
            &format!(
                "{}:text/plain",
                Path::new(&notes).file_name().unwrap().to_str().unwrap()
            ),
        ])
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "oras push: {}",
        String::from_utf8_lossy(&st.stderr)
    );
    key_id
}

/// A WebDriver session on chromedriver.
struct Browser {
    http: reqwest::Client,
    session: String,
    _driver: Proc,
}

impl Browser {
    async fn start(driver: &Path, chromium: &Path) -> Browser {
        let port = common::free_port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let proc = Proc(child);
        wait_for(&format!("http://127.0.0.1:{port}/status"));
        let http = reqwest::Client::new();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,900", "--force-color-profile=srgb", "--hide-scrollbars"]
            }
        }}});
        let r = http
            .post(format!("http://127.0.0.1:{port}/session"))
            .body(caps.to_string())
            .send()
            .await
            .unwrap();
        let v: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
        let id = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("{v}"));
        Browser {
            http,
            session: format!("http://127.0.0.1:{port}/session/{id}"),
            _driver: proc,
        }
    }

    /// One WebDriver command; the `value` of its answer (an error answer is returned as is).
    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.session));
        if let Some(b) = body {
            req = req.body(b.to_string());
        }
        let bytes = req.send().await.unwrap().bytes().await.unwrap();
        serde_json::from_slice::<Value>(&bytes).unwrap()["value"].clone()
    }

    async fn goto(&self, url: &str) {
        let v = self
            .cmd(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
        assert!(v.is_null(), "{url}: {v}");
    }

    async fn js(&self, script: &str) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    async fn text(&self) -> String {
        self.js("return document.body.innerText")
            .await
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// Nothing pushed ran: no alert, no `window.__pwned`, no element with an inline handler
    /// or a `javascript:` link (so the markup was escaped, not merely blocked by the CSP).
    async fn assert_nothing_ran(&self, page: &str) {
        let alert = self.cmd(reqwest::Method::GET, "/alert/text", None).await;
        assert_eq!(
            alert["error"], "no such alert",
            "{page}: an alert is open: {alert}"
        );
        let v = self
            .js("return [typeof window.__pwned, document.querySelectorAll('[onerror], img, script:not([src])').length, \
                 document.querySelectorAll('a[href^=\"javascript:\"]').length]")
            .await;
        assert_eq!(v, json!(["undefined", 0, 0]), "{page}");
    }

    async fn axe(&self, axe: &str, page: &str) {
        let script = format!(
            "{axe}\nconst done = arguments[arguments.length - 1];\n\
             axe.run(document, {{resultTypes: ['violations']}}).then(r => done(r.violations\
               .filter(v => v.impact === 'serious' || v.impact === 'critical')\
               .map(v => v.id + ' (' + v.impact + '): ' + v.nodes.map(n => n.target.join(' ')).join(', '))));"
        );
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/execute/async",
                Some(json!({"script": script, "args": []})),
            )
            .await;
        assert_eq!(v, json!([]), "{page}: axe-core violations");
    }

    /// A screenshot of the whole page (the window is made as tall as the page, at most
    /// 4000 pixels, then restored).
    async fn screenshot(&self, dir: Option<&Path>, name: &str) {
        let Some(dir) = dir else { return };
        let size = self
            .js("return [window.outerWidth, window.outerHeight, document.documentElement.scrollHeight]")
            .await;
        let n = |i: usize| u32::try_from(size[i].as_u64().unwrap_or(900)).unwrap_or(900);
        self.window(n(0), n(2).clamp(600, 4000)).await;
        let v = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        self.window(n(0), n(1)).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap();
        fs_err::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    async fn window(&self, width: u32, height: u32) {
        self.cmd(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .await;
    }

    async fn dark(&self, on: bool) {
        let value = if on { "dark" } else { "light" };
        self.cmd(
            reqwest::Method::POST,
            "/goog/cdp/execute",
            Some(json!({"cmd": "Emulation.setEmulatedMedia",
                        "params": {"features": [{"name": "prefers-color-scheme", "value": value}]}})),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_visitor_browses_searches_signs_in_and_nothing_pushed_runs() {
    let Some(driver) = need("chromedriver", common::find_tool("chromedriver")) else {
        return;
    };
    let Some(chromium) = need("chromium", common::find_tool("chromium")) else {
        return;
    };
    let Some(oras) = need("oras", common::find_tool("oras")) else {
        return;
    };
    let Some(axe) = need("axe-core", axe_js()) else {
        return;
    };
    let Some(wcomp) = need("wcomp (cargo build -p wcomp)", wcomp_bin()) else {
        return;
    };
    let axe = fs_err::read_to_string(axe).unwrap();
    let shots = std::env::var_os("WCOMP_UI_SCREENSHOTS").map(PathBuf::from);
    if let Some(d) = &shots {
        fs_err::create_dir_all(d).unwrap();
    }

    let home = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let host = format!("127.0.0.1:{port}");
    let cli = Cli {
        bin: wcomp,
        home: home.path().to_path_buf(),
        host: host.clone(),
    };
    // The key is generated before the server starts, so its public half can be trusted.
    let pubkey = home.path().join("signing.pub");
    let config = data.path().join("config.toml");
    let base = format!("http://{host}");
    let registry_cmd = |config: &Path| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_wcomp-registry"));
        c.args(["--config"])
            .arg(config)
            .args(["serve", "--listen", &host, "--data-dir"])
            .arg(data.path().join("data"))
            .env("WCOMP_REGISTRY_ADMIN_PASSWORD", ADMIN_PW)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };
    fs_err::write(&config, "[auth]\nanonymous_pull = [\"public/**\"]\n").unwrap();
    let server = Proc(registry_cmd(&config).spawn().unwrap());
    wait_for(&format!("{base}/healthz"));
    let key_id = publish_everything(&cli, &oras);
    fs_err::write(&pubkey, cli.run(&["key", "export"])).unwrap();
    // Restart with the key trusted (`[ui] trusted_keys` is read at startup).
    drop(server);
    fs_err::write(
        &config,
        format!(
            "[auth]\nanonymous_pull = [\"public/**\"]\n[ui]\ntrusted_keys = [{:?}]\n",
            pubkey
        ),
    )
    .unwrap();
    let _server = Proc(registry_cmd(&config).spawn().unwrap());
    wait_for(&format!("{base}/healthz"));

    let b = Browser::start(&driver, &chromium).await;
    b.dark(false).await;

    // Home, anonymous: public repositories only.
    b.goto(&format!("{base}/")).await;
    let url = b.js("return location.pathname").await;
    assert_eq!(url, "/ui/", "a browser asking for / lands on the interface");
    let home_text = b.text().await;
    assert!(home_text.contains("public/pipeline"), "{home_text}");
    assert!(!home_text.contains("private/secret"), "{home_text}");
    b.assert_nothing_ran("home").await;
    b.axe(&axe, "home").await;
    b.goto(&format!("{base}/ui/repo/private/secret")).await;
    assert!(b.text().await.contains("Not found"));

    // Search by interface.
    b.goto(&format!("{base}/ui/search?q=example:app/api")).await;
    let found = b.text().await;
    assert!(
        found.contains("public/pipeline") && found.contains("exports example:app/api"),
        "{found}"
    );
    b.assert_nothing_ran("search").await;
    b.axe(&axe, "search").await;
    b.screenshot(shots.as_deref(), "search").await;

    // The composition: exported interface, key id, verified, a link to each part.
    b.goto(&format!("{base}/ui/repo/public/pipeline/1.0.0"))
        .await;
    let page = b.text().await;
    assert!(page.contains("example:app/api@0.1.0"), "{page}");
    assert!(page.contains(&key_id), "key id {key_id}: {page}");
    assert!(
        page.contains("verified") && page.contains("trusted key"),
        "{page}"
    );
    assert!(
        page.contains(PAYLOAD_SCRIPT),
        "the annotation shows as text: {page}"
    );
    let parts = b
        .js("return Array.from(document.querySelectorAll('table.parts a')).map(a => a.getAttribute('href'))")
        .await;
    assert_eq!(
        parts,
        json!(["/ui/repo/public/app", "/ui/repo/public/lib"]),
        "{page}"
    );
    let graph = b
        .js("return document.querySelectorAll('svg.graph a').length")
        .await;
    assert_eq!(graph, json!(2), "both parts linked in the graph");
    b.assert_nothing_ran("composition").await;
    b.axe(&axe, "composition").await;
    b.screenshot(shots.as_deref(), "artifact").await;
    b.dark(true).await;
    b.screenshot(shots.as_deref(), "artifact-dark").await;
    b.dark(false).await;
    b.window(390, 844).await;
    b.screenshot(shots.as_deref(), "artifact-phone").await;
    let overflow = b
        .js("return document.documentElement.scrollWidth <= window.innerWidth + 1")
        .await;
    assert_eq!(
        overflow,
        json!(true),
        "no sideways scrolling at phone width"
    );
    b.window(1280, 900).await;

    // Every other kind of artifact, and markup in each pushed field.
    for (path, expect) in [
        ("public/docs/0.2.0", "WIT package"),
        ("public/markup/1.0.0", PAYLOAD_SCRIPT),
        ("public/unsigned/1.0.0", "Not signed."),
        ("public/notes/v1", "other artifact"),
        ("public/pipeline", "signed"),
    ] {
        b.goto(&format!("{base}/ui/repo/{path}")).await;
        let t = b.text().await;
        assert!(t.contains(expect), "{path}: {t}");
        b.assert_nothing_ran(path).await;
        b.axe(&axe, path).await;
    }
    b.screenshot(shots.as_deref(), "repository").await;
    b.goto(&format!(
        "{base}/ui/search?q={}",
        PAYLOAD_SCRIPT.replace('<', "%3C").replace('>', "%3E")
    ))
    .await;
    b.assert_nothing_ran("search for markup").await;

    // A form without its CSRF token is refused.
    b.goto(&format!("{base}/ui/login")).await;
    b.axe(&axe, "login").await;
    b.js(&format!(
        "document.querySelector('input[name=csrf]').remove();\
         document.getElementById('user').value = 'admin';\
         document.getElementById('password').value = '{ADMIN_PW}';\
         document.querySelector('form.login').submit();"
    ))
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(b.text().await.contains("did not come from this site"));

    // Signing in shows the private repository.
    b.goto(&format!("{base}/ui/login")).await;
    b.screenshot(shots.as_deref(), "login").await;
    b.js(&format!(
        "document.getElementById('user').value = 'admin';\
         document.getElementById('password').value = '{ADMIN_PW}';\
         document.querySelector('form.login').submit();"
    ))
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let home_text = b.text().await;
    assert!(home_text.contains("Signed in as admin"), "{home_text}");
    assert!(home_text.contains("private/secret"), "{home_text}");
    b.screenshot(shots.as_deref(), "home").await;
    b.goto(&format!("{base}/ui/repo/private/secret/1.0.0"))
        .await;
    assert!(b.text().await.contains("verified"));
    // Sign out: the private repository is gone again.
    b.goto(&format!("{base}/ui/")).await;
    b.js("document.querySelector('nav.who form').submit()")
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!b.text().await.contains("private/secret"));
    b.cmd(reqwest::Method::DELETE, "", None).await;
}
