//! A test file becomes a [`Suite`]: everything that can be wrong with it is found here,
//! before any test runs, and reported with its place in the file.

use super::format::{self, MockSpec, OneOrMany, TestFile, TestSpec, nearest, position};
use crate::ops::host::{self, SQL_PACKAGE, State};
use crate::ops::manifest::{self, Manifest};
use crate::ops::run::type_name;
use crate::ops::sql::{DbSpec, SqlHost};
use anyhow::{Context as _, Result, anyhow};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use wasm_wave::untyped::{UntypedFuncCall, UntypedValue};
use wasmtime::component::types::{ComponentFunc, ComponentItem};
use wasmtime::component::{Component, ComponentExportIndex, Instance, InstancePre, Type, Val};
use wasmtime::{Engine, StoreContextMut};
use wasmtime_wasi::{WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtxView, WasiHttpView};

/// What a test's store holds: the host `wcomp run` has, the test's mocks, how often each
/// was called, and the component mocks instantiated for this test.
pub struct TestState {
    pub host: State,
    pub mocks: Arc<MockTable>,
    pub calls: HashMap<String, u64>,
    pub mock_instances: Vec<Option<Instance>>,
}

impl WasiView for TestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        self.host.ctx()
    }
}

impl WasiHttpView for TestState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        self.host.http()
    }
}

impl host::HostState for TestState {
    fn sql(&mut self) -> &mut SqlHost {
        &mut self.host.sql
    }
}

/// The answers of one test's mocks, by function key (`iface#name`, or `name` for a
/// function the world imports by itself).
pub type MockTable = HashMap<String, Answer>;

#[derive(Clone)]
pub enum Answer {
    /// One value per call; the last one repeats.
    Values(Arc<[Val]>),
    /// A function without a result: calls are counted, nothing is returned.
    Nothing,
    /// Forwarded to the export `func` of the component mock `mock` (an index into
    /// [`Suite::mock_pres`]).
    Forward {
        mock: usize,
        func: ComponentExportIndex,
    },
}

/// An HTTP request to the component's `wasi:http/incoming-handler`, and what the
/// response must be.
pub struct HttpTest {
    pub method: hyper::Method,
    /// `/path?query`.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub status: Option<u16>,
    pub body_text: Option<String>,
    pub response_headers: Vec<(String, String)>,
}

/// What a test expects of its call.
pub enum Expect {
    Value(Val),
    Trap(String),
    /// Only that it returns.
    Returns,
}

/// One test, checked and ready to run.
pub struct Prepared {
    pub name: String,
    /// Which of [`Suite::pres`] the test instantiates.
    pub pre: usize,
    pub call: String,
    /// The export `invoke` calls; `None` for a request test.
    pub func: Option<ComponentExportIndex>,
    pub params: Vec<Val>,
    pub expect: Expect,
    /// A request test's request and what its response must be.
    pub http: Option<HttpTest>,
    pub calls: Vec<(String, u64)>,
    pub mocks: Arc<MockTable>,
    /// The component mocks to instantiate before the component under test.
    pub component_mocks: Vec<usize>,
    pub db: Option<DbSpec>,
    pub env: Vec<(String, String)>,
    pub dirs: Vec<(PathBuf, String)>,
}

/// A loaded test file.
pub struct Suite {
    pub file: String,
    pub engine: Engine,
    /// One per set of host functions the tests mock ([`Prepared::pre`]).
    pub pres: Vec<InstancePre<TestState>>,
    pub mock_pres: Vec<InstancePre<TestState>>,
    pub tests: Vec<Prepared>,
}

/// A test file that cannot run: every problem found, each `file:line:col: ...`.
#[derive(Debug, thiserror::Error)]
#[error("{}", problems.join("\n"))]
pub struct Invalid {
    pub problems: Vec<String>,
}

/// A component compiled once, or why it could not be.
type Compiled = Arc<std::sync::OnceLock<Result<Component, String>>>;

/// Compiles components once for all the files that name them, also when files are
/// loaded in parallel (the second asker waits for the first).
pub struct Loader {
    engine: Engine,
    components: Mutex<HashMap<PathBuf, Compiled>>,
}

