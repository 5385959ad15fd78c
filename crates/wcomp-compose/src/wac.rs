//! Composition from a WAC file (wac's language, wac's semantics), and writing a plan as WAC
//! so the wiring automatic mode chose can be reviewed and re-run.

use crate::Error;
use crate::encode::{Tool, chain, part_record};
use crate::part::Part;
use crate::plan::Plan;
use indexmap::IndexMap;
use miette::Diagnostic;
use wac_types::BorrowedPackageKey;
use wcomp_wasm::provenance::CompositionRecord;

/// A `--dep`: the WAC package name (`ns:name` or `ns:name@1.0.0`) and the part behind it.
pub struct Dep {
    pub package: String,
    pub part: Part,
}

/// Parses `source` (read from `path`) and composes it from `deps`.
pub fn compose(
    path: &str,
    source: &str,
    deps: &[Dep],
    tool: &Tool<'_>,
) -> Result<crate::encode::Encoded, Error> {
    let document = wac_parser::Document::parse(source).map_err(|e| {
        let (line, column) = position(source, &e);
        Error::WacSyntax {
            path: path.to_string(),
            line,
            column,
            message: chain(&e),
        }
    })?;
    let mut names = Vec::new();
    for d in deps {
        let (name, version) = match d.package.split_once('@') {
            Some((n, v)) => (
                n.to_string(),
                Some(semver::Version::parse(v).map_err(|e| {
                    Error::BadWire(format!(
                        "`--dep {}`: `{v}` is not a version: {e}",
                        d.package
                    ))
                })?),
            ),
            None => (d.package.clone(), None),
        };
        names.push((name, version));
    }
    let mut packages: IndexMap<BorrowedPackageKey<'_>, Vec<u8>> = IndexMap::new();
    for (d, (name, version)) in deps.iter().zip(&names) {
        packages.insert(
            BorrowedPackageKey::from_name_and_version(name, version.as_ref()),
            d.part.bytes.clone(),
        );
    }
    let resolution = document.resolve(packages).map_err(|e| {
        // A `--dep` that is not a valid component is reported as such, not as the WAC
        // file's error.
        if let Some(invalid) = deps
            .iter()
            .filter(|d| !d.part.known_valid())
            .find_map(|d| wcomp_wasm::component::validate(&d.part.source, &d.part.bytes).err())
        {
            return invalid.into();
        }
        let (line, column) = position(source, &e);
        match &e {
            wac_parser::resolution::Error::UnknownPackage { name, .. } => Error::MissingDep {
                path: path.to_string(),
                line,
                column,
                name: name.clone(),
            },
            _ => Error::WacResolve {
                path: path.to_string(),
                line,
                column,
                message: chain(&e),
            },
        }
    })?;
    let mut bytes = resolution
        .encode(crate::encode::encode_options(tool))
        .map_err(|e| {
            let (line, column) = position(source, &e);
            Error::WacResolve {
                path: path.to_string(),
                line,
                column,
                message: chain(&e),
            }
        })?;
    let record = CompositionRecord {
        version: wcomp_wasm::provenance::VERSION,
        tool: format!("{} {}", tool.name, tool.version),
        root: None,
        parts: deps.iter().map(|d| part_record(&d.part)).collect(),
        wires: Vec::new(),
        wac: Some(source.to_string()),
    };
    wcomp_wasm::provenance::append(&mut bytes, &record);
    // The output embeds the `--dep`s the WAC file uses, unchanged: validating it in full
    // checks their code in the same pass (as in automatic mode). A `--dep` it does not
    // embed is validated on its own, so nothing is remembered as valid unchecked.
    let unproven: Vec<&Part> = deps
        .iter()
        .map(|d| &d.part)
        .filter(|p| !p.known_valid())
        .collect();
    // Only needed when some `--dep` is not remembered as valid (not on the warm path).
    let embedded = if unproven.is_empty() {
        Vec::new()
    } else {
        wcomp_wasm::component::nested_components("composition", &bytes)
            .map_err(crate::encode::blame_output)?
    };
    let (inside, outside): (Vec<&Part>, Vec<&Part>) = unproven
        .into_iter()
        .partition(|p| embedded.contains(&p.bytes.as_slice()));
    for p in outside {
        wcomp_wasm::component::validate(&p.source, &p.bytes)?;
        wcomp_wasm::component::remember_validated(p.digest());
    }
    let all: Vec<&Part> = deps.iter().map(|d| &d.part).collect();
    crate::encode::check(bytes, &all, |b, digest| {
        crate::encode::validate(b, digest, &inside)
    })
}

/// Line and column (1-based) of a diagnostic's primary label, or 1:1.
fn position(source: &str, e: &dyn Diagnostic) -> (usize, usize) {
    let offset = e
        .labels()
        .and_then(|mut labels| {
            let all: Vec<_> = labels.by_ref().collect();
            all.iter()
                .find(|l| l.primary())
                .or(all.first())
                .map(|l| l.offset())
        })
        .unwrap_or(0)
        .min(source.len());
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The package name a part gets in WAC written by [`emit`].
pub fn package_name(part: &Part) -> String {
    format!("compose:{}", part.name)
}

/// Writes `plan` as a WAC document that composes the same wiring.
pub fn emit(parts: &[Part], plan: &Plan) -> String {
    let mut s = String::from(
        "// The wiring `wcomp compose` chose. Review it, edit it, and re-run it with:\n//   wcomp compose THIS.wac",
    );
    for &i in plan.order.iter().rev() {
        s.push_str(&format!(
            " \\\n//     --dep {}={}",
            package_name(&parts[i]),
            parts[i].source
        ));
    }
    s.push('\n');
    s.push_str("package compose:composition;\n\n");
    for &i in &plan.order {
        let part = &parts[i];
        let args: Vec<String> = plan
            .wires
            .iter()
            .filter(|w| w.importer == i)
            .map(|w| {
                format!(
                    "    \"{}\": {}[\"{}\"],\n",
                    w.import,
                    ident(&parts[w.exporter].name),
                    w.export
                )
            })
            .collect();
        s.push_str(&format!(
            "let {} = new {} {{\n{}    ...\n}};\n",
            ident(&part.name),
            package_name(part),
            args.concat()
        ));
    }
    s.push('\n');
    let root = &parts[plan.root];
    for e in &root.exports {
        if e.iface.is_some() {
            s.push_str(&format!("export {}[\"{}\"];\n", ident(&root.name), e.name));
        } else {
            s.push_str(&format!(
                "export {}[\"{}\"] as \"{}\";\n",
                ident(&root.name),
                e.name,
                e.name
            ));
        }
    }
    s
}

/// Part names are kebab-case; WAC identifiers take `%` to escape keywords (wac-parser
/// 0.12's list).
fn ident(name: &str) -> String {
    const KEYWORDS: &[&str] = &[
        "import",
        "with",
        "type",
        "tuple",
        "list",
        "option",
        "result",
        "borrow",
        "resource",
        "variant",
        "record",
        "flags",
        "enum",
        "func",
        "static",
        "constructor",
        "u8",
        "s8",
        "u16",
        "s16",
        "u32",
        "s32",
        "u64",
        "s64",
        "f32",
        "f64",
        "char",
        "bool",
        "string",
        "interface",
        "world",
        "export",
        "new",
        "let",
        "use",
        "include",
        "as",
        "package",
        "targets",
        "async",
        "stream",
        "future",
    ];
    if KEYWORDS.contains(&name) {
        format!("%{name}")
    } else {
        name.to_string()
    }
}
