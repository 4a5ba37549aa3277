//! Stage 2: raw → model. Pure checks, every problem collected with its span.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use super::duration::parse_duration;
use super::expr::Expr;
use super::interpolate::{Mode, Ref, Template, is_step_id, is_var_name};
use super::model::{Action, Pipeline, Retry, Step};
use super::raw::{RawPipeline, RawStep};
use crate::ci::CiContext;
use crate::diag::{Diagnostic, suggest};
use crate::graph;
use crate::steps::{self, StepKind};
use crate::yaml::{NodeKind, Span, Spanned};

/// Names of variables that hold secrets even when not listed under `secrets:`.
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["_TOKEN", "_PASSWORD", "_SECRET", "_KEY", "_SECRET_ID"].iter().any(|s| upper.ends_with(s))
        || matches!(upper.as_str(), "TOKEN" | "PASSWORD" | "SECRET")
}

/// Where type errors were already reported, so that later checks do not pile on
/// (a step whose bad `run:` was dropped is not also "missing `run:`").
#[derive(Debug, Default)]
pub struct Damaged {
    /// Steps whose mapping held a type error.
    pub steps: HashSet<String>,
    /// A top-level key was unknown or mistyped (it may explain a missing `steps`).
    pub top_level: bool,
}

struct Cx<'a> {
    source: &'a str,
    damaged: &'a Damaged,
    diags: Vec<Diagnostic>,
}

impl Cx<'_> {
    fn err(&mut self, span: Span, msg: impl Into<String>, help: Option<String>) {
        self.diags.push(Diagnostic::error(span, msg).with_help_opt(help));
    }

    /// The span of chars `offset..offset+len` inside the scalar at `span` (skipping an
    /// opening quote); the whole scalar when it spans lines.
    fn inner(&self, span: Span, offset: usize, len: usize) -> Span {
        if span.start.line != span.end.line {
            return span;
        }
        let line = self.source.lines().nth(span.start.line.saturating_sub(1)).unwrap_or("");
        let quoted = matches!(line.chars().nth(span.start.col.saturating_sub(1)), Some('"' | '\''));
        let base =
            Span::new(crate::yaml::Pos { line: span.start.line, col: span.start.col + usize::from(quoted) }, span.end);
        base.sub(offset, offset + len)
    }

    fn template(&mut self, s: &Spanned<String>, mode: Mode) -> Option<Template> {
        match Template::parse(s, mode) {
            Ok(t) => Some(t),
            Err(e) => {
                let span = self.inner(s.span, e.offset, e.len);
                self.err(span, e.message, e.help);
                None
            }
        }
    }

    fn env(
        &mut self,
        env: &indexmap::IndexMap<Spanned<String>, Spanned<String>>,
    ) -> Vec<(String, Template, Spanned<String>)> {
        let mut out = Vec::new();
        for (k, v) in env {
            if !is_var_name(k) {
                self.err(
                    k.span,
                    format!("`{}` is not a valid variable name", k.value),
                    Some("use letters, digits and `_`, not starting with a digit".into()),
                );
            }
            if let Some(t) = self.template(v, Mode::Full) {
                out.push((k.value.clone(), t, v.clone()));
            }
        }
        out
    }
}

/// A reference found in a step, with the span to blame.
struct FoundRef {
    target: Ref,
    span: Span,
}

