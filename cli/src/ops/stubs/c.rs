//! C and C++ stubs, written against the header `wit-bindgen c` (0.63) generates for the
//! world (see `ops/build_c.rs`).
//!
//! The bindings declare one C function per exported function, which the project
//! defines: `exports_<ns>_<pkg>_<iface>_<func>` for an exported interface (without
//! `exports_` for an interface declared inline in the world), `exports_<world>_<func>`
//! for the world's own functions; a resource's constructor, methods and static
//! functions are `..._constructor_<r>`, `..._method_<r>_<func>` and `..._static_<r>_<func>`.
//! Every exported resource also needs its struct (`struct ..._<r>_t`, the resource's
//! state) and a destructor `..._<r>_destructor`. The parameter and result types are
//! the bindings' own, so each stub's signature is copied from the generated header
//! rather than worked out again here: the names are computed from the WIT as the
//! generator computes them and looked up in the header.
//!
//! A stub for a function returning `result<_, string>` (returned by the bindings as
//! `bool` with an `err` out-parameter) sets the error and returns `false`; every other
//! stub prints the message to stderr and aborts (a trap). C++ stubs are the same
//! functions in a `.cpp` file (the header declares them `extern "C"`).

use super::{Exports, message, returns_string_error};
use anyhow::{Result, bail};
use heck::ToSnakeCase as _;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use wit_parser::{Function, WorldKey};

/// The stub file for `ex`, given the text of the header `wit-bindgen c` wrote for its
/// world; `cpp` for C++.
pub(crate) fn generate(
    ex: &Exports<'_>,
    header: &str,
    cpp: bool,
) -> Result<BTreeMap<String, String>> {
    let resolve = ex.resolve;
    let world = &resolve.worlds[ex.world].name;
    let c_world = world.to_snake_case();
    let mut st = Stubs {
        ex,
        header,
        c_world: &c_world,
        body: String::new(),
        missing: Vec::new(),
    };
    if !ex.functions.is_empty() {
        let _ = writeln!(st.body, "\n// Functions the world exports directly.");
        for f in &ex.functions {
            stub(&mut st, &format!("exports_{c_world}"), &ex.world_name, f);
        }
    }
    for iface in &ex.interfaces {
        if iface.functions.is_empty() && iface.resources.is_empty() {
            continue;
        }
        let prefix = interface_prefix(ex, iface.key);
        let _ = writeln!(st.body, "\n// The exported interface {}.", iface.name);
        for r in &iface.resources {
            let snake = r.name.to_snake_case();
            let ty = format!("{prefix}_{snake}_t");
            let dtor = format!("{prefix}_{snake}_destructor");
            if prototype(header, &dtor).is_none() {
                st.missing.push(dtor.clone());
                continue;
            }
            let _ = writeln!(
                st.body,
                "\n// The resource `{}`: its state goes in this struct. A constructor makes one \
                 with\n// `{prefix}_{snake}_new(rep)`, for a `rep` it allocated; the destructor \
                 frees it.",
                r.name
            );
            let (alloc_hint, free) = if cpp {
                ("delete", "delete rep;")
            } else {
                ("free", "free(rep);")
            };
            let _ = writeln!(st.body, "struct {ty} {{\n  int unused;\n}};");
            let _ = writeln!(
                st.body,
                "\nvoid {dtor}({ty} *rep) {{\n  // Allocated by a constructor; {alloc_hint} \
                 it the way it was allocated.\n  {free}\n}}"
            );
            for f in r.constructor.iter().chain(&r.methods).chain(&r.statics) {
                stub(&mut st, &prefix, &iface.name, f);
            }
        }
        for f in &iface.functions {
            stub(&mut st, &prefix, &iface.name, f);
        }
    }
    if !st.missing.is_empty() {
        bail!(
            "the bindings `wit-bindgen c` generated do not declare the functions the stubs \
             would define (is wit-bindgen-cli {} installed?): {}",
            crate::ops::build_c::WIT_BINDGEN_VERSION,
            st.missing.join(", ")
        );
    }

    let mut src = String::new();
    let _ = writeln!(src, "// Implements the world `{}`.\n//", ex.world_name);
    src.push_str(
        "// `wcomp new --world` generated a stub for every export: each returns the error\n\
         // \"not implemented: ...\" (functions returning result<_, string>) or aborts with\n\
         // that message, until you write it. The types and prototypes are in the bindings\n",
    );
    let _ = writeln!(
        src,
        "// `wcomp build` generates in gen/{c_world}.h. Parameters are owned by the function:\n\
         // free them with the `{c_world}_..._free` functions there (strings and lists),\n\
         // and values returned are freed by the bindings after the call."
    );
    if cpp {
        src.push_str(
            "// In C++, wit.hpp turns strings and lists into std::string and std::vector\n\
             // and back, and wit::owned frees what it holds.\n",
        );
    }
    src.push('\n');
    if cpp {
        let _ = writeln!(
            src,
            "#include \"{c_world}.h\"\n#include \"wit.hpp\"\n\n#include <cstdio>\n#include <cstdlib>\n"
        );
        src.push_str(
            "[[noreturn]] static void not_implemented(const char *msg) {\n  \
             std::fprintf(stderr, \"%s\\n\", msg);\n  std::abort();\n}\n",
        );
    } else {
        let _ = writeln!(
            src,
            "#include \"{c_world}.h\"\n\n#include <stdio.h>\n#include <stdlib.h>\n"
        );
        src.push_str(
            "__attribute__((noreturn)) static void not_implemented(const char *msg) {\n  \
             fprintf(stderr, \"%s\\n\", msg);\n  abort();\n}\n",
        );
    }
    src.push_str(&st.body);
    let path = if cpp {
        "src/component.cpp"
    } else {
        "src/component.c"
    };
    Ok(BTreeMap::from([(path.to_string(), src)]))
}

