//! `shipgate run`: ordering, failure propagation, outputs, retries, timeouts, exit codes.

use std::time::{Duration, Instant};

use crate::support::{pipeline, run, shipgate};

fn json_report(dir: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).expect("json report")).expect("json")
}

fn status<'a>(v: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    v["steps"].as_array().and_then(|s| s.iter().find(|s| s["id"] == id)).map(|s| &s["status"]).expect("step in report")
}

fn step<'a>(v: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    v["steps"].as_array().and_then(|s| s.iter().find(|s| s["id"] == id)).expect("step in report")
}

#[test]
fn the_demo_pipeline_runs_on_embedded_defaults() {
    let root = crate::support::repo_root();
    let dir = tempfile::tempdir().expect("tempdir");
    let bucket = format!("file://{}/bucket", dir.path().display());
    let gitops = dir.path().join("gitops.git");
    let published = dir.path().join("published");
    let demo = || {
        run(shipgate(&root)
            .args(["run", "pipelines/demo.yaml", "--report"])
            .arg(format!("json={}", dir.path().join("run.json").display()))
            .env("DEMO_BUCKET", &bucket)
            .env("DEMO_GITOPS_REPO", &gitops)
            .env("DEMO_IMAGE_DEST", format!("oci:{}", published.display())))
    };
    let out = demo();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = json_report(dir.path());
    assert_eq!(v["status"], "success");
    assert_eq!(step(&v, "version")["outputs"]["tag"], "1.4.2");
    let digest = step(&v, "package")["outputs"]["digest"].as_str().unwrap_or_default().to_owned();
    assert!(digest.starts_with("sha256:"), "{digest}");
    assert_eq!(step(&v, "push")["outputs"]["digest"], digest.as_str());
    assert_eq!(step(&v, "push")["outputs"]["ref"], format!("oci:{}@{digest}", published.display()));
    let index = std::fs::read_to_string(published.join("index.json")).expect("the image was published");
    assert!(index.contains(&digest) && index.contains("\"1.4.2\""), "{index}");
    assert_eq!(step(&v, "dags")["outputs"]["uploaded"], "4");
    assert!(dir.path().join("bucket/dags/common/tables.py").is_file());
    assert_eq!(step(&v, "bump")["outputs"]["changed"], "true");
    // The gate checked the demo's manifests and IAM policy and found nothing.
    assert_eq!(step(&v, "gate")["outputs"]["documents"], "3");
    assert_eq!(step(&v, "gate")["outputs"]["errors"], "0");
    assert_eq!(step(&v, "gate")["outputs"]["denied"], "false");
    let values = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(&gitops)
        .args(["show", "main:apps/shop-api/values.yaml"])
        .output()
        .expect("git");
    let values = String::from_utf8_lossy(&values.stdout).into_owned();
    assert!(values.contains("  tag: 1.4.2  # bumped by shipgate"), "{values}");
    // A second run changes nothing: the same image digest, no uploads, no commit.
    let again = demo();
    assert_eq!(again.code, 0, "{}", again.stderr);
    let v = json_report(dir.path());
    assert_eq!(step(&v, "package")["outputs"]["digest"], digest.as_str(), "the build is reproducible");
    assert_eq!(step(&v, "dags")["outputs"]["uploaded"], "0");
    assert_eq!(step(&v, "bump")["outputs"]["changed"], "false");
    assert!(again.stderr.contains("already up to date"), "{}", again.stderr);
    assert!(again.stderr.contains("0 blobs uploaded (0 bytes), 2 already there"), "{}", again.stderr);
}

