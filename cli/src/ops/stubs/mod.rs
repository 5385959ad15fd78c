//! Export stubs for `wcomp new --world`: source in the template's language that
//! implements every export of a world, each function failing with "not implemented"
//! until the user writes it.
//!
//! The stubs are rendered from the `wit_parser::Resolve`, naming things the way each
//! language's bindings generator does (wit-bindgen 0.63 for Rust and Go, componentize-py
//! 0.25, componentize-js 0.23), so they compile against the bindings the build generates.
//! C and C++ stubs take their signatures from the header `wit-bindgen c` 0.63 generates.
//!
//! What a stub does when called: a function whose result is `result<_, string>` (any
//! ok type, an error type that is `string` or an alias of it) returns the error
//! `"not implemented: <owner>#<function>"`; every other function traps (panics, raises,
//! throws) with that message. `<owner>` is the exported interface's name as the
//! component exports it (`example:rich/shapes@0.1.0`), or the world's for functions the
//! world exports directly; `<function>` is the function's WIT name (`[method]canvas.draw`
//! for a resource's method, as in the component's export names). Where the toolchain
//! decides otherwise, the stubs follow it: componentize-py and componentize-js return a
//! named result type (`type outcome = result<...>`) as a value, so those stubs return the
//! error instead of raising it; componentize-js turns anything thrown from a function
//! with an anonymous `result` into its `err`, so such a JavaScript stub cannot trap.
//!
//! The map of files returned is relative to the project directory; `wcomp new` adds them
//! to the template's files (replacing the template's own at the same paths).

mod c;
mod go;
mod js;
mod python;
mod rust;

use crate::ops::manifest::Language;
use anyhow::{Result, bail};
use std::collections::BTreeMap;
use wit_parser::{
    Function, FunctionKind, InterfaceId, Resolve, Type, TypeDefKind, TypeId, WorldId, WorldItem,
    WorldKey,
};

/// Stub sources for `world` in `language`, by path relative to the project. C and C++
/// stubs copy their signatures from the bindings' header: see [`generate_c`].
pub fn generate(
    language: Language,
    resolve: &Resolve,
    world: WorldId,
) -> Result<BTreeMap<String, String>> {
    if language == Language::Go {
        // Refused as `wcomp build` would refuse it, before anything stub-specific.
        crate::ops::build_go::ensure_sync(resolve, world)?;
    }
    let exports = Exports::collect(resolve, world)?;
    Ok(match language {
        Language::Rust => rust::generate(&exports),
        Language::Go => go::generate(&exports),
        Language::Python => python::generate(&exports),
        Language::Javascript => js::generate(&exports),
        Language::C | Language::Cpp => {
            bail!("C and C++ stubs are made from the bindings' header (`generate_c`)")
        }
    })
}

/// C (or, with `language` C++, C++) stub sources for `world`, given the header
/// `wit-bindgen c` generated for it.
pub fn generate_c(
    language: Language,
    resolve: &Resolve,
    world: WorldId,
    header: &str,
) -> Result<BTreeMap<String, String>> {
    let exports = Exports::collect(resolve, world)?;
    c::generate(&exports, header, language == Language::Cpp)
}

/// What a world exports, grouped the way every language's bindings group it.
pub(crate) struct Exports<'a> {
    pub resolve: &'a Resolve,
    pub world: WorldId,
    /// The world's name qualified with its package (`example:rich/rich@0.1.0`): the
    /// owner named in the messages of world-level functions.
    pub world_name: String,
    /// Functions the world exports directly.
    pub functions: Vec<&'a Function>,
    pub interfaces: Vec<ExportedInterface<'a>>,
}

pub(crate) struct ExportedInterface<'a> {
    pub key: &'a WorldKey,
    /// As the component exports it: `example:rich/shapes@0.1.0`, or the plain name of an
    /// interface declared inline in the world.
    pub name: String,
    pub functions: Vec<&'a Function>,
    pub resources: Vec<ExportedResource<'a>>,
}

pub(crate) struct ExportedResource<'a> {
    pub id: TypeId,
    /// The WIT name (`canvas`).
    pub name: &'a str,
    pub constructor: Option<&'a Function>,
    pub methods: Vec<&'a Function>,
    pub statics: Vec<&'a Function>,
}

