//! `shipgate check PATH...`: the `policy.check` step as a command.

use std::io::Write;

use super::args::{CheckArgs, Format};
use super::{Global, error};
use crate::exit::ExitCode;
use crate::policy::{self, CheckOptions, PolicyError};

/// Prints why the gate could not decide (every input error with its position).
pub(crate) fn print_policy_error(g: &Global, e: &PolicyError) {
    match e {
        PolicyError::Input(errors) => {
            for ie in errors {
                let Some(span) = ie.span else {
                    error(g, &format!("{}: {}", ie.file, ie.message), ie.help.as_deref());
                    continue;
                };
                let source =
                    policy::output::human::redacted(&std::fs::read_to_string(&ie.file).unwrap_or_default(), &[]);
                let d = crate::diag::Diagnostic::error(span, ie.message.clone()).with_help_opt(ie.help.clone());
                let fd = crate::diag::FileDiagnostics {
                    path: ie.file.clone().into(),
                    source: source.into(),
                    items: vec![d],
                };
                let _ = std::io::stderr().write_all(crate::diag::render_human(&fd, g.style).as_bytes());
            }
            error(g, &format!("{e}: the gate cannot decide and fails closed"), None);
        }
        PolicyError::Usage(_) => error(g, &e.to_string(), Some("see `shipgate check --help`")),
        PolicyError::Policy(_) | PolicyError::Evaluation(_) => {
            error(
                g,
                &e.to_string(),
                Some("the gate fails closed: fix the policy (`shipgate policy test` runs its tests)"),
            );
        }
    }
}

pub(crate) fn check(g: &Global, a: CheckArgs) -> ExitCode {
    let mut reports = Vec::new();
    for o in &a.output {
        match o.split_once('=') {
            Some((f, file)) if policy::output::FORMATS.contains(&f) && !file.is_empty() => {
                reports.push((f.to_owned(), file.to_owned()));
            }
            _ => {
                let help = format!("write FORMAT=FILE, FORMAT one of: {}", policy::output::FORMATS.join(", "));
                error(g, &format!("bad --output `{o}`"), Some(&help));
                return ExitCode::Usage;
            }
        }
    }
    let mut opts = CheckOptions {
        paths: a.paths,
        policies: a.policies,
        data: a.data,
        all_namespaces: a.all_namespaces,
        input_type: a.input_type,
        builtin: !a.no_builtin,
        waivers: a.waivers,
        permissions: a.permissions,
        schema_dir: a.schema_dir,
        ..CheckOptions::default()
    };
    if !a.namespace.is_empty() {
        opts.namespaces = a.namespace;
    }
    if let Some(j) = a.jobs {
        opts.jobs = usize::from(j);
    }
    let threshold = a.fail_on;
    let report = match policy::check(&opts) {
        Ok(r) => r,
        Err(e) => {
            print_policy_error(g, &e);
            return ExitCode::Usage;
        }
    };
    let docs = &report.docs;
    let human = || policy::output::human(&report, docs, g.style, threshold);
    let json = || policy::output::render("json", &report, threshold).unwrap_or_default();
    for (format, file) in &reports {
        let text = policy::output::render(format, &report, threshold).unwrap_or_default();
        if let Err(e) = policy::output::write(std::path::Path::new(file), &text) {
            error(g, &format!("cannot write the {format} report to {file}: {e}"), None);
            return ExitCode::Usage;
        }
    }
    match a.format {
        Format::Json => {
            let _ = std::io::stdout().write_all(json().as_bytes());
        }
        Format::Human => {
            // Quiet and passed: nothing to say.
            if !g.quiet || report.denied(threshold) {
                let _ = std::io::stdout().write_all(human().as_bytes());
            }
        }
    }
    let denied = report.denied(threshold);
    if a.comment
        && let Err(code) = comment(g, &report, threshold)
    {
        return if denied { ExitCode::Failure } else { code };
    }
    if denied { ExitCode::Failure } else { ExitCode::Success }
}

/// `--comment`: the verdict on the merge request, and the commit status.
fn comment(g: &Global, report: &policy::CheckReport, fail_on: policy::Severity) -> Result<(), ExitCode> {
    use crate::policy::comment::{CommentAction, body, publish, review_from_env};
    let Some(review) = review_from_env(&|n| std::env::var(n).ok()) else {
        tracing::warn!(
            "--comment: this is not a merge-request pipeline (no CI_MERGE_REQUEST_IID, no pull request); nothing posted"
        );
        return Ok(());
    };
    let count = |s: policy::Severity| report.findings.iter().filter(|f| f.severity == s).count();
    let summary = format!(
        "{}: {} errors, {} warnings, {} waived",
        if report.denied(fail_on) { "denied" } else { "passed" },
        count(policy::Severity::Error),
        count(policy::Severity::Warning),
        report.waived.len()
    );
    let make = |previous: Option<&str>| body(report, fail_on, previous, review.blob_url.as_deref());
    let runtime = super::runtime(g)?;
    match runtime.block_on(publish(&review, report.denied(fail_on), &summary, &make)) {
        Ok(action) => {
            let what = match action {
                CommentAction::Created => "posted",
                CommentAction::Updated => "updated",
                CommentAction::Unchanged => "unchanged",
            };
            tracing::info!("merge request !{} comment {what}; commit status {summary}", review.number);
            Ok(())
        }
        Err(e) => {
            error(g, &format!("cannot comment on the merge request: {e}"), None);
            Err(ExitCode::Infrastructure)
        }
    }
}
