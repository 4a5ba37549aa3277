//! `--metrics FILE`: Prometheus text-format metrics of the run, for node_exporter's
//! textfile collector or a Pushgateway: run and step durations and outcomes, bytes
//! pushed and uploaded, policy findings by severity. Written atomically (the collector
//! may read at any moment).

use std::fmt::Write;
use std::io;
use std::path::PathBuf;

use super::{Reporter, write_atomic};
use crate::exec::events::{RunStatus, RunSummary, StepStatus};

#[derive(Debug)]
pub struct MetricsReporter {
    pub path: PathBuf,
}

/// A label value, escaped as the text format wants (`\\`, `\"`, `\n`).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

const STATUSES: &[StepStatus] = &[StepStatus::Success, StepStatus::Failed, StepStatus::Skipped, StepStatus::Cancelled];

fn head(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
}

pub fn metrics(s: &RunSummary) -> String {
    let p = label(&s.pipeline);
    let mut out = String::new();
    let started = s.started_at.duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
    for (name, help, value) in [
        ("shipgate_run_start_time_seconds", "When the run started (Unix time).", format!("{started:.3}")),
        ("shipgate_run_duration_seconds", "Wall time of the run.", format!("{:.3}", s.duration.as_secs_f64())),
        (
            "shipgate_run_success",
            "1 when the run succeeded, else 0.",
            u8::from(s.status == RunStatus::Success).to_string(),
        ),
        ("shipgate_run_exit_code", "The run's exit code.", s.exit_code.to_string()),
    ] {
        head(&mut out, name, help);
        let _ = writeln!(out, "{name}{{pipeline=\"{p}\"}} {value}");
    }
    let step_labels =
        |id: &str, kind: &str| format!("pipeline=\"{p}\",step=\"{}\",kind=\"{}\"", label(id), label(kind));
    head(&mut out, "shipgate_step_duration_seconds", "Wall time of a step (all attempts).");
    for r in &s.steps {
        let _ = writeln!(
            out,
            "shipgate_step_duration_seconds{{{}}} {:.3}",
            step_labels(&r.id, &r.kind),
            r.duration.as_secs_f64()
        );
    }
    head(&mut out, "shipgate_step_status", "1 for the status a step ended in, 0 for the others.");
    for r in &s.steps {
        for st in STATUSES {
            let _ = writeln!(
                out,
                "shipgate_step_status{{{},status=\"{}\"}} {}",
                step_labels(&r.id, &r.kind),
                st.as_str(),
                u8::from(r.status == *st)
            );
        }
    }
    head(&mut out, "shipgate_step_attempts", "Attempts a step took.");
    for r in &s.steps {
        let _ = writeln!(out, "shipgate_step_attempts{{{}}} {}", step_labels(&r.id, &r.kind), r.attempts);
    }
    // Capability figures, from the steps' outputs.
    let of = |kind: &str, output: &str| {
        s.steps
            .iter()
            .filter(|r| r.kind == kind)
            .filter_map(|r| Some((r, r.outputs.get(output)?.parse::<u64>().ok()?)))
            .collect::<Vec<_>>()
    };
    for (name, help, kind, output) in [
        ("shipgate_image_pushed_bytes", "Bytes of blobs an image.push step uploaded.", "image.push", "bytes"),
        ("shipgate_image_pushed_blobs", "Blobs an image.push step uploaded.", "image.push", "uploaded"),
        ("shipgate_bucket_uploaded_bytes", "Bytes a bucket.sync step uploaded.", "bucket.sync", "bytes"),
        ("shipgate_bucket_uploaded_files", "Files a bucket.sync step uploaded.", "bucket.sync", "uploaded"),
        ("shipgate_bucket_deleted_files", "Objects a bucket.sync step deleted.", "bucket.sync", "deleted"),
    ] {
        let values = of(kind, output);
        if values.is_empty() {
            continue;
        }
        head(&mut out, name, help);
        for (r, v) in values {
            let _ = writeln!(out, "{name}{{{}}} {v}", step_labels(&r.id, &r.kind));
        }
    }
    let gates: Vec<_> = s.steps.iter().filter(|r| r.kind == "policy.check" && !r.outputs.is_empty()).collect();
    if !gates.is_empty() {
        head(&mut out, "shipgate_policy_findings", "Findings of a policy.check step, by severity.");
        for r in gates {
            for (severity, output) in [("error", "errors"), ("warning", "warnings"), ("waived", "waived")] {
                if let Some(v) = r.outputs.get(output) {
                    let _ = writeln!(
                        out,
                        "shipgate_policy_findings{{{},severity=\"{severity}\"}} {v}",
                        step_labels(&r.id, &r.kind)
                    );
                }
            }
        }
    }
    out
}

impl Reporter for MetricsReporter {
    fn finish(&mut self, summary: &RunSummary) -> io::Result<()> {
        write_atomic(&self.path, &metrics(summary))
    }
}
