//! `wcomp key agent`: keeps unlocked signing keys in memory and signs for the same user's
//! wcomp processes over a Unix socket. The passphrase is asked once per session, and the
//! key derivation (PBKDF2, deliberately slow: about 20 ms per unlock here) no longer runs
//! on every publish. As with ssh-agent, a private key never leaves the agent: a client
//! sends a message and gets the signature back.
//!
//! Protocol, one JSON object per line each way:
//!
//! - `{"op":"list"}` -> `{"keys":[{"name","key_id","public_key"}]}`
//! - `{"op":"sign","key_id":"<hex>","message":"<base64>"}` -> `{"signature":"<base64 DER>"}`
//! - `{"op":"stop"}` -> `{"stopped":true}`, and the agent exits
//! - anything that fails -> `{"error":"..."}`
//!
//! The socket is made mode 0600, and a connection from another user id is closed unread
//! (the peer's credentials, SO_PEERCRED, against the socket's owner).

use super::EnvironmentError;
use crate::env::AGENT_SOCK as ENV_AGENT_SOCK;
use anyhow::{Context as _, Result};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use wcomp_trust::{KeyPair, PublicKey, Signer};

/// The agent's socket: `WCOMP_AGENT_SOCK`, else `agent.sock` in the config dir.
pub fn socket_path(config_dir: &Path) -> PathBuf {
    match std::env::var_os(ENV_AGENT_SOCK) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => config_dir.join("agent.sock"),
    }
}

/// A key the agent holds, as a [`Signer`] for this process.
pub struct AgentKey {
    socket: PathBuf,
    public: PublicKey,
}

impl Signer for AgentKey {
    fn public_key(&self) -> PublicKey {
        self.public.clone()
    }

    fn sign_message(&self, message: &[u8]) -> Result<Vec<u8>, wcomp_trust::Error> {
        let answer = request(
            &self.socket,
            &json!({"op": "sign", "key_id": self.public.key_id(), "message": STANDARD.encode(message)}),
        )
        .map_err(|e| wcomp_trust::Error::Agent(format!("{e:#}")))?;
        let sig = answer["signature"]
            .as_str()
            .and_then(|s| STANDARD.decode(s).ok())
            .ok_or_else(|| wcomp_trust::Error::Agent(format!("unexpected answer {answer}")))?;
        // An agent is trusted to sign, not to sign correctly: check before anything is
        // published with it.
        self.public.verify(message, &sig)?;
        Ok(sig)
    }
}

/// One request, one answer. Errors the agent reports come back as `Err`.
fn request(socket: &Path, req: &Value) -> Result<Value> {
    let mut stream = std::os::unix::net::UnixStream::connect(socket)
        .with_context(|| format!("no key agent answers on {}", socket.display()))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut line = serde_json::to_vec(req)?;
    line.push(b'\n');
    stream.write_all(&line)?;
    // Answers are a few hundred bytes; a runaway one is cut off (and then is no JSON).
    let mut answer = String::new();
    BufReader::new(std::io::Read::take(&stream, 1 << 20)).read_line(&mut answer)?;
    let v: Value = serde_json::from_str(&answer)
        .with_context(|| format!("the key agent on {} answered no JSON", socket.display()))?;
    if let Some(e) = v["error"].as_str() {
        anyhow::bail!("the key agent refused: {e}");
    }
    Ok(v)
}

/// The key `public` (read from the key's own `.pub` file, never from the agent) if an agent
/// we can trust is running on `socket` and holds it. An agent that is not there (no
/// socket, a stale one) or not ours is simply not used.
pub fn find(socket: &Path, public: &PublicKey) -> Option<AgentKey> {
    if !owned_by_us(socket) {
        return None;
    }
    let id = public.key_id();
    let list = request(socket, &json!({"op": "list"})).ok()?;
    let held = list["keys"]
        .as_array()?
        .iter()
        .any(|k| k["key_id"].as_str() == Some(id.as_str()));
    held.then(|| AgentKey {
        socket: socket.to_path_buf(),
        public: public.clone(),
    })
}

/// A socket file owned by this user and closed to everyone else: only then is what answers
/// on it our agent, not a stand-in another user put on a shared path.
fn owned_by_us(socket: &Path) -> bool {
    use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
    fs_err::symlink_metadata(socket).is_ok_and(|m| {
        m.file_type().is_socket()
            && m.uid() == rustix::process::geteuid().as_raw()
            && m.mode() & 0o077 == 0
    })
}

