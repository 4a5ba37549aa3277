//! `shipgate check` and `shipgate policy test`: the built-in library on a corpus with
//! known findings, conftest-style policies, waivers, Terraform plans, fail-closed.

use std::collections::BTreeMap;
use std::path::Path;

use crate::support::{Run, repo_root, run, shipgate};

fn fixtures() -> std::path::PathBuf {
    repo_root().join("tests/fixtures/policy")
}

pub(crate) fn check(dir: &Path, args: &[&str]) -> Run {
    run(shipgate(dir).arg("check").args(args))
}

pub(crate) fn json(r: &Run) -> serde_json::Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", r.stdout, r.stderr))
}

/// (file name, line, rule) → how many times, from the findings of a JSON report.
fn found(v: &serde_json::Value, key: &str) -> BTreeMap<(String, u64, String), usize> {
    let mut out = BTreeMap::new();
    for f in v[key].as_array().into_iter().flatten() {
        let file = f["file"].as_str().unwrap_or_default().rsplit('/').next().unwrap_or_default().to_owned();
        let k = (file, f["line"].as_u64().unwrap_or(0), f["rule"].as_str().unwrap_or_default().to_owned());
        *out.entry(k).or_default() += 1;
    }
    out
}

#[test]
fn the_builtin_library_finds_what_the_corpus_expects_at_the_offending_line() {
    let corpus = fixtures().join("corpus");
    // Expected findings are written next to the offending line: `# expect: ID ID …`.
    let mut expected = BTreeMap::new();
    for e in std::fs::read_dir(&corpus).expect("corpus") {
        let p = e.expect("entry").path();
        let name = p.file_name().expect("name").to_string_lossy().into_owned();
        for (i, line) in std::fs::read_to_string(&p).expect("read").lines().enumerate() {
            if let Some((_, ids)) = line.split_once("# expect:") {
                for id in ids.split_whitespace() {
                    *expected.entry((name.clone(), i as u64 + 1, id.to_owned())).or_default() += 1;
                }
            }
        }
    }
    let r = check(&corpus, &[".", "--format", "json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = json(&r);
    assert_eq!(found(&v, "findings"), expected);
    assert_eq!(v["summary"]["documents"], 15);
    assert_eq!(v["summary"]["unvalidated"], 0, "every corpus kind has a schema");
    assert_eq!(v["summary"]["unchecked"], 0);

    // Every built-in rule is exercised by the corpus or the Terraform plan below.
    let set = shipgate::policy::engine::PolicySet::compile(&shipgate::policy::builtin::files(), Vec::new())
        .expect("library compiles");
    let mut covered: std::collections::BTreeSet<String> = expected.keys().map(|k| k.2.clone()).collect();
    covered.insert("SG-GCP-008".into());
    let mut ids: std::collections::BTreeSet<String> = set.docs().keys().cloned().collect();
    ids.insert(shipgate::policy::schema::RULE.into());
    assert_eq!(ids, covered, "rules without a corpus case");
}

#[test]
fn a_clean_file_passes_and_the_human_report_shows_the_offending_line() {
    let corpus = fixtures().join("corpus");
    let ok = check(&corpus, &["workload-good.yaml"]);
    assert_eq!(ok.code, 0, "{}\n{}", ok.stdout, ok.stderr);
    assert!(ok.stdout.contains("passed: 1 document in 1 file (1 kubernetes): 0 errors, 0 warnings"), "{}", ok.stdout);

    let bad = check(&corpus, &["argocd.yaml"]);
    assert_eq!(bad.code, 1);
    insta::assert_snapshot!("check_argocd_human", bad.stdout);
    // Warnings alone pass, unless --fail-on warning.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("app.yaml"),
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a}\nspec:\n  project: default\n  source: {repoURL: \"https://gitlab.example.com/platform/gitops.git\", targetRevision: v1}\n  destination: {namespace: shop}\n",
    )
    .expect("write");
    assert_eq!(check(dir.path(), &["app.yaml"]).code, 0);
    assert_eq!(check(dir.path(), &["app.yaml", "--fail-on", "warning"]).code, 1);
}

#[test]
fn terraform_plans_are_checked_down_to_the_iam_inside_them() {
    let r = check(&fixtures().join("terraform"), &["plan.json", "--format", "json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = json(&r);
    let by_rule: BTreeMap<String, (String, u64)> = v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            let rule = f["rule"].as_str().unwrap_or_default().to_owned();
            (rule, (f["resource"].as_str().unwrap_or_default().to_owned(), f["line"].as_u64().unwrap_or(0)))
        })
        .collect();
    // Each finding names the Terraform address and points into that resource.
    assert_eq!(by_rule["SG-GCP-001"], ("google_project_iam_member.ci_owner".into(), 15));
    assert_eq!(by_rule["SG-GCP-002"], ("google_project_iam_member.ci_owner".into(), 15));
    assert_eq!(by_rule["SG-GCP-008"], ("google_service_account_key.ci".into(), 19));
    assert_eq!(by_rule["SG-AWS-001"], ("module.iam.aws_iam_policy.deployer".into(), 37));
    assert_eq!(by_rule["SG-GCP-007"], ("module.iam.google_project_iam_custom_role.ci".into(), 45));
    assert_eq!(v["summary"]["by_type"]["terraform-plan"], 1);
    // A member known only after apply (null in the plan) does not break the rules.
    assert_eq!(v["summary"]["by_type"]["gcp-iam-policy"], 2, "{v}");
    // A policy known only after apply is listed as not checked.
    assert!(
        v["unchecked"].as_array().expect("unchecked").iter().any(|u| u
            .as_str()
            .unwrap_or_default()
            .contains("module.iam.aws_iam_role_policy.late (`policy` known only after apply)")),
        "{v}"
    );

    // A policy string that is not JSON cannot be checked: the gate fails closed.
    let dir = tempfile::tempdir().expect("tempdir");
    let plan = std::fs::read_to_string(fixtures().join("terraform/plan.json")).expect("plan");
    std::fs::write(dir.path().join("plan.json"), plan.replace("{\\\"Version\\\"", "{\\\"Version\\\" oops"))
        .expect("write");
    let broken = check(dir.path(), &["plan.json"]);
    assert_eq!(broken.code, 2, "{}", broken.stderr);
    assert!(
        broken.stderr.contains("plan.json:37:") && broken.stderr.contains("`policy` is not valid JSON"),
        "{}",
        broken.stderr
    );
}

#[test]
fn a_conftest_policy_folder_runs_unchanged() {
    let dir = fixtures().join("conftest");
    let r = check(&dir, &["input.yaml", "--policy", ".", "--data", "data.yaml", "--no-builtin", "--format", "json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = json(&r);
    let msgs = |key: &str| -> Vec<(String, String, String)> {
        v[key]
            .as_array()
            .expect(key)
            .iter()
            .map(|f| {
                let s = |k: &str| f[k].as_str().unwrap_or_default().to_owned();
                (s("rule"), s("severity"), s("message"))
            })
            .collect()
    };
    assert_eq!(
        msgs("findings"),
        vec![
            ("main.deny".into(), "error".into(), "api: containers must not run as root".into()),
            ("main.deny_replicas".into(), "error".into(), "api: at least 2 replicas".into()),
            ("main.warn_team".into(), "warning".into(), "every Deployment needs a team label".into()),
            ("ORG-100".into(), "error".into(), "no public load balancers".into()),
            ("main.warn".into(), "warning".into(), "Service web has no owner annotation".into()),
        ]
    );
    // The exception exempts `deny_replicas` for `legacy`: listed as waived, not hidden.
    assert_eq!(
        msgs("waived"),
        vec![("main.deny_replicas".into(), "error".into(), "legacy: at least 2 replicas".into())]
    );

    // Namespaces: only `main` by default; --namespace and --all-namespaces select others.
    let sec = json(&check(
        &dir,
        &["input.yaml", "-p", ".", "-d", "data.yaml", "--no-builtin", "-n", "security", "--format", "json"],
    ));
    assert_eq!(sec["findings"].as_array().map(Vec::len), Some(1), "{sec}");
    let all = json(&check(
        &dir,
        &["input.yaml", "-p", ".", "-d", "data.yaml", "--no-builtin", "--all-namespaces", "--format", "json"],
    ));
    assert_eq!(all["findings"].as_array().map(Vec::len), Some(6), "{all}");
    let none = check(&dir, &["input.yaml", "-p", ".", "--no-builtin", "-n", "nope"]);
    assert_eq!(none.code, 2);
    assert!(
        none.stderr.contains("no policy in namespace nope (the policies define: main, security)"),
        "{}",
        none.stderr
    );
}

#[test]
fn policy_test_runs_test_rules_and_reports_each() {
    let r = run(shipgate(&fixtures().join("conftest")).args(["policy", "test", ".", "--data", "data.yaml"]));
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("PASS ./deployment_test.rego: data.main.test_root_denied"), "{}", r.stdout);
    assert!(r.stdout.contains("FAIL ./deployment_test.rego: data.main.test_a_wrong_expectation"), "{}", r.stdout);
    assert!(r.stdout.contains("2 passed, 1 failed"), "{}", r.stdout);
    // The built-in library's own tests all pass.
    let lib = run(shipgate(&fixtures()).args(["policy", "test", "--format", "json"]));
    assert_eq!(lib.code, 0, "{}", lib.stdout);
    let v = json(&lib);
    assert_eq!(v["failed"], 0);
    assert!(v["passed"].as_u64().unwrap_or(0) >= 80, "{v}");
}

#[test]
fn stdin_is_read_with_dash() {
    let mut cmd = shipgate(&fixtures());
    cmd.args(["check", "-", "--format", "json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let yaml = std::fs::read(fixtures().join("corpus/rbac.yaml")).expect("read");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), &yaml).expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["summary"]["documents"], 4);
    assert!(v["findings"].as_array().expect("findings").iter().all(|f| f["file"] == "-"));
}

#[test]
fn waivers_from_annotations_and_files_expire() {
    let dir = tempfile::tempdir().expect("tempdir");
    let deploy = |name: &str, annotation: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: shop\n  annotations:\n    shipgate.dev/waive: \"{annotation}\"\nspec:\n  serviceAccountName: x\n  securityContext: {{runAsNonRoot: true}}\n  containers:\n    - name: c\n      image: reg.example.com/c:latest\n      securityContext: {{allowPrivilegeEscalation: false}}\n      resources: {{requests: {{cpu: 1, memory: 1Gi}}, limits: {{memory: 1Gi}}}}\n"
        )
    };
    std::fs::write(dir.path().join("ok.yaml"), deploy("ok", "SG-K8S-007: vendor image; expires=2099-06-30"))
        .expect("w");
    std::fs::write(dir.path().join("old.yaml"), deploy("old", "SG-K8S-007: vendor image; expires=2026-01-31"))
        .expect("w");
    // A date in the past cannot bring the expired waiver back.
    let r = run(shipgate(dir.path()).args(["check", ".", "--format", "json"]).env("SHIPGATE_TODAY", "2026-01-01"));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = json(&r);
    assert_eq!(found(&v, "findings").keys().map(|k| k.0.as_str()).collect::<Vec<_>>(), vec!["old.yaml"]);
    assert_eq!(found(&v, "waived").keys().map(|k| k.0.as_str()).collect::<Vec<_>>(), vec!["ok.yaml"]);
    assert_eq!(v["expired_waivers"][0]["expired"], "2026-01-31", "{v}");
    assert!(v["waived"][0]["waived"].as_str().unwrap_or_default().contains("vendor image (until 2099-06-30"));

    // A waiver file covers the old one by resource glob (found in the working directory).
    std::fs::write(
        dir.path().join(".shipgate-waivers.yaml"),
        "waivers:\n  - rule: SG-K8S-007\n    resource: Pod/shop/o*\n    path: \"*.yaml\"\n    reason: migrating in Q1\n    expires: 2099-03-31\n",
    )
    .expect("w");
    let r = run(shipgate(dir.path()).args(["check", ".", "--format", "json"]));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(json(&r)["waived"].as_array().map(Vec::len), Some(2));

    // A broken waiver file fails closed, with the position of the mistake.
    std::fs::write(
        dir.path().join(".shipgate-waivers.yaml"),
        "waivers:\n  - rule: SG-K8S-007\n    reason: x\n    expires: someday\n    owner: me\n",
    )
    .expect("w");
    let r = check(dir.path(), &["."]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains(".shipgate-waivers.yaml:5:5") && r.stderr.contains("owner"), "{}", r.stderr);
    // An annotation without an expiry is an input error too.
    std::fs::remove_file(dir.path().join(".shipgate-waivers.yaml")).expect("rm");
    std::fs::write(dir.path().join("old.yaml"), deploy("old", "SG-K8S-007: forever")).expect("w");
    let r = check(dir.path(), &["."]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("old.yaml:7:25") && r.stderr.contains("has no `; expires=YYYY-MM-DD`"), "{}", r.stderr);
}

#[test]
fn the_gate_fails_closed_on_what_it_cannot_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path();
    let write = |name: &str, text: &str| std::fs::write(p.join(name), text).expect("write");
    write("good.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n");
    // Broken YAML: exit 2 with the position, although the other file is fine.
    write("broken.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: [unclosed\n");
    let r = check(p, &["."]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("broken.yaml:5:1") || r.stderr.contains("broken.yaml:4:"), "{}", r.stderr);
    assert!(r.stderr.contains("fails closed"), "{}", r.stderr);
    std::fs::remove_file(p.join("broken.yaml")).expect("rm");

    // A duplicate key would let the gate see one value and the cluster apply the other.
    write("dup.yaml", "apiVersion: v1\nkind: Pod\nspec:\n  hostNetwork: false\n  hostNetwork: true\n");
    let r = check(p, &["dup.yaml"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("dup.yaml:5:3") && r.stderr.contains("hostNetwork"), "{}", r.stderr);

    // A policy that does not compile, and one that fails while evaluating.
    write("bad.rego", "package main\n\ndeny contains msg if {\n  msg := \n}\n");
    let r = check(p, &["good.yaml", "--policy", "bad.rego"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("bad.rego") && r.stderr.contains("does not compile"), "{}", r.stderr);
    write(
        "eval.rego",
        "package main\n\ndeny contains msg if {\n  msg := sprintf(\"%d\", [input.metadata.name / 2])\n}\n",
    );
    let r = check(p, &["good.yaml", "--policy", "eval.rego"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    write("shadow.rego", "package shipgate.kubernetes\n\ndeny contains \"x\" if false\n");
    let r = check(p, &["good.yaml", "--policy", "shadow.rego"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("reserved for the built-in library"), "{}", r.stderr);

    // A folder that links to itself is read once, not for ever.
    std::fs::create_dir(p.join("sub")).expect("mkdir");
    std::fs::copy(p.join("good.yaml"), p.join("sub/good.yaml")).expect("copy");
    std::os::unix::fs::symlink(".", p.join("sub/loop")).expect("symlink");
    let looped = check(p, &["sub", "--format", "json"]);
    assert_eq!(looped.code, 0, "{}", looped.stderr);
    assert_eq!(json(&looped)["summary"]["documents"], 1, "each real folder is read once");
    std::fs::remove_dir_all(p.join("sub")).expect("rm");

    // Nothing to check is not a pass.
    std::fs::create_dir(p.join("empty")).expect("mkdir");
    assert_eq!(check(p, &["empty"]).code, 2);
    let missing = check(p, &["nope/"]);
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("cannot read nope/: no such file or folder"), "{}", missing.stderr);
}

#[test]
fn a_pipeline_gate_that_denies_stops_the_steps_after_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("deploy")).expect("mkdir");
    std::fs::copy(fixtures().join("corpus/rbac.yaml"), dir.path().join("deploy/rbac.yaml")).expect("copy");
    std::fs::write(
        dir.path().join("pipeline.yaml"),
        "version: 1\nsteps:\n  gate:\n    uses: policy.check\n    with: { paths: [deploy/], output: { json: gate.json } }\n  deploy:\n    needs: [gate]\n    run: touch deployed\n",
    )
    .expect("write");
    let r = run(shipgate(dir.path()).args(["run", "pipeline.yaml"]));
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("the policy gate denied: 5 errors, 3 warnings"), "{}", r.stderr);
    assert!(r.stderr.contains("[SG-RBAC-002]"), "{}", r.stderr);
    assert!(!dir.path().join("deployed").exists(), "a step after the denying gate ran");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("gate.json")).expect("report")).expect("json");
    assert_eq!(report["summary"]["errors"], 5);

    // The plan runs the gate too (it only reads) and tells the verdict.
    let plan = run(shipgate(dir.path()).args(["plan", "pipeline.yaml"]));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(plan.stdout.contains("would deny: 5 errors, 3 warnings, 0 waived in 4 documents"), "{}", plan.stdout);

    // Unknown options are load errors with their position.
    std::fs::write(
        dir.path().join("bad.yaml"),
        "version: 1\nsteps:\n  gate:\n    uses: policy.check\n    with: { paths: [deploy/], polices: [p/] }\n",
    )
    .expect("write");
    let bad = run(shipgate(dir.path()).args(["validate", "bad.yaml"]));
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("bad.yaml:5:31") && bad.stderr.contains("policies"), "{}", bad.stderr);
}

