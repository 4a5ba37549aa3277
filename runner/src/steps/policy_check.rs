//! `uses: policy.check` — the policy gate as a step (see `crate::policy`).

use super::{BoxFuture, Step, StepContext, StepError, StepKind, read_options};
use crate::diag::Diagnostic;
use crate::exec::process::Stream;
use crate::policy::options::PolicyCheckOptions;
use crate::policy::{CheckReport, PolicyError, Severity};
use crate::yaml::{Node, Span};

#[derive(Debug)]
pub struct PolicyCheck;

pub const OUTPUTS: &[&str] = &["errors", "warnings", "waived", "documents", "denied"];

impl StepKind for PolicyCheck {
    fn name(&self) -> &'static str {
        "policy.check"
    }

    fn outputs(&self) -> &'static [&'static str] {
        OUTPUTS
    }

    fn validate(&self, with: Option<&Node>, at: Span) -> Vec<Diagnostic> {
        let Some(with) = with else {
            return vec![
                Diagnostic::error(at, "policy.check needs `with: { paths }`")
                    .with_help("e.g. `with: { paths: [deploy/, iam/] }`"),
            ];
        };
        let (opts, mut diags) = read_options::<PolicyCheckOptions>("policy.check", "check", with);
        if let Some(o) = opts
            && o.paths.is_empty()
        {
            diags.push(
                Diagnostic::error(with.get("paths").map_or(with.span, |n| n.span), "`paths` is empty")
                    .with_help("name the files or folders to check, e.g. `[deploy/, iam/]`"),
            );
        }
        diags
    }

    fn options_schema(&self, generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        generator.subschema_for::<PolicyCheckOptions>()
    }

    fn build(&self, with: Option<&Node>) -> Result<Box<dyn Step>, Vec<Diagnostic>> {
        let at = with.map(|w| w.span).unwrap_or_default();
        let Some(with) = with else { return Err(self.validate(None, at)) };
        match read_options::<PolicyCheckOptions>("policy.check", "check", with) {
            (Some(opts), diags) if diags.is_empty() => Ok(Box::new(CheckStep { opts })),
            (_, diags) => Err(diags),
        }
    }
}

#[derive(Debug)]
pub struct CheckStep {
    pub opts: PolicyCheckOptions,
}

/// The reason a gate that could not decide gives, every input error on its own line.
pub(crate) fn describe(e: &PolicyError) -> String {
    match e {
        PolicyError::Input(errors) => {
            let lines: Vec<String> = errors
                .iter()
                .map(|ie| match ie.span {
                    Some(s) => format!("{}:{}:{}: {}", ie.file, s.start.line, s.start.col, ie.message),
                    None => format!("{}: {}", ie.file, ie.message),
                })
                .collect();
            format!("{e} (the gate fails closed):\n{}", lines.join("\n"))
        }
        other => format!("{other} (the gate fails closed)"),
    }
}

impl CheckStep {
    async fn check(&self) -> Result<CheckReport, PolicyError> {
        let opts = self.opts.to_check();
        tokio::task::spawn_blocking(move || crate::policy::check(&opts))
            .await
            .unwrap_or_else(|e| Err(PolicyError::Evaluation(format!("the check stopped: {e}"))))
    }

    fn verdict(&self, r: &CheckReport) -> String {
        format!(
            "{} error{}, {} warning{}, {} waived in {} documents",
            r.count(Severity::Error),
            if r.count(Severity::Error) == 1 { "" } else { "s" },
            r.count(Severity::Warning),
            if r.count(Severity::Warning) == 1 { "" } else { "s" },
            r.waived.len(),
            r.documents
        )
    }
}

impl Step for CheckStep {
    fn plan(&self) -> BoxFuture<'_, Vec<String>> {
        Box::pin(async move {
            // Checking only reads: the plan runs the gate and tells its verdict.
            match self.check().await {
                Ok(r) => {
                    let word = if r.denied(self.opts.fail_on) { "would deny" } else { "would pass" };
                    vec![format!("{word}: {}", self.verdict(&r))]
                }
                Err(e) => vec![format!("would fail: {}", describe(&e))],
            }
        })
    }

    fn run<'a>(&'a self, ctx: &'a mut StepContext) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async move {
            let r = self.check().await.map_err(|e| StepError::Failed(describe(&e)))?;
            let text = crate::policy::output::human(&r, &r.docs, crate::style::Style::plain(), self.opts.fail_on);
            for line in text.lines() {
                (ctx.emit)(Stream::Stdout, line.to_owned());
            }
            for (format, file) in self.opts.output.requested() {
                let text = crate::policy::output::render(format, &r, self.opts.fail_on).unwrap_or_default();
                crate::policy::output::write(std::path::Path::new(file), &text)
                    .map_err(|e| StepError::Failed(format!("cannot write the {format} report {file}: {e}")))?;
            }
            let denied = r.denied(self.opts.fail_on);
            for (k, v) in [
                ("errors", r.count(Severity::Error).to_string()),
                ("warnings", r.count(Severity::Warning).to_string()),
                ("waived", r.waived.len().to_string()),
                ("documents", r.documents.to_string()),
                ("denied", denied.to_string()),
            ] {
                ctx.outputs.insert(k.to_owned(), v);
            }
            if denied {
                return Err(StepError::Failed(format!("the policy gate denied: {}", self.verdict(&r))));
            }
            Ok(())
        })
    }
}
