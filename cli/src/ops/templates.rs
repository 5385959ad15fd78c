//! Templates: the built-in ones embedded from `templates/`, and user template directories
//! added with `wcomp templates add` (stored under the user's config dir, where they shadow
//! built-ins of the same name).
//!
//! A template is a directory with `template.toml` (name, language, description, typed
//! parameters) and `content/`, whose files (and file names) are minijinja templates.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/builtin_templates.rs"));
}

/// `template.toml`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    pub language: String,
    pub description: String,
    /// Write the WASI 0.2 WIT that wcomp embeds (`wasi:http` and the packages it uses,
    /// see `ops::wasi_wit`) into the project's `wit/deps/`, for worlds that include
    /// `wasi:http/proxy`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub wasi_deps: bool,
    #[serde(default, rename = "parameter")]
    pub parameters: Vec<Parameter>,
}

/// A typed template parameter.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Parameter {
    pub name: String,
    pub description: String,
    #[serde(rename = "type", default = "ParamType::default_string")]
    pub ty: ParamType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<toml::Value>,
    /// A regular expression the whole value must match (strings only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// The only values accepted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    String,
    Bool,
    Integer,
}

impl ParamType {
    fn default_string() -> ParamType {
        ParamType::String
    }
}

/// Where a template comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Builtin,
    User,
}

/// A loaded template: its manifest and the raw files of `content/`.
#[derive(Debug, Clone)]
pub struct Template {
    pub manifest: Manifest,
    pub origin: Origin,
    /// Relative path (with `/` separators, still a template) to raw bytes.
    pub files: BTreeMap<String, Vec<u8>>,
}

/// The directory user templates are stored in.
pub fn user_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(crate::env::CONFIG_DIR) {
        return Some(PathBuf::from(dir).join("templates"));
    }
    dirs::config_dir().map(|d| d.join("wcomp").join("templates"))
}

/// Every template, built-ins first, then user templates (which replace built-ins of the
/// same name). Sorted by name.
pub fn all() -> Result<Vec<Template>> {
    let mut by_name: BTreeMap<String, Template> = BTreeMap::new();
    for t in builtin()? {
        by_name.insert(t.manifest.name.clone(), t);
    }
    if let Some(dir) = user_dir().filter(|d| d.is_dir()) {
        let mut entries: Vec<_> = fs_err::read_dir(&dir)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let t = load_dir(&entry.path(), Origin::User).with_context(|| {
                format!("failed to load user template `{}`", entry.path().display())
            })?;
            by_name.insert(t.manifest.name.clone(), t);
        }
    }
    Ok(by_name.into_values().collect())
}

/// The template called `name`, or an error listing the close names.
pub fn find(name: &str) -> Result<Template> {
    let all = all()?;
    let names: Vec<&str> = all.iter().map(|t| t.manifest.name.as_str()).collect();
    if let Some(t) = all.iter().find(|t| t.manifest.name == name) {
        return Ok(t.clone());
    }
    let close = wcomp_wasm::check::similar(name, names.iter().copied());
    let mut msg = format!("unknown template `{name}`");
    if !close.is_empty() {
        msg.push_str(&format!(
            "; did you mean {}?",
            close
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(" or ")
        ));
    }
    bail!("{msg}\navailable templates: {}", names.join(", "))
}

fn builtin() -> Result<Vec<Template>> {
    let mut grouped: BTreeMap<&str, BTreeMap<String, Vec<u8>>> = BTreeMap::new();
    let mut manifests: BTreeMap<&str, &[u8]> = BTreeMap::new();
    for (path, bytes) in embedded::BUILTIN_FILES {
        let Some((name, rest)) = path.split_once('/') else {
            continue;
        };
        if rest == "template.toml" {
            manifests.insert(name, bytes);
        } else if let Some(file) = rest.strip_prefix("content/") {
            grouped
                .entry(name)
                .or_default()
                .insert(file.to_string(), bytes.to_vec());
        }
    }
    manifests
        .into_iter()
        .map(|(name, bytes)| {
            let manifest = parse_manifest(bytes, &format!("built-in template `{name}`"))?;
            Ok(Template {
                manifest,
                origin: Origin::Builtin,
                files: grouped.remove(name).unwrap_or_default(),
            })
        })
        .collect()
}

fn parse_manifest(bytes: &[u8], what: &str) -> Result<Manifest> {
    let text = std::str::from_utf8(bytes)
        .with_context(|| format!("{what}: template.toml is not UTF-8"))?;
    let manifest: Manifest =
        toml::from_str(text).with_context(|| format!("{what}: invalid template.toml"))?;
    for p in &manifest.parameters {
        if let Some(pattern) = &p.pattern {
            regex::Regex::new(pattern).with_context(|| {
                format!("{what}: parameter `{}` has an invalid pattern", p.name)
            })?;
        }
    }
    Ok(manifest)
}

/// Loads a template directory, refusing symlinks anywhere inside it (a symlink could make
/// `wcomp new` read or write outside the template).
pub fn load_dir(dir: &Path, origin: Origin) -> Result<Template> {
    let meta = fs_err::symlink_metadata(dir)?;
    if meta.file_type().is_symlink() {
        bail!(
            "`{}` is a symlink; templates may not contain symlinks",
            dir.display()
        );
    }
    let manifest_path = dir.join("template.toml");
    if !manifest_path.is_file() {
        bail!("`{}` has no template.toml", dir.display());
    }
    let manifest = parse_manifest(
        &fs_err::read(&manifest_path)?,
        &format!("`{}`", dir.display()),
    )?;
    let mut files = BTreeMap::new();
    let content = dir.join("content");
    if content.exists() {
        collect(&content, &content, &mut files)?;
    }
    Ok(Template {
        manifest,
        origin,
        files,
    })
}

fn collect(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) -> Result<()> {
    for entry in fs_err::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let ty = entry.file_type()?;
        if ty.is_symlink() {
            bail!(
                "template file `{}` is a symlink; templates may not contain symlinks",
                path.display()
            );
        }
        if ty.is_dir() {
            collect(root, &path, out)?;
        } else {
            let rel = path.strip_prefix(root).unwrap();
            let rel: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.insert(rel.join("/"), fs_err::read(&path)?);
        }
    }
    Ok(())
}

/// Validates `dir` as a template and copies it into the user template directory.
pub fn add(dir: &Path) -> Result<Template> {
    let t = load_dir(dir, Origin::User)?;
    let name = &t.manifest.name;
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        || name.is_empty()
    {
        bail!("template name `{name}` may contain only letters, digits, `-` and `_`");
    }
    let store = user_dir().context("cannot find a config directory for user templates")?;
    let dest = store.join(name);
    fs_err::create_dir_all(&store)?;
    // Stage next to the destination and swap it in, so a failed copy leaves the old one.
    let staging = tempfile::Builder::new()
        .prefix(".adding-")
        .tempdir_in(&store)?;
    let staged = staging.path().join(name);
    fs_err::create_dir_all(staged.join("content"))?;
    fs_err::copy(dir.join("template.toml"), staged.join("template.toml"))?;
    for (rel, bytes) in &t.files {
        let target = staged.join("content").join(rel);
        if let Some(parent) = target.parent() {
            fs_err::create_dir_all(parent)?;
        }
        fs_err::write(target, bytes)?;
    }
    if dest.exists() {
        fs_err::remove_dir_all(&dest)?;
    }
    fs_err::rename(&staged, &dest)?;
    load_dir(&dest, Origin::User)
}
