//! Authentication and authorisation.
//!
//! Who is calling ([`Caller`]) is decided once per request from the `Authorization` header:
//! * `Basic user:password` (argon2 hash in metadata) or `Basic user:wcr_...` (an API token,
//!   stored as its SHA-256: it is random and long, so a slow hash buys nothing);
//! * `Bearer <jwt>`: a short-lived HS256 token from `/token` (signed and checked with
//!   `jsonwebtoken`) that lists exactly which repositories and actions it covers (the Docker
//!   token flow);
//! * nothing: anonymous, which may pull where a grant to `anonymous` or the config's
//!   `anonymous_pull` patterns allow.
//!
//! What the caller may do on a repository is an [`Actions`] set. `create` may push blobs and
//! manifests and add new tags; `push` may also move an existing tag. A refusal is `401` with a
//! `WWW-Authenticate: Bearer` challenge (naming the scope) when a token could help, and `403
//! DENIED` when the caller authenticated with a password and simply lacks the grant.

use crate::error::{ApiError, ErrorCode};
use crate::metadata::{Grant, Metadata};
use crate::pattern::glob_match;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Actions {
    pub pull: bool,
    pub create: bool,
    pub push: bool,
    pub delete: bool,
}

impl Actions {
    pub const ALL: Actions = Actions {
        pull: true,
        create: true,
        push: true,
        delete: true,
    };

    pub fn parse(list: &[String]) -> Actions {
        let mut a = Actions::default();
        for s in list {
            match s.trim() {
                "pull" => a.pull = true,
                "create" => a.create = true,
                "push" => {
                    a.push = true;
                    a.create = true
                }
                "delete" => a.delete = true,
                "*" => a = Actions::ALL,
                _ => {}
            }
        }
        a
    }

    pub fn union(self, o: Actions) -> Actions {
        Actions {
            pull: self.pull || o.pull,
            create: self.create || o.create,
            push: self.push || o.push,
            delete: self.delete || o.delete,
        }
    }

    pub fn intersect(self, o: Actions) -> Actions {
        Actions {
            pull: self.pull && o.pull,
            create: self.create && o.create,
            push: self.push && o.push,
            delete: self.delete && o.delete,
        }
    }

    pub fn allows(self, a: Action) -> bool {
        match a {
            Action::Pull => self.pull,
            Action::Create => self.create,
            Action::Push => self.push,
            Action::Delete => self.delete,
        }
    }

    pub fn names(self) -> Vec<String> {
        let mut v = Vec::new();
        for (on, n) in [
            (self.pull, "pull"),
            (self.push, "push"),
            (self.create && !self.push, "create"),
            (self.delete, "delete"),
        ] {
            if on {
                v.push(n.to_string());
            }
        }
        v
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Pull,
    /// Upload blobs and manifests, add tags that do not exist yet.
    Create,
    /// Everything `Create` does, and move existing tags.
    Push,
    Delete,
}

impl Action {
    /// The Docker scope action a client should ask `/token` for.
    fn scope_name(self) -> &'static str {
        match self {
            Action::Pull => "pull",
            Action::Create | Action::Push => "pull,push",
            Action::Delete => "delete",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// `--insecure-no-auth`: everything is allowed.
    Unrestricted,
    Anonymous,
    User {
        name: String,
        admin: bool,
    },
    Token(TokenClaims),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenAccess {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenClaims {
    pub iss: String,
    /// The user, or "" for an anonymous token.
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    pub jti: String,
    pub access: Vec<TokenAccess>,
}

#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub enabled: bool,
    pub service: String,
    pub token_ttl_secs: i64,
    pub anonymous_pull: Vec<String>,
    /// Absolute URL of `/token`; when `None` it is derived from the request's Host.
    pub realm: Option<String>,
    /// `http` or `https`, for a realm derived from the Host header.
    pub scheme: &'static str,
}

type HmacSha256 = Hmac<Sha256>;

/// Verified `(user, sha256(password))` pairs, so argon2 (deliberately slow) runs once per
/// credential per minute rather than once per request of a many-request push.
type CredCache = Mutex<HashMap<(String, String), (i64, bool)>>;

pub struct Auth {
    pub settings: AuthSettings,
    key: Vec<u8>,
    meta: Arc<dyn Metadata>,
    cache: CredCache,
    /// Verified against when the user does not exist, so that an unknown name costs what
    /// a wrong password does (made once, with the same parameters as real hashes).
    dummy_hash: String,
    /// Bounds the argon2 runs at once (each takes ~19 MiB and a core for tens of ms).
    hashing: tokio::sync::Semaphore,
    pub throttle: Throttle,
}

/// Login limits, from `[limits]`.
#[derive(Debug, Clone, Copy)]
pub struct LoginLimits {
    pub concurrent_checks: usize,
    pub failures_per_account: u32,
    pub failures_per_address: u32,
    pub lockout_max_secs: u64,
}

impl LoginLimits {
    pub fn from_config(l: &crate::config::Limits) -> Self {
        Self {
            concurrent_checks: l.max_concurrent_password_checks.max(1),
            failures_per_account: l.login_failures_per_account,
            failures_per_address: l.login_failures_per_address,
            lockout_max_secs: l.login_lockout_max_secs,
        }
    }
}

/// Failed logins, per account name (known or not: treating them alike reveals nothing) and
/// per client address. After `free` failures within the window, each further failure locks
/// the key out for 1, 2, 4... seconds, up to `max_secs`; while locked out, logins are
/// answered `429` without looking at the password. A success clears the account's count.
pub struct Throttle {
    limits: LoginLimits,
    epoch: std::time::Instant,
    state: Mutex<ThrottleState>,
}

#[derive(Default)]
struct ThrottleState {
    accounts: HashMap<String, Failures>,
    addresses: HashMap<std::net::IpAddr, Failures>,
}

/// Times in milliseconds since the throttle's epoch (a monotonic clock).
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: u64,
    locked_until: u64,
}

/// Failures older than this are forgotten.
const FAILURE_WINDOW_MS: u64 = 15 * 60 * 1000;
/// Bounds each map: an attacker spraying names or addresses grows it until pruning, which
/// keeps only keys that are locked out or failed recently.
const MAX_TRACKED: usize = 100_000;

impl Failures {
    /// Whole seconds left of a lockout (rounded up), if one is running.
    fn locked(&self, now: u64) -> Option<u64> {
        let left = self.locked_until.checked_sub(now).filter(|&l| l > 0)?;
        Some(left.div_ceil(1000))
    }

