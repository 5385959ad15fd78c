//! The web interface, in-process (no browser): routes and redirects, the headers every page
//! carries, visibility (404 where the visitor may not pull), sign-in and its cookie, CSRF
//! refusals, bounds on what a client sends, and escaping of pushed strings. The browser
//! suite (tests/ui_browser.rs) checks what a real browser does with the pages.

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::json;
use wcomp_registry::oci::Digest;

/// The page's text with minijinja's `&#x2f;` read back as `/`, as a browser reads it.
trait Html {
    fn html(&self) -> String;
}

impl Html for Resp {
    fn html(&self) -> String {
        self.text().replace("&#x2f;", "/")
    }
}

const ADMIN_PW: &str = "admin-password-1";

async fn registry(tweak: impl FnOnce(&mut wcomp_registry::config::Config)) -> Registry {
    let reg = Registry::with(|c| {
        c.auth.enabled = true;
        tweak(c);
    });
    reg.state.ensure_admin(Some(ADMIN_PW.into())).await.unwrap();
    reg
}

/// Pushes `layer` as a one-layer artifact (`config_type` config) with `annotations`, tagged.
async fn push(
    reg: &Registry,
    repo: &str,
    tag: &str,
    config_type: &str,
    layer_type: &str,
    layer: &[u8],
    annotations: serde_json::Value,
) -> Digest {
    let blob = |data: Vec<u8>| async move {
        let d = Digest::of(wcomp_registry::oci::Algorithm::Sha256, &data);
        let r = reg
            .post(&format!("/v2/{repo}/blobs/uploads/?digest={d}"))
            .basic("admin", ADMIN_PW)
            .body(data)
            .send()
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.html());
        d
    };
    let cfg = blob(b"{}".to_vec()).await;
    let l = blob(layer.to_vec()).await;
    let m = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": { "mediaType": config_type, "digest": cfg.as_str(), "size": 2 },
        "layers": [{ "mediaType": layer_type, "digest": l.as_str(), "size": layer.len() }],
        "annotations": annotations,
    }))
    .unwrap();
    let r = reg
        .put(&format!("/v2/{repo}/manifests/{tag}"))
        .basic("admin", ADMIN_PW)
        .header("content-type", OCI_MANIFEST)
        .body(m)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.html());
    Digest::parse(r.header("docker-content-digest")).unwrap()
}

async fn push_plain(reg: &Registry, repo: &str, tag: &str) -> Digest {
    push(
        reg,
        repo,
        tag,
        "application/vnd.oci.image.config.v1+json",
        "application/vnd.oci.image.layer.v1.tar",
        repo.as_bytes(),
        json!({}),
    )
    .await
}

const GREETER_WIT: &str = "package acme:greeter@1.0.0;
interface api { greet: func(name: string) -> string; }
world greeter { import wasi:cli/environment@0.2.0; export api; }
package wasi:cli@0.2.0 { interface environment { get-arguments: func() -> list<string>; } }";

async fn push_component(reg: &Registry, repo: &str, tag: &str, extra: &[u8]) -> Digest {
    let mut bytes = common::wasm::component(GREETER_WIT, "greeter");
    bytes.extend_from_slice(extra);
    push(
        reg,
        repo,
        tag,
        "application/vnd.wasm.config.v0+json",
        "application/wasm",
        &bytes,
        json!({}),
    )
    .await
}

/// The session cookie's `name=value` from a `Set-Cookie`, and the CSRF token of the page.
fn session_of(r: &Resp) -> String {
    r.header("set-cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    html[at..at + html[at..].find('"').unwrap()].to_string()
}

/// Signs in through the form and returns the session cookie.
async fn sign_in(reg: &Registry, user: &str, password: &str) -> String {
    let form = reg.get("/ui/login").send().await;
    let pre = session_of(&form);
    let csrf = csrf_of(&form.html());
    let r = reg
        .post("/ui/login")
        .header("cookie", &pre)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}&user={user}&password={password}"))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.html());
    session_of(&r)
}

