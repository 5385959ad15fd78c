//! Python stubs for componentize-py 0.25.
//!
//! `app.py` holds `class WitWorld(wit_world.WitWorld)` for the functions the world
//! exports directly and `class <Iface>(exports.<Iface>)` per exported interface. The
//! classes of an interface's resources must live in a module named after the interface
//! (`<iface>.py`, next to `app.py`), subclassing the protocols in
//! `wit_world.exports.<iface>`. The error of a function whose result is an anonymous
//! `result<T, E>` is returned by raising `componentize_py_types.Err(value)` (the function
//! returns T); a named result type (`type outcome = result<...>`) is returned as a value,
//! `Ok(...)` or `Err(...)`. Any other exception traps.
//!
//! Annotations are written as componentize-py's bindings spell them and never evaluated
//! (`from __future__ import annotations`).

use super::{Exports, doc_lines, message, params, result_is_named, returns_string_error};
use heck::{ToSnakeCase as _, ToUpperCamelCase as _};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use wit_parser::{Function, FunctionKind, Handle, Type, TypeDefKind, TypeOwner, WorldKey};

pub(super) fn generate(ex: &Exports<'_>) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let mut g = Gen {
        ex,
        modules: BTreeSet::new(),
    };
    let mut body = String::new();
    if !ex.functions.is_empty() {
        let _ = writeln!(
            body,
            "\n\nclass WitWorld(wit_world.WitWorld):\n    \"\"\"The functions the world exports \
             directly.\"\"\"\n"
        );
        for (i, f) in ex.functions.iter().enumerate() {
            if i > 0 {
                body.push('\n');
            }
            g.function(&mut body, f, &ex.world_name, false);
        }
    }
    for iface in &ex.interfaces {
        let snake = interface_snake(ex, iface.key);
        let camel = snake.to_upper_camel_case();
        let _ = writeln!(
            body,
            "\n\nclass {camel}(exports.{camel}):\n    \"\"\"The exported interface `{}`.\"\"\"\n",
            iface.name
        );
        if iface.functions.is_empty() {
            body.push_str("    pass\n");
        }
        for (i, f) in iface.functions.iter().enumerate() {
            if i > 0 {
                body.push('\n');
            }
            g.function(&mut body, f, &iface.name, false);
        }
        if iface.resources.is_empty() {
            continue;
        }
        // The resources' classes, in the module componentize-py looks them up in.
        let mut res_gen = Gen {
            ex,
            modules: BTreeSet::from([("exports", snake.clone())]),
        };
        let mut res = String::new();
        for r in &iface.resources {
            let camel = r.name.to_upper_camel_case();
            let _ = writeln!(res, "\n\nclass {camel}({snake}.{camel}):");
            let docs = doc_lines(&ex.resolve.types[r.id].docs, "    ");
            if docs.is_empty() {
                let _ = writeln!(
                    res,
                    "    \"\"\"The resource `{}`: its state goes in this object.\"\"\"\n",
                    r.name
                );
            } else {
                let _ = writeln!(res, "    \"\"\"\n{docs}    \"\"\"\n");
            }
            let all: Vec<&Function> = r
                .constructor
                .iter()
                .chain(&r.methods)
                .chain(&r.statics)
                .copied()
                .collect();
            if all.is_empty() {
                res.push_str("    pass\n");
            }
            for (i, f) in all.iter().enumerate() {
                if i > 0 {
                    res.push('\n');
                }
                res_gen.function(&mut res, f, &iface.name, true);
            }
        }
        if snake == "app" {
            // The module componentize-py looks in is the main one.
            g.modules.extend(res_gen.modules);
            body.push_str(&res);
            continue;
        }
        let header = format!(
            "\"\"\"The resources of the exported interface `{}`.\n\ncomponentize-py looks up \
             the class for each resource in a module named after the\ninterface: this one.\n{}\"\"\"\n",
            iface.name, NOTE
        );
        files.insert(format!("{snake}.py"), res_gen.file(&header, &res));
    }
    let header = format!(
        "\"\"\"Implements the world `{}`.\n{NOTE}\"\"\"\n",
        ex.world_name
    );
    files.insert("app.py".to_string(), g.file(&header, &body));
    files
}

const NOTE: &str = "\n`wcomp new --world` generated a stub for every export: each raises\n\
                    `Err(\"not implemented: ...\")` (functions returning `result<_, string>`, \
                    whose\nerror componentize-py returns) or `NotImplementedError`, which traps, \
                    until\nyou write it. To see the generated bindings:\n\
                    `componentize-py -d wit bindings bindings/`.\n";

fn interface_snake(ex: &Exports<'_>, key: &WorldKey) -> String {
    match key {
        WorldKey::Name(name) => name.to_snake_case(),
        WorldKey::Interface(id) => ex.resolve.interfaces[*id]
            .name
            .as_deref()
            .unwrap_or("interface")
            .to_snake_case(),
    }
}

