//! `shipgate export gitlab-ci FILE`: the pipeline as a GitLab child pipeline, so a
//! pipeline too big for one runner fans out over GitLab's runners. One job per step
//! (`shipgate run FILE --only STEP`), `needs:` mapped, step outputs passed from job to
//! job as `dotenv` reports (GitLab turns them into variables of the jobs that need
//! them; `--only` reads them back), files an image build leaves passed as artifacts.
//!
//! A Docker-Engine build stays on the runner that built it, so it shares one job with
//! the pushes of its image.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Value, json};

use crate::graph;
use crate::pipeline::interpolate::{Mode, Template};
use crate::pipeline::{Action, Pipeline, Step};

/// Keywords GitLab reserves at the top level: a step with such an id gets a prefix.
const RESERVED: &[&str] = &[
    "image",
    "services",
    "stages",
    "types",
    "before_script",
    "after_script",
    "variables",
    "cache",
    "include",
    "default",
    "workflow",
    "pages",
    "spec",
];

#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// The pipeline file as the jobs see it (relative to the project directory).
    pub file: String,
    /// The image jobs run in (`$SHIPGATE_IMAGE`'s default).
    pub image: String,
}

/// One job: the steps it runs, in file order.
#[derive(Debug)]
struct Job {
    name: String,
    steps: Vec<usize>,
}

/// The child pipeline as a JSON value (written as YAML by the caller) and warnings.
pub fn export(p: &Pipeline, opts: &ExportOptions) -> (Value, Vec<String>) {
    let mut warnings = Vec::new();
    let jobs = group(p, &mut warnings);
    let job_of: HashMap<usize, usize> =
        jobs.iter().enumerate().flat_map(|(j, job)| job.steps.iter().map(move |&s| (s, j))).collect();
    // Job-level needs: every step a member needs or takes an output from, outside the job
    // (GitLab hands a job the dotenv reports of the jobs it lists, not of their needs).
    let deps: Vec<Vec<usize>> = jobs
        .iter()
        .enumerate()
        .map(|(j, job)| {
            let mut set = BTreeSet::new();
            for &s in &job.steps {
                let step = &p.steps[s];
                let referenced = output_sources(step).into_iter().filter_map(|id| p.step_index(&id));
                for d in step.needs.iter().copied().chain(referenced) {
                    if job_of[&d] != j {
                        set.insert(job_of[&d]);
                    }
                }
            }
            set.into_iter().collect()
        })
        .collect();
    let order = graph::topo_order(&deps).unwrap_or_else(|| (0..jobs.len()).collect());
    let levels = graph::levels(&deps, &order);
    let stages: Vec<String> =
        (0..levels.iter().max().map_or(0, |m| m + 1)).map(|l| format!("shipgate-{}", l + 1)).collect();

    let mut doc = serde_json::Map::new();
    doc.insert("stages".into(), json!(stages));
    doc.insert("variables".into(), json!({ "SHIPGATE_IMAGE": opts.image }));
    doc.insert("default".into(), json!({ "image": "$SHIPGATE_IMAGE" }));
    for (j, job) in jobs.iter().enumerate() {
        let env_file = format!(".shipgate/{}.env", file_stem(&job.name));
        let junit = format!(".shipgate/{}.junit.xml", file_stem(&job.name));
        let only: Vec<&str> = job.steps.iter().map(|&s| p.steps[s].id.as_str()).collect();
        let script = format!(
            "shipgate run {} --only {} --report dotenv={env_file} --report junit={junit}",
            shell_word(&opts.file),
            only.join(",")
        );
        let needs: Vec<Value> = deps[j].iter().map(|&d| json!({ "job": jobs[d].name, "artifacts": true })).collect();
        let mut paths: Vec<String> = Vec::new();
        let mut reports = serde_json::Map::new();
        reports.insert("dotenv".into(), json!(env_file));
        let mut junits = vec![junit];
        for &s in &job.steps {
            files_of(&p.steps[s], &mut paths, &mut junits, &mut reports);
        }
        reports.insert("junit".into(), if junits.len() == 1 { json!(junits[0]) } else { json!(junits) });
        let mut artifacts = serde_json::Map::new();
        artifacts.insert("when".into(), json!("always"));
        if !paths.is_empty() {
            artifacts.insert("paths".into(), json!(paths));
        }
        artifacts.insert("reports".into(), Value::Object(reports));
        let mut body = serde_json::Map::new();
        body.insert("stage".into(), json!(stages[levels[j]]));
        body.insert("needs".into(), json!(needs));
        body.insert("script".into(), json!([script]));
        body.insert("artifacts".into(), Value::Object(artifacts));
        if job.steps.iter().all(|&s| p.steps[s].allow_failure) {
            body.insert("allow_failure".into(), json!(true));
        }
        doc.insert(job.name.clone(), Value::Object(body));
    }
    (Value::Object(doc), warnings)
}