impl Loader {
    pub fn new() -> Result<Loader> {
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true);
        // Each test's time limit (`exec`'s clock).
        config.epoch_interruption(true);
        host::enable_cache(&mut config);
        Ok(Loader {
            engine: Engine::new(&config)?,
            components: Mutex::new(HashMap::new()),
        })
    }

    fn component(&self, path: &Path) -> Result<Component> {
        let key = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let cell = self
            .components
            .lock()
            .expect("not poisoned")
            .entry(key)
            .or_default()
            .clone();
        cell.get_or_init(|| {
            let bytes = crate::ops::run::read_component(path).map_err(|e| format!("{e:#}"))?;
            Component::new(&self.engine, &bytes)
                .map_err(|e| format!("`{}` cannot be compiled: {e:#}", path.display()))
        })
        .clone()
        .map_err(|e| anyhow!(e))
    }

    /// Reads and checks the test file `path`. An [`Invalid`] error lists what is wrong.
    pub fn load(&self, path: &Path) -> Result<Suite> {
        let text = fs_err::read_to_string(path)?;
        let parsed = format::parse(path, &text).map_err(|e| Invalid {
            problems: vec![e.to_string()],
        })?;
        let mut cx = Cx {
            file: path.display().to_string(),
            text: &text,
            dir: path.parent().unwrap_or(Path::new("")).to_path_buf(),
            problems: Vec::new(),
        };
        let suite = self.check(&mut cx, parsed);
        if !cx.problems.is_empty() {
            return Err(Invalid {
                problems: cx.problems,
            }
            .into());
        }
        suite.map_err(|e| {
            Invalid {
                problems: vec![format!("{}: {e:#}", cx.file)],
            }
            .into()
        })
    }

    fn check(&self, cx: &mut Cx, f: TestFile) -> Result<Suite> {
        if f.test.is_empty() {
            cx.problem(None, "no [[test]] in the file".to_string());
        }
        let component_path = match &f.component {
            Some(c) => cx.dir.join(c.get_ref()),
            None => default_component(&cx.dir).map_err(|e| {
                anyhow!("{e}; name the component with `component = \"path/to/app.wasm\"`")
            })?,
        };
        let component = self.component(&component_path).map_err(|e| {
            let at = f.component.as_ref().map(|c| cx.at(c.span().start));
            anyhow!(
                "{}the component `{}`: {e:#}",
                at.map(|a| format!("{a}: ")).unwrap_or_default(),
                component_path.display()
            )
        });
        let component = match component {
            Ok(c) => c,
            Err(e) => {
                // The place is in the message; no second file name in front.
                cx.problems.push(e.to_string());
                return Err(anyhow!("invalid"));
            }
        };
        let engine = &self.engine;
        let world = World::of(engine, &component);

        // Mocks: the file's, then each test's over them.
        let mut mock_files: Vec<PathBuf> = Vec::new();
        let mut mock_pres: Vec<InstancePre<TestState>> = Vec::new();
        let file_mocks = self.mocks(cx, &world, &f.mock, &mut mock_files, &mut mock_pres);

        let mut tests = Vec::new();
        let mut mocked_anywhere: BTreeSet<String> = file_mocks.keys().cloned().collect();
        let mut names = BTreeSet::new();
        for t in &f.test {
            if !names.insert(t.name.get_ref().clone()) {
                cx.problem(
                    Some(t.name.span().start),
                    format!("two tests are named `{}`", t.name.get_ref()),
                );
            }
            let own = self.mocks(cx, &world, &t.mock, &mut mock_files, &mut mock_pres);
            let mut table = file_mocks.clone();
            table.extend(own);
            mocked_anywhere.extend(table.keys().cloned());
            if let Some(p) = self.test(cx, &component, &world, t, table) {
                tests.push(p);
            }
        }

        // One linker for the tests that mock the same host functions (usually all of
        // them): a host function a test mocks is replaced in its linker only, so the
        // file's other tests still reach the real host (a database, say).
        let mut pres: Vec<(BTreeSet<String>, InstancePre<TestState>)> = Vec::new();
        for t in &mut tests {
            let shadowed: BTreeSet<String> = t
                .mocks
                .keys()
                .filter(|k| world.imports[k.as_str()].host_provided())
                .cloned()
                .collect();
            if let Some(i) = pres.iter().position(|(s, _)| *s == shadowed) {
                t.pre = i;
                continue;
            }
            let mut linker = host::sync_linker::<TestState>(engine)?;
            linker.allow_shadowing(true);
            for (import, only_types) in &world.instances {
                if *only_types {
                    linker.instance(import)?;
                }
            }
            for key in mocked_anywhere
                .iter()
                .filter(|k| !world.imports[k.as_str()].host_provided() || shadowed.contains(*k))
            {
                let f = &world.imports[key];
                let key: Arc<str> = Arc::from(key.as_str());
                let answer = move |mut store: StoreContextMut<'_, TestState>,
                                   _: ComponentFunc,
                                   params: &[Val],
                                   results: &mut [Val]| {
                    answer(&mut store, &key, params, results)
                };
                match &f.iface {
                    Some(i) => linker.instance(i)?.func_new(&f.name, answer)?,
                    None => linker.root().func_new(&f.name, answer)?,
                }
            }
            let pre = linker.instantiate_pre(&component).map_err(|e| {
                anyhow!(
                    "the component `{}` cannot be linked: {}",
                    component_path.display(),
                    host::link_error(&e, "wcomp test")
                )
            })?;
            t.pre = pres.len();
            pres.push((shadowed, pre));
        }
        Ok(Suite {
            file: cx.file.clone(),
            engine: engine.clone(),
            pres: pres.into_iter().map(|(_, p)| p).collect(),
            mock_pres,
            tests,
        })
    }

    /// The answers of `specs`, checked against the world's imports.
    fn mocks(
        &self,
        cx: &mut Cx,
        world: &World,
        specs: &[MockSpec],
        mock_files: &mut Vec<PathBuf>,
        mock_pres: &mut Vec<InstancePre<TestState>>,
    ) -> MockTable {
        let mut table = MockTable::new();
        for m in specs {
            match (&m.function, &m.interface) {
                (Some(function), None) => {
                    if let Some(c) = &m.component {
                        cx.problem(
                            Some(c.span().start),
                            "`component` plugs a whole interface: use it with `interface`, \
                             not `function`"
                                .to_string(),
                        );
                        continue;
                    }
                    let Some(key) = world.import_key(function.get_ref()) else {
                        let msg = world.unknown_import(function.get_ref());
                        cx.problem(Some(function.span().start), msg);
                        continue;
                    };
                    if let Some(answer) = self.returns(cx, world, &key, m) {
                        table.insert(key, answer);
                    }
                }
                (None, Some(interface)) => {
                    if let Some(r) = &m.returns {
                        cx.problem(
                            Some(r.span().start),
                            "`returns` answers one function: use it with `function`; an \
                             `interface` mock needs a `component`"
                                .to_string(),
                        );
                        continue;
                    }
                    let Some(c) = &m.component else {
                        cx.problem(
                            Some(interface.span().start),
                            format!(
                                "the mock of `{}` needs `component = \"path/to/mock.wasm\"`",
                                interface.get_ref()
                            ),
                        );
                        continue;
                    };
                    let Some(iface) = world.instance_name(interface.get_ref()) else {
                        let mut msg = format!(
                            "the component does not import the interface `{}`",
                            interface.get_ref()
                        );
                        let names: Vec<&str> = world.instances.keys().map(String::as_str).collect();
                        hint_names(&mut msg, interface.get_ref(), &names, "imports");
                        cx.problem(Some(interface.span().start), msg);
                        continue;
                    };
                    match self.component_mock(
                        world,
                        &iface,
                        &cx.dir.join(c.get_ref()),
                        mock_files,
                        mock_pres,
                    ) {
                        Ok(answers) => table.extend(answers),
                        Err(e) => cx.problem(Some(c.span().start), format!("{e:#}")),
                    }
                }
                (Some(f), Some(_)) => cx.problem(
                    Some(f.span().start),
                    "a mock has either `function` (with `returns`) or `interface` (with \
                     `component`), not both"
                        .to_string(),
                ),
                (None, None) => cx.problem(
                    None,
                    "a [[mock]] needs `function` (with `returns`) or `interface` (with \
                     `component`)"
                        .to_string(),
                ),
            }
        }
        table
    }

    /// A `returns` mock of the function `key`, its values checked against its result.
    fn returns(&self, cx: &mut Cx, world: &World, key: &str, m: &MockSpec) -> Option<Answer> {
        let f = &world.imports[key];
        let result: Option<Type> = f.ty.results().next();
        let Some(returns) = &m.returns else {
            return match result {
                None => Some(Answer::Nothing),
                Some(ty) => {
                    cx.problem(
                        m.function.as_ref().map(|f| f.span().start),
                        format!(
                            "the mock of `{key}` needs `returns = ['<WAVE value>']`: the \
                             function returns `{}`",
                            type_name(&ty)
                        ),
                    );
                    None
                }
            };
        };
        let Some(ty) = result else {
            cx.problem(
                Some(returns.span().start),
                format!("`{key}` returns nothing: its mock takes no `returns`"),
            );
            return None;
        };
        let values: Vec<(usize, String)> = match returns.get_ref() {
            OneOrMany::One(s) => vec![(returns.span().start, s.clone())],
            OneOrMany::Many(v) => v
                .iter()
                .map(|s| (s.span().start, s.get_ref().clone()))
                .collect(),
        };
        if values.is_empty() {
            cx.problem(
                Some(returns.span().start),
                format!("the mock of `{key}` has an empty `returns`: give at least one value"),
            );
            return None;
        }
        let mut parsed = Vec::new();
        for (at, text) in values {
            let what = format!("the mock of `{key}`: `returns` value");
            if let Some(v) = cx.value(at, &text, &what, &ty) {
                parsed.push(v);
            }
        }
        Some(Answer::Values(parsed.into()))
    }

    /// A component plugged in for the imported interface `iface`: each of its functions
    /// forwarded to the mock's export of the same interface.
    fn component_mock(
        &self,
        world: &World,
        iface: &str,
        path: &Path,
        mock_files: &mut Vec<PathBuf>,
        mock_pres: &mut Vec<InstancePre<TestState>>,
    ) -> Result<MockTable> {
        let mock = self
            .component(path)
            .with_context(|| format!("the mock component `{}`", path.display()))?;
        let exports: Vec<String> = mock
            .component_type()
            .exports(&self.engine)
            .filter(|(_, e)| matches!(e.ty, ComponentItem::ComponentInstance(_)))
            .map(|(n, _)| n.to_string())
            .collect();
        let export = exports
            .iter()
            .find(|e| e.as_str() == iface)
            .or_else(|| {
                exports
                    .iter()
                    .find(|e| unversioned(e) == unversioned(iface))
            })
            .ok_or_else(|| {
                anyhow!(
                    "the mock component `{}` does not export `{iface}` (it exports: {})",
                    path.display(),
                    host::quoted(&exports)
                )
            })?;
        let index = match mock_files.iter().position(|p| p == path) {
            Some(i) => i,
            None => {
                let mut linker = host::sync_linker::<TestState>(&self.engine)?;
                let name = path.display().to_string();
                host::check_imports(&self.engine, &mock, &mut linker, &name, "wcomp test")?;
                mock_pres.push(linker.instantiate_pre(&mock)?);
                mock_files.push(path.to_path_buf());
                mock_files.len() - 1
            }
        };
        let instance = mock
            .get_export_index(None, export.as_str())
            .ok_or_else(|| anyhow!("no export `{export}`"))?;
        let mut table = MockTable::new();
        for f in world
            .imports
            .values()
            .filter(|f| f.iface.as_deref() == Some(iface))
        {
            let func = mock
                .get_export_index(Some(&instance), &f.name)
                .ok_or_else(|| {
                    anyhow!(
                        "the mock component `{}` exports `{export}` without its function \
                         `{}`",
                        path.display(),
                        f.name
                    )
                })?;
            table.insert(f.key.clone(), Answer::Forward { mock: index, func });
        }
        Ok(table)
    }

    fn test(
        &self,
        cx: &mut Cx,
        component: &Component,
        world: &World,
        t: &TestSpec,
        table: MockTable,
    ) -> Option<Prepared> {
        let name = t.name.get_ref().clone();
        let before = cx.problems.len();
        let (target, params, expect, http, call) = match (&t.invoke, &t.request) {
            (Some(invoke), None) => {
                let (target, params, expect) = self.invocation(cx, world, t, invoke, &name);
                (
                    target,
                    params,
                    expect,
                    None,
                    invoke.get_ref().trim().to_string(),
                )
            }
            (None, Some(request)) => {
                let http = self.http_test(cx, component, t, request, &name);
                let expect = match &t.expect_trap {
                    Some(trap) => Expect::Trap(trap.get_ref().clone()),
                    None => Expect::Returns,
                };
                let call = request.get_ref().trim().to_string();
                (None, Vec::new(), expect, http, call)
            }
            (Some(_), Some(request)) => {
                cx.problem(
                    Some(request.span().start),
                    format!("test `{name}` has both `invoke` and `request`: keep one"),
                );
                (None, Vec::new(), Expect::Returns, None, String::new())
            }
            (None, None) => {
                cx.problem(
                    Some(t.name.span().start),
                    format!(
                        "test `{name}` has neither `invoke` (a WAVE call of an export) nor \
                         `request` (an HTTP request such as \"GET /\")"
                    ),
                );
                (None, Vec::new(), Expect::Returns, None, String::new())
            }
        };

        // Every import is answered: by the host, or by a mock of this test.
        let mut missing = Vec::new();
        let mut needs_db = false;
        for f in world.imports.values() {
            if table.contains_key(&f.key) {
                continue;
            }
            match &f.iface {
                Some(i) if i.starts_with(SQL_PACKAGE) => needs_db = true,
                Some(i) if i.starts_with("wasi:") => {}
                _ => missing.push(f.key.clone()),
            }
        }
        if !missing.is_empty() {
            cx.problem(
                Some(t.name.span().start),
                format!(
                    "test `{name}`: the component imports {}, which no mock answers and the \
                     host does not provide (WASI 0.2, wasi:http, wcomp:sql); add a [[mock]] \
                     with `function = \"{}\"` and `returns`, or an `interface` mock",
                    host::quoted(&missing),
                    missing[0]
                ),
            );
        }
        let db = match &t.db {
            Some(db) => match db.get_ref().parse::<DbSpec>() {
                Ok(DbSpec::Sqlite(p)) if p.as_os_str() != ":memory:" && p.is_relative() => {
                    Some(DbSpec::Sqlite(cx.dir.join(p)))
                }
                Ok(spec) => Some(spec),
                Err(e) => {
                    cx.problem(Some(db.span().start), format!("test `{name}`: {e}"));
                    None
                }
            },
            None => {
                if needs_db {
                    cx.problem(
                        Some(t.name.span().start),
                        format!(
                            "test `{name}`: the component imports the wcomp:sql database \
                             interface; give the test a database with `db = \
                             \"sqlite::memory:\"` (fresh for each test), or mock its \
                             functions"
                        ),
                    );
                }
                None
            }
        };
        let mut calls = Vec::new();
        if let Some(c) = &t.calls {
            for (k, n) in c.get_ref() {
                match world.import_key(k).filter(|k| table.contains_key(k)) {
                    Some(key) => calls.push((key, *n)),
                    None => {
                        let mocked: Vec<&str> = table.keys().map(String::as_str).collect();
                        let mut msg = format!(
                            "test `{name}`: `calls` counts `{k}`, which no mock of this test answers"
                        );
                        hint_names(&mut msg, k, &mocked, "mocks");
                        cx.problem(Some(c.span().start), msg);
                    }
                }
            }
        }
        let mut dirs = Vec::new();
        if let Some(d) = &t.dir {
            let all: Vec<(usize, String)> = match d.get_ref() {
                OneOrMany::One(s) => vec![(d.span().start, s.clone())],
                OneOrMany::Many(v) => v
                    .iter()
                    .map(|s| (s.span().start, s.get_ref().clone()))
                    .collect(),
            };
            for (at, spec) in all {
                let (host_dir, guest) = match spec.split_once("::") {
                    Some((h, g)) => (h.to_string(), g.to_string()),
                    None => (spec.clone(), spec.clone()),
                };
                let path = cx.dir.join(&host_dir);
                if path.is_dir() {
                    dirs.push((path, guest));
                } else {
                    cx.problem(
                        Some(at),
                        format!(
                            "test `{name}`: `dir = \"{spec}\"`: `{}` is not a folder",
                            path.display()
                        ),
                    );
                }
            }
        }
        let mut component_mocks: Vec<usize> = table
            .values()
            .filter_map(|a| match a {
                Answer::Forward { mock, .. } => Some(*mock),
                _ => None,
            })
            .collect();
        component_mocks.sort_unstable();
        component_mocks.dedup();
        if cx.problems.len() > before {
            return None;
        }
        let func = match &target {
            Some(e) => {
                let iface_index = e
                    .iface
                    .as_ref()
                    .and_then(|i| component.get_export_index(None, i.as_str()));
                Some(component.get_export_index(iface_index.as_ref(), e.name.as_str())?)
            }
            None if http.is_some() => None,
            None => return None,
        };
        Some(Prepared {
            name,
            pre: 0,
            call,
            func,
            params,
            expect,
            http,
            calls,
            mocks: Arc::new(table),
            component_mocks,
            db,
            env: t.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            dirs,
        })
    }

    /// An `invoke` test: the export it calls, its arguments and what it must return.
    fn invocation(
        &self,
        cx: &mut Cx,
        world: &World,
        t: &TestSpec,
        invoke: &toml::Spanned<String>,
        name: &str,
    ) -> (Option<ExportFn>, Vec<Val>, Expect) {
        let invoke_at = invoke.span().start;
        let invoke = invoke.get_ref();
        // `iface#name(args)` or `name(args)`: the prefix is not WAVE.
        let full = invoke.trim();
        let open = full.find('(').unwrap_or(full.len());
        let (prefix, rest) = match full[..open].rfind('#') {
            Some(hash) => (Some(full[..hash].trim()), &full[hash + 1..]),
            None => (None, full),
        };
        let rest = rest.trim_start();
        let call = match UntypedFuncCall::parse(rest) {
            Ok(c) => Some(c),
            Err(e) => {
                // Where the call starts in the string as written (`rest` is a slice of it).
                let lead = rest.as_ptr() as usize - invoke.as_ptr() as usize;
                cx.wave_error(
                    invoke_at,
                    invoke,
                    lead,
                    &e,
                    &format!("test `{name}`: `invoke` is not a WAVE call"),
                );
                None
            }
        };
        let target = call
            .as_ref()
            .and_then(|c| match world.export(prefix, c.name()) {
                Ok(e) => Some(e),
                Err(msg) => {
                    cx.problem(Some(invoke_at), format!("test `{name}`: {msg}"));
                    None
                }
            });
        let mut params = Vec::new();
        let mut result_ty = None;
        if let (Some(c), Some(e)) = (&call, &target) {
            let types: Vec<Type> = e.ty.params().map(|(_, t)| t).collect();
            match c.to_wasm_params::<Val>(types.iter()) {
                Ok(p) => params = p,
                Err(err) => {
                    let sig: Vec<String> =
                        e.ty.params()
                            .map(|(n, t)| format!("{n}: {}", type_name(&t)))
                            .collect();
                    cx.problem(
                        Some(invoke_at),
                        format!(
                            "test `{name}`: the arguments do not fit `{}({})`: {}",
                            e.name,
                            sig.join(", "),
                            wave_message(&err)
                        ),
                    );
                }
            }
            result_ty = e.ty.results().next();
        }
        let expect = match (&t.expect, &t.expect_trap) {
            (Some(_), Some(trap)) => {
                cx.problem(
                    Some(trap.span().start),
                    format!("test `{name}` has both `expect` and `expect-trap`: keep one"),
                );
                Expect::Returns
            }
            (Some(v), None) => match (&target, &result_ty) {
                (Some(_), Some(ty)) => {
                    match cx.value(
                        v.span().start,
                        v.get_ref(),
                        &format!("test `{name}`: `expect`"),
                        ty,
                    ) {
                        Some(val) => Expect::Value(val),
                        None => Expect::Returns,
                    }
                }
                (Some(e), None) => {
                    cx.problem(
                        Some(v.span().start),
                        format!(
                            "test `{name}`: `{}` returns nothing; leave `expect` out",
                            e.name
                        ),
                    );
                    Expect::Returns
                }
                // The call is already reported; still check the value's syntax.
                (None, _) => {
                    if let Err(e) = UntypedValue::parse(v.get_ref()) {
                        cx.wave_error(
                            v.span().start,
                            v.get_ref(),
                            0,
                            &e,
                            &format!("test `{name}`: `expect` is not WAVE"),
                        );
                    }
                    Expect::Returns
                }
            },
            (None, Some(trap)) => Expect::Trap(trap.get_ref().clone()),
            (None, None) => Expect::Returns,
        };

        for (key, at) in [
            (
                "expect-status",
                t.expect_status.as_ref().map(|v| v.span().start),
            ),
            (
                "expect-body",
                t.expect_body.as_ref().map(|v| v.span().start),
            ),
            (
                "expect-headers",
                t.expect_headers.as_ref().map(|v| v.span().start),
            ),
        ] {
            if let Some(at) = at {
                cx.problem(
                    Some(at),
                    format!(
                        "test `{name}`: `{key}` is for `request` tests; `invoke` tests use `expect`"
                    ),
                );
            }
        }
        (target, params, expect)
    }

    /// A `request` test: `METHOD /target`, for a component that exports
    /// `wasi:http/incoming-handler`.
    fn http_test(
        &self,
        cx: &mut Cx,
        component: &Component,
        t: &TestSpec,
        request: &toml::Spanned<String>,
        name: &str,
    ) -> Option<HttpTest> {
        let at = request.span().start;
        if let Some(v) = &t.expect {
            cx.problem(
                Some(v.span().start),
                format!(
                    "test `{name}`: `expect` is for `invoke` tests; a request test uses \
                     `expect-status`, `expect-body` and `expect-headers`"
                ),
            );
        }
        let serves_http = component
            .component_type()
            .exports(&self.engine)
            .any(|(n, _)| n.starts_with("wasi:http/incoming-handler@0.2"));
        if !serves_http {
            cx.problem(
                Some(at),
                format!(
                    "test `{name}`: `request` needs a component that exports \
                     wasi:http/incoming-handler (an HTTP handler, as `wcomp serve` runs); \
                     this one does not: call its exports with `invoke`"
                ),
            );
        }
        let text = request.get_ref().trim();
        let (method, target) = text.split_once(' ').unwrap_or((text, ""));
        let target = target.trim();
        let method = match hyper::Method::from_bytes(method.as_bytes()) {
            Ok(m) if !method.is_empty() => Some(m),
            _ => {
                cx.problem(
                    Some(at),
                    format!("test `{name}`: `request = \"{text}\"`: `{method}` is not an HTTP method; write it as \"GET /path\""),
                );
                None
            }
        };
        if !target.starts_with('/') || target.parse::<hyper::Uri>().is_err() {
            cx.problem(
                Some(at),
                format!(
                    "test `{name}`: `request = \"{text}\"`: the target must be a path \
                     starting with `/` (as in \"GET /hello?name=Ada\")"
                ),
            );
        }
        let mut headers = Vec::new();
        for (k, v) in &t.headers {
            if hyper::header::HeaderName::from_bytes(k.as_bytes()).is_err()
                || hyper::header::HeaderValue::from_str(v).is_err()
            {
                cx.problem(
                    Some(at),
                    format!("test `{name}`: `headers`: `{k}: {v}` is not a valid HTTP header"),
                );
            }
            headers.push((k.clone(), v.clone()));
        }
        let response_headers = t
            .expect_headers
            .as_ref()
            .map(|h| {
                h.get_ref()
                    .iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(s) = &t.expect_status
            && !(100..=599).contains(s.get_ref())
        {
            cx.problem(
                Some(s.span().start),
                format!(
                    "test `{name}`: `expect-status = {}` is not an HTTP status (100-599)",
                    s.get_ref()
                ),
            );
        }
        Some(HttpTest {
            method: method?,
            target: target.to_string(),
            headers,
            body: t.body.clone().unwrap_or_default().into_bytes(),
            status: t.expect_status.as_ref().map(|s| *s.get_ref()),
            body_text: t.expect_body.as_ref().map(|b| b.get_ref().clone()),
            response_headers,
        })
    }
}

/// The build output of the project (or the first composition of the workspace) that the
/// test file is in.
fn default_component(dir: &Path) -> Result<PathBuf> {
    let start = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let start = start.canonicalize().unwrap_or_else(|_| start.to_path_buf());
    for d in start.ancestors() {
        if !d.join(manifest::FILE_NAME).is_file() {
            continue;
        }
        let m = Manifest::load(d)?;
        if let Some(pkg) = &m.package
            && m.component.is_some()
        {
            return Ok(d
                .join("build")
                .join(format!("{}.wasm", manifest::output_stem(pkg))));
        }
        if let Some(c) = m.compositions.first() {
            return Ok(crate::ops::compose_ws::output_path(d, c));
        }
        return Err(anyhow!(
            "`{}` has no [component] and no [composition] to test",
            d.join(manifest::FILE_NAME).display()
        ));
    }
    Err(anyhow!(
        "the file is in no project (no `{}` above it) and names no `component`",
        manifest::FILE_NAME
    ))
}

/// Where the test file is and what is wrong with it so far.
struct Cx<'a> {
    file: String,
    text: &'a str,
    dir: PathBuf,
    problems: Vec<String>,
}

