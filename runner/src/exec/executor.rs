//! Runs a validated pipeline: resolves variables, walks the DAG through the
//! scheduler, runs each step's attempts (timeout, retry, outputs) and emits events.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use indexmap::IndexMap;

use super::cancel::{CancelState, CancelToken, Canceller};
use super::events::{FailureClass, RunEvent, RunStatus, RunSummary, SUMMARY_SCHEMA_VERSION, StepRecord, StepStatus};
use super::mask::Masker;
use super::scheduler::{NodeResult, Outcome, schedule};
use crate::ci::CiContext;
use crate::exit::ExitCode;
use crate::pipeline::interpolate::{Mode, Scope, Template};
use crate::pipeline::{Action, Pipeline, Step as PipelineStep};
use crate::steps::shell::Shell;
use crate::steps::{Step, StepContext, StepError, parse_outputs};
use crate::yaml::Node;

/// How many trailing output lines a step record keeps (for JUnit failures).
const TAIL_LINES: usize = 40;

#[derive(Debug, Clone)]
pub struct ExecOptions {
    pub jobs: usize,
    pub grace: Duration,
    pub fail_fast: bool,
    /// With `--only`: what steps run in earlier jobs left behind.
    pub given: super::only::Given,
}

/// Everything resolved before the first step starts.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// Process environment with the pipeline's `env:` applied, in a stable order.
    pub env: Vec<(String, String)>,
    pub ci: CiContext,
    pub masker: Masker,
    /// Declared secrets too short to mask (names only).
    pub short_secrets: Vec<String>,
}

struct RunScope<'a> {
    vars: &'a HashMap<String, String>,
    ci: &'a CiContext,
    outputs: Option<&'a HashMap<String, IndexMap<String, String>>>,
}

impl Scope for RunScope<'_> {
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }
    fn ci(&self, field: &str) -> Option<String> {
        self.ci.get(field).map(str::to_owned)
    }
    fn output(&self, step: &str, name: &str) -> Option<String> {
        match self.outputs {
            Some(o) => o.get(step).and_then(|m| m.get(name)).cloned(),
            // Planning: outputs are not known yet.
            None => Some(format!("<steps.{step}.outputs.{name}>")),
        }
    }
}

fn is_secret_name(name: &str) -> bool {
    crate::pipeline::validate_is_secret_name(name)
}