pub fn validate(
    raw: RawPipeline,
    path: &Path,
    source: Arc<str>,
    root_span: Span,
    damaged: &Damaged,
) -> (Option<Pipeline>, Vec<Diagnostic>) {
    let mut cx = Cx { source: &source, diags: Vec::new(), damaged };
    let top = Span::new(root_span.start, root_span.start);

    match &raw.version {
        None if cx.damaged.top_level => {}
        None => cx.err(top, "missing key `version`", Some("add `version: 1` at the top of the file".into())),
        Some(v) if v.value != 1 => cx.err(
            v.span,
            format!("unsupported pipeline version `{}`", v.value),
            Some("this shipgate reads `version: 1`".into()),
        ),
        Some(_) => {}
    }

    // Pipeline env and secrets.
    let env = cx.env(&raw.env);
    for (name, t, v) in &env {
        for (r, off, len) in t.refs() {
            if let Ref::StepOutput { .. } = r {
                let span = cx.inner(v.span, off, len);
                cx.err(
                    span,
                    format!("pipeline `env` value of `{name}` uses a step output"),
                    Some("step outputs exist only inside steps; move this variable to the step's `env:`".into()),
                );
            }
        }
    }
    let mut secrets = Vec::new();
    let mut vault = Vec::new();
    for entry in &raw.secrets {
        let (s, source) = match &entry.kind {
            NodeKind::Scalar(name, _) => (Spanned::new(name.clone(), entry.span), None),
            NodeKind::Map(pairs) if pairs.len() == 1 && pairs[0].0.as_str().is_some() => {
                let (k, v) = &pairs[0];
                (Spanned::new(k.as_str().unwrap_or_default().to_owned(), k.span), Some(v))
            }
            _ => {
                cx.err(
                    entry.span,
                    format!(
                        "a `secrets:` entry is a variable name or `NAME: vault:PATH#KEY`, found {}",
                        entry.type_name()
                    ),
                    Some(
                        "e.g. `- GITOPS_TOKEN` or `- REGISTRY_PASSWORD: vault:secret/data/ci/registry#password`".into(),
                    ),
                );
                continue;
            }
        };
        if !is_var_name(&s) {
            cx.err(
                s.span,
                format!("`{}` is not a valid variable name", s.value),
                Some("`secrets:` lists names of environment variables".into()),
            );
        }
        if let Some((_, t, v)) = env.iter().find(|(n, ..)| n == &s.value)
            && t.is_literal()
        {
            cx.err(
                v.span,
                format!("secret `{}` has a literal value in the pipeline file", s.value),
                Some("secrets come from the CI environment or Vault; remove the value from `env:`".into()),
            );
        }
        if let Some(v) = source {
            match v.as_str().map(crate::vault::VaultRef::parse) {
                Some(Ok(r)) => vault.push((s.value.clone(), r)),
                Some(Err(e)) => cx.err(
                    v.span,
                    e,
                    Some("write `vault:PATH#KEY`, e.g. `vault:secret/data/ci/registry#password`".into()),
                ),
                None => cx.err(v.span, format!("expected `vault:PATH#KEY`, found {}", v.type_name()), None),
            }
        }
        secrets.push(s.value.clone());
    }

    let Some(raw_steps) = raw.steps else {
        if !cx.damaged.top_level {
            cx.err(top, "missing key `steps`", Some("add `steps:` with at least one step".into()));
        }
        return (None, cx.diags);
    };
    if raw_steps.is_empty() {
        cx.err(
            top,
            "the pipeline has no steps",
            Some("add a step under `steps:`, e.g. `test: { run: cargo test }`".into()),
        );
    }

    let ids: Vec<&str> = raw_steps.keys().map(|k| k.value.as_str()).collect();
    let index: HashMap<&str, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();

    let mut steps = Vec::new();
    let mut refs: Vec<Vec<FoundRef>> = Vec::new();
    let mut need_spans: Vec<Vec<(usize, Span)>> = Vec::new();
    for (id, rs) in &raw_steps {
        if !is_step_id(id) {
            cx.err(
                id.span,
                format!("`{}` is not a valid step id", id.value),
                Some("use letters, digits, `-` and `_`".into()),
            );
        }
        let (step, found, needs) = step(&mut cx, id, rs, &index, &ids);
        refs.push(found);
        need_spans.push(needs);
        steps.push(step);
    }

    // Outputs and outcomes travel between CI jobs as SHIPGATE_<STEP>_<OUTPUT> and
    // SHIPGATE_<STEP>__STATUS (dotenv reports): two names must not make one variable.
    let mut vars: HashMap<String, String> = HashMap::new();
    for (step, id) in steps.iter().zip(&ids) {
        let names = step
            .declared_outputs()
            .into_iter()
            .map(|o| (crate::report::dotenv::variable(id, o), format!("output `{o}` of `{id}`")));
        let status = (crate::report::dotenv::status_variable(id), format!("the outcome of `{id}`"));
        for (var, what) in std::iter::once(status).chain(names) {
            if let Some(other) = vars.get(&var) {
                cx.err(
                    step.span,
                    format!("{what} and {other} would both be passed on as {var}"),
                    Some("rename the step or the output: CI jobs tell them apart by that variable".into()),
                );
            } else {
                vars.insert(var, what);
            }
        }
    }

    // The graph: cycles, then references through `needs`.
    let deps: Vec<Vec<usize>> = need_spans.iter().map(|ns| ns.iter().map(|(i, _)| *i).collect()).collect();
    let cycles = graph::find_cycles(&deps);
    for cycle in &cycles {
        let path = cycle.iter().map(|&i| format!("`{}`", ids[i])).collect::<Vec<_>>().join(" → ");
        let span = need_spans[cycle[0]].iter().find(|(d, _)| *d == cycle[1]).map_or(steps[cycle[0]].span, |(_, s)| *s);
        cx.diags.push(
            Diagnostic::error(span, format!("dependency cycle: {path}"))
                .with_label("this need closes the cycle")
                .with_help("a step cannot (even indirectly) need itself; remove one of these `needs`"),
        );
    }
    if cycles.is_empty() {
        let closure = graph::transitive(&deps);
        for (i, found) in refs.iter().enumerate() {
            for r in found {
                check_ref(&mut cx, r, i, &steps, &ids, &index, &closure);
            }
        }
    } else {
        for found in &refs {
            for r in found.iter().filter(|r| matches!(r.target, Ref::Ci(_))) {
                check_ref(&mut cx, r, 0, &steps, &ids, &index, &[]);
            }
        }
    }

    let has_errors = cx.diags.iter().any(|d| d.severity == crate::diag::Severity::Error);
    let pipeline = (!has_errors).then(|| Pipeline {
        name: raw
            .name
            .map(|n| n.value)
            .unwrap_or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()),
        path: path.to_path_buf(),
        source: source.clone(),
        env: env.into_iter().map(|(n, t, _)| (n, t)).collect(),
        secrets,
        vault,
        steps: steps
            .into_iter()
            .zip(deps)
            .map(|(mut s, d)| {
                s.needs = d;
                s
            })
            .collect(),
    });
    (pipeline, cx.diags)
}

