//! Automatic wiring: which part's export satisfies which part's import.
//!
//! The rule (docs/compose.md states it for users):
//! 1. A `--wire` for an import always wins.
//! 2. Otherwise the import is satisfied by another part that exports the same name exactly.
//!    Two parts exporting it exactly is an ambiguity: an error asking for `--wire`.
//! 3. Otherwise by a part exporting the same interface at a semver-compatible version; the
//!    newest such version wins, and two parts offering that newest version is an ambiguity.
//! 4. Otherwise the import stays an import of the composition (or is an error with
//!    `--no-imports`), and near misses (the interface at an incompatible version, a
//!    similar name) are reported.
//!
//! Any part may satisfy any other part's imports, not only the root's: plugs feed each
//! other. Only parts reachable from the root are instantiated; a plug nothing uses is an
//! error, with the reason. A part never satisfies its own imports, and wiring that forms a
//! cycle is refused. Every wire is type-checked before anything is encoded: `encode` has
//! wac-graph check each one as it builds the graph, and explains a mismatch in WIT terms
//! ([`type_check`]).

use crate::part::Part;
use crate::{Error, Problem, ProblemKind};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use wcomp_wasm::names::{VersionMatch, version_match};

/// `--wire importer:import=exporter[:export]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualWire {
    pub importer: String,
    pub import: String,
    pub exporter: String,
    pub export: Option<String>,
}

impl FromStr for ManualWire {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let usage = || {
            format!(
                "`{s}` is not a wire: expected `importer:import=exporter[:export]`, e.g. \
                 `app:example:store/records@0.1.0=db`"
            )
        };
        let (left, right) = s.split_once('=').ok_or_else(usage)?;
        let (importer, import) = left.split_once(':').ok_or_else(usage)?;
        let (exporter, export) = match right.split_once(':') {
            Some((p, e)) => (p, Some(e.to_string())),
            None => (right, None),
        };
        if importer.is_empty() || import.is_empty() || exporter.is_empty() {
            return Err(usage());
        }
        Ok(ManualWire {
            importer: importer.to_string(),
            import: import.to_string(),
            exporter: exporter.to_string(),
            export: export.filter(|e| !e.is_empty()),
        })
    }
}

/// How a wire was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum How {
    Exact,
    /// Semver-compatible versions of the same interface.
    Compatible,
    /// Chosen with `--wire`.
    Manual,
}

#[derive(Debug, Clone, Serialize)]
pub struct Wire {
    #[serde(skip)]
    pub importer: usize,
    #[serde(rename = "importer")]
    pub importer_name: String,
    pub import: String,
    #[serde(skip)]
    pub exporter: usize,
    #[serde(rename = "exporter")]
    pub exporter_name: String,
    pub export: String,
    pub how: How,
}

/// An import no part satisfies: it becomes an import of the composition.
#[derive(Debug, Clone, Serialize)]
pub struct OpenImport {
    #[serde(skip)]
    pub part: usize,
    #[serde(rename = "part")]
    pub part_name: String,
    pub name: String,
    /// The composition's import it is bound to (differs from `name` when unified).
    pub bound_to: String,
}

/// Semver-compatible versions of one interface imported by several parts, to be imported
/// once at the newest version (wac-graph's import merging does it; `encode::unified_in`
/// checks it happened).
#[derive(Debug, Clone, Serialize)]
pub struct Unification {
    pub chosen: String,
    /// Every (part, name as that part imports it).
    pub from: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Refuse a composition that would still have imports (`--no-imports`).
    pub closed: bool,
}

/// The wiring of a composition, before encoding.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    #[serde(skip)]
    pub root: usize,
    /// Parts to instantiate, each after the parts it depends on.
    #[serde(skip)]
    pub order: Vec<usize>,
    pub wires: Vec<Wire>,
    pub open_imports: Vec<OpenImport>,
    #[serde(skip)]
    pub unified: Vec<Unification>,
    /// Near misses and other things worth knowing about a composition that works.
    pub notes: Vec<String>,
}

