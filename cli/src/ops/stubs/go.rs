//! Go stubs, written against the standalone bindings wit-bindgen-go 0.63 generates at
//! build time (see `ops/build_go.rs`).
//!
//! The bindings call one plain Go function per exported function, in the package
//! `export_<ns>_<pkg>_<iface>` (`export_wit_world` for the world's own functions):
//! `Greet(...)`, `Make<R>(...) *R` for a resource's constructor, methods on `*R`, and
//! `<R><Func>(...)` for its static functions. A resource is a struct the stub defines,
//! with the `pinner` and `handle` fields and the `OnDrop` method the bindings use. A
//! function whose result is a tuple returns its elements as several results. Types come
//! from the interface's generated package (`<ns>_<pkg>_<iface>`), except exported
//! resources (and types holding them), which live in the export package.

use super::{Exports, doc_lines, message, params, returns_string_error};
use heck::{ToLowerCamelCase as _, ToSnakeCase as _, ToUpperCamelCase as _};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use wit_parser::{Function, FunctionKind, Handle, Type, TypeDefKind, TypeId, TypeOwner, WorldKey};

const TYPES_IMPORT: &str = "witTypes \"go.bytecodealliance.org/pkg/wit/types\"";

pub(super) fn generate(ex: &Exports<'_>) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    if !ex.functions.is_empty() {
        let mut g = Gen::new(ex, None);
        let mut body = String::new();
        for f in &ex.functions {
            body.push('\n');
            g.function(&mut body, f, &ex.world_name, None);
        }
        let header = format!(
            "// Package export_wit_world implements the functions the world\n// {} exports \
             directly.\n",
            ex.world_name
        );
        files.insert(
            "export_wit_world/wit_world.go".to_string(),
            g.file("export_wit_world", &header, &body),
        );
    }
    for iface in &ex.interfaces {
        let mut g = Gen::new(ex, Some(iface.key));
        let package = format!("export_{}", g.package_name(Some(iface.key)));
        let mut body = String::new();
        for f in &iface.functions {
            body.push('\n');
            g.function(&mut body, f, &iface.name, None);
        }
        for r in &iface.resources {
            let camel = r.name.to_upper_camel_case();
            g.imports.insert("\"runtime\"".to_string());
            body.push('\n');
            let docs = doc_lines(&ex.resolve.types[r.id].docs, "// ");
            if docs.is_empty() {
                let _ = writeln!(
                    body,
                    "// {camel} is the resource `{}`: its state goes in this struct. The \
                     bindings\n// need the pinner and handle fields, and OnDrop.",
                    r.name
                );
            } else {
                body.push_str(&docs);
            }
            let _ = writeln!(
                body,
                "type {camel} struct {{\n\tpinner runtime.Pinner\n\thandle int32\n}}"
            );
            for f in r.constructor.iter().chain(&r.methods).chain(&r.statics) {
                body.push('\n');
                g.function(&mut body, f, &iface.name, Some(r.id));
            }
            let _ = writeln!(
                body,
                "\n// OnDrop runs when the last handle to the {camel} is dropped.\nfunc (self \
                 *{camel}) OnDrop() {{}}"
            );
        }
        let header = format!(
            "// Package {package} implements the exported interface\n// {}.\n",
            iface.name
        );
        let file_name = match iface.key {
            WorldKey::Name(name) => name.to_snake_case(),
            WorldKey::Interface(id) => ex.resolve.interfaces[*id]
                .name
                .as_deref()
                .unwrap_or("interface")
                .to_snake_case(),
        };
        files.insert(
            format!("{package}/{file_name}.go"),
            g.file(&package, &header, &body),
        );
    }
    files
}

struct Gen<'a, 'b> {
    ex: &'b Exports<'a>,
    /// The exported interface the file implements; `None` for the world's functions.
    local: Option<&'a WorldKey>,
    imports: BTreeSet<String>,
}

impl<'a, 'b> Gen<'a, 'b> {
    fn new(ex: &'b Exports<'a>, local: Option<&'a WorldKey>) -> Self {
        Gen {
            ex,
            local,
            imports: BTreeSet::new(),
        }
    }

