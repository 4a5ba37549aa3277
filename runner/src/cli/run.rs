//! `shipgate run FILE`: the pipeline, with reports and signal handling.

use std::sync::{Arc, Mutex};

use super::args::RunArgs;
use super::{Global, error, load, resolve};
use crate::exec::events::RunEvent;
use crate::exec::{ExecOptions, cancel, execute};
use crate::exit::ExitCode;
use crate::report::{
    DotenvReporter, HumanReporter, JsonReporter, JunitReporter, MetricsReporter, ReportFormat, Reporter,
};

pub(crate) fn run(g: &Global, a: RunArgs) -> ExitCode {
    if a.dry_run {
        return super::plan::show(g, &a.file, a.format);
    }
    let p = match load(g, &a.file) {
        Ok(p) => Arc::new(p),
        Err(code) => return code,
    };
    let r = match resolve(g, &p, super::Secrets::Fetch) {
        Ok(r) => Arc::new(r),
        Err(code) => return code,
    };
    let (p, given) = if a.only.is_empty() {
        (p, Default::default())
    } else {
        match crate::exec::only::select(&p, &a.only, &r.env) {
            Ok((selected, given)) => (Arc::new(selected), given),
            Err(errors) => {
                for e in &errors {
                    error(g, &format!("{}: {e}", p.path.display()), None);
                }
                return ExitCode::Usage;
            }
        }
    };
    let jobs = a.jobs.map(usize::from).unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let mut reporters: Vec<Box<dyn Reporter>> =
        vec![Box::new(HumanReporter::new(Box::new(std::io::stderr()), g.style, r.ci.is_gitlab(), g.quiet))];
    for spec in &a.reports {
        let masker = r.masker.clone();
        reporters.push(match spec.format {
            ReportFormat::Json => Box::new(JsonReporter { path: spec.path.clone(), masker }),
            ReportFormat::Junit => Box::new(JunitReporter { path: spec.path.clone(), masker }),
            ReportFormat::Dotenv => Box::new(DotenvReporter { path: spec.path.clone(), masker }),
        });
    }
    if let Some(path) = &a.metrics {
        reporters.push(Box::new(MetricsReporter { path: path.clone() }));
    }
    let reporters = Arc::new(Mutex::new(reporters));
    let sink = {
        let reporters = reporters.clone();
        Arc::new(move |ev: RunEvent| {
            if let Ok(mut rs) = reporters.lock() {
                for rep in rs.iter_mut() {
                    rep.event(&ev);
                }
            }
        })
    };
    let runtime = match super::runtime(g) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let opts = ExecOptions { jobs, grace: a.grace_period, fail_fast: a.fail_fast, given };
    let summary = runtime.block_on(async {
        let (canceller, _) = cancel::channel();
        spawn_signal_listener(canceller.clone(), sink.clone());
        execute(p.clone(), r.clone(), opts, sink.clone(), &canceller).await
    });
    let summary = match summary {
        Ok(s) => s,
        Err(e) => {
            error(g, &format!("cannot run the pipeline: {e}"), None);
            return ExitCode::Infrastructure;
        }
    };
    let mut code = match summary.exit_code {
        0 => ExitCode::Success,
        1 => ExitCode::Failure,
        3 => ExitCode::Infrastructure,
        130 => ExitCode::Interrupted,
        143 => ExitCode::Terminated,
        _ => ExitCode::Usage,
    };
    if let Ok(mut rs) = reporters.lock() {
        for rep in rs.iter_mut() {
            if let Err(e) = rep.finish(&summary) {
                error(g, &format!("cannot write a report: {e}"), Some("check that the report's directory is writable"));
                if code == ExitCode::Success {
                    code = ExitCode::Infrastructure;
                }
            }
        }
    }
    // Steps' child processes are gone by now; do not wait for stray blocking tasks.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    code
}

fn spawn_signal_listener(canceller: cancel::Canceller, sink: Arc<dyn Fn(RunEvent) + Send + Sync>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        tracing::warn!("cannot install signal handlers; SIGINT/SIGTERM will kill shipgate at once");
        return;
    };
    tokio::spawn(async move {
        loop {
            let sig = tokio::select! {
                _ = int.recv() => libc::SIGINT,
                _ = term.recv() => libc::SIGTERM,
            };
            sink(RunEvent::Interrupted { signal: sig });
            canceller.interrupt(sig);
        }
    });
}
