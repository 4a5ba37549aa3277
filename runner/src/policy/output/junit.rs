//! JUnit XML: one testcase per finding (errors fail, warnings pass with their text,
//! waived ones are skipped with the reason), and one passing case when nothing was found.

use std::fmt::Write;

use super::super::check::CheckReport;
use super::super::finding::Severity;
use crate::report::junit::esc;

pub fn junit(report: &CheckReport) -> String {
    let cases = report.findings.len() + report.waived.len();
    let failures = report.count(Severity::Error);
    let tests = cases.max(1);
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"shipgate check\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{}\">",
        report.waived.len()
    );
    let _ = writeln!(
        x,
        "  <testsuite name=\"shipgate check\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{}\">",
        report.waived.len()
    );
    for f in report.findings.iter().chain(&report.waived) {
        let name = format!("{} {} ({}:{})", f.rule, f.resource, f.file.trim_start_matches("./"), f.line);
        let _ =
            write!(x, "    <testcase classname=\"{}\" name=\"{}\">", esc(f.file.trim_start_matches("./")), esc(&name));
        if let Some(w) = &f.waived {
            let _ = write!(x, "<skipped message=\"waived: {}\"/>", esc(w));
        } else if f.severity == Severity::Error {
            let _ = write!(
                x,
                "<failure message=\"{}\" type=\"{}\">{}:{}:{}: {}</failure>",
                esc(&f.message),
                esc(&f.rule),
                esc(&f.file),
                f.line,
                f.col,
                esc(&f.message)
            );
        } else {
            let _ = write!(x, "<system-out>warning: {}</system-out>", esc(&f.message));
        }
        x.push_str("</testcase>\n");
    }
    if cases == 0 {
        let _ = writeln!(
            x,
            "    <testcase classname=\"shipgate check\" name=\"{} documents in {} files\"></testcase>",
            report.documents, report.files
        );
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}
