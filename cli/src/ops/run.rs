//! `wcomp run`: a component in wasmtime with WASI 0.2 and wcomp's host interfaces.
//!
//! Capabilities are explicit: no directory and no environment variable reaches the guest
//! unless `--dir` / `--env` name it. Standard input and output are the terminal's.

use super::EnvironmentError;
use super::host::{self, AllowedHost, Outbound, State, quoted};
use super::sql::{self, DbSpec, SqlHost};
use anyhow::{Result, anyhow, bail};
use std::path::PathBuf;
use wasmtime::component::{
    Component, ComponentExportIndex, Instance, Linker, Val, types::ComponentItem,
};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

/// What to run and with which capabilities.
pub struct RunSpec {
    pub component: PathBuf,
    /// `name(args...)` in WAVE, optionally prefixed by `interface#`.
    pub invoke: Option<String>,
    /// `(host path, guest path)`.
    pub dirs: Vec<(PathBuf, String)>,
    pub env: Vec<(String, String)>,
    pub args: Vec<String>,
    pub db: Option<DbSpec>,
    /// Hosts outgoing `wasi:http` requests may go to.
    pub allow_outbound: Vec<AllowedHost>,
}

/// How the run ended.
pub enum Outcome {
    /// `--invoke`: the results, rendered in WAVE.
    Returned(Vec<String>),
    /// `wasi:cli/run`: the guest's exit code.
    Exited(i32),
}

pub fn run(spec: &RunSpec) -> Result<Outcome> {
    let bytes = read_component(&spec.component)?;
    let name = spec.component.display().to_string();
    let mut config = Config::new();
    config.wasm_component_model(true);
    // Compiled code is cached, so a second run of a large component starts at once.
    host::enable_cache(&mut config);
    let engine = Engine::new(&config)?;
    let component = Component::new(&engine, &bytes)
        .map_err(|e| anyhow!("`{name}` cannot be compiled: {e:#}"))?;

    let mut linker = host::sync_linker(&engine)?;
    let needs = host::check_imports(&engine, &component, &mut linker, &name, "wcomp run")?;

    // Every capability is checked before the database is opened (and a SQLite file made).
    if let Some((host, _)) = spec.dirs.iter().find(|(host, _)| !host.is_dir()) {
        return Err(
            EnvironmentError(format!("`--dir {}`: not a directory", host.display())).into(),
        );
    }
    let db = match (&spec.db, needs.sql) {
        (Some(db), _) => {
            sql::check_spec(db)?;
            Some(sql::open(db)?)
        }
        (None, true) => {
            return Err(EnvironmentError(format!(
                "`{name}` imports the wcomp:sql database interface: give it a database with \
                 `--db sqlite:PATH` (a file, created if missing) or `--db postgres://user@host/db`"
            ))
            .into());
        }
        (None, false) => None,
    };

    let mut wasi = WasiCtxBuilder::new();
    wasi.inherit_stdio();
    let mut argv = vec![
        spec.component
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
    ];
    argv.extend(spec.args.iter().cloned());
    wasi.args(&argv);
    for (k, v) in &spec.env {
        wasi.env(k, v);
    }
    for (host, guest) in &spec.dirs {
        wasi.preopened_dir(host, guest, FsPerms::ReadWrite)
            .map_err(|e| anyhow!("cannot open `{}` for the guest: {e}", host.display()))?;
    }
    let mut store = Store::new(
        &engine,
        State::new(
            wasi.build(),
            SqlHost { db },
            Outbound::new(spec.allow_outbound.clone()),
            wasmtime::StoreLimits::default(),
        ),
    );

    match &spec.invoke {
        Some(call) => invoke(&engine, &component, &linker, &mut store, call).map(Outcome::Returned),
        None => run_command(&component, &linker, &mut store, &name),
    }
}

