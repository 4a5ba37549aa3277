//! Regression tests of the policy gate: inputs, policies and outputs that once let it
//! pass or leak (each found by trying hostile inputs against the binary).

use crate::policy::{check, json};
use crate::support::Run;

const PRIVILEGED_POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\nspec:\n  containers:\n    - name: c\n      image: r/c:1\n      securityContext: {privileged: true}\n";

fn rules_found(r: &Run) -> Vec<String> {
    json(r)["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| f["rule"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn inputs_that_once_slipped_past_the_gate_are_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path();
    let write = |name: &str, text: &str| {
        if let Some(d) = p.join(name).parent() {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        std::fs::write(p.join(name), text).expect("write")
    };
    // A byte-order mark before `apiVersion`.
    write("bom.yaml", &format!("\u{feff}{PRIVILEGED_POD}"));
    assert!(rules_found(&check(p, &["bom.yaml", "--format", "json"])).contains(&"SG-K8S-001".to_owned()));
    // A typed list, also with --input-type kubernetes.
    let items: String = PRIVILEGED_POD.lines().map(|l| format!("    {l}\n")).collect();
    write("list.yaml", &format!("apiVersion: v1\nkind: PodList\nitems:\n  -\n{items}"));
    for extra in [&[][..], &["--input-type", "kubernetes"][..]] {
        let mut args = vec!["list.yaml", "--format", "json"];
        args.extend(extra);
        assert!(rules_found(&check(p, &args)).contains(&"SG-K8S-001".to_owned()), "{extra:?}");
    }
    // Upper-case extensions and symlinked folders inside a folder.
    write("real/CRON.YAML", PRIVILEGED_POD);
    write("deploy/x.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n");
    std::os::unix::fs::symlink("../real", p.join("deploy/prod")).expect("symlink");
    let r = check(p, &["deploy", "--format", "json"]);
    assert_eq!(json(&r)["summary"]["documents"], 2, "{}", r.stdout);
    assert!(rules_found(&r).contains(&"SG-K8S-001".to_owned()));
    // Nothing any policy understands is not a pass.
    write("arr.json", "[1, 2, 3]\n");
    let r = check(p, &["arr.json"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no policy applies to any of the 1 document"), "{}", r.stderr);
    // Aliases that expand without bound are refused, not followed into memory.
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for (i, prev) in ["b", "c", "d", "e", "f", "g", "h", "i"].iter().zip(["a", "b", "c", "d", "e", "f", "g", "h"]) {
        bomb.push_str(&format!(
            "{i}: &{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
        ));
    }
    write("lol.yaml", &bomb);
    let r = check(p, &["lol.yaml"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("expands to more than"), "{}", r.stderr);
}

#[test]
fn policies_and_data_cannot_turn_the_library_off_or_go_unevaluated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path();
    let write = |name: &str, text: &str| std::fs::write(p.join(name), text).expect("write");
    write("pod.yaml", PRIVILEGED_POD);
    write("ok.rego", "package main\n\nimport rego.v1\n\nwarn contains \"x\" if false\n");
    // Data cannot overwrite the built-in rules.
    write("d.yaml", "shipgate:\n  kubernetes:\n    deny: []\n");
    let r = check(p, &["pod.yaml", "-p", "ok.rego", "-d", "d.yaml"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("`shipgate` is reserved"), "{}", r.stderr);
    // A v1 rule with an object in its head is evaluated.
    write(
        "obj.rego",
        "package main\n\nimport rego.v1\n\ndeny[{\"msg\": m}] if {\n  input.kind == \"Pod\"\n  m := \"no pods\"\n}\n",
    );
    let r = check(p, &["pod.yaml", "-p", "obj.rego", "--no-builtin", "--format", "json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    // A mistyped namespace next to a real one.
    let r = check(p, &["pod.yaml", "-p", "ok.rego", "-n", "main", "-n", "tpyo"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no policy in namespace tpyo"), "{}", r.stderr);
    // METADATA gives a user rule its id and severity; it cannot take a built-in id.
    write(
        "meta.rego",
        "package main\n\nimport rego.v1\n\n# METADATA\n# title: No pods\n# custom:\n#   id: ORG-001\n#   severity: error\nwarn contains \"no pods\" if input.kind == \"Pod\"\n",
    );
    let r = check(p, &["pod.yaml", "-p", "meta.rego", "--no-builtin", "--format", "json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v = json(&r);
    assert_eq!(
        (v["findings"][0]["rule"].as_str(), v["findings"][0]["severity"].as_str()),
        (Some("ORG-001"), Some("error"))
    );
    write(
        "steal.rego",
        "package main\n\nimport rego.v1\n\n# METADATA\n# custom:\n#   id: SG-K8S-001\n#   severity: warning\nwarn contains \"x\" if false\n",
    );
    let r = check(p, &["pod.yaml", "-p", "steal.rego"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("belongs to a built-in rule"), "{}", r.stderr);
}

#[test]
fn secrets_stay_out_of_reports_and_waiver_globs_stay_in_their_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path();
    std::fs::create_dir_all(p.join("deploy/prod")).expect("mkdir");
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\nspec:\n  containers:\n    - name: c\n      image: r/c:1\n      env:\n        - name: DB_PASSWORD\n          value: hunter2-SuperSecret\n";
    std::fs::write(p.join("deploy/prod/pod.yaml"), pod).expect("w");
    std::fs::write(
        p.join("deploy/secret.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData:\n  password: 8675309123\n",
    )
    .expect("w");
    let mut all = String::new();
    for f in ["human", "json", "sarif", "gitlab", "junit"] {
        let r = check(p, &["deploy", "--output", &format!("{f}=out.{f}")]);
        assert_eq!(r.code, 1, "{}", r.stderr);
        all.push_str(&r.stdout);
        all.push_str(&std::fs::read_to_string(p.join(format!("out.{f}"))).expect("report"));
    }
    assert!(all.contains("SG-K8S-010") && all.contains("SG-SCHEMA-001"), "{all}");
    assert!(!all.contains("hunter2") && !all.contains("8675309123"), "{all}");
    // `*` in a waiver's path does not cross folders.
    std::fs::write(
        p.join(".shipgate-waivers.yaml"),
        "waivers:\n  - {rule: SG-K8S-010, path: \"deploy/*.yaml\", reason: r, expires: 2099-01-01}\n",
    )
    .expect("w");
    let v = json(&check(p, &["./deploy", "--format", "json"]));
    assert!(v["waived"].as_array().is_some_and(Vec::is_empty), "{v}");
    std::fs::write(
        p.join(".shipgate-waivers.yaml"),
        "waivers:\n  - {rule: SG-K8S-010, path: \"./deploy/**/*.yaml\", reason: r, expires: 2099-01-01}\n",
    )
    .expect("w");
    let v = json(&check(p, &["./deploy", "--format", "json"]));
    assert_eq!(v["waived"].as_array().map(Vec::len), Some(1), "{v}");
}