impl Cx<'_> {
    fn at(&self, offset: usize) -> String {
        let p = position(self.text, offset);
        format!("{}:{}:{}", self.file, p.line, p.col)
    }

    fn problem(&mut self, offset: Option<usize>, message: String) {
        let at = offset.map_or_else(|| self.file.clone(), |o| self.at(o));
        self.problems.push(format!("{at}: {message}"));
    }

    /// The WAVE `text` (a TOML string starting at `offset`) read as a value of `ty`.
    fn value(&mut self, offset: usize, text: &str, what: &str, ty: &Type) -> Option<Val> {
        let untyped = match UntypedValue::parse(text) {
            Ok(u) => u,
            Err(e) => {
                self.wave_error(offset, text, 0, &e, &format!("{what} is not WAVE"));
                return None;
            }
        };
        match untyped.to_wasm_value::<Val>(ty) {
            Ok(v) => Some(v),
            Err(e) => {
                self.problem(
                    Some(offset),
                    format!(
                        "{what} `{text}` does not fit the type `{}`: {}",
                        type_name(ty),
                        wave_message(&e)
                    ),
                );
                None
            }
        }
    }

    /// A WAVE syntax error in the TOML string at `offset` whose value is `value`: placed
    /// at the character when the string is written as is (a literal `'...'` string, or a
    /// basic one without escapes), shown under the value with a caret.
    fn wave_error(
        &mut self,
        offset: usize,
        value: &str,
        shift: usize,
        e: &wasm_wave::parser::ParserError,
        what: &str,
    ) {
        let in_value = (e.span().start + shift).min(value.len());
        let raw = self.text.get(offset + 1..offset + 1 + value.len());
        let place = if raw == Some(value) {
            self.at(offset + 1 + in_value)
        } else {
            self.at(offset)
        };
        let col = value[..in_value].chars().count();
        let caret = format!("{}^", " ".repeat(col));
        self.problems.push(format!(
            "{place}: {what}: {} (character {} of the value)\n    {value}\n    {caret}",
            wave_message(e),
            col + 1
        ));
    }
}