#[test]
fn every_report_format_is_written_and_well_formed() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(fixtures().join("corpus/argocd.yaml"), dir.path().join("argocd.yaml")).expect("copy");
    std::fs::write(
        dir.path().join(".shipgate-waivers.yaml"),
        "waivers:\n  - rule: SG-ARGO-003\n    reason: self-heal fights the HPA here\n    expires: 2099-01-01\n",
    )
    .expect("w");
    let mut args = vec!["argocd.yaml".to_owned()];
    for f in ["human", "json", "sarif", "junit", "gitlab"] {
        args.extend(["--output".to_owned(), format!("{f}={f}.out")]);
    }
    let r = run(shipgate(dir.path()).arg("check").args(&args));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let read = |f: &str| std::fs::read_to_string(dir.path().join(format!("{f}.out"))).expect("report written");
    assert!(!read("human").contains('\x1b'), "colour in a report file");

    // SARIF: valid against the SARIF 2.1.0 schema; the waived finding is a suppression.
    let sarif: serde_json::Value = serde_json::from_str(&read("sarif")).expect("sarif json");
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("tests/fixtures/schemas/sarif-2.1.0.json")).expect("schema"),
    )
    .expect("schema json");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> =
        validator.iter_errors(&sarif).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    insta::assert_snapshot!("check_sarif", read("sarif"));
    insta::assert_snapshot!("check_json", read("json"));
    insta::assert_snapshot!("check_gitlab", read("gitlab"));

    // Code Quality: the fields GitLab reads, unique stable fingerprints.
    let cq: serde_json::Value = serde_json::from_str(&read("gitlab")).expect("code quality json");
    let issues = cq.as_array().expect("array");
    assert_eq!(issues.len(), 2, "waived findings are not code quality issues");
    let mut prints = std::collections::BTreeSet::new();
    for i in issues {
        for key in ["description", "check_name", "fingerprint"] {
            assert!(i[key].as_str().is_some_and(|s| !s.is_empty()), "{key} in {i}");
        }
        assert!(["info", "minor", "major", "critical", "blocker"].contains(&i["severity"].as_str().unwrap_or("")));
        assert_eq!(i["location"]["path"], "argocd.yaml");
        assert!(i["location"]["lines"]["begin"].as_u64().is_some_and(|l| l > 0));
        prints.insert(i["fingerprint"].as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(prints.len(), 2);
    // Moving the findings down a line keeps their fingerprints.
    let moved = format!("# moved\n{}", std::fs::read_to_string(dir.path().join("argocd.yaml")).expect("read"));
    std::fs::write(dir.path().join("argocd.yaml"), moved).expect("w");
    let again = run(shipgate(dir.path()).args(["check", "argocd.yaml", "--output", "gitlab=moved.out"]));
    assert_eq!(again.code, 1);
    let moved: serde_json::Value = serde_json::from_str(&read("moved")).expect("json");
    let moved_prints: std::collections::BTreeSet<String> = moved
        .as_array()
        .expect("array")
        .iter()
        .map(|i| i["fingerprint"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(moved_prints, prints);

    // JUnit: one case per finding; the error fails, the warning passes, the waived one is skipped.
    let junit = read("junit");
    assert!(junit.contains("tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\""), "{junit}");
    let mut reader = quick_xml::Reader::from_str(&junit);
    let mut cases = 0;
    loop {
        match reader.read_event().expect("well-formed XML") {
            quick_xml::events::Event::Start(e) if e.name().as_ref() == b"testcase" => cases += 1,
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(cases, 3);
    insta::assert_snapshot!("check_junit", junit);

    let bad = run(shipgate(dir.path()).args(["check", "argocd.yaml", "--output", "pdf=x.pdf"]));
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("FORMAT one of: human, json, sarif, junit, gitlab"), "{}", bad.stderr);
}

#[test]
fn grants_beyond_the_permissions_budget_are_findings() {
    let dir = fixtures().join("budget");
    let r = check(&dir, &[".", "--permissions", "permissions.yaml", "--format", "json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = json(&r);
    let mut lp: Vec<(String, u64, String)> = v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule"].as_str().is_some_and(|s| s.starts_with("SG-LP-")))
        .map(|f| {
            let file = f["file"].as_str().unwrap_or_default().trim_start_matches("./").to_owned();
            (file, f["line"].as_u64().unwrap_or(0), f["message"].as_str().unwrap_or_default().to_owned())
        })
        .collect();
    lp.sort();
    assert_eq!(
        lp,
        vec![
            ("aws/deployer.json".into(), 5, "s3:deleteobject is beyond the budget of aws/deployer.json (s3:getobject, s3:putobject, ecr:*)".into()),
            ("gcp.yaml".into(), 7, "serviceAccount:ci@my-project.iam.gserviceaccount.com holds roles/storage.objectAdmin, beyond its budget (roles/run.developer, roles/artifactregistry.writer)".into()),
            ("rbac.yaml".into(), 14, "ServiceAccount/shop/shop-api can get secrets (core) through Role shop-api, beyond its budget".into()),
            ("rbac.yaml".into(), 14, "ServiceAccount/shop/shop-api can list secrets (core) through Role shop-api, beyond its budget".into()),
            ("rbac.yaml".into(), 23, "ServiceAccount/shop/report is bound to ClusterRole view, which is not among the checked documents: its grants cannot be held to the budget".into()),
        ]
    );
    // Within budget: no SG-LP findings (the group is not in the budget, so not judged).
    let ok = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        ok.path().join("p.yaml"),
        "gcp:\n  serviceAccount:ci@my-project.iam.gserviceaccount.com:\n    roles: [roles/run.developer, roles/storage.objectAdmin]\n",
    )
    .expect("w");
    std::fs::copy(dir.join("gcp.yaml"), ok.path().join("gcp.yaml")).expect("copy");
    let r = check(ok.path(), &["gcp.yaml", "--permissions", "p.yaml", "--format", "json"]);
    let v = json(&r);
    assert!(
        v["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .all(|f| !f["rule"].as_str().unwrap_or("").starts_with("SG-LP")),
        "{v}"
    );

    // A budget with a typo is an error with its position, not an empty budget.
    std::fs::write(ok.path().join("bad.yaml"), "gpc:\n  x: {roles: []}\n").expect("w");
    let bad = check(ok.path(), &["gcp.yaml", "--permissions", "bad.yaml"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("bad.yaml:1:1") && bad.stderr.contains("gcp"), "{}", bad.stderr);
}

#[test]
fn manifests_are_validated_against_strict_schemas_offline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path();
    std::fs::write(
        p.join("deploy.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: shop}\nspec:\n  replicas: two\n  template:\n    spec:\n      serviceAccountName: api\n      containers: [{name: api, image: r/api:1, imagePullPolcy: Always}]\n---\napiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: api}\nspec:\n  endpoints: [{port: web}]\n  selecter: {}\n",
    )
    .expect("w");
    let r = check(p, &["deploy.yaml", "--format", "json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = json(&r);
    let schema: Vec<(u64, String)> = v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule"] == "SG-SCHEMA-001")
        .map(|f| (f["line"].as_u64().unwrap_or(0), f["message"].as_str().unwrap_or_default().to_owned()))
        .collect();
    assert!(
        schema.iter().any(|(l, m)| *l == 5 && m.starts_with("spec.replicas: ") && m.contains("integer")),
        "{schema:?}"
    );
    assert!(
        schema.iter().any(|(l, m)| *l == 9 && m == "spec.template.spec.containers[0]: unknown field `imagePullPolcy`"),
        "{schema:?}"
    );
    assert!(schema.iter().any(|(_, m)| m.contains("selector")), "a required field is missing: {schema:?}");
    // A kind with no schema is reported as not validated, never passed silently.
    assert_eq!(v["summary"]["unvalidated"], 1, "{v}");
    assert!(
        v["unvalidated"][0]
            .as_str()
            .unwrap_or_default()
            .contains("no schema for monitoring.coreos.com/v1 ServiceMonitor")
    );
    let human = check(p, &["deploy.yaml"]);
    assert!(human.stdout.contains("not validated (1: no schema for their kind"), "{}", human.stdout);

    // With a CRD catalog the custom resource is validated too.
    let catalog = p.join("catalog/monitoring.coreos.com");
    std::fs::create_dir_all(&catalog).expect("mkdir");
    std::fs::write(
        catalog.join("servicemonitor_v1.json"),
        r#"{"type": "object", "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"}, "spec": {"type": "object", "additionalProperties": false, "properties": {"endpoints": {"type": "array"}, "selector": {"type": "object"}}}}}"#,
    )
    .expect("w");
    let v = json(&check(p, &["deploy.yaml", "--schema-dir", "catalog", "--format", "json"]));
    assert_eq!(v["summary"]["unvalidated"], 0, "{v}");
    assert!(
        v["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["line"] == 16 && f["message"] == "spec: unknown field `selecter`"),
        "{v}"
    );
    // A catalog schema that is not JSON fails closed.
    std::fs::write(catalog.join("servicemonitor_v1.json"), "{ not json").expect("w");
    let broken = check(p, &["deploy.yaml", "--schema-dir", "catalog"]);
    assert_eq!(broken.code, 2, "{}", broken.stderr);
    assert!(broken.stderr.contains("servicemonitor_v1.json is not JSON"), "{}", broken.stderr);
}