/// Works out the wiring of `parts` with `parts[root]` as the root.
pub fn plan(
    parts: &[Part],
    root: usize,
    manual: &[ManualWire],
    options: Options,
) -> Result<Plan, Error> {
    let by_name: HashMap<&str, usize> = parts
        .iter()
        .enumerate()
        .map(|(i, p)| (p.name.as_str(), i))
        .collect();
    let manual = resolve_manual(parts, &by_name, manual)?;

    let mut wires: Vec<Wire> = Vec::new();
    let mut open: Vec<OpenImport> = Vec::new();
    let mut notes = Vec::new();
    // Similar-name near misses, by the part that exports the similar name: they explain
    // an unused plug.
    let mut similar: Vec<(usize, String)> = Vec::new();
    let mut problems = Vec::new();
    let mut reached = vec![false; parts.len()];
    reached[root] = true;
    let mut queue = vec![root];
    while let Some(p) = queue.pop() {
        for import in &parts[p].imports {
            let chosen = match manual.get(&(p, import.name.clone())) {
                Some((q, export)) => Some((*q, export.clone(), How::Manual)),
                None => match candidates(parts, p, import) {
                    Choice::One(q, export, how) => Some((q, export, how)),
                    Choice::None => None,
                    Choice::Ambiguous(list) => {
                        problems.push(ambiguous(parts, p, &import.name, &list));
                        continue;
                    }
                },
            };
            match chosen {
                Some((q, export, how)) => {
                    if !reached[q] {
                        reached[q] = true;
                        queue.push(q);
                    }
                    wires.push(Wire {
                        importer: p,
                        importer_name: parts[p].name.clone(),
                        import: import.name.clone(),
                        exporter: q,
                        exporter_name: parts[q].name.clone(),
                        export,
                        how,
                    });
                }
                None => {
                    for miss in near_misses(parts, p, import) {
                        if miss.similar_name {
                            similar.push((miss.exporter, miss.text.clone()));
                        }
                        notes.push(miss.text);
                    }
                    open.push(OpenImport {
                        part: p,
                        part_name: parts[p].name.clone(),
                        name: import.name.clone(),
                        bound_to: import.name.clone(),
                    });
                }
            }
        }
    }
    // Keep the output stable whatever order the queue visited parts in.
    wires.sort_by_key(|w| (w.importer, position(&parts[w.importer], &w.import)));
    open.sort_by_key(|o| (o.part, position(&parts[o.part], &o.name)));

    for (i, part) in parts.iter().enumerate() {
        if !reached[i] {
            let mut problem = unused_plug(parts, &reached, i, part);
            problem.details.extend(
                similar
                    .iter()
                    .filter(|(q, _)| *q == i)
                    .map(|(_, text)| text.clone()),
            );
            problems.push(problem);
        }
    }
    if problems.is_empty()
        && let Some(cycle) = find_cycle(parts.len(), &wires)
    {
        let names: Vec<&str> = cycle.iter().map(|&i| parts[i].name.as_str()).collect();
        problems.push(Problem::new(
            ProblemKind::Cycle,
            format!(
                "the wiring forms a cycle: {} (each imports from the next)",
                names.join(" -> ")
            ),
        ).hint("a component cannot be instantiated before the components it imports from; break the cycle with `--wire` or by removing a part"));
    }
    if options.closed && !open.is_empty() {
        let mut p = Problem::new(
            ProblemKind::OpenImport,
            format!(
                "`--no-imports` was given, but {} import{} no part satisfies",
                open.len(),
                if open.len() == 1 {
                    " is one"
                } else {
                    "s are ones"
                }
            ),
        );
        p.details = open
            .iter()
            .map(|o| format!("`{}` imports `{}`", o.part_name, o.name))
            .collect();
        p.details.extend(notes.iter().cloned());
        problems.push(p.hint("add a part that exports them, or drop `--no-imports` to leave them as imports of the composition"));
    }
    if !problems.is_empty() {
        return Err(Error::Rejected(problems));
    }

    let unified = unify(parts, &mut open);
    let order = topological(parts.len(), root, &wires);
    Ok(Plan {
        root,
        order,
        wires,
        open_imports: open,
        unified,
        notes,
    })
}