/// The component in `path`: a binary, or WAT text compiled here as `wcomp validate` and
/// `inspect` do. A core module or WIT text is refused with what it is.
pub fn read_component(path: &std::path::Path) -> Result<Vec<u8>> {
    let bytes = wcomp_wasm::input::read_file(path)?;
    let name = path.display().to_string();
    Ok(match wcomp_wasm::input::classify(&name, &bytes)? {
        wcomp_wasm::input::Content::Wasm(b)
            if b.kind == wcomp_wasm::input::BinaryKind::Component =>
        {
            b.bytes.into_owned()
        }
        wcomp_wasm::input::Content::Wasm(_) => {
            return Err(wcomp_wasm::Error::CoreModule { name }.into());
        }
        wcomp_wasm::input::Content::WitText(_) => {
            return Err(wcomp_wasm::Error::NotWasm {
                name,
                what: "it is WIT text".to_string(),
            }
            .into());
        }
    })
}

fn run_command(
    component: &Component,
    linker: &Linker<State>,
    store: &mut Store<State>,
    name: &str,
) -> Result<Outcome> {
    let engine = store.engine().clone();
    let exports: Vec<String> = component
        .component_type()
        .exports(&engine)
        .map(|(n, _)| n.to_string())
        .collect();
    if !exports.iter().any(|e| e.starts_with("wasi:cli/run@0.2")) {
        return Err(EnvironmentError(format!(
            "`{name}` does not export `wasi:cli/run` (its exports: {}); call a function with \
             `--invoke 'name(args)'`",
            quoted(&exports)
        ))
        .into());
    }
    // Imports were checked before: what fails here is the guest's own start code.
    let command =
        wasmtime_wasi::p2::bindings::sync::Command::instantiate(&mut *store, component, linker)
            .map_err(trap)?;
    match command.wasi_cli_run().call_run(&mut *store) {
        Ok(Ok(())) => Ok(Outcome::Exited(0)),
        Ok(Err(())) => Ok(Outcome::Exited(1)),
        Err(e) => match e.downcast_ref::<wasmtime_wasi::I32Exit>() {
            Some(exit) => Ok(Outcome::Exited(exit.0)),
            None => Err(trap(e)),
        },
    }
}

/// A function the component exports: where it is and its parameter types.
struct Target {
    instance: Option<String>,
    func: String,
}

fn invoke(
    engine: &Engine,
    component: &Component,
    linker: &Linker<State>,
    store: &mut Store<State>,
    call: &str,
) -> Result<Vec<String>> {
    // `iface#name(args)` or `name(args)`.
    let open = call.find('(').unwrap_or(call.len());
    let (prefix, rest) = match call[..open].rfind('#') {
        Some(hash) => (Some(call[..hash].trim()), &call[hash + 1..]),
        None => (None, call),
    };
    let parsed = wasm_wave::untyped::UntypedFuncCall::parse(rest.trim())
        .map_err(|e| anyhow!("`--invoke {call}` is not a WAVE function call: {e}"))?;
    let fname = parsed.name().to_string();
    let target = find_function(engine, component, prefix, &fname)?;

    let instance: Instance = linker.instantiate(&mut *store, component).map_err(trap)?;
    let iface_index: Option<ComponentExportIndex> = match &target.instance {
        Some(i) => Some(
            instance
                .get_export_index(&mut *store, None, i)
                .ok_or_else(|| anyhow!("no export `{i}`"))?,
        ),
        None => None,
    };
    let func_index = instance
        .get_export_index(&mut *store, iface_index.as_ref(), &target.func)
        .ok_or_else(|| anyhow!("no function `{}`", target.func))?;
    let func = instance
        .get_func(&mut *store, func_index)
        .ok_or_else(|| anyhow!("`{}` is not a function", target.func))?;
    let ty = func.ty(&*store);
    let param_types: Vec<wasmtime::component::Type> = ty.params().map(|(_, t)| t).collect();
    let params: Vec<Val> = parsed.to_wasm_params(param_types.iter()).map_err(|e| {
        let sig: Vec<String> = ty
            .params()
            .map(|(n, t)| format!("{n}: {}", type_name(&t)))
            .collect();
        anyhow!(
            "the arguments of `{call}` do not fit `{fname}({})`: {e}",
            sig.join(", ")
        )
    })?;
    let mut results = vec![Val::Bool(false); ty.results().len()];
    func.call(&mut *store, &params, &mut results)
        .map_err(trap)?;
    results
        .iter()
        .map(|v| wasm_wave::to_string(v).map_err(|e| anyhow!("cannot print a result: {e}")))
        .collect()
}

