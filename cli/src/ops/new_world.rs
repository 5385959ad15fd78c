//! `wcomp new --world <wit>[:world]`: the WIT and export stubs a project for an existing
//! world starts from.
//!
//! The WIT is copied into the project's `wit/` in the layout every build pipeline reads
//! (`wit/*.wit` for the main package, `wit/deps/` for the others): a directory's `.wit`
//! files and its whole `deps/` as they are, a single `.wit` file as it is, and a WIT
//! package encoded as wasm printed back to text (one file, its dependencies as nested
//! packages). The copy is loaded again before anything is written, so a project is
//! never created with WIT its build could not read.

use crate::ops::manifest::Language;
use crate::ops::stubs;
use anyhow::{Context as _, Result, bail};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use wcomp_wasm::wit::{self, WitPackage};

/// Where `--world` points: a path and, after a final `:`, a world name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorldArg {
    pub path: PathBuf,
    pub world: Option<String>,
}

impl WorldArg {
    /// `wit`, `wit:app`, `api.wit:app`, `pkg.wasm`. A path that exists as given wins over
    /// reading its last `:` as the world separator.
    pub fn parse(s: &str) -> WorldArg {
        if !Path::new(s).exists()
            && let Some((path, world)) = s.rsplit_once(':')
            && !path.is_empty()
            && is_world_name(world)
        {
            return WorldArg {
                path: PathBuf::from(path),
                world: Some(world.to_string()),
            };
        }
        WorldArg {
            path: PathBuf::from(s),
            world: None,
        }
    }
}

fn is_world_name(s: &str) -> bool {
    !s.is_empty()
        && s.split('-').all(|w| {
            w.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && w.chars().all(|c| c.is_ascii_alphanumeric())
        })
}

/// What a project for an existing world starts from.
pub struct FromWorld {
    /// The world's package, `namespace:name` (no version): the default project name.
    pub package_name: String,
    /// The world's name (plain: it is in the project's main package).
    pub world: String,
    /// The WIT files, by path relative to the project (`wit/...`).
    pub wit_files: BTreeMap<String, Vec<u8>>,
    /// The export stubs, by path relative to the project.
    pub stubs: BTreeMap<String, String>,
}

/// Loads the WIT `arg` names, picks the world, copies the WIT and renders stubs in
/// `language`. Errors are `wcomp_wasm::Error`s where the WIT or the world is the
/// problem, so the CLI can show their hints.
pub fn prepare(arg: &WorldArg, language: Language) -> Result<FromWorld> {
    let pkg = wit::load(&arg.path)?;
    let world_id = pkg.select_world(arg.world.as_deref())?;
    let world = pkg.resolve.worlds[world_id].name.clone();
    let name = &pkg.resolve.packages[pkg.package].name;
    let package_name = format!("{}:{}", name.namespace, name.name);
    let wit_files = copy_wit(&arg.path, &pkg)?;
    check_copy(&wit_files, &world).with_context(|| {
        format!(
            "the WIT copied from `{}` does not load in the project's layout",
            arg.path.display()
        )
    })?;
    let stubs = match language {
        Language::C | Language::Cpp => c_stubs(&wit_files, language, &pkg, world_id)?,
        _ => stubs::generate(language, &pkg.resolve, world_id)?,
    };
    Ok(FromWorld {
        package_name,
        world,
        wit_files,
        stubs,
    })
}

