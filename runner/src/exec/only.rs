//! `shipgate run FILE --only STEP`: a part of the pipeline, as one job of a pipeline
//! fanned out over CI jobs (`shipgate export gitlab-ci`). The steps left out ran in
//! earlier jobs; what they produced arrives as variables, the way GitLab passes a
//! `dotenv` report to the jobs that need it: `SHIPGATE_<STEP>_<OUTPUT>` for outputs and
//! `SHIPGATE_<STEP>__STATUS` for how the step ended.

use std::collections::{HashMap, HashSet};

use indexmap::IndexMap;

use crate::diag::suggest;
use crate::pipeline::interpolate::{Mode, Ref, Template};
use crate::pipeline::{Action, Pipeline, Step};
use crate::report::dotenv::{status_variable, variable};

/// What the steps outside the selection left behind.
#[derive(Debug, Clone, Default)]
pub struct Given {
    /// Outputs of steps that ran in earlier jobs, by step id.
    pub outputs: HashMap<String, IndexMap<String, String>>,
    /// Selected steps (indices in the selected pipeline) that must not run, and why.
    pub skip: HashMap<usize, String>,
}

/// The pipeline cut down to `only` (in file order, `needs` among them kept) and what
/// the other steps left in `env`. Every problem at once.
pub fn select(p: &Pipeline, only: &[String], env: &[(String, String)]) -> Result<(Pipeline, Given), Vec<String>> {
    let lookup = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let mut errors = Vec::new();
    let mut chosen = HashSet::new();
    for id in only {
        match p.step_index(id) {
            Some(i) => {
                chosen.insert(i);
            }
            None => {
                let hint = match suggest::closest(id, p.steps.iter().map(|s| s.id.as_str())) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("steps: {}", p.steps.iter().map(|s| s.id.as_str()).collect::<Vec<_>>().join(", ")),
                };
                errors.push(format!("--only {id}: no such step ({hint})"));
            }
        }
    }
    let kept: Vec<usize> = (0..p.steps.len()).filter(|i| chosen.contains(i)).collect();
    let new_index: HashMap<usize, usize> = kept.iter().enumerate().map(|(n, &i)| (i, n)).collect();

    let mut given = Given::default();
    for s in p.steps.iter().enumerate().filter(|(i, _)| !chosen.contains(i)).map(|(_, s)| s) {
        let outputs: IndexMap<String, String> = s
            .declared_outputs()
            .into_iter()
            .filter_map(|o| lookup(&variable(&s.id, o)).map(|v| (o.to_owned(), v.to_owned())))
            .collect();
        if !outputs.is_empty() {
            given.outputs.insert(s.id.clone(), outputs);
        }
    }

    let mut steps = Vec::new();
    for &i in &kept {
        let step = &p.steps[i];
        for &d in step.needs.iter().filter(|d| !chosen.contains(d)) {
            let need = &p.steps[d];
            let status = lookup(&status_variable(&need.id));
            let why = match status {
                Some("skipped" | "cancelled") => Some("was skipped"),
                Some("failed") if !need.allow_failure => Some("failed"),
                _ => None,
            };
            if let Some(why) = why {
                given
                    .skip
                    .entry(new_index[&i])
                    .or_insert(format!("needs `{}`, which {why} in an earlier job", need.id));
            }
        }
        if !given.skip.contains_key(&new_index[&i]) {
            for (target, output) in output_refs(step) {
                let Some(t) = p.step_index(&target) else { continue };
                if chosen.contains(&t) || given.outputs.get(&target).is_some_and(|o| o.contains_key(&output)) {
                    continue;
                }
                errors.push(format!(
                    "step `{}` uses `${{{{ steps.{target}.outputs.{output} }}}}`, but `{target}` is not in --only and {} is not set (pass the dotenv report of the job that ran `{target}`, or add `--only {target}`)",
                    step.id,
                    variable(&target, &output)
                ));
            }
        }
        let mut s = step.clone();
        s.needs = step.needs.iter().filter_map(|d| new_index.get(d).copied()).collect();
        steps.push(s);
    }
    if !errors.is_empty() {
        errors.sort();
        errors.dedup();
        return Err(errors);
    }
    Ok((Pipeline { steps, ..p.clone() }, given))
}

