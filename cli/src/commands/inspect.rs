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
            printer::json(&inspection)?;
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
    if let Some(m) = &i.metadata {
        let fields = [
            ("name", &m.name),
            ("version", &m.version),
            ("description", &m.description),
            ("authors", &m.authors),
            ("licenses", &m.licenses),
            ("source", &m.source),
            ("homepage", &m.homepage),
            ("revision", &m.revision),
        ];
        for (key, value) in fields {
            if let Some(v) = value {
                s.push_str(&format!(
                    "  {key}: {}{v}\n",
                    " ".repeat(8usize.saturating_sub(key.len() + 1))
                ));
            }
        }
        if !m.producers.is_empty() {
            s.push_str("  producers:\n");
            for (field, entries) in &m.producers {
                let list: Vec<String> = entries
                    .iter()
                    .map(|(n, v)| {
                        if v.is_empty() {
                            n.clone()
                        } else {
                            format!("{n} {v}")
                        }
                    })
                    .collect();
                s.push_str(&format!("    {field}: {}\n", list.join(", ")));
            }
        }
    }
    if let Some(c) = &i.composition {
        let root = c.root.as_deref().unwrap_or("");
        s.push_str(&format!(
            "  composed by {} from {} parts:\n",
            c.tool,
            c.parts.len()
        ));
        for p in &c.parts {
            let mark = if p.name == root { " (root)" } else { "" };
            s.push_str(&format!(
                "    {}{mark}  {}  {}\n",
                paint(BOLD, &p.name),
                p.source,
                paint(DIM, &p.digest)
            ));
        }
        for w in &c.wires {
            s.push_str(&format!(
                "    {}: {} <- {}: {}\n",
                w.importer, w.import, w.exporter, w.export
            ));
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
