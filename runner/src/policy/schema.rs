//! Offline schema validation of Kubernetes manifests by apiVersion/kind, strict (the
//! kubeconform job): unknown fields and wrong types are findings, and a kind with no
//! schema is reported as not validated — never silently passed.
//!
//! Schemas come from `--schema-dir` (a CRD catalog laid out as
//! `{group}/{kind}_{version}.json`, kind lowercased) first, then from the built-in set
//! under `schemas/kubernetes/` (generated from the `k8s-openapi` types, embedded).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::PolicyError;
use super::finding::{Finding, Severity};
use super::input::Document;
use super::metadata::RuleDoc;

include!(concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/kubernetes/embedded.rs"));

pub const RULE: &str = "SG-SCHEMA-001";

/// The built-in schema of `group/version` `kind` (`core` for the core group).
fn builtin(group: &str, version: &str, kind: &str) -> Option<&'static str> {
    let file = format!("{group}/{}_{version}.json", kind.to_ascii_lowercase());
    EMBEDDED.iter().find(|(name, _)| *name == file).map(|(_, text)| *text)
}

/// How a document fared.
#[derive(Debug)]
pub enum Outcome {
    Valid,
    Invalid(Vec<Finding>),
    /// No schema for this apiVersion/kind.
    NoSchema(String),
}

type Compiled = Option<Arc<jsonschema::Validator>>;

/// The schema set of one check; validators are compiled once per kind and shared by
/// the worker threads.
#[derive(Debug, Default)]
pub struct Schemas {
    dir: Option<PathBuf>,
    cache: Mutex<HashMap<String, Compiled>>,
}

fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("core", api_version),
    }
}

impl Schemas {
    pub fn new(dir: Option<PathBuf>) -> Result<Schemas, PolicyError> {
        if let Some(d) = &dir
            && !d.is_dir()
        {
            return Err(PolicyError::Usage(format!("--schema-dir {} is not a folder", d.display())));
        }
        Ok(Schemas { dir, cache: Mutex::new(HashMap::new()) })
    }

    fn validator(&self, api_version: &str, kind: &str) -> Result<Compiled, PolicyError> {
        let key = format!("{api_version}/{kind}");
        if let Ok(c) = self.cache.lock()
            && let Some(v) = c.get(&key)
        {
            return Ok(v.clone());
        }
        let (group, version) = split_api_version(api_version);
        let file = format!("{group}/{}_{version}.json", kind.to_ascii_lowercase());
        let from_dir = self.dir.as_ref().map(|d| d.join(&file)).filter(|p| p.is_file());
        let (text, origin) = match &from_dir {
            Some(p) => (
                std::fs::read_to_string(p)
                    .map_err(|e| PolicyError::Usage(format!("cannot read {}: {e}", p.display())))?,
                p.display().to_string(),
            ),
            None => match builtin(group, version, kind) {
                Some(t) => (t.to_owned(), format!("built-in {file}")),
                None => {
                    if let Ok(mut c) = self.cache.lock() {
                        c.insert(key, None);
                    }
                    return Ok(None);
                }
            },
        };
        let schema: Value = serde_json::from_str(&text)
            .map_err(|e| PolicyError::Usage(format!("the schema {origin} is not JSON: {e}")))?;
        let v = jsonschema::validator_for(&schema)
            .map_err(|e| PolicyError::Usage(format!("the schema {origin} does not compile: {e}")))?;
        let v = Some(Arc::new(v));
        if let Ok(mut c) = self.cache.lock() {
            c.insert(key, v.clone());
        }
        Ok(v)
    }

    pub fn validate(&self, doc: &Document) -> Result<Outcome, PolicyError> {
        let (Some(api_version), Some(kind)) = (doc.value["apiVersion"].as_str(), doc.value["kind"].as_str()) else {
            return Ok(Outcome::NoSchema(doc.resource()));
        };
        let Some(v) = self.validator(api_version, kind)? else {
            return Ok(Outcome::NoSchema(format!(
                "{}: {} (no schema for {api_version} {kind})",
                doc.source.name,
                doc.resource()
            )));
        };
        // Most documents are valid: the short-circuiting check first, the errors only
        // for the others.
        if v.is_valid(&doc.value) {
            return Ok(Outcome::Valid);
        }
        let findings: Vec<Finding> = v.iter_errors(&doc.value).map(|e| finding(doc, &e)).collect();
        Ok(if findings.is_empty() { Outcome::Valid } else { Outcome::Invalid(findings) })
    }
}

