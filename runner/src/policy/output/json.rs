//! The JSON report of a check (`schema_version: 1`).

use serde_json::json;

use super::super::check::CheckReport;
use super::super::finding::Severity;

/// The JSON report (`schema_version: 1`).
pub fn json(report: &CheckReport, fail_on: Severity) -> serde_json::Value {
    json!({
        "schema_version": 1,
        "summary": {
            "denied": report.denied(fail_on),
            "fail_on": fail_on.as_str(),
            "files": report.files,
            "documents": report.documents,
            "by_type": report.by_type,
            "errors": report.count(Severity::Error),
            "warnings": report.count(Severity::Warning),
            "waived": report.waived.len(),
            "expired_waivers": report.expired.len(),
            "unchecked": report.unchecked.len(),
            "unvalidated": report.unvalidated.len(),
        },
        "findings": report.findings,
        "waived": report.waived,
        "expired_waivers": report.expired,
        "unchecked": report.unchecked,
        "unvalidated": report.unvalidated,
    })
}