fn position(part: &Part, import: &str) -> usize {
    part.imports
        .iter()
        .position(|i| i.name == import)
        .unwrap_or(usize::MAX)
}

type ManualMap = HashMap<(usize, String), (usize, String)>;

fn resolve_manual(
    parts: &[Part],
    by_name: &HashMap<&str, usize>,
    manual: &[ManualWire],
) -> Result<ManualMap, Error> {
    let mut out = ManualMap::new();
    let part_names = || parts.iter().map(|p| p.name.as_str());
    let find_part = |name: &str| -> Result<usize, Error> {
        by_name.get(name).copied().ok_or_else(|| {
            let close = wcomp_wasm::check::similar(name, part_names());
            Error::BadWire(format!(
                "`--wire` names a part `{name}` that is not in the composition (parts: {}){}",
                list(part_names()),
                did_you_mean(&close)
            ))
        })
    };
    for w in manual {
        let importer = find_part(&w.importer)?;
        let exporter = find_part(&w.exporter)?;
        let imports = || parts[importer].imports.iter().map(|i| i.name.as_str());
        let import = parts[importer]
            .imports
            .iter()
            .find(|i| i.name == w.import)
            .or_else(|| {
                // `example:store/records` may name the one versioned import of it.
                let mut same = parts[importer].imports.iter().filter(|i| {
                    i.iface
                        .as_ref()
                        .is_some_and(|n| n.unversioned() == w.import)
                });
                let first = same.next();
                if same.next().is_some() { None } else { first }
            })
            .ok_or_else(|| {
                let versions: Vec<&str> = parts[importer]
                    .imports
                    .iter()
                    .filter(|i| {
                        i.iface
                            .as_ref()
                            .is_some_and(|n| n.unversioned() == w.import)
                    })
                    .map(|i| i.name.as_str())
                    .collect();
                if versions.len() > 1 {
                    return Error::BadWire(format!(
                        "`{}` imports several versions of `{}` ({}): name one with its version",
                        w.importer,
                        w.import,
                        list(versions.into_iter())
                    ));
                }
                Error::BadWire(format!(
                    "`{}` does not import `{}` (its imports: {}){}",
                    w.importer,
                    w.import,
                    list(imports()),
                    did_you_mean(&wcomp_wasm::check::similar(&w.import, imports()))
                ))
            })?;
        if importer == exporter {
            return Err(Error::BadWire(format!(
                "`--wire {}:{}={}` wires a part to itself",
                w.importer, w.import, w.exporter
            )));
        }
        let exports = || parts[exporter].exports.iter().map(|i| i.name.as_str());
        let export = match &w.export {
            Some(e) => parts[exporter]
                .export(e)
                .map(|i| i.name.clone())
                .ok_or_else(|| {
                    Error::BadWire(format!(
                        "`{}` does not export `{e}` (its exports: {}){}",
                        w.exporter,
                        list(exports()),
                        did_you_mean(&wcomp_wasm::check::similar(e, exports()))
                    ))
                })?,
            None => match matching_export(&parts[exporter], import) {
                Some(e) => e,
                None => {
                    return Err(Error::BadWire(format!(
                        "`{}` exports nothing that matches `{}` (its exports: {}); name the \
                         export: `--wire {}:{}={}:<export>`",
                        w.exporter,
                        import.name,
                        list(exports()),
                        w.importer,
                        import.name,
                        w.exporter
                    )));
                }
            },
        };
        if out
            .insert((importer, import.name.clone()), (exporter, export))
            .is_some()
        {
            return Err(Error::BadWire(format!(
                "`{}`'s import `{}` is wired twice",
                w.importer, import.name
            )));
        }
    }
    Ok(out)
}

