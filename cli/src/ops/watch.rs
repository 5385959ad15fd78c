//! `--watch` for `wcomp build` and `wcomp test`: the file system's own change events
//! (inotify, FSEvents, ... through the `notify` crate) on a project or workspace, grouped
//! into rounds: the first change starts a round, which waits until no change has come for
//! a moment, so several quick saves (or an editor's write-and-rename) make one rebuild.
//!
//! Build outputs and dependency folders are not watched for changes. A round remembers
//! the contents of the watched files as it starts ([`Watcher::snapshot`]); of the events
//! that arrive while it builds and tests, only files whose contents differ from that
//! snapshot start the next round ([`Watcher::changed_since`]). So a save made during a
//! build is not lost, and the build's own rewrites of files it does not change
//! (`Cargo.lock`, `go.sum`) do not start a round of their own.

use super::build::SKIP_DIRS;
use anyhow::{Context as _, Result};
use notify::{EventKind, RecursiveMode, Watcher as _};
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash as _, Hasher as _};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How long the tree must stay quiet before a round starts.
pub const QUIET: Duration = Duration::from_millis(200);
/// A round starts after this long even if changes keep coming.
const LONGEST_WAIT: Duration = Duration::from_secs(2);

pub struct Watcher {
    root: PathBuf,
    events: Receiver<notify::Result<notify::Event>>,
    _watcher: notify::RecommendedWatcher,
}

impl Watcher {
    /// Watches everything under `root`.
    pub fn new(root: &Path) -> Result<Watcher> {
        let root = root
            .canonicalize()
            .with_context(|| format!("cannot watch `{}`", root.display()))?;
        let (tx, events) = std::sync::mpsc::channel();
        let mut watcher =
            notify::recommended_watcher(tx).context("cannot watch files on this system")?;
        watcher
            .watch(&root, RecursiveMode::Recursive)
            .with_context(|| format!("cannot watch `{}`", root.display()))?;
        Ok(Watcher {
            root,
            events,
            _watcher: watcher,
        })
    }

    /// Blocks until a source file changes (at once when `pending`, changes seen while the
    /// last round ran, has any), then until changes stop for [`QUIET`]; returns the
    /// changed files, relative to the root.
    pub fn next_round(&self, pending: Vec<PathBuf>) -> Result<Vec<PathBuf>> {
        let mut changed = pending;
        // The first relevant change.
        while changed.is_empty() {
            let event = self.events.recv().context("the file watcher stopped")?;
            self.take(event, &mut changed);
        }
        let started = Instant::now();
        loop {
            let left = LONGEST_WAIT.saturating_sub(started.elapsed());
            if left.is_zero() {
                break;
            }
            match self.events.recv_timeout(QUIET.min(left)) {
                Ok(event) => self.take(event, &mut changed),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => anyhow::bail!("the file watcher stopped"),
            }
        }
        changed.sort();
        changed.dedup();
        Ok(changed)
    }

    /// The contents of every watched file now (a hash of each), taken as a round starts.
    pub fn snapshot(&self) -> Snapshot {
        let mut files = HashMap::new();
        self.hash_tree(&self.root, &mut files);
        Snapshot(files)
    }

    /// Takes the events that came while a round ran, and returns the files among them
    /// whose contents now differ from `before` (created, deleted or edited since).
    pub fn changed_since(&self, before: &Snapshot) -> Vec<PathBuf> {
        let mut seen = Vec::new();
        while let Ok(event) = self.events.try_recv() {
            self.take(event, &mut seen);
        }
        seen.sort();
        seen.dedup();
        seen.retain(|rel| before.0.get(rel) != hash_file(&self.root.join(rel)).as_ref());
        seen
    }

