//! Does a component conform to a world?
//!
//! A component conforms when everything it imports is provided by the world's imports
//! and everything the world exports is provided by the component's exports, with equal
//! types (the component model compares value types structurally and resources by
//! identity). Extra exports of the component are allowed, as are functions the world's
//! imported interfaces offer but the component does not use. This is the verdict of
//! `wasm-tools component targets`; the test suite checks the two agree on every case.
//!
//! One difference is deliberate: with [`Options::strict_versions`] off, an interface at a
//! semver-compatible version (`wasi:cli/environment@0.2.3` against a world offering
//! `@0.2.6`) is matched, as runtimes such as wasmtime link it, and a [`VersionNote`] says
//! so. Its contents are then compared like any other.
//!
//! Every problem is phrased in WIT: which interface, function or type, what the world
//! expects and what the component has, and near misses ("did you mean").

use crate::names::{InterfaceName, VersionMatch, version_match};
use crate::render;
use indexmap::IndexMap;
use serde::Serialize;
use std::collections::HashMap;
use wit_parser::{
    Function, FunctionKind, Handle, InterfaceId, Resolve, Type, TypeDefKind, TypeId, TypeOwner,
    WorldId, WorldItem, WorldKey,
};

/// A world inside the `Resolve` that holds it.
#[derive(Clone, Copy)]
pub struct World<'a> {
    pub resolve: &'a Resolve,
    pub id: WorldId,
}

/// How the check treats near matches.
#[derive(Debug, Default, Clone, Copy)]
pub struct Options {
    /// Require exact interface versions, as `wasm-tools component targets` does.
    pub strict_versions: bool,
    /// Treat imports of WASI 0.2 interfaces (`wasi:*@0.2.x`) the world does not list as
    /// provided by the host, as wasmtime and other WASI 0.2 runtimes provide them.
    /// Toolchains (componentize-py, componentize-js, Go's wasip1 adapter) import them even
    /// when the world does not mention them.
    pub allow_wasi: bool,
}

pub use crate::problem::{Direction, Problem, ProblemKind};

/// An interface matched at a different but semver-compatible version.
#[derive(Debug, Clone, Serialize)]
pub struct VersionNote {
    pub direction: Direction,
    /// The name as the component has it.
    pub component: String,
    /// The name as the world has it.
    pub world: String,
}

/// The outcome of [`check`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub problems: Vec<Problem>,
    pub version_notes: Vec<VersionNote>,
    /// WASI imports accepted as host-provided ([`Options::allow_wasi`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub host_provided: Vec<String>,
}

impl Report {
    pub fn conforms(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks `component` against `world`.
pub fn check(component: World<'_>, world: World<'_>, options: Options) -> Report {
    let mut cx = Checker {
        c: component.resolve,
        w: world.resolve,
        options,
        report: Report::default(),
        reported_types: HashMap::new(),
        labels: None,
    };
    let c_world = &cx.c.worlds[component.id];
    let w_world = &cx.w.worlds[world.id];
    let c_imports = entries(cx.c, &c_world.imports);
    let w_imports = entries(cx.w, &w_world.imports);
    let c_exports = entries(cx.c, &c_world.exports);
    let w_exports = entries(cx.w, &w_world.exports);

    // Imports: everything the component needs must be offered by the world.
    for c in &c_imports {
        let found = cx.find(c, &w_imports);
        if options.allow_wasi && matches!(found, Lookup::Misses(_)) && is_wasi_0_2(c) {
            cx.report.host_provided.push(c.name.clone());
            continue;
        }
        match found {
            Lookup::Found(w, m) => cx.matched(Direction::Import, c, w, m),
            Lookup::Misses(misses) => cx.unmatched(Direction::Import, c, &w_imports, misses),
        }
    }
    // Exports: everything the world requires must be provided by the component.
    for w in &w_exports {
        match cx.find(w, &c_exports) {
            Lookup::Found(c, m) => cx.matched(Direction::Export, c, w, m),
            Lookup::Misses(misses) => cx.unmatched(Direction::Export, w, &c_exports, misses),
        }
    }
    cx.report
}

/// One wire of a composition: `importer` imports `import`, to be satisfied by
/// `exporter`'s export `export`.
pub struct Wire<'a> {
    pub importer: &'a str,
    pub importer_world: World<'a>,
    pub import: &'a str,
    pub exporter: &'a str,
    pub exporter_world: World<'a>,
    pub export: &'a str,
}

/// Checks that an export of one component can satisfy an import of another: everything
/// the importer uses from the interface (functions, types) must be in the exporter's,
/// with equal types. This is the import half of [`check`] with the exporter standing in
/// for the world, and the problems say "`importer`" and "`exporter`" instead of "the
/// component" and "the world". Items missing on either side yield no problems (the
/// caller decides what is wired).
pub fn check_wire(wire: &Wire<'_>) -> Vec<Problem> {
    let mut cx = Checker {
        c: wire.importer_world.resolve,
        w: wire.exporter_world.resolve,
        options: Options {
            strict_versions: false,
            allow_wasi: false,
        },
        report: Report::default(),
        reported_types: HashMap::new(),
        labels: Some(WireLabels {
            exporter: wire.exporter.to_string(),
            importer: wire.importer.to_string(),
        }),
    };
    let imports = entries(cx.c, &cx.c.worlds[wire.importer_world.id].imports);
    let exports = entries(cx.w, &cx.w.worlds[wire.exporter_world.id].exports);
    let (Some(i), Some(e)) = (
        imports.iter().find(|e| e.name == wire.import),
        exports.iter().find(|e| e.name == wire.export),
    ) else {
        return Vec::new();
    };
    let m = match (&i.iface, &e.iface) {
        (Some(a), Some(b)) => version_match(a.version.as_ref(), b.version.as_ref()),
        _ => VersionMatch::Exact,
    };
    cx.matched(Direction::Import, i, e, m);
    cx.report.problems
}

impl WireLabels {
    /// Rewrites a problem written for "component vs world" into "importer vs exporter".
    fn relabel(&self, p: &mut Problem) {
        let importer = format!("`{}`", self.importer);
        let exporter = format!("`{}`", self.exporter);
        let fix = |text: &str| {
            text.replace("the world's", &format!("{exporter}'s"))
                .replace("the component's", &format!("{importer}'s"))
                .replace("the world", &exporter)
                .replace("the component", &importer)
        };
        p.message = fix(&p.message);
        for d in &mut p.details {
            *d = fix(d);
        }
    }
}

/// A world-level import or export, with its parsed name when it is a package interface.
struct Entry<'a> {
    name: String,
    iface: Option<InterfaceName>,
    item: &'a WorldItem,
}

