//! `wcomp new`: render a template into a new project directory.
//!
//! Everything is rendered and checked in memory first (values against their parameters,
//! every output path against the target directory), then written to a staging directory
//! next to the target and moved into place, so a refused or failed `new` writes nothing.

use crate::ops::templates::{ParamType, Template};
use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// What `wcomp new` was asked to do.
pub struct NewOptions {
    pub template: Template,
    pub dir: PathBuf,
    /// `--set key=value` in command-line order (later wins), after `--values-file`.
    pub sets: Vec<(String, String)>,
    pub values_file: Option<PathBuf>,
    pub force: bool,
    /// Extra generated files (e.g. stubs for `--world`) that replace or add to the
    /// template's, with their paths relative to the project.
    pub extra_files: BTreeMap<String, Vec<u8>>,
    /// Values computed by the caller (e.g. the world name from `--world`).
    pub extra_values: BTreeMap<String, minijinja::Value>,
    /// Template files under these directories (e.g. `wit/` with `--world`) are left out.
    pub skip_template_dirs: Vec<String>,
}

/// What was written.
pub struct Created {
    pub dir: PathBuf,
    pub files: Vec<String>,
}

/// A value a user gave for a parameter the template does not have, or that fails it.
#[derive(Debug, thiserror::Error)]
pub enum ValueError {
    #[error("template `{template}` has no parameter `{key}`")]
    Unknown {
        template: String,
        key: String,
        known: Vec<String>,
    },
    #[error("parameter `{key}`: {reason}")]
    Invalid { key: String, reason: String },
}

/// Collects, types and checks every parameter's value.
pub fn resolve_values(
    template: &Template,
    values_file: Option<&Path>,
    sets: &[(String, String)],
) -> Result<BTreeMap<String, minijinja::Value>> {
    let m = &template.manifest;
    let mut given: BTreeMap<String, toml::Value> = BTreeMap::new();
    if let Some(path) = values_file {
        let text = fs_err::read_to_string(path)?;
        let table: toml::Table = toml::from_str(&text)
            .with_context(|| format!("`{}` is not a TOML table of values", path.display()))?;
        given.extend(table);
    }
    for (k, v) in sets {
        given.insert(k.clone(), toml::Value::String(v.clone()));
    }
    let known: Vec<String> = m.parameters.iter().map(|p| p.name.clone()).collect();
    for key in given.keys() {
        if !known.contains(key) {
            return Err(ValueError::Unknown {
                template: m.name.clone(),
                key: key.clone(),
                known: known.clone(),
            }
            .into());
        }
    }
    let mut out = BTreeMap::new();
    for p in &m.parameters {
        let raw = given.remove(&p.name).or_else(|| p.default.clone());
        let Some(raw) = raw else {
            return Err(ValueError::Invalid {
                key: p.name.clone(),
                reason: "no value given and no default".into(),
            }
            .into());
        };
        let invalid = |reason: String| ValueError::Invalid {
            key: p.name.clone(),
            reason,
        };
        let value = match (p.ty, raw) {
            (ParamType::String, toml::Value::String(s)) => {
                if let Some(pattern) = &p.pattern {
                    let re = regex::Regex::new(&format!("^(?:{pattern})$"))?;
                    if !re.is_match(&s) {
                        return Err(invalid(format!(
                            "`{s}` does not match the pattern `{pattern}` ({})",
                            p.description
                        ))
                        .into());
                    }
                }
                if !p.allowed.is_empty() && !p.allowed.contains(&s) {
                    return Err(
                        invalid(format!("`{s}` is not one of: {}", p.allowed.join(", "))).into(),
                    );
                }
                minijinja::Value::from(s)
            }
            (ParamType::Bool, toml::Value::Boolean(b)) => minijinja::Value::from(b),
            (ParamType::Bool, toml::Value::String(s)) => match s.as_str() {
                "true" | "yes" | "1" => minijinja::Value::from(true),
                "false" | "no" | "0" => minijinja::Value::from(false),
                _ => return Err(invalid(format!("`{s}` is not a boolean (true or false)")).into()),
            },
            (ParamType::Integer, toml::Value::Integer(i)) => minijinja::Value::from(i),
            (ParamType::Integer, toml::Value::String(s)) => match s.parse::<i64>() {
                Ok(i) => minijinja::Value::from(i),
                Err(_) => return Err(invalid(format!("`{s}` is not an integer")).into()),
            },
            (ty, v) => {
                return Err(
                    invalid(format!("expected a {ty:?} value, got `{v}`").to_lowercase()).into(),
                );
            }
        };
        out.insert(p.name.clone(), value);
    }
    Ok(out)
}

/// Splits a WIT package name `namespace:name` into its parts, checking both are WIT
/// identifiers (lowercase kebab-case words, each starting with a letter).
pub fn split_package_name(name: &str) -> Result<(String, String)> {
    let ok_ident = |s: &str| {
        !s.is_empty()
            && s.split('-').all(|w| {
                w.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                    && w.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            })
    };
    match name.split_once(':') {
        Some((ns, pkg)) if ok_ident(ns) && ok_ident(pkg) => Ok((ns.to_string(), pkg.to_string())),
        _ => bail!(
            "`{name}` is not a valid WIT package name: expected `namespace:name`, each part \
             lowercase words joined by `-` (for example `example:hello-world`)"
        ),
    }
}