    /// Counts a failure; returns the new lockout in seconds, if one starts.
    fn fail(&mut self, now: u64, free: u32, max_secs: u64) -> Option<u64> {
        if now.saturating_sub(self.last) > FAILURE_WINDOW_MS {
            self.count = 0;
        }
        self.count = self.count.saturating_add(1);
        self.last = now;
        let over = self.count.checked_sub(free).filter(|&o| o > 0)?;
        let secs = 1u64
            .checked_shl(over.saturating_sub(1).min(63))
            .unwrap_or(u64::MAX)
            .min(max_secs.max(1));
        self.locked_until = now.saturating_add(secs.saturating_mul(1000));
        Some(secs)
    }
}

fn prune<K: std::hash::Hash + Eq>(map: &mut HashMap<K, Failures>, now: u64) {
    if map.len() >= MAX_TRACKED {
        map.retain(|_, f| f.locked_until > now || now.saturating_sub(f.last) <= FAILURE_WINDOW_MS);
    }
    if map.len() >= MAX_TRACKED {
        map.retain(|_, f| f.locked_until > now);
    }
}

impl Throttle {
    pub fn new(limits: LoginLimits) -> Self {
        Self {
            limits,
            epoch: std::time::Instant::now(),
            state: Mutex::new(ThrottleState::default()),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ThrottleState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Seconds to wait before `user` may try again from `addr`, if locked out.
    pub fn retry_after(&self, user: &str, addr: Option<std::net::IpAddr>) -> Option<u64> {
        let now = self.now();
        let st = self.lock();
        let a = st.accounts.get(user).and_then(|f| f.locked(now));
        let b = addr
            .and_then(|ip| st.addresses.get(&ip))
            .and_then(|f| f.locked(now));
        a.max(b)
    }

    pub fn failed(&self, user: &str, addr: Option<std::net::IpAddr>) {
        let (l, now) = (self.limits, self.now());
        let mut st = self.lock();
        prune(&mut st.accounts, now);
        let fresh = Failures {
            count: 0,
            last: now,
            locked_until: 0,
        };
        let f = st.accounts.entry(user.to_string()).or_insert(fresh);
        if let Some(secs) = f.fail(now, l.failures_per_account, l.lockout_max_secs) {
            tracing::warn!(
                user,
                ?addr,
                failures = f.count,
                lockout_secs = secs,
                "login locked out for the account"
            );
        }
        if let Some(ip) = addr {
            prune(&mut st.addresses, now);
            let f = st.addresses.entry(ip).or_insert(fresh);
            if let Some(secs) = f.fail(now, l.failures_per_address, l.lockout_max_secs) {
                tracing::warn!(%ip, user, failures = f.count, lockout_secs = secs, "login locked out for the address");
            }
        }
    }

    pub fn succeeded(&self, user: &str) {
        self.lock().accounts.remove(user);
    }
}

pub fn now() -> i64 {
    crate::storage::chrono_free::now().0
}

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let hash = argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("failed to hash password: {e}"))?;
    Ok(hash.to_string())
}

fn verify_password(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

pub fn random_secret(prefix: &str) -> String {
    let mut b = [0u8; 24];
    rand::rng().fill_bytes(&mut b);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(b))
}

pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

pub fn actions_from_grants(grants: &[Grant], repo: &str) -> Actions {
    grants
        .iter()
        .filter(|g| glob_match(&g.pattern, repo))
        .fold(Actions::default(), |a, g| {
            a.union(Actions::parse(&g.actions))
        })
}

impl Auth {
    pub fn new(settings: AuthSettings, key: Vec<u8>, meta: Arc<dyn Metadata>) -> Self {
        Self::with_limits(
            settings,
            key,
            meta,
            LoginLimits::from_config(&crate::config::Limits::default()),
        )
    }