/// A WAVE error without its byte range (the position is given separately).
fn wave_message(e: &wasm_wave::parser::ParserError) -> String {
    let mut s = e.kind().to_string();
    if let Some(d) = e.detail() {
        s.push_str(&format!(": {d}"));
    }
    if let Some(src) = std::error::Error::source(e) {
        s.push_str(&format!(": {src}"));
    }
    s
}

/// `demo:greeter/greet@0.1.0` -> `demo:greeter/greet`.
fn unversioned(name: &str) -> &str {
    name.split('@').next().unwrap_or(name)
}

/// Appends "; did you mean `x`?" or the list of `names`.
fn hint_names(msg: &mut String, wrong: &str, names: &[&str], verb: &str) {
    if let Some(n) = nearest(wrong, names.iter().copied()) {
        msg.push_str(&format!("; did you mean `{n}`?"));
    } else {
        let all: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        msg.push_str(&format!(" (it {verb}: {})", host::quoted(&all)));
    }
}

/// An imported function.
struct ImportFn {
    key: String,
    iface: Option<String>,
    name: String,
    ty: ComponentFunc,
}

impl ImportFn {
    /// Whether `wcomp run`'s host answers it (when the test does not mock it).
    fn host_provided(&self) -> bool {
        self.iface
            .as_deref()
            .is_some_and(|i| i.starts_with("wasi:") || i.starts_with(SQL_PACKAGE))
    }
}

