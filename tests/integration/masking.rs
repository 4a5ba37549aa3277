//! Secrets never appear in stdout, stderr, the JSON or the JUnit report, even when a
//! step echoes them.

use crate::support::{pipeline, run, shipgate};

const DECLARED: &str = "canary-d3clared-s3cret";
const BY_NAME: &str = "canary-gl-token-value-42";

#[test]
fn secrets_are_masked_everywhere() {
    let (dir, path) = pipeline(
        "version: 1
secrets: [DEPLOY_CREDENTIAL]
steps:
  leak:
    outputs: [copy]
    run: |
      echo \"declared=$DEPLOY_CREDENTIAL\"
      echo \"token=$GITOPS_TOKEN\" >&2
      echo \"copy=$GITOPS_TOKEN\" >> \"$SHIPGATE_OUTPUT\"
  fail:
    needs: [leak]
    run: |
      echo \"about to fail with ${{ steps.leak.outputs.copy }}\"
      exit 1
",
    );
    let out = run(shipgate(dir.path())
        .args(["run", "-v", "--report", "json=run.json", "--report", "junit=junit.xml"])
        .arg(&path)
        .env("DEPLOY_CREDENTIAL", DECLARED)
        .env("GITOPS_TOKEN", BY_NAME));
    assert_eq!(out.code, 1, "{}", out.stderr);
    let json = std::fs::read_to_string(dir.path().join("run.json")).expect("json");
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).expect("junit");
    for (name, text) in [("stdout", &out.stdout), ("stderr", &out.stderr), ("json", &json), ("junit", &junit)] {
        for secret in [DECLARED, BY_NAME] {
            assert!(!text.contains(secret), "{name} leaks a secret:\n{text}");
        }
    }
    assert!(out.stderr.contains("declared=[MASKED]") && out.stderr.contains("token=[MASKED]"), "{}", out.stderr);
    assert!(json.contains("[MASKED]") && junit.contains("[MASKED]"));

    let plan = run(shipgate(dir.path()).args(["plan", "--format", "json"]).arg(&path).env("GITOPS_TOKEN", BY_NAME));
    assert!(!plan.stdout.contains(BY_NAME) && !plan.stderr.contains(BY_NAME));
}
