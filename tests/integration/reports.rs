//! `--report json=…` and `--report junit=…`, both at once; JUnit is parsed back.

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::support::{pipeline, run, shipgate};

const PIPELINE: &str = "version: 1
name: reports
steps:
  build:
    outputs: [digest]
    run: echo building && echo \"digest=sha256:1234\" >> \"$SHIPGATE_OUTPUT\"
  test:
    needs: [build]
    run: |
      echo 'running 3 tests'
      echo 'test parse ... FAILED <expected \"a\" & got b>' >&2
      exit 101
  deploy:
    needs: [test]
    run: echo deploying
  lint:
    allow_failure: true
    run: exit 2
";

/// Durations and timestamps vary; everything else in the summary is stable.
fn normalise(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, val) in m.iter_mut() {
                match k.as_str() {
                    "duration_ms" => *val = serde_json::json!("<ms>"),
                    "started_at" if !val.is_null() => *val = serde_json::json!("<time>"),
                    "file" => *val = serde_json::json!("<file>"),
                    "shipgate_version" => *val = serde_json::json!("<version>"),
                    _ => normalise(val),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(normalise),
        _ => {}
    }
}

#[derive(Debug, Default)]
struct Case {
    name: String,
    failure: Option<(String, String)>,
    skipped: Option<String>,
}

fn parse_junit(xml: &str) -> (Vec<(String, String)>, Vec<Case>) {
    let mut reader = Reader::from_str(xml);
    let mut suites = Vec::new();
    let mut cases: Vec<Case> = Vec::new();
    let mut in_failure = false;
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == b"testsuite" => {
                let attrs = e.attributes().filter_map(Result::ok).map(|a| {
                    (
                        String::from_utf8_lossy(a.key.as_ref()).into_owned(),
                        a.unescape_value().expect("attr").into_owned(),
                    )
                });
                suites.extend(attrs);
            }
            Event::Start(e) | Event::Empty(e) => {
                let get = |name: &[u8]| {
                    e.attributes()
                        .filter_map(Result::ok)
                        .find(|a| a.key.as_ref() == name)
                        .map(|a| a.unescape_value().expect("attr").into_owned())
                };
                match e.name().as_ref() {
                    b"testcase" => cases.push(Case { name: get(b"name").unwrap_or_default(), ..Case::default() }),
                    b"failure" => {
                        in_failure = true;
                        if let Some(c) = cases.last_mut() {
                            c.failure = Some((get(b"message").unwrap_or_default(), String::new()));
                        }
                    }
                    b"skipped" => {
                        if let Some(c) = cases.last_mut() {
                            c.skipped = get(b"message");
                        }
                    }
                    _ => {}
                }
            }
            Event::Text(t) if in_failure => {
                if let Some((_, body)) = cases.last_mut().and_then(|c| c.failure.as_mut()) {
                    body.push_str(&t.unescape().expect("text"));
                }
            }
            Event::End(e) if e.name().as_ref() == b"failure" => in_failure = false,
            Event::Eof => break,
            _ => {}
        }
    }
    (suites, cases)
}

#[test]
fn json_and_junit_reports_are_written_together() {
    let (dir, path) = pipeline(PIPELINE);
    let out = run(shipgate(dir.path())
        .args(["run", "--jobs", "1", "--report", "json=out/run.json", "--report", "junit=out/junit.xml"])
        .arg(&path));
    assert_eq!(out.code, 1, "{}", out.stderr);

    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("out/run.json")).expect("json report"))
            .expect("json");
    assert_eq!(v["schema_version"], 1);
    assert!(v["steps"][0]["duration_ms"].is_u64());
    normalise(&mut v);
    insta::assert_snapshot!("report_json", serde_json::to_string_pretty(&v).expect("pretty"));

    let xml = std::fs::read_to_string(dir.path().join("out/junit.xml")).expect("junit report");
    let (suite, cases) = parse_junit(&xml);
    let attr = |k: &str| suite.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(attr("name"), Some("reports"));
    assert_eq!(attr("tests"), Some("4"));
    assert_eq!(attr("failures"), Some("2"));
    assert_eq!(attr("skipped"), Some("1"));
    let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["build", "test", "deploy", "lint"]);
    let (message, body) = cases[1].failure.clone().expect("test failed");
    assert_eq!(message, "exited with code 101");
    assert!(body.contains("running 3 tests"), "{body}");
    assert!(body.contains("test parse ... FAILED <expected \"a\" & got b>"), "escaping round-trips: {body}");
    assert_eq!(cases[2].skipped.as_deref(), Some("needs `test`, which failed"));
    assert!(cases[0].failure.is_none() && cases[0].skipped.is_none());
}

