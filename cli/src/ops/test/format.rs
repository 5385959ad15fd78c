//! The `*.test.toml` format (docs/test.md), read with positions so every mistake is
//! reported as `file:line:col`.

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use std::collections::BTreeMap;
use std::path::Path;
use toml::Spanned;

/// One test file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TestFile {
    /// The component under test, relative to the file; default: the project's output.
    pub component: Option<Spanned<String>>,
    #[serde(default)]
    pub mock: Vec<MockSpec>,
    #[serde(default)]
    pub test: Vec<TestSpec>,
}

/// `[[mock]]` / `[[test.mock]]`: canned answers for one imported function, or a component
/// plugged in for a whole imported interface.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MockSpec {
    /// `<interface>#<function>` (or a function the world imports by itself).
    pub function: Option<Spanned<String>>,
    /// WAVE values, one per call; the last one repeats.
    pub returns: Option<Spanned<OneOrMany>>,
    /// An interface, plugged by `component`.
    pub interface: Option<Spanned<String>>,
    pub component: Option<Spanned<String>>,
}

/// `[[test]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TestSpec {
    pub name: Spanned<String>,
    /// A WAVE call of an export: `name(args)` or `iface#name(args)`.
    pub invoke: Option<Spanned<String>>,
    /// Or an HTTP request to the component's `wasi:http/incoming-handler`:
    /// `METHOD /path?query`.
    pub request: Option<Spanned<String>>,
    /// The request's headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The request's body.
    pub body: Option<String>,
    /// The response's status code.
    pub expect_status: Option<Spanned<u16>>,
    /// The response's whole body, as text.
    pub expect_body: Option<Spanned<String>>,
    /// Headers the response must have, with these values (others may be there too).
    pub expect_headers: Option<Spanned<BTreeMap<String, String>>>,
    /// The WAVE value the call must return.
    pub expect: Option<Spanned<String>>,
    /// The call must trap, with a message containing this.
    pub expect_trap: Option<Spanned<String>>,
    /// How often each mocked function must have been called.
    #[serde(default)]
    pub calls: Option<Spanned<BTreeMap<String, u64>>>,
    /// The database behind `wcomp:sql`, fresh for each test (`sqlite::memory:`).
    pub db: Option<Spanned<String>>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// `HOST[::GUEST]`, HOST relative to the test file; one or a list.
    pub dir: Option<Spanned<OneOrMany>>,
    #[serde(default)]
    pub mock: Vec<MockSpec>,
}

/// A string, or a list of strings (each with its position).
#[derive(Debug)]
pub enum OneOrMany {
    One(String),
    Many(Vec<Spanned<String>>),
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany::One(s.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut all = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<String>>()? {
                    all.push(item);
                }
                Ok(OneOrMany::Many(all))
            }
        }
        d.deserialize_any(V)
    }
}

/// A place in a test file: `file:line:col`, 1-based.
#[derive(Debug, Clone)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// The line and column of byte `offset` in `text`.
pub fn position(text: &str, offset: usize) -> Pos {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Pos { line, col }
}

/// A test file that cannot be read as the format: `file:line:col: message`, and for an
/// unknown key, the nearest valid one.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}:{col}: {message}")]
pub struct FormatError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

/// Parses a test file's text.
pub fn parse(path: &Path, text: &str) -> Result<TestFile, FormatError> {
    toml::from_str::<TestFile>(text).map_err(|e| {
        let pos = e
            .span()
            .map_or(Pos { line: 1, col: 1 }, |s| position(text, s.start));
        FormatError {
            file: path.display().to_string(),
            line: pos.line,
            col: pos.col,
            message: explain(e.message()),
        }
    })
}

/// serde's "unknown field `expct`, expected one of `name`, ..." as "unknown key `expct`;
/// did you mean `expect`? (valid keys: ...)".
fn explain(message: &str) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return message.replace("field", "key").trim_end().to_string();
    };
    let Some((unknown, expected)) = rest.split_once('`') else {
        return message.to_string();
    };
    let valid: Vec<&str> = expected
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|k| !k.is_empty())
        .collect();
    let mut out = format!("unknown key `{unknown}`");
    if let Some(near) = nearest(unknown, valid.iter().copied()) {
        out.push_str(&format!("; did you mean `{near}`?"));
    }
    if !valid.is_empty() {
        let list: Vec<String> = valid.iter().map(|k| format!("`{k}`")).collect();
        out.push_str(&format!(" (valid keys: {})", list.join(", ")));
    }
    out
}

/// The candidate closest to `name`, when one is close enough to be a likely typo.
pub fn nearest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, _)| *score > 0.75)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_with_every_key_parses() {
        let f = parse(
            Path::new("a.test.toml"),
            r#"
component = "build/app.wasm"

[[mock]]
function = "demo:greeter/greet@0.1.0#greet"
returns = ['"hello"', '"again"']

[[mock]]
interface = "example:store/kv@0.1.0"
component = "mocks/kv.wasm"

[[test]]
name = "greets"
invoke = 'run()'
expect = '"hello"'
calls = { "demo:greeter/greet@0.1.0#greet" = 1 }
db = "sqlite::memory:"
env = { LANG = "C" }
dir = "data::/data"

[[test.mock]]
function = "x#y"
returns = '"one"'

[[test]]
name = "traps"
invoke = 'parse("")'
expect-trap = "empty"
dir = ["a", "b::/b"]

[[test]]
name = "serves"
request = "POST /signups?x=1"
headers = { content-type = "application/json" }
body = '{"a": 1}'
expect-status = 201
expect-body = "stored"
expect-headers = { content-type = "text/plain" }
"#,
        )
        .unwrap();
        assert_eq!(f.mock.len(), 2);
        assert_eq!(f.test.len(), 3);
        assert_eq!(*f.test[2].expect_status.as_ref().unwrap().get_ref(), 201);
        assert!(matches!(
            f.mock[0].returns.as_ref().unwrap().get_ref(),
            OneOrMany::Many(v) if v.len() == 2
        ));
        assert!(matches!(
            f.test[0].mock[0].returns.as_ref().unwrap().get_ref(),
            OneOrMany::One(s) if s == "\"one\""
        ));
        assert_eq!(f.test[1].expect_trap.as_ref().unwrap().get_ref(), "empty");
    }

    #[test]
    fn an_unknown_key_is_placed_and_the_nearest_named() {
        let e = parse(
            Path::new("t.test.toml"),
            "[[test]]\nname = \"x\"\ninvoke = \"f()\"\nexpct = \"1\"\n",
        )
        .unwrap_err();
        assert_eq!((e.line, e.col), (4, 1), "{e}");
        assert!(e.message.contains("unknown key `expct`"), "{e}");
        assert!(e.message.contains("did you mean `expect`?"), "{e}");
    }

    #[test]
    fn a_toml_error_is_placed() {
        let e = parse(
            Path::new("t.test.toml"),
            "[[test]]\nname = \"x\ninvoke = 1\n",
        )
        .unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        let e = parse(Path::new("t.test.toml"), "[[test]]\ninvoke = \"f()\"\n").unwrap_err();
        assert!(e.message.contains("missing key `name`"), "{e}");
    }

    #[test]
    fn positions_count_lines_and_characters() {
        let p = position("ab\ncdé\nf", 7);
        assert_eq!((p.line, p.col), (2, 4));
        let p = position("ab", 0);
        assert_eq!((p.line, p.col), (1, 1));
    }
}
