//! Rust stubs: `src/lib.rs` implementing the traits `wit_bindgen::generate!` (0.63)
//! generates for the world's exports.
//!
//! Each exported interface gets a module that glob-imports its generated module
//! (`crate::exports::<ns>::<pkg>::<iface>`), where every named type a function of the
//! interface can mention is defined or re-exported (WIT only lets a function name types
//! in its interface's scope). So named types are written by their UpperCamel name alone,
//! and only anonymous types (`list`, `option`, `result`, `tuple`, handles) are spelled out.

use super::{Exports, dealias, doc_lines, message, params, returns_string_error};
use heck::{ToSnakeCase as _, ToUpperCamelCase as _};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use wit_parser::{Function, Handle, Type, TypeDefKind, WorldKey};

pub(super) fn generate(ex: &Exports<'_>) -> BTreeMap<String, String> {
    let resolve = ex.resolve;
    let world = &resolve.worlds[ex.world];
    let mut src = String::new();
    let _ = writeln!(src, "//! Implements the world `{}`.\n//!", ex.world_name);
    src.push_str(
        "//! `wcomp new --world` generated a stub for every export: each returns the error\n\
         //! \"not implemented: ...\" (functions returning `result<_, string>`) or panics\n\
         //! with that message, until you write it.\n\
         //!\n\
         //! `wit_bindgen::generate!` turns each exported interface into a `Guest` trait\n\
         //! (and a `Guest<Resource>` trait per resource) under `exports::`; imports are\n\
         //! plain functions in modules named after their packages.\n\n",
    );
    let _ = writeln!(
        src,
        "// `generate_all`: bindings for the interfaces of other packages (wit/deps) too.\n\
         wit_bindgen::generate!({{ path: \"wit\", world: \"{}\", generate_all }});\n",
        world.name
    );
    let anything = !ex.functions.is_empty()
        || ex
            .interfaces
            .iter()
            .any(|i| !i.functions.is_empty() || !i.resources.is_empty());
    if anything {
        src.push_str("/// The component: the generated `Guest` traits are implemented for it.\n");
        src.push_str("struct Component;\n\nexport!(Component);\n");
    } else {
        // wit-bindgen defines no `export!` for a world with nothing to implement.
        src.push_str("// The world exports no functions: there is nothing to implement.\n");
    }

    if !ex.functions.is_empty() {
        let _ = writeln!(src, "\n/// Functions the world exports directly.");
        src.push_str("#[allow(unused_variables)]\nimpl Guest for Component {\n");
        for (i, f) in ex.functions.iter().enumerate() {
            if i > 0 {
                src.push('\n');
            }
            function(ex, &mut src, "    ", f, &ex.world_name, None);
        }
        src.push_str("}\n");
    }

    let mut modules = BTreeSet::new();
    let mut struct_names = BTreeSet::new();
    for iface in &ex.interfaces {
        if iface.functions.is_empty() && iface.resources.is_empty() {
            // Only types: wit-bindgen generates no `Guest` trait to implement.
            let _ = writeln!(
                src,
                "\n// The exported interface `{}` has only types: nothing to implement.",
                iface.name
            );
            continue;
        }
        let snake = match iface.key {
            WorldKey::Name(name) => name.to_snake_case(),
            WorldKey::Interface(id) => resolve.interfaces[*id]
                .name
                .as_deref()
                .unwrap_or("interface")
                .to_snake_case(),
        };
        let mut module = format!("{snake}_impl");
        let mut n = 2;
        while !modules.insert(module.clone()) {
            module = format!("{snake}_impl{n}");
            n += 1;
        }
        let _ = writeln!(src, "\n/// The exported interface `{}`.", iface.name);
        let _ = writeln!(src, "mod {module} {{");
        src.push_str("    #![allow(unused_variables)]\n\n");
        let _ = writeln!(src, "    use crate::{}::*;\n", module_path(ex, iface.key));
        src.push_str("    impl Guest for crate::Component {\n");
        let mut first = true;
        let mut impl_names = Vec::new();
        for r in &iface.resources {
            let camel = r.name.to_upper_camel_case();
            let mut name = format!("My{camel}");
            let mut n = 2;
            while !struct_names.insert(name.clone()) {
                name = format!("My{camel}{n}");
                n += 1;
            }
            let _ = writeln!(src, "        type {camel} = {name};");
            impl_names.push(name);
            first = false;
        }
        for f in &iface.functions {
            if !first {
                src.push('\n');
            }
            first = false;
            function(ex, &mut src, "        ", f, &iface.name, None);
        }
        src.push_str("    }\n");
        for (r, impl_name) in iface.resources.iter().zip(&impl_names) {
            let camel = r.name.to_upper_camel_case();
            let docs = doc_lines(&resolve.types[r.id].docs, "    /// ");
            src.push('\n');
            if docs.is_empty() {
                let _ = writeln!(
                    src,
                    "    /// The resource `{}`: its state goes in this struct.",
                    r.name
                );
            } else {
                src.push_str(&docs);
            }
            let _ = writeln!(src, "    pub struct {impl_name} {{}}\n");
            let _ = writeln!(src, "    impl Guest{camel} for {impl_name} {{");
            let mut first = true;
            let all = r.constructor.iter().chain(&r.methods).chain(&r.statics);
            for f in all {
                if !first {
                    src.push('\n');
                }
                first = false;
                function(ex, &mut src, "        ", f, &iface.name, Some(r.id));
            }
            src.push_str("    }\n");
        }
        src.push_str("}\n");
    }
    BTreeMap::from([("src/lib.rs".to_string(), src)])
}