/// A JSON pointer into `root` as a path of keys and indexes (indexes where the value
/// is a list), and its dotted form for messages.
fn path_of(root: &Value, pointer: &str) -> (Vec<Value>, String) {
    let mut path = Vec::new();
    let mut text = String::new();
    let mut at = root;
    for raw in pointer.split('/').skip(1) {
        let seg = raw.replace("~1", "/").replace("~0", "~");
        match at {
            Value::Array(a) if seg.parse::<usize>().is_ok() => {
                let i: usize = seg.parse().unwrap_or(0);
                text.push_str(&format!("[{i}]"));
                path.push(Value::from(i));
                at = a.get(i).unwrap_or(&Value::Null);
            }
            _ => {
                if !text.is_empty() {
                    text.push('.');
                }
                text.push_str(&seg);
                at = at.get(&seg).unwrap_or(&Value::Null);
                path.push(Value::String(seg));
            }
        }
    }
    (path, text)
}

fn finding(doc: &Document, e: &jsonschema::ValidationError<'_>) -> Finding {
    let (mut path, at) = path_of(&doc.value, &e.instance_path().to_string());
    let message = match e.kind() {
        jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } => {
            // Point at the unknown field itself.
            if let Some(first) = unexpected.first() {
                path.push(Value::String(first.clone()));
            }
            let fields = unexpected.iter().map(|u| format!("`{u}`")).collect::<Vec<_>>().join(", ");
            if at.is_empty() { format!("unknown field {fields}") } else { format!("{at}: unknown field {fields}") }
        }
        // A Secret's values are never repeated in a message.
        k if doc.value["kind"] == "Secret" => {
            format!(
                "{}: does not match the schema (`{}`)",
                if at.is_empty() { "the document" } else { &at },
                k.keyword()
            )
        }
        _ if at.is_empty() => e.to_string(),
        _ => format!("{at}: {e}"),
    };
    Finding::new(doc, RULE, Severity::Error, message, doc.locate(&path), "schema")
}

pub fn doc() -> RuleDoc {
    RuleDoc {
        id: RULE.into(),
        title: "Manifest does not match its schema".into(),
        severity: Some("error".into()),
        what: "A Kubernetes manifest has an unknown field, a value of the wrong type, or misses a required field, by the schema of its apiVersion and kind.".into(),
        why: "The API server rejects it at deploy time, or (with a typo in an optional field) silently ignores the setting, e.g. a misspelt securityContext that never applies.".into(),
        fix: "Fix the field's name or type; for a custom resource, pass its CRD schema with --schema-dir.".into(),
        example: "securityContext: {runAsNonRoot: true}   # not runAsNonroot".into(),
        rule: "schema".into(),
        file: "runner/src/policy/schema.rs".into(),
        line: 0,
    }
}

/// The files under `schemas/kubernetes/` that the binary embeds (for the drift test).
pub fn embedded_names() -> Vec<&'static str> {
    EMBEDDED.iter().map(|(n, _)| *n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_become_paths_with_indexes_only_in_lists() {
        let v = serde_json::json!({"spec": {"containers": [{"name": "a"}], "0": {"x": 1}}});
        let (p, t) = path_of(&v, "/spec/containers/0/name");
        assert_eq!(p, vec![Value::from("spec"), Value::from("containers"), Value::from(0), Value::from("name")]);
        assert_eq!(t, "spec.containers[0].name");
        let (p, _) = path_of(&v, "/spec/0/x");
        assert_eq!(p[1], Value::from("0"));
    }

    #[test]
    fn every_schema_file_is_embedded() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/kubernetes");
        let mut on_disk = Vec::new();
        for g in std::fs::read_dir(&root).expect("schemas/kubernetes").flatten() {
            if g.path().is_dir() {
                for f in std::fs::read_dir(g.path()).expect("group").flatten() {
                    let name = format!("{}/{}", g.file_name().to_string_lossy(), f.file_name().to_string_lossy());
                    on_disk.push(name);
                }
            }
        }
        on_disk.sort();
        let mut embedded: Vec<String> = embedded_names().into_iter().map(str::to_owned).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
        assert!(builtin("apps", "v1", "Deployment").is_some());
        assert!(builtin("core", "v1", "Pod").is_some());
    }
}
