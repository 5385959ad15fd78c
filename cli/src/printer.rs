//! Output helpers shared by the commands: styles that disappear under NO_COLOR or when
//! output is not a terminal (anstream decides), and the `error: / caused by: / hint:`
//! report every command uses.

use anstyle::{AnsiColor, Style};
use std::io::Write;

pub const ERROR: Style = Style::new()
    .bold()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Red)));
pub const OK: Style = Style::new()
    .bold()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Green)));
pub const WARN: Style = Style::new()
    .bold()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Yellow)));
pub const NOTE: Style = Style::new()
    .bold()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Cyan)));
pub const BOLD: Style = Style::new().bold();
pub const DIM: Style = Style::new().dimmed();

/// Paints `text` with `style` (the escape codes are stripped later when colour is off).
pub fn paint(style: Style, text: impl std::fmt::Display) -> String {
    format!("{style}{text}{style:#}")
}

/// Writes to stdout, ignoring a closed pipe (`wcomp inspect x | head` must not panic).
pub fn out(text: &str) {
    let mut stdout = anstream::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

/// Prints `error: ...`, one `caused by:` line per source, and a `hint:` when a library
/// error in the chain has one.
pub fn report_error(err: &anyhow::Error) {
    let mut text = format!("{}: {err}\n", paint(ERROR, "error"));
    for cause in err.chain().skip(1) {
        text.push_str(&format!("  {}: {cause}\n", paint(BOLD, "caused by")));
    }
    if let Some(hint) = hint_of(err) {
        text.push_str(&format!("{}: {hint}\n", paint(NOTE, "hint")));
    }
    let mut stderr = anstream::stderr().lock();
    let _ = stderr.write_all(text.as_bytes());
}

pub use crate::commands::hint_of;

/// One problem, as `validate`, `compose` and `build` print it: `- <message>` at `indent`,
/// then what each side has, the details and the hints, four columns further in.
pub fn problem(s: &mut String, p: &wcomp_wasm::Problem, indent: &str) {
    s.push_str(&format!(
        "{indent}{} {}\n",
        paint(ERROR, "-"),
        paint(BOLD, &p.message)
    ));
    let inner = format!("{indent}    ");
    let (expects, has) = p.sides();
    let width = expects.len().max(has.len());
    if let Some(e) = &p.expected {
        s.push_str(&format!(
            "{inner}{}  {e}\n",
            paint(DIM, format!("{expects:<width$}"))
        ));
    }
    if let Some(f) = &p.found {
        s.push_str(&format!(
            "{inner}{}  {f}\n",
            paint(DIM, format!("{has:<width$}"))
        ));
    }
    for d in &p.details {
        s.push_str(&format!("{inner}{d}\n"));
    }
    let hint = paint(NOTE, "hint");
    match p.did_you_mean.as_slice() {
        [] => {}
        [one] => s.push_str(&format!("{inner}{hint}: did you mean {one}?\n")),
        many => s.push_str(&format!(
            "{inner}{hint}: did you mean one of {}?\n",
            many.join(", ")
        )),
    }
    if let Some(h) = &p.hint {
        s.push_str(&format!("{inner}{hint}: {h}\n"));
    }
}

/// Writes to stderr (warnings, notes), ignoring a closed pipe.
pub fn err(text: &str) {
    let mut stderr = anstream::stderr().lock();
    let _ = stderr.write_all(text.as_bytes());
}

/// `warning: <text>` on stderr.
pub fn warn(text: &str) {
    err(&format!("{}: {text}\n", paint(WARN, "warning")));
}

/// Pretty JSON on stdout, with a final newline.
pub fn json(v: &impl serde::Serialize) -> Result<(), crate::commands::CliError> {
    let mut text = serde_json::to_string_pretty(v).map_err(anyhow::Error::from)?;
    text.push('\n');
    out(&text);
    Ok(())
}

/// A bytes-and-rate progress bar on stderr for uploads and downloads; indicatif hides it
/// when stderr is not a terminal.
pub struct Bar(indicatif::ProgressBar);

impl Bar {
    pub fn new() -> Bar {
        let bar = indicatif::ProgressBar::hidden();
        Bar(bar)
    }
}

impl wcomp_oci::Reporter for Bar {
    fn start(&self, what: &str, total: u64) {
        use std::io::IsTerminal as _;
        if !std::io::stderr().is_terminal() {
            return;
        }
        self.0
            .set_draw_target(indicatif::ProgressDrawTarget::stderr());
        self.0.set_length(total);
        self.0.set_position(0);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        ) {
            self.0.set_style(style.progress_chars("=> "));
        }
        self.0.set_message(what.to_string());
    }
    fn advance(&self, bytes: u64) {
        self.0.inc(bytes);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

/// `12345` -> `12,345 bytes (12.1 KiB)`.
pub fn human_size(n: u64) -> String {
    let digits = n.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let units = ["KiB", "MiB", "GiB"];
    let mut value = n as f64;
    let mut unit = None;
    for u in units {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = Some(u);
    }
    match unit {
        Some(u) => format!("{grouped} bytes ({value:.1} {u})"),
        None => format!("{grouped} bytes"),
    }
}