/// An exported function.
#[derive(Clone)]
struct ExportFn {
    iface: Option<String>,
    name: String,
    ty: ComponentFunc,
}

/// The component's imports and exports, as test files name them.
struct World {
    /// By key: `iface#name`, or `name` for a function imported by itself.
    imports: BTreeMap<String, ImportFn>,
    /// Imported interfaces, and whether each has only types (nothing to answer).
    instances: BTreeMap<String, bool>,
    exports: Vec<ExportFn>,
}

impl World {
    fn of(engine: &Engine, c: &Component) -> World {
        let ty = c.component_type();
        let mut imports = BTreeMap::new();
        let mut instances = BTreeMap::new();
        for (name, item) in ty.imports(engine) {
            match item.ty {
                ComponentItem::ComponentFunc(f) => {
                    imports.insert(
                        name.to_string(),
                        ImportFn {
                            key: name.to_string(),
                            iface: None,
                            name: name.to_string(),
                            ty: f,
                        },
                    );
                }
                ComponentItem::ComponentInstance(i) => {
                    let mut only_types = true;
                    for (f, e) in i.exports(engine) {
                        if let ComponentItem::ComponentFunc(func) = e.ty {
                            only_types = false;
                            let key = format!("{name}#{f}");
                            imports.insert(
                                key.clone(),
                                ImportFn {
                                    key,
                                    iface: Some(name.to_string()),
                                    name: f.to_string(),
                                    ty: func,
                                },
                            );
                        } else if !matches!(e.ty, ComponentItem::Type(_)) {
                            only_types = false;
                        }
                    }
                    instances.insert(name.to_string(), only_types);
                }
                _ => {}
            }
        }
        let mut exports = Vec::new();
        for (name, item) in ty.exports(engine) {
            match item.ty {
                ComponentItem::ComponentFunc(f) => exports.push(ExportFn {
                    iface: None,
                    name: name.to_string(),
                    ty: f,
                }),
                ComponentItem::ComponentInstance(i) => {
                    for (f, e) in i.exports(engine) {
                        if let ComponentItem::ComponentFunc(func) = e.ty {
                            exports.push(ExportFn {
                                iface: Some(name.to_string()),
                                name: f.to_string(),
                                ty: func,
                            });
                        }
                    }
                }
                _ => {}
            }
        }
        World {
            imports,
            instances,
            exports,
        }
    }

