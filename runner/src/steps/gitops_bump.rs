//! `uses: gitops.bump` — edit the GitOps repository and push (see `crate::gitops`).

use super::{BoxFuture, Step, StepContext, StepError, StepKind, read_options};
use crate::diag::Diagnostic;
use crate::exec::process::Stream;
use crate::gitops::forge::{self, MrAction};
use crate::gitops::options::BumpWith;
use crate::gitops::repo::{BumpError, BumpOptions, BumpResult, bump, redact};
use crate::yaml::{Node, Span};

#[derive(Debug)]
pub struct GitopsBump;

pub const OUTPUTS: &[&str] = &["commit", "changed", "attempts", "branch", "merge_request"];

impl StepKind for GitopsBump {
    fn name(&self) -> &'static str {
        "gitops.bump"
    }

    fn outputs(&self) -> &'static [&'static str] {
        OUTPUTS
    }

    fn validate(&self, with: Option<&Node>, at: Span) -> Vec<Diagnostic> {
        let Some(with) = with else {
            return vec![Diagnostic::error(at, "gitops.bump needs `with: { repo, edits }`").with_help(
                "e.g. `with: { repo: \"${GITOPS_REPO}\", edits: [{ file: values.yaml, set: { image.tag: v1 } }] }`",
            )];
        };
        let (opts, mut diags) = read_options::<BumpWith>("gitops.bump", "bump", with);
        if let Some(opts) = opts
            && let Err(problems) = opts.to_options()
        {
            for p in problems {
                diags.push(
                    Diagnostic::error(with.span, format!("gitops.bump: {p}")).with_help("see `shipgate bump --help`"),
                );
            }
        }
        diags
    }

    fn options_schema(&self, generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        generator.subschema_for::<BumpWith>()
    }

    fn build(&self, with: Option<&Node>) -> Result<Box<dyn Step>, Vec<Diagnostic>> {
        let at = with.map(|w| w.span).unwrap_or_default();
        let Some(with) = with else { return Err(self.validate(None, at)) };
        let (opts, diags) = read_options::<BumpWith>("gitops.bump", "bump", with);
        let Some(opts) = opts.filter(|_| diags.is_empty()) else { return Err(diags) };
        match opts.to_options() {
            Ok(o) => Ok(Box::new(BumpStep { opts: o })),
            Err(p) => Err(p.into_iter().map(|m| Diagnostic::error(at, m)).collect()),
        }
    }
}

#[derive(Debug)]
pub struct BumpStep {
    pub opts: BumpOptions,
}

/// Runs a bump on a blocking thread, in a scratch folder removed afterwards; in
/// merge-request mode the forge's token is checked first and the merge request opened
/// or updated after the push.
pub async fn run_bump(opts: BumpOptions) -> Result<BumpResult, BumpError> {
    let mr = opts.merge_request.clone().filter(|_| !opts.dry_run);
    if let Some(mr) = &mr {
        forge::preflight(mr).await?;
    }
    let message = opts.message.clone();
    let repo = opts.repo.clone();
    let mut result = tokio::task::spawn_blocking(move || {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let dir = std::env::temp_dir().join(format!("shipgate-bump-{}-{nanos}", std::process::id()));
        let result = bump(&opts, &dir);
        let _ = std::fs::remove_dir_all(&dir);
        result
    })
    .await
    .unwrap_or_else(|e| Err(BumpError::Git(format!("the bump stopped: {e}"))))?;
    if let (Some(mr), false) = (&mr, result.changes.is_empty()) {
        let title = mr.title.clone().unwrap_or_else(|| message.lines().next().unwrap_or_default().to_owned());
        let description = forge::description(&result.changes, &repo, &result.target, &mr.branch);
        result.merge_request = Some(
            forge::open_or_update(
                mr,
                forge::MrText { target: &result.target, title: &title, description: &description },
            )
            .await?,
        );
    }
    Ok(result)
}

pub fn summary(r: &BumpResult, repo: &str) -> Vec<String> {
    let mut lines: Vec<String> =
        r.changes.iter().map(|c| format!("{}: {}: {} → {}", c.file, c.path, c.old, c.new)).collect();
    let short = |c: &str| c[..c.len().min(12)].to_owned();
    match (&r.commit, r.changes.is_empty(), &r.branch) {
        (_, true, _) => lines.push(format!("{}: already up to date; nothing to commit", redact(repo))),
        (Some(c), _, None) => lines.push(format!("pushed {} to {} (attempt {})", short(c), redact(repo), r.attempts)),
        (Some(c), _, Some(b)) if r.pushed => {
            lines.push(format!("pushed {} to branch {b} of {}", short(c), redact(repo)))
        }
        (Some(c), _, Some(b)) => {
            lines.push(format!("branch {b} already holds these changes ({}); nothing pushed", short(c)))
        }
        (None, _, None) => lines.push(format!("would commit and push to {}", redact(repo))),
        (None, _, Some(b)) => lines.push(format!(
            "would push to branch {b} of {} and open or update a merge request into {}",
            redact(repo),
            r.target
        )),
    }
    if let Some(mr) = &r.merge_request {
        let what = match mr.action {
            MrAction::Opened => "opened merge request",
            MrAction::Updated => "updated merge request",
            MrAction::Unchanged => "merge request up to date:",
        };
        lines.push(format!("{what} #{} {}", mr.number, mr.url));
    }
    lines
}

impl Step for BumpStep {
    fn plan(&self) -> BoxFuture<'_, Vec<String>> {
        Box::pin(async move {
            let mut o = self.opts.clone();
            o.dry_run = true;
            match run_bump(o).await {
                Ok(r) => {
                    let mut lines = summary(&r, &self.opts.repo);
                    lines.extend(r.diff.lines().map(str::to_owned));
                    lines
                }
                Err(e) => vec![format!("would fail: {e}")],
            }
        })
    }

    fn run<'a>(&'a self, ctx: &'a mut StepContext) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async move {
            let r = run_bump(self.opts.clone()).await.map_err(|e| match e {
                BumpError::Edit(m) => StepError::Failed(m),
                BumpError::Git(m) => StepError::Infrastructure(m),
            })?;
            for line in summary(&r, &self.opts.repo) {
                (ctx.emit)(Stream::Stdout, line);
            }
            ctx.outputs.insert("commit".into(), r.commit.clone().unwrap_or_default());
            ctx.outputs.insert("changed".into(), (!r.changes.is_empty()).to_string());
            ctx.outputs.insert("attempts".into(), r.attempts.to_string());
            ctx.outputs.insert("branch".into(), r.branch.clone().unwrap_or_else(|| r.target.clone()));
            ctx.outputs
                .insert("merge_request".into(), r.merge_request.as_ref().map(|m| m.url.clone()).unwrap_or_default());
            Ok(())
        })
    }
}
