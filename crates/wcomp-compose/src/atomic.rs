//! Files written whole or not at all: a temporary file beside the destination, renamed
//! over it once complete, so readers never see half a file. Every file wcomp writes for
//! others to read (compositions, builds, pulls, caches, lock files) goes through here.

use anyhow::Context as _;
use std::path::Path;

/// Writes `bytes` to `path` through a temporary file beside it. The file gets the usual
/// 0644 mode (a temporary file starts private).
pub fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    write_with(path, |file| {
        std::io::Write::write_all(file, bytes)
            .with_context(|| format!("failed to write `{}`", path.display()))
    })
}

/// As [`write`], with `fill` writing the new file: its result is returned once the file is
/// in place, and nothing is left when it fails.
pub fn write_with<T>(
    path: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let mut tmp = temp_beside(path)?;
    let written = fill(tmp.as_file_mut())?;
    persist(tmp, path)?;
    Ok(written)
}

/// A new temporary file in `path`'s directory (created if missing), named `.wcomp-*`, for
/// a write that [`persist`] completes.
pub fn temp_beside(path: &Path) -> anyhow::Result<tempfile::NamedTempFile> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs_err::create_dir_all(parent)?;
    tempfile::Builder::new()
        .prefix(".wcomp-")
        .tempfile_in(parent)
        .with_context(|| format!("cannot write to `{}`", parent.display()))
}

/// Puts a complete temporary file (from [`temp_beside`]) in place at `path`, as an
/// ordinary 0644 file.
pub fn persist(tmp: tempfile::NamedTempFile, path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .with_context(|| format!("failed to write `{}`", path.display()))?;
    }
    #[cfg(target_os = "linux")]
    let tmp = match exchange(tmp, path) {
        Ok(()) => return Ok(()),
        Err(tmp) => tmp,
    };
    tmp.persist(path)
        .with_context(|| format!("failed to write `{}`", path.display()))?;
    Ok(())
}

/// Puts the new file in place of an existing regular file by swapping the two names in one
/// step (`RENAME_EXCHANGE`), then deletes the old file under the temporary name. Readers
/// see the old file or the new one, as with a rename over it, but ext4 does not flush the
/// new file's data first as it does for a rename over an existing file (`auto_da_alloc`;
/// 8-17 ms for a 12 MB composition). Like any other write here, the data is not synced.
/// Gives the temporary file back when there is nothing to swap with or the file system
/// cannot swap.
#[cfg(target_os = "linux")]
fn exchange(tmp: tempfile::NamedTempFile, path: &Path) -> Result<(), tempfile::NamedTempFile> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    let existing_file = fs_err::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file());
    if !existing_file || renameat_with(CWD, tmp.path(), CWD, path, RenameFlags::EXCHANGE).is_err() {
        return Err(tmp);
    }
    // The old file now has the temporary name, which dropping the handle deletes.
    drop(tmp);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each write replaces the file whole and leaves nothing else behind; a directory in
    /// the way is an error and stays as it was.
    #[test]
    fn writes_replace_the_file_and_leave_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.wasm");
        write(&path, b"first").unwrap();
        write(&path, b"second, longer").unwrap();
        let n = write_with(&path, |f| {
            std::io::Write::write_all(f, b"third")?;
            Ok(3)
        })
        .unwrap();
        assert_eq!(n, 3);
        assert_eq!(fs_err::read(&path).unwrap(), b"third");
        let names: Vec<_> = fs_err::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["out.wasm"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs_err::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o644);
        }
        let failed = write_with(&path, |_| -> anyhow::Result<()> { anyhow::bail!("no") });
        assert!(failed.is_err());
        assert_eq!(
            fs_err::read(&path).unwrap(),
            b"third",
            "a failed write keeps the old"
        );

        let taken = dir.path().join("taken");
        fs_err::create_dir(&taken).unwrap();
        fs_err::write(taken.join("inside"), b"kept").unwrap();
        assert!(write(&taken, b"x").is_err());
        assert_eq!(fs_err::read(taken.join("inside")).unwrap(), b"kept");
        assert_eq!(fs_err::read_dir(dir.path()).unwrap().count(), 2);
    }
}