/// `exports::example::rich::shapes` for an exported interface.
fn module_path(ex: &Exports<'_>, key: &WorldKey) -> String {
    match key {
        WorldKey::Name(name) => format!("exports::{}", rust_ident(&name.to_snake_case())),
        WorldKey::Interface(id) => {
            let iface = &ex.resolve.interfaces[*id];
            let pkg_id = iface.package.expect("interface in a package");
            let pkg = &ex.resolve.packages[pkg_id].name;
            format!(
                "exports::{}::{}::{}",
                rust_ident(&pkg.namespace.to_snake_case()),
                // With a version suffix when several versions of the package are present.
                wit_bindgen_core::name_package_module(ex.resolve, pkg_id),
                rust_ident(&iface.name.as_deref().unwrap_or_default().to_snake_case())
            )
        }
    }
}

/// One trait method with its stub body.
fn function(
    ex: &Exports<'_>,
    src: &mut String,
    indent: &str,
    f: &Function,
    owner: &str,
    resource: Option<wit_parser::TypeId>,
) {
    let resolve = ex.resolve;
    src.push_str(&doc_lines(&f.docs, &format!("{indent}/// ")));
    let is_constructor = matches!(f.kind, wit_parser::FunctionKind::Constructor(_));
    let name = if is_constructor {
        "new".to_string()
    } else {
        rust_ident(&f.item_name().to_snake_case())
    };
    let mut args = Vec::new();
    if matches!(f.kind, wit_parser::FunctionKind::Method(_)) && resource.is_some() {
        args.push("&self".to_string());
    }
    for p in params(f) {
        args.push(format!(
            "{}: {}",
            rust_ident(&p.name.to_snake_case()),
            ty(ex, &p.ty)
        ));
    }
    let ret = if is_constructor {
        " -> Self".to_string()
    } else {
        f.result
            .as_ref()
            .map(|t| format!(" -> {}", ty(ex, t)))
            .unwrap_or_default()
    };
    let msg = message(owner, f);
    let body = if returns_string_error(resolve, f) {
        format!("Err(\"{msg}\".to_string())")
    } else {
        format!("panic!(\"{msg}\")")
    };
    let _ = writeln!(
        src,
        "{indent}fn {name}({}){ret} {{\n{indent}    {body}\n{indent}}}",
        args.join(", ")
    );
}

/// The Rust type wit-bindgen gives an exported function's parameter or result.
fn ty(ex: &Exports<'_>, t: &Type) -> String {
    match t {
        Type::Bool => "bool".into(),
        Type::U8 => "u8".into(),
        Type::U16 => "u16".into(),
        Type::U32 => "u32".into(),
        Type::U64 => "u64".into(),
        Type::S8 => "i8".into(),
        Type::S16 => "i16".into(),
        Type::S32 => "i32".into(),
        Type::S64 => "i64".into(),
        Type::F32 => "f32".into(),
        Type::F64 => "f64".into(),
        Type::Char => "char".into(),
        Type::String => "String".into(),
        Type::ErrorContext => "wit_bindgen::ErrorContext".into(),
        Type::Id(id) => {
            let td = &ex.resolve.types[*id];
            if let (Some(name), false) = (&td.name, matches!(td.kind, TypeDefKind::Handle(_))) {
                return type_camel(name);
            }
            match &td.kind {
                TypeDefKind::Handle(Handle::Own(r)) => ty(ex, &Type::Id(*r)),
                TypeDefKind::Handle(Handle::Borrow(r)) => {
                    let name = ex.resolve.types[*r]
                        .name
                        .as_deref()
                        .or(ex.resolve.types[dealias(ex.resolve, *r)].name.as_deref())
                        .unwrap_or_default()
                        .to_upper_camel_case();
                    if ex.is_exported_resource(*r) {
                        format!("{name}Borrow<'_>")
                    } else {
                        format!("&{name}")
                    }
                }
                TypeDefKind::List(t) => format!("Vec<{}>", ty(ex, t)),
                TypeDefKind::Option(t) => format!("Option<{}>", ty(ex, t)),
                TypeDefKind::Result(r) => format!(
                    "Result<{}, {}>",
                    r.ok.as_ref().map_or("()".into(), |t| ty(ex, t)),
                    r.err.as_ref().map_or("()".into(), |t| ty(ex, t))
                ),
                TypeDefKind::Tuple(t) => {
                    let parts: Vec<String> = t.types.iter().map(|t| ty(ex, t)).collect();
                    if parts.len() == 1 {
                        format!("({},)", parts[0])
                    } else {
                        format!("({})", parts.join(", "))
                    }
                }
                TypeDefKind::Type(t) => ty(ex, t),
                // Refused before rendering (see `check_supported`).
                _ => "()".into(),
            }
        }
    }
}

/// A WIT type's Rust name; `guest` is renamed because `Guest` names the traits.
fn type_camel(name: &str) -> String {
    match name {
        "guest" => "Guest_".to_string(),
        other => other.to_upper_camel_case(),
    }
}

/// wit-bindgen's escaping of Rust keywords: a trailing `_`.
fn rust_ident(name: &str) -> String {
    const KEYWORDS: &[&str] = &[
        "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn",
        "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref",
        "return", "self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use",
        "where", "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final",
        "macro", "override", "priv", "typeof", "unsized", "virtual", "yield", "try",
    ];
    if KEYWORDS.contains(&name) {
        format!("{name}_")
    } else {
        name.to_string()
    }
}