#[tokio::test]
async fn browsers_are_sent_to_the_interface_and_the_api_is_unchanged() {
    let reg = registry(|_| {}).await;
    let r = reg.get("/").header("accept", "text/html,*/*").send().await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.header("location"), "/ui/");
    reg.get("/").send().await.assert_error(404, "NAME_UNKNOWN");
    reg.get("/v2/")
        .header("accept", "text/html")
        .send()
        .await
        .assert_error(401, "UNAUTHORIZED");
    let r = reg.get("/ui").send().await;
    assert_eq!(r.header("location"), "/ui/");
    let off = Registry::with(|c| c.ui.enabled = false);
    assert_eq!(off.get("/ui/").send().await.status, StatusCode::NOT_FOUND);
    off.get("/")
        .header("accept", "text/html")
        .send()
        .await
        .assert_error(404, "NAME_UNKNOWN");
}

#[tokio::test]
async fn pages_carry_a_strict_csp_and_assets_are_served() {
    let reg = registry(|_| {}).await;
    for path in [
        "/ui/",
        "/ui/login",
        "/ui/search?q=x",
        "/ui/repo/nope",
        "/ui/elsewhere",
    ] {
        let r = reg.get(path).send().await;
        let csp = r.header("content-security-policy");
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe"),
            "{path}: {csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{path}");
        assert_eq!(r.header("x-content-type-options"), "nosniff");
        assert_eq!(r.header("cache-control"), "no-store");
        if r.status == StatusCode::OK {
            assert!(
                r.html().contains("<script src=\"/ui/assets/ui.js\""),
                "{path}"
            );
            assert!(!r.html().contains("<script>"), "{path}: no inline script");
        }
    }
    let css = reg.get("/ui/assets/ui.css").send().await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.header("content-type").starts_with("text/css"));
    assert!(css.html().contains("prefers-color-scheme: dark"));
    let js = reg.get("/ui/assets/ui.js").send().await;
    assert!(js.header("content-type").starts_with("text/javascript"));
}

#[tokio::test]
async fn visitors_see_exactly_what_they_may_pull_and_404_elsewhere() {
    let reg = registry(|c| c.auth.anonymous_pull = vec!["public/**".into()]).await;
    push_plain(&reg, "public/app", "v1").await;
    let secret = push_plain(&reg, "private/secret", "v1").await;
    let home = reg.get("/ui/").send().await.html();
    assert!(home.contains("public/app"), "{home}");
    assert!(!home.contains("private/secret"), "{home}");
    let missing = reg.get("/ui/repo/private/nothing").send().await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    for path in [
        "/ui/repo/private/secret".to_string(),
        "/ui/repo/private/secret/v1".to_string(),
        format!("/ui/repo/private/secret/{secret}"),
    ] {
        let r = reg.get(&path).send().await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            r.html(),
            missing.html(),
            "{path}: same page as a missing repository"
        );
    }
    let found = reg.get("/ui/search?q=secret").send().await.html();
    assert!(!found.contains("private/secret"), "{found}");
    assert_eq!(
        reg.get("/ui/repo/public/app").send().await.status,
        StatusCode::OK
    );

    // Signed in, the private repository appears.
    let cookie = sign_in(&reg, "admin", ADMIN_PW).await;
    let home = reg
        .get("/ui/")
        .header("cookie", &cookie)
        .send()
        .await
        .html();
    assert!(
        home.contains("private/secret") && home.contains("Signed in as"),
        "{home}"
    );
    let page = reg
        .get("/ui/repo/private/secret")
        .header("cookie", &cookie)
        .send()
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html().contains(secret.as_str().split_at(19).0));
    let art = reg
        .get("/ui/repo/private/secret/v1")
        .header("cookie", &cookie)
        .send()
        .await;
    assert_eq!(art.status, StatusCode::OK, "{}", art.html());
    assert!(
        art.html()
            .contains("oras pull --plain-http registry.test/private/secret:v1")
    );
    assert!(
        reg.get("/ui/search?q=secret")
            .header("cookie", &cookie)
            .send()
            .await
            .html()
            .contains("private/secret")
    );
    // A forged cookie is anonymous.
    let forged = format!("{}0", &cookie[..cookie.len() - 1]);
    let r = reg
        .get("/ui/repo/private/secret")
        .header("cookie", &forged)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn without_anonymous_pull_an_anonymous_visitor_sees_nothing() {
    let reg = registry(|_| {}).await;
    push_plain(&reg, "team/app", "v1").await;
    let home = reg.get("/ui/").send().await.html();
    assert!(!home.contains("team/app"));
    assert_eq!(
        reg.get("/ui/repo/team/app").send().await.status,
        StatusCode::NOT_FOUND
    );
    assert!(
        !reg.get("/ui/search?q=team")
            .send()
            .await
            .html()
            .contains("team/app")
    );
}

