use std::path::PathBuf;

/// Everything that can go wrong while reading or analysing a component or a WIT package.
///
/// Each variant names the thing that failed; [`Error::hint`] suggests a fix where one is
/// likely.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to read `{path}`")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{0}` does not exist")]
    NotFound(PathBuf),
    #[error("`{name}` is empty")]
    Empty { name: String },
    #[error("`{name}` is not a WebAssembly file: {what}")]
    NotWasm { name: String, what: String },
    #[error("`{name}` is a core WebAssembly module, not a component")]
    CoreModule { name: String },
    #[error("`{name}` is a WebAssembly binary of an unknown version ({version:#x}, layer {layer})")]
    UnknownVersion {
        name: String,
        version: u16,
        layer: u16,
    },
    #[error("`{name}` is truncated: the data ends at byte {len} ({message})")]
    Truncated {
        name: String,
        len: usize,
        message: String,
    },
    #[error("`{name}` is not a valid component: {message} (at byte offset {offset:#x})")]
    Invalid {
        name: String,
        offset: usize,
        message: String,
    },
    #[error("`{name}` is not valid WAT text:\n{message}")]
    Wat { name: String, message: String },
    #[error("failed to parse WIT in `{path}`:\n{message}")]
    WitSyntax { path: String, message: String },
    #[error("failed to resolve WIT in `{path}`: {message}")]
    WitResolve {
        path: String,
        message: String,
        searched: Option<PathBuf>,
    },
    #[error("`{name}` is a WIT package, not a component")]
    WitPackageNotComponent { name: String },
    #[error("`{name}` is a component, not a WIT package")]
    ComponentNotWitPackage { name: String },
    #[error("the component's world cannot be expressed in WIT: {message}")]
    Undecodable { message: String },
    #[error("no world named `{requested}` in package `{package}`")]
    UnknownWorld {
        requested: String,
        package: String,
        available: Vec<String>,
    },
    #[error("package `{package}` has {} worlds; choose one with `--world`", available.len())]
    AmbiguousWorld {
        package: String,
        available: Vec<String>,
    },
    #[error("package `{package}` has no worlds")]
    NoWorlds { package: String },
}

impl Error {
    /// The exit code the error maps to: a missing or unreadable file is an environment
    /// error ([`wcomp_core::exit::USAGE`]), bad contents are a failure
    /// ([`wcomp_core::exit::FAILURE`]).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::NotFound(_) | Error::Read { .. } => wcomp_core::exit::USAGE,
            _ => wcomp_core::exit::FAILURE,
        }
    }

    /// A suggestion for the likely fix, when there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::CoreModule { .. } => Some(
                "a component wraps core modules with typed imports and exports; build the \
                 project with `wcomp build`, or componentize this module (for example with \
                 `wasm-tools component new <module> --adapt <wasi-adapter>`)"
                    .to_string(),
            ),
            Error::Truncated { .. } => Some(
                "the file was probably cut short while copying or downloading; rebuild or \
                 fetch it again"
                    .to_string(),
            ),
            Error::NotWasm { .. } | Error::Empty { .. } => Some(
                "pass a component binary (`.wasm`), its WAT text, or a WIT package".to_string(),
            ),
            Error::WitResolve {
                searched: Some(dir),
                ..
            } => Some(format!(
                "dependencies are looked up in `{}`; put the missing package there (one \
                 directory or `.wit` file per package), or fetch it with `wkg wit fetch`",
                dir.display()
            )),
            Error::UnknownWorld { available, .. } | Error::AmbiguousWorld { available, .. }
                if !available.is_empty() =>
            {
                Some(format!("worlds in this package: {}", available.join(", ")))
            }
            Error::WitPackageNotComponent { .. } => {
                Some("to check a component against this package, pass it with `--wit`".to_string())
            }
            _ => None,
        }
    }
}
