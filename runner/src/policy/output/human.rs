//! Findings for people: grouped by file, each with its source line, a caret and the fix.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;

use super::super::check::CheckReport;
use super::super::finding::{Finding, Severity};
use super::super::metadata::RuleDoc;
use crate::diag::{self, Diagnostic, FileDiagnostics};
use crate::style::Style;
use crate::yaml::{Pos, Span};

/// The source as the report shows it: values of secret-looking keys and of plaintext
/// secret findings masked, and over-long lines (a one-line Terraform plan) not shown.
pub fn redacted(source: &str, findings: &[&Finding]) -> String {
    static SECRET_KEY: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        #[expect(clippy::unwrap_used, reason = "a constant pattern")]
        regex::Regex::new(
            r#"(?i)^(\s*-?\s*"?[A-Za-z0-9_.-]*(password|passwd|secret|token|api_?key|private_?key|credential)[A-Za-z0-9_.-]*"?\s*[:=])"#,
        )
        .unwrap()
    });
    let mut lines: Vec<String> = source.lines().map(str::to_owned).collect();
    for f in findings.iter().filter(|f| f.rule == "SG-K8S-010") {
        if let Some(l) = f.line.checked_sub(1).and_then(|i| lines.get_mut(i)) {
            let keep: String = l.chars().take(f.col.saturating_sub(1)).collect();
            *l = format!("{keep}[MASKED]");
        }
    }
    // The indentation of a secret key whose value is a block scalar (`password: |`):
    // the lines below it, indented deeper, are the secret.
    let mut block: Option<usize> = None;
    let indent = |l: &str| l.len() - l.trim_start().len();
    for l in &mut lines {
        if let Some(i) = block {
            if l.trim().is_empty() || indent(l) > i {
                if !l.trim().is_empty() {
                    *l = format!("{}[MASKED]", " ".repeat(indent(l)));
                }
                continue;
            }
            block = None;
        }
        if l.chars().count() > 240 {
            l.clear();
        } else if let Some(m) = SECRET_KEY.captures(l).and_then(|c| c.get(1)) {
            let rest = l[m.end()..].trim();
            if rest.starts_with('|') || rest.starts_with('>') {
                block = Some(indent(l));
            } else if !rest.is_empty() {
                *l = format!("{} [MASKED]", &l[..m.end()]);
            }
        }
    }
    lines.join("\n")
}

fn diagnostic(f: &Finding, docs: &BTreeMap<String, RuleDoc>) -> Diagnostic {
    let span = Span::new(Pos { line: f.line, col: f.col }, Pos { line: f.end_line, col: f.end_col });
    let message = format!("[{}] {} ({})", f.rule, f.message, f.resource);
    let d = match f.severity {
        Severity::Error => Diagnostic::error(span, message),
        Severity::Warning => Diagnostic::warning(span, message),
    };
    d.with_help_opt(docs.get(&f.rule).map(|doc| doc.fix.clone()).filter(|s| !s.is_empty()))
}

/// The human report: findings grouped by file with a snippet and a fix, waived
/// findings listed after them, and a summary line.
pub fn human(report: &CheckReport, docs: &BTreeMap<String, RuleDoc>, style: Style, fail_on: Severity) -> String {
    let mut out = String::new();
    let mut by_file: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in &report.findings {
        by_file.entry(f.file.as_str()).or_default().push(f);
    }
    for (file, findings) in by_file {
        let source = report.sources.get(file).map(|s| redacted(s, &findings)).unwrap_or_default();
        let fd = FileDiagnostics {
            path: PathBuf::from(file),
            source: source.into(),
            items: findings.iter().map(|f| diagnostic(f, docs)).collect(),
        };
        out.push_str(&diag::render_human(&fd, style));
    }
    if !report.waived.is_empty() {
        let _ = writeln!(out, "waived ({}):", report.waived.len());
        for f in &report.waived {
            let _ = writeln!(
                out,
                "  {}:{}:{} [{}] {} ({}) — {}",
                f.file,
                f.line,
                f.col,
                f.rule,
                f.message,
                f.resource,
                f.waived.as_deref().unwrap_or_default()
            );
        }
        out.push('\n');
    }
    for x in &report.expired {
        let (y0, y1) = style.yellow();
        let _ = writeln!(
            out,
            "{y0}warning{y1}: the waiver of {} at {} expired on {} and no longer waives ({})",
            x.rule, x.at, x.expired, x.reason
        );
    }
    if !report.expired.is_empty() {
        out.push('\n');
    }
    list(
        &mut out,
        "not validated",
        "no schema for their kind; pass CRD schemas with --schema-dir",
        &report.unvalidated,
    );
    list(&mut out, "not checked", "no policy applies to their type", &report.unchecked);
    let types: Vec<String> = report.by_type.iter().map(|(t, n)| format!("{n} {t}")).collect();
    let verdict = if report.denied(fail_on) { style.red() } else { style.green() };
    let _ = writeln!(
        out,
        "{}{}{}: {} document{} in {} file{} ({}): {} error{}, {} warning{}, {} waived",
        verdict.0,
        if report.denied(fail_on) { "denied" } else { "passed" },
        verdict.1,
        report.documents,
        plural(report.documents),
        report.files,
        plural(report.files),
        types.join(", "),
        report.count(Severity::Error),
        plural(report.count(Severity::Error)),
        report.count(Severity::Warning),
        plural(report.count(Severity::Warning)),
        report.waived.len()
    );
    out
}

/// A titled list of documents, the first 20 of them.
fn list(out: &mut String, title: &str, why: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "{title} ({}: {why}):", items.len());
    for u in items.iter().take(20) {
        let _ = writeln!(out, "  {u}");
    }
    if items.len() > 20 {
        let _ = writeln!(out, "  … and {} more", items.len() - 20);
    }
    out.push('\n');
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn secret_values_are_masked_in_snippets_also_in_block_scalars() {
        let src = "data:\n  password: hunter2\n  api_key: |\n    line-one-secret\n    line-two-secret\n  user: admin\n";
        let out = redacted(src, &[]);
        assert!(!out.contains("hunter2") && !out.contains("line-one") && !out.contains("line-two"), "{out}");
        assert!(out.contains("user: admin") && out.contains("  password: [MASKED]"), "{out}");
        assert_eq!(out.lines().count(), src.lines().count(), "line numbers must not move");
        let long = format!("{{\"k\": \"{}\"}}", "x".repeat(300));
        assert_eq!(redacted(&long, &[]), "");
    }
}
