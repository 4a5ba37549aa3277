//! `--report junit=FILE`: one testcase per step; failures carry the output tail.

use std::fmt::Write;
use std::io;
use std::path::PathBuf;

use super::{Reporter, write_atomic};
use crate::exec::events::{RunSummary, StepStatus, rfc3339};
use crate::exec::mask::Masker;

#[derive(Debug)]
pub struct JunitReporter {
    pub path: PathBuf,
    pub masker: Masker,
}

impl Reporter for JunitReporter {
    fn finish(&mut self, summary: &RunSummary) -> io::Result<()> {
        write_atomic(&self.path, &self.masker.mask(&junit_xml(summary)))
    }
}

pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 forbids most control characters (ANSI escapes in logs).
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

pub fn junit_xml(s: &RunSummary) -> String {
    let count = |st: StepStatus| s.steps.iter().filter(|r| r.status == st).count();
    let failures = s.steps.iter().filter(|r| r.status == StepStatus::Failed).count();
    let skipped = count(StepStatus::Skipped) + count(StepStatus::Cancelled);
    let secs = s.duration.as_secs_f64();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"shipgate\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{secs:.3}\">",
        s.steps.len()
    );
    let _ = writeln!(
        x,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{secs:.3}\" timestamp=\"{}\">",
        esc(&s.pipeline),
        s.steps.len(),
        rfc3339(s.started_at)
    );
    for r in &s.steps {
        let _ = write!(
            x,
            "    <testcase name=\"{}\" classname=\"{}.{}\" time=\"{:.3}\"",
            esc(&r.id),
            esc(&s.pipeline),
            esc(&r.kind),
            r.duration.as_secs_f64()
        );
        let message = esc(r.message.as_deref().unwrap_or_default());
        let tail = esc(&r.output_tail.join("\n"));
        match r.status {
            StepStatus::Success if tail.is_empty() => x.push_str("/>\n"),
            StepStatus::Success => {
                let _ = writeln!(x, ">\n      <system-out>{tail}</system-out>\n    </testcase>");
            }
            StepStatus::Failed => {
                let kind = if r.allow_failure { "allowed_failure" } else { "failure" };
                let _ = writeln!(
                    x,
                    ">\n      <failure message=\"{message}\" type=\"{kind}\">{tail}</failure>\n    </testcase>"
                );
            }
            StepStatus::Skipped | StepStatus::Cancelled => {
                let _ = writeln!(x, ">\n      <skipped message=\"{message}\"/>\n    </testcase>");
            }
        }
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}
