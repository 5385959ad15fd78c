//! Authentication, authorisation and the attack classes a registry faces.

mod common;

use axum::http::StatusCode;
use common::*;
use wcomp_registry::auth::hash_password;
use wcomp_registry::metadata::User;
use wcomp_registry::oci::{Algorithm, Digest};

/// A registry with auth on, `public/**` anonymously pullable, and users:
/// admin (admin), alice (pull,push,delete on `team/*`), ci (pull,create on `releases/*`),
/// bob (no grants).
async fn secured() -> Registry {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), true);
    c.auth.anonymous_pull = vec!["public/**".into()];
    let reg = Registry::from_config(dir, c, None);
    let m = &reg.state.meta;
    for (name, admin) in [
        ("admin", true),
        ("alice", false),
        ("ci", false),
        ("bob", false),
    ] {
        let hash = hash_password(&format!("{name}-pw")).unwrap();
        m.put_user(&User {
            name: name.into(),
            password_hash: hash,
            admin,
        })
        .await
        .unwrap();
    }
    m.add_grant(
        "user:alice",
        "team/*",
        &["pull".into(), "push".into(), "delete".into()],
    )
    .await
    .unwrap();
    m.add_grant("user:ci", "releases/*", &["pull".into(), "create".into()])
        .await
        .unwrap();
    reg
}

async fn token(reg: &Registry, user: Option<&str>, scope: &str) -> String {
    let mut req = reg.get(&format!("/token?service=wcomp-registry&scope={scope}"));
    if let Some(u) = user {
        req = req.basic(u, &format!("{u}-pw"));
    }
    let r = req.send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let j = r.json();
    assert!(j["expires_in"].as_i64().unwrap() > 0);
    j["token"].as_str().unwrap().to_string()
}

