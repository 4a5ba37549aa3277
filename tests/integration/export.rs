//! `shipgate export gitlab-ci`: the child pipeline has GitLab's shape, and running its
//! jobs the way GitLab does (a fresh checkout each, artifacts and dotenv variables of
//! the jobs in `needs:` only) gives what one `shipgate run` gives.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::service::copy_tree;
use crate::support::{bin, read_dotenv, repo_root, run, shipgate};

fn export(dir: &Path, file: &str) -> Value {
    let r = run(shipgate(dir).args(["export", "gitlab-ci", file]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("# GitLab child pipeline of"), "{}", r.stdout);
    let (docs, errors) = shipgate::yaml::parse_documents(&r.stdout).expect("the export is YAML");
    assert!(errors.is_empty() && docs.len() == 1, "{errors:?}");
    docs[0].to_json()
}

fn jobs(doc: &Value) -> Vec<(&String, &Value)> {
    doc.as_object()
        .expect("a mapping")
        .iter()
        .filter(|(k, _)| !["stages", "variables", "default"].contains(&k.as_str()))
        .collect()
}

/// GitLab's shape (tests/fixtures/schemas/gitlab-ci-subset.json) and its rules on
/// needs: every needed job exists and sits in an earlier stage.
fn check_shape(doc: &Value) {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("tests/fixtures/schemas/gitlab-ci-subset.json")).expect("schema"),
    )
    .expect("schema JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator.iter_errors(doc).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:#?}\n{doc:#}");
    let stages: Vec<&str> = doc["stages"].as_array().expect("stages").iter().filter_map(Value::as_str).collect();
    let stage_of: HashMap<&str, usize> = jobs(doc)
        .into_iter()
        .map(|(name, job)| {
            let s = job["stage"].as_str().expect("stage");
            (name.as_str(), stages.iter().position(|x| *x == s).unwrap_or_else(|| panic!("{name}: unknown stage {s}")))
        })
        .collect();
    for (name, job) in jobs(doc) {
        for need in job["needs"].as_array().expect("needs") {
            let n = need["job"].as_str().expect("job");
            assert!(stage_of.contains_key(n), "{name} needs a job that does not exist: {n}");
            assert!(stage_of[n] < stage_of[name.as_str()], "{name} needs {n} of a later stage");
        }
    }
    for s in &stages {
        assert!(stage_of.values().any(|&i| stages[i] == *s), "stage {s} has no job");
    }
}

#[test]
fn the_release_exports_as_a_gitlab_child_pipeline() {
    let doc = export(&repo_root(), "pipelines/release.yaml");
    check_shape(&doc);
    // The Docker build and the push of its image share a runner; the rest is one job per step.
    let names: Vec<&str> = jobs(&doc).into_iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["test", "gate", "build+push", "dags", "bump"]);
    assert_eq!(
        doc["bump"]["needs"],
        serde_json::json!([
            { "job": "gate", "artifacts": true },
            { "job": "build+push", "artifacts": true },
            { "job": "dags", "artifacts": true }
        ])
    );
    assert_eq!(
        doc["gate"]["artifacts"]["reports"]["junit"],
        serde_json::json!([".shipgate/gate.junit.xml", "target/shipgate-release/gate.junit.xml"])
    );
}

const FANOUT: &str = r#"version: 1
name: fanout
steps:
  version:
    outputs: [tag]
    run: echo "tag=1.4.2" >> "$SHIPGATE_OUTPUT"
  lint:
    run: test -f app.sh
  build:
    needs: [version]
    uses: image.build
    with:
      copy: [{ from: app.sh, to: /app/app.sh, mode: "0755" }]
      entrypoint: [/app/app.sh]
      tags: ["${{ steps.version.outputs.tag }}"]
      output: out/images/app
  push:
    needs: [build, lint]
    uses: image.push
    with:
      image: ${{ steps.build.outputs.image }}
      to: ["oci:out/published:${{ steps.version.outputs.tag }}"]
  announce:
    needs: [push]
    if: ci.is_merge_request == 'true'
    run: echo "merge request"
  after-announce:
    needs: [announce]
    run: exit 1
  record:
    needs: [push]
    run: echo "${{ steps.push.outputs.digest }} ${{ steps.version.outputs.tag }}" > record.txt