#[test]
fn a_failure_skips_dependents_and_independent_branches_finish() {
    let (dir, path) = pipeline(
        "version: 1\nsteps:\n  bad: { run: exit 7 }\n  after: { needs: [bad], run: touch after }\n  later: { needs: [after], run: touch later }\n  other: { run: sleep 0.2 && touch other }\n  lint: { run: exit 1, allow_failure: true }\n  post-lint: { needs: [lint], run: touch post-lint }\n",
    );
    let out = run(shipgate(dir.path()).args(["run", "--report", "json=run.json"]).arg(&path));
    assert_eq!(out.code, 1, "{}", out.stderr);
    let v = json_report(dir.path());
    assert_eq!(status(&v, "bad"), "failed");
    assert_eq!(status(&v, "after"), "skipped");
    assert_eq!(status(&v, "later"), "skipped");
    assert_eq!(status(&v, "other"), "success");
    assert_eq!(status(&v, "lint"), "failed");
    assert_eq!(status(&v, "post-lint"), "success");
    assert_eq!(v["steps"][0]["exit_code"], 7);
    assert_eq!(v["steps"][1]["message"], "needs `bad`, which failed");
    assert_eq!(v["steps"][2]["message"], "needs `after`, which was skipped");
    assert!(dir.path().join("other").exists() && dir.path().join("post-lint").exists());
    assert!(!dir.path().join("after").exists() && !dir.path().join("later").exists());
}

#[test]
fn allowed_failures_alone_do_not_fail_the_run() {
    let (dir, path) =
        pipeline("version: 1\nsteps:\n  lint: { run: exit 3, allow_failure: true }\n  test: { run: \"true\" }\n");
    let out = run(shipgate(dir.path()).arg("run").arg(&path));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("(allowed to fail)"));
}

#[test]
fn outputs_flow_to_dependents_and_missing_outputs_fail() {
    let (dir, path) = pipeline(
        "version: 1\nsteps:\n  build:\n    outputs: [digest, notes]\n    run: |\n      echo \"digest=sha256:abc\" >> \"$SHIPGATE_OUTPUT\"\n      printf 'notes<<END\\nline 1\\nline 2\\nEND\\n' >> \"$SHIPGATE_OUTPUT\"\n  push:\n    needs: [build]\n    env: { DIGEST: \"${{ steps.build.outputs.digest }}\" }\n    run: echo \"$DIGEST\" > pushed && echo '${{ steps.build.outputs.digest }}' >> pushed\n  lazy:\n    outputs: [never]\n    run: \"true\"\n",
    );
    let out = run(shipgate(dir.path()).args(["run", "--report", "json=run.json"]).arg(&path));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(dir.path().join("pushed")).expect("pushed"), "sha256:abc\nsha256:abc\n");
    let v = json_report(dir.path());
    assert_eq!(v["steps"][0]["outputs"]["notes"], "line 1\nline 2");
    assert_eq!(status(&v, "lazy"), "failed");
    assert!(v["steps"][2]["message"].as_str().is_some_and(|m| m.contains("`never` not written")), "{}", v["steps"][2]);
}