struct Stubs<'a, 'b> {
    ex: &'b Exports<'a>,
    header: &'b str,
    c_world: &'b str,
    body: String,
    /// Functions the header does not declare.
    missing: Vec<String>,
}

/// Appends the stub of `f`, whose C name is `<prefix>_<f's name>`.
fn stub(st: &mut Stubs<'_, '_>, prefix: &str, owner: &str, f: &Function) {
    let name = format!("{prefix}_{}", f.name.to_snake_case().replace('.', "_"));
    let Some(sig) = prototype(st.header, &name) else {
        st.missing.push(name);
        return;
    };
    let msg = message(owner, f);
    let _ = writeln!(st.body, "\n// {owner}#{}", f.name);
    let _ = writeln!(st.body, "{sig} {{");
    if returns_string_error(st.ex.resolve, f) && sig.starts_with("bool ") && sig.ends_with(" *err)")
    {
        for free in free_params(st.header, &sig) {
            let _ = writeln!(st.body, "  {free};");
        }
        let _ = writeln!(
            st.body,
            "  {}_string_dup(err, \"{msg}\");\n  return false;",
            st.c_world
        );
    } else {
        let _ = writeln!(st.body, "  not_implemented(\"{msg}\");");
    }
    st.body.push_str("}\n");
}

/// Statements that release what the parameters of `sig` own (the function owns its
/// parameters): `<type>_free` for strings, lists and types holding them, `_drop_own`
/// for owned handles. Borrows need nothing: the bindings drop them (`--autodrop-borrows`).
fn free_params(header: &str, sig: &str) -> Vec<String> {
    let (Some(open), Some(close)) = (sig.find('('), sig.rfind(')')) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for param in sig[open + 1..close].split(", ") {
        let Some((ty, name)) = param.rsplit_once(' ') else {
            continue;
        };
        let (pointer, name) = match name.strip_prefix('*') {
            Some(n) => (true, n),
            None => (false, name),
        };
        if matches!(name, "ret" | "err" | "self" | "void")
            || name.starts_with("ret") && name[3..].chars().all(|c| c.is_ascii_digit())
        {
            continue;
        }
        let Some(base) = ty.trim().strip_suffix("_t") else {
            continue;
        };
        let free = format!("void {base}_free({ty} *");
        let call = if header.lines().any(|l| l.starts_with(&free)) {
            let arg = if pointer {
                name.to_string()
            } else {
                format!("&{name}")
            };
            format!("{base}_free({arg})")
        } else if let Some((owner, resource)) = base.rsplit_once("_own_")
            && !pointer
            && header.contains(&format!(" {owner}_{resource}_drop_own({ty} handle);"))
        {
            format!("{owner}_{resource}_drop_own({name})")
        } else {
            continue;
        };
        // A flattened `option` parameter is a pointer, null for `none`.
        if name.starts_with("maybe_") {
            out.push(format!("if ({name}) {call}"));
        } else {
            out.push(call);
        }
    }
    out
}

