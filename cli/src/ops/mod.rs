//! The work behind the commands: one module per verb, called by `commands/`.

pub mod build;
pub mod build_go;
pub mod compose_ws;
pub mod manifest;
pub mod new_world;
pub mod parts;
pub mod run;
pub mod scaffold;
pub mod sql;
pub mod stubs;
pub mod templates;
pub mod toolchain;

/// The machine or the invocation lacks something the operation needs (a toolchain, a
/// Rust target, a `wcomp.toml`): exit code 2, as opposed to an operation that ran and
/// failed (exit code 1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct EnvironmentError(pub String);

/// Writes next to the destination and renames, so readers never see half a file. The file
/// gets the usual 0644 mode (a temporary file starts private).
pub fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    use anyhow::Context;
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    fs_err::create_dir_all(parent)?;
    let mut tmp = tempfile::NamedTempFile::new_in(parent)
        .with_context(|| format!("cannot write to `{}`", parent.display()))?;
    std::io::Write::write_all(&mut tmp, bytes)
        .with_context(|| format!("failed to write `{}`", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.persist(path)
        .with_context(|| format!("failed to write `{}`", path.display()))?;
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