/// Applies the pipeline's `env:` over the process environment, builds the masker and
/// checks that every `${VAR}` without a default anywhere in the pipeline is set.
/// Returns every problem at once.
pub fn resolve_pipeline_env(pipeline: &Pipeline, process_env: Vec<(String, String)>) -> Result<Resolved, Vec<String>> {
    let ci = CiContext::from_lookup(|n| process_env.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()));
    let mut vars: HashMap<String, String> = process_env.iter().cloned().collect();
    let mut errors = Vec::new();
    for (name, t) in &pipeline.env {
        let scope = RunScope { vars: &vars, ci: &ci, outputs: None };
        match t.render(&scope) {
            Ok(v) => {
                vars.insert(name.clone(), v);
            }
            Err(e) => errors.extend(e.into_iter().map(|m| format!("pipeline env `{name}`: {m}"))),
        }
    }
    for step in &pipeline.steps {
        let mut step_vars = vars.clone();
        for (name, t) in &step.env {
            let scope = RunScope { vars: &step_vars, ci: &ci, outputs: None };
            match t.render(&scope) {
                Ok(v) => {
                    step_vars.insert(name.clone(), v);
                }
                Err(e) => errors.extend(e.into_iter().map(|m| format!("step `{}` env `{name}`: {m}", step.id))),
            }
        }
        if let Action::Uses { with: Some(with), .. } = &step.action {
            let scope = RunScope { vars: &step_vars, ci: &ci, outputs: None };
            if let Err(e) = resolve_with(with, &scope) {
                errors.extend(e.into_iter().map(|m| format!("step `{}` with: {m}", step.id)));
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut secret_values = Vec::new();
    let mut short = Vec::new();
    for (name, value) in &vars {
        let declared = pipeline.secrets.contains(name);
        if (declared || is_secret_name(name)) && !value.is_empty() {
            if value.chars().count() < super::mask::MIN_SECRET_LEN && declared {
                short.push(name.clone());
            }
            secret_values.push(value.clone());
        }
    }
    let mut env: Vec<(String, String)> = vars.into_iter().collect();
    env.sort();
    Ok(Resolved { env, ci, masker: Masker::new(secret_values), short_secrets: short })
}

/// Renders every scalar of a `with:` tree (`${VAR}` and `${{ … }}`).
pub fn resolve_with(with: &Node, scope: &dyn Scope) -> Result<Node, Vec<String>> {
    with.try_map_scalars(&mut |s, _, _| Template::parse(s, Mode::Full).map_err(|e| vec![e.message])?.render(scope))
}

/// The resolved form of one step for display and execution.
pub struct Prepared {
    /// The built step.
    pub step: Box<dyn Step>,
    pub env: Vec<(String, String)>,
    pub with: Option<serde_json::Value>,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared").field("env", &self.env.len()).field("with", &self.with).finish_non_exhaustive()
    }
}

/// Resolves a step's env and options against the run's variables and the outputs so
/// far (`None` while planning), and builds it.
pub fn prepare(
    step: &PipelineStep,
    resolved: &Resolved,
    outputs: Option<&HashMap<String, IndexMap<String, String>>>,
) -> Result<Prepared, String> {
    let mut vars: HashMap<String, String> = resolved.env.iter().cloned().collect();
    let mut step_env = Vec::new();
    for (name, t) in &step.env {
        let scope = RunScope { vars: &vars, ci: &resolved.ci, outputs };
        let v = t.render(&scope).map_err(|e| e.join("; "))?;
        vars.insert(name.clone(), v.clone());
        step_env.push((name.clone(), v));
    }
    let scope = RunScope { vars: &vars, ci: &resolved.ci, outputs };
    let (built, with): (Box<dyn Step>, _) = match &step.action {
        Action::Run { command, .. } => {
            (Box::new(Shell { command: command.render(&scope).map_err(|e| e.join("; "))? }), None)
        }
        Action::Uses { kind, with } => {
            let with = with.as_ref().map(|w| resolve_with(w, &scope)).transpose().map_err(|e| e.join("; "))?;
            let step = kind
                .build(with.as_ref())
                .map_err(|d| d.into_iter().map(|d| d.message).collect::<Vec<_>>().join("; "))?;
            (step, with.as_ref().map(Node::to_json))
        }
    };
    Ok(Prepared { step: built, env: step_env, with })
}

/// Evaluates a step's `if:`; `None` when there is none.
pub fn condition(
    step: &PipelineStep,
    resolved: &Resolved,
    outputs: Option<&HashMap<String, IndexMap<String, String>>>,
) -> Option<bool> {
    let vars: HashMap<String, String> = resolved
        .env
        .iter()
        .cloned()
        .chain(step.env.iter().filter_map(|(n, t)| {
            let scope = RunScope { vars: &HashMap::new(), ci: &resolved.ci, outputs };
            t.render(&scope).ok().map(|v| (n.clone(), v))
        }))
        .collect();
    let scope = RunScope { vars: &vars, ci: &resolved.ci, outputs };
    step.condition.as_ref().map(|(_, e)| e.eval(&scope))
}

type Sink = Arc<dyn Fn(RunEvent) + Send + Sync>;

struct Shared {
    pipeline: Arc<Pipeline>,
    resolved: Arc<Resolved>,
    opts: ExecOptions,
    sink: Sink,
    outputs: Mutex<HashMap<String, IndexMap<String, String>>>,
    records: Mutex<Vec<Option<StepRecord>>>,
    workdir: PathBuf,
}

impl Shared {
    fn finish(&self, i: usize, mut record: StepRecord) {
        record.message = record.message.map(|m| self.resolved.masker.mask_string(m));
        for v in record.outputs.values_mut() {
            *v = self.resolved.masker.mask_string(std::mem::take(v));
        }
        (self.sink)(RunEvent::StepFinished(record.clone()));
        if let Ok(mut r) = self.records.lock() {
            r[i] = Some(record);
        }
    }

    fn status(&self, i: usize) -> Option<StepStatus> {
        self.records.lock().ok().and_then(|r| r[i].as_ref().map(|r| r.status))
    }
}

/// A per-run scratch directory for output files, removed when the run ends.
struct Workdir(PathBuf);

impl Workdir {
    fn create() -> std::io::Result<Self> {
        let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let dir = std::env::temp_dir().join(format!("shipgate-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(Workdir(dir))
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the pipeline to the end (or until cancelled) and returns the summary.
pub async fn execute(
    pipeline: Arc<Pipeline>,
    resolved: Arc<Resolved>,
    opts: ExecOptions,
    sink: Sink,
    canceller: &Canceller,
) -> std::io::Result<RunSummary> {
    let started_at = SystemTime::now();
    let clock = Instant::now();
    let workdir = Workdir::create()?;
    sink(RunEvent::RunStarted { pipeline: pipeline.name.clone(), steps: pipeline.steps.len(), jobs: opts.jobs });
    let shared = Arc::new(Shared {
        pipeline: pipeline.clone(),
        resolved: resolved.clone(),
        opts: opts.clone(),
        sink: sink.clone(),
        outputs: Mutex::new(opts.given.outputs.clone()),
        records: Mutex::new(vec![None; pipeline.steps.len()]),
        workdir: workdir.0.clone(),
    });
    let deps = pipeline.deps();
    let token = canceller.token();
    let results = {
        let shared_start = shared.clone();
        let shared_block = shared.clone();
        let token_start = token.clone();
        schedule(
            &deps,
            opts.jobs,
            token.clone(),
            opts.fail_fast.then_some(canceller),
            move |i| run_step(shared_start.clone(), i, token_start.clone()),
            move |i, by| {
                let step = &shared_block.pipeline.steps[i];
                let why = match shared_block.status(by) {
                    Some(StepStatus::Failed) => "failed",
                    Some(StepStatus::Cancelled) => "was cancelled",
                    _ => "was skipped",
                };
                let by_id = &shared_block.pipeline.steps[by].id;
                shared_block.finish(
                    i,
                    StepRecord::not_run(
                        &step.id,
                        step.action.kind_name(),
                        StepStatus::Skipped,
                        step.allow_failure,
                        format!("needs `{by_id}`, which {why}"),
                    ),
                );
            },
        )
        .await
    };
    let state = token.state();
    for (i, r) in results.iter().enumerate() {
        if *r == NodeResult::NotStarted {
            let step = &pipeline.steps[i];
            let (status, msg) = match state {
                CancelState::Interrupted { .. } => {
                    (StepStatus::Cancelled, "not started: the run was interrupted".to_owned())
                }
                _ => (StepStatus::Skipped, "not started: the run stopped after a failure (--fail-fast)".to_owned()),
            };
            shared.finish(i, StepRecord::not_run(&step.id, step.action.kind_name(), status, step.allow_failure, msg));
        }
    }
    let steps: Vec<StepRecord> =
        shared.records.lock().map(|r| r.iter().flatten().cloned().collect()).unwrap_or_default();
    let fatal: Vec<&StepRecord> = steps.iter().filter(|s| s.is_fatal()).collect();
    let (status, exit) = match state {
        CancelState::Interrupted { signal, .. } => {
            (RunStatus::Interrupted, if signal == libc::SIGINT { ExitCode::Interrupted } else { ExitCode::Terminated })
        }
        _ if fatal.is_empty() => (RunStatus::Success, ExitCode::Success),
        _ if fatal.iter().all(|s| s.failure == Some(FailureClass::Infrastructure)) => {
            (RunStatus::Failed, ExitCode::Infrastructure)
        }
        _ => (RunStatus::Failed, ExitCode::Failure),
    };
    Ok(RunSummary {
        schema_version: SUMMARY_SCHEMA_VERSION,
        shipgate_version: env!("CARGO_PKG_VERSION"),
        pipeline: pipeline.name.clone(),
        file: pipeline.path.display().to_string(),
        status,
        exit_code: exit.code(),
        started_at,
        duration: clock.elapsed(),
        ci: resolved.ci.clone(),
        steps,
    })
}

async fn run_step(shared: Arc<Shared>, i: usize, mut token: CancelToken) -> Outcome {
    {
        let step = &shared.pipeline.steps[i];
        let kind = step.action.kind_name();
        if let Some(why) = shared.opts.given.skip.get(&i) {
            shared.finish(i, StepRecord::not_run(&step.id, kind, StepStatus::Skipped, step.allow_failure, why.clone()));
            return Outcome::Skipped;
        }
        let snapshot = shared.outputs.lock().map(|o| o.clone()).unwrap_or_default();
        if condition(step, &shared.resolved, Some(&snapshot)) == Some(false) {
            let text = step.condition.as_ref().map(|(t, _)| t.as_str()).unwrap_or_default();
            shared.finish(
                i,
                StepRecord::not_run(
                    &step.id,
                    kind,
                    StepStatus::Skipped,
                    step.allow_failure,
                    format!("condition `{text}` is false"),
                ),
            );
            return Outcome::Skipped;
        }
        let started_at = SystemTime::now();
        let clock = Instant::now();
        let mut record = StepRecord::not_run(&step.id, kind, StepStatus::Failed, step.allow_failure, String::new());
        record.started_at = Some(started_at);
        record.message = None;
        let prepared = match prepare(step, &shared.resolved, Some(&snapshot)) {
            Ok(p) => p,
            Err(e) => {
                record.failure = Some(FailureClass::Step);
                record.message = Some(format!("could not resolve the step: {e}"));
                record.duration = clock.elapsed();
                shared.finish(i, record);
                return Outcome::Failed { fatal: !step.allow_failure };
            }
        };
        let tail: Arc<Mutex<VecDeque<String>>> = Arc::default();
        let output_file = shared.workdir.join(format!("{}.{}.out", i, step.id));
        let mut env = shared.resolved.env.clone();
        env.retain(|(k, _)| !prepared.env.iter().any(|(n, _)| n == k));
        env.extend(prepared.env.iter().cloned());
        env.push(("SHIPGATE_OUTPUT".into(), output_file.display().to_string()));
        env.push(("SHIPGATE_STEP".into(), step.id.clone()));
        env.push(("SHIPGATE_PIPELINE".into(), shared.pipeline.name.clone()));

        let attempts = step.retry.attempts.max(1);
        let mut result: Result<(), StepError> = Err(StepError::Cancelled);
        let mut exit_code = None;
        let mut outputs = IndexMap::new();
        let mut failed_outputs = IndexMap::new();
        for attempt in 1..=attempts {
            record.attempts = attempt;
            (shared.sink)(RunEvent::StepStarted { id: step.id.clone(), attempt, attempts });
            // Not created up front (creating a file per step is the executor's largest
            // cost): `>> "$SHIPGATE_OUTPUT"` creates it; a retry starts from nothing.
            if attempt > 1 {
                let _ = std::fs::remove_file(&output_file);
            }
            let emit = {
                let (sink, masker, tail, id) =
                    (shared.sink.clone(), shared.resolved.masker.clone(), tail.clone(), step.id.clone());
                Box::new(move |stream, line: String| {
                    let line = masker.mask_string(line);
                    if let Ok(mut t) = tail.lock() {
                        if t.len() == TAIL_LINES {
                            t.pop_front();
                        }
                        t.push_back(line.clone());
                    }
                    sink(RunEvent::Output { id: id.clone(), stream, line });
                })
            };
            let mut ctx = StepContext {
                id: step.id.clone(),
                env: env.clone(),
                output_file: output_file.clone(),
                deadline: step.timeout.map(|t| Instant::now() + t),
                grace: shared.opts.grace,
                cancel: token.clone(),
                emit,
                outputs: IndexMap::new(),
                exit_code: None,
            };
            // Steps enforce their deadline themselves (TERM, grace, KILL); this is the
            // backstop for one that does not.
            result = match step.timeout {
                Some(t) => {
                    let limit = t + shared.opts.grace + Duration::from_secs(5);
                    tokio::time::timeout(limit, prepared.step.run(&mut ctx))
                        .await
                        .unwrap_or(Err(StepError::TimedOut(String::new())))
                }
                None => prepared.step.run(&mut ctx).await,
            };
            exit_code = ctx.exit_code;
            if let (Err(StepError::TimedOut(_)), Some(t)) = (&result, step.timeout) {
                result = Err(StepError::TimedOut(crate::pipeline::duration::format_duration(t)));
            }
            let attempt_outputs = std::mem::take(&mut ctx.outputs);
            if result.is_ok() {
                outputs = attempt_outputs;
                match read_outputs(&output_file, step) {
                    Ok(o) => outputs.extend(o),
                    Err(e) => result = Err(StepError::Failed(e)),
                }
            } else {
                // What a failed attempt published (a denying gate's counts) goes into
                // the reports, never to dependents.
                failed_outputs = attempt_outputs;
            }
            let retryable =
                matches!(result, Err(StepError::Failed(_) | StepError::TimedOut(_) | StepError::Infrastructure(_)));
            if !retryable || attempt == attempts || token.is_cancelled() {
                break;
            }
            let seed = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().subsec_nanos();
            let delay = step.retry.delay(attempt + 1, u64::from(seed));
            let reason = result.as_ref().err().map(ToString::to_string).unwrap_or_default();
            (shared.sink)(RunEvent::Retrying {
                id: step.id.clone(),
                next_attempt: attempt + 1,
                delay,
                reason: shared.resolved.masker.mask_string(reason),
            });
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = token.cancelled() => { result = Err(StepError::Cancelled); break; }
            }
        }
        record.duration = clock.elapsed();
        record.exit_code = exit_code;
        record.output_tail = tail.lock().map(|t| t.iter().cloned().collect()).unwrap_or_default();
        let outcome = match result {
            Ok(()) => {
                record.status = StepStatus::Success;
                if let Ok(mut o) = shared.outputs.lock() {
                    o.insert(step.id.clone(), outputs.clone());
                }
                record.outputs = outputs;
                Outcome::Success
            }
            Err(StepError::Cancelled) => {
                record.status = StepStatus::Cancelled;
                record.message = Some("cancelled: the run was interrupted".into());
                if token.state() == CancelState::Aborted {
                    record.message = Some("cancelled after another step failed (--fail-fast)".into());
                }
                Outcome::Cancelled
            }
            Err(e) => {
                record.failure = Some(match e {
                    StepError::TimedOut(_) => FailureClass::Timeout,
                    StepError::Infrastructure(_) => FailureClass::Infrastructure,
                    _ => FailureClass::Step,
                });
                record.message = Some(e.to_string());
                record.outputs = failed_outputs;
                Outcome::Failed { fatal: !step.allow_failure }
            }
        };
        shared.finish(i, record);
        outcome
    }
}

fn read_outputs(path: &Path, step: &PipelineStep) -> Result<IndexMap<String, String>, String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let outputs = parse_outputs(&text).map_err(|e| format!("bad line in $SHIPGATE_OUTPUT: {e}"))?;
    let missing: Vec<&str> =
        step.outputs.iter().filter(|o| !outputs.contains_key(o.as_str())).map(String::as_str).collect();
    if !missing.is_empty() {
        return Err(format!(
            "declared output{} {} not written to $SHIPGATE_OUTPUT (write `name=value` lines to that file)",
            if missing.len() > 1 { "s" } else { "" },
            missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(outputs)
}