    /// The key of the imported function a test file names: exactly, or with the
    /// interface's version left out.
    fn import_key(&self, name: &str) -> Option<String> {
        if self.imports.contains_key(name) {
            return Some(name.to_string());
        }
        let (iface, func) = name.split_once('#')?;
        self.imports
            .values()
            .find(|f| {
                f.iface.as_deref().map(unversioned) == Some(unversioned(iface)) && f.name == func
            })
            .map(|f| f.key.clone())
    }

    /// The imported interface a test file names, exactly or without its version.
    fn instance_name(&self, name: &str) -> Option<String> {
        self.instances
            .keys()
            .find(|i| i.as_str() == name)
            .or_else(|| {
                self.instances
                    .keys()
                    .find(|i| unversioned(i) == unversioned(name))
            })
            .cloned()
    }

    fn unknown_import(&self, name: &str) -> String {
        let mut msg = format!("the component does not import a function `{name}`");
        if !name.contains('#')
            && self
                .instances
                .keys()
                .any(|i| unversioned(i) == unversioned(name))
        {
            msg.push_str(
                " (that is an interface: name one of its functions, `<interface>#<function>`)",
            );
        }
        let keys: Vec<&str> = self.imports.keys().map(String::as_str).collect();
        hint_names(&mut msg, name, &keys, "imports");
        msg
    }