    pub fn with_limits(
        settings: AuthSettings,
        key: Vec<u8>,
        meta: Arc<dyn Metadata>,
        limits: LoginLimits,
    ) -> Self {
        Self {
            settings,
            key,
            meta,
            cache: Mutex::new(HashMap::new()),
            dummy_hash: hash_password(&random_secret("")).unwrap_or_default(),
            hashing: tokio::sync::Semaphore::new(limits.concurrent_checks),
            throttle: Throttle::new(limits),
        }
    }

    /// A `401` with the Bearer challenge, naming `scope` when given.
    pub fn unauthorized(&self, host: &str, scope: Option<String>) -> ApiError {
        let realm = self
            .settings
            .realm
            .clone()
            .unwrap_or_else(|| format!("{}://{host}/token", self.settings.scheme));
        let mut challenge = format!(
            "Bearer realm=\"{realm}\",service=\"{}\"",
            self.settings.service
        );
        if let Some(scope) = scope {
            challenge += &format!(",scope=\"{scope}\"");
        }
        ApiError::new(ErrorCode::Unauthorized, "authentication required")
            .with_header(axum::http::header::WWW_AUTHENTICATE, &challenge)
    }

    /// Identifies the caller. Wrong credentials are an error; no credentials are anonymous.
    /// `peer` is the client's address, for login throttling.
    pub async fn identify(
        &self,
        authorization: Option<&str>,
        host: &str,
        peer: Option<std::net::IpAddr>,
    ) -> Result<Caller, ApiError> {
        if !self.settings.enabled {
            return Ok(Caller::Unrestricted);
        }
        let Some(h) = authorization else {
            return Ok(Caller::Anonymous);
        };
        if let Some(b64) = h.strip_prefix("Basic ") {
            let decoded = STANDARD
                .decode(b64.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok());
            let Some((user, password)) = decoded.as_deref().and_then(|s| s.split_once(':')) else {
                return Err(self.unauthorized(host, None));
            };
            return match self.check_password(user, password, peer).await? {
                Some(admin) => Ok(Caller::User {
                    name: user.to_string(),
                    admin,
                }),
                None => Err(self.unauthorized(host, None)),
            };
        }
        if let Some(token) = h.strip_prefix("Bearer ") {
            return self
                .verify_token(token.trim())
                .map(Caller::Token)
                .ok_or_else(|| self.unauthorized(host, None));
        }
        Err(self.unauthorized(host, None))
    }