#[derive(Clone, Copy)]
enum Who<'a> {
    Anon,
    /// A user from `secured()`, with its password.
    User(&'a str),
    Pw(&'a str, &'a str),
    Bearer(&'a str),
}

fn as_who<'r>(r: Req<'r>, who: Who<'_>) -> Req<'r> {
    match who {
        Who::Anon => r,
        Who::User(u) => r.basic(u, &format!("{u}-pw")),
        Who::Pw(u, p) => r.basic(u, p),
        Who::Bearer(t) => r.bearer(t),
    }
}

async fn upload(reg: &Registry, repo: &str, data: &[u8], who: Who<'_>) -> Resp {
    let d = Digest::of(Algorithm::Sha256, data);
    as_who(
        reg.post(&format!("/v2/{repo}/blobs/uploads/?digest={d}")),
        who,
    )
    .body(data.to_vec())
    .send()
    .await
}

#[tokio::test]
async fn anonymous_base_request_gets_a_bearer_challenge() {
    let reg = secured().await;
    let r = reg.get("/v2/").send().await;
    r.assert_error(401, "UNAUTHORIZED");
    assert_eq!(
        r.header("www-authenticate"),
        "Bearer realm=\"http://registry.test/token\",service=\"wcomp-registry\""
    );
    assert_eq!(
        reg.get("/v2/")
            .basic("alice", "alice-pw")
            .send()
            .await
            .status,
        StatusCode::OK
    );
    reg.get("/v2/")
        .basic("alice", "wrong")
        .send()
        .await
        .assert_error(401, "UNAUTHORIZED");
    reg.get("/v2/")
        .basic("nobody", "x")
        .send()
        .await
        .assert_error(401, "UNAUTHORIZED");
    reg.get("/v2/")
        .bearer("not.a.token")
        .send()
        .await
        .assert_error(401, "UNAUTHORIZED");
}

#[tokio::test]
async fn docker_token_flow_push_and_pull() {
    let reg = secured().await;
    // The challenge names the scope the client should ask for.
    let r = upload(&reg, "team/app", b"layer", Who::Anon).await;
    r.assert_error(401, "UNAUTHORIZED");
    assert!(
        r.header("www-authenticate")
            .contains("scope=\"repository:team/app:pull,push\""),
        "{}",
        r.header("www-authenticate")
    );
    let t = token(&reg, Some("alice"), "repository:team/app:pull,push").await;
    assert_eq!(
        upload(&reg, "team/app", b"layer", Who::Bearer(&t))
            .await
            .status,
        StatusCode::CREATED
    );
    let d = Digest::of(Algorithm::Sha256, b"layer");
    assert_eq!(
        reg.get(&format!("/v2/team/app/blobs/{d}"))
            .bearer(&t)
            .send()
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        reg.get("/v2/").bearer(&t).send().await.status,
        StatusCode::OK
    );
    // POST form variant (OAuth2 password grant).
    let r = reg
        .post("/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(b"grant_type=password&username=alice&password=alice-pw&service=wcomp-registry&scope=repository%3Ateam%2Fapp%3Apull".to_vec())
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let t2 = r.json()["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        reg.get(&format!("/v2/team/app/blobs/{d}"))
            .bearer(&t2)
            .send()
            .await
            .status,
        StatusCode::OK
    );
    // ... and that pull-only token cannot push.
    upload(&reg, "team/app", b"more", Who::Bearer(&t2))
        .await
        .assert_error(401, "UNAUTHORIZED");
    // Wrong credentials at /token.
    reg.get("/token?service=wcomp-registry&scope=repository:team/app:pull")
        .basic("alice", "nope")
        .send()
        .await
        .assert_error(401, "UNAUTHORIZED");
}

#[tokio::test]
async fn a_token_for_one_namespace_does_not_open_another() {
    let reg = secured().await;
    upload(&reg, "team/other", b"x", Who::User("alice")).await;
    let t = token(&reg, Some("alice"), "repository:team/app:pull,push").await;
    let d = Digest::of(Algorithm::Sha256, b"x");
    let r = reg
        .get(&format!("/v2/team/other/blobs/{d}"))
        .bearer(&t)
        .send()
        .await;
    r.assert_error(401, "UNAUTHORIZED");
    assert!(
        r.header("www-authenticate")
            .contains("repository:team/other:pull")
    );
    // A scope the user has no grant on is left out of the token entirely.
    let t = token(&reg, Some("alice"), "repository:secret/x:pull,push").await;
    upload(&reg, "secret/x", b"y", Who::Bearer(&t))
        .await
        .assert_error(401, "UNAUTHORIZED");
    // An anonymous token only carries anonymous rights.
    let t = token(&reg, None, "repository:team/app:pull,push").await;
    upload(&reg, "team/app", b"z", Who::Bearer(&t))
        .await
        .assert_error(401, "UNAUTHORIZED");
}

#[tokio::test]
async fn basic_auth_grants_follow_glob_patterns() {
    let reg = secured().await;
    let alice = Who::User("alice");
    assert_eq!(
        upload(&reg, "team/app", b"a", alice).await.status,
        StatusCode::CREATED
    );
    // `team/*` does not reach deeper or sideways.
    upload(&reg, "team/app/sub", b"a", alice)
        .await
        .assert_error(403, "DENIED");
    upload(&reg, "teams/app", b"a", alice)
        .await
        .assert_error(403, "DENIED");
    upload(&reg, "team/app", b"b", Who::User("bob"))
        .await
        .assert_error(403, "DENIED");
    // Admin may do anything.
    assert_eq!(
        upload(&reg, "anything/at/all", b"a", Who::User("admin"))
            .await
            .status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn api_tokens_work_as_basic_passwords() {
    let reg = secured().await;
    let tok = wcomp_registry::auth::random_secret("wcr_");
    reg.state
        .meta
        .put_api_token("alice", &wcomp_registry::auth::sha256_hex(&tok), "ci", 0)
        .await
        .unwrap();
    assert_eq!(
        upload(&reg, "team/app", b"t", Who::Pw("alice", &tok))
            .await
            .status,
        StatusCode::CREATED
    );
    // The token is bound to its user.
    upload(&reg, "team/app", b"t2", Who::Pw("bob", &tok))
        .await
        .assert_error(401, "UNAUTHORIZED");
}

#[tokio::test]
async fn anonymous_pull_is_per_namespace() {
    let reg = secured().await;
    let admin = Who::User("admin");
    upload(&reg, "public/tool", b"pub", admin).await;
    upload(&reg, "private/tool", b"priv", admin).await;
    let pubd = Digest::of(Algorithm::Sha256, b"pub");
    let privd = Digest::of(Algorithm::Sha256, b"priv");
    assert_eq!(
        reg.get(&format!("/v2/public/tool/blobs/{pubd}"))
            .send()
            .await
            .status,
        StatusCode::OK
    );
    let r = reg
        .get(&format!("/v2/private/tool/blobs/{privd}"))
        .send()
        .await;
    r.assert_error(401, "UNAUTHORIZED");
    // Anonymous never pushes, even to a public namespace.
    upload(&reg, "public/tool", b"evil", Who::Anon)
        .await
        .assert_error(401, "UNAUTHORIZED");
    // A grant to `anonymous` is capped at pull too.
    reg.state
        .meta
        .add_grant("anonymous", "open/*", &["pull".into(), "push".into()])
        .await
        .unwrap();
    upload(&reg, "open/x", b"evil", Who::Anon)
        .await
        .assert_error(401, "UNAUTHORIZED");
    // The catalog shows anonymous callers only what they may pull.
    let r = reg.get("/v2/_catalog").send().await;
    assert_eq!(r.json()["repositories"], serde_json::json!(["public/tool"]));
    let r = reg
        .get("/v2/_catalog")
        .basic("alice", "alice-pw")
        .send()
        .await;
    assert_eq!(r.json()["repositories"], serde_json::json!(["public/tool"]));
}

#[tokio::test]
async fn mounting_from_an_unreadable_repository_is_refused() {
    let reg = secured().await;
    let d = Digest::of(Algorithm::Sha256, b"secret layer");
    upload(&reg, "secret/vault", b"secret layer", Who::User("admin")).await;
    for query in [format!("mount={d}&from=secret/vault"), format!("mount={d}")] {
        let r = reg
            .post(&format!("/v2/team/app/blobs/uploads/?{query}"))
            .basic("alice", "alice-pw")
            .send()
            .await;
        assert_eq!(
            r.status,
            StatusCode::ACCEPTED,
            "{query}: mount must fall back to an upload"
        );
        reg.get(&format!("/v2/team/app/blobs/{d}"))
            .basic("alice", "alice-pw")
            .send()
            .await
            .assert_error(404, "BLOB_UNKNOWN");
    }
    // A readable source mounts.
    upload(&reg, "team/src", b"ok layer", Who::User("alice")).await;
    let ok = Digest::of(Algorithm::Sha256, b"ok layer");
    let r = reg
        .post(&format!(
            "/v2/team/app/blobs/uploads/?mount={ok}&from=team/src"
        ))
        .basic("alice", "alice-pw")
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    // A token must name the source repository to mount from it.
    let t = token(&reg, Some("alice"), "repository:team/dst:pull,push").await;
    // A source the token's user cannot read: an upload, no challenge (nothing to gain).
    for query in [format!("mount={d}&from=secret/vault"), format!("mount={d}")] {
        let r = reg
            .post(&format!("/v2/team/dst/blobs/uploads/?{query}"))
            .bearer(&t)
            .send()
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{query}: {}", r.text());
        assert_eq!(r.header("www-authenticate"), "", "{query}");
    }
}

/// A bearer token names only the repositories it was asked for. A mount from a repository
/// the token's user may read, with a token lacking it, is challenged with a scope naming both
/// repositories (distribution's behaviour); following the challenge, the mount succeeds. The
/// conformance suite's blob mount tests with auth depend on this.
#[tokio::test]
async fn a_mount_with_a_token_lacking_the_source_is_challenged_for_it() {
    let reg = secured().await;
    upload(&reg, "team/src", b"ok layer", Who::User("alice")).await;
    let ok = Digest::of(Algorithm::Sha256, b"ok layer");
    let t = token(&reg, Some("alice"), "repository:team/dst:pull,push").await;
    for (query, source) in [
        (format!("mount={ok}&from=team/src"), "team/src"),
        // Without `from`: the readable repository holding the blob.
        (format!("mount={ok}"), "team/src"),
    ] {
        let r = reg
            .post(&format!("/v2/team/dst/blobs/uploads/?{query}"))
            .bearer(&t)
            .send()
            .await;
        r.assert_error(401, "UNAUTHORIZED");
        let challenge = r.header("www-authenticate").to_string();
        let scope = challenge
            .split("scope=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or_else(|| panic!("no scope in {challenge}"));
        assert_eq!(
            scope,
            format!("repository:team/dst:pull,push repository:{source}:pull")
        );
        let both = token(&reg, Some("alice"), &scope.replace(' ', "%20")).await;
        let r = reg
            .post(&format!("/v2/team/dst/blobs/uploads/?{query}"))
            .bearer(&both)
            .send()
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{query}: {}", r.text());
        assert_eq!(r.header("docker-content-digest"), ok.as_str());
        let r = reg
            .get(&format!("/v2/team/dst/blobs/{ok}"))
            .bearer(&both)
            .send()
            .await;
        assert_eq!(r.body, b"ok layer");
        reg.delete(&format!("/v2/team/dst/blobs/{ok}"))
            .basic("alice", "alice-pw")
            .send()
            .await;
    }
}

#[tokio::test]
async fn create_only_rights_cannot_overwrite_a_tag() {
    let reg = secured().await;
    let ci = Who::User("ci");
    let cfg = Digest::of(Algorithm::Sha256, b"{}");
    upload(&reg, "releases/app", b"{}", ci).await;
    let m1 = image_manifest(&cfg, 2, &[], None);
    let mut m2 = m1.clone();
    m2.push(b'\n');
    let put = |body: Vec<u8>, tag: &'static str| {
        reg.put(&format!("/v2/releases/app/manifests/{tag}"))
            .basic("ci", "ci-pw")
            .header("content-type", OCI_MANIFEST)
            .body(body)
    };
    assert_eq!(
        put(m1.clone(), "v1").send().await.status,
        StatusCode::CREATED
    );
    put(m2.clone(), "v1")
        .send()
        .await
        .assert_error(403, "DENIED");
    let r = reg
        .get("/v2/releases/app/manifests/v1")
        .basic("ci", "ci-pw")
        .send()
        .await;
    assert_eq!(r.body, m1, "the tag still points at the first manifest");
    // Same content again is not an overwrite; a new tag is fine.
    assert_eq!(
        put(m1.clone(), "v1").send().await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        put(m2.clone(), "v2").send().await.status,
        StatusCode::CREATED
    );
    // Through the token flow: asking for push yields create, with the same limits.
    let t = token(&reg, Some("ci"), "repository:releases/app:pull,push").await;
    let r = reg
        .put("/v2/releases/app/manifests/v1")
        .bearer(&t)
        .header("content-type", OCI_MANIFEST)
        .body(m2.clone())
        .send()
        .await;
    r.assert_error(403, "DENIED");
    // And create-only cannot delete.
    reg.delete("/v2/releases/app/manifests/v2")
        .basic("ci", "ci-pw")
        .send()
        .await
        .assert_error(403, "DENIED");
}

#[tokio::test]
async fn forged_and_foreign_tokens_are_rejected() {
    let reg = secured().await;
    let t = token(&reg, Some("alice"), "repository:team/app:pull").await;
    let mut parts: Vec<String> = t.split('.').map(str::to_string).collect();
    // Swap in claims that ask for more.
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut claims: serde_json::Value =
        serde_json::from_slice(&b64.decode(&parts[1]).unwrap()).unwrap();
    claims["access"][0]["actions"] = serde_json::json!(["pull", "push", "delete"]);
    claims["access"][0]["name"] = "secret/vault".into();
    parts[1] = b64.encode(serde_json::to_vec(&claims).unwrap());
    let forged = parts.join(".");
    reg.get("/v2/secret/vault/tags/list")
        .bearer(&forged)
        .send()
        .await
        .assert_error(401, "UNAUTHORIZED");
    // `alg: none`.
    let none = format!("{}.{}.", b64.encode(br#"{"alg":"none"}"#), parts[1]);
    reg.get("/v2/secret/vault/tags/list")
        .bearer(&none)
        .send()
        .await
        .assert_error(401, "UNAUTHORIZED");
}

#[tokio::test]
async fn catalog_without_anything_public_challenges_anonymous_callers() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path(), true);
    let reg = Registry::from_config(dir, c, None);
    let r = reg.get("/v2/_catalog").send().await;
    r.assert_error(401, "UNAUTHORIZED");
    assert!(
        r.header("www-authenticate")
            .contains("scope=\"registry:catalog:*\"")
    );
}
