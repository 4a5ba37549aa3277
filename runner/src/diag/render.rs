//! Renders diagnostics like a compiler: header, `--> file:line:col`, the source line
//! with a caret under the span, and a `help:` line.

use std::fmt::Write;

use super::{FileDiagnostics, Severity};
use crate::style::Style;

pub fn render_human(file: &FileDiagnostics, style: Style) -> String {
    let mut out = String::new();
    let lines: Vec<&str> = file.source.lines().collect();
    for d in &file.items {
        let (word, paint) = match d.severity {
            Severity::Error => ("error", style.red()),
            Severity::Warning => ("warning", style.yellow()),
        };
        let line_no = d.span.start.line;
        let col = d.span.start.col.max(1);
        let gutter = line_no.to_string().len();
        let blue = style.blue();
        let _ = writeln!(out, "{}{word}{}: {}{}{}", paint.0, paint.1, style.bold().0, d.message, style.bold().1);
        let _ = writeln!(out, "{:gutter$}{}-->{} {}:{}:{}", "", blue.0, blue.1, file.path.display(), line_no, col);
        if let Some(text) = line_no.checked_sub(1).and_then(|i| lines.get(i)) {
            let width = if d.span.end.line == d.span.start.line && d.span.end.col > col {
                d.span.end.col - col
            } else if d.span.end == d.span.start {
                1
            } else {
                text.chars().count().saturating_sub(col - 1).max(1)
            };
            let _ = writeln!(out, "{:gutter$} {}|{}", "", blue.0, blue.1);
            let _ = writeln!(out, "{}{line_no}{} {}|{} {text}", blue.0, blue.1, blue.0, blue.1);
            let pad: String = text.chars().take(col - 1).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
            let label = d.label.as_deref().map(|l| format!(" {l}")).unwrap_or_default();
            let _ = writeln!(
                out,
                "{:gutter$} {}|{} {pad}{}{}{label}{}",
                "",
                blue.0,
                blue.1,
                paint.0,
                "^".repeat(width),
                paint.1
            );
        }
        if let Some(help) = &d.help {
            let _ =
                writeln!(out, "{:gutter$} {}={} {}help{}: {help}", "", blue.0, blue.1, style.bold().0, style.bold().1);
        }
        out.push('\n');
    }
    out
}

/// Diagnostics as JSON objects (one per finding), for `--format json`.
pub fn render_json(file: &FileDiagnostics) -> Vec<serde_json::Value> {
    file.items
        .iter()
        .map(|d| {
            serde_json::json!({
                "file": file.path.display().to_string(),
                "line": d.span.start.line,
                "column": d.span.start.col,
                "end_line": d.span.end.line,
                "end_column": d.span.end.col,
                "severity": d.severity,
                "message": d.message,
                "help": d.help,
            })
        })
        .collect()
}