#[test]
fn reports_are_written_when_the_run_succeeds_too() {
    let (dir, path) = pipeline("version: 1\nsteps:\n  ok: { run: \"true\" }\n");
    let out = run(shipgate(dir.path()).args(["run", "--report", "junit=j.xml", "--report", "json=r.json"]).arg(&path));
    assert_eq!(out.code, 0);
    let (_, cases) = parse_junit(&std::fs::read_to_string(dir.path().join("j.xml")).expect("junit"));
    assert_eq!(cases.len(), 1);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json")).expect("json")).expect("json");
    assert_eq!((v["status"].as_str(), v["exit_code"].as_i64()), (Some("success"), Some(0)));
}

#[test]
fn outputs_go_to_a_dotenv_report_and_the_run_to_prometheus_metrics() {
    let (dir, path) = pipeline(
        "version: 1\nname: release\nsecrets: [DEPLOY_TOKEN]\nsteps:\n  build:\n    outputs: [digest, notes, token]\n    run: |\n      echo \"digest=sha256:abcd\" >> \"$SHIPGATE_OUTPUT\"\n      printf 'notes<<EOF\\nline one\\nline two\\nEOF\\n' >> \"$SHIPGATE_OUTPUT\"\n      echo \"token=$DEPLOY_TOKEN\" >> \"$SHIPGATE_OUTPUT\"\n  dags:\n    uses: bucket.sync\n    with: { from: dags, to: file://bucket }\n  gate:\n    uses: policy.check\n    with: { paths: [deploy/] }\n    allow_failure: true\n  lint:\n    needs: [gate]\n    run: exit 3\n",
    );
    std::fs::create_dir(dir.path().join("dags")).expect("mkdir");
    std::fs::write(dir.path().join("dags/a.py"), "print('a')\n").expect("w");
    std::fs::create_dir(dir.path().join("deploy")).expect("mkdir");
    std::fs::write(
        dir.path().join("deploy/r.yaml"),
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: b}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: [{kind: Group, name: ops}]\n",
    )
    .expect("w");
    let out = run(shipgate(dir.path())
        .arg("run")
        .arg(&path)
        .args(["--report", "dotenv=out/build.env", "--metrics", "out/metrics.prom"])
        .env("DEPLOY_TOKEN", "s3cr3t-token-value"));
    assert_eq!(out.code, 1, "{}", out.stderr);

    let env = std::fs::read_to_string(dir.path().join("out/build.env")).expect("dotenv written");
    assert!(env.contains("SHIPGATE_BUILD_DIGEST=sha256:abcd\n"), "{env}");
    // A value holding a secret is not passed on, not even masked.
    assert!(!env.contains("SHIPGATE_BUILD_TOKEN"), "{env}");
    assert!(out.stderr.contains("SHIPGATE_BUILD_TOKEN holds a secret and is left out"), "{}", out.stderr);
    // Outcomes: only of the steps that did not succeed.
    assert!(env.contains("SHIPGATE_GATE__STATUS=failed\n") && !env.contains("SHIPGATE_BUILD__STATUS"), "{env}");
    assert!(env.contains("SHIPGATE_DAGS_UPLOADED=1\n"), "{env}");
    assert!(env.contains("SHIPGATE_GATE_DENIED=true\n"), "{env}");
    assert!(!env.contains("s3cr3t") && !env.contains("NOTES"), "{env}");
    assert!(out.stderr.contains("SHIPGATE_BUILD_NOTES has several lines"), "{}", out.stderr);

    // Every sample belongs to a family with HELP and TYPE, and parses as a number.
    let m = std::fs::read_to_string(dir.path().join("out/metrics.prom")).expect("metrics written");
    let mut families = std::collections::BTreeSet::new();
    let mut samples = std::collections::BTreeMap::new();
    for line in m.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            families.insert(rest.split_whitespace().next().unwrap_or_default().to_owned());
        } else if !line.starts_with('#') {
            let (series, value) = line.rsplit_once(' ').expect("name{labels} value");
            value.parse::<f64>().unwrap_or_else(|_| panic!("not a number: {line}"));
            let name = series.split('{').next().unwrap_or_default();
            assert!(families.contains(name), "{name} has no TYPE before it");
            samples.insert(series.to_owned(), value.to_owned());
        }
    }
    let get = |k: &str| samples.get(k).cloned().unwrap_or_else(|| panic!("no {k} in\n{m}"));
    assert_eq!(get("shipgate_run_success{pipeline=\"release\"}"), "0");
    assert_eq!(get("shipgate_run_exit_code{pipeline=\"release\"}"), "1");
    assert_eq!(get("shipgate_step_status{pipeline=\"release\",step=\"build\",kind=\"run\",status=\"success\"}"), "1");
    assert_eq!(get("shipgate_step_status{pipeline=\"release\",step=\"lint\",kind=\"run\",status=\"failed\"}"), "1");
    assert_eq!(get("shipgate_bucket_uploaded_bytes{pipeline=\"release\",step=\"dags\",kind=\"bucket.sync\"}"), "11");
    assert_eq!(
        get("shipgate_policy_findings{pipeline=\"release\",step=\"gate\",kind=\"policy.check\",severity=\"error\"}"),
        "1"
    );
}
