//! JavaScript stubs for componentize-js 0.23.
//!
//! `app.js` exports one object per exported interface, named after the interface in
//! lowerCamelCase, with one method per function (lowerCamelCase) and one class per
//! resource (UpperCamelCase, with its constructor, methods and static functions); the
//! world's own exports are exported functions. From a function whose result is an
//! anonymous `result`, throwing an object with a `payload` property returns that payload
//! as the error (componentize-js turns anything thrown there into the `err` case); a
//! named result type (`type outcome = result<...>`) is returned as a value,
//! `{ tag: "err", val }`. Anything else thrown traps.

use super::{Exports, message, params, result_is_named, returns_string_error};
use heck::{ToLowerCamelCase as _, ToUpperCamelCase as _};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use wit_parser::{Function, FunctionKind, WorldKey};

pub(super) fn generate(ex: &Exports<'_>) -> BTreeMap<String, String> {
    let mut src = format!(
        "// Implements the world `{}`.\n//\n// `wcomp new --world` generated a stub for every \
         export: each throws a\n// ComponentError(\"not implemented: ...\") (functions returning \
         result<_, string>,\n// which componentize-js returns as the error) or an Error, which \
         traps, until you\n// write it. Values are plain JavaScript: records are objects with \
         camelCase\n// fields, enums strings, flags objects of booleans, variants {{ tag, val }},\n\
         // options a value or undefined, tuples arrays, list<u8> a Uint8Array.\n",
        ex.world_name
    );
    src.push_str(
        "\n/** Thrown to return `payload` as the `err` of a function returning a `result`. */\n\
         class ComponentError extends Error {\n  constructor(payload) {\n    \
         super(String(payload));\n    this.payload = payload;\n  }\n}\n",
    );
    for f in &ex.functions {
        src.push('\n');
        let name = f.item_name().to_lower_camel_case();
        let ident = js_ident(&name);
        let _ = writeln!(
            src,
            "{}function {ident}({}) {{\n  {}\n}}",
            if ident == name { "export " } else { "" },
            args(f),
            body(ex, f, &ex.world_name)
        );
        // A reserved word can name an export, not a function.
        if ident != name {
            let _ = writeln!(src, "export {{ {ident} as {name} }};");
        }
    }
    for iface in &ex.interfaces {
        let name = match iface.key {
            WorldKey::Name(name) => name.clone(),
            WorldKey::Interface(id) => ex.resolve.interfaces[*id].name.clone().unwrap_or_default(),
        };
        let camel = name.to_lower_camel_case();
        let ident = js_ident(&camel);
        let _ = writeln!(
            src,
            "\n/** The exported interface `{}`. */\n{}const {ident} = {{",
            iface.name,
            if ident == camel { "export " } else { "" },
        );
        for f in &iface.functions {
            // Property and method names may be reserved words.
            let _ = writeln!(
                src,
                "  {}({}) {{\n    {}\n  }},",
                f.item_name().to_lower_camel_case(),
                args(f),
                body(ex, f, &iface.name)
            );
        }
        for r in &iface.resources {
            let camel = r.name.to_upper_camel_case();
            let _ = writeln!(
                src,
                "  /** The resource `{}`: its state goes in this object. */\n  {camel}: class \
                 {camel} {{",
                r.name
            );
            let all = r.constructor.iter().chain(&r.methods).chain(&r.statics);
            for f in all {
                let name = match f.kind {
                    FunctionKind::Constructor(_) => "constructor".to_string(),
                    FunctionKind::Static(_) => {
                        format!("static {}", f.item_name().to_lower_camel_case())
                    }
                    _ => f.item_name().to_lower_camel_case(),
                };
                let _ = writeln!(
                    src,
                    "    {name}({}) {{\n      {}\n    }}",
                    args(f),
                    body(ex, f, &iface.name)
                );
            }
            src.push_str("  },\n");
        }
        src.push_str("};\n");
        if ident != camel {
            let _ = writeln!(src, "export {{ {ident} as {camel} }};");
        }
    }
    BTreeMap::from([("app.js".to_string(), src)])
}

fn args(f: &Function) -> String {
    params(f)
        .iter()
        .map(|p| js_ident(&p.name.to_lower_camel_case()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn body(ex: &Exports<'_>, f: &Function, owner: &str) -> String {
    let msg = message(owner, f);
    if returns_string_error(ex.resolve, f) && result_is_named(ex.resolve, f) {
        // componentize-js maps only an anonymous `result` to exceptions.
        format!("return {{ tag: \"err\", val: \"{msg}\" }};")
    } else if returns_string_error(ex.resolve, f) {
        format!("throw new ComponentError(\"{msg}\");")
    } else {
        format!("throw new Error(\"{msg}\");")
    }
}

/// Names JavaScript reserves get a trailing `_` where they would be bindings
/// (parameters, functions).
fn js_ident(name: &str) -> String {
    const RESERVED: &[&str] = &[
        "await",
        "break",
        "case",
        "catch",
        "class",
        "const",
        "continue",
        "debugger",
        "default",
        "delete",
        "do",
        "else",
        "enum",
        "export",
        "extends",
        "false",
        "finally",
        "for",
        "function",
        "if",
        "implements",
        "import",
        "in",
        "instanceof",
        "interface",
        "let",
        "new",
        "null",
        "package",
        "private",
        "protected",
        "public",
        "return",
        "static",
        "super",
        "switch",
        "this",
        "throw",
        "true",
        "try",
        "typeof",
        "var",
        "void",
        "while",
        "with",
        "yield",
    ];
    if RESERVED.contains(&name) {
        format!("{name}_")
    } else {
        name.to_string()
    }
}
