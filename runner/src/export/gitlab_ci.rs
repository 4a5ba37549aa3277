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
    /// Merged into the child pipeline's `default:` (tags, services, id_tokens, …).
    pub defaults: serde_json::Map<String, Value>,
    /// Steps that must share a job (files one leaves for the other, say).
    pub together: Vec<Vec<String>>,
}

/// GitLab's default limit of `needs:` per job.
const MAX_NEEDS: usize = 50;

/// One job: the steps it runs, in file order.
#[derive(Debug)]
struct Job {
    name: String,
    steps: Vec<usize>,
}

/// The child pipeline as a JSON value (written as YAML by the caller) and warnings;
/// `Err` for options that cannot be honoured.
pub fn export(p: &Pipeline, opts: &ExportOptions) -> Result<(Value, Vec<String>), String> {
    let mut warnings = Vec::new();
    let jobs = group(p, &opts.together, &mut warnings)?;
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
    let Some(order) = graph::topo_order(&deps) else {
        return Err(
            "the steps given to --together cannot share a job: a step between them runs in another job, so the jobs would wait for each other".into(),
        );
    };
    let levels = graph::levels(&deps, &order);
    let stages: Vec<String> =
        (0..levels.iter().max().map_or(0, |m| m + 1)).map(|l| format!("shipgate-{}", l + 1)).collect();

    let mut doc = serde_json::Map::new();
    doc.insert("stages".into(), json!(stages));
    doc.insert("variables".into(), json!({ "SHIPGATE_IMAGE": opts.image }));
    let mut default = serde_json::Map::new();
    default.insert("image".into(), json!("$SHIPGATE_IMAGE"));
    default.extend(opts.defaults.clone());
    doc.insert("default".into(), Value::Object(default));
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
            files_of(&p.steps[s], &mut paths, &mut junits, &mut reports, &mut warnings);
        }
        if needs.len() > MAX_NEEDS {
            warnings.push(format!(
                "job `{}` needs {} jobs; GitLab takes at most {MAX_NEEDS} by default (the `ci_needs_size_limit` of the instance)",
                job.name,
                needs.len()
            ));
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
        if let Some(t) = job_timeout(p, &job.steps) {
            body.insert("timeout".into(), json!(t));
        }
        doc.insert(job.name.clone(), Value::Object(body));
    }
    Ok((Value::Object(doc), warnings))
}

/// The job's `timeout:` when every step has one: each step's attempts, their backoffs,
/// and ten minutes for the job to start and finish.
fn job_timeout(p: &Pipeline, steps: &[usize]) -> Option<String> {
    let mut total = std::time::Duration::from_secs(600);
    for &s in steps {
        let step = &p.steps[s];
        let attempts = step.retry.attempts.max(1);
        total += step.timeout? * attempts;
        total += (2..=attempts).map(|a| step.retry.delay(a, 40)).sum::<std::time::Duration>();
    }
    let minutes = total.as_secs().div_ceil(60);
    Some(match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m}m"),
        (h, 0) => format!("{h}h"),
        (h, m) => format!("{h}h {m}m"),
    })
}

/// Steps into jobs: one each, but the steps of each `--together` list in one, and a
/// Docker-Engine image build with the `image.push` steps that push its image (unless
/// that would make a cycle).
fn group(p: &Pipeline, together: &[Vec<String>], warnings: &mut Vec<String>) -> Result<Vec<Job>, String> {
    let n = p.steps.len();
    let mut leader: Vec<usize> = (0..n).collect();
    for list in together {
        let mut members = Vec::new();
        for id in list {
            members.push(p.step_index(id).ok_or_else(|| format!("--together {}: no step `{id}`", list.join(",")))?);
        }
        for pair in members.windows(2) {
            union(&mut leader, pair[0], pair[1]);
        }
    }
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
                union(&mut leader, b, s);
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
    Ok(jobs)
}

/// One set (the lower index leads, so jobs keep file order).
fn union(leader: &mut [usize], a: usize, b: usize) {
    let (x, y) = (find(leader, a), find(leader, b));
    leader[x.max(y)] = x.min(y);
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
    warnings: &mut Vec<String>,
) {
    let literal = |s: &str| Template::parse(s, Mode::Full).is_ok_and(|t| t.is_literal());
    match step.action.kind_name() {
        "image.build" if !is_docker_build(step) => match with_str(step, "output") {
            Some(out) if !literal(out) => warnings.push(format!(
                "`{}` writes its image to `{out}`, known only when it runs: it is not passed on as an artifact; give a fixed `output:`, or --together `{}` and the steps that push it",
                step.id, step.id
            )),
            out => paths.push(out.unwrap_or("target/shipgate-images/").to_owned()),
        },
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
        let opts = ExportOptions {
            file: "ci/p.yaml".into(),
            image: "shipgate:1".into(),
            defaults: serde_json::Map::new(),
            together: Vec::new(),
        };
        export(&p, &opts).expect("exports")
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
    fn steps_given_together_share_a_job_with_a_timeout_covering_their_attempts() {
        let text = "version: 1\nsteps:\n  stage: { run: 'mkdir -p out', timeout: 20m }\n  use: { needs: [stage], run: 'ls out', timeout: 30m, retry: { attempts: 2, backoff: 1m } }\n  after: { needs: [use], run: 'true' }\n";
        let (p, _) = crate::pipeline::load_str("p.yaml".as_ref(), text).expect("valid");
        let mut opts = ExportOptions {
            file: "p.yaml".into(),
            image: "shipgate:1".into(),
            defaults: serde_json::Map::new(),
            together: vec![vec!["stage".into(), "use".into()]],
        };
        opts.defaults.insert("tags".into(), json!(["docker"]));
        let (doc, _) = export(&p, &opts).expect("exports");
        assert_eq!(doc["stage+use"]["timeout"], "1h 32m", "20m + 2 × 30m + a 1m backoff (+20% jitter) + 10m");
        assert_eq!(doc["default"], json!({ "image": "$SHIPGATE_IMAGE", "tags": ["docker"] }));
        assert_eq!(doc["after"]["needs"], json!([{ "job": "stage+use", "artifacts": true }]));
        assert!(doc["after"].get("timeout").is_none(), "no step timeout, GitLab's default");
        // Together across a step of another job: the jobs would wait for each other.
        opts.together = vec![vec!["stage".into(), "after".into()]];
        assert!(export(&p, &opts).expect_err("a cycle").contains("cannot share a job"));
        opts.together = vec![vec!["stage".into(), "nope".into()]];
        assert!(export(&p, &opts).expect_err("unknown").contains("no step `nope`"));
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
