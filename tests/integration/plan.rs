//! `shipgate plan` / `run --dry-run`: resolved, ordered, and side-effect free.

use crate::support::{pipeline, repo_root, run, shipgate};

#[test]
fn plan_of_the_demo_pipeline() {
    // A bucket of its own, so that the plan (which lists it) does not depend on other runs.
    let bucket = tempfile::tempdir().expect("tempdir");
    let url = format!("file://{}", bucket.path().display());
    // A GitOps repository path of its own too (it does not exist yet: the plan says so).
    let gitops = bucket.path().join("gitops.git").display().to_string();
    let plan = |format: &str| {
        let out = run(shipgate(&repo_root())
            .args(["plan", "--format", format, "pipelines/demo.yaml"])
            .env("DEMO_BUCKET", &url)
            .env("DEMO_GITOPS_REPO", &gitops));
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.stdout.replace(&gitops, "<gitops>").replace(&url, "file://<bucket>")
    };
    insta::assert_snapshot!("plan_demo_human", plan("human"));
    let v: serde_json::Value = serde_json::from_str(&plan("json")).expect("plan json");
    insta::assert_snapshot!("plan_demo_json", serde_json::to_string_pretty(&v).expect("pretty"));
    assert!(std::fs::read_dir(bucket.path()).expect("bucket").next().is_none(), "planning wrote to the bucket");
}

#[test]
fn plan_orders_by_needs_and_touches_nothing() {
    let (dir, path) = pipeline(
        "version: 1\nsteps:\n  deploy: { run: touch deployed, needs: [build] }\n  build: { run: touch built, needs: [test] }\n  test: { run: touch tested }\n",
    );
    for args in [vec!["plan"], vec!["run", "--dry-run"]] {
        let out = run(shipgate(dir.path()).args(&args).arg(&path).args(["--format", "json"]));
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
        let ids: Vec<&str> = v["steps"].as_array().expect("steps").iter().filter_map(|s| s["id"].as_str()).collect();
        assert_eq!(ids, ["test", "build", "deploy"]);
        assert_eq!(v["steps"][2]["stage"], 2);
        assert_eq!(v["steps"][0]["actions"][0], "run: sh -ec 'touch tested'");
    }
    let files: Vec<_> =
        std::fs::read_dir(dir.path()).expect("dir").filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
    assert_eq!(files, ["pipeline.yaml"], "plan must not run anything");
}

#[test]
fn plan_evaluates_conditions_against_the_ci_context() {
    let (dir, path) = pipeline(
        "version: 1\nsteps:\n  comment:\n    if: $CI_PIPELINE_SOURCE == 'merge_request_event'\n    run: echo mr\n  always: { run: echo hi }\n",
    );
    let plan = |source: &str| {
        let out = run(shipgate(dir.path())
            .args(["plan", "--format", "json"])
            .arg(&path)
            .env("GITLAB_CI", "true")
            .env("CI_PIPELINE_SOURCE", source));
        serde_json::from_str::<serde_json::Value>(&out.stdout).expect("json")
    };
    assert_eq!(plan("merge_request_event")["steps"][0]["condition"]["value"], true);
    let push = plan("push");
    assert_eq!(push["steps"][0]["condition"]["value"], false);
    assert_eq!(push["steps"][0]["actions"][0], "skip: the condition is false");
}