    /// `Some(is_admin)` when the password (or API token) is right.
    ///
    /// Whether the user exists does not show in the time taken: an unknown user's password
    /// is verified against a dummy hash, and an API token is looked up the same way for
    /// both. A login from an account or address locked out after repeated failures is
    /// refused with `429` before any of that.
    pub async fn check_password(
        &self,
        user: &str,
        password: &str,
        peer: Option<std::net::IpAddr>,
    ) -> Result<Option<bool>, ApiError> {
        let t = now();
        if let Some(wait) = self.throttle.retry_after(user, peer) {
            return Err(ApiError::new(
                crate::error::ErrorCode::LoginThrottled,
                "too many failed logins; retry later",
            )
            .with_header(axum::http::header::RETRY_AFTER, &wait.to_string()));
        }
        let key = (user.to_string(), sha256_hex(password));
        if let Ok(cache) = self.cache.lock()
            && let Some(&(until, admin)) = cache.get(&key)
            && until > t
        {
            return Ok(Some(admin));
        }
        let found = self.meta.get_user(user).await?;
        let ok = if password.starts_with("wcr_") {
            let owner = self.meta.api_token_user(&key.1).await?;
            found.is_some() && owner.as_deref() == Some(user)
        } else {
            let hash = match &found {
                Some(u) => u.password_hash.clone(),
                None => self.dummy_hash.clone(),
            };
            let _permit = self
                .hashing
                .acquire()
                .await
                .map_err(|e| ApiError::internal("password check", e))?;
            let pw = password.to_string();
            let verified = tokio::task::spawn_blocking(move || verify_password(&pw, &hash))
                .await
                .map_err(|e| ApiError::internal("password check", e))?;
            verified && found.is_some()
        };
        let Some(u) = found.filter(|_| ok) else {
            self.throttle.failed(user, peer);
            return Ok(None);
        };
        self.throttle.succeeded(user);
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() > 10_000 {
                cache.clear();
            }
            cache.insert(key, (t + 60, u.admin));
        }
        Ok(Some(u.admin))
    }

    /// The repository patterns whose repositories `caller` could pull (what it has, or for a
    /// token what its user would get), for filtering the catalog in the metadata query.
    /// `None`: every repository.
    pub async fn pull_patterns(&self, caller: &Caller) -> Result<Option<Vec<String>>, ApiError> {
        let user = match caller {
            Caller::Unrestricted | Caller::User { admin: true, .. } => return Ok(None),
            Caller::User { name, .. } => Some(name.clone()),
            Caller::Token(c) if !c.sub.is_empty() => {
                if self.meta.get_user(&c.sub).await?.is_some_and(|u| u.admin) {
                    return Ok(None);
                }
                Some(c.sub.clone())
            }
            Caller::Token(_) | Caller::Anonymous => None,
        };
        let mut grants = self.meta.grants_for("anonymous").await?;
        if let Some(u) = user {
            grants.extend(self.meta.grants_for(&format!("user:{u}")).await?);
        }
        let mut out: Vec<String> = grants
            .into_iter()
            .filter(|g| Actions::parse(&g.actions).pull)
            .map(|g| g.pattern)
            .collect();
        out.extend(self.settings.anonymous_pull.iter().cloned());
        out.sort();
        out.dedup();
        Ok(Some(out))
    }

    /// The actions `caller` has on `repo`.
    pub async fn actions(&self, caller: &Caller, repo: &str) -> Result<Actions, ApiError> {
        Ok(match caller {
            Caller::Unrestricted => Actions::ALL,
            Caller::User { admin: true, .. } => Actions::ALL,
            Caller::User { name, .. } => {
                let grants = self.meta.grants_for(&format!("user:{name}")).await?;
                actions_from_grants(&grants, repo).union(self.anonymous_actions(repo).await?)
            }
            Caller::Anonymous => self.anonymous_actions(repo).await?,
            Caller::Token(claims) => claims
                .access
                .iter()
                .filter(|a| a.kind == "repository" && a.name == repo)
                .fold(Actions::default(), |acc, a| {
                    acc.union(Actions::parse(&a.actions))
                }),
        })
    }

    /// Anonymous callers only ever pull, whatever a grant says.
    async fn anonymous_actions(&self, repo: &str) -> Result<Actions, ApiError> {
        let from_config = self
            .settings
            .anonymous_pull
            .iter()
            .any(|p| glob_match(p, repo));
        let grants = self.meta.grants_for("anonymous").await?;
        let pull = from_config || actions_from_grants(&grants, repo).pull;
        Ok(Actions {
            pull,
            ..Actions::default()
        })
    }

    /// Refuses unless `caller` may do `action` on `repo`; returns the caller's full set.
    pub async fn require(
        &self,
        caller: &Caller,
        repo: &str,
        action: Action,
        host: &str,
    ) -> Result<Actions, ApiError> {
        let have = self.actions(caller, repo).await?;
        if have.allows(action) {
            return Ok(have);
        }
        Err(match caller {
            Caller::User { .. } => ApiError::denied("requested access to the resource is denied")
                .with_detail(serde_json::json!({ "name": repo, "action": action.scope_name() })),
            _ => self.unauthorized(
                host,
                Some(format!("repository:{repo}:{}", action.scope_name())),
            ),
        })
    }