/// What wit-bindgen names an exported interface's functions and types with:
/// `exports_<ns>_<pkg>_[<version>_]<iface>`, or the snake-case name of an inline one.
fn interface_prefix(ex: &Exports<'_>, key: &WorldKey) -> String {
    let resolve = ex.resolve;
    match key {
        WorldKey::Name(name) => name.to_snake_case(),
        WorldKey::Interface(id) => {
            let iface = &resolve.interfaces[*id];
            let pkg = &resolve.packages[iface.package.expect("interface in a package")];
            let mut out = format!(
                "exports_{}_{}_",
                pkg.name.namespace.to_snake_case(),
                pkg.name.name.to_snake_case()
            );
            let several_versions = resolve.packages.iter().any(|(_, p)| {
                p.name.namespace == pkg.name.namespace
                    && p.name.name == pkg.name.name
                    && p.name.version != pkg.name.version
            });
            if several_versions && let Some(v) = &pkg.name.version {
                out.push_str(&v.to_string().replace(['.', '-', '+'], "_"));
                out.push('_');
            }
            out.push_str(&iface.name.as_deref().unwrap_or_default().to_snake_case());
            out
        }
    }
}

/// The declaration of the function `name` in `header`, without its `;`:
/// `bool exports_x_f(x_string_t *s, x_string_t *err)`.
fn prototype(header: &str, name: &str) -> Option<String> {
    let call = format!(" {name}(");
    header.lines().find_map(|line| {
        let line = line.trim();
        let decl = line.strip_prefix("extern ").unwrap_or(line);
        (decl.contains(&call) && decl.ends_with(");"))
            .then(|| decl.trim_end_matches(';').to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines as `wit-bindgen c` 0.63 writes them.
    const HEADER: &str = "\
bool exports_x_y_parse(x_string_t *name, exports_x_y_color_t *ret, x_string_t *err);
bool exports_x_y_deep(x_list_option_list_u8_t *maybe_x, uint32_t *ret, x_string_t *err);
bool exports_x_y_take(x_own_blob_t b, exports_x_y_borrow_c_t c, int32_t n, x_string_t *err);
void x_string_free(x_string_t *ret);
void x_list_option_list_u8_free(x_list_option_list_u8_t *ptr);
extern void x_blob_drop_own(x_own_blob_t handle);
";

    #[test]
    fn prototypes_are_found_by_exact_name() {
        assert_eq!(
            prototype(HEADER, "exports_x_y_parse").as_deref(),
            Some(
                "bool exports_x_y_parse(x_string_t *name, exports_x_y_color_t *ret, x_string_t *err)"
            )
        );
        assert_eq!(prototype(HEADER, "exports_x_y_pars"), None);
        assert_eq!(
            prototype(HEADER, "x_blob_drop_own").as_deref(),
            Some("void x_blob_drop_own(x_own_blob_t handle)")
        );
    }

    #[test]
    fn parameters_are_freed_by_their_types_free_functions() {
        let free = |name| free_params(HEADER, &prototype(HEADER, name).unwrap());
        // Out-parameters are the bindings'.
        assert_eq!(free("exports_x_y_parse"), ["x_string_free(name)"]);
        // A flattened option is a pointer that may be null.
        assert_eq!(
            free("exports_x_y_deep"),
            ["if (maybe_x) x_list_option_list_u8_free(maybe_x)"]
        );
        // Owned handles are dropped; borrows and numbers need nothing.
        assert_eq!(free("exports_x_y_take"), ["x_blob_drop_own(b)"]);
    }
}
