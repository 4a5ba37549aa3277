//! The broken-pipeline corpus: every file fails validation with exit 2, and every error
//! has file:line:col, a source snippet with a caret and a `help:` line. The full
//! messages are snapshotted.

use crate::support::{repo_root, run, shipgate};

fn corpus() -> Vec<std::path::PathBuf> {
    let dir = repo_root().join("tests/fixtures/broken");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn corpus_has_at_least_twenty_broken_pipelines() {
    assert!(corpus().len() >= 20, "corpus has {} files", corpus().len());
}

#[test]
fn every_broken_pipeline_is_rejected_with_positions_and_hints() {
    for file in corpus() {
        let rel = file.strip_prefix(repo_root()).expect("inside repo").to_path_buf();
        let out = run(shipgate(&repo_root()).arg("validate").arg(&rel));
        assert_eq!(out.code, 2, "{}: exit {}\n{}", rel.display(), out.code, out.stderr);
        let blocks: Vec<&str> =
            out.stderr.split("\n\n").filter(|b| b.starts_with("error: ") && b.contains("-->")).collect();
        assert!(!blocks.is_empty(), "{}: no diagnostic\n{}", rel.display(), out.stderr);
        for b in &blocks {
            let location = format!("--> {}:", rel.display());
            assert!(b.contains(&location), "{}: no file:line:col in\n{b}", rel.display());
            let pos = b.split(&location).nth(1).and_then(|s| s.lines().next()).unwrap_or_default();
            let (line, col) = pos.split_once(':').unwrap_or_default();
            assert!(
                line.parse::<usize>().is_ok_and(|l| l > 0) && col.parse::<usize>().is_ok_and(|c| c > 0),
                "{}: bad position `{pos}`",
                rel.display()
            );
            assert!(b.contains('^'), "{}: no caret in\n{b}", rel.display());
            assert!(b.contains("= help: "), "{}: no help line in\n{b}", rel.display());
        }
        assert!(out.stderr.contains("nothing ran"), "{}", rel.display());
        let name = rel.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        insta::assert_snapshot!(name, out.stderr);
    }
}

#[test]
fn all_errors_of_a_file_are_reported_at_once() {
    let out = run(shipgate(&repo_root()).args(["validate", "tests/fixtures/broken/26-many-errors-at-once.yaml"]));
    for expected in ["unknown key `timout`", "unknown step `tests`", "`maybe`", "dependency cycle", "unknown key `iff`"]
    {
        assert!(out.stderr.contains(expected), "missing `{expected}` in\n{}", out.stderr);
    }
    assert!(out.stderr.contains("has 5 errors"));
}

#[test]
fn validate_json_lists_findings_on_stdout() {
    let out = run(shipgate(&repo_root()).args([
        "validate",
        "--format",
        "json",
        "tests/fixtures/broken/02-unknown-step-key.yaml",
    ]));
    assert_eq!(out.code, 2);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("json on stdout");
    assert_eq!(v[0]["line"], 6);
    assert_eq!(v[0]["column"], 5);
    assert_eq!(v[0]["severity"], "error");
    assert_eq!(v[0]["help"], "did you mean `needs`?");
}

#[test]
fn run_and_plan_refuse_broken_pipelines_before_running_anything() {
    let (dir, path) = crate::support::pipeline(
        "version: 1\nsteps:\n  a: { run: touch ran, needs: [b] }\n  b: { run: touch ran, neds: [] }\n",
    );
    for cmd in ["run", "plan"] {
        let out = run(shipgate(dir.path()).arg(cmd).arg(&path));
        assert_eq!(out.code, 2, "{cmd}: {}", out.stderr);
        assert!(out.stderr.contains("did you mean `needs`?"));
    }
    assert!(!dir.path().join("ran").exists());
}

#[test]
fn missing_file_and_bad_flags_are_usage_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(shipgate(dir.path()).args(["run", "nope.yaml"]));
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("cannot read the pipeline file"), "{}", out.stderr);
    assert_eq!(run(shipgate(dir.path()).args(["run", "--jobs", "0", "x.yaml"])).code, 2);
    assert_eq!(run(shipgate(dir.path()).args(["run", "--report", "xml=out.xml", "x.yaml"])).code, 2);
    assert_eq!(run(shipgate(dir.path()).args(["frobnicate"])).code, 2);
    let help = run(shipgate(dir.path()).arg("--help"));
    assert_eq!(help.code, 0);
    assert!(help.stdout.contains("Examples:") && help.stdout.contains("Exit codes:"));
    let version = run(shipgate(dir.path()).arg("--version"));
    assert_eq!(version.code, 0);
    assert!(version.stdout.starts_with("shipgate "));
}

#[test]
fn unset_variables_fail_before_anything_runs() {
    let (dir, path) = crate::support::pipeline(
        "version: 1\nenv:\n  REPO: ${GITOPS_REPO}\nsteps:\n  a: { run: touch ran }\n  b:\n    env: { X: \"${ALSO_UNSET}\" }\n    run: touch ran\n",
    );
    let out = run(shipgate(dir.path()).arg("run").arg(&path));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("variable `GITOPS_REPO` is not set"), "{}", out.stderr);
    assert!(out.stderr.contains("variable `ALSO_UNSET` is not set"), "{}", out.stderr);
    assert!(!dir.path().join("ran").exists());
}