/// Every `${{ steps.X.outputs.Y }}` a step uses (command, env, options, `if:`).
pub(crate) fn output_refs(step: &Step) -> Vec<(String, String)> {
    let mut templates: Vec<Template> = step.env.iter().map(|(_, t)| t.clone()).collect();
    match &step.action {
        Action::Run { command, .. } => templates.push(command.clone()),
        Action::Uses { with: Some(with), .. } => {
            with.visit_scalars(&mut |s, _, _| templates.extend(Template::parse(s, Mode::Full).ok()));
        }
        Action::Uses { with: None, .. } => {}
    }
    let mut out = Vec::new();
    if let Some((_, e)) = &step.condition {
        for (r, _) in e.refs() {
            if let Ref::StepOutput { step, output } = r {
                out.push((step.clone(), output.clone()));
            }
        }
    }
    for t in &templates {
        for (r, _, _) in t.refs() {
            if let Ref::StepOutput { step, output } = r {
                out.push((step.clone(), output.clone()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIPELINE: &str = "version: 1\nsteps:\n  build: { run: 'echo image=x >> $SHIPGATE_OUTPUT', outputs: [image] }\n  lint: { run: 'true' }\n  push: { needs: [build, lint], run: 'echo ${{ steps.build.outputs.image }}' }\n  bump: { needs: [push], run: 'true' }\n";

    fn pipeline() -> Pipeline {
        crate::pipeline::load_str("p.yaml".as_ref(), PIPELINE).map(|(p, _)| p).expect("valid")
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn keeps_the_chosen_steps_with_their_needs_among_them_and_takes_outputs_from_the_environment() {
        let (p, given) =
            select(&pipeline(), &["bump".into(), "push".into()], &env(&[("SHIPGATE_BUILD_IMAGE", "oci:x")]))
                .expect("selected");
        assert_eq!(p.steps.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["push", "bump"]);
        assert_eq!(p.steps[0].needs, Vec::<usize>::new());
        assert_eq!(p.steps[1].needs, [0]);
        assert_eq!(given.outputs["build"]["image"], "oci:x");
        assert!(given.skip.is_empty());
    }

    #[test]
    fn a_missing_output_or_an_unknown_step_is_an_error_naming_the_variable() {
        let e = select(&pipeline(), &["push".into(), "bild".into()], &[]).expect_err("errors");
        assert!(e.iter().any(|m| m.contains("--only bild: no such step (did you mean `build`?)")), "{e:?}");
        assert!(e.iter().any(|m| m.contains("SHIPGATE_BUILD_IMAGE is not set")), "{e:?}");
    }

    #[test]
    fn outputs_an_if_condition_reads_are_needed_too() {
        let text = "version: 1\nsteps:\n  a: { run: x, outputs: [go] }\n  b: { needs: [a], run: x }\n  c: { needs: [b], if: \"steps.a.outputs.go == 'yes'\", run: x }\n";
        let (p, _) = crate::pipeline::load_str("p.yaml".as_ref(), text).expect("valid");
        let e = select(&p, &["c".into()], &[]).expect_err("a's output is missing");
        assert!(e.iter().any(|m| m.contains("SHIPGATE_A_GO is not set")), "{e:?}");
        assert!(select(&p, &["c".into()], &env(&[("SHIPGATE_A_GO", "yes")])).is_ok());
    }

    #[test]
    fn a_need_skipped_or_failed_in_an_earlier_job_skips_the_step() {
        let vars = env(&[("SHIPGATE_BUILD_IMAGE", "oci:x"), ("SHIPGATE_LINT__STATUS", "skipped")]);
        let (_, given) = select(&pipeline(), &["push".into()], &vars).expect("selected");
        assert_eq!(given.skip[&0], "needs `lint`, which was skipped in an earlier job");
        // A skipped build left no output: the step is skipped, not an error.
        let (_, given) =
            select(&pipeline(), &["push".into()], &env(&[("SHIPGATE_BUILD__STATUS", "failed")])).expect("selected");
        assert_eq!(given.skip[&0], "needs `build`, which failed in an earlier job");
    }
}
