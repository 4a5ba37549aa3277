//! Human output on stderr: a line per step start and finish with its duration, the
//! step's output prefixed with its id, and in GitLab CI each step's output folded into
//! a collapsible section.

use std::collections::HashMap;
use std::io::{self, Write};
use std::time::SystemTime;

use super::Reporter;
use crate::exec::events::{RunEvent, RunStatus, RunSummary, StepStatus};
use crate::pipeline::duration::format_duration;
use crate::style::Style;

pub struct HumanReporter {
    out: Box<dyn Write + Send>,
    style: Style,
    /// GitLab CI: output is held per step and printed as one collapsible section.
    gitlab: bool,
    quiet: bool,
    buffers: HashMap<String, Vec<String>>,
}

impl std::fmt::Debug for HumanReporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HumanReporter").field("gitlab", &self.gitlab).finish_non_exhaustive()
    }
}

impl HumanReporter {
    pub fn new(out: Box<dyn Write + Send>, style: Style, gitlab: bool, quiet: bool) -> Self {
        HumanReporter { out, style, gitlab, quiet, buffers: HashMap::new() }
    }

    fn line(&mut self, text: &str) {
        let _ = writeln!(self.out, "{text}");
    }
}

fn section_name(id: &str) -> String {
    id.chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '.' { c.to_ascii_lowercase() } else { '_' })
        .collect()
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl Reporter for HumanReporter {
    fn event(&mut self, event: &RunEvent) {
        let s = self.style;
        match event {
            RunEvent::RunStarted { pipeline, steps, jobs } => {
                if !self.quiet {
                    let (b0, b1) = s.bold();
                    self.line(&format!(
                        "{b0}shipgate{b1} running `{pipeline}`: {steps} step{}, up to {jobs} at once",
                        if *steps == 1 { "" } else { "s" }
                    ));
                }
            }
            RunEvent::StepStarted { id, attempt, attempts } => {
                if self.gitlab {
                    self.buffers.entry(id.clone()).or_default();
                }
                if !self.quiet {
                    let (d0, d1) = s.dim();
                    let attempt = if *attempt > 1 { format!(" (attempt {attempt}/{attempts})") } else { String::new() };
                    self.line(&format!("{d0}▶{d1} {id}{attempt}"));
                }
            }
            RunEvent::Output { id, line, .. } => {
                if self.gitlab {
                    self.buffers.entry(id.clone()).or_default().push(line.clone());
                } else if !self.quiet {
                    let (d0, d1) = s.dim();
                    self.line(&format!("{d0}{id} │{d1} {line}"));
                }
            }
            RunEvent::Retrying { id, next_attempt, delay, reason } => {
                let (y0, y1) = s.yellow();
                self.line(&format!(
                    "{y0}↻{y1} {id} {reason}; retrying in {} (attempt {next_attempt})",
                    format_duration(*delay)
                ));
            }
            RunEvent::Interrupted { signal } => {
                let (y0, y1) = s.yellow();
                let name = if *signal == libc::SIGINT { "SIGINT" } else { "SIGTERM" };
                self.line(&format!(
                    "{y0}■{y1} {name} received: starting nothing new, stopping running steps (again to kill at once)"
                ));
            }
            RunEvent::StepFinished(r) => {
                let took = format_duration(r.duration);
                let msg = r.message.as_deref().unwrap_or_default();
                let (mark, paint, text) = match r.status {
                    StepStatus::Success => ("✓", s.green(), format!("{} {took}", r.id)),
                    StepStatus::Failed if r.allow_failure => {
                        ("!", s.yellow(), format!("{} {took} — {msg} (allowed to fail)", r.id))
                    }
                    StepStatus::Failed => ("✗", s.red(), format!("{} {took} — {msg}", r.id)),
                    StepStatus::Skipped => ("↷", s.dim(), format!("{} skipped — {msg}", r.id)),
                    StepStatus::Cancelled => ("■", s.yellow(), format!("{} cancelled — {msg}", r.id)),
                };
                let failed = r.status == StepStatus::Failed;
                if let Some(lines) = self.buffers.remove(&r.id)
                    && !lines.is_empty()
                {
                    let name = section_name(&r.id);
                    let collapsed = if failed { "false" } else { "true" };
                    self.line(&format!(
                        "\x1b[0Ksection_start:{}:{name}[collapsed={collapsed}]\r\x1b[0K{} output",
                        unix_now(),
                        r.id
                    ));
                    for l in lines {
                        self.line(&l);
                    }
                    self.line(&format!("\x1b[0Ksection_end:{}:{name}\r\x1b[0K", unix_now()));
                }
                if !self.quiet || failed {
                    self.line(&format!("{}{mark}{} {text}", paint.0, paint.1));
                }
            }
        }
        let _ = self.out.flush();
    }

    fn finish(&mut self, summary: &RunSummary) -> io::Result<()> {
        let count = |st: StepStatus| summary.steps.iter().filter(|r| r.status == st).count();
        let mut parts = vec![format!("{} succeeded", count(StepStatus::Success))];
        for (st, word) in
            [(StepStatus::Failed, "failed"), (StepStatus::Skipped, "skipped"), (StepStatus::Cancelled, "cancelled")]
        {
            if count(st) > 0 {
                parts.push(format!("{} {word}", count(st)));
            }
        }
        let (paint, word) = match summary.status {
            RunStatus::Success => (self.style.green(), "passed"),
            RunStatus::Failed => (self.style.red(), "failed"),
            RunStatus::Interrupted => (self.style.yellow(), "interrupted"),
        };
        self.line(&format!(
            "{}{} {word}{}: {} in {} (exit {})",
            paint.0,
            summary.pipeline,
            paint.1,
            parts.join(", "),
            format_duration(summary.duration),
            summary.exit_code
        ));
        self.out.flush()
    }
}
