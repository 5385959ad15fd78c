use super::CliError;
use crate::ops::manifest::Language;
use crate::ops::toolchain;
use crate::printer::{self, DIM, ERROR, OK, paint};
use serde::Serialize;

/// Report which language toolchains are ready to build components, and what to install.
///
/// Each line names the templates that language's toolchain builds: a language's HTTP
/// handler template (`rust-http`, ...) needs nothing more than its plain one (the WASI
/// WIT it uses is written by `wcomp new`).
#[derive(clap::Args)]
#[command(after_help = "Examples:
  wcomp doctor          one line per language, with the templates it builds
  wcomp doctor --json   the same as JSON

scripts/install-toolchains.sh installs everything the built-in templates need.
Exit codes: 0 every toolchain is ready, 1 at least one is missing.")]
pub struct Opts {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Status {
    language: &'static str,
    ready: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
    /// The templates (built-in and user) this toolchain builds.
    templates: Vec<String>,
}

impl Opts {
    pub fn run(self) -> Result<u8, CliError> {
        let languages = [
            Language::Rust,
            Language::Go,
            Language::Python,
            Language::Javascript,
            Language::C,
            Language::Cpp,
        ];
        // Templates are listed for information: a broken user template must not stop the
        // toolchain report.
        let all_templates = crate::ops::templates::all().unwrap_or_default();
        let templates_of = |l: Language| -> Vec<String> {
            all_templates
                .iter()
                .filter(|t| {
                    matches!(
                        (l, t.manifest.language.as_str()),
                        (Language::Javascript, "js")
                    ) || t.manifest.language == l.name()
                })
                .map(|t| t.manifest.name.clone())
                .collect()
        };
        let statuses: Vec<Status> = std::thread::scope(|s| {
            let handles: Vec<_> = languages
                .iter()
                .map(|&l| {
                    let templates = templates_of(l);
                    s.spawn(move || {
                        match toolchain::locate(l).and_then(|tc| toolchain::check(&tc)) {
                            Ok(version) => Status {
                                language: l.name(),
                                ready: true,
                                version: Some(version),
                                problem: None,
                                templates,
                            },
                            Err(e) => Status {
                                language: l.name(),
                                ready: false,
                                version: None,
                                problem: Some(match printer::hint_of(&e) {
                                    Some(hint) => format!("{e:#}; {hint}"),
                                    None => format!("{e:#}"),
                                }),
                                templates,
                            },
                        }
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("doctor thread"))
                .collect()
        });
        if self.json {
            printer::json(&statuses)?;
        } else {
            let mut s = String::new();
            for st in &statuses {
                match (&st.version, &st.problem) {
                    (Some(v), _) => s.push_str(&format!(
                        "{} {:<11} {v}\n",
                        paint(OK, "ready  "),
                        st.language
                    )),
                    (_, Some(p)) => s.push_str(&format!(
                        "{} {:<11} {p}\n",
                        paint(ERROR, "missing"),
                        st.language
                    )),
                    _ => {}
                }
                if !st.templates.is_empty() {
                    s.push_str(&format!(
                        "        {:<11} {}\n",
                        "",
                        paint(DIM, format!("templates: {}", st.templates.join(", ")))
                    ));
                }
            }
            printer::out(&s);
        }
        Ok(if statuses.iter().all(|s| s.ready) {
            wcomp_core::exit::SUCCESS
        } else {
            wcomp_core::exit::FAILURE
        })
    }
}
