//! `wcomp.toml`: the project manifest (docs/manifest.md).
//!
//! A component project has `[package]` and `[component]`; a workspace has
//! `[workspace] members = [...]`. One file may be both.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = "wcomp.toml";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub package: Option<Package>,
    pub component: Option<Component>,
    pub workspace: Option<Workspace>,
    /// `[composition]`, or several as `[[composition]]`, each with its own output.
    #[serde(default, rename = "composition", deserialize_with = "one_or_many")]
    pub compositions: Vec<Composition>,
    /// The trust policy table, read by `ops::userconfig` (docs/trust.md); accepted here
    /// so a project can carry it without `wcomp build` refusing the file.
    #[serde(default, rename = "trust")]
    pub _trust: Option<toml::Value>,
    /// WIT dependencies, read by `ops::deps` (`wcomp wit fetch`).
    #[serde(default, rename = "dependencies")]
    pub _dependencies: Option<toml::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Package {
    /// WIT package name, `namespace:name`.
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    pub language: Language,
    /// The world the component implements, in the package under `wit`.
    pub world: String,
    /// The WIT directory, relative to the manifest.
    #[serde(default = "default_wit")]
    pub wit: PathBuf,
}

fn default_wit() -> PathBuf {
    PathBuf::from("wit")
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workspace {
    pub members: Vec<PathBuf>,
}

/// A workspace's composition: after the members are built, `wcomp build` composes their
/// outputs (docs/manifest.md, docs/compose.md).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Composition {
    /// The member whose exports the composition exports.
    pub root: String,
    /// Members plugged in; any may satisfy any other's imports.
    #[serde(default)]
    pub plugs: Vec<String>,
    /// `importer:import=exporter[:export]`, as `wcomp compose --wire`.
    #[serde(default)]
    pub wires: Vec<String>,
    /// Where the composed component goes, relative to the manifest. Default:
    /// `build/<workspace directory name>.wasm`.
    pub output: Option<PathBuf>,
    /// Refuse a composition that still has imports.
    #[serde(default)]
    pub no_imports: bool,
}

/// `[composition]` (a table) or `[[composition]]` (an array of tables).
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Composition>, D::Error> {
    match toml::Value::deserialize(d)? {
        toml::Value::Array(items) => items
            .into_iter()
            .map(|v| Composition::deserialize(v).map_err(serde::de::Error::custom))
            .collect(),
        table => Composition::deserialize(table)
            .map(|c| vec![c])
            .map_err(serde::de::Error::custom),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Rust,
    Go,
    Python,
    #[serde(alias = "js")]
    Javascript,
    C,
    #[serde(alias = "c++")]
    Cpp,
}

impl Language {
    pub fn name(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::Go => "go",
            Language::Python => "python",
            Language::Javascript => "javascript",
            Language::C => "c",
            Language::Cpp => "cpp",
        }
    }
}

impl Manifest {
    /// Reads `dir/wcomp.toml`.
    pub fn load(dir: &Path) -> Result<Manifest> {
        let path = dir.join(FILE_NAME);
        if !path.is_file() {
            return Err(crate::ops::EnvironmentError(format!(
                "no `{FILE_NAME}` in `{}`; run `wcomp new` to start a project, or pass the \
                 project directory",
                dir.display()
            ))
            .into());
        }
        let text = fs_err::read_to_string(&path)?;
        let m: Manifest =
            toml::from_str(&text).with_context(|| format!("invalid `{}`", path.display()))?;
        if m.component.is_some() && m.package.is_none() {
            bail!("`{}` has a [component] but no [package]", path.display());
        }
        if !m.compositions.is_empty() && m.workspace.is_none() {
            bail!(
                "`{}` has a [composition] but no [workspace]: a composition is made of \
                 workspace members",
                path.display()
            );
        }
        if m.component.is_none() && m.workspace.is_none() {
            bail!(
                "`{}` has neither [component] nor [workspace]; nothing to build",
                path.display()
            );
        }
        Ok(m)
    }
}

/// The file name stem for a package's output: `example:hello-world` -> `hello-world`.
pub fn output_stem(package: &Package) -> &str {
    package
        .name
        .split_once(':')
        .map_or(package.name.as_str(), |(_, n)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trust_table_is_accepted_beside_the_project_tables() {
        let m: Manifest = toml::from_str(
            "[package]\nname = \"a:b\"\nversion = \"0.1.0\"\n[trust]\nkeys = [{ key = \"k.pub\", for = \"**\" }]\n",
        )
        .unwrap();
        assert!(m._trust.is_some());
        assert!(toml::from_str::<Manifest>("[nope]\n").is_err());
    }

    #[test]
    fn one_composition_or_several() {
        let ws = "[workspace]\nmembers = [\"a\", \"b\"]\n";
        let one: Manifest = toml::from_str(&format!(
            "{ws}[composition]\nroot = \"a\"\nplugs = [\"b\"]\n"
        ))
        .unwrap();
        assert_eq!(one.compositions.len(), 1);
        let two: Manifest = toml::from_str(&format!(
            "{ws}[[composition]]\nroot = \"a\"\noutput = \"x.wasm\"\n\
             [[composition]]\nroot = \"b\"\noutput = \"y.wasm\"\n"
        ))
        .unwrap();
        assert_eq!(two.compositions.len(), 2);
        assert_eq!(two.compositions[1].root, "b");
        let none: Manifest = toml::from_str(ws).unwrap();
        assert!(none.compositions.is_empty());
        let err = toml::from_str::<Manifest>(&format!("{ws}[composition]\nrot = \"a\"\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("rot"), "{err}");
    }
}