#[tokio::test]
async fn the_session_cookie_is_httponly_strict_and_secure_under_https() {
    let reg = registry(|_| {}).await;
    let r = reg.get("/ui/login").send().await;
    let c = r.header("set-cookie");
    assert!(c.starts_with("wcr_session="), "{c}");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
        assert!(c.contains(flag), "{c}");
    }
    assert!(!c.contains("Secure"), "plain HTTP: {c}");
    let tls = registry(|c| c.public_url = Some("https://registry.example".into())).await;
    let c = tls
        .get("/ui/login")
        .send()
        .await
        .header("set-cookie")
        .to_string();
    assert!(c.contains("; Secure"), "{c}");
    // Sign-in issues a new session (not the pre-login one), and sign-out clears it.
    let pre = session_of(&reg.get("/ui/login").send().await);
    let after = sign_in(&reg, "admin", ADMIN_PW).await;
    assert_ne!(pre, after);
    let home = reg.get("/ui/").header("cookie", &after).send().await.html();
    let out = reg
        .post("/ui/logout")
        .header("cookie", &after)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={}", csrf_of(&home)))
        .send()
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(out.header("set-cookie").contains("Max-Age=0"));
}

#[tokio::test]
async fn forms_without_a_valid_csrf_token_are_refused() {
    let reg = registry(|_| {}).await;
    let form = reg.get("/ui/login").send().await;
    let cookie = session_of(&form);
    let csrf = csrf_of(&form.html());
    let post = |body: String, cookie: String| {
        let reg = &reg;
        async move {
            reg.post("/ui/login")
                .header("cookie", &cookie)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
        }
    };
    let pw = format!("user=admin&password={ADMIN_PW}");
    assert_eq!(
        post(pw.clone(), cookie.clone()).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(format!("{pw}&csrf=00{}", &csrf[2..]), cookie.clone())
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(format!("{pw}&csrf={csrf}"), String::new())
            .await
            .status,
        StatusCode::FORBIDDEN,
        "a token without its session"
    );
    let other = session_of(&reg.get("/ui/login").send().await);
    assert_eq!(
        post(format!("{pw}&csrf={csrf}"), other).await.status,
        StatusCode::FORBIDDEN,
        "a token of another session"
    );
    let cross = reg
        .post("/ui/login")
        .header("cookie", &cookie)
        .header("sec-fetch-site", "cross-site")
        .body(format!("{pw}&csrf={csrf}"))
        .send()
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    let session = sign_in(&reg, "admin", ADMIN_PW).await;
    let out = reg
        .post("/ui/logout")
        .header("cookie", &session)
        .body("csrf=")
        .send()
        .await;
    assert_eq!(out.status, StatusCode::FORBIDDEN);
    assert_eq!(
        post(format!("{pw}&csrf={csrf}"), cookie).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn api_tokens_sign_in_and_failed_logins_are_throttled() {
    let reg = registry(|c| c.limits.login_failures_per_account = 2).await;
    let token = wcomp_registry::auth::random_secret("wcr_");
    reg.state
        .meta
        .put_api_token("admin", &wcomp_registry::auth::sha256_hex(&token), "ui", 0)
        .await
        .unwrap();
    sign_in(&reg, "admin", &token).await;
    let form = reg.get("/ui/login").send().await;
    let (cookie, csrf) = (session_of(&form), csrf_of(&form.html()));
    let mut statuses = Vec::new();
    let mut retry_after = String::new();
    // Two failures are free; the third starts a lockout (1 s, then doubling). A slow
    // password check may outlast the first one, so allow a few more tries to meet it.
    for _ in 0..6 {
        let r = reg
            .post("/ui/login")
            .header("cookie", &cookie)
            .body(format!("csrf={csrf}&user=admin&password=wrong"))
            .send()
            .await;
        statuses.push(r.status.as_u16());
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            retry_after = r.header("retry-after").to_string();
            break;
        }
    }
    assert_eq!(statuses[..3], [401, 401, 401], "{statuses:?}");
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    assert!(!retry_after.is_empty());
}

#[tokio::test]
async fn what_clients_send_is_bounded() {
    let reg = registry(|_| {}).await;
    let long = "a".repeat(300);
    assert_eq!(
        reg.get(&format!("/ui/search?q={long}")).send().await.status,
        StatusCode::BAD_REQUEST
    );
    for page in ["0", "51", "x", "99999999999999999999999", "-1"] {
        let r = reg.get(&format!("/ui/search?q=a&page={page}")).send().await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "page={page}");
    }
    assert_eq!(
        reg.get("/ui/search?q=a&page=2").send().await.status,
        StatusCode::OK
    );
    assert_eq!(
        reg.get("/ui/search?q=acme:x&version=not-a-range")
            .send()
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let form = reg.get("/ui/login").send().await;
    let big = reg
        .post("/ui/login")
        .header("cookie", &session_of(&form))
        .body(vec![b'a'; 8000])
        .send()
        .await;
    assert_eq!(big.status, StatusCode::PAYLOAD_TOO_LARGE);
    let deep = format!("/ui/repo/{}", "a/".repeat(400));
    assert_eq!(reg.get(&deep).send().await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn components_are_searchable_by_interface_and_shown_with_their_world() {
    let reg = registry(|c| c.auth.anonymous_pull = vec!["**".into()]).await;
    let d = push_component(&reg, "acme/greeter", "1.0.0", &[]).await;
    let hits = reg.get("/ui/search?q=acme:greeter/api").send().await.html();
    assert!(
        hits.contains(&format!("/ui/repo/acme/greeter/{d}")),
        "{hits}"
    );
    assert!(hits.contains("exports acme:greeter/api"), "{hits}");
    let imports = reg
        .get("/ui/search?q=wasi:cli/environment@0.2")
        .send()
        .await
        .html();
    assert!(
        imports.contains("imports wasi:cli/environment"),
        "{imports}"
    );
    assert!(
        reg.get("/ui/search?q=wasi:cli/environment@0.3")
            .send()
            .await
            .html()
            .contains("No components match")
    );
    let ranged = reg
        .get("/ui/search?q=acme:greeter&version=%3E%3D2")
        .send()
        .await
        .html();
    assert!(ranged.contains("No components match"), "{ranged}");
    assert!(
        reg.get("/ui/search?q=acme:greeter&version=%5E1")
            .send()
            .await
            .html()
            .contains("acme/greeter")
    );
    let by_name = reg.get("/ui/search?q=greet").send().await.html();
    assert!(
        by_name.contains("href=\"/ui/repo/acme/greeter\""),
        "{by_name}"
    );

    let repo = reg.get("/ui/repo/acme/greeter").send().await.html();
    assert!(
        repo.contains("component") && repo.contains("unsigned"),
        "{repo}"
    );
    let page = reg.get("/ui/repo/acme/greeter/1.0.0").send().await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.html();
    assert!(
        html.contains("<span class=\"k\">interface</span>"),
        "{html}"
    );
    assert!(
        html.contains("href=\"/ui/search?q=acme%3Agreeter%2Fapi\""),
        "{html}"
    );
    assert!(
        html.contains("wcomp pull registry.test/acme/greeter:1.0.0"),
        "{html}"
    );
    assert!(
        html.contains("wkg oci pull registry.test/acme/greeter:1.0.0"),
        "{html}"
    );
    assert!(html.contains("Not signed."), "{html}");
}

#[tokio::test]
async fn pushed_strings_are_escaped() {
    let reg = registry(|c| c.auth.anonymous_pull = vec!["**".into()]).await;
    let img = "\"><img src=x onerror=\"window.__pwned=1\">";
    let producers =
        common::wasm::producers(&[("language", "<script>window.__pwned=1</script>", img)]);
    let record = json!({"version": 1, "tool": "<b>wcomp</b>", "parts": [
        {"name": img, "source": "javascript:window.__pwned=1", "digest": format!("sha256:{}", "0".repeat(64))}
    ]});
    let mut extra = common::wasm::with_custom_section(Vec::new(), "producers", &producers);
    extra = common::wasm::with_custom_section(
        extra,
        "wcomp-composition",
        &serde_json::to_vec(&record).unwrap(),
    );
    push_component(&reg, "x/comp", "v1", &extra).await;
    let wit = common::wasm::wit_package(
        "package acme:docs@1.0.0;\n/// Says hello. <script>window.__pwned = 1</script>\ninterface api { greet: func(); }",
    );
    push(
        &reg,
        "x/wit",
        "1.0.0",
        "application/vnd.wasm.config.v0+json",
        "application/wasm",
        &wit,
        json!({}),
    )
    .await;
    push(
        &reg,
        "x/annotated",
        "v1",
        "application/vnd.oci.image.config.v1+json",
        "application/vnd.oci.image.layer.v1.tar",
        b"data",
        json!({ "org.opencontainers.image.description": "<script>window.__pwned=1</script>", img: "javascript:alert(1)" }),
    )
    .await;
    for path in [
        "/ui/repo/x/comp/v1",
        "/ui/repo/x/wit/1.0.0",
        "/ui/repo/x/annotated/v1",
        "/ui/search?q=%3Cscript%3Ealert(1)%3C/script%3E",
    ] {
        let html = reg.get(path).send().await.html();
        assert!(!html.contains("<script>window"), "{path}: {html}");
        assert!(!html.contains("<script>alert"), "{path}");
        assert!(!html.contains("<img src=x"), "{path}: {html}");
        assert!(!html.contains("href=\"javascript:"), "{path}");
    }
    let comp = reg.get("/ui/repo/x/comp/v1").send().await.html();
    assert!(
        comp.contains("&lt;script&gt;window.__pwned=1&lt;/script&gt;"),
        "producers and WIT docs: {comp}"
    );
    assert!(
        comp.contains("&quot;&gt;&lt;img src=x"),
        "part name: {comp}"
    );
    let wit = reg.get("/ui/repo/x/wit/1.0.0").send().await.html();
    assert!(wit.contains("WIT package"), "{wit}");
    assert!(
        wit.contains("/// Says hello. &lt;script&gt;window.__pwned = 1&lt;/script&gt;"),
        "WIT doc comment: {wit}"
    );
    let ann = reg.get("/ui/repo/x/annotated/v1").send().await.html();
    assert!(
        ann.contains("&lt;script&gt;window.__pwned=1&lt;/script&gt;"),
        "{ann}"
    );
}
