//! Reading inputs and telling apart what they are.
//!
//! wcomp commands accept a component binary, its WAT text, or WIT; a path of `-` means
//! standard input. Everything else (an empty file, an ELF binary, a truncated download)
//! becomes an [`Error`] that says what the bytes look like instead.

use crate::Error;
use std::borrow::Cow;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Where an input comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputPath {
    Stdin,
    File(PathBuf),
}

impl InputPath {
    /// `-` is standard input, anything else a path.
    pub fn new(arg: impl AsRef<Path>) -> InputPath {
        let arg = arg.as_ref();
        if arg == Path::new("-") {
            InputPath::Stdin
        } else {
            InputPath::File(arg.to_path_buf())
        }
    }

    /// The name used in messages.
    pub fn display_name(&self) -> String {
        match self {
            InputPath::Stdin => "<stdin>".to_string(),
            InputPath::File(p) => p.display().to_string(),
        }
    }

    /// Reads the whole input.
    pub fn read(&self) -> Result<Vec<u8>, Error> {
        match self {
            InputPath::Stdin => {
                let mut buf = Vec::new();
                std::io::stdin()
                    .lock()
                    .read_to_end(&mut buf)
                    .map_err(|source| Error::Read {
                        path: PathBuf::from("<stdin>"),
                        source,
                    })?;
                Ok(buf)
            }
            InputPath::File(p) => read_file(p),
        }
    }
}

/// Reads a file, mapping "not found" to its own error so the message is short.
pub fn read_file(path: &Path) -> Result<Vec<u8>, Error> {
    // The error names the path itself (`Error::Read`).
    #[allow(clippy::disallowed_methods)]
    std::fs::read(path).map_err(|e| read_error(path, e))
}

/// Why `path` could not be opened or read: "not found" has its own, shorter, error.
pub fn read_error(path: &Path, source: std::io::Error) -> Error {
    if source.kind() == std::io::ErrorKind::NotFound {
        Error::NotFound(path.to_path_buf())
    } else {
        Error::Read {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Which layer of WebAssembly a binary is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BinaryKind {
    Component,
    CoreModule,
}

/// A WebAssembly binary, converted from WAT text when the input was text.
#[derive(Debug)]
pub struct WasmBinary<'a> {
    pub bytes: Cow<'a, [u8]>,
    pub kind: BinaryKind,
    /// The input was WAT text that was assembled into `bytes`.
    pub from_wat: bool,
}

/// What an input turned out to be.
#[derive(Debug)]
pub enum Content<'a> {
    Wasm(WasmBinary<'a>),
    /// Text that looks like WIT (starts with `package`, `interface`, `world`, ...).
    WitText(&'a str),
}

const WASM_MAGIC: &[u8; 4] = b"\0asm";

/// Tells what `bytes` are; `name` is used in messages.
pub fn classify<'a>(name: &str, bytes: &'a [u8]) -> Result<Content<'a>, Error> {
    if bytes.is_empty() {
        return Err(Error::Empty {
            name: name.to_string(),
        });
    }
    if bytes.starts_with(WASM_MAGIC) || WASM_MAGIC.starts_with(bytes) {
        let kind = binary_kind(name, bytes)?;
        return Ok(Content::Wasm(WasmBinary {
            bytes: Cow::Borrowed(bytes),
            kind,
            from_wat: false,
        }));
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Err(not_wasm(name, bytes));
    };
    match first_token(text) {
        Some(tok) if tok.starts_with('(') => {
            let wasm = wat::parse_bytes(bytes).map_err(|mut e| {
                e.set_path(name);
                Error::Wat {
                    name: name.to_string(),
                    message: e.to_string(),
                }
            })?;
            let kind = binary_kind(name, &wasm)?;
            Ok(Content::Wasm(WasmBinary {
                bytes: Cow::Owned(wasm.into_owned()),
                kind,
                from_wat: true,
            }))
        }
        Some(tok) if looks_like_wit(tok) => Ok(Content::WitText(text)),
        _ => Err(not_wasm(name, bytes)),
    }
}

/// Reads the 8-byte preamble: `\0asm`, a version and a layer.
fn binary_kind(name: &str, bytes: &[u8]) -> Result<BinaryKind, Error> {
    if bytes.len() < 8 {
        return Err(Error::Truncated {
            name: name.to_string(),
            len: bytes.len(),
            message: "the 8-byte WebAssembly header is incomplete".to_string(),
        });
    }
    let version = u16::from_le_bytes([bytes[4], bytes[5]]);
    let layer = u16::from_le_bytes([bytes[6], bytes[7]]);
    match (layer, version) {
        (0, 1) => Ok(BinaryKind::CoreModule),
        (1, _) if version == 0xd => Ok(BinaryKind::Component),
        _ => Err(Error::UnknownVersion {
            name: name.to_string(),
            version,
            layer,
        }),
    }
}

/// The first token of text after whitespace and WAT/WIT comments.
fn first_token(text: &str) -> Option<&str> {
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
        if rest.starts_with(";;") || rest.starts_with("//") {
            rest = rest.find('\n').map_or("", |i| &rest[i..]);
        } else if let Some(body) = rest.strip_prefix("(;") {
            rest = body.find(";)").map_or("", |i| &body[i + 2..]);
        } else if let Some(body) = rest.strip_prefix("/*") {
            rest = body.find("*/").map_or("", |i| &body[i + 2..]);
        } else {
            break;
        }
    }
    (!rest.is_empty()).then_some(rest)
}