/// The export of `part` an import would take: the same name, else the newest
/// semver-compatible version of the same interface.
fn matching_export(part: &Part, import: &crate::part::Item) -> Option<String> {
    if part.export(&import.name).is_some() {
        return Some(import.name.clone());
    }
    let want = import.iface.as_ref()?;
    part.exports
        .iter()
        .filter_map(|e| {
            let n = e.iface.as_ref()?;
            (n.same_unversioned(want)
                && version_match(want.version.as_ref(), n.version.as_ref())
                    == VersionMatch::Compatible)
                .then_some((n.version.clone(), e.name.clone()))
        })
        .max()
        .map(|(_, name)| name)
}

enum Choice {
    None,
    One(usize, String, How),
    Ambiguous(Vec<(usize, String)>),
}

fn candidates(parts: &[Part], p: usize, import: &crate::part::Item) -> Choice {
    let others = || parts.iter().enumerate().filter(move |(q, _)| *q != p);
    let exact: Vec<(usize, String)> = others()
        .filter(|(_, q)| q.export(&import.name).is_some())
        .map(|(q, _)| (q, import.name.clone()))
        .collect();
    match exact.len() {
        0 => {}
        1 => return Choice::One(exact[0].0, exact[0].1.clone(), How::Exact),
        _ => return Choice::Ambiguous(exact),
    }
    let Some(want) = &import.iface else {
        return Choice::None;
    };
    let mut compatible: Vec<(Option<semver::Version>, usize, String)> = Vec::new();
    for (q, part) in others() {
        for e in &part.exports {
            if let Some(n) = &e.iface
                && n.same_unversioned(want)
                && version_match(want.version.as_ref(), n.version.as_ref())
                    == VersionMatch::Compatible
            {
                compatible.push((n.version.clone(), q, e.name.clone()));
            }
        }
    }
    let Some(newest) = compatible.iter().map(|c| c.0.clone()).max() else {
        return Choice::None;
    };
    let best: Vec<(usize, String)> = compatible
        .into_iter()
        .filter(|c| c.0 == newest)
        .map(|c| (c.1, c.2))
        .collect();
    if best.len() == 1 {
        Choice::One(best[0].0, best[0].1.clone(), How::Compatible)
    } else {
        Choice::Ambiguous(best)
    }
}

fn ambiguous(parts: &[Part], p: usize, import: &str, list: &[(usize, String)]) -> Problem {
    let mut problem = Problem::new(
        ProblemKind::Ambiguous,
        format!(
            "`{}`'s import `{import}` is ambiguous: {} parts export it",
            parts[p].name,
            list.len()
        ),
    );
    problem.details = list
        .iter()
        .map(|(q, e)| format!("`{}` exports `{e}`", parts[*q].name))
        .collect();
    let (q, e) = &list[0];
    problem.hint(format!(
        "choose one with `--wire {}:{import}={}:{e}`",
        parts[p].name, parts[*q].name
    ))
}

/// An export of another part that almost satisfies an import.
struct NearMiss {
    exporter: usize,
    /// A similar name rather than the same interface at an incompatible version.
    similar_name: bool,
    text: String,
}

/// Exports of other parts that almost satisfy `import`.
fn near_misses(parts: &[Part], p: usize, import: &crate::part::Item) -> Vec<NearMiss> {
    let mut out = Vec::new();
    for (q, part) in parts.iter().enumerate() {
        if q == p {
            continue;
        }
        for e in &part.exports {
            match (&import.iface, &e.iface) {
                (Some(want), Some(have)) if want.same_unversioned(have) => {
                    out.push(NearMiss {
                        exporter: q,
                        similar_name: false,
                        text: format!(
                            "`{}` exports `{}` but `{}` imports `{}`: versions {} and {} are not \
                         semver-compatible, so it stays an import",
                            part.name,
                            e.name,
                            parts[p].name,
                            import.name,
                            version_of(have),
                            version_of(want)
                        ),
                    });
                }
                _ => {}
            }
        }
        // Similar names: another interface name in the same package, or the same
        // interface name in another package. Interfaces imported only for their types are
        // left alone (no part is expected to export them).
        if import.functions == Some(0) {
            continue;
        }
        let names = part
            .exports
            .iter()
            .filter(|e| match (&import.iface, &e.iface) {
                (Some(a), Some(b)) => {
                    !a.same_unversioned(b)
                        && ((a.namespace == b.namespace && a.package == b.package)
                            || a.interface == b.interface)
                }
                (None, None) => true,
                _ => false,
            })
            .map(|e| e.name.as_str());
        for close in wcomp_wasm::check::similar(&import.name, names) {
            out.push(NearMiss {
                exporter: q,
                similar_name: true,
                text: format!(
                    "`{}` imports `{}`; did you mean `{}`'s export `{close}`? (names must \
                     match; `--wire {}:{}={}:{close}` wires it anyway if the types agree)",
                    parts[p].name, import.name, part.name, parts[p].name, import.name, part.name
                ),
            });
        }
    }
    out
}