struct Gen<'a, 'b> {
    ex: &'b Exports<'a>,
    /// Binding modules the annotations name: (`exports` or `imports`, module).
    modules: BTreeSet<(&'static str, String)>,
}

impl Gen<'_, '_> {
    fn file(&self, header: &str, body: &str) -> String {
        let mut out = String::new();
        out.push_str(header);
        out.push_str("\nfrom __future__ import annotations\n\n");
        out.push_str("from typing import List, Optional, Tuple\n\n");
        out.push_str("from componentize_py_types import Err, Result\n");
        out.push_str("import wit_world\n");
        // Only there when the world exports an interface.
        if !self.ex.interfaces.is_empty() {
            out.push_str("from wit_world import exports\n");
        }
        for (side, module) in &self.modules {
            let _ = writeln!(out, "from wit_world.{side} import {module}");
        }
        out.push_str(body);
        out
    }

    fn function(&mut self, out: &mut String, f: &Function, owner: &str, in_resource: bool) {
        let resolve = self.ex.resolve;
        let mut args = Vec::new();
        let name = match f.kind {
            FunctionKind::Constructor(_) => "__init__".to_string(),
            _ => py_ident(&f.item_name().to_snake_case()),
        };
        let is_static = matches!(f.kind, FunctionKind::Static(_));
        if is_static && in_resource {
            out.push_str("    @classmethod\n");
            args.push("cls".to_string());
        } else {
            args.push("self".to_string());
        }
        for p in params(f) {
            args.push(format!(
                "{}: {}",
                py_ident(&p.name.to_snake_case()),
                self.ty(&p.ty, false)
            ));
        }
        let named_result = result_is_named(resolve, f);
        let ret = match (&f.kind, &f.result) {
            (FunctionKind::Constructor(_), _) | (_, None) => "None".to_string(),
            // Only an anonymous `result` is raised; a named one is returned.
            (_, Some(t)) => self.ty(t, !named_result),
        };
        let _ = writeln!(out, "    def {name}({}) -> {ret}:", args.join(", "));
        let docs = doc_lines(&f.docs, "        ");
        if !docs.is_empty() {
            let _ = writeln!(out, "        \"\"\"\n{docs}        \"\"\"");
        }
        let msg = message(owner, f);
        if returns_string_error(resolve, f) && named_result {
            let _ = writeln!(out, "        return Err(\"{msg}\")");
        } else if returns_string_error(resolve, f) {
            let _ = writeln!(out, "        raise Err(\"{msg}\")");
        } else {
            let _ = writeln!(out, "        raise NotImplementedError(\"{msg}\")");
        }
    }

    /// The annotation componentize-py writes; `top_result` for a function's result,
    /// where a `result` is its ok type (the error is raised).
    fn ty(&mut self, t: &Type, top_result: bool) -> String {
        match t {
            Type::Bool => "bool".into(),
            Type::U8
            | Type::U16
            | Type::U32
            | Type::U64
            | Type::S8
            | Type::S16
            | Type::S32
            | Type::S64 => "int".into(),
            Type::F32 | Type::F64 => "float".into(),
            Type::Char | Type::String => "str".into(),
            Type::ErrorContext => "object".into(),
            Type::Id(id) => {
                let td = &self.ex.resolve.types[*id];
                match &td.kind {
                    TypeDefKind::Record(_)
                    | TypeDefKind::Flags(_)
                    | TypeDefKind::Variant(_)
                    | TypeDefKind::Enum(_)
                    | TypeDefKind::Resource => {
                        let camel = td.name.as_deref().unwrap_or_default().to_upper_camel_case();
                        match td.owner {
                            TypeOwner::Interface(i) => {
                                let exported = self.ex.exported_key(i).is_some();
                                let key =
                                    self.ex.key_of(i).cloned().unwrap_or(WorldKey::Interface(i));
                                let module = interface_snake(self.ex, &key);
                                let side = if exported { "exports" } else { "imports" };
                                self.modules.insert((side, module.clone()));
                                format!("{module}.{camel}")
                            }
                            _ => format!("wit_world.{camel}"),
                        }
                    }
                    TypeDefKind::Handle(Handle::Own(r) | Handle::Borrow(r)) => {
                        self.ty(&Type::Id(*r), false)
                    }
                    TypeDefKind::List(Type::U8) => "bytes".into(),
                    TypeDefKind::List(t) => format!("List[{}]", self.ty(t, false)),
                    TypeDefKind::Option(t) => format!("Optional[{}]", self.ty(t, false)),
                    TypeDefKind::Result(r) if top_result && td.name.is_none() => {
                        r.ok.as_ref().map_or("None".into(), |t| self.ty(t, false))
                    }
                    TypeDefKind::Result(r) => format!(
                        "Result[{}, {}]",
                        r.ok.as_ref().map_or("None".into(), |t| self.ty(t, false)),
                        r.err.as_ref().map_or("None".into(), |t| self.ty(t, false))
                    ),
                    TypeDefKind::Tuple(t) => {
                        let parts: Vec<String> =
                            t.types.iter().map(|t| self.ty(t, false)).collect();
                        format!("Tuple[{}]", parts.join(", "))
                    }
                    TypeDefKind::Type(t) => self.ty(t, top_result && td.name.is_none()),
                    _ => "object".into(),
                }
            }
        }
    }
}

/// componentize-py's escaping of Python keywords: a trailing `_`.
fn py_ident(name: &str) -> String {
    const KEYWORDS: &[&str] = &[
        "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class",
        "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global",
        "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return",
        "try", "while", "with", "yield",
    ];
    if KEYWORDS.contains(&name) {
        format!("{name}_")
    } else {
        name.to_string()
    }
}
