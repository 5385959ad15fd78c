use super::CliError;
use crate::ops::new_world::{self, WorldArg};
use crate::ops::scaffold::{self, NewOptions};
use crate::ops::templates;
use crate::printer::{self, BOLD, OK, paint};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Start a component project from a template.
///
/// Renders the template into a new directory: `wcomp.toml`, `wit/`, source and a
/// README. `wcomp build` in that directory then produces a component.
///
/// With `--world`, the project implements an existing world instead of the template's
/// example: its WIT is copied into `wit/`, `wcomp.toml` names the world, and the source
/// has a stub for every export, in the template's language, that fails with
/// "not implemented" until you write it.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  wcomp new rust hello                          a Rust component in ./hello
  wcomp new python greeter --name acme:greeter  with a chosen WIT package name
  wcomp new js hi --set greeting=Hi             set a template parameter
  wcomp new rust-http api                       an HTTP handler for `wcomp serve`
  wcomp new go api --http                       the same as `wcomp new go-http api`
  wcomp new c codec                             a C component (clang for wasm32-wasi)
  wcomp new cpp svc --world ../api/wit          C++ stubs for an existing world
  wcomp new go svc --values-file values.toml    parameters from a TOML file
  wcomp new rust svc --world ../api/wit         stubs for the only world in ../api/wit
  wcomp new python svc --world api.wit:server   stubs for world `server` of a .wit file
  wcomp new js svc --world api.wasm             a WIT package encoded as wasm
  wcomp templates list                          the templates and their parameters

Exit codes: 0 created, 2 refused (unknown template, bad value, non-empty directory,
a --world that is missing, invalid or ambiguous, or that the language cannot build);
nothing is written when `new` refuses.")]
pub struct Opts {
    /// The template: `rust`, `go`, `python`, `js`, `c`, `cpp`, the HTTP handler variants
    /// `rust-http`, `go-http`, `python-http`, `js-http`, or one added with `wcomp templates
    /// add`.
    template: String,

    /// The directory to create.
    dir: PathBuf,

    /// The component's WIT package name, `namespace:name` (sets the `name` parameter).
    #[arg(long)]
    name: Option<String>,

    /// Set a template parameter (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_set)]
    sets: Vec<(String, String)>,

    /// Parameters from a TOML file of `key = value` lines (`--set` wins over it).
    #[arg(long, value_name = "FILE")]
    values_file: Option<PathBuf>,

    /// Use the template's HTTP handler variant (`<template>-http`): a component exporting
    /// `wasi:http/incoming-handler` (the `wasi:http/proxy` world), for `wcomp serve`.
    #[arg(long, conflicts_with = "world")]
    http: bool,

    /// Write into an existing, non-empty directory (files the template has are replaced).
    #[arg(long)]
    force: bool,

    /// Implement an existing world: a WIT directory (with `deps/`), a `.wit` file or a
    /// WIT package encoded as wasm, optionally followed by `:<world>` (needed when the
    /// package has several worlds). The project's name defaults to the WIT package's.
    #[arg(long, value_name = "WIT[:WORLD]")]
    world: Option<String>,
}

fn parse_set(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .ok_or_else(|| format!("`{s}` is not KEY=VALUE"))
}

impl Opts {
    pub fn run(self) -> Result<u8, CliError> {
        let name = if self.http && !self.template.ends_with("-http") {
            format!("{}-http", self.template)
        } else {
            self.template.clone()
        };
        let mut template = templates::find(&name).map_err(|e| {
            CliError::usage(if self.http {
                e.context(format!(
                    "template `{}` has no HTTP variant (`--http` looks for `{name}`)",
                    self.template
                ))
            } else {
                e
            })
        })?;
        let mut sets = self.sets;
        if let Some(name) = self.name {
            sets.push(("name".to_string(), name));
        }
        let mut extra_files = BTreeMap::new();
        let mut extra_values = BTreeMap::new();
        let mut skip_template_dirs = Vec::new();
        if let Some(arg) = &self.world {
            let language = new_world::template_language(&template.manifest.language)
                .map_err(CliError::usage)?;
            let from =
                new_world::prepare(&WorldArg::parse(arg), language).map_err(CliError::usage)?;
            // The project is named after the WIT package unless told otherwise.
            if let Some(p) = template
                .manifest
                .parameters
                .iter_mut()
                .find(|p| p.name == "name")
            {
                p.default = Some(toml::Value::String(from.package_name.clone()));
            }
            extra_values.insert("world".to_string(), from.world.clone().into());
            extra_values.insert("from_world".to_string(), true.into());
            extra_values.insert(
                "stubs".to_string(),
                minijinja::Value::from_serialize(&from.stubs),
            );
            for (path, bytes) in from.wit_files {
                extra_files.insert(path, bytes);
            }
            for (path, text) in from.stubs {
                extra_files.insert(path, text.into_bytes());
            }
            skip_template_dirs.push("wit".to_string());
        }
        let created = scaffold::create(NewOptions {
            template,
            dir: self.dir,
            sets,
            values_file: self.values_file,
            force: self.force,
            extra_files,
            extra_values,
            skip_template_dirs,
        })
        .map_err(CliError::usage)?;
        let mut text = format!(
            "{} {} ({} files)\n",
            paint(OK, "created"),
            paint(BOLD, created.dir.display()),
            created.files.len()
        );
        for f in &created.files {
            text.push_str(&format!("  {f}\n"));
        }
        text.push_str(&format!(
            "\nnext:\n  cd {}\n  wcomp build\n",
            created.dir.display()
        ));
        printer::out(&text);
        Ok(wcomp_core::exit::SUCCESS)
    }
}