fn check_ref(
    cx: &mut Cx<'_>,
    r: &FoundRef,
    at: usize,
    steps: &[Step],
    ids: &[&str],
    index: &HashMap<&str, usize>,
    closure: &[HashSet<usize>],
) {
    match &r.target {
        Ref::Ci(field) if !CiContext::is_field(field) => {
            let help = match suggest::closest(field, CiContext::field_names()) {
                Some(s) => format!("did you mean `ci.{s}`?"),
                None => format!("ci fields: {}", CiContext::field_names().collect::<Vec<_>>().join(", ")),
            };
            cx.err(r.span, format!("unknown CI field `{field}`"), Some(help));
        }
        Ref::StepOutput { step, output } => {
            let Some(&target) = index.get(step.as_str()) else {
                let help = suggest::closest(step, ids.iter().copied()).map(|s| format!("did you mean `{s}`?"));
                cx.err(
                    r.span,
                    format!("reference to unknown step `{step}`"),
                    help.or(Some("step ids are the keys under `steps:`".into())),
                );
                return;
            };
            if target == at {
                cx.err(
                    r.span,
                    format!("step `{step}` refers to its own output"),
                    Some("outputs are only known after a step finishes".into()),
                );
                return;
            }
            if !closure.get(at).is_some_and(|c| c.contains(&target)) {
                cx.err(
                    r.span,
                    format!("step `{}` uses an output of `{step}` but does not need it", ids[at]),
                    Some(format!("add `{step}` to the `needs:` of `{}` so it runs first", ids[at])),
                );
            }
            let declared = steps[target].declared_outputs();
            if !declared.contains(&output.as_str()) && !cx.damaged.steps.contains(ids[target]) {
                let help = match suggest::closest(output, declared.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None if declared.is_empty() => {
                        format!("`{step}` declares no outputs; list them under `outputs:` in `{step}`")
                    }
                    None => format!("`{step}` outputs: {}", declared.join(", ")),
                };
                cx.err(r.span, format!("step `{step}` has no output `{output}`"), Some(help));
            }
        }
        _ => {}
    }
}

