//! One reason something does not fit, in WIT terms: a component against a world
//! ([`crate::check`]) or one part of a composition against another (wcomp-compose). Both
//! share this type, so one renderer and one JSON shape serve `validate`, `compose` and
//! `build`.

use serde::Serialize;

/// Whether a name is something the component imports or exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    Import,
    Export,
}

/// What kind of problem a [`Problem`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemKind {
    /// The component imports something the world does not provide.
    UnsatisfiedImport,
    /// The world requires an export the component does not have.
    MissingExport,
    /// The same interface is there, at a version that does not match.
    VersionMismatch,
    /// The same name is an interface on one side and a function (or type) on the other.
    KindMismatch,
    /// An interface lacks a function the other side needs.
    MissingFunction,
    /// A function is there with a different signature.
    FunctionMismatch,
    /// An interface lacks a type the other side needs.
    MissingType,
    /// A named type is there with a different definition (or, in a composition, an
    /// export's types differ from what the import expects).
    TypeMismatch,
    /// Several parts of a composition could satisfy one import.
    Ambiguous,
    /// A plug nothing imports from.
    UnusedPlug,
    /// The wiring of a composition forms a cycle.
    Cycle,
    /// Imports left over in a composition that must have none.
    OpenImport,
}

/// One reason a component does not conform to a world, or a composition cannot be made.
///
/// A problem with a [`direction`](Problem::direction) compares a component with a world:
/// `expected` is the world's side and `found` the component's. One without compares two
/// parts of a composition: `expected` is what the importer expects and `found` what the
/// exporter has.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub kind: ProblemKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// The world-level name: `wasi:cli/environment@0.2.6`, or a plain name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// The function or type inside `item` the problem is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// One sentence saying what is wrong.
    pub message: String,
    /// What the world declares (or the importer expects), as WIT.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// What the component (or the exporter) has, as WIT.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found: Option<String>,
    /// Precise differences (which parameter, which field).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
    /// Near misses on the other side.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub did_you_mean: Vec<String>,
    /// A suggested fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Problem {
    /// A problem with only a kind and a message.
    pub fn new(kind: ProblemKind, message: String) -> Problem {
        Problem {
            kind,
            direction: None,
            item: None,
            member: None,
            message,
            expected: None,
            found: None,
            details: Vec::new(),
            did_you_mean: Vec::new(),
            hint: None,
        }
    }

    /// A problem of a component against a world, about `item` in `direction`.
    pub fn of_item(
        kind: ProblemKind,
        direction: Direction,
        item: impl Into<String>,
        message: String,
    ) -> Problem {
        Problem {
            direction: Some(direction),
            item: Some(item.into()),
            ..Problem::new(kind, message)
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Problem {
        self.hint = Some(hint.into());
        self
    }

    /// The labels of `expected` and `found`: the world and the component, or the importer
    /// and the exporter.
    pub fn sides(&self) -> (&'static str, &'static str) {
        match self.direction {
            Some(_) => ("world expects:", "component has:"),
            None => ("importer expects:", "exporter has:"),
        }
    }
}