#[test]
fn retries_with_backoff_until_success() {
    let (dir, path) = pipeline(
        "version: 1\nsteps:\n  flaky:\n    retry: { attempts: 3, backoff: 50ms }\n    run: |\n      n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count\n      test $n -ge 2\n",
    );
    let out = run(shipgate(dir.path()).args(["run", "--report", "json=run.json"]).arg(&path));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = json_report(dir.path());
    assert_eq!(v["steps"][0]["attempts"], 2);
    assert!(out.stderr.contains("retrying in"), "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(dir.path().join("count")).expect("count").trim(), "2");
}

#[test]
fn a_timeout_stops_the_whole_process_group() {
    let (dir, path) = pipeline(
        "version: 1\nsteps:\n  slow:\n    timeout: 1s\n    run: |\n      sleep 60 &\n      echo $! > child.pid\n      wait\n",
    );
    let start = Instant::now();
    let out = run(shipgate(dir.path()).args(["run", "--grace-period", "1s", "--report", "json=run.json"]).arg(&path));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(start.elapsed() < Duration::from_secs(30), "the timeout did not stop the step");
    let v = json_report(dir.path());
    assert_eq!(v["steps"][0]["failure"], "timeout");
    assert!(v["steps"][0]["message"].as_str().is_some_and(|m| m.starts_with("timed out after")));
    let pid: i32 = std::fs::read_to_string(dir.path().join("child.pid")).expect("pid").trim().parse().expect("pid");
    assert!(!crate::support::alive(pid), "the step's background child outlived the step");
}

#[test]
fn conditions_skip_steps_and_their_dependents() {
    let (dir, path) = pipeline(
        "version: 1\nsteps:\n  mr-only:\n    if: ci.is_merge_request == 'true'\n    run: touch mr\n  after: { needs: [mr-only], run: touch after }\n  tagged:\n    if: startsWith(ci.tag, 'v')\n    run: touch tagged\n",
    );
    let out = run(shipgate(dir.path())
        .args(["run", "--report", "json=run.json"])
        .arg(&path)
        .env("GITLAB_CI", "true")
        .env("CI_COMMIT_TAG", "v1.2.0"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = json_report(dir.path());
    assert_eq!(status(&v, "mr-only"), "skipped");
    assert_eq!(status(&v, "after"), "skipped");
    assert_eq!(status(&v, "tagged"), "success");
    assert!(!dir.path().join("mr").exists() && dir.path().join("tagged").exists());
}

#[test]
fn jobs_bounds_concurrency() {
    let mut text = String::from("version: 1\nsteps:\n");
    for i in 0..6 {
        text.push_str(&format!(
            "  s{i}:\n    run: |\n      mkdir -p running; touch running/{i}; ls running | wc -l >> peaks; sleep 0.2; rm running/{i}\n"
        ));
    }
    let (dir, path) = pipeline(&text);
    let out = run(shipgate(dir.path()).args(["run", "--jobs", "2"]).arg(&path));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let peaks = std::fs::read_to_string(dir.path().join("peaks")).expect("peaks");
    let max = peaks.lines().filter_map(|l| l.trim().parse::<u32>().ok()).max().expect("numbers");
    assert!(max <= 2, "more than 2 steps ran at once: {peaks}");
}

#[test]
fn fail_fast_cancels_running_steps() {
    let (dir, path) = pipeline(
        "version: 1\nsteps:\n  bad: { run: sleep 0.2 && exit 1 }\n  slow: { run: sleep 60 }\n  never: { needs: [slow], run: touch never }\n",
    );
    let start = Instant::now();
    let out = run(shipgate(dir.path())
        .args(["run", "--fail-fast", "--grace-period", "1s", "--report", "json=run.json"])
        .arg(&path));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(start.elapsed() < Duration::from_secs(30));
    let v = json_report(dir.path());
    assert_eq!(status(&v, "slow"), "cancelled");
    assert_eq!(status(&v, "never"), "skipped");
}

#[test]
fn gitlab_ci_folds_each_steps_output_into_a_section() {
    let (dir, path) = pipeline("version: 1\nsteps:\n  build: { run: echo compiling }\n");
    let out = run(shipgate(dir.path()).arg("run").arg(&path).env("GITLAB_CI", "true"));
    assert_eq!(out.code, 0);
    assert!(out.stderr.contains("section_start:") && out.stderr.contains(":build[collapsed=true]"), "{}", out.stderr);
    assert!(out.stderr.contains("\ncompiling\n"), "{}", out.stderr);
    assert!(out.stderr.contains("section_end:"), "{}", out.stderr);
}

#[test]
fn data_goes_to_stdout_and_the_run_log_to_stderr() {
    let (dir, path) = pipeline("version: 1\nsteps:\n  hello: { run: echo hello-from-step }\n");
    let out = run(shipgate(dir.path()).arg("run").arg(&path));
    assert_eq!(out.code, 0);
    assert!(out.stdout.is_empty(), "stdout: {}", out.stdout);
    assert!(out.stderr.contains("hello │ hello-from-step"));
}

#[test]
fn a_step_that_cannot_start_is_an_infrastructure_error() {
    let (dir, path) = pipeline("version: 1\nsteps:\n  test: { run: \"true\" }\n");
    // No `sh` on PATH: the runner's environment is broken, not the step (exit 3).
    let out = run(shipgate(dir.path()).args(["run", "--report", "json=run.json"]).arg(&path).env("PATH", dir.path()));
    assert_eq!(out.code, 3, "{}", out.stderr);
    let v = json_report(dir.path());
    assert_eq!(v["steps"][0]["failure"], "infrastructure");
    assert!(v["steps"][0]["message"].as_str().is_some_and(|m| m.contains("could not start `sh`")));
}
