//! Findings: what a rule said about a document, located at the offending field.

use serde_json::Value;

use super::detect::InputType;
use super::engine::{RuleKind, RuleResult};
use super::input::Document;
use super::metadata::RuleDoc;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    #[default]
    Error,
    Warning,
}

impl Severity {
    /// Reads the severities rules commonly use (`critical`/`high` are errors,
    /// `medium`/`low`/`info` warnings).
    pub fn parse(s: &str) -> Option<Severity> {
        match s.to_ascii_lowercase().as_str() {
            "error" | "deny" | "critical" | "high" | "violation" | "failure" => Some(Severity::Error),
            "warning" | "warn" | "medium" | "low" | "info" | "note" => Some(Severity::Warning),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// The rule id (`SG-K8S-001`), or for a user rule without one its path (`main.deny`).
    pub rule: String,
    pub severity: Severity,
    pub message: String,
    /// `kind/namespace/name`, a Terraform address or a principal.
    pub resource: String,
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub end_line: usize,
    pub end_col: usize,
    pub input_type: InputType,
    /// The Rego rule that produced it (`shipgate.kubernetes.deny`).
    pub policy: String,
    /// Why it does not count, when a waiver or an `exception` covers it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waived: Option<String>,
}

impl Finding {
    /// A finding on `doc` at `span` (not waived).
    pub fn new(
        doc: &Document,
        rule: &str,
        severity: Severity,
        message: String,
        span: crate::yaml::Span,
        policy: &str,
    ) -> Finding {
        Finding {
            rule: rule.to_owned(),
            severity,
            message,
            resource: doc.resource(),
            file: doc.source.name.clone(),
            line: span.start.line,
            col: span.start.col,
            end_line: span.end.line,
            end_col: span.end.col,
            input_type: doc.input_type,
            policy: policy.to_owned(),
            waived: None,
        }
    }

    /// `annotated` is the id the rule's `# METADATA` gives, for results without one.
    pub fn from_result(
        doc: &Document,
        r: &RuleResult,
        docs: &std::collections::BTreeMap<String, RuleDoc>,
        annotated: Option<&str>,
    ) -> Finding {
        let (message, id, severity, field) = match &r.value {
            Value::String(s) => (s.clone(), None, None, None),
            Value::Object(o) => {
                let msg = o.get("msg").or_else(|| o.get("message")).and_then(Value::as_str);
                (
                    msg.map_or_else(|| r.value.to_string(), str::to_owned),
                    o.get("id").and_then(Value::as_str).map(str::to_owned),
                    o.get("severity").and_then(Value::as_str).and_then(Severity::parse),
                    o.get("field").and_then(Value::as_array).cloned(),
                )
            }
            other => (other.to_string(), None, None, None),
        };
        let rule = id.or_else(|| annotated.map(str::to_owned)).unwrap_or_else(|| r.rule.clone());
        let by_kind = if r.kind == RuleKind::Warn { Severity::Warning } else { Severity::Error };
        let severity = severity
            .or_else(|| docs.get(&rule).and_then(|d| d.severity.as_deref()).and_then(Severity::parse))
            .unwrap_or(by_kind);
        let span = doc.locate(field.as_deref().unwrap_or(&[]));
        let mut f = Finding::new(doc, &rule, severity, message, span, &r.rule);
        f.waived = r.excepted.then(|| "exempted by the policy's `exception` rule".to_owned());
        f
    }
}
