//! WAVE values for people: one line when short, records and lists broken over lines when
//! long, and a line diff of an expected and an actual value.

use wasmtime::component::Val;

/// Values longer than this on one line are broken over several.
const WIDTH: usize = 72;

/// `v` in WAVE, on one line.
pub fn wave(v: &Val) -> String {
    wasm_wave::to_string(v).unwrap_or_else(|_| format!("{v:?}"))
}

/// `v` in WAVE, with records, lists and tuples longer than [`WIDTH`] one item a line.
pub fn pretty(v: &Val) -> String {
    let mut out = String::new();
    write_pretty(v, 0, &mut out);
    out
}

fn write_pretty(v: &Val, indent: usize, out: &mut String) {
    let flat = wave(v);
    if flat.len() + indent <= WIDTH {
        out.push_str(&flat);
        return;
    }
    let pad = "  ".repeat(indent + 1);
    let items = |open: &str, close: &str, out: &mut String, items: Vec<(Option<&str>, &Val)>| {
        out.push_str(open);
        out.push('\n');
        for (label, item) in items {
            out.push_str(&pad);
            if let Some(label) = label {
                out.push_str(&label_text(label));
                out.push_str(": ");
            }
            write_pretty(item, indent + 1, out);
            out.push_str(",\n");
        }
        out.push_str(&"  ".repeat(indent));
        out.push_str(close);
    };
    match v {
        Val::Record(fields) => items(
            "{",
            "}",
            out,
            fields.iter().map(|(n, v)| (Some(n.as_str()), v)).collect(),
        ),
        Val::List(vs) => items("[", "]", out, vs.iter().map(|v| (None, v)).collect()),
        Val::Tuple(vs) => items("(", ")", out, vs.iter().map(|v| (None, v)).collect()),
        Val::Variant(name, Some(payload)) => {
            out.push_str(&label_text(name));
            out.push('(');
            write_pretty(payload, indent, out);
            out.push(')');
        }
        Val::Option(Some(payload)) => {
            out.push_str("some(");
            write_pretty(payload, indent, out);
            out.push(')');
        }
        Val::Result(Ok(Some(payload))) => {
            out.push_str("ok(");
            write_pretty(payload, indent, out);
            out.push(')');
        }
        Val::Result(Err(Some(payload))) => {
            out.push_str("err(");
            write_pretty(payload, indent, out);
            out.push(')');
        }
        _ => out.push_str(&flat),
    }
}

/// A label as WAVE writes it: `%` before the words WAVE reserves.
fn label_text(label: &str) -> String {
    match label {
        "true" | "false" | "some" | "none" | "ok" | "err" | "inf" | "nan" => format!("%{label}"),
        _ => label.to_string(),
    }
}

/// One line of a diff.
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    Same(&'a str),
    Expected(&'a str),
    Actual(&'a str),
}

/// The lines of `expected` and `actual` as a diff (longest common subsequence).
pub fn diff<'a>(expected: &'a str, actual: &'a str) -> Vec<Line<'a>> {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    // lcs[i][j]: the common subsequence length of a[i..] and b[j..].
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            out.push(Line::Same(a[i]));
            i += 1;
            j += 1;
        } else if lcs[i + 1][j] >= lcs[i][j + 1] {
            out.push(Line::Expected(a[i]));
            i += 1;
        } else {
            out.push(Line::Actual(b[j]));
            j += 1;
        }
    }
    out.extend(a[i..].iter().map(|l| Line::Expected(l)));
    out.extend(b[j..].iter().map(|l| Line::Actual(l)));
    out
}

/// Lines of unchanged context kept around each change; longer runs are elided.
const CONTEXT: usize = 3;

/// `diff` with long runs of unchanged lines cut to [`CONTEXT`] lines around each change;
/// `None` stands for the lines left out.
pub fn collapse<'a>(lines: Vec<Line<'a>>) -> Vec<Option<Line<'a>>> {
    let changed: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| !matches!(l, Line::Same(_)))
        .map(|(i, _)| i)
        .collect();
    let near = |i: usize| changed.iter().any(|&c| c.abs_diff(i) <= CONTEXT);
    let mut out = Vec::new();
    let mut elided = false;
    for (i, line) in lines.into_iter().enumerate() {
        if matches!(line, Line::Same(_)) && !near(i) {
            if !elided {
                out.push(None);
                elided = true;
            }
        } else {
            out.push(Some(line));
            elided = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signup(email: &str) -> Val {
        Val::Record(vec![
            ("email".into(), Val::String(email.into())),
            ("name".into(), Val::String("Ada Lovelace".into())),
            ("age".into(), Val::U32(36)),
            ("country".into(), Val::String("GB".into())),
        ])
    }

    #[test]
    fn short_values_stay_on_one_line() {
        assert_eq!(pretty(&Val::List(vec![Val::U32(1), Val::U32(2)])), "[1, 2]");
        assert_eq!(pretty(&Val::String("hi".into())), "\"hi\"");
    }

    #[test]
    fn long_records_and_lists_break_one_item_a_line() {
        let v = Val::Result(Ok(Some(Box::new(Val::List(vec![
            signup("ada@example.com"),
            signup("bob@example.com"),
        ])))));
        let text = pretty(&v);
        // The records are longer than a line once indented: a field a line, so a diff
        // marks the one field that differs.
        assert_eq!(
            text,
            "ok([\n  {\n    email: \"ada@example.com\",\n    name: \"Ada Lovelace\",\n    \
             age: 36,\n    country: \"GB\",\n  },\n  {\n    email: \"bob@example.com\",\n    \
             name: \"Ada Lovelace\",\n    age: 36,\n    country: \"GB\",\n  },\n])"
        );
        // What is printed parses back to the same value.
        let ty_text = wave(&v);
        assert!(ty_text.starts_with("ok([{email:"), "{ty_text}");
    }

    #[test]
    fn the_diff_marks_only_the_lines_that_differ() {
        let d = diff("[\n  1,\n  2,\n  3,\n]", "[\n  1,\n  4,\n  3,\n]");
        assert_eq!(
            d,
            vec![
                Line::Same("["),
                Line::Same("  1,"),
                Line::Expected("  2,"),
                Line::Actual("  4,"),
                Line::Same("  3,"),
                Line::Same("]"),
            ]
        );
        assert_eq!(diff("a", "a"), vec![Line::Same("a")]);
        let long: Vec<String> = (0..20).map(|i| i.to_string()).collect();
        let mut changed = long.clone();
        changed[10] = "x".to_string();
        let (a, b) = (long.join("\n"), changed.join("\n"));
        let cut = collapse(diff(&a, &b));
        assert_eq!(cut.first(), Some(&None));
        assert_eq!(cut.last(), Some(&None));
        assert_eq!(cut.iter().filter(|l| l.is_some()).count(), 8);
        assert_eq!(diff("", "b"), vec![Line::Actual("b")]);
    }
}
