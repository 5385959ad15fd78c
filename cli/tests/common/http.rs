//! `wcomp serve` driven as a user would: the binary started on a free loopback port, and
//! plain HTTP/1.1 requests on their own connections.

use super::{Run, User};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running `wcomp serve`, killed when dropped; its stdout (the access log) and stderr
/// (events) are collected as they come.
pub struct Server {
    child: Child,
    pub addr: String,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

fn collect(stream: impl std::io::Read + Send + 'static, into: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        let mut r = BufReader::new(stream);
        let mut line = String::new();
        while r.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
            into.lock().unwrap().push_str(&line);
            line.clear();
        }
    });
}

impl Server {
    pub fn start(u: &User, component: &str, extra: &[&str]) -> Server {
        Server::try_start(u, component, extra).unwrap_or_else(|r| {
            panic!(
                "wcomp serve did not start (exit {}):\n{}\n{}",
                r.code, r.stdout, r.stderr
            )
        })
    }

    /// Starts and waits for the `listening on` line; the finished run if it exits first.
    pub fn try_start(u: &User, component: &str, extra: &[&str]) -> Result<Server, Run> {
        let mut args = vec!["serve", component, "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let mut child = u
            .cmd(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        collect(child.stdout.take().unwrap(), stdout.clone());
        collect(child.stderr.take().unwrap(), stderr.clone());
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let text = stderr.lock().unwrap().clone();
            let addr = text
                .split_once("listening on http://")
                .map(|(_, rest)| rest.lines().next().unwrap_or("").trim().to_string())
                .or_else(|| {
                    text.split_once("\"address\":\"http://")
                        .and_then(|(_, rest)| rest.split_once('"'))
                        .map(|(a, _)| a.to_string())
                });
            if let Some(addr) = addr {
                return Ok(Server {
                    child,
                    addr,
                    stdout,
                    stderr,
                });
            }
            if let Some(status) = child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100));
                return Err(Run {
                    code: status.code().unwrap_or(-1),
                    stdout: stdout.lock().unwrap().clone(),
                    stderr: stderr.lock().unwrap().clone(),
                });
            }
            assert!(
                Instant::now() < deadline,
                "wcomp serve took too long to start:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        request(&self.addr, "GET", path, &[], None)
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    /// SIGTERM, then the exit code.
    pub fn terminate(mut self) -> i32 {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code().unwrap_or(-1);
            }
            assert!(Instant::now() < deadline, "wcomp serve did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request on its own connection: the status and the body.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body
        && !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("transfer-encoding"))
    {
        head.push_str(&format!("content-length: {}\r\n", b.len()));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    if let Some(b) = body {
        let _ = s.write_all(b);
    }
    read_response(&mut s)
}

pub fn read_response(s: &mut TcpStream) -> (u16, String) {
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}
