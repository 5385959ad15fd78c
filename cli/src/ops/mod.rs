//! The work behind the commands: one module per verb, called by `commands/`.

pub mod build;
pub mod build_c;
pub mod build_go;
pub mod compose_ws;
pub mod host;
pub mod manifest;
pub mod new_world;
pub mod parts;
pub mod run;
pub mod scaffold;
pub mod serve;
pub mod sql;
pub mod stubs;
pub mod templates;
pub mod test;
pub mod toolchain;
pub mod wasi_wit;
pub mod watch;

/// The machine or the invocation lacks something the operation needs (a toolchain, a
/// Rust target, a `wcomp.toml`): exit code 2, as opposed to an operation that ran and
/// failed (exit code 1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct EnvironmentError(pub String);

use anyhow::Context as _;

/// Writes next to the destination and renames, so readers never see half a file. The file
/// gets the usual 0644 mode (a temporary file starts private).
pub fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    write_atomically_with(path, |file| {
        std::io::Write::write_all(file, bytes)
            .with_context(|| format!("failed to write `{}`", path.display()))
    })
}

/// As [`write_atomically`], with `write` filling the new file: its result is returned once
/// the file is in place, and nothing is left when it fails.
pub fn write_atomically_with<T>(
    path: &std::path::Path,
    write: impl FnOnce(&mut std::fs::File) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    fs_err::create_dir_all(parent)?;
    let mut tmp = tempfile::NamedTempFile::new_in(parent)
        .with_context(|| format!("cannot write to `{}`", parent.display()))?;
    let written = write(tmp.as_file_mut())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    #[cfg(target_os = "linux")]
    let tmp = match exchange(tmp, path) {
        Ok(()) => return Ok(written),
        Err(tmp) => tmp,
    };
    tmp.persist(path)
        .with_context(|| format!("failed to write `{}`", path.display()))?;
    Ok(written)
}

/// Puts the new file in place of an existing regular file by swapping the two names in one
/// step (`RENAME_EXCHANGE`), then deletes the old file under the temporary name. Readers
/// see the old file or the new one, as with a rename over it, but ext4 does not flush the
/// new file's data first as it does for a rename over an existing file (`auto_da_alloc`;
/// 8-17 ms for a 12 MB composition). Like any other write here, the data is not synced.
/// Gives the temporary file back when there is nothing to swap with or the file system
/// cannot swap.
#[cfg(target_os = "linux")]
fn exchange(
    tmp: tempfile::NamedTempFile,
    path: &std::path::Path,
) -> Result<(), tempfile::NamedTempFile> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    let existing_file = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file());
    if !existing_file || renameat_with(CWD, tmp.path(), CWD, path, RenameFlags::EXCHANGE).is_err() {
        return Err(tmp);
    }
    // The old file now has the temporary name, which dropping the handle deletes.
    drop(tmp);
    Ok(())
}
/// An environment error with a suggested fix, printed as `hint:` (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct HintedError {
    pub message: String,
    pub hint: String,
}

impl HintedError {
    pub fn new(message: impl Into<String>, hint: impl Into<String>) -> HintedError {
        HintedError {
            message: message.into(),
            hint: hint.into(),
        }
    }
}

#[cfg(unix)]
pub mod agent;
pub mod attach;
pub mod deps;
pub mod provenance;
pub mod publish;
pub mod pull;
pub mod registry;
pub mod userconfig;
pub mod verify;
pub mod warg;

#[cfg(test)]
mod tests {
    use super::*;

    /// Each write replaces the file whole and leaves nothing else behind; a directory in
    /// the way is an error and stays as it was.
    #[test]
    fn writes_replace_the_file_and_leave_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.wasm");
        write_atomically(&path, b"first").unwrap();
        write_atomically(&path, b"second, longer").unwrap();
        let n = write_atomically_with(&path, |f| {
            std::io::Write::write_all(f, b"third")?;
            Ok(3)
        })
        .unwrap();
        assert_eq!(n, 3);
        assert_eq!(std::fs::read(&path).unwrap(), b"third");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["out.wasm"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o644);
        }
        let failed =
            write_atomically_with(&path, |_| -> anyhow::Result<()> { anyhow::bail!("no") });
        assert!(failed.is_err());
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"third",
            "a failed write keeps the old"
        );

        let taken = dir.path().join("taken");
        std::fs::create_dir(&taken).unwrap();
        std::fs::write(taken.join("inside"), b"kept").unwrap();
        assert!(write_atomically(&taken, b"x").is_err());
        assert_eq!(std::fs::read(taken.join("inside")).unwrap(), b"kept");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
