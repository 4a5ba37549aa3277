//! `shipgate sync SRC DEST`: the `bucket.sync` step as a command.

use std::io::Write;

use super::args::{Format, SyncArgs};
use super::{Global, error};
use crate::bucket::BucketError;
use crate::bucket::job::{self, SyncOptions};
use crate::exit::ExitCode;

pub(crate) fn sync(g: &Global, a: SyncArgs) -> ExitCode {
    let opts = SyncOptions {
        from: a.from,
        to: a.to,
        delete: a.delete,
        max_delete: a.max_delete,
        dags: a.dags,
        exclude: a.exclude,
        validate_command: a.validate_command,
        concurrency: Some(usize::from(a.concurrency)),
        endpoint: a.endpoint,
        allow_http: a.allow_http,
        region: a.region,
    };
    let runtime = match super::runtime(g) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let quiet = g.quiet;
    let progress = move |line: String| {
        if !quiet {
            let _ = writeln!(std::io::stderr(), "{line}");
        }
    };
    let base = std::path::Path::new(".");
    let fail = |e: BucketError| {
        let (code, help) = match &e {
            BucketError::Input(_) => (ExitCode::Usage, "nothing was changed"),
            BucketError::Remote(_) => (
                ExitCode::Infrastructure,
                "check the bucket name, the endpoint and the credentials (AWS_*, GOOGLE_APPLICATION_CREDENTIALS, AZURE_*)",
            ),
        };
        error(g, &format!("failed to sync: {e}"), Some(help));
        code
    };
    if a.dry_run {
        let prepared = match runtime.block_on(job::prepare(&opts, base)) {
            Ok(p) => p,
            Err(e) => return fail(e),
        };
        let text = match a.format {
            Format::Human => job::plan_lines(&prepared).join("\n") + "\n",
            Format::Json => serde_json::to_string_pretty(&prepared.plan).map(|s| s + "\n").unwrap_or_default(),
        };
        let _ = std::io::stdout().write_all(text.as_bytes());
        return ExitCode::Success;
    }
    match runtime.block_on(job::run(&opts, base, &progress)) {
        Ok((_, summary)) => {
            if a.format == Format::Json {
                let _ = writeln!(std::io::stdout(), "{}", serde_json::to_string_pretty(&summary).unwrap_or_default());
            } else if !g.quiet {
                let _ = writeln!(
                    std::io::stderr(),
                    "synced {}: {} uploaded, {} deleted, {} unchanged, {} bytes, {} requests",
                    opts.to,
                    summary.uploaded,
                    summary.deleted,
                    summary.unchanged,
                    summary.bytes,
                    summary.requests
                );
            }
            ExitCode::Success
        }
        Err(e) => fail(e),
    }
}
