//! GitLab Code Quality (`artifacts:reports:codequality`): an array of issues with
//! description, check_name, a fingerprint that stays the same when lines move,
//! severity and location.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::super::check::CheckReport;
use super::super::finding::{Finding, Severity};

/// Stable across runs and line moves: the rule, the file, the resource and the message.
pub fn fingerprint(f: &Finding) -> String {
    let mut h = Sha256::new();
    for part in [f.rule.as_str(), f.file.trim_start_matches("./"), f.resource.as_str(), f.message.as_str()] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    h.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect()
}

pub fn code_quality(report: &CheckReport) -> Value {
    let issues: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            json!({
                "description": format!("{} ({})", f.message, f.resource),
                "check_name": f.rule,
                "fingerprint": fingerprint(f),
                "severity": match f.severity { Severity::Error => "critical", Severity::Warning => "minor" },
                "location": { "path": f.file.trim_start_matches("./"), "lines": { "begin": f.line.max(1) } },
                "categories": ["Security"],
                "type": "issue",
                "engine_name": "shipgate",
            })
        })
        .collect();
    Value::Array(issues)
}