/// Checks that a rendered path stays inside the project: relative, no `..`, no empty or
/// odd components.
fn safe_relative(rendered: &str, template_path: &str) -> Result<PathBuf> {
    let bad = |why: &str| {
        anyhow::anyhow!(
            "template file `{template_path}` renders to `{rendered}`, which {why}; refusing \
             to write outside the project directory"
        )
    };
    if rendered.contains('\\') || rendered.contains('\0') || rendered.contains(':') {
        return Err(bad("contains `\\`, `:` or a NUL byte"));
    }
    let path = Path::new(rendered);
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err(bad("contains `..`")),
            Component::RootDir | Component::Prefix(_) => return Err(bad("is absolute")),
        }
    }
    if out.as_os_str().is_empty() {
        return Err(bad("is empty"));
    }
    Ok(out)
}

/// Renders and writes the project.
pub fn create(opts: NewOptions) -> Result<Created> {
    let mut values = resolve_values(&opts.template, opts.values_file.as_deref(), &opts.sets)?;
    let name = values
        .get("name")
        .and_then(|v| v.as_str().map(str::to_string))
        .context("template has no `name` parameter")?;
    let (namespace, package) = split_package_name(&name)?;
    // The world is named after the package, except where that would clash with the
    // interface the built-in templates export (`greeter`): a package's items share one
    // namespace.
    let world = if package == "greeter" {
        format!("{package}-world")
    } else {
        package.clone()
    };
    let derived = [
        ("namespace", namespace.clone()),
        ("package", package.clone()),
        ("snake_name", package.replace('-', "_")),
        ("camel_name", upper_camel(&package)),
        ("world", world),
        (
            "wasi_http_version",
            crate::ops::wasi_wit::HTTP_VERSION.to_string(),
        ),
    ];
    for (k, v) in derived {
        values.entry(k.to_string()).or_insert_with(|| v.into());
    }
    // Templates can test `from_world` whether or not `--world` was given.
    values
        .entry("from_world".to_string())
        .or_insert_with(|| false.into());
    for (k, v) in &opts.extra_values {
        values.insert(k.clone(), v.clone());
    }

    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    let ctx = minijinja::Value::from_serialize(&values);

    let mut rendered: BTreeMap<PathBuf, Vec<u8>> = BTreeMap::new();
    for (path, bytes) in &opts.template.files {
        let out_path = env
            .render_str(path, &ctx)
            .with_context(|| format!("failed to render the file name `{path}`"))?;
        // A file name that renders empty is a file the template leaves out.
        if out_path.trim().is_empty() || out_path.ends_with('/') {
            continue;
        }
        let out_path = safe_relative(&out_path, path)?;
        if opts
            .skip_template_dirs
            .iter()
            .any(|d| out_path.starts_with(d))
        {
            continue;
        }
        let content = match std::str::from_utf8(bytes) {
            Ok(text) => env
                .render_str(text, &ctx)
                .with_context(|| format!("failed to render template file `{path}`"))?
                .into_bytes(),
            Err(_) => bytes.clone(),
        };
        rendered.insert(out_path, content);
    }
    // Copied as they are, not rendered; with `--world` the WIT is the given world's.
    if opts.template.manifest.wasi_deps && !opts.skip_template_dirs.iter().any(|d| d == "wit") {
        for (path, text) in crate::ops::wasi_wit::deps_files() {
            rendered.insert(PathBuf::from(path), text.as_bytes().to_vec());
        }
    }
    for (path, bytes) in &opts.extra_files {
        rendered.insert(safe_relative(path, path)?, bytes.clone());
    }

    let dir = &opts.dir;
    let exists = dir.exists();
    if exists {
        if !dir.is_dir() {
            bail!("`{}` exists and is not a directory", dir.display());
        }
        let non_empty = fs_err::read_dir(dir)?.next().is_some();
        if non_empty && !opts.force {
            bail!(
                "`{}` exists and is not empty; choose another directory, or pass `--force` to \
                 write the template's files into it",
                dir.display()
            );
        }
    }
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs_err::create_dir_all(&parent)?;
    let staging = tempfile::Builder::new()
        .prefix(".wcomp-new-")
        .tempdir_in(&parent)
        .with_context(|| {
            format!(
                "failed to create a staging directory in `{}`",
                parent.display()
            )
        })?;
    for (rel, bytes) in &rendered {
        let target = staging.path().join(rel);
        if let Some(p) = target.parent() {
            fs_err::create_dir_all(p)?;
        }
        fs_err::write(&target, bytes)?;
    }
    if exists {
        // Only an empty directory or `--force` gets here: copy the staged files over.
        for rel in rendered.keys() {
            let target = dir.join(rel);
            if let Some(p) = target.parent() {
                fs_err::create_dir_all(p)?;
            }
            fs_err::rename(staging.path().join(rel), &target)?;
        }
    } else {
        let staged = staging.keep();
        fs_err::rename(&staged, dir)?;
    }
    Ok(Created {
        dir: dir.clone(),
        files: rendered.keys().map(|p| p.display().to_string()).collect(),
    })
}

fn upper_camel(kebab: &str) -> String {
    kebab
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_names_are_checked() {
        assert!(split_package_name("example:hello-world").is_ok());
        for bad in [
            "hello",
            "Example:x",
            "a:b:c",
            "a:-b",
            "a:1b",
            "a:b_c",
            ":b",
            "a:",
        ] {
            assert!(split_package_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rendered_paths_stay_inside() {
        assert!(safe_relative("src/lib.rs", "x").is_ok());
        for bad in ["../x", "/etc/passwd", "a/../../b", "", "c:\\x", "a\\b"] {
            assert!(safe_relative(bad, "x").is_err(), "{bad}");
        }
    }
}