    fn file(&self, package: &str, header: &str, body: &str) -> String {
        let mut out = String::new();
        out.push_str(header);
        out.push_str(
            "//\n// `wcomp new --world` generated a stub for every export: each returns the\n",
        );
        out.push_str(
            "// error \"not implemented: ...\" (functions returning result<_, string>) or\n",
        );
        out.push_str("// panics with that message, until you write it.\n");
        let _ = writeln!(out, "package {package}");
        if !self.imports.is_empty() {
            out.push_str("\nimport (\n");
            // In gofmt's order: by path, whatever the alias.
            let mut imports: Vec<&String> = self.imports.iter().collect();
            imports.sort_by_key(|i| i.split_once('"').map(|(_, path)| path.to_string()));
            for i in imports {
                let _ = writeln!(out, "\t{i}");
            }
            out.push_str(")\n");
        }
        out.push_str(body);
        out
    }

    /// wit-bindgen-go's package name for an interface (without `export_`).
    fn package_name(&self, key: Option<&WorldKey>) -> String {
        let resolve = self.ex.resolve;
        let name = match key {
            Some(WorldKey::Name(name)) => name.to_snake_case(),
            Some(WorldKey::Interface(id)) => {
                let iface = &resolve.interfaces[*id];
                let package = &resolve.packages[iface.package.expect("interface in a package")];
                let several_versions = resolve.packages.iter().any(|(_, p)| {
                    p.name.namespace == package.name.namespace
                        && p.name.name == package.name.name
                        && p.name.version != package.name.version
                });
                let version = match (&package.name.version, several_versions) {
                    (Some(v), true) => format!("{}_", v.to_string().replace(['.', '-', '+'], "_")),
                    _ => String::new(),
                };
                format!(
                    "{}_{}_{version}{}",
                    package.name.namespace.to_snake_case(),
                    package.name.name.to_snake_case(),
                    iface.name.as_deref().unwrap_or_default().to_snake_case()
                )
            }
            None => "wit_world".into(),
        };
        escape_keyword(name)
    }

    /// The `pkg.` prefix for a named type, importing its package; empty when the type is
    /// the file's own (an exported resource of this interface).
    fn prefix(&mut self, id: TypeId) -> String {
        let owner = match self.ex.resolve.types[id].owner {
            TypeOwner::Interface(i) => {
                Some(self.ex.key_of(i).cloned().unwrap_or(WorldKey::Interface(i)))
            }
            _ => None,
        };
        let exported = self.has_exported_resource(&Type::Id(id));
        if self.local.cloned() == owner && exported {
            return String::new();
        }
        let mut package = self.package_name(owner.as_ref());
        if exported {
            package = format!("export_{package}");
        }
        self.imports.insert(format!("\"wit_component/{package}\""));
        format!("{package}.")
    }

    fn has_exported_resource(&self, t: &Type) -> bool {
        let Type::Id(id) = t else { return false };
        let resolve = self.ex.resolve;
        match &resolve.types[*id].kind {
            TypeDefKind::Resource => self.ex.is_exported_resource(*id),
            TypeDefKind::Handle(Handle::Own(r) | Handle::Borrow(r)) => {
                self.has_exported_resource(&Type::Id(*r))
            }
            TypeDefKind::Record(r) => r.fields.iter().any(|f| self.has_exported_resource(&f.ty)),
            TypeDefKind::Variant(v) => v
                .cases
                .iter()
                .any(|c| c.ty.as_ref().is_some_and(|t| self.has_exported_resource(t))),
            TypeDefKind::Option(t) | TypeDefKind::List(t) | TypeDefKind::Type(t) => {
                self.has_exported_resource(t)
            }
            // As the generator checks it: the ok type when there is one, else the error.
            TypeDefKind::Result(r) => match (&r.ok, &r.err) {
                (Some(t), _) => self.has_exported_resource(t),
                (None, Some(t)) => self.has_exported_resource(t),
                (None, None) => false,
            },
            TypeDefKind::Tuple(t) => t.types.iter().any(|t| self.has_exported_resource(t)),
            _ => false,
        }
    }