fn version_of(n: &wcomp_wasm::names::InterfaceName) -> String {
    n.version
        .as_ref()
        .map_or("(none)".to_string(), |v| format!("@{v}"))
}

fn unused_plug(parts: &[Part], reached: &[bool], i: usize, part: &Part) -> Problem {
    let mut p = Problem::new(
        ProblemKind::UnusedPlug,
        format!(
            "plug `{}` is not used: no part of the composition imports anything it exports",
            part.name
        ),
    );
    p.details.push(format!(
        "`{}` exports {}",
        part.name,
        if part.exports.is_empty() {
            "nothing".to_string()
        } else {
            list(part.exports.iter().map(|e| e.name.as_str()))
        }
    ));
    for (q, other) in parts.iter().enumerate() {
        if q == i || !reached[q] {
            continue;
        }
        for import in &other.imports {
            for e in &part.exports {
                if let (Some(a), Some(b)) = (&import.iface, &e.iface)
                    && a.same_unversioned(b)
                {
                    p.details.push(format!(
                        "`{}` exports `{}` but `{}` imports `{}` (versions are not \
                         semver-compatible)",
                        part.name, e.name, other.name, import.name
                    ));
                }
            }
        }
    }
    p.hint("remove the plug, or check the interface names and versions on both sides")
}

/// Why `w`'s export cannot satisfy its import, in WIT terms: what the importer expects
/// and what the exporter has, side by side. Called for the wires wac-graph's type check
/// refused (`encode`), so only parts in a mismatch have their worlds decoded. Empty when
/// the WIT-level check finds no difference; the caller then reports wac-graph's reason.
pub(crate) fn type_check(parts: &[Part], w: &Wire) -> Result<Vec<Problem>, Error> {
    let found = wcomp_wasm::check::check_wire(&wcomp_wasm::check::Wire {
        importer: &parts[w.importer].name,
        importer_world: parts[w.importer].check_world()?,
        import: &w.import,
        exporter: &parts[w.exporter].name,
        exporter_world: parts[w.exporter].check_world()?,
        export: &w.export,
    });
    Ok(found
        .into_iter()
        .map(|c| {
            let mut p = Problem::new(ProblemKind::TypeMismatch, mismatch_message(w, &c.message));
            p.member = c.member;
            p.expected = c.found; // what the importer expects (component side)
            p.found = c.expected; // what the exporter offers (world side)
            p.details = c.details;
            p
        })
        .collect())
}

/// "`b`'s export `x` cannot satisfy `a`'s import `x`: <why>".
pub(crate) fn mismatch_message(w: &Wire, why: &str) -> String {
    format!(
        "`{}`'s export `{}` cannot satisfy `{}`'s import `{}`: {why}",
        w.exporter_name, w.export, w.importer_name, w.import
    )
}

