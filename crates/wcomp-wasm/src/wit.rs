//! Loading WIT packages and choosing a world.

use crate::Error;
use crate::component::{Decoded, decode};
use crate::input::{self, Content};
use std::path::{Path, PathBuf};
use wit_parser::ResolveErrorKind;
use wit_parser::{PackageId, Resolve, ResolveError, WorldId};

/// A resolved WIT package together with everything it depends on.
pub struct WitPackage {
    pub resolve: Resolve,
    pub package: PackageId,
}

impl WitPackage {
    /// `namespace:name@version` of the main package.
    pub fn name(&self) -> String {
        self.resolve.packages[self.package].name.to_string()
    }

    /// Names of the main package's worlds, in source order.
    pub fn world_names(&self) -> Vec<String> {
        self.resolve.packages[self.package]
            .worlds
            .keys()
            .cloned()
            .collect()
    }

    /// Picks a world: the one named, or the only one there is.
    ///
    /// A name may be plain (`app`) or qualified (`example:app/app@1.0.0`).
    pub fn select_world(&self, name: Option<&str>) -> Result<WorldId, Error> {
        let pkg = &self.resolve.packages[self.package];
        match name {
            Some(name) if name.contains(':') || name.contains('/') => self
                .resolve
                .select_world(&[self.package], Some(name))
                .map_err(|_| Error::UnknownWorld {
                    requested: name.to_string(),
                    package: self.name(),
                    available: self.world_names(),
                }),
            Some(name) => pkg
                .worlds
                .get(name)
                .copied()
                .ok_or_else(|| Error::UnknownWorld {
                    requested: name.to_string(),
                    package: self.name(),
                    available: self.world_names(),
                }),
            None => match pkg.worlds.len() {
                0 => Err(Error::NoWorlds {
                    package: self.name(),
                }),
                1 => Ok(*pkg.worlds.values().next().unwrap()),
                _ => Err(Error::AmbiguousWorld {
                    package: self.name(),
                    available: self.world_names(),
                }),
            },
        }
    }
}

/// Loads a WIT package from a directory (with its `deps/`), a `.wit` file, or a WIT
/// package encoded as wasm.
pub fn load(path: &Path) -> Result<WitPackage, Error> {
    if !path.exists() {
        return Err(Error::NotFound(path.to_path_buf()));
    }
    let mut resolve = Resolve::new();
    if path.is_dir() {
        let result = resolve.push_dir(path);
        return match result {
            Ok((package, _)) => Ok(WitPackage { resolve, package }),
            Err(e) => Err(wit_error(&resolve, path, &e, Some(path.join("deps")))),
        };
    }
    let bytes = input::read_file(path)?;
    let name = path.display().to_string();
    match input::classify(&name, &bytes)? {
        Content::Wasm(bin) => match decode(&bin.bytes)? {
            Decoded::WitPackage(resolve, package) => Ok(WitPackage { resolve, package }),
            Decoded::Component(_) => Err(Error::ComponentNotWitPackage { name }),
        },
        Content::WitText(text) => load_text(&name, text),
    }
}

/// Parses WIT source text as a single-file package (dependencies must be inline).
pub fn load_text(name: &str, text: &str) -> Result<WitPackage, Error> {
    let mut resolve = Resolve::new();
    match resolve.push_str(name, text) {
        Ok(package) => Ok(WitPackage { resolve, package }),
        Err(e) => Err(wit_error(&resolve, Path::new(name), &e, None)),
    }
}

/// Turns a wit-parser error into ours, with the source location and snippet rendered.
fn wit_error(resolve: &Resolve, path: &Path, e: &anyhow::Error, deps: Option<PathBuf>) -> Error {
    let resolve_kind = e.chain().find_map(|l| l.downcast_ref::<ResolveError>());
    let rendered = resolve.render_error(e);
    // Drop wit-parser's own "failed to parse package: <dir>" prefixes; we name the path.
    let message = strip_context_prefixes(&rendered).to_string();
    match resolve_kind.map(|r| r.kind()) {
        Some(ResolveErrorKind::PackageNotFound { .. }) => Error::WitResolve {
            path: path.display().to_string(),
            message,
            searched: deps,
        },
        Some(_) => Error::WitResolve {
            path: path.display().to_string(),
            message,
            searched: None,
        },
        None => Error::WitSyntax {
            path: path.display().to_string(),
            message,
        },
    }
}

fn strip_context_prefixes(s: &str) -> &str {
    let mut rest = s;
    for prefix in [
        "failed to parse package: ",
        "failed to parse dependency directory: ",
    ] {
        if let Some(after) = rest.strip_prefix(prefix) {
            rest = after.split_once(": ").map_or(after, |(_, tail)| tail);
        }
    }
    rest
}
