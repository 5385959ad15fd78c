use super::{CliError, subject_error};
use crate::printer::{self, BOLD, DIM, NOTE, human_size, paint};
use std::path::PathBuf;
use wcomp_wasm::input::{self, Content, InputPath};
use wcomp_wasm::inspect::{Inspection, inspect_binary, inspect_wit};

/// Show what a component, core module or WIT package contains.
///
/// Prints the world in WIT (imports and exports with their full types), the size, the
/// sha256 digest, the producers and other metadata, and whether the input is a component
/// or a core module.
#[derive(clap::Args)]
#[command(after_help = "Examples:
  wcomp inspect app.wasm                 the component's world in WIT, size, digest, producers
  wcomp inspect app.wat --json           the same as JSON (shape in docs/inspect.md)
  wcomp inspect wit/                     a WIT package directory (with deps/)
  cat app.wasm | wcomp inspect -         read standard input

Exit codes: 0 inspected, 1 the input is not a valid component/module/WIT, 2 the input
cannot be read.")]
pub struct Opts {
    /// A component or core module (`.wasm`), its WAT text, or a WIT package (a directory,
    /// a `.wit` file, or a WIT package encoded as wasm). `-` reads standard input.
    input: PathBuf,

    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

impl Opts {
    pub fn run(self) -> Result<u8, CliError> {
        let path = InputPath::new(&self.input);
        let name = path.display_name();
        let inspection = match &path {
            InputPath::File(p) if p.is_dir() => {
                let pkg = wcomp_wasm::wit::load(p).map_err(subject_error)?;
                inspect_wit(&name, &pkg).map_err(subject_error)?
            }
            _ => {
                let bytes = path.read().map_err(subject_error)?;
                match input::classify(&name, &bytes).map_err(subject_error)? {
                    Content::Wasm(bin) => inspect_binary(&name, &bin).map_err(subject_error)?,
                    Content::WitText(text) => {
                        let pkg = wcomp_wasm::wit::load_text(&name, text).map_err(subject_error)?;
                        inspect_wit(&name, &pkg).map_err(subject_error)?
                    }
                }
            }
        };
        if self.json {
            let mut text =
                serde_json::to_string_pretty(&inspection).map_err(anyhow::Error::from)?;
            text.push('\n');
            printer::out(&text);
        } else {
            printer::out(&render(&inspection));
        }
        Ok(wcomp_core::exit::SUCCESS)
    }
}

fn render(i: &Inspection) -> String {
    let mut s = format!("{}\n", paint(BOLD, &i.source));
    let kind = match (i.kind, i.from_wat) {
        ("core-module", _) => "core module (not a component)".to_string(),
        (k, true) => format!("{} (assembled from WAT)", k.replace('-', " ")),
        (k, false) => k.replace('-', " "),
    };
    s.push_str(&format!("  kind:    {kind}\n"));
    if let Some(size) = i.size {
        s.push_str(&format!("  size:    {}\n", human_size(size)));
    }
    if let Some(d) = &i.sha256 {
        s.push_str(&format!("  sha256:  {}\n", d.hex()));
    }
    if let Some(meta) = i.metadata.as_ref().and_then(|m| m.as_object()) {
        for (key, value) in meta {
            match value {
                serde_json::Value::String(v) => s.push_str(&format!("  {key}: {v}\n")),
                serde_json::Value::Object(fields) => {
                    s.push_str(&format!("  {key}:\n"));
                    for (field, entries) in fields {
                        s.push_str(&format!("    {field}: {}\n", flatten(entries)));
                    }
                }
                other => s.push_str(&format!("  {key}: {other}\n")),
            }
        }
    }
    if let Some(core) = &i.core {
        s.push_str(&format!("\n{}\n", paint(BOLD, "core imports:")));
        for item in &core.imports {
            s.push_str(&format!("  {} {}\n", paint(DIM, item.kind), item.name));
        }
        s.push_str(&format!("{}\n", paint(BOLD, "core exports:")));
        for item in &core.exports {
            s.push_str(&format!("  {} {}\n", paint(DIM, item.kind), item.name));
        }
        s.push_str(&format!(
            "\n{}: a core module has no WIT world; `wcomp build` produces a component, or \
             componentize this module with a WASI adapter\n",
            paint(NOTE, "note")
        ));
    }
    if let Some(wit) = &i.wit {
        s.push('\n');
        s.push_str(wit.trim_end());
        s.push('\n');
    }
    s
}

/// Producers fields are maps of name to version: `rustc 1.90.0, wit-component 0.262.0`.
fn flatten(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Object(m) => m
            .iter()
            .map(|(k, v)| match v.as_str() {
                Some("") | None => k.clone(),
                Some(ver) => format!("{k} {ver}"),
            })
            .collect::<Vec<_>>()
            .join(", "),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