    fn ty(&mut self, t: &Type) -> String {
        match t {
            Type::Bool => "bool".into(),
            Type::U8 => "uint8".into(),
            Type::S8 => "int8".into(),
            Type::U16 => "uint16".into(),
            Type::S16 => "int16".into(),
            Type::U32 => "uint32".into(),
            Type::S32 => "int32".into(),
            Type::U64 => "uint64".into(),
            Type::S64 => "int64".into(),
            Type::F32 => "float32".into(),
            Type::F64 => "float64".into(),
            Type::Char => "rune".into(),
            Type::String => "string".into(),
            Type::ErrorContext => "any".into(),
            Type::Id(id) => {
                let td = &self.ex.resolve.types[*id];
                match &td.kind {
                    TypeDefKind::Record(_)
                    | TypeDefKind::Flags(_)
                    | TypeDefKind::Variant(_)
                    | TypeDefKind::Enum(_)
                    | TypeDefKind::Resource => {
                        let prefix = self.prefix(*id);
                        format!(
                            "{prefix}{}",
                            td.name.as_deref().unwrap_or_default().to_upper_camel_case()
                        )
                    }
                    TypeDefKind::Handle(Handle::Own(r) | Handle::Borrow(r)) => {
                        format!("*{}", self.ty(&Type::Id(*r)))
                    }
                    TypeDefKind::Option(t) => {
                        self.imports.insert(TYPES_IMPORT.into());
                        format!("witTypes.Option[{}]", self.ty(t))
                    }
                    TypeDefKind::List(t) => format!("[]{}", self.ty(t)),
                    TypeDefKind::Result(r) => {
                        self.imports.insert(TYPES_IMPORT.into());
                        let ok = r.ok.as_ref().map_or("witTypes.Unit".into(), |t| self.ty(t));
                        let err = r
                            .err
                            .as_ref()
                            .map_or("witTypes.Unit".into(), |t| self.ty(t));
                        format!("witTypes.Result[{ok}, {err}]")
                    }
                    TypeDefKind::Tuple(t) => {
                        self.imports.insert(TYPES_IMPORT.into());
                        let parts: Vec<String> = t.types.iter().map(|t| self.ty(t)).collect();
                        format!("witTypes.Tuple{}[{}]", parts.len(), parts.join(", "))
                    }
                    TypeDefKind::Type(t) => self.ty(t),
                    // Refused before rendering (see `check_supported`).
                    _ => "any".into(),
                }
            }
        }
    }

    fn function(&mut self, out: &mut String, f: &Function, owner: &str, resource: Option<TypeId>) {
        let resolve = self.ex.resolve;
        let camel_resource = resource.map(|r| {
            resolve.types[r]
                .name
                .as_deref()
                .unwrap_or_default()
                .to_upper_camel_case()
        });
        let item = f.item_name().to_upper_camel_case();
        let (receiver, name) = match (&f.kind, &camel_resource) {
            (FunctionKind::Constructor(_), Some(r)) => (String::new(), format!("Make{r}")),
            (FunctionKind::Method(_), Some(r)) => {
                let name = if ["TakeHandle", "SetHandle", "Handle", "Drop", "OnDrop"]
                    .contains(&item.as_str())
                {
                    format!("{item}_")
                } else {
                    item
                };
                (format!("(self *{r}) "), name)
            }
            (FunctionKind::Static(_), Some(r)) => (String::new(), format!("{r}{item}")),
            _ => (String::new(), item),
        };
        let args: Vec<String> = params(f)
            .iter()
            .map(|p| {
                format!(
                    "{} {}",
                    escape_keyword(p.name.to_lower_camel_case()),
                    self.ty(&p.ty)
                )
            })
            .collect();
        let result = match &f.result {
            None => String::new(),
            Some(t @ Type::Id(id)) => match &resolve.types[*id].kind {
                TypeDefKind::Tuple(tuple) => {
                    let parts: Vec<String> = tuple.types.iter().map(|t| self.ty(t)).collect();
                    format!(" ({})", parts.join(", "))
                }
                _ => format!(" {}", self.ty(t)),
            },
            Some(t) => format!(" {}", self.ty(t)),
        };
        let msg = message(owner, f);
        let body = if returns_string_error(resolve, f) {
            // `witTypes.Err[Ok, Err]`: the result type, read back from the signature.
            let inner = result
                .trim()
                .strip_prefix("witTypes.Result[")
                .and_then(|r| r.strip_suffix(']'))
                .unwrap_or("witTypes.Unit, string");
            format!("return witTypes.Err[{inner}](\"{msg}\")")
        } else {
            format!("panic(\"{msg}\")")
        };
        out.push_str(&doc_lines(&f.docs, "// "));
        let _ = writeln!(
            out,
            "func {receiver}{name}({}){result} {{\n\t{body}\n}}",
            args.join(", ")
        );
    }
}

fn escape_keyword(name: String) -> String {
    match name.as_str() {
        "break" | "case" | "chan" | "const" | "continue" | "default" | "defer" | "else"
        | "fallthrough" | "for" | "func" | "go" | "goto" | "if" | "import" | "interface"
        | "map" | "package" | "range" | "return" | "select" | "struct" | "switch" | "type"
        | "var" => format!("{name}_"),
        _ => name,
    }
}
