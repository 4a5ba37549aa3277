//! The options of `uses: policy.check` (the same as `shipgate check`'s flags).

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;

use super::check::CheckOptions;
use super::detect::InputType;
use super::finding::Severity;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyCheckOptions {
    /// Files or folders (recursive) of YAML/JSON to check.
    pub paths: Vec<String>,
    /// Rego files or folders of your policies (`*_test.rego` left out).
    #[serde(default)]
    pub policies: Vec<String>,
    /// JSON/YAML files merged into `data`.
    #[serde(default)]
    pub data: Vec<String>,
    /// The namespace (package) of your policies to evaluate; default `main`.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Evaluate every namespace of your policies.
    #[serde(default)]
    pub all_namespaces: bool,
    /// Treat every document as this type instead of detecting it.
    #[serde(default)]
    pub input_type: Option<InputType>,
    /// The waiver file (default: `.shipgate-waivers.yaml` when it exists).
    #[serde(default)]
    pub waivers: Option<String>,
    /// A CRD schema catalog (`{group}/{kind}_{version}.json`), looked up before the
    /// built-in Kubernetes schemas.
    #[serde(default)]
    pub schema_dir: Option<String>,
    /// The least-privilege budget: per principal, the permissions it needs.
    #[serde(default)]
    pub permissions: Option<String>,
    /// Evaluate the built-in library (default true).
    #[serde(default = "yes")]
    pub builtin: bool,
    /// The lowest severity that denies: error (default) or warning.
    #[serde(default)]
    pub fail_on: Severity,
    /// Reports to write, by format.
    #[serde(default)]
    pub output: OutputFiles,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputFiles {
    /// The findings as text, grouped by file.
    #[serde(default)]
    pub human: Option<String>,
    /// The JSON report (`schema_version: 1`).
    #[serde(default)]
    pub json: Option<String>,
    /// SARIF 2.1.0 (code scanning).
    #[serde(default)]
    pub sarif: Option<String>,
    /// JUnit XML (`artifacts:reports:junit`).
    #[serde(default)]
    pub junit: Option<String>,
    /// GitLab Code Quality (`artifacts:reports:codequality`).
    #[serde(default)]
    pub gitlab: Option<String>,
}

impl OutputFiles {
    /// (format, file) for every report asked for.
    pub fn requested(&self) -> Vec<(&'static str, &str)> {
        [
            ("human", &self.human),
            ("json", &self.json),
            ("sarif", &self.sarif),
            ("junit", &self.junit),
            ("gitlab", &self.gitlab),
        ]
        .into_iter()
        .filter_map(|(f, p)| p.as_deref().map(|p| (f, p)))
        .collect()
    }
}

impl PolicyCheckOptions {
    pub fn to_check(&self) -> CheckOptions {
        let paths = |v: &[String]| v.iter().map(PathBuf::from).collect::<Vec<_>>();
        let mut o = CheckOptions {
            paths: paths(&self.paths),
            policies: paths(&self.policies),
            data: paths(&self.data),
            all_namespaces: self.all_namespaces,
            input_type: self.input_type,
            builtin: self.builtin,
            waivers: self.waivers.as_ref().map(PathBuf::from),
            permissions: self.permissions.as_ref().map(PathBuf::from),
            schema_dir: self.schema_dir.as_ref().map(PathBuf::from),
            ..CheckOptions::default()
        };
        if let Some(ns) = &self.namespace {
            o.namespaces = vec![ns.clone()];
        }
        o
    }
}
