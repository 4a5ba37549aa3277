//! SARIF 2.1.0: one run, the rules that fired (with their documentation) and one
//! result per finding; waived findings carry a suppression with its justification.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::super::check::CheckReport;
use super::super::finding::{Finding, Severity};

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

fn uri(file: &str) -> String {
    file.trim_start_matches("./").to_owned()
}

pub fn sarif(report: &CheckReport) -> Value {
    let all: Vec<&Finding> = report.findings.iter().chain(&report.waived).collect();
    let mut rules: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &all {
        let n = rules.len();
        rules.entry(f.rule.as_str()).or_insert(n);
    }
    let mut ordered: Vec<(&str, usize)> = rules.iter().map(|(k, v)| (*k, *v)).collect();
    ordered.sort_by_key(|(_, i)| *i);
    let rule_objects: Vec<Value> = ordered
        .iter()
        .map(|(id, _)| {
            let doc = report.docs.get(*id);
            let severity = all.iter().find(|f| f.rule == *id).map_or(Severity::Error, |f| f.severity);
            let mut r = json!({
                "id": id,
                "defaultConfiguration": { "level": level(severity) },
            });
            if let Some(d) = doc {
                r["name"] = json!(d.title.replace(' ', ""));
                r["shortDescription"] = json!({ "text": d.title });
                r["fullDescription"] = json!({ "text": d.what });
                r["help"] = json!({
                    "text": format!("{}\n\nWhy: {}\n\nExample: {}", d.fix, d.why, d.example),
                    "markdown": format!("**How to fix:** {}\n\n**Why:** {}\n\n**Example:** `{}`", d.fix, d.why, d.example),
                });
            }
            r
        })
        .collect();
    let results: Vec<Value> = all
        .iter()
        .map(|f| {
            let mut r = json!({
                "ruleId": f.rule,
                "ruleIndex": rules[f.rule.as_str()],
                "level": level(f.severity),
                "message": { "text": format!("{} ({})", f.message, f.resource) },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": uri(&f.file) },
                        "region": {
                            "startLine": f.line.max(1),
                            "startColumn": f.col.max(1),
                            "endLine": f.end_line.max(f.line).max(1),
                            "endColumn": if f.end_line == f.line { f.end_col.max(f.col + 1) } else { f.end_col.max(1) },
                        }
                    },
                    "logicalLocations": [{ "name": f.resource, "kind": "resource" }],
                }],
                "partialFingerprints": { "shipgate/v1": super::gitlab::fingerprint(f) },
            });
            if let Some(w) = &f.waived {
                r["suppressions"] = json!([{ "kind": "external", "justification": w }]);
            }
            r
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "shipgate",
                    "version": env!("CARGO_PKG_VERSION"),
                    "informationUri": "https://gitlab.com/shipgate/shipgate",
                    "rules": rule_objects,
                }
            },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    })
}
