//! `shipgate plan`: every step resolved, in execution order, with what it would do.
//! Builds nothing, runs nothing, contacts nothing.

use std::fmt::Write;

use indexmap::IndexMap;
use serde::Serialize;

use crate::exec::{Resolved, prepare};
use crate::graph;
use crate::pipeline::interpolate::Ref;
use crate::pipeline::{Action, Pipeline};
use crate::style::Style;

#[derive(Debug, Serialize)]
pub struct Plan {
    pub schema_version: u32,
    pub pipeline: String,
    pub file: String,
    /// The pipeline's own `env:` after interpolation (secrets masked).
    pub env: IndexMap<String, String>,
    pub steps: Vec<PlanStep>,
}

#[derive(Debug, Serialize)]
pub struct PlanStep {
    pub order: usize,
    /// 0 for steps with no needs; steps of the same stage can run at once.
    pub stage: usize,
    pub id: String,
    pub kind: String,
    pub needs: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<PlanCondition>,
    pub env: IndexMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub with: Option<serde_json::Value>,
    /// What the step would do, one effect per line.
    pub actions: Vec<String>,
    pub outputs: Vec<String>,
    pub timeout_ms: Option<u64>,
    pub attempts: u32,
    pub allow_failure: bool,
}

#[derive(Debug, Serialize)]
pub struct PlanCondition {
    pub expr: String,
    /// `null` when it depends on step outputs (decided at run time).
    pub value: Option<bool>,
}

pub async fn build(p: &Pipeline, r: &Resolved) -> Result<Plan, Vec<String>> {
    let deps = p.deps();
    let order = graph::topo_order(&deps).unwrap_or_else(|| (0..p.steps.len()).collect());
    let stages = graph::levels(&deps, &order);
    let mask = |s: &str| r.masker.mask(s).into_owned();
    let env = p
        .env
        .iter()
        .filter_map(|(n, _)| r.env.iter().find(|(k, _)| k == n).map(|(k, v)| (k.clone(), mask(v))))
        .collect();
    let mut steps = Vec::new();
    let mut errors = Vec::new();
    for (pos, &i) in order.iter().enumerate() {
        let s = &p.steps[i];
        let prepared = match prepare(s, r, None) {
            Ok(pr) => pr,
            Err(e) => {
                errors.push(format!("step `{}`: {e}", s.id));
                continue;
            }
        };
        let condition = s.condition.as_ref().map(|(text, e)| {
            let dynamic = e.refs().iter().any(|(r, _)| matches!(r, Ref::StepOutput { .. }));
            PlanCondition { expr: text.clone(), value: if dynamic { None } else { crate::exec::condition(s, r, None) } }
        });
        let skip = condition.as_ref().is_some_and(|c| c.value == Some(false));
        let mut actions: Vec<String> =
            if skip { Vec::new() } else { prepared.step.plan().await.iter().map(|a| mask(a)).collect() };
        if skip {
            actions = vec!["skip: the condition is false".into()];
        }
        let with = prepared.with.map(|w| serde_json::from_str(&mask(&w.to_string())).unwrap_or(w));
        steps.push(PlanStep {
            order: pos + 1,
            stage: stages[i],
            id: s.id.clone(),
            kind: s.action.kind_name().into(),
            needs: s.needs.iter().map(|&d| p.steps[d].id.clone()).collect(),
            condition,
            env: prepared.env.iter().map(|(k, v)| (k.clone(), mask(v))).collect(),
            with,
            actions,
            outputs: match &s.action {
                Action::Run { .. } => s.outputs.clone(),
                Action::Uses { kind, .. } => kind.outputs().iter().map(|o| (*o).to_owned()).collect(),
            },
            timeout_ms: s.timeout.map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX)),
            attempts: s.retry.attempts,
            allow_failure: s.allow_failure,
        });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Plan { schema_version: 1, pipeline: p.name.clone(), file: p.path.display().to_string(), env, steps })
}

pub fn render_human(plan: &Plan, style: Style) -> String {
    let mut out = String::new();
    let (b0, b1) = style.bold();
    let (d0, d1) = style.dim();
    let stages = plan.steps.iter().map(|s| s.stage).max().map_or(0, |m| m + 1);
    let _ = writeln!(
        out,
        "{b0}plan{b1} `{}` ({}): {} step{} in {stages} stage{}; nothing is changed by planning",
        plan.pipeline,
        plan.file,
        plan.steps.len(),
        if plan.steps.len() == 1 { "" } else { "s" },
        if stages == 1 { "" } else { "s" }
    );
    for (k, v) in &plan.env {
        let _ = writeln!(out, "  {d0}env{d1} {k}={v}");
    }
    let width = plan.steps.iter().map(|s| s.id.len()).max().unwrap_or(0);
    for s in &plan.steps {
        let needs = if s.needs.is_empty() { String::new() } else { format!("  {d0}needs:{d1} {}", s.needs.join(", ")) };
        let _ = writeln!(
            out,
            "\n{:>3}. {b0}{:<width$}{b1}  {d0}[{}]{d1}  {d0}stage {}{d1}{needs}",
            s.order,
            s.id,
            s.kind,
            s.stage + 1
        );
        if let Some(c) = &s.condition {
            let value = match c.value {
                Some(true) => "true: runs",
                Some(false) => "false: skipped",
                None => "decided at run time",
            };
            let _ = writeln!(out, "     if: {} ({value})", c.expr);
        }
        for (k, v) in &s.env {
            let _ = writeln!(out, "     env: {k}={v}");
        }
        if let Some(w) = &s.with {
            let _ = writeln!(out, "     with: {w}");
        }
        for a in &s.actions {
            let _ = writeln!(out, "     → {}", a.trim_end().replace('\n', "\n       "));
        }
        let mut extra = Vec::new();
        if let Some(t) = s.timeout_ms {
            extra.push(format!(
                "timeout {}",
                crate::pipeline::duration::format_duration(std::time::Duration::from_millis(t))
            ));
        }
        if s.attempts > 1 {
            extra.push(format!("{} attempts", s.attempts));
        }
        if s.allow_failure {
            extra.push("allowed to fail".into());
        }
        if !s.outputs.is_empty() {
            extra.push(format!("outputs: {}", s.outputs.join(", ")));
        }
        if !extra.is_empty() {
            let _ = writeln!(out, "     {d0}{}{d1}", extra.join(" · "));
        }
    }
    out
}