"#;

fn project(dir: &Path) {
    std::fs::create_dir_all(dir).expect("mkdir");
    std::fs::write(dir.join("pipeline.yaml"), FANOUT).expect("write");
    std::fs::write(dir.join("app.sh"), "#!/bin/sh\necho app\n").expect("write");
}

#[test]
fn running_the_exported_jobs_like_gitlab_gives_what_one_run_gives() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = tmp.path().join("src");
    project(&src);
    let doc = export(&src, "pipeline.yaml");
    check_shape(&doc);

    // `shipgate` on PATH, as in the job image.
    let bin_dir = tmp.path().join("bin");
    std::fs::create_dir_all(&bin_dir).expect("mkdir");
    std::os::unix::fs::symlink(bin(), bin_dir.join("shipgate")).expect("symlink");
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());

    let stages: Vec<String> =
        doc["stages"].as_array().expect("stages").iter().filter_map(|s| s.as_str().map(str::to_owned)).collect();
    let mut done: HashMap<String, (bool, std::path::PathBuf)> = HashMap::new();
    for stage in &stages {
        for (name, job) in jobs(&doc).into_iter().filter(|(_, j)| j["stage"] == stage.as_str()) {
            let needs: Vec<&str> =
                job["needs"].as_array().expect("needs").iter().filter_map(|n| n["job"].as_str()).collect();
            // GitLab runs a job only when every job it needs succeeded.
            if !needs.iter().all(|n| done.get(*n).is_some_and(|(ok, _)| *ok)) {
                done.insert(name.clone(), (false, tmp.path().join("none")));
                continue;
            }
            let workdir = tmp.path().join("jobs").join(name);
            std::fs::create_dir_all(&workdir).expect("mkdir");
            copy_tree(&src, &workdir);
            let mut cmd = Command::new("sh");
            cmd.current_dir(&workdir).env_clear().env("PATH", &path).env("NO_COLOR", "1");
            for n in &needs {
                let (_, from) = &done[*n];
                copy_tree(&from.join(".artifacts"), &workdir);
                cmd.envs(read_dotenv(&from.join(".artifacts").join(format!(".shipgate/{}.env", n.replace('+', "_")))));
            }
            let script = job["script"][0].as_str().expect("script");
            let out = cmd.arg("-ec").arg(script).output().expect("sh");
            let ok = out.status.success();
            // Keep what `artifacts:` names, as GitLab uploads it.
            let keep = workdir.join(".artifacts");
            let artifacts = &job["artifacts"];
            let mut files: Vec<String> = artifacts["paths"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p.as_str().map(str::to_owned))
                .collect();
            files.extend(
                artifacts["reports"]
                    .as_object()
                    .expect("reports")
                    .values()
                    .filter_map(|v| v.as_str().map(str::to_owned)),
            );
            for f in files {
                let from = workdir.join(&f);
                if from.exists() {
                    let to = keep.join(&f);
                    std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
                    let cp = Command::new("cp").arg("-a").arg(&from).arg(&to).output().expect("cp");
                    assert!(cp.status.success());
                }
            }
            assert!(
                ok,
                "job {name} failed: {script}\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            done.insert(name.clone(), (ok, workdir));
        }
    }
    let env_of = |job: &str| read_dotenv(&done[job].1.join(format!(".shipgate/{job}.env")));
    // `announce`'s condition is false: skipped, and so its dependent, not run and not failed.
    assert_eq!(env_of("announce").get("SHIPGATE_ANNOUNCE__STATUS").map(String::as_str), Some("skipped"));
    assert_eq!(env_of("after-announce").get("SHIPGATE_AFTER_ANNOUNCE__STATUS").map(String::as_str), Some("skipped"));

    // The same pipeline in one run.
    let whole = tmp.path().join("whole");
    project(&whole);
    let r = run(shipgate(&whole).args(["run", "pipeline.yaml", "--report", "dotenv=all.env"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let all = read_dotenv(&whole.join("all.env"));
    let digest = &all["SHIPGATE_PUSH_DIGEST"];
    assert_eq!(env_of("push").get("SHIPGATE_PUSH_DIGEST"), Some(digest), "the fanned-out build differs");
    let record = std::fs::read_to_string(done["record"].1.join("record.txt")).expect("record ran");
    assert_eq!(record.trim(), format!("{digest} 1.4.2"));
    assert_eq!(record, std::fs::read_to_string(whole.join("record.txt")).expect("record"));
}

#[test]
fn a_job_without_its_needs_outputs_stops_before_running_anything() {
    let tmp = tempfile::tempdir().expect("tempdir");
    project(tmp.path());
    let r = run(shipgate(tmp.path()).args(["run", "pipeline.yaml", "--only", "push"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("SHIPGATE_BUILD_IMAGE is not set") && r.stderr.contains("SHIPGATE_VERSION_TAG is not set"),
        "{}",
        r.stderr
    );
    assert!(!tmp.path().join("out").exists(), "something ran");
    let r = run(shipgate(tmp.path()).args(["run", "pipeline.yaml", "--only", "pusj"]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--only pusj: no such step (did you mean `push`?)"), "{}", r.stderr);
}

#[test]
fn the_grafana_dashboard_reads_only_metrics_shipgate_writes() {
    // The demo runs every step kind that writes metrics.
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(tmp.path().join("pipelines")).expect("mkdir");
    copy_tree(&repo_root().join("pipelines"), &tmp.path().join("pipelines"));
    let r = run(shipgate(tmp.path()).args(["run", "pipelines/demo.yaml", "--metrics", "m.prom"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let metrics = std::fs::read_to_string(tmp.path().join("m.prom")).expect("metrics");
    let families: Vec<&str> = metrics.lines().filter_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next()).collect();

    let r = run(shipgate(tmp.path()).args(["export", "grafana-dashboard"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let dashboard: Value = serde_json::from_str(&r.stdout).expect("dashboard JSON");
    let mut exprs = Vec::new();
    collect_exprs(&dashboard, &mut exprs);
    assert!(exprs.len() >= 10, "{exprs:?}");
    let names = regex::Regex::new(r"shipgate_[a-z_]+").expect("regex");
    let mut used = std::collections::BTreeSet::new();
    for e in &exprs {
        for m in names.find_iter(e) {
            assert!(
                families.contains(&m.as_str()),
                "the dashboard reads {}, which shipgate does not write",
                m.as_str()
            );
            used.insert(m.as_str().to_owned());
        }
    }
    for f in &families {
        assert!(used.contains(*f), "no panel shows {f}");
    }
}

fn collect_exprs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, v) in o {
                match (k.as_str(), v) {
                    ("expr", Value::String(s)) => out.push(s.clone()),
                    _ => collect_exprs(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| collect_exprs(v, out)),
        _ => {}
    }
}

#[test]
fn the_include_template_has_gitlabs_shape_and_uses_flags_that_exist() {
    let text =
        std::fs::read_to_string(repo_root().join("pipelines/templates/shipgate.gitlab-ci.yml")).expect("template");
    let (docs, errors) = shipgate::yaml::parse_documents(&text).expect("YAML");
    assert!(errors.is_empty(), "{errors:?}");
    let doc = docs[0].to_json();
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("tests/fixtures/schemas/gitlab-ci-subset.json")).expect("schema"),
    )
    .expect("schema JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator.iter_errors(&doc).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let mut commands = 0;
    for (name, job) in jobs(&doc) {
        for line in job["script"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            let Some(rest) = line.strip_prefix("shipgate ") else { continue };
            commands += 1;
            let words: Vec<&str> = rest.split_whitespace().collect();
            let sub: Vec<&str> = if words[0] == "export" { words[..2].to_vec() } else { words[..1].to_vec() };
            let help = run(shipgate(&repo_root()).args(&sub).arg("--help"));
            assert_eq!(help.code, 0, "{name}: shipgate {sub:?} --help");
            for flag in words.iter().filter(|w| w.starts_with("--")) {
                let flag = flag.split('=').next().unwrap_or(flag);
                assert!(help.stdout.contains(flag), "{name}: `shipgate {}` has no {flag}", sub.join(" "));
            }
        }
    }
    assert_eq!(commands, 3);
}
