//! in-toto statements with a SLSA provenance v1 predicate.
//!
//! Written as `https://in-toto.io/Statement/v1`; read as v1 or v0.1 (what older cosign
//! releases wrote). The field types follow the SLSA v1 schema closely enough that Go
//! verifiers (cosign's `verify-attestation --type slsaprovenance1`) decode it.

use crate::Error;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
pub const STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Statement {
    #[serde(rename = "_type")]
    pub kind: String,
    pub subject: Vec<Subject>,
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    #[serde(default)]
    pub predicate: Value,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Subject {
    pub name: String,
    pub digest: BTreeMap<String, String>,
}

/// SLSA provenance v1 predicate (the parts wcomp writes and reads).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Provenance {
    #[serde(rename = "buildDefinition")]
    pub build_definition: BuildDefinition,
    #[serde(rename = "runDetails")]
    pub run_details: RunDetails,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct BuildDefinition {
    #[serde(rename = "buildType")]
    pub build_type: String,
    #[serde(rename = "externalParameters")]
    pub external_parameters: Value,
    #[serde(
        rename = "internalParameters",
        default,
        skip_serializing_if = "Value::is_null"
    )]
    pub internal_parameters: Value,
    #[serde(
        rename = "resolvedDependencies",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub resolved_dependencies: Vec<ResourceDescriptor>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct ResourceDescriptor {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uri: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub digest: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct RunDetails {
    pub builder: Builder,
    #[serde(default)]
    pub metadata: RunMetadata,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Builder {
    pub id: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub version: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct RunMetadata {
    #[serde(
        rename = "invocationId",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub invocation_id: String,
    /// RFC 3339.
    #[serde(
        rename = "startedOn",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub started_on: String,
    /// RFC 3339.
    #[serde(
        rename = "finishedOn",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub finished_on: String,
}

impl Statement {
    /// A v1 statement about one subject (`name`, `sha256:<hex>`).
    pub fn provenance(name: &str, digest: &str, predicate: &Provenance) -> Statement {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        Statement {
            kind: STATEMENT_V1.to_string(),
            subject: vec![Subject {
                name: name.to_string(),
                digest: BTreeMap::from([("sha256".to_string(), hex.to_string())]),
            }],
            predicate_type: SLSA_PROVENANCE_V1.to_string(),
            predicate: serde_json::to_value(predicate).expect("provenance serializes"),
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a statement always serializes")
    }

    /// Parses a v1 or v0.1 statement.
    pub fn from_json(bytes: &[u8]) -> Result<Statement, Error> {
        let s: Statement = serde_json::from_slice(bytes).map_err(|e| Error::Malformed {
            what: "in-toto statement",
            message: e.to_string(),
        })?;
        if s.kind != STATEMENT_V1 && s.kind != STATEMENT_V01 {
            return Err(Error::Malformed {
                what: "in-toto statement",
                message: format!("unknown statement type `{}`", s.kind),
            });
        }
        Ok(s)
    }

    /// Whether one of the subjects is `sha256:<hex>`.
    pub fn names_digest(&self, digest: &str) -> bool {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.subject
            .iter()
            .any(|s| s.digest.get("sha256").is_some_and(|d| d == hex))
    }

    /// The subjects' sha256 digests, `sha256:`-prefixed.
    pub fn subject_digests(&self) -> Vec<String> {
        self.subject
            .iter()
            .filter_map(|s| s.digest.get("sha256").map(|d| format!("sha256:{d}")))
            .collect()
    }

    /// The predicate as SLSA provenance v1, when it is one.
    pub fn slsa_v1(&self) -> Option<Provenance> {
        if self.predicate_type != SLSA_PROVENANCE_V1 {
            return None;
        }
        serde_json::from_value(self.predicate.clone()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:00000000000000000000000000000000000000000000000000000000000000aa";

    #[test]
    fn provenance_statement_round_trips() {
        let mut p = Provenance::default();
        p.build_definition.build_type = "https://wcomp.dev/build/upload@v1".into();
        p.build_definition
            .resolved_dependencies
            .push(ResourceDescriptor {
                name: "part".into(),
                uri: "file:part.wasm".into(),
                digest: BTreeMap::from([("sha256".into(), "ab".into())]),
                ..Default::default()
            });
        p.run_details.builder.id = "https://wcomp.dev/wcomp@0.1.0".into();
        let s = Statement::provenance("r/a", D, &p);
        let back = Statement::from_json(&s.to_json()).unwrap();
        assert!(back.names_digest(D));
        assert!(!back.names_digest(&D.replace("aa", "bb")));
        let v: Value = serde_json::from_slice(&s.to_json()).unwrap();
        assert_eq!(v["_type"], STATEMENT_V1);
        assert_eq!(v["predicateType"], SLSA_PROVENANCE_V1);
        assert_eq!(
            v["subject"][0]["digest"]["sha256"],
            D.strip_prefix("sha256:").unwrap()
        );
        let pp = back.slsa_v1().unwrap();
        assert_eq!(pp.build_definition.resolved_dependencies.len(), 1);
    }

    #[test]
    fn v01_statements_are_read_and_unknown_types_refused() {
        let v01 = serde_json::json!({"_type": STATEMENT_V01, "subject": [{"name":"x","digest":{"sha256":"aa"}}],
            "predicateType": "https://slsa.dev/provenance/v0.2", "predicate": {}});
        let s = Statement::from_json(&serde_json::to_vec(&v01).unwrap()).unwrap();
        assert!(s.names_digest("sha256:aa"));
        let bad = serde_json::json!({"_type": "x", "subject": [], "predicateType": "y"});
        assert!(Statement::from_json(&serde_json::to_vec(&bad).unwrap()).is_err());
    }
}