fn looks_like_wit(token: &str) -> bool {
    ["package ", "interface ", "world ", "use ", "@"]
        .iter()
        .any(|kw| token.starts_with(kw))
}

fn not_wasm(name: &str, bytes: &[u8]) -> Error {
    Error::NotWasm {
        name: name.to_string(),
        what: describe(bytes),
    }
}

/// A short description of what non-wasm bytes probably are.
fn describe(bytes: &[u8]) -> String {
    let known: &[(&[u8], &str)] = &[
        (b"\x7fELF", "it is an ELF executable or shared library"),
        (b"MZ", "it is a Windows executable"),
        (b"\xcf\xfa\xed\xfe", "it is a Mach-O executable"),
        (b"PK\x03\x04", "it is a zip archive"),
        (b"\x1f\x8b", "it is gzip-compressed data"),
        (b"\x89PNG", "it is a PNG image"),
        (b"%PDF", "it is a PDF document"),
        (b"#!", "it is a script"),
    ];
    if let Some((_, what)) = known.iter().find(|(magic, _)| bytes.starts_with(magic)) {
        return what.to_string();
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        let mut shown: String = line.trim().chars().take(40).collect();
        if shown.len() < line.trim().len() {
            shown.push_str("...");
        }
        return format!("it is text that is neither WAT nor WIT (it starts with `{shown}`)");
    }
    let head: Vec<String> = bytes.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!(
        "it starts with bytes `{}`, not the WebAssembly magic `00 61 73 6d`",
        head.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_binaries_text_and_garbage() {
        let module = wat::parse_str("(module)").unwrap();
        let component = wat::parse_str("(component)").unwrap();
        assert!(matches!(
            classify("m", &module).unwrap(),
            Content::Wasm(WasmBinary {
                kind: BinaryKind::CoreModule,
                from_wat: false,
                ..
            })
        ));
        assert!(matches!(
            classify("c", &component).unwrap(),
            Content::Wasm(WasmBinary {
                kind: BinaryKind::Component,
                ..
            })
        ));
        assert!(matches!(
            classify("t", b";; hi\n(component)").unwrap(),
            Content::Wasm(WasmBinary {
                kind: BinaryKind::Component,
                from_wat: true,
                ..
            })
        ));
        assert!(matches!(
            classify("w", b"// c\npackage a:b;\nworld w {}").unwrap(),
            Content::WitText(_)
        ));
        assert!(matches!(classify("e", b""), Err(Error::Empty { .. })));
        assert!(matches!(
            classify("x", b"\0as"),
            Err(Error::Truncated { .. })
        ));
        let err = classify("elf", b"\x7fELF\x02\x01").unwrap_err().to_string();
        assert!(err.contains("ELF"), "{err}");
        let err = classify("bin", &[0xde, 0xad, 0xbe, 0xef, 0xff])
            .unwrap_err()
            .to_string();
        assert!(err.contains("de ad be ef"), "{err}");
    }
}
