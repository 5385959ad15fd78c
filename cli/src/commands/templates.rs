use super::CliError;
use crate::ops::templates::{self, Origin, Template};
use crate::printer::{self, BOLD, DIM, paint};
use std::path::PathBuf;

/// List, show and add project templates.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  wcomp templates list             built-in and user templates
  wcomp templates list --json      with their parameters, as JSON
  wcomp templates show rust        one template's parameters and files
  wcomp templates add ./my-tmpl    add (or replace) a user template

User templates live in the user config directory (`$WCOMP_CONFIG_DIR/templates` when
set) and shadow built-ins of the same name.")]
pub struct Opts {
    #[command(subcommand)]
    command: Sub,
}

#[derive(clap::Subcommand)]
enum Sub {
    /// List the templates.
    List {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show one template: its parameters and files.
    Show {
        name: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Add a template directory (with `template.toml` and `content/`) to the user store.
    Add { dir: PathBuf },
}

#[derive(serde::Serialize)]
struct TemplateJson<'a> {
    name: &'a str,
    language: &'a str,
    description: &'a str,
    origin: Origin,
    parameters: &'a [templates::Parameter],
    files: Vec<&'a str>,
}

fn to_json(t: &Template) -> TemplateJson<'_> {
    TemplateJson {
        name: &t.manifest.name,
        language: &t.manifest.language,
        description: &t.manifest.description,
        origin: t.origin,
        parameters: &t.manifest.parameters,
        files: t.files.keys().map(String::as_str).collect(),
    }
}

impl Opts {
    pub fn run(self) -> Result<u8, CliError> {
        match self.command {
            Sub::List { json } => {
                let all = templates::all().map_err(CliError::usage)?;
                if json {
                    printer::json(&all.iter().map(to_json).collect::<Vec<_>>())?;
                } else {
                    // Padded before painting: the painted value ignores widths.
                    let width = |f: fn(&templates::Template) -> &str| {
                        all.iter().map(|t| f(t).chars().count()).max().unwrap_or(0)
                    };
                    let name_width = width(|t| &t.manifest.name);
                    let language_width = width(|t| &t.manifest.language);
                    let mut s = String::new();
                    for t in &all {
                        let origin = match t.origin {
                            Origin::Builtin => "",
                            Origin::User => " (user)",
                        };
                        s.push_str(&format!(
                            "{}  {:<language_width$}  {}{}\n",
                            paint(BOLD, format!("{:<name_width$}", t.manifest.name)),
                            t.manifest.language,
                            t.manifest.description,
                            paint(DIM, origin)
                        ));
                    }
                    printer::out(&s);
                }
            }
            Sub::Show { name, json } => {
                let t = templates::find(&name).map_err(CliError::usage)?;
                if json {
                    printer::json(&to_json(&t))?;
                } else {
                    let mut s = format!(
                        "{} ({}): {}\n\nparameters:\n",
                        paint(BOLD, &t.manifest.name),
                        t.manifest.language,
                        t.manifest.description
                    );
                    for p in &t.manifest.parameters {
                        s.push_str(&format!("  {:<12} {}\n", p.name, p.description));
                        if let Some(d) = &p.default {
                            s.push_str(&format!("  {:<12} default: {d}\n", ""));
                        }
                        if let Some(pat) = &p.pattern {
                            s.push_str(&format!("  {:<12} pattern: {pat}\n", ""));
                        }
                        if !p.allowed.is_empty() {
                            s.push_str(&format!("  {:<12} one of: {}\n", "", p.allowed.join(", ")));
                        }
                    }
                    s.push_str("\nfiles:\n");
                    for f in t.files.keys() {
                        s.push_str(&format!("  {f}\n"));
                    }
                    printer::out(&s);
                }
            }
            Sub::Add { dir } => {
                let t = templates::add(&dir).map_err(CliError::usage)?;
                printer::out(&format!(
                    "added template `{}` ({}) from {}\n",
                    t.manifest.name,
                    t.manifest.language,
                    dir.display()
                ));
            }
        }
        Ok(wcomp_core::exit::SUCCESS)
    }
}