fn step(
    cx: &mut Cx<'_>,
    id: &Spanned<String>,
    rs: &RawStep,
    index: &HashMap<&str, usize>,
    ids: &[&str],
) -> (Step, Vec<FoundRef>, Vec<(usize, Span)>) {
    let mut found = Vec::new();
    let mut collect = |cx: &Cx<'_>, t: &Template, span: Span| {
        for (r, off, len) in t.refs() {
            found.push(FoundRef { target: r.clone(), span: cx.inner(span, off, len) });
        }
    };

    // run / uses / with
    let action = match (&rs.run, &rs.uses) {
        (Some(_), Some(u)) => {
            cx.err(
                u.span,
                format!("step `{}` has both `run:` and `uses:`", id.value),
                Some("a step either runs a command or uses a step kind; split it into two steps".into()),
            );
            None
        }
        (None, None) if cx.damaged.steps.contains(&id.value) => None,
        (None, None) => {
            cx.err(
                id.span,
                format!("step `{}` has neither `run:` nor `uses:`", id.value),
                Some("add `run: <command>` or `uses: <kind>`".into()),
            );
            None
        }
        (Some(run), None) => {
            if let Some(w) = &rs.with {
                cx.err(
                    w.span,
                    "`with:` only applies to `uses:` steps",
                    Some("pass values to a command through `env:`".into()),
                );
            }
            cx.template(run, Mode::RefsOnly).map(|t| {
                collect(cx, &t, run.span);
                Action::Run { command: t, text: run.value.clone() }
            })
        }
        (None, Some(uses)) => match steps::find_kind(uses) {
            None => {
                let names: Vec<&str> = steps::kinds().iter().map(|k| k.name()).collect();
                let help = match suggest::closest(uses, names.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None if names.is_empty() => {
                        "this build has no `uses:` step kinds yet; use `run:` for a shell command".into()
                    }
                    None => format!("known kinds: {}", names.join(", ")),
                };
                cx.err(uses.span, format!("unknown step kind `{}`", uses.value), Some(help));
                None
            }
            Some(kind) => {
                if !rs.outputs.is_empty() {
                    cx.err(
                        rs.outputs[0].span,
                        "`outputs:` is for `run:` steps",
                        Some(format!("`{}` declares its outputs: {}", kind.name(), kind.outputs().join(", "))),
                    );
                }
                cx.diags.extend(kind.validate(rs.with.as_ref(), id.span));
                if let Some(w) = &rs.with {
                    with_templates(cx, w, &mut collect);
                }
                Some(Action::Uses { kind: kind as &'static dyn StepKind, with: rs.with.clone() })
            }
        },
    };

    // needs
    let mut needs = Vec::new();
    for n in &rs.needs {
        match index.get(n.value.as_str()) {
            Some(&i) if n.value == id.value => {
                cx.err(n.span, format!("step `{}` needs itself", id.value), Some("remove it from `needs:`".into()));
                let _ = i;
            }
            Some(&i) if needs.iter().any(|(j, _)| *j == i) => {
                cx.diags.push(
                    Diagnostic::warning(n.span, format!("`{}` is listed twice in `needs`", n.value))
                        .with_help("remove the duplicate"),
                );
            }
            Some(&i) => needs.push((i, n.span)),
            None => {
                let help = match suggest::closest(n, ids.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("steps in this pipeline: {}", ids.join(", ")),
                };
                cx.err(n.span, format!("step `{}` needs unknown step `{}`", id.value, n.value), Some(help));
            }
        }
    }

    // env, outputs, timeout, retry, if
    let env = cx.env(&rs.env);
    for (_, t, v) in &env {
        collect(cx, t, v.span);
    }
    let mut outputs = Vec::new();
    for o in &rs.outputs {
        if !is_step_id(o) {
            cx.err(
                o.span,
                format!("`{}` is not a valid output name", o.value),
                Some("use letters, digits, `-` and `_`".into()),
            );
        }
        outputs.push(o.value.clone());
    }
    let timeout = rs.timeout.as_ref().and_then(|t| match parse_duration(t) {
        Ok(d) if d.is_zero() => {
            cx.err(t.span, "timeout must be greater than zero", None);
            None
        }
        Ok(d) => Some(d),
        Err(e) => {
            cx.err(t.span, e, Some("write a duration like `30s`, `10m` or `1h30m`".into()));
            None
        }
    });
    let mut retry = Retry::default();
    if let Some(r) = &rs.retry {
        if !(1..=10).contains(&r.attempts.value) {
            cx.err(
                r.attempts.span,
                format!("`attempts` must be between 1 and 10, got {}", r.attempts.value),
                Some("attempts counts the first try too".into()),
            );
        }
        retry.attempts = r.attempts.value.clamp(1, 10);
        if let Some(b) = &r.backoff {
            match parse_duration(b) {
                Ok(d) => retry.backoff = d,
                Err(e) => cx.err(b.span, e, Some("write a duration like `2s` or `500ms`".into())),
            }
        }
    }
    let condition = rs.condition.as_ref().and_then(|c| match Expr::parse(c) {
        Ok(e) => {
            for (r, off) in e.refs() {
                found.push(FoundRef { target: r.clone(), span: cx.inner(c.span, off, 1) });
            }
            Some((c.value.clone(), e))
        }
        Err(e) => {
            let span = cx.inner(c.span, e.offset, 1);
            cx.err(
                span,
                format!("invalid `if` expression: {}", e.message),
                e.help.or(Some("e.g. `ci.pipeline_source == 'merge_request_event'`".into())),
            );
            None
        }
    });

    let step = Step {
        id: id.value.clone(),
        span: id.span,
        action: action.unwrap_or(Action::Run { command: Template::default(), text: String::new() }),
        needs: Vec::new(),
        env: env.into_iter().map(|(n, t, _)| (n, t)).collect(),
        outputs,
        timeout,
        retry,
        allow_failure: rs.allow_failure,
        condition,
    };
    (step, found, needs)
}

fn with_templates(cx: &mut Cx<'_>, node: &crate::yaml::Node, collect: &mut dyn FnMut(&Cx<'_>, &Template, Span)) {
    if let NodeKind::Null = node.kind {
        return;
    }
    let mut scalars = Vec::new();
    node.visit_scalars(&mut |s, _, span| scalars.push((s.to_owned(), span)));
    for (s, span) in scalars {
        if let Some(t) = cx.template(&Spanned::new(s, span), Mode::Full) {
            collect(cx, &t, span);
        }
    }
}
