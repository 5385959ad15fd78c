//! WIT text highlighted into HTML: comments, keywords, built-in types and package names
//! each in a `<span class>`. Every byte of the input reaches the output escaped (the
//! template marks this output safe), so a doc comment full of markup stays text.

const KEYWORDS: &[&str] = &[
    "package",
    "world",
    "interface",
    "import",
    "export",
    "use",
    "func",
    "record",
    "variant",
    "enum",
    "flags",
    "resource",
    "type",
    "include",
    "with",
    "as",
    "from",
    "constructor",
    "static",
    "async",
];

const TYPES: &[&str] = &[
    "u8",
    "u16",
    "u32",
    "u64",
    "s8",
    "s16",
    "s32",
    "s64",
    "f32",
    "f64",
    "bool",
    "char",
    "string",
    "list",
    "option",
    "result",
    "tuple",
    "borrow",
    "own",
    "future",
    "stream",
    "error-context",
];

/// Appends `s` HTML-escaped (minijinja's escaping, the same the templates use).
fn escape_into(out: &mut String, s: &str) {
    use std::fmt::Write as _;
    let _ = write!(out, "{}", minijinja::HtmlEscape(s));
}

fn span(out: &mut String, class: &str, text: &str) {
    out.push_str("<span class=\"");
    out.push_str(class);
    out.push_str("\">");
    escape_into(out, text);
    out.push_str("</span>");
}

/// Highlights WIT `text` line by line.
pub fn highlight(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for (n, line) in text.lines().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let (code, comment) = match line.find("//") {
            Some(i) => (&line[..i], Some(&line[i..])),
            None => (line, None),
        };
        let mut word = String::new();
        let flush = |word: &mut String, out: &mut String| {
            if word.is_empty() {
                return;
            }
            let w = word.trim_start_matches('%');
            if KEYWORDS.contains(&w) {
                span(out, "k", word);
            } else if TYPES.contains(&w) {
                span(out, "t", word);
            } else if word.contains(':') {
                span(out, "p", word);
            } else {
                escape_into(out, word);
            }
            word.clear();
        };
        let mut chars = code.chars().peekable();
        while let Some(c) = chars.next() {
            // A `:` inside a name (`wasi:http`) belongs to it; one after it (`name: u32`)
            // does not.
            let inner_colon = c == ':' && chars.peek().is_some_and(|n| n.is_alphanumeric());
            if c.is_alphanumeric() || "-_%/@.".contains(c) || inner_colon {
                word.push(c);
            } else {
                flush(&mut word, &mut out);
                escape_into(&mut out, &c.to_string());
            }
        }
        flush(&mut word, &mut out);
        if let Some(c) = comment {
            span(&mut out, "c", c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_types_and_comments_are_spans_and_markup_is_escaped() {
        let h = highlight(
            "/// <script>alert(1)</script>\ninterface api {\n  run: func(x: u32) -> string; // \"q\"\n}",
        )
        .replace("&#x2f;", "/");
        assert!(h.contains("<span class=\"c\">/// &lt;script&gt;alert(1)&lt;/script&gt;</span>"));
        assert!(h.contains("<span class=\"k\">interface</span>"));
        assert!(h.contains("<span class=\"t\">u32</span>"));
        assert!(h.contains("&quot;q&quot;"));
        assert!(!h.contains("<script"));
        let p = highlight("package example:pipeline@0.1.0;");
        assert!(p.contains("<span class=\"p\">example:pipeline@0.1.0</span>;"));
        assert_eq!(
            highlight("get-args: func()"),
            "get-args: <span class=\"k\">func</span>()"
        );
    }
}