    /// The exported function `prefix#name` (`prefix`: the interface, with or without its
    /// version, or its last segment) or `name` alone when only one export has it.
    fn export(&self, prefix: Option<&str>, name: &str) -> Result<ExportFn, String> {
        let matches_prefix = |iface: &Option<String>| match (prefix, iface) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(p), Some(i)) => {
                i == p || unversioned(i) == p || unversioned(i).rsplit('/').next() == Some(p)
            }
        };
        let found: Vec<&ExportFn> = self
            .exports
            .iter()
            .filter(|e| e.name == name && matches_prefix(&e.iface))
            .collect();
        let full = |e: &ExportFn| match &e.iface {
            Some(i) => format!("{i}#{}", e.name),
            None => e.name.clone(),
        };
        match found.as_slice() {
            [one] => Ok((*one).clone()),
            [] => {
                let wanted = match prefix {
                    Some(p) => format!("{p}#{name}"),
                    None => name.to_string(),
                };
                let all: Vec<String> = self.exports.iter().map(full).collect();
                let short: Vec<&str> = self.exports.iter().map(|e| e.name.as_str()).collect();
                let mut msg = format!("the component exports no function `{wanted}`");
                match nearest(name, short.iter().copied()).filter(|n| *n != name) {
                    Some(n) => msg.push_str(&format!("; did you mean `{n}`?")),
                    None => msg.push_str(&format!(" (it exports: {})", host::quoted(&all))),
                }
                Err(msg)
            }
            several => {
                let names: Vec<String> = several.iter().map(|e| full(e)).collect();
                Err(format!(
                    "several exports are named `{name}`: {}; prefix the call with the \
                     interface, e.g. `{}(...)`",
                    host::quoted(&names),
                    names[0]
                ))
            }
        }
    }
}

