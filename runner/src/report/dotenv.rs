//! `--report dotenv=FILE`: step outputs as a GitLab `dotenv` report
//! (`artifacts:reports:dotenv`), so later jobs get them as variables:
//! `SHIPGATE_<STEP>_<OUTPUT>=value`, names upper-cased with `_` for other characters,
//! and `SHIPGATE_<STEP>__STATUS=failed|skipped|cancelled` for every step that did not
//! succeed (so `shipgate run --only` in a later job knows; no line means success, which
//! keeps the file under GitLab's limit on dotenv variables).
//! GitLab's dotenv takes one line per value: multi-line outputs are left out, and so are
//! values that hold a secret (a later job must not take `[MASKED]` for the value);
//! both are said on stderr.

use std::fmt::Write;
use std::io;
use std::path::PathBuf;

use super::{Reporter, write_atomic};
use crate::exec::events::{RunSummary, StepStatus};
use crate::exec::mask::Masker;

/// GitLab's default `dotenv_variables` limit (self-managed instances).
const GITLAB_LIMIT: usize = 20;

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

/// The report's text, and the variables left out with why.
pub fn dotenv(summary: &RunSummary, masker: &Masker) -> (String, Vec<(String, &'static str)>) {
    let mut out = String::new();
    let mut left_out = Vec::new();
    for s in &summary.steps {
        if s.status != StepStatus::Success {
            let _ = writeln!(out, "{}={}", status_variable(&s.id), s.status.as_str());
        }
        for (name, value) in &s.outputs {
            let var = variable(&s.id, name);
            if value.contains('\n') || value.contains('\r') {
                left_out.push((var, "has several lines"));
                continue;
            }
            // Outputs reach reporters masked already; mask again for safety.
            let masked = masker.mask(value);
            if masked != *value || value.contains(crate::exec::mask::MASK) {
                left_out.push((var, "holds a secret"));
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
        for (v, why) in left_out {
            tracing::warn!("{v} {why} and is left out of the dotenv report");
        }
        let count = text.lines().count();
        if count > GITLAB_LIMIT {
            tracing::warn!(
                "the dotenv report holds {count} variables; GitLab takes at most {GITLAB_LIMIT} by default (the `dotenv_variables` limit of the instance)"
            );
        }
        write_atomic(&self.path, &text)
    }
}
