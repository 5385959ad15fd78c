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
use anyhow::{Context as _, Result};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use wcomp_trust::{KeyPair, PublicKey, Signer};

/// Overrides where clients and `wcomp key agent` find the socket.
pub const ENV_AGENT_SOCK: &str = "WCOMP_AGENT_SOCK";

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
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut line = serde_json::to_vec(req)?;
    line.push(b'\n');
    stream.write_all(&line)?;
    let mut answer = String::new();
    BufReader::new(&stream).read_line(&mut answer)?;
    let v: Value = serde_json::from_str(&answer)
        .with_context(|| format!("the key agent on {} answered no JSON", socket.display()))?;
    if let Some(e) = v["error"].as_str() {
        anyhow::bail!("the key agent refused: {e}");
    }
    Ok(v)
}

/// The key with id `key_id`, if an agent is running on `socket` and holds it. An agent
/// that is not there (no socket, a stale one) is simply not used.
pub fn find(socket: &Path, key_id: &str) -> Option<AgentKey> {
    if !socket.exists() {
        return None;
    }
    let list = request(socket, &json!({"op": "list"})).ok()?;
    list["keys"].as_array()?.iter().find_map(|k| {
        if k["key_id"].as_str() != Some(key_id) {
            return None;
        }
        Some(AgentKey {
            socket: socket.to_path_buf(),
            public: PublicKey::from_pem(k["public_key"].as_str()?).ok()?,
        })
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
    rt.block_on(async {
        let listener = tokio::net::UnixListener::bind(socket)
            .map_err(|e| EnvironmentError(format!("cannot listen on {}: {e}", socket.display())))?;
        let _remove = RemoveOnDrop(socket.to_path_buf());
        fs_err::set_permissions(socket, std::fs::Permissions::from_mode(0o600))?;
        let owner = fs_err::metadata(socket)?.uid();
        ready();
        let keys = Arc::new(keys);
        let (stop_tx, mut stop_rx) = tokio::sync::mpsc::channel::<()>(1);
        let deadline = async {
            match lifetime {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => break,
                _ = tokio::signal::ctrl_c() => break,
                _ = term.recv() => break,
                _ = stop_rx.recv() => break,
                conn = listener.accept() => {
                    let Ok((stream, _)) = conn else { continue };
                    match stream.peer_cred() {
                        Ok(c) if c.uid() == owner => {}
                        _ => continue,
                    }
                    tokio::spawn(answer(stream, keys.clone(), stop_tx.clone()));
                }
            }
        }
        Ok(())
    })
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
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
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => return Err(format!("`{s}` is not a duration (30s, 15m, 8h, 1d)")),
    };
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
    }

    #[test]
    fn the_agent_signs_lists_and_stops_and_removes_its_socket() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("agent.sock");
        let key = KeyPair::generate();
        let id = key.public().key_id();
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
        let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        let listed = request(&socket, &json!({"op": "list"})).unwrap();
        assert_eq!(listed["keys"][0]["name"], "k");
        assert_eq!(listed["keys"][0]["key_id"], id.as_str());
        let signer = find(&socket, &id).expect("the agent lists the key");
        let sig = signer.sign_message(b"payload").unwrap();
        signer.public_key().verify(b"payload", &sig).unwrap();
        assert!(find(&socket, "0000").is_none());
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
        assert!(find(&socket, &id).is_none());
    }
}