fn entries<'a>(resolve: &Resolve, items: &'a IndexMap<WorldKey, WorldItem>) -> Vec<Entry<'a>> {
    items
        .iter()
        .map(|(key, item)| {
            let iface = match (key, item) {
                (WorldKey::Interface(id), _) => InterfaceName::of(resolve, *id),
                _ => None,
            };
            Entry {
                name: resolve.name_world_key(key),
                iface,
                item,
            }
        })
        .collect()
}

/// `wasi:<pkg>/<iface>@0.2.x`: the interfaces WASI 0.2 runtimes provide.
fn is_wasi_0_2(e: &Entry<'_>) -> bool {
    e.iface.as_ref().is_some_and(|i| {
        i.namespace == "wasi"
            && i.version
                .as_ref()
                .is_some_and(|v| v.major == 0 && v.minor == 2 && v.pre.is_empty())
    })
}

fn item_kind(item: &WorldItem) -> &'static str {
    match item {
        WorldItem::Interface { .. } => "interface",
        WorldItem::Function(_) => "function",
        WorldItem::Type { .. } => "type",
    }
}

enum Lookup<'e, 'a> {
    Found(&'e Entry<'a>, VersionMatch),
    /// Not found; same-named entries at other versions, if any.
    Misses(Vec<(&'e Entry<'a>, VersionMatch)>),
}

/// A difference found while comparing two types.
struct Diff {
    /// Where, outermost first: `parameter `p``, `field `age``, ...
    path: Vec<String>,
    what: DiffWhat,
    /// Named types (component side) the difference was found inside, outermost first.
    within: Vec<TypeId>,
}

enum DiffWhat {
    /// Two different types, rendered as WIT.
    Types { expected: String, found: String },
    /// A difference best said in words (a missing field, a renamed case).
    Text(String),
}

impl Diff {
    fn types(expected: String, found: String) -> Diff {
        Diff {
            path: Vec::new(),
            what: DiffWhat::Types { expected, found },
            within: Vec::new(),
        }
    }

    fn text(text: String) -> Diff {
        Diff {
            path: Vec::new(),
            what: DiffWhat::Text(text),
            within: Vec::new(),
        }
    }

    fn describe(&self) -> String {
        let place = if self.path.is_empty() {
            String::new()
        } else {
            format!("{}: ", self.path.join(" > "))
        };
        match &self.what {
            DiffWhat::Types { expected, found } => {
                format!("{place}the world has `{expected}`, the component has `{found}`")
            }
            DiffWhat::Text(text) => format!("{place}{text}"),
        }
    }
}

struct Checker<'a> {
    c: &'a Resolve,
    w: &'a Resolve,
    options: Options,
    report: Report,
    /// Named component types already reported as mismatched, to the index of their
    /// problem, so functions that use them point there instead of repeating it.
    reported_types: HashMap<TypeId, usize>,
    /// Who "the world" and "the component" are when the check compares two components
    /// (a composition's wire) rather than a component and a world.
    labels: Option<WireLabels>,
}