fn find_function(
    engine: &Engine,
    component: &Component,
    prefix: Option<&str>,
    fname: &str,
) -> Result<Target> {
    let mut found = Vec::new();
    let mut all = Vec::new();
    for (name, item) in component.component_type().exports(engine) {
        match &item.ty {
            ComponentItem::ComponentFunc(_) => {
                all.push(name.to_string());
                if name == fname && prefix.is_none() {
                    found.push(Target {
                        instance: None,
                        func: name.to_string(),
                    });
                }
            }
            ComponentItem::ComponentInstance(i) => {
                let matches_prefix = prefix.is_none_or(|p| {
                    name == p
                        || name.split('@').next() == Some(p)
                        || name.rsplit('/').next().and_then(|s| s.split('@').next()) == Some(p)
                });
                for (f, e) in i.exports(engine) {
                    if matches!(e.ty, ComponentItem::ComponentFunc(_)) {
                        all.push(format!("{name}#{f}"));
                        if f == fname && matches_prefix {
                            found.push(Target {
                                instance: Some(name.to_string()),
                                func: f.to_string(),
                            });
                        }
                    }
                }
            }
            _ => {}
        }
    }
    match found.len() {
        1 => Ok(found.pop().expect("one")),
        0 => Err(EnvironmentError(format!(
            "the component exports no function `{}{fname}` (it exports: {})",
            prefix.map(|p| format!("{p}#")).unwrap_or_default(),
            quoted(&all)
        ))
        .into()),
        _ => {
            let names: Vec<String> = found
                .iter()
                .map(|t| format!("{}#{}", t.instance.as_deref().unwrap_or(""), t.func))
                .collect();
            bail!(EnvironmentError(format!(
                "several exports are named `{fname}`: {}; prefix the call with the interface, \
                 e.g. `--invoke '{}(...)'`",
                quoted(&names),
                names[0]
            )))
        }
    }
}

pub fn type_name(t: &wasmtime::component::Type) -> String {
    use wasmtime::component::Type as T;
    match t {
        T::Bool => "bool".into(),
        T::S8 => "s8".into(),
        T::U8 => "u8".into(),
        T::S16 => "s16".into(),
        T::U16 => "u16".into(),
        T::S32 => "s32".into(),
        T::U32 => "u32".into(),
        T::S64 => "s64".into(),
        T::U64 => "u64".into(),
        T::Float32 => "f32".into(),
        T::Float64 => "f64".into(),
        T::Char => "char".into(),
        T::String => "string".into(),
        T::List(l) => format!("list<{}>", type_name(&l.ty())),
        T::Option(o) => format!("option<{}>", type_name(&o.ty())),
        T::Record(r) => {
            let fields: Vec<String> = r
                .fields()
                .map(|f| format!("{}: {}", f.name, type_name(&f.ty)))
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
        T::Tuple(t) => {
            let types: Vec<String> = t.types().map(|t| type_name(&t)).collect();
            format!("tuple<{}>", types.join(", "))
        }
        T::Variant(v) => {
            let cases: Vec<String> = v
                .cases()
                .map(|c| match c.ty {
                    Some(t) => format!("{}({})", c.name, type_name(&t)),
                    None => c.name.to_string(),
                })
                .collect();
            format!("variant {{{}}}", cases.join(", "))
        }
        T::Enum(e) => format!("enum {{{}}}", e.names().collect::<Vec<_>>().join(", ")),
        T::Flags(f) => format!("flags {{{}}}", f.names().collect::<Vec<_>>().join(", ")),
        T::Result(r) => {
            let side =
                |t: Option<wasmtime::component::Type>| t.map_or("_".to_string(), |t| type_name(&t));
            format!("result<{}, {}>", side(r.ok()), side(r.err()))
        }
        _ => "value".into(),
    }
}

/// A trap, with its causes and the guest's backtrace when wasmtime has one.
fn trap(e: wasmtime::Error) -> anyhow::Error {
    anyhow!(GuestFailure(format!("{e:?}")))
}

/// The component trapped or failed: the operation failed (exit 1), not the invocation.
#[derive(Debug, thiserror::Error)]
#[error("the component failed: {0}")]
pub struct GuestFailure(pub String);