    /// Answers `GET /v2/` for a caller: anonymous callers are challenged so clients learn the
    /// token realm.
    pub fn check_base(&self, caller: &Caller, host: &str) -> Result<(), ApiError> {
        match caller {
            Caller::Anonymous => Err(self.unauthorized(host, None)),
            _ => Ok(()),
        }
    }

    /// Signs `claims` as an HS256 JWT with the registry's key.
    pub fn sign(&self, claims: &TokenClaims) -> String {
        let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        jsonwebtoken::encode(
            &header,
            claims,
            &jsonwebtoken::EncodingKey::from_secret(&self.key),
        )
        .expect("the claims always serialize and HMAC takes keys of any length")
    }

    /// An HMAC-SHA256 (hex) of `msg` under the registry's key, separated by `purpose` from
    /// every other use of the key (bearer tokens sign base64 JSON, never a purpose line).
    /// The web interface signs its session cookies and CSRF tokens with it.
    pub fn mac(&self, purpose: &str, msg: &str) -> String {
        hex::encode(self.purpose_mac(purpose, msg).finalize().into_bytes())
    }

    /// Whether `tag` is [`Auth::mac`] of `msg` for `purpose` (compared in constant time).
    pub fn mac_ok(&self, purpose: &str, msg: &str, tag: &str) -> bool {
        hex::decode(tag).is_ok_and(|t| self.purpose_mac(purpose, msg).verify_slice(&t).is_ok())
    }

    fn purpose_mac(&self, purpose: &str, msg: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        for part in [
            &b"wcomp-registry "[..],
            purpose.as_bytes(),
            b"\n",
            msg.as_bytes(),
        ] {
            mac.update(part);
        }
        mac
    }

    /// The claims of a bearer token this registry (or one sharing its key) signed, for this
    /// service, and current: `exp` in the future, `nbf` at most 5 s ahead (clocks of
    /// replicas may differ that much).
    pub fn verify_token(&self, token: &str) -> Option<TokenClaims> {
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.set_audience(&[&self.settings.service]);
        validation.set_required_spec_claims(&["exp", "nbf", "aud"]);
        // The times are checked below, to the second.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        let claims = jsonwebtoken::decode::<TokenClaims>(
            token,
            &jsonwebtoken::DecodingKey::from_secret(&self.key),
            &validation,
        )
        .ok()?
        .claims;
        let t = now();
        (claims.exp > t && claims.nbf <= t + 5).then_some(claims)
    }