/// The names [`check_wire`] puts in its sentences.
struct WireLabels {
    /// The part whose export satisfies the import (the world side).
    exporter: String,
    /// The part that imports (the component side).
    importer: String,
}

impl<'a> Checker<'a> {
    /// Finds `needle` among `haystack`: interfaces by package and name (then version),
    /// everything else by name.
    fn find<'e>(&self, needle: &Entry<'_>, haystack: &'e [Entry<'a>]) -> Lookup<'e, 'a> {
        let Some(n) = &needle.iface else {
            return match haystack
                .iter()
                .find(|e| e.iface.is_none() && e.name == needle.name)
            {
                Some(e) => Lookup::Found(e, VersionMatch::Exact),
                None => Lookup::Misses(Vec::new()),
            };
        };
        let mut same: Vec<(&'e Entry<'a>, VersionMatch)> = haystack
            .iter()
            .filter_map(|e| {
                let i = e.iface.as_ref()?;
                i.same_unversioned(n)
                    .then(|| (e, version_match(n.version.as_ref(), i.version.as_ref())))
            })
            .collect();
        if let Some((e, _)) = same.iter().find(|(_, m)| *m == VersionMatch::Exact) {
            return Lookup::Found(e, VersionMatch::Exact);
        }
        if !self.options.strict_versions {
            // Prefer the newest compatible version, as a runtime's linker would.
            let best = same
                .iter()
                .filter(|(_, m)| *m == VersionMatch::Compatible)
                .max_by(|(a, _), (b, _)| {
                    let v = |e: &Entry<'_>| e.iface.as_ref().and_then(|i| i.version.clone());
                    v(a).cmp(&v(b))
                });
            if let Some((e, m)) = best {
                return Lookup::Found(e, *m);
            }
        }
        same.sort_by_key(|(_, m)| *m != VersionMatch::Compatible);
        Lookup::Misses(same)
    }

    /// `c` (component side) and `w` (world side) have the same name: compare contents.
    fn matched(&mut self, dir: Direction, c: &Entry<'_>, w: &Entry<'_>, m: VersionMatch) {
        if m == VersionMatch::Compatible {
            self.report.version_notes.push(VersionNote {
                direction: dir,
                component: c.name.clone(),
                world: w.name.clone(),
            });
        }
        let item = match dir {
            Direction::Import => c.name.clone(),
            Direction::Export => w.name.clone(),
        };
        match (c.item, w.item) {
            (WorldItem::Interface { id: ci, .. }, WorldItem::Interface { id: wi, .. }) => {
                self.compare_interface(dir, &item, &w.name, *ci, *wi)
            }
            (WorldItem::Function(cf), WorldItem::Function(wf)) => {
                self.compare_function(dir, &item, None, cf, wf)
            }
            (WorldItem::Type { id: ct, .. }, WorldItem::Type { id: wt, .. }) => {
                self.compare_named_type(dir, &item, None, *ct, *wt)
            }
            (ci, wi) => {
                self.push(Problem {
                    kind: ProblemKind::KindMismatch,
                    direction: Some(dir),
                    hint: None,
                    item: Some(item.clone()),
                    member: None,
                    message: format!(
                        "`{item}` is {} {} in the world but {} {} in the component",
                        article(item_kind(wi)),
                        item_kind(wi),
                        article(item_kind(ci)),
                        item_kind(ci)
                    ),
                    expected: None,
                    found: None,
                    details: Vec::new(),
                    did_you_mean: Vec::new(),
                });
            }
        }
    }

    /// `needle` has no counterpart on the other side.
    fn unmatched(
        &mut self,
        dir: Direction,
        needle: &Entry<'_>,
        others: &[Entry<'_>],
        misses: Vec<(&Entry<'_>, VersionMatch)>,
    ) {
        let kind_word = item_kind(needle.item);
        if !misses.is_empty() {
            let mut did_you_mean: Vec<String> = Vec::new();
            let mut details = Vec::new();
            for (e, m) in &misses {
                let how = if *m == VersionMatch::Compatible {
                    "semver-compatible; accepted without `--strict-versions`"
                } else {
                    "incompatible version"
                };
                did_you_mean.push(format!("`{}` ({how})", e.name));
            }
            let version = |e: &Entry<'_>| {
                e.iface
                    .as_ref()
                    .and_then(|i| i.version.as_ref())
                    .map_or("no version".to_string(), |v| format!("@{v}"))
            };
            let others_versions: Vec<String> = misses.iter().map(|(e, _)| version(e)).collect();
            let message = match dir {
                Direction::Import => format!(
                    "the component imports `{}`, but the world provides it only at {}",
                    needle.name,
                    others_versions.join(", ")
                ),
                Direction::Export => format!(
                    "the world requires the export `{}`, but the component exports it only at {}",
                    needle.name,
                    others_versions.join(", ")
                ),
            };
            if misses.iter().all(|(_, m)| *m == VersionMatch::Incompatible) {
                details.push(
                    "versions are compatible when they agree on major version (or on minor \
                     version while major is 0): 0.2.3 and 0.2.6 are, 0.2 and 0.3 are not"
                        .to_string(),
                );
            }
            self.push(Problem {
                kind: ProblemKind::VersionMismatch,
                direction: Some(dir),
                hint: None,
                item: Some(needle.name.clone()),
                member: None,
                message,
                expected: None,
                found: None,
                details,
                did_you_mean,
            });
            return;
        }
        let did_you_mean = similar(&needle.name, others.iter().map(|e| e.name.as_str()));
        let details = if dir == Direction::Import && is_wasi_0_2(needle) {
            vec![
                "WASI 0.2 runtimes provide this interface; `--allow-wasi` accepts it as \
                 host-provided"
                    .to_string(),
            ]
        } else {
            Vec::new()
        };
        let (kind, message) = match dir {
            Direction::Import => (
                ProblemKind::UnsatisfiedImport,
                format!(
                    "the component imports {kind_word} `{}`, which the world does not provide",
                    needle.name
                ),
            ),
            Direction::Export => (
                ProblemKind::MissingExport,
                format!(
                    "the world requires the export {kind_word} `{}`, which the component does not have",
                    needle.name
                ),
            ),
        };
        let (expected, found) = match (dir, needle.item) {
            (Direction::Import, WorldItem::Function(f)) => {
                (None, Some(render::func_sig(self.c, f)))
            }
            (Direction::Export, WorldItem::Function(f)) => {
                (Some(render::func_sig(self.w, f)), None)
            }
            _ => (None, None),
        };
        self.push(Problem {
            kind,
            direction: Some(dir),
            hint: None,
            item: Some(needle.name.clone()),
            member: None,
            message,
            expected,
            found,
            details,
            did_you_mean: did_you_mean.into_iter().map(|s| format!("`{s}`")).collect(),
        });
    }

    /// Compares an interface's functions and types. For an import, what the component
    /// uses must be in the world's interface; for an export, what the world's interface
    /// declares must be in the component's.
    /// `item` names the interface as the problem is filed under, `w_item` as the world
    /// names it (they differ when versions were matched by semver).
    fn compare_interface(
        &mut self,
        dir: Direction,
        item: &str,
        w_item: &str,
        ci: InterfaceId,
        wi: InterfaceId,
    ) {
        let c_iface = &self.c.interfaces[ci];
        let w_iface = &self.w.interfaces[wi];
        let (required, offered, req_is_world) = match dir {
            Direction::Import => (c_iface, w_iface, false),
            Direction::Export => (w_iface, c_iface, true),
        };
        for (name, &req_ty) in &required.types {
            match offered.types.get(name) {
                Some(&off_ty) => {
                    let (ct, wt) = if req_is_world {
                        (off_ty, req_ty)
                    } else {
                        (req_ty, off_ty)
                    };
                    self.compare_named_type(dir, item, Some(name), ct, wt);
                }
                None => {
                    let (resolve, ty) = if req_is_world {
                        (self.w, req_ty)
                    } else {
                        (self.c, req_ty)
                    };
                    let def = render::type_def(resolve, ty);
                    let kind = render::kind_word(resolve, ty);
                    let (message, expected, found) = if req_is_world {
                        (
                            format!(
                                "the world's `{item}` has {kind} `{name}`, which the component's export lacks"
                            ),
                            Some(def),
                            None,
                        )
                    } else {
                        (
                            format!(
                                "the component uses {kind} `{name}` from `{item}`, which the world's `{w_item}` does not have"
                            ),
                            None,
                            Some(def),
                        )
                    };
                    self.push(Problem {
                        kind: ProblemKind::MissingType,
                        direction: Some(dir),
                        hint: None,
                        item: Some(item.to_string()),
                        member: Some(name.clone()),
                        message,
                        expected,
                        found,
                        details: Vec::new(),
                        did_you_mean: quoted(similar(
                            name,
                            offered.types.keys().map(|s| s.as_str()),
                        )),
                    });
                }
            }
        }
        for (name, req_f) in &required.functions {
            // A method on one side and a static function on the other have different
            // names in wit-parser (`[method]r.f`, `[static]r.f`) but are the same member.
            let counterpart = offered.functions.get(name).or_else(|| {
                let label = render::func_label(req_f);
                offered
                    .functions
                    .values()
                    .find(|f| render::func_label(f) == label)
            });
            match counterpart {
                Some(off_f) => {
                    let (cf, wf) = if req_is_world {
                        (off_f, req_f)
                    } else {
                        (req_f, off_f)
                    };
                    self.compare_function(dir, item, Some(()), cf, wf);
                }
                None => {
                    let label = render::func_label(req_f);
                    let (resolve, expected_side) = if req_is_world {
                        (self.w, true)
                    } else {
                        (self.c, false)
                    };
                    let sig = render::func_sig(resolve, req_f);
                    let offered_labels: Vec<String> =
                        offered.functions.values().map(render::func_label).collect();
                    let did_you_mean =
                        quoted(similar(&label, offered_labels.iter().map(|s| s.as_str())));
                    let message = if expected_side {
                        format!(
                            "the world's `{item}` has function `{label}`, which the component's export lacks"
                        )
                    } else {
                        format!(
                            "the component calls function `{label}` of `{item}`, which the world's `{w_item}` does not have"
                        )
                    };
                    self.push(Problem {
                        kind: ProblemKind::MissingFunction,
                        direction: Some(dir),
                        hint: None,
                        item: Some(item.to_string()),
                        member: Some(label),
                        message,
                        expected: expected_side.then(|| sig.clone()),
                        found: (!expected_side).then_some(sig),
                        details: Vec::new(),
                        did_you_mean,
                    });
                }
            }
        }
    }

    fn compare_named_type(
        &mut self,
        dir: Direction,
        item: &str,
        member: Option<&String>,
        ct: TypeId,
        wt: TypeId,
    ) {
        let diff = self.eq_def(ct, wt, true);
        let Err(diff) = diff else { return };
        let name = member
            .cloned()
            .or_else(|| self.w.types[wt].name.clone())
            .unwrap_or_default();
        let kind = render::kind_word(self.w, wt);
        // Differs only because it contains a type already reported: say so there.
        if let Some(idx) = self.first_reported(&diff) {
            self.report.problems[idx]
                .details
                .push(format!("used by {kind} `{name}`"));
            self.reported_types.insert(ct, idx);
            return;
        }
        let idx = self.push(Problem {
            kind: ProblemKind::TypeMismatch,
            direction: Some(dir),
            hint: None,
            item: Some(item.to_string()),
            member: Some(name.clone()),
            message: format!(
                "{kind} `{name}` in `{item}` differs between the world and the component"
            ),
            expected: Some(render::type_def(self.w, wt)),
            found: Some(render::type_def(self.c, ct)),
            details: vec![diff.describe()],
            did_you_mean: Vec::new(),
        });
        self.reported_types.insert(ct, idx);
    }

    /// `in_interface` is `Some` when the function belongs to the interface `item`.
    fn compare_function(
        &mut self,
        dir: Direction,
        item: &str,
        in_interface: Option<()>,
        cf: &Function,
        wf: &Function,
    ) {
        let mut details = Vec::new();
        let mut within_reported = None;
        // Differences that are inside a type already reported.
        let mut in_reported = 0;
        let c_kind = fn_kind(&cf.kind);
        let w_kind = fn_kind(&wf.kind);
        if c_kind != w_kind {
            details.push(format!(
                "the world declares {} {w_kind}, the component has {} {c_kind}",
                article(w_kind),
                article(c_kind)
            ));
        }
        // Methods carry an implicit `self` that WIT source does not show; compare what
        // a reader of the WIT sees.
        let c_params = visible_params(cf);
        let w_params = visible_params(wf);
        if c_params.len() != w_params.len() {
            details.push(format!(
                "the world's takes {} parameter{}, the component's takes {}",
                w_params.len(),
                if w_params.len() == 1 { "" } else { "s" },
                c_params.len()
            ));
        } else {
            for (i, (cp, wp)) in c_params.iter().zip(w_params).enumerate() {
                if cp.name != wp.name {
                    details.push(format!(
                        "parameter {} is named `{}` in the world and `{}` in the component",
                        i + 1,
                        wp.name,
                        cp.name
                    ));
                }
                if let Err(mut d) = self.eq_type(&cp.ty, &wp.ty) {
                    let reported = self.first_reported(&d);
                    in_reported += usize::from(reported.is_some());
                    within_reported = within_reported.or(reported);
                    d.path.insert(0, format!("parameter `{}`", wp.name));
                    details.push(d.describe());
                }
            }
        }
        match (&cf.result, &wf.result) {
            (None, None) => {}
            (Some(c), Some(w)) => {
                if let Err(mut d) = self.eq_type(c, w) {
                    let reported = self.first_reported(&d);
                    in_reported += usize::from(reported.is_some());
                    within_reported = within_reported.or(reported);
                    d.path.insert(0, "result".to_string());
                    details.push(d.describe());
                }
            }
            (c, w) => details.push(format!(
                "the world's returns {}, the component's returns {}",
                w.as_ref().map_or("nothing".to_string(), |t| format!(
                    "`{}`",
                    render::type_ref(self.w, t)
                )),
                c.as_ref().map_or("nothing".to_string(), |t| format!(
                    "`{}`",
                    render::type_ref(self.c, t)
                )),
            )),
        }
        if details.is_empty() {
            return;
        }
        let label = render::func_label(wf);
        // A difference that is only inside a type already reported is listed there.
        if let Some(idx) = within_reported
            && in_reported == details.len()
        {
            let problem = &mut self.report.problems[idx];
            problem.details.push(format!("used by function `{label}`"));
            return;
        }
        self.push(Problem {
            kind: ProblemKind::FunctionMismatch,
            direction: Some(dir),
            hint: None,
            item: Some(item.to_string()),
            member: in_interface.map(|()| label.clone()),
            message: match in_interface {
                Some(()) => format!("function `{label}` in `{item}` has a different signature"),
                None => format!("function `{label}` has a different signature"),
            },
            expected: Some(render::func_sig(self.w, wf)),
            found: Some(render::func_sig(self.c, cf)),
            details,
            did_you_mean: Vec::new(),
        });
    }

    fn first_reported(&self, d: &Diff) -> Option<usize> {
        d.within
            .iter()
            .find_map(|t| self.reported_types.get(t).copied())
    }

    fn push(&mut self, mut p: Problem) -> usize {
        if let Some(labels) = &self.labels {
            labels.relabel(&mut p);
        }
        self.report.problems.push(p);
        self.report.problems.len() - 1
    }

    /// Follows `type x = y` aliases, which the component model does not see.
    fn unalias(resolve: &Resolve, mut ty: Type) -> Type {
        while let Type::Id(id) = ty {
            match &resolve.types[id].kind {
                TypeDefKind::Type(inner) => ty = *inner,
                _ => break,
            }
        }
        ty
    }

    fn eq_type(&self, c: &Type, w: &Type) -> Result<(), Diff> {
        let c = Self::unalias(self.c, *c);
        let w = Self::unalias(self.w, *w);
        match (c, w) {
            (Type::Id(ci), Type::Id(wi)) => self.eq_def(ci, wi, false),
            (c, w) if c == w => Ok(()),
            (c, w) => Err(Diff::types(
                render::type_ref(self.w, &w),
                render::type_ref(self.c, &c),
            )),
        }
    }

    /// Structural equality of two type definitions. `top` is set when comparing an
    /// interface's named types themselves, so the name is not repeated in the path.
    fn eq_def(&self, ci: TypeId, wi: TypeId, top: bool) -> Result<(), Diff> {
        let cd = &self.c.types[ci];
        let wd = &self.w.types[wi];
        let mismatch = || {
            let (expected, found) = (
                render::type_ref(self.w, &Type::Id(wi)),
                render::type_ref(self.c, &Type::Id(ci)),
            );
            let word = |r: &Resolve, id: TypeId| match r.types[id].kind {
                TypeDefKind::Handle(_) => "resource",
                _ => render::kind_word(r, id),
            };
            let (wk, ck) = (word(self.w, wi), word(self.c, ci));
            // `t` against `t` says nothing: say what each one is.
            if expected == found && wk != ck {
                Diff::text(format!(
                    "the world has {} {wk}, the component has {} {ck}",
                    article(wk),
                    article(ck)
                ))
            } else {
                Diff::types(expected, found)
            }
        };
        if let TypeDefKind::Type(t) = cd.kind {
            return self.eq_type(&t, &Type::Id(wi));
        }
        if let TypeDefKind::Type(t) = wd.kind {
            return self.eq_type(&Type::Id(ci), &t);
        }
        let result = match (&cd.kind, &wd.kind) {
            (TypeDefKind::Record(c), TypeDefKind::Record(w)) => self.eq_named_list(
                "field",
                c.fields.iter().map(|f| (f.name.as_str(), Some(f.ty))),
                w.fields.iter().map(|f| (f.name.as_str(), Some(f.ty))),
            ),
            (TypeDefKind::Variant(c), TypeDefKind::Variant(w)) => self.eq_named_list(
                "case",
                c.cases.iter().map(|f| (f.name.as_str(), f.ty)),
                w.cases.iter().map(|f| (f.name.as_str(), f.ty)),
            ),
            (TypeDefKind::Enum(c), TypeDefKind::Enum(w)) => self.eq_named_list(
                "case",
                c.cases.iter().map(|f| (f.name.as_str(), None)),
                w.cases.iter().map(|f| (f.name.as_str(), None)),
            ),
            (TypeDefKind::Flags(c), TypeDefKind::Flags(w)) => self.eq_named_list(
                "flag",
                c.flags.iter().map(|f| (f.name.as_str(), None)),
                w.flags.iter().map(|f| (f.name.as_str(), None)),
            ),
            (TypeDefKind::Tuple(c), TypeDefKind::Tuple(w)) => {
                if c.types.len() != w.types.len() {
                    Err(mismatch())
                } else {
                    c.types
                        .iter()
                        .zip(&w.types)
                        .enumerate()
                        .try_for_each(|(i, (c, w))| {
                            self.eq_type(c, w)
                                .map_err(|d| nest(d, format!("tuple element {i}")))
                        })
                }
            }
            (TypeDefKind::List(c), TypeDefKind::List(w)) => self
                .eq_type(c, w)
                .map_err(|d| nest(d, "list element".to_string())),
            (TypeDefKind::FixedLengthList(c, n), TypeDefKind::FixedLengthList(w, m)) => {
                if n != m {
                    Err(mismatch())
                } else {
                    self.eq_type(c, w)
                        .map_err(|d| nest(d, "list element".to_string()))
                }
            }
            (TypeDefKind::Map(ck, cv), TypeDefKind::Map(wk, wv)) => self
                .eq_type(ck, wk)
                .map_err(|d| nest(d, "map key".to_string()))
                .and_then(|()| {
                    self.eq_type(cv, wv)
                        .map_err(|d| nest(d, "map value".to_string()))
                }),
            (TypeDefKind::Option(c), TypeDefKind::Option(w)) => self
                .eq_type(c, w)
                .map_err(|d| nest(d, "option payload".to_string())),
            (TypeDefKind::Result(c), TypeDefKind::Result(w)) => self
                .eq_opt(&c.ok, &w.ok)
                .map_err(|d| nest(d, "result ok type".to_string()))
                .and_then(|()| {
                    self.eq_opt(&c.err, &w.err)
                        .map_err(|d| nest(d, "result error type".to_string()))
                }),
            (TypeDefKind::Future(c), TypeDefKind::Future(w))
            | (TypeDefKind::Stream(c), TypeDefKind::Stream(w)) => self.eq_opt(c, w),
            (TypeDefKind::Handle(c), TypeDefKind::Handle(w)) => match (c, w) {
                (Handle::Own(c), Handle::Own(w)) | (Handle::Borrow(c), Handle::Borrow(w)) => {
                    self.eq_def(*c, *w, false)
                }
                _ => Err(mismatch()),
            },
            (TypeDefKind::Resource, TypeDefKind::Resource) => {
                if self.same_resource(ci, wi) {
                    Ok(())
                } else {
                    Err(Diff::types(
                        self.resource_path(self.w, wi),
                        self.resource_path(self.c, ci),
                    ))
                }
            }
            _ => Err(mismatch()),
        };
        result.map_err(|mut d| {
            if !top && cd.name.is_some() {
                let name = cd.name.clone().unwrap_or_default();
                d.path
                    .insert(0, format!("{} `{name}`", render::kind_word(self.c, ci)));
                d.within.insert(0, ci);
            }
            d
        })
    }

    fn eq_opt(&self, c: &Option<Type>, w: &Option<Type>) -> Result<(), Diff> {
        match (c, w) {
            (None, None) => Ok(()),
            (Some(c), Some(w)) => self.eq_type(c, w),
            (c, w) => {
                let show = |r: &Resolve, t: &Option<Type>| {
                    t.as_ref().map_or("none".to_string(), |t| {
                        format!("`{}`", render::type_ref(r, t))
                    })
                };
                Err(Diff::text(format!(
                    "the world has {}, the component has {}",
                    show(self.w, w),
                    show(self.c, c)
                )))
            }
        }
    }

    /// Fields of a record, cases of a variant or enum, flags: same names, same order,
    /// same payload types.
    fn eq_named_list<'n>(
        &self,
        what: &str,
        c: impl Iterator<Item = (&'n str, Option<Type>)>,
        w: impl Iterator<Item = (&'n str, Option<Type>)>,
    ) -> Result<(), Diff> {
        let c: Vec<_> = c.collect();
        let w: Vec<_> = w.collect();
        let missing: Vec<(usize, &str)> = w
            .iter()
            .enumerate()
            .filter(|(_, (n, _))| !c.iter().any(|(m, _)| m == n))
            .map(|(i, (n, _))| (i, *n))
            .collect();
        let extra: Vec<(usize, &str)> = c
            .iter()
            .enumerate()
            .filter(|(_, (n, _))| !w.iter().any(|(m, _)| m == n))
            .map(|(i, (n, _))| (i, *n))
            .collect();
        // One missing and one extra in the same place reads best as a rename.
        if let ([(i, wn)], [(j, cn)]) = (missing.as_slice(), extra.as_slice())
            && i == j
        {
            return Err(Diff::text(format!(
                "{what} `{wn}` is named `{cn}` in the component"
            )));
        }
        if let Some((_, wn)) = missing.first() {
            let mut text = format!("the component lacks {what} `{wn}`");
            let present: Vec<&str> = extra.iter().map(|(_, n)| *n).collect();
            if let Some(near) = similar(wn, present.into_iter()).first() {
                text.push_str(&format!(" (did you mean `{near}`?)"));
            }
            return Err(Diff::text(text));
        }
        if let Some((_, cn)) = extra.first() {
            return Err(Diff::text(format!(
                "the component has an extra {what} `{cn}`"
            )));
        }
        for (i, ((cn, ct), (wn, wt))) in c.iter().zip(&w).enumerate() {
            if cn != wn {
                return Err(Diff::text(format!(
                    "{what} {} is `{wn}` in the world and `{cn}` in the component (order matters)",
                    i + 1
                )));
            }
            match (ct, wt) {
                (None, None) => {}
                (Some(ct), Some(wt)) => {
                    self.eq_type(ct, wt)
                        .map_err(|d| nest(d, format!("{what} `{wn}`")))?;
                }
                (ct, wt) => {
                    let show = |r: &Resolve, t: &Option<Type>| {
                        t.as_ref().map_or("no payload".to_string(), |t| {
                            format!("`{}`", render::type_ref(r, t))
                        })
                    };
                    return Err(nest(
                        Diff::text(format!(
                            "the world has {}, the component has {}",
                            show(self.w, wt),
                            show(self.c, ct)
                        )),
                        format!("{what} `{wn}`"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Resources are nominal: the same resource name in the same (version-matched)
    /// interface, or in the world itself.
    fn same_resource(&self, ci: TypeId, wi: TypeId) -> bool {
        let cd = &self.c.types[ci];
        let wd = &self.w.types[wi];
        if cd.name != wd.name {
            return false;
        }
        match (cd.owner, wd.owner) {
            (TypeOwner::Interface(c), TypeOwner::Interface(w)) => {
                match (InterfaceName::of(self.c, c), InterfaceName::of(self.w, w)) {
                    (Some(cn), Some(wn)) => {
                        cn.same_unversioned(&wn)
                            && match version_match(cn.version.as_ref(), wn.version.as_ref()) {
                                VersionMatch::Exact => true,
                                VersionMatch::Compatible => !self.options.strict_versions,
                                VersionMatch::Incompatible => false,
                            }
                    }
                    (None, None) => self.c.interfaces[c].name == self.w.interfaces[w].name,
                    _ => false,
                }
            }
            (TypeOwner::World(_), TypeOwner::World(_)) => true,
            _ => false,
        }
    }

    fn resource_path(&self, resolve: &Resolve, id: TypeId) -> String {
        let def = &resolve.types[id];
        let name = def.name.clone().unwrap_or_default();
        match def.owner {
            TypeOwner::Interface(i) => match InterfaceName::of(resolve, i) {
                Some(n) => format!("resource {name} from {n}"),
                None => format!("resource {name}"),
            },
            _ => format!("resource {name}"),
        }
    }
}

fn nest(mut d: Diff, segment: String) -> Diff {
    d.path.insert(0, segment);
    d
}

fn visible_params(f: &Function) -> &[wit_parser::Param] {
    let has_self = matches!(
        f.kind,
        FunctionKind::Method(_)
            | FunctionKind::AsyncMethod(_)
            | FunctionKind::MethodGetter(_)
            | FunctionKind::MethodSetter(_)
    );
    &f.params[usize::from(has_self).min(f.params.len())..]
}

fn fn_kind(kind: &FunctionKind) -> &'static str {
    match kind {
        FunctionKind::Freestanding => "function",
        FunctionKind::AsyncFreestanding => "async function",
        FunctionKind::Method(_) => "method",
        FunctionKind::AsyncMethod(_) => "async method",
        FunctionKind::Static(_) => "static function",
        FunctionKind::AsyncStatic(_) => "async static function",
        FunctionKind::Constructor(_) => "constructor",
        FunctionKind::Getter | FunctionKind::MethodGetter(_) | FunctionKind::StaticGetter(_) => {
            "getter"
        }
        FunctionKind::Setter | FunctionKind::MethodSetter(_) | FunctionKind::StaticSetter(_) => {
            "setter"
        }
    }
}

fn article(word: &str) -> &'static str {
    match word.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    }
}

fn quoted(names: Vec<String>) -> Vec<String> {
    names.into_iter().map(|s| format!("`{s}`")).collect()
}

/// Names close enough to `name` to be a likely typo or rename, best first (at most 3).
pub fn similar<'n>(name: &str, candidates: impl Iterator<Item = &'n str>) -> Vec<String> {
    let strip = |s: &'n str| s.split('@').next().unwrap_or(s);
    let base = name.split('@').next().unwrap_or(name);
    let mut scored: Vec<(f64, &str)> = candidates
        .filter(|c| *c != name)
        .map(|c| (strsim::normalized_damerau_levenshtein(base, strip(c)), c))
        .filter(|(score, c)| *score >= 0.6 || strip(c).ends_with(last_segment(base)))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored.dedup_by(|a, b| a.1 == b.1);
    scored
        .into_iter()
        .take(3)
        .map(|(_, c)| c.to_string())
        .collect()
}

fn last_segment(name: &str) -> &str {
    name.rsplit(['/', ':', '.']).next().unwrap_or(name)
}
