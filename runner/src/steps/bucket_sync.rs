//! `uses: bucket.sync` — mirror a folder to a bucket by content (see `crate::bucket`).

use std::sync::Mutex;

use super::{BoxFuture, Step, StepContext, StepError, StepKind, read_options};
use crate::bucket::job::{self, SyncOptions};
use crate::bucket::{BucketError, Location};
use crate::diag::Diagnostic;
use crate::exec::process::Stream;
use crate::yaml::{Node, Span};

#[derive(Debug)]
pub struct BucketSync;

pub const OUTPUTS: &[&str] = &["uploaded", "deleted", "unchanged", "bytes", "requests"];

impl StepKind for BucketSync {
    fn name(&self) -> &'static str {
        "bucket.sync"
    }

    fn outputs(&self) -> &'static [&'static str] {
        OUTPUTS
    }

    fn validate(&self, with: Option<&Node>, at: Span) -> Vec<Diagnostic> {
        let Some(with) = with else {
            return vec![
                Diagnostic::error(at, "bucket.sync needs `with: { from, to }`")
                    .with_help("e.g. `with: { from: dags/, to: \"gs://composer-bucket/dags\" }`"),
            ];
        };
        let (opts, mut diags) = read_options::<SyncOptions>("bucket.sync", "sync", with);
        let Some(opts) = opts else { return diags };
        // Literal values can be checked now; templated ones when the step runs.
        let span_of = |key: &str| with.get(key).map_or(with.span, |n| n.span);
        if !opts.to.contains('$')
            && let Err(e) = Location::parse(&opts.to)
        {
            diags.push(Diagnostic::error(span_of("to"), e.to_string()).with_help(
                "write e.g. `gs://bucket/dags`, `s3://bucket/prefix`, `az://container/prefix` or `file://folder`",
            ));
        }
        if opts.max_delete.as_deref().is_some_and(|m| !m.contains('$'))
            && let Err(e) = opts.delete_limit()
        {
            diags.push(
                Diagnostic::error(span_of("max_delete"), e.to_string())
                    .with_help("a count like `20` or a percentage like `10%`"),
            );
        }
        if opts.concurrency == Some(0) {
            diags.push(
                Diagnostic::error(span_of("concurrency"), "concurrency must be at least 1")
                    .with_help("the default is 16"),
            );
        }
        if opts.from.trim().is_empty() {
            diags.push(
                Diagnostic::error(span_of("from"), "`from` is empty")
                    .with_help("name the folder to sync, e.g. `dags/`"),
            );
        }
        diags
    }

    fn options_schema(&self, generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        generator.subschema_for::<SyncOptions>()
    }

    fn build(&self, with: Option<&Node>) -> Result<Box<dyn Step>, Vec<Diagnostic>> {
        let at = with.map(|w| w.span).unwrap_or_default();
        let Some(with) = with else { return Err(self.validate(None, at)) };
        match read_options::<SyncOptions>("bucket.sync", "sync", with) {
            (Some(opts), diags) if diags.is_empty() => Ok(Box::new(SyncStep { opts })),
            (_, diags) => Err(diags),
        }
    }
}

#[derive(Debug)]
pub struct SyncStep {
    pub opts: SyncOptions,
}

impl Step for SyncStep {
    fn plan(&self) -> BoxFuture<'_, Vec<String>> {
        Box::pin(async move {
            match job::prepare(&self.opts, std::path::Path::new(".")).await {
                Ok(p) => job::plan_lines(&p),
                Err(e) => vec![format!("would fail: {e}")],
            }
        })
    }

    fn run<'a>(&'a self, ctx: &'a mut StepContext) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async move {
            let result = {
                let emit = Mutex::new(&mut ctx.emit);
                let progress = |line: String| {
                    if let Ok(mut e) = emit.lock() {
                        (**e)(Stream::Stdout, line);
                    }
                };
                job::run(&self.opts, std::path::Path::new("."), &progress).await
            };
            let (_, s) = result.map_err(|e| match e {
                BucketError::Input(m) => StepError::Failed(m),
                BucketError::Remote(m) => StepError::Infrastructure(m),
            })?;
            for (k, v) in [
                ("uploaded", s.uploaded as u64),
                ("deleted", s.deleted as u64),
                ("unchanged", s.unchanged as u64),
                ("bytes", s.bytes),
                ("requests", s.requests as u64),
            ] {
                ctx.outputs.insert(k.to_owned(), v.to_string());
            }
            Ok(())
        })
    }
}