fn copy_wit(path: &Path, pkg: &WitPackage) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut files = BTreeMap::new();
    if path.is_dir() {
        for entry in fs_err::read_dir(path)? {
            let entry = entry?;
            let p = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type()?.is_file() && name.ends_with(".wit") {
                files.insert(format!("wit/{name}"), fs_err::read(&p)?);
            }
        }
        let deps = path.join("deps");
        if deps.is_dir() {
            copy_tree(&deps, "wit/deps", &mut files)?;
        }
        return Ok(files);
    }
    let bytes = fs_err::read(path)?;
    let is_text = std::str::from_utf8(&bytes).is_ok() && !bytes.starts_with(b"\0asm");
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "world.wit".into());
    if is_text && file_name.ends_with(".wit") {
        files.insert(format!("wit/{file_name}"), bytes);
        return Ok(files);
    }
    // Encoded (or WAT) package: print it, with every other package nested in it.
    let others: Vec<_> = pkg
        .resolve
        .packages
        .iter()
        .map(|(id, _)| id)
        .filter(|id| *id != pkg.package)
        .collect();
    let mut printer = wit_component::WitPrinter::default();
    printer
        .print(&pkg.resolve, pkg.package, &others)
        .context("failed to print the WIT package as text")?;
    files.insert(
        "wit/world.wit".into(),
        printer.output.to_string().into_bytes(),
    );
    Ok(files)
}

fn copy_tree(dir: &Path, prefix: &str, out: &mut BTreeMap<String, Vec<u8>>) -> Result<()> {
    for entry in fs_err::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        // Follows symlinks: a deps/ entry linked from elsewhere is copied as content.
        if path.is_dir() {
            copy_tree(&path, &format!("{prefix}/{name}"), out)?;
        } else if path.is_file() {
            out.insert(format!("{prefix}/{name}"), fs_err::read(&path)?);
        }
    }
    Ok(())
}

/// C and C++ stubs: `wit-bindgen c` writes the header for the copied WIT in a scratch
/// directory, and the stubs copy their signatures from it.
fn c_stubs(
    files: &BTreeMap<String, Vec<u8>>,
    language: Language,
    pkg: &WitPackage,
    world: wit_parser::WorldId,
) -> Result<BTreeMap<String, String>> {
    let wit_bindgen = crate::ops::build_c::locate_wit_bindgen()?;
    let tmp = tempfile::tempdir()?;
    write_tree(tmp.path(), files)?;
    let name = &pkg.resolve.worlds[world].name;
    let out = tmp.path().join("gen");
    crate::ops::build_c::generate_bindings(&wit_bindgen, &tmp.path().join("wit"), name, &out)?;
    let header =
        fs_err::read_to_string(out.join(format!("{}.h", crate::ops::build_c::c_world_name(name))))?;
    stubs::generate_c(language, &pkg.resolve, world, &header)
}

fn write_tree(dir: &Path, files: &BTreeMap<String, Vec<u8>>) -> Result<()> {
    for (rel, bytes) in files {
        let target = dir.join(rel);
        if let Some(parent) = target.parent() {
            fs_err::create_dir_all(parent)?;
        }
        fs_err::write(&target, bytes)?;
    }
    Ok(())
}

/// Writes the copy to a scratch directory and loads it as the build will.
fn check_copy(files: &BTreeMap<String, Vec<u8>>, world: &str) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    write_tree(tmp.path(), files)?;
    let copy = wit::load(&tmp.path().join("wit"))?;
    copy.select_world(Some(world))?;
    if files.is_empty() {
        bail!("no WIT files were found");
    }
    Ok(())
}

/// The language of a template, as `template.toml` names it.
pub fn template_language(language: &str) -> Result<Language> {
    Ok(match language.to_ascii_lowercase().as_str() {
        "rust" => Language::Rust,
        "go" => Language::Go,
        "python" => Language::Python,
        "javascript" | "js" => Language::Javascript,
        "c" => Language::C,
        "cpp" | "c++" => Language::Cpp,
        other => bail!(
            "`--world` generates stubs in rust, go, python, javascript, c or cpp, but the \
             template's language is `{other}`"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn world_arg_splits_on_the_last_colon() {
        let p = WorldArg::parse;
        assert_eq!(
            p("no/such/wit:app"),
            WorldArg {
                path: "no/such/wit".into(),
                world: Some("app".into())
            }
        );
        assert_eq!(p("no/such/api.wit").world, None);
        assert_eq!(p("no/such:bad name").world, None);
        assert_eq!(
            p("x.wasm:my-world"),
            WorldArg {
                path: "x.wasm".into(),
                world: Some("my-world".into())
            }
        );
    }
}