/// A mock's host function: counts the call and answers from the test's table.
fn answer(
    store: &mut StoreContextMut<'_, TestState>,
    key: &str,
    params: &[Val],
    results: &mut [Val],
) -> wasmtime::Result<()> {
    let n = {
        let count = store.data_mut().calls.entry(key.to_string()).or_default();
        *count += 1;
        *count
    };
    let table = store.data().mocks.clone();
    match table.get(key) {
        Some(Answer::Values(values)) => {
            let i = usize::try_from(n - 1)
                .unwrap_or(usize::MAX)
                .min(values.len() - 1);
            if let Some(slot) = results.first_mut() {
                *slot = values[i].clone();
            }
            Ok(())
        }
        Some(Answer::Nothing) => Ok(()),
        Some(Answer::Forward { mock, func }) => {
            let instance = store.data().mock_instances[*mock].ok_or_else(|| {
                wasmtime::format_err!("the component mock for `{key}` was not instantiated")
            })?;
            let f = instance.get_func(&mut *store, *func).ok_or_else(|| {
                wasmtime::format_err!("the component mock has no function for `{key}`")
            })?;
            f.call(&mut *store, params, results)
                .map_err(|e| e.context(format!("the component mock answering `{key}` failed")))
        }
        None => Err(wasmtime::format_err!(
            "`{key}` was called, but this test has no mock for it (another test of the file \
             mocks it)"
        )),
    }
}
