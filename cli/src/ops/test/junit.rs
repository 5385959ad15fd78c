//! The JUnit XML report CI systems read: one `<testsuite>` per test file, one
//! `<testcase>` per test, `<failure>` with the failure's text, `<skipped/>` for tests
//! `--filter` left out, and the guest's output in `<system-out>` / `<system-err>`.

use super::{Outcome, Status};
use std::fmt::Write as _;

/// The report of `outcomes` (in the files' order), `describe` writing a failure's text.
pub fn render(outcomes: &[Outcome], describe: impl Fn(&Outcome) -> String) -> String {
    let mut files: Vec<&str> = Vec::new();
    for o in outcomes {
        if !files.contains(&o.file.as_str()) {
            files.push(&o.file);
        }
    }
    let totals = super::Totals::of(outcomes);
    let total_time: f64 = outcomes.iter().map(|o| o.duration.as_secs_f64()).sum();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"wcomp test\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" \
         time=\"{total_time:.3}\">",
        outcomes.len(),
        totals.failed,
        totals.skipped
    );
    for file in files {
        let cases: Vec<&Outcome> = outcomes.iter().filter(|o| o.file == file).collect();
        let failed = cases
            .iter()
            .filter(|o| matches!(o.status, Status::Failed(_)))
            .count();
        let skipped = cases
            .iter()
            .filter(|o| matches!(o.status, Status::Skipped))
            .count();
        let time: f64 = cases.iter().map(|o| o.duration.as_secs_f64()).sum();
        let _ = writeln!(
            x,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\" errors=\"0\" \
             skipped=\"{skipped}\" time=\"{time:.3}\">",
            escape(file),
            cases.len()
        );
        for o in cases {
            let _ = write!(
                x,
                "    <testcase name=\"{}\" classname=\"{}\" time=\"{:.3}\"",
                escape(&o.name),
                escape(file),
                o.duration.as_secs_f64()
            );
            match &o.status {
                Status::Passed if o.stdout.is_empty() && o.stderr.is_empty() => {
                    x.push_str("/>\n");
                    continue;
                }
                Status::Passed => x.push_str(">\n"),
                Status::Skipped => {
                    x.push_str(">\n      <skipped message=\"left out by --filter\"/>\n");
                }
                Status::Failed(failures) => {
                    let first = failures.first().map(summary).unwrap_or_default();
                    let _ = writeln!(
                        x,
                        ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>",
                        escape(&first),
                        failures.first().map_or("failure", kind),
                        escape(&describe(o))
                    );
                }
            }
            if !o.stdout.is_empty() {
                let _ = writeln!(x, "      <system-out>{}</system-out>", escape(&o.stdout));
            }
            if !o.stderr.is_empty() {
                let _ = writeln!(x, "      <system-err>{}</system-err>", escape(&o.stderr));
            }
            x.push_str("    </testcase>\n");
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}

fn kind(f: &super::Failure) -> &'static str {
    use super::Failure as F;
    match f {
        F::Mismatch { .. } => "mismatch",
        F::Trapped { .. } => "trap",
        F::Returned { .. } => "no-trap",
        F::OtherTrap { .. } => "other-trap",
        F::Calls { .. } => "calls",
        F::Setup { .. } => "setup",
    }
}

/// One line about a failure, for the `message` attribute.
pub fn summary(f: &super::Failure) -> String {
    use super::Failure as F;
    match f {
        F::Mismatch { .. } => "the call returned another value".to_string(),
        F::Trapped { message } => format!(
            "the component trapped: {}",
            message.lines().next().unwrap_or_default()
        ),
        F::Returned { wanted, .. } => format!("expected a trap containing `{wanted}`"),
        F::OtherTrap { wanted, .. } => {
            format!("the component trapped without `{wanted}` in the message")
        }
        F::Calls {
            function,
            expected,
            actual,
        } => format!("`{function}` was called {actual} times, not {expected}"),
        F::Setup { message } => message.lines().next().unwrap_or_default().to_string(),
    }
}

/// Text for XML attributes and content. Characters XML 1.0 does not allow (most control
/// characters) become U+FFFD.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test::{Failure, Outcome, Status};

    #[test]
    fn escaping_keeps_the_document_well_formed() {
        assert_eq!(
            escape("a<b & \"c\"\u{1}"),
            "a&lt;b &amp; &quot;c&quot;\u{FFFD}"
        );
        let o = |name: &str, status| Outcome {
            file: "t.test.toml".into(),
            name: name.into(),
            call: "f()".into(),
            status,
            duration: Default::default(),
            stdout: String::new(),
            stderr: "oops <".into(),
        };
        let x = render(
            &[
                o("ok", Status::Passed),
                o(
                    "bad <one>",
                    Status::Failed(vec![Failure::Trapped {
                        message: "boom".into(),
                    }]),
                ),
                o("left", Status::Skipped),
            ],
            |_| "details".to_string(),
        );
        assert!(
            x.contains("tests=\"3\" failures=\"1\" skipped=\"1\""),
            "{x}"
        );
        assert!(x.contains("name=\"bad &lt;one&gt;\""), "{x}");
        assert!(x.contains("<system-err>oops &lt;</system-err>"), "{x}");
        assert_eq!(x.matches("<testcase").count(), 3);
        assert_eq!(x.matches("</testcase>").count(), 3);
    }
}