/// Steps into jobs: one each, but a Docker-Engine image build together with the
/// `image.push` steps that push its image (unless that would make a cycle).
fn group(p: &Pipeline, warnings: &mut Vec<String>) -> Vec<Job> {
    let n = p.steps.len();
    let mut leader: Vec<usize> = (0..n).collect();
    let closure = graph::transitive(&p.deps());
    for (b, build) in p.steps.iter().enumerate() {
        if !is_docker_build(build) {
            continue;
        }
        for (s, step) in p.steps.iter().enumerate() {
            let pushes_it = step.action.kind_name() == "image.push" && output_sources(step).contains(&build.id);
            if !pushes_it {
                continue;
            }
            // Merging b and s is safe unless s reaches b through a third step.
            let through_other = closure[s].iter().any(|&x| x != b && closure[x].contains(&b));
            if through_other {
                warnings.push(format!(
                    "`{}` builds with the Docker Engine and `{}` pushes its image, but they cannot share a job (another step sits between them): the image will not reach `{}`'s runner; use `backend: native`",
                    build.id, step.id, step.id
                ));
            } else {
                let (l1, l2) = (find(&mut leader, b), find(&mut leader, s));
                leader[l2.max(l1)] = l1.min(l2);
            }
        }
    }
    let mut jobs: Vec<Job> = Vec::new();
    let mut index: HashMap<usize, usize> = HashMap::new();
    for s in 0..n {
        let l = find(&mut leader, s);
        match index.get(&l) {
            Some(&j) => jobs[j].steps.push(s),
            None => {
                index.insert(l, jobs.len());
                jobs.push(Job { name: String::new(), steps: vec![s] });
            }
        }
    }
    for job in &mut jobs {
        let ids: Vec<&str> = job.steps.iter().map(|&s| p.steps[s].id.as_str()).collect();
        let name = ids.join("+");
        job.name = if RESERVED.contains(&name.as_str()) { format!("step-{name}") } else { name };
    }
    jobs
}

fn find(leader: &mut [usize], mut i: usize) -> usize {
    while leader[i] != i {
        leader[i] = leader[leader[i]];
        i = leader[i];
    }
    i
}

fn with_str<'a>(step: &'a Step, key: &str) -> Option<&'a str> {
    match &step.action {
        Action::Uses { with: Some(w), .. } => w.get(key).and_then(|n| n.as_str()),
        _ => None,
    }
}

fn is_docker_build(step: &Step) -> bool {
    step.action.kind_name() == "image.build" && with_str(step, "backend") == Some("docker")
}

/// Ids of the steps whose outputs a step uses.
fn output_sources(step: &Step) -> Vec<String> {
    crate::exec::only::output_refs(step).into_iter().map(|(s, _)| s).collect()
}