    /// Issues a token for `caller` covering the requested scopes, each cut down to what the
    /// caller actually has (a scope the caller has nothing on is left out, as distribution
    /// does, so the client gets a 401/403 on use rather than here).
    pub async fn issue(
        &self,
        caller: &Caller,
        scopes: &[String],
    ) -> Result<(String, i64), ApiError> {
        let mut access = Vec::new();
        for scope in scopes {
            let mut parts = scope.splitn(3, ':');
            let (Some(kind), Some(name), Some(actions)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if kind != "repository" || !crate::oci::valid_repository_name(name) {
                continue;
            }
            let wanted: Vec<String> = actions.split(',').map(str::to_string).collect();
            let mut want = Actions::parse(&wanted);
            // Asking for `push` means "let me upload": a create-only grant still qualifies.
            if want.push {
                want.create = true;
            }
            let granted = want.intersect(self.actions(caller, name).await?);
            if granted != Actions::default() {
                access.push(TokenAccess {
                    kind: "repository".into(),
                    name: name.into(),
                    actions: granted.names(),
                });
            }
        }
        let t = now();
        let sub = match caller {
            Caller::User { name, .. } => name.clone(),
            _ => String::new(),
        };
        let claims = TokenClaims {
            iss: self.settings.service.clone(),
            sub,
            aud: self.settings.service.clone(),
            exp: t + self.settings.token_ttl_secs,
            nbf: t - 5,
            iat: t,
            jti: uuid::Uuid::new_v4().to_string(),
            access,
        };
        Ok((self.sign(&claims), self.settings.token_ttl_secs))
    }

    /// The user behind a caller, for filtering the catalog by grants.
    pub fn subject(caller: &Caller) -> Option<String> {
        match caller {
            Caller::User { name, .. } => Some(name.clone()),
            Caller::Token(c) if !c.sub.is_empty() => Some(c.sub.clone()),
            _ => None,
        }
    }

    /// What `caller` could have on `repo`: for a token, what its user (or, for an anonymous
    /// token, anyone) would get by asking `/token` for that repository; otherwise
    /// [`Auth::actions`].
    pub async fn obtainable(&self, caller: &Caller, repo: &str) -> Result<Actions, ApiError> {
        match caller {
            Caller::Token(c) if !c.sub.is_empty() => {
                let user = self.meta.get_user(&c.sub).await?;
                let as_user = Caller::User {
                    name: c.sub.clone(),
                    admin: user.is_some_and(|u| u.admin),
                };
                self.actions(&as_user, repo).await
            }
            Caller::Token(_) => self.actions(&Caller::Anonymous, repo).await,
            other => self.actions(other, repo).await,
        }
    }

    /// Whether a caller may see `repo` in the catalog: it must be able to pull it. A token's
    /// catalog view is its user's grants, not only the repositories the token names.
    pub async fn may_list(&self, caller: &Caller, repo: &str) -> Result<bool, ApiError> {
        Ok(self.obtainable(caller, repo).await?.pull)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_failures_lock_out_with_doubling_delays() {
        let limits = LoginLimits {
            concurrent_checks: 1,
            failures_per_account: 2,
            failures_per_address: 100,
            lockout_max_secs: 3,
        };
        let mut f = Failures {
            count: 0,
            last: 0,
            locked_until: 0,
        };
        let free = limits.failures_per_account;
        assert_eq!(f.fail(0, free, limits.lockout_max_secs), None);
        assert_eq!(f.fail(10, free, limits.lockout_max_secs), None);
        assert_eq!(f.fail(20, free, limits.lockout_max_secs), Some(1));
        assert_eq!(f.locked(20), Some(1));
        assert_eq!(f.locked(1020), None);
        assert_eq!(f.fail(2000, free, limits.lockout_max_secs), Some(2));
        assert_eq!(
            f.fail(5000, free, limits.lockout_max_secs),
            Some(3),
            "capped"
        );
        for _ in 0..100 {
            f.fail(6000, free, limits.lockout_max_secs);
        }
        assert_eq!(f.locked(6000), Some(3));
        // Forgotten after the window.
        assert_eq!(f.fail(6000 + FAILURE_WINDOW_MS + 1, free, 3), None);
        let t = Throttle::new(limits);
        let ip = Some(std::net::IpAddr::from([10, 0, 0, 1]));
        t.failed("u", ip);
        t.failed("u", ip);
        assert_eq!(t.retry_after("u", ip), None);
        t.failed("u", ip);
        assert_eq!(t.retry_after("u", None), Some(1));
        t.succeeded("u");
        assert_eq!(t.retry_after("u", ip), None);
    }

    #[test]
    fn actions_parse_and_names() {
        let a = Actions::parse(&["push".into()]);
        assert!(a.create && a.push && !a.pull);
        assert_eq!(
            Actions::parse(&["create".into(), "pull".into()]).names(),
            vec!["pull", "create"]
        );
    }

    #[tokio::test]
    async fn tokens_verify_and_expire() {
        let meta: Arc<dyn Metadata> =
            Arc::new(crate::metadata::sqlite::SqliteMetadata::in_memory().unwrap());
        let settings = AuthSettings {
            enabled: true,
            service: "svc".into(),
            token_ttl_secs: 60,
            anonymous_pull: vec![],
            realm: None,
            scheme: "http",
        };
        let auth = Auth::new(settings.clone(), b"k1".to_vec(), meta.clone());
        let (tok, _) = auth
            .issue(&Caller::Unrestricted, &["repository:a/b:pull".into()])
            .await
            .unwrap();
        let claims = auth.verify_token(&tok).expect("valid token");
        assert_eq!(claims.access[0].actions, vec!["pull"]);
        // Another key (another registry) or a tampered body fails.
        let other = Auth::new(settings.clone(), b"k2".to_vec(), meta.clone());
        assert!(other.verify_token(&tok).is_none());
        let mut parts: Vec<&str> = tok.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&TokenClaims {
                sub: "admin".into(),
                ..claims.clone()
            })
            .unwrap(),
        );
        parts[1] = &forged;
        assert!(auth.verify_token(&parts.join(".")).is_none());
        let expired = TokenClaims {
            exp: now() - 1,
            ..claims.clone()
        };
        assert!(auth.verify_token(&auth.sign(&expired)).is_none());
        let wrong_aud = TokenClaims {
            aud: "elsewhere".into(),
            ..claims
        };
        assert!(auth.verify_token(&auth.sign(&wrong_aud)).is_none());
    }
}
