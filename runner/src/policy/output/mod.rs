//! Reports of a check, one file per format: `human`, `json`, `sarif` (2.1.0),
//! `junit` and `gitlab` (Code Quality).

pub mod gitlab;
pub mod human;
pub mod json;
pub mod junit;
pub mod sarif;

pub use human::human;
pub use json::json;

use super::check::CheckReport;
use super::finding::Severity;

/// The formats `--output FORMAT=FILE` and the step's `output:` accept.
pub const FORMATS: &[&str] = &["human", "json", "sarif", "junit", "gitlab"];

/// Renders `report` in `format` (one of [`FORMATS`]); colour never goes to files.
pub fn render(format: &str, report: &CheckReport, fail_on: Severity) -> Option<String> {
    Some(match format {
        "human" => human(report, &report.docs, crate::style::Style::plain(), fail_on),
        "json" => pretty(&json(report, fail_on)),
        "sarif" => pretty(&sarif::sarif(report)),
        "junit" => junit::junit(report),
        "gitlab" => pretty(&gitlab::code_quality(report)),
        _ => return None,
    })
}

fn pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default() + "\n"
}

/// Writes a report file, making its folder first.
pub fn write(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, text)
}