/// Asks the agent on `socket` to exit.
pub fn stop(socket: &Path) -> Result<()> {
    request(socket, &json!({"op": "stop"})).map(drop)
}

/// Fails when an agent already answers on `socket` (a stale socket file is fine).
pub fn check_free(socket: &Path) -> Result<()> {
    if socket.exists() && std::os::unix::net::UnixStream::connect(socket).is_ok() {
        return Err(EnvironmentError(format!(
            "a key agent already listens on {} (stop it with `wcomp key agent --stop`)",
            socket.display()
        ))
        .into());
    }
    Ok(())
}

/// Serves `keys` on `socket` until stopped (SIGINT, SIGTERM, a `stop` request) or until
/// `lifetime` has passed; the socket file is removed on the way out. `ready` runs once
/// the socket accepts connections.
pub fn serve(
    socket: &Path,
    keys: Vec<(String, KeyPair)>,
    lifetime: Option<Duration>,
    ready: impl FnOnce(),
) -> Result<()> {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    check_free(socket)?;
    if socket.exists() {
        // Left by an agent that did not exit cleanly.
        fs_err::remove_file(socket)?;
    }
    if let Some(parent) = socket.parent() {
        fs_err::create_dir_all(parent)?;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // Keys in this process's memory: no core dumps, and no ptrace by other processes of
    // the same user (as ssh-agent does).
    #[cfg(target_os = "linux")]
    let _ = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
    rt.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        // The socket is created closed to group and others (no window before a chmod).
        let saved = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
        let bound = tokio::net::UnixListener::bind(socket);
        rustix::process::umask(saved);
        let listener = bound
            .map_err(|e| EnvironmentError(format!("cannot listen on {}: {e}", socket.display())))?;
        fs_err::set_permissions(socket, std::fs::Permissions::from_mode(0o600))?;
        let made = fs_err::symlink_metadata(socket)?;
        let _remove = RemoveOnDrop {
            path: socket.to_path_buf(),
            id: (made.dev(), made.ino()),
        };
        let me = rustix::process::geteuid().as_raw();
        ready();
        let keys = Arc::new(keys);
        let (stop_tx, mut stop_rx) = tokio::sync::mpsc::channel::<()>(1);
        let deadline = async {
            match lifetime {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => break,
                _ = interrupt.recv() => break,
                _ = term.recv() => break,
                _ = stop_rx.recv() => break,
                conn = listener.accept() => {
                    let Ok((stream, _)) = conn else { continue };
                    match stream.peer_cred() {
                        Ok(c) if c.uid() == me => {}
                        _ => continue,
                    }
                    tokio::spawn(answer(stream, keys.clone(), stop_tx.clone()));
                }
            }
        }
        Ok(())
    })
}

/// Removes the agent's socket on the way out, unless another agent has since put its own
/// there (same path, another file).
struct RemoveOnDrop {
    path: PathBuf,
    id: (u64, u64),
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        use std::os::unix::fs::MetadataExt as _;
        if fs_err::symlink_metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == self.id) {
            let _ = fs_err::remove_file(&self.path);
        }
    }
}

async fn answer(
    stream: tokio::net::UnixStream,
    keys: Arc<Vec<(String, KeyPair)>>,
    stop: tokio::sync::mpsc::Sender<()>,
) {
    use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _};
    let (read, mut write) = stream.into_split();
    let mut lines = tokio::io::BufReader::new(read).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let (reply, stopping) = match serde_json::from_str::<Value>(&line) {
            Ok(req) => respond(&req, &keys),
            Err(e) => (json!({"error": format!("not a JSON request: {e}")}), false),
        };
        let mut out = reply.to_string().into_bytes();
        out.push(b'\n');
        if write.write_all(&out).await.is_err() {
            return;
        }
        if stopping {
            let _ = stop.send(()).await;
            return;
        }
    }
}

fn respond(req: &Value, keys: &[(String, KeyPair)]) -> (Value, bool) {
    match req["op"].as_str() {
        Some("list") => {
            let list: Vec<Value> = keys
                .iter()
                .map(|(name, k)| {
                    let public = k.public();
                    json!({"name": name, "key_id": public.key_id(), "public_key": public.to_pem()})
                })
                .collect();
            (json!({ "keys": list }), false)
        }
        Some("sign") => {
            let id = req["key_id"].as_str().unwrap_or_default();
            let Some((_, key)) = keys.iter().find(|(_, k)| k.public().key_id() == id) else {
                return (
                    json!({"error": format!("no key with id `{id}` here")}),
                    false,
                );
            };
            match req["message"].as_str().map(|m| STANDARD.decode(m)) {
                Some(Ok(message)) => (
                    json!({"signature": STANDARD.encode(key.sign(&message))}),
                    false,
                ),
                _ => (json!({"error": "`message` must be base64"}), false),
            }
        }
        Some("stop") => (json!({"stopped": true}), true),
        _ => (json!({"error": "unknown `op` (list, sign, stop)"}), false),
    }
}