    fn hash_tree(&self, dir: &Path, out: &mut HashMap<PathBuf, u64>) {
        let Ok(entries) = fs_err::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => {
                    let name = entry.file_name();
                    if !SKIP_DIRS.iter().any(|s| name == *s) {
                        self.hash_tree(&path, out);
                    }
                }
                Ok(t) if t.is_file() => {
                    if let (Some(rel), Some(h)) = (self.relevant(&path), hash_file(&path)) {
                        out.insert(rel, h);
                    }
                }
                _ => {}
            }
        }
    }

    fn take(&self, event: notify::Result<notify::Event>, changed: &mut Vec<PathBuf>) {
        let Ok(event) = event else {
            return;
        };
        if matches!(event.kind, EventKind::Access(_) | EventKind::Other) {
            return;
        }
        for path in event.paths {
            if let Some(rel) = self.relevant(&path) {
                changed.push(rel);
            }
        }
    }

    /// `path` relative to the root, unless it is in an ignored folder or an editor's
    /// scratch file.
    fn relevant(&self, path: &Path) -> Option<PathBuf> {
        let rel = path.strip_prefix(&self.root).ok()?;
        let ignored_dir = rel
            .parent()
            .into_iter()
            .flat_map(Path::components)
            .any(|c| SKIP_DIRS.iter().any(|i| c.as_os_str() == *i));
        let name = rel.file_name()?.to_string_lossy();
        let scratch = name.ends_with('~')
            || name.ends_with(".swp")
            || name.ends_with(".swx")
            || name == "4913"
            || name.starts_with(".#");
        (!ignored_dir && !scratch).then(|| rel.to_path_buf())
    }
}

/// What the watched files held when a round started: a hash of each, by path relative to
/// the root.
pub struct Snapshot(HashMap<PathBuf, u64>);

/// A hash of a file's contents; `None` when it cannot be read (deleted).
fn hash_file(path: &Path) -> Option<u64> {
    let bytes = fs_err::read(path).ok()?;
    let mut h = DefaultHasher::new();
    bytes.hash(&mut h);
    Some(h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_saves_make_one_round_and_outputs_none() {
        let dir = tempfile::tempdir().unwrap();
        fs_err::create_dir_all(dir.path().join("src")).unwrap();
        fs_err::create_dir_all(dir.path().join("build")).unwrap();
        let w = Watcher::new(dir.path()).unwrap();
        let writer = {
            let root = dir.path().to_path_buf();
            std::thread::spawn(move || {
                fs_err::write(root.join("build/out.wasm"), b"x").unwrap();
                for i in 0..3 {
                    fs_err::write(root.join("src/lib.rs"), format!("{i}")).unwrap();
                    std::thread::sleep(Duration::from_millis(30));
                }
                fs_err::write(root.join("src/lib.rs~"), b"backup").unwrap();
            })
        };
        let changed = w.next_round(Vec::new()).unwrap();
        writer.join().unwrap();
        assert_eq!(changed, [PathBuf::from("src/lib.rs")]);
    }

    #[test]
    fn a_save_during_a_round_is_kept_and_a_rewrite_of_the_same_bytes_is_not() {
        let dir = tempfile::tempdir().unwrap();
        fs_err::create_dir_all(dir.path().join("src")).unwrap();
        fs_err::write(dir.path().join("src/lib.rs"), b"one").unwrap();
        fs_err::write(dir.path().join("Cargo.lock"), b"lock").unwrap();
        let w = Watcher::new(dir.path()).unwrap();
        let before = w.snapshot();
        // What a build does (rewrites the lock file unchanged) and what a user does
        // meanwhile (saves a source file).
        fs_err::write(dir.path().join("Cargo.lock"), b"lock").unwrap();
        fs_err::write(dir.path().join("src/lib.rs"), b"two").unwrap();
        fs_err::write(dir.path().join("src/new.rs"), b"new").unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let pending = w.changed_since(&before);
        assert_eq!(
            pending,
            [PathBuf::from("src/lib.rs"), PathBuf::from("src/new.rs")]
        );
        // The next round starts at once with them.
        assert_eq!(w.next_round(pending.clone()).unwrap(), pending);
    }
}