/// Files a step leaves for later jobs (artifacts:paths) and reports GitLab reads.
fn files_of(
    step: &Step,
    paths: &mut Vec<String>,
    junits: &mut Vec<String>,
    reports: &mut serde_json::Map<String, Value>,
) {
    let literal = |s: &str| Template::parse(s, Mode::Full).is_ok_and(|t| t.is_literal());
    match step.action.kind_name() {
        "image.build" if !is_docker_build(step) => {
            let out = with_str(step, "output").filter(|o| literal(o)).unwrap_or("target/shipgate-images/");
            paths.push(out.to_owned());
        }
        "policy.check" => {
            let Action::Uses { with: Some(w), .. } = &step.action else { return };
            let Some(output) = w.get("output") else { return };
            for (format, key) in [("junit", None), ("gitlab", Some("codequality")), ("sarif", None), ("json", None)] {
                let Some(file) = output.get(format).and_then(|n| n.as_str()).filter(|f| literal(f)) else { continue };
                paths.push(file.to_owned());
                match (format, key) {
                    ("junit", _) => junits.push(file.to_owned()),
                    (_, Some(k)) => {
                        reports.insert(k.into(), json!(file));
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

fn file_stem(job: &str) -> String {
    job.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

/// A word the shell takes as it is.
fn shell_word(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+:=@".contains(c)) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn export_of(text: &str) -> (Value, Vec<String>) {
        let (p, _) = crate::pipeline::load_str("p.yaml".as_ref(), text).expect("valid");
        export(&p, &ExportOptions { file: "ci/p.yaml".into(), image: "shipgate:1".into() })
    }

    #[test]
    fn one_job_per_step_with_needs_stages_and_dotenv_reports() {
        let (doc, warnings) = export_of(
            "version: 1\nsteps:\n  a: { run: 'echo x=1 >> $SHIPGATE_OUTPUT', outputs: [x] }\n  b: { needs: [a], run: 'true' }\n  c: { needs: [b], run: 'echo ${{ steps.a.outputs.x }}' }\n  image: { needs: [c], run: 'true', allow_failure: true }\n",
        );
        assert!(warnings.is_empty());
        assert_eq!(doc["stages"], json!(["shipgate-1", "shipgate-2", "shipgate-3", "shipgate-4"]));
        // `c` takes an output of `a`, which it needs only through `b`: the job needs `a` too.
        assert_eq!(doc["c"]["needs"], json!([{ "job": "a", "artifacts": true }, { "job": "b", "artifacts": true }]));
        assert_eq!(doc["c"]["stage"], "shipgate-3");
        assert_eq!(
            doc["c"]["script"][0],
            "shipgate run ci/p.yaml --only c --report dotenv=.shipgate/c.env --report junit=.shipgate/c.junit.xml"
        );
        assert_eq!(doc["c"]["artifacts"]["reports"]["dotenv"], ".shipgate/c.env");
        assert_eq!(doc["step-image"]["stage"], "shipgate-4");
        assert_eq!(doc["step-image"]["allow_failure"], true);
        assert_eq!(doc["a"]["needs"], json!([]));
    }

    #[test]
    fn a_docker_build_shares_a_job_with_the_push_of_its_image() {
        let (doc, _) = export_of(
            "version: 1\nsteps:\n  build: { uses: image.build, with: { backend: docker, context: app, tags: [a:1] } }\n  gate: { uses: policy.check, with: { paths: [deploy], output: { junit: g.xml, gitlab: cq.json } } }\n  push: { needs: [build, gate], uses: image.push, with: { image: '${{ steps.build.outputs.image }}', to: ['r/a:1'] } }\n  bump: { needs: [push], run: 'echo ${{ steps.push.outputs.digest }}' }\n",
        );
        let jobs: Vec<&str> = doc
            .as_object()
            .expect("map")
            .keys()
            .map(String::as_str)
            .filter(|k| !["stages", "variables", "default"].contains(k))
            .collect();
        assert_eq!(jobs, ["build+push", "gate", "bump"]);
        assert_eq!(doc["build+push"]["needs"], json!([{ "job": "gate", "artifacts": true }]));
        assert!(doc["build+push"]["script"][0].as_str().is_some_and(|s| s.contains("--only build,push ")));
        assert_eq!(doc["gate"]["artifacts"]["reports"]["codequality"], "cq.json");
        assert_eq!(doc["gate"]["artifacts"]["reports"]["junit"], json!([".shipgate/gate.junit.xml", "g.xml"]));
        assert_eq!(doc["bump"]["needs"], json!([{ "job": "build+push", "artifacts": true }]));
    }
}
