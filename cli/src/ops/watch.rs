//! `--watch` for `wcomp build` and `wcomp test`: the file system's own change events
//! (inotify, FSEvents, ... through the `notify` crate) on a project or workspace, grouped
//! into rounds: the first change starts a round, which waits until no change has come for
//! a moment, so several quick saves (or an editor's write-and-rename) make one rebuild.
//!
//! Build outputs and dependency folders are not watched for changes. Events that arrive
//! while a round builds and tests are dropped when it ends: they are mostly the build's
//! own writes (Go bindings generated next to the sources, `Cargo.lock`), which the build
//! cache would find unchanged anyway.

use super::build::SKIP_DIRS;
use anyhow::{Context as _, Result};
use notify::{EventKind, RecursiveMode, Watcher as _};
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

    /// Blocks until a source file changes, then until changes stop for [`QUIET`];
    /// returns the changed files, relative to the root.
    pub fn next_round(&self) -> Result<Vec<PathBuf>> {
        let mut changed = Vec::new();
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

    /// Forgets the events that came while a round ran.
    pub fn drain(&self) {
        while self.events.try_recv().is_ok() {}
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_saves_make_one_round_and_outputs_none() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("src")).unwrap();
        std::fs::create_dir_all(dir.path().join("build")).unwrap();
        let w = Watcher::new(dir.path()).unwrap();
        let writer = {
            let root = dir.path().to_path_buf();
            std::thread::spawn(move || {
                std::fs::write(root.join("build/out.wasm"), b"x").unwrap();
                for i in 0..3 {
                    std::fs::write(root.join("src/lib.rs"), format!("{i}")).unwrap();
                    std::thread::sleep(Duration::from_millis(30));
                }
                std::fs::write(root.join("src/lib.rs~"), b"backup").unwrap();
            })
        };
        let changed = w.next_round().unwrap();
        writer.join().unwrap();
        assert_eq!(changed, [PathBuf::from("src/lib.rs")]);
        w.drain();
    }
}
