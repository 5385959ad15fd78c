use super::CliError;
use crate::ops::scaffold::{self, NewOptions};
use crate::ops::templates;
use crate::printer::{self, BOLD, OK, paint};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Start a component project from a template.
///
/// Renders the template into a new directory: `wcomp.toml`, `wit/`, source and a
/// README. `wcomp build` in that directory then produces a component.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  wcomp new rust hello                          a Rust component in ./hello
  wcomp new python greeter --name acme:greeter  with a chosen WIT package name
  wcomp new js hi --set greeting=Hi             set a template parameter
  wcomp new go svc --values-file values.toml    parameters from a TOML file
  wcomp templates list                          the templates and their parameters

Exit codes: 0 created, 2 refused (unknown template, bad value, non-empty directory);
nothing is written when `new` refuses.")]
pub struct Opts {
    /// The template: `rust`, `go`, `python`, `js`, or one added with `wcomp templates add`.
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

    /// Write into an existing, non-empty directory (files the template has are replaced).
    #[arg(long)]
    force: bool,
}

fn parse_set(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .ok_or_else(|| format!("`{s}` is not KEY=VALUE"))
}

impl Opts {
    pub fn run(self) -> Result<u8, CliError> {
        let template = templates::find(&self.template).map_err(CliError::usage)?;
        let mut sets = self.sets;
        if let Some(name) = self.name {
            sets.push(("name".to_string(), name));
        }
        let created = scaffold::create(NewOptions {
            template,
            dir: self.dir,
            sets,
            values_file: self.values_file,
            force: self.force,
            extra_files: BTreeMap::new(),
            extra_values: BTreeMap::new(),
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
