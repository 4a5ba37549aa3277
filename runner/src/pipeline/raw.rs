//! The pipeline file exactly as written (stage 1 of 3: raw → model → execution).
//! These types are also the source of `schemas/pipeline.schema.json`.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::yaml::{Node, Spanned};

/// A shipgate pipeline (version 1).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "shipgate pipeline", extend("$id" = "https://shipgate.dev/schemas/pipeline.schema.json"))]
pub struct RawPipeline {
    /// The file format version. Only `1` exists.
    #[schemars(required, range(min = 1, max = 1))]
    pub version: Option<Spanned<u32>>,
    /// A name for reports; defaults to the file name.
    pub name: Option<Spanned<String>>,
    /// Variables for every step. Values may use `${VAR}`, `${VAR:-default}` and `${{ ci.<field> }}`.
    #[serde(default)]
    #[schemars(with = "IndexMap<String, EnvValue>")]
    pub env: IndexMap<Spanned<String>, Spanned<String>>,
    /// Secrets, masked in all output: names of environment variables (set by the CI job),
    /// or `NAME: vault:PATH#KEY` to read a value from Vault (KV v2, e.g.
    /// `vault:secret/data/ci/registry#password`) once, before the first step.
    #[serde(default)]
    #[schemars(with = "Vec<SecretEntry>")]
    pub secrets: Vec<Node>,
    /// The steps, keyed by id. Order in the file is kept for display; `needs` sets the order of execution.
    #[schemars(required)]
    pub steps: Option<IndexMap<Spanned<String>, RawStep>>,
}

/// One step: either `run:` (a shell command) or `uses:` (a step kind) with `with:` options.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    /// A shell command (run with `sh -ec`). `${{ … }}` references are substituted; `$VAR` is left to the shell.
    pub run: Option<Spanned<String>>,
    /// A step kind, e.g. `image.build`.
    pub uses: Option<Spanned<String>>,
    /// Options of the step kind named by `uses`.
    #[serde(rename = "with")]
    pub with: Option<Node>,
    /// Steps that must succeed before this one starts.
    #[serde(default)]
    pub needs: Vec<Spanned<String>>,
    /// Variables for this step only (override the pipeline's `env`).
    #[serde(default)]
    #[schemars(with = "IndexMap<String, EnvValue>")]
    pub env: IndexMap<Spanned<String>, Spanned<String>>,
    /// Outputs a `run:` step publishes by writing `name=value` lines to `$SHIPGATE_OUTPUT`.
    #[serde(default)]
    pub outputs: Vec<Spanned<String>>,
    /// Maximum duration of one attempt, e.g. `30s`, `10m`, `1h30m`.
    #[schemars(with = "Option<DurationString>")]
    pub timeout: Option<Spanned<String>>,
    /// Retry a failed attempt.
    pub retry: Option<Spanned<RawRetry>>,
    /// A failure of this step does not fail the run; its dependents still run.
    #[serde(default)]
    pub allow_failure: bool,
    /// Run the step only when this expression is true, e.g. `ci.pipeline_source == 'merge_request_event'`.
    #[serde(rename = "if")]
    pub condition: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRetry {
    /// Total attempts, including the first (1–10).
    #[schemars(range(min = 1, max = 10))]
    pub attempts: Spanned<u32>,
    /// Delay before the second attempt; doubles each time (default `1s`).
    #[schemars(with = "Option<DurationString>")]
    pub backoff: Option<Spanned<String>>,
}

/// A `secrets:` entry: a variable name, or one `NAME: vault:PATH#KEY`.
#[derive(JsonSchema)]
#[schemars(untagged)]
#[expect(dead_code, reason = "schema-only type")]
enum SecretEntry {
    Name(#[schemars(regex(pattern = r"^[A-Za-z_][A-Za-z0-9_]*$"))] String),
    #[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
    Source(IndexMap<String, VaultSource>),
}

/// `vault:PATH#KEY`: the secret at PATH (Vault's API path, e.g. `secret/data/ci/registry`), field KEY.
#[derive(JsonSchema)]
#[expect(dead_code, reason = "schema-only type")]
struct VaultSource(#[schemars(regex(pattern = r"^vault:[^#]+#.+$"))] String);

/// A duration such as `500ms`, `30s`, `10m`, `1h30m`.
#[derive(JsonSchema)]
#[expect(dead_code, reason = "schema-only type")]
struct DurationString(#[schemars(regex(pattern = r"^([0-9]+(ms|s|m|h))+$"))] String);

/// An environment value: strings, numbers and booleans are taken as text.
#[derive(JsonSchema)]
#[schemars(untagged)]
#[expect(dead_code, reason = "schema-only type")]
enum EnvValue {
    String(String),
    Number(f64),
    Bool(bool),
}