impl<'a> Exports<'a> {
    fn collect(resolve: &'a Resolve, world: WorldId) -> Result<Exports<'a>> {
        let w = &resolve.worlds[world];
        let world_name = match w.package {
            Some(pkg) => {
                let p = &resolve.packages[pkg].name;
                let version = p.version.as_ref().map(|v| format!("@{v}"));
                format!(
                    "{}:{}/{}{}",
                    p.namespace,
                    p.name,
                    w.name,
                    version.unwrap_or_default()
                )
            }
            None => w.name.clone(),
        };
        let mut out = Exports {
            resolve,
            world,
            world_name,
            functions: Vec::new(),
            interfaces: Vec::new(),
        };
        let mut unsupported = Vec::new();
        for (key, item) in &w.exports {
            match item {
                WorldItem::Function(f) => {
                    check_supported(resolve, f, &w.name, &mut unsupported);
                    out.functions.push(f);
                }
                WorldItem::Interface { id, .. } => {
                    let iface = &resolve.interfaces[*id];
                    let name = resolve.name_world_key(key);
                    let mut exported = ExportedInterface {
                        key,
                        name: name.clone(),
                        functions: Vec::new(),
                        resources: Vec::new(),
                    };
                    for (type_name, ty) in &iface.types {
                        if matches!(resolve.types[*ty].kind, TypeDefKind::Resource) {
                            exported.resources.push(ExportedResource {
                                id: *ty,
                                name: type_name,
                                constructor: None,
                                methods: Vec::new(),
                                statics: Vec::new(),
                            });
                        }
                    }
                    for f in iface.functions.values() {
                        check_supported(resolve, f, &name, &mut unsupported);
                        match &f.kind {
                            FunctionKind::Freestanding | FunctionKind::AsyncFreestanding => {
                                exported.functions.push(f)
                            }
                            FunctionKind::Constructor(id) => {
                                if let Some(r) = resource(&mut exported.resources, id) {
                                    r.constructor = Some(f);
                                }
                            }
                            FunctionKind::Method(id) | FunctionKind::AsyncMethod(id) => {
                                if let Some(r) = resource(&mut exported.resources, id) {
                                    r.methods.push(f);
                                }
                            }
                            FunctionKind::Static(id) | FunctionKind::AsyncStatic(id) => {
                                if let Some(r) = resource(&mut exported.resources, id) {
                                    r.statics.push(f);
                                }
                            }
                            // Getters and setters are refused by `check_supported`.
                            _ => {}
                        }
                    }
                    out.interfaces.push(exported);
                }
                WorldItem::Type { .. } => {}
            }
        }
        if !unsupported.is_empty() {
            bail!(
                "cannot generate export stubs for world `{}`:\n{}",
                w.name,
                unsupported
                    .iter()
                    .map(|u| format!("  - {u}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        Ok(out)
    }

    /// The interface, when the world exports it (its types then live on the export side
    /// of the bindings).
    pub fn exported_key(&self, id: InterfaceId) -> Option<&'a WorldKey> {
        self.resolve.worlds[self.world]
            .exports
            .iter()
            .find_map(|(key, item)| match item {
                WorldItem::Interface { id: i, .. } if *i == id => Some(key),
                _ => None,
            })
    }

    /// How the world names the interface (exported or imported), if it does.
    pub fn key_of(&self, id: InterfaceId) -> Option<&'a WorldKey> {
        self.exported_key(id).or_else(|| {
            self.resolve.worlds[self.world]
                .imports
                .iter()
                .find_map(|(key, item)| match item {
                    WorldItem::Interface { id: i, .. } if *i == id => Some(key),
                    _ => None,
                })
        })
    }

    /// Whether `id` is a resource some exported interface defines.
    pub fn is_exported_resource(&self, id: TypeId) -> bool {
        let id = dealias(self.resolve, id);
        self.interfaces
            .iter()
            .any(|i| i.resources.iter().any(|r| r.id == id))
    }
}

fn resource<'r, 'a>(
    resources: &'r mut [ExportedResource<'a>],
    id: &TypeId,
) -> Option<&'r mut ExportedResource<'a>> {
    resources.iter_mut().find(|r| r.id == *id)
}

/// The message a stub fails with.
pub(crate) fn message(owner: &str, f: &Function) -> String {
    format!("not implemented: {owner}#{}", f.name)
}

/// Whether the stub returns an error value instead of trapping: the function returns
/// `result<_, string>` (any ok type; the error `string` or an alias of it).
pub(crate) fn returns_string_error(resolve: &Resolve, f: &Function) -> bool {
    let Some(Type::Id(id)) = f.result else {
        return false;
    };
    match &resolve.types[dealias(resolve, id)].kind {
        TypeDefKind::Result(r) => match r.err {
            Some(Type::String) => true,
            Some(Type::Id(e)) => matches!(
                resolve.types[dealias(resolve, e)].kind,
                TypeDefKind::Type(Type::String)
            ),
            _ => false,
        },
        _ => false,
    }
}

/// Whether the function's result is a named type (`type outcome = result<...>`, or an
/// alias of one) rather than written out: componentize-py and componentize-js map only
/// an anonymous `result` to exceptions, and a named one to a value.
pub(crate) fn result_is_named(resolve: &Resolve, f: &Function) -> bool {
    matches!(f.result, Some(Type::Id(id)) if resolve.types[id].name.is_some())
}

/// Follows `type a = b` aliases to the type they name.
pub(crate) fn dealias(resolve: &Resolve, mut id: TypeId) -> TypeId {
    while let TypeDefKind::Type(Type::Id(next)) = resolve.types[id].kind {
        id = next;
    }
    id
}

/// The parameters a stub declares: all of them, less `self` for methods.
pub(crate) fn params(f: &Function) -> &[wit_parser::Param] {
    match f.kind {
        FunctionKind::Method(_) | FunctionKind::AsyncMethod(_) => &f.params[1..],
        _ => &f.params,
    }
}

/// Collects what stubs cannot express yet: async functions, futures, streams and maps
/// (the bindings generators differ on them, and Go refuses async worlds outright).
fn check_supported(resolve: &Resolve, f: &Function, owner: &str, out: &mut Vec<String>) {
    if matches!(
        f.kind,
        FunctionKind::Getter
            | FunctionKind::Setter
            | FunctionKind::MethodGetter(_)
            | FunctionKind::MethodSetter(_)
            | FunctionKind::StaticGetter(_)
            | FunctionKind::StaticSetter(_)
    ) {
        out.push(format!(
            "`{}` in `{owner}` is a getter or setter, which stubs do not support yet",
            f.name
        ));
        return;
    }
    if f.kind.is_async() {
        out.push(format!(
            "function `{}` in `{owner}` is async, which stubs do not support yet",
            f.name
        ));
        return;
    }
    let types = f.params.iter().map(|p| &p.ty).chain(&f.result);
    for ty in types {
        if let Some(what) = unsupported_type(resolve, ty) {
            out.push(format!(
                "function `{}` in `{owner}` uses {what}, which stubs do not support yet",
                f.name
            ));
            return;
        }
    }
}

fn unsupported_type(resolve: &Resolve, ty: &Type) -> Option<&'static str> {
    let Type::Id(id) = ty else {
        return None;
    };
    let any = |tys: &mut dyn Iterator<Item = &Type>| {
        let mut found = None;
        for t in tys {
            found = found.or_else(|| unsupported_type(resolve, t));
        }
        found
    };
    match &resolve.types[*id].kind {
        TypeDefKind::Future(_) => Some("a future"),
        TypeDefKind::Stream(_) => Some("a stream"),
        TypeDefKind::Map(..) => Some("a map"),
        TypeDefKind::FixedLengthList(..) => Some("a fixed-length list"),
        TypeDefKind::Record(r) => any(&mut r.fields.iter().map(|f| &f.ty)),
        TypeDefKind::Tuple(t) => any(&mut t.types.iter()),
        TypeDefKind::Variant(v) => any(&mut v.cases.iter().filter_map(|c| c.ty.as_ref())),
        TypeDefKind::Result(r) => any(&mut r.ok.iter().chain(&r.err)),
        TypeDefKind::Option(t) | TypeDefKind::List(t) | TypeDefKind::Type(t) => {
            unsupported_type(resolve, t)
        }
        TypeDefKind::Resource
        | TypeDefKind::Handle(_)
        | TypeDefKind::Flags(_)
        | TypeDefKind::Enum(_)
        | TypeDefKind::Unknown => None,
    }
}

/// WIT docs as comment lines starting with `prefix` (`"    /// "`).
pub(crate) fn doc_lines(docs: &wit_parser::Docs, prefix: &str) -> String {
    let Some(text) = docs.contents.as_deref() else {
        return String::new();
    };
    text.lines()
        .map(|l| {
            if l.trim().is_empty() {
                format!("{}\n", prefix.trim_end())
            } else {
                format!("{prefix}{}\n", l.trim_end())
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
