//! `--report dotenv=FILE`: step outputs as a GitLab `dotenv` report
//! (`artifacts:reports:dotenv`), so later jobs get them as variables:
//! `SHIPGATE_<STEP>_<OUTPUT>=value`, names upper-cased with `_` for other characters,
//! and `SHIPGATE_<STEP>__STATUS=success|failed|skipped|cancelled` for every step (so
//! `shipgate run --only` in a later job knows whether a step it needs ran).
//! GitLab's dotenv takes one line per value: multi-line outputs are left out (and
//! said so on stderr); masked values stay masked.

use std::fmt::Write;
use std::io;
use std::path::PathBuf;

use super::{Reporter, write_atomic};
use crate::exec::events::RunSummary;
use crate::exec::mask::Masker;

#[derive(Debug)]
pub struct DotenvReporter {
    pub path: PathBuf,
    pub masker: Masker,
}

/// `SHIPGATE_BUILD_IMAGE` for step `build`, output `image`.
pub fn variable(step: &str, output: &str) -> String {
    let up = |s: &str| {
        s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect::<String>()
    };
    format!("SHIPGATE_{}_{}", up(step), up(output))
}

/// `SHIPGATE_BUILD__STATUS` for step `build`.
pub fn status_variable(step: &str) -> String {
    format!("{}_STATUS", variable(step, ""))
}

pub fn dotenv(summary: &RunSummary, masker: &Masker) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut left_out = Vec::new();
    for s in &summary.steps {
        let status = serde_json::to_value(s.status).ok();
        let _ = writeln!(out, "{}={}", status_variable(&s.id), status.as_ref().and_then(|v| v.as_str()).unwrap_or(""));
        for (name, value) in &s.outputs {
            let value = masker.mask(value);
            let var = variable(&s.id, name);
            if value.contains('\n') || value.contains('\r') {
                left_out.push(var);
                continue;
            }
            let _ = writeln!(out, "{var}={value}");
        }
    }
    (out, left_out)
}

impl Reporter for DotenvReporter {
    fn finish(&mut self, summary: &RunSummary) -> io::Result<()> {
        let (text, left_out) = dotenv(summary, &self.masker);
        for v in left_out {
            tracing::warn!("{v} has several lines and is left out of the dotenv report");
        }
        write_atomic(&self.path, &text)
    }
}