/// `30s`, `15m`, `8h`, `1d` or plain seconds.
pub fn parse_lifetime(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (30s, 15m, 8h, 1d)"))?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(format!("`{s}` is not a duration (30s, 15m, 8h, 1d)")),
    };
    let secs = n
        .checked_mul(scale)
        .ok_or_else(|| format!("`{s}` is too long"))?;
    if secs == 0 {
        return Err("the lifetime must be more than 0".into());
    }
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_parse_with_units() {
        assert_eq!(parse_lifetime("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_lifetime("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_lifetime("8h"), Ok(Duration::from_secs(8 * 3600)));
        assert_eq!(parse_lifetime("1d"), Ok(Duration::from_secs(86400)));
        assert!(parse_lifetime("0").is_err());
        assert!(parse_lifetime("h").is_err());
        assert!(parse_lifetime("5w").is_err());
        assert!(parse_lifetime("99999999999999999d").is_err());
    }

    #[test]
    fn the_agent_signs_lists_and_stops_and_removes_its_socket() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("agent.sock");
        let key = KeyPair::generate();
        let public = key.public();
        let id = public.key_id();
        let (tx, rx) = std::sync::mpsc::channel();
        let server = {
            let socket = socket.clone();
            std::thread::spawn(move || {
                serve(&socket, vec![("k".into(), key)], None, move || {
                    tx.send(()).unwrap()
                })
            })
        };
        rx.recv().unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        let mode = fs_err::metadata(&socket).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        let listed = request(&socket, &json!({"op": "list"})).unwrap();
        assert_eq!(listed["keys"][0]["name"], "k");
        assert_eq!(listed["keys"][0]["key_id"], id.as_str());
        let signer = find(&socket, &public).expect("the agent lists the key");
        let sig = signer.sign_message(b"payload").unwrap();
        signer.public_key().verify(b"payload", &sig).unwrap();
        assert!(find(&socket, &KeyPair::generate().public()).is_none());
        let err = request(
            &socket,
            &json!({"op": "sign", "key_id": "0000", "message": ""}),
        )
        .unwrap_err();
        assert!(format!("{err}").contains("no key with id"), "{err}");
        // A second agent on the same socket is refused while the first one runs.
        let second = serve(&socket, vec![], None, || {}).unwrap_err();
        assert!(format!("{second}").contains("already listens"), "{second}");

        stop(&socket).unwrap();
        server.join().unwrap().unwrap();
        assert!(!socket.exists());
        assert!(find(&socket, &public).is_none());
    }

    /// An agent that claims the user's key id but signs with another key: its public key is
    /// never taken, and its signature is refused.
    #[test]
    fn an_agent_cannot_substitute_its_own_key() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("agent.sock");
        let (mine, theirs) = (KeyPair::generate(), KeyPair::generate());
        let claimed = mine.public().key_id();
        let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        fs_err::set_permissions(&socket, std::fs::Permissions::from_mode(0o600)).unwrap();
        let impostor = std::thread::spawn(move || {
            for _ in 0..2 {
                let (stream, _) = listener.accept().unwrap();
                let mut line = String::new();
                BufReader::new(&stream).read_line(&mut line).unwrap();
                let req: Value = serde_json::from_str(&line).unwrap();
                let answer = match req["op"].as_str() {
                    Some("list") => json!({"keys": [{"name": "x", "key_id": claimed,
                        "public_key": theirs.public().to_pem()}]}),
                    _ => {
                        let message = STANDARD.decode(req["message"].as_str().unwrap()).unwrap();
                        json!({"signature": STANDARD.encode(theirs.sign(&message))})
                    }
                };
                (&stream)
                    .write_all(format!("{answer}\n").as_bytes())
                    .unwrap();
            }
        });
        let signer = find(&socket, &mine.public()).expect("the id matches");
        assert_eq!(signer.public_key(), mine.public());
        let err = signer.sign_message(b"payload").unwrap_err();
        assert!(
            matches!(err, wcomp_trust::Error::BadSignature { .. }),
            "{err}"
        );
        impostor.join().unwrap();
        // A socket others may use is not trusted at all.
        fs_err::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(find(&socket, &mine.public()).is_none());
    }
}
