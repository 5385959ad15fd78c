//! Small WIT renderers for explanations: a type as it appears in a signature, a named
//! type's definition, a function's signature. (Whole packages are printed with
//! wit-component's `WitPrinter`.)

use wit_parser::{Function, FunctionKind, Handle, Resolve, Type, TypeDefKind, TypeId};

/// A type as written where it is used: `u32`, `list<person>`, `result<_, error>`.
pub fn type_ref(resolve: &Resolve, ty: &Type) -> String {
    match ty {
        Type::Bool => "bool".into(),
        Type::U8 => "u8".into(),
        Type::U16 => "u16".into(),
        Type::U32 => "u32".into(),
        Type::U64 => "u64".into(),
        Type::S8 => "s8".into(),
        Type::S16 => "s16".into(),
        Type::S32 => "s32".into(),
        Type::S64 => "s64".into(),
        Type::F32 => "f32".into(),
        Type::F64 => "f64".into(),
        Type::Char => "char".into(),
        Type::String => "string".into(),
        Type::ErrorContext => "error-context".into(),
        Type::Id(id) => id_ref(resolve, *id),
    }
}

fn id_ref(resolve: &Resolve, id: TypeId) -> String {
    let def = &resolve.types[id];
    match &def.name {
        Some(name) => name.clone(),
        None => structure(resolve, &def.kind),
    }
}

/// The structure of a type, ignoring its name.
fn structure(resolve: &Resolve, kind: &TypeDefKind) -> String {
    let opt = |t: &Option<Type>| t.as_ref().map(|t| type_ref(resolve, t));
    match kind {
        TypeDefKind::List(t) => format!("list<{}>", type_ref(resolve, t)),
        TypeDefKind::FixedLengthList(t, n) => format!("list<{}, {n}>", type_ref(resolve, t)),
        TypeDefKind::Map(k, v) => {
            format!("map<{}, {}>", type_ref(resolve, k), type_ref(resolve, v))
        }
        TypeDefKind::Option(t) => format!("option<{}>", type_ref(resolve, t)),
        TypeDefKind::Tuple(t) => {
            let items: Vec<String> = t.types.iter().map(|t| type_ref(resolve, t)).collect();
            format!("tuple<{}>", items.join(", "))
        }
        TypeDefKind::Result(r) => match (opt(&r.ok), opt(&r.err)) {
            (None, None) => "result".into(),
            (Some(ok), None) => format!("result<{ok}>"),
            (None, Some(err)) => format!("result<_, {err}>"),
            (Some(ok), Some(err)) => format!("result<{ok}, {err}>"),
        },
        TypeDefKind::Handle(Handle::Own(r)) => id_ref(resolve, *r),
        TypeDefKind::Handle(Handle::Borrow(r)) => format!("borrow<{}>", id_ref(resolve, *r)),
        TypeDefKind::Future(t) => match opt(t) {
            Some(t) => format!("future<{t}>"),
            None => "future".into(),
        },
        TypeDefKind::Stream(t) => match opt(t) {
            Some(t) => format!("stream<{t}>"),
            None => "stream".into(),
        },
        TypeDefKind::Type(t) => type_ref(resolve, t),
        TypeDefKind::Record(_)
        | TypeDefKind::Resource
        | TypeDefKind::Flags(_)
        | TypeDefKind::Variant(_)
        | TypeDefKind::Enum(_)
        | TypeDefKind::Unknown => "<anonymous type>".into(),
    }
}

/// The WIT keyword of a named type's kind: `record`, `variant`, `resource`, ...
pub fn kind_word(resolve: &Resolve, id: TypeId) -> &'static str {
    match &resolve.types[id].kind {
        TypeDefKind::Record(_) => "record",
        TypeDefKind::Variant(_) => "variant",
        TypeDefKind::Enum(_) => "enum",
        TypeDefKind::Flags(_) => "flags",
        TypeDefKind::Resource => "resource",
        _ => "type",
    }
}

/// A named type's definition, on one line: `record person { name: string, age: u32 }`.
pub fn type_def(resolve: &Resolve, id: TypeId) -> String {
    let def = &resolve.types[id];
    let name = def.name.as_deref().unwrap_or("_");
    let list = |items: Vec<String>| {
        if items.is_empty() {
            "{}".to_string()
        } else {
            format!("{{ {} }}", items.join(", "))
        }
    };
    match &def.kind {
        TypeDefKind::Record(r) => {
            let fields = r
                .fields
                .iter()
                .map(|f| format!("{}: {}", f.name, type_ref(resolve, &f.ty)))
                .collect();
            format!("record {name} {}", list(fields))
        }
        TypeDefKind::Variant(v) => {
            let cases = v
                .cases
                .iter()
                .map(|c| match &c.ty {
                    Some(t) => format!("{}({})", c.name, type_ref(resolve, t)),
                    None => c.name.clone(),
                })
                .collect();
            format!("variant {name} {}", list(cases))
        }
        TypeDefKind::Enum(e) => {
            let cases = e.cases.iter().map(|c| c.name.clone()).collect();
            format!("enum {name} {}", list(cases))
        }
        TypeDefKind::Flags(f) => {
            let flags = f.flags.iter().map(|c| c.name.clone()).collect();
            format!("flags {name} {}", list(flags))
        }
        TypeDefKind::Resource => format!("resource {name}"),
        kind => format!("type {name} = {}", structure(resolve, kind)),
    }
}

/// How a function is referred to in messages: `greet`, `counter.increment`,
/// `counter` constructor.
pub fn func_label(f: &Function) -> String {
    match &f.kind {
        FunctionKind::Constructor(_) => {
            format!("{} constructor", resource_of(&f.name))
        }
        FunctionKind::Freestanding
        | FunctionKind::AsyncFreestanding
        | FunctionKind::Getter
        | FunctionKind::Setter => f.name.clone(),
        _ => format!("{}.{}", resource_of(&f.name), f.item_name()),
    }
}

fn resource_of(name: &str) -> &str {
    let unbracketed = name.split_once(']').map_or(name, |(_, rest)| rest);
    unbracketed.split('.').next().unwrap_or(unbracketed)
}

/// A function signature in WIT: `greet: func(name: string) -> string`.
/// Methods leave out their implicit `self` parameter, as WIT source does.
pub fn func_sig(resolve: &Resolve, f: &Function) -> String {
    let skip_self = matches!(
        f.kind,
        FunctionKind::Method(_)
            | FunctionKind::AsyncMethod(_)
            | FunctionKind::MethodGetter(_)
            | FunctionKind::MethodSetter(_)
    );
    let params: Vec<String> = f
        .params
        .iter()
        .skip(usize::from(skip_self))
        .map(|p| format!("{}: {}", p.name, type_ref(resolve, &p.ty)))
        .collect();
    let is_async = matches!(
        f.kind,
        FunctionKind::AsyncFreestanding
            | FunctionKind::AsyncMethod(_)
            | FunctionKind::AsyncStatic(_)
    );
    let keyword = match (&f.kind, is_async) {
        (FunctionKind::Constructor(_), _) => {
            return format!("constructor({})", params.join(", "));
        }
        (FunctionKind::Static(_) | FunctionKind::AsyncStatic(_), true) => "static async func",
        (FunctionKind::Static(_), false) => "static func",
        (_, true) => "async func",
        (_, false) => "func",
    };
    let result = f
        .result
        .as_ref()
        .map(|t| format!(" -> {}", type_ref(resolve, t)))
        .unwrap_or_default();
    format!(
        "{}: {keyword}({}){result}",
        f.item_name(),
        params.join(", ")
    )
}