/// A cycle in the importer -> exporter graph, if any, as a closed path of part indices.
fn find_cycle(n: usize, wires: &[Wire]) -> Option<Vec<usize>> {
    let mut edges = vec![Vec::new(); n];
    for w in wires {
        if !edges[w.importer].contains(&w.exporter) {
            edges[w.importer].push(w.exporter);
        }
    }
    // 0 = unvisited, 1 = on the stack, 2 = done
    let mut state = vec![0u8; n];
    let mut stack = Vec::new();
    fn visit(
        v: usize,
        edges: &[Vec<usize>],
        state: &mut [u8],
        stack: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        state[v] = 1;
        stack.push(v);
        for &u in &edges[v] {
            if state[u] == 1 {
                let start = stack.iter().position(|&x| x == u).unwrap_or(0);
                let mut cycle = stack[start..].to_vec();
                cycle.push(u);
                return Some(cycle);
            }
            if state[u] == 0
                && let Some(c) = visit(u, edges, state, stack)
            {
                return Some(c);
            }
        }
        stack.pop();
        state[v] = 2;
        None
    }
    (0..n).find_map(|v| {
        if state[v] == 0 {
            visit(v, &edges, &mut state, &mut stack)
        } else {
            None
        }
    })
}

/// Parts reachable from the root, each after everything it imports from.
fn topological(n: usize, root: usize, wires: &[Wire]) -> Vec<usize> {
    let mut edges = vec![Vec::new(); n];
    for w in wires {
        if !edges[w.importer].contains(&w.exporter) {
            edges[w.importer].push(w.exporter);
        }
    }
    fn visit(v: usize, edges: &[Vec<usize>], seen: &mut [bool], out: &mut Vec<usize>) {
        if seen[v] {
            return;
        }
        seen[v] = true;
        for &u in &edges[v] {
            visit(u, edges, seen, out);
        }
        out.push(v);
    }
    let mut seen = vec![false; n];
    let mut out = Vec::new();
    visit(root, &edges, &mut seen, &mut out);
    out
}

/// Groups open imports of one interface at semver-compatible versions and binds them to
/// the newest version of each group (`@0.2.3` and `@0.2.6` become `@0.2.6`; an `@0.3.0`
/// beside them is a group of its own).
fn unify(parts: &[Part], open: &mut [OpenImport]) -> Vec<Unification> {
    let version = |o: &OpenImport| {
        parts[o.part]
            .import(&o.name)
            .and_then(|it| it.iface.as_ref())
            .and_then(|n| n.version.clone())
    };
    // interface without version -> tracks of semver-compatible members
    let mut groups: BTreeMap<String, Vec<Vec<usize>>> = BTreeMap::new();
    for (i, o) in open.iter().enumerate() {
        let Some(n) = parts[o.part]
            .import(&o.name)
            .and_then(|it| it.iface.as_ref())
        else {
            continue;
        };
        let tracks = groups.entry(n.unversioned()).or_default();
        let v = version(o);
        match tracks.iter_mut().find(|t| {
            version_match(version(&open[t[0]]).as_ref(), v.as_ref()) != VersionMatch::Incompatible
        }) {
            Some(track) => track.push(i),
            None => tracks.push(vec![i]),
        }
    }
    let mut out = Vec::new();
    for members in groups.values().flatten() {
        let Some(newest) = members.iter().map(|&i| version(&open[i])).max().flatten() else {
            continue;
        };
        let chosen = members
            .iter()
            .find(|&&i| version(&open[i]).as_ref() == Some(&newest))
            .map(|&i| open[i].name.clone())
            .expect("the newest version comes from a member");
        if members.iter().all(|&i| open[i].name == chosen) {
            continue;
        }
        let mut from = Vec::new();
        for &i in members {
            open[i].bound_to = chosen.clone();
            from.push((open[i].part_name.clone(), open[i].name.clone()));
        }
        out.push(Unification { chosen, from });
    }
    out
}

fn list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<String> = names.map(|n| format!("`{n}`")).collect();
    if v.is_empty() {
        "none".to_string()
    } else {
        v.join(", ")
    }
}

/// The closest name only: names of one package share a long prefix, so the runners-up
/// are rarely what was meant.
fn did_you_mean(close: &[String]) -> String {
    match close.first() {
        None => String::new(),
        Some(best) => format!("; did you mean `{best}`?"),
    }
}
