//! `shipgate check --comment`: one comment per merge request / pull request, posted
//! then updated in place (never twice), new findings flagged, links to file:line at the
//! commit, and a commit status. No forge server can run here: the APIs are served from
//! recorded responses (`tests/fixtures/forge/`) and every request is checked.

use std::collections::HashMap;
use std::path::Path;

use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::support::{Run, repo_root, run, shipgate};

const GITLAB_TOKEN: &str = "glpat-review-SECRET-token-77";
const GITHUB_TOKEN: &str = "ghp_reviewSECRETtoken0077";
const SHA: &str = "3f2c9d1e0b7a4c5d6e8f90a1b2c3d4e5f6a7b8c9";
const MARKER: &str = "<!-- shipgate:check -->";

const BAD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: debug, namespace: shop}\nspec:\n  containers:\n    - name: debug\n      image: busybox\n      securityContext: {privileged: true}\n";
const ROLE: &str = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: everything}\nrules:\n  - apiGroups: ['*']\n    resources: ['*']\n    verbs: ['*']\n";

fn fixture(rel: &str, fill: &[(&str, &str)]) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("tests/fixtures/forge").join(rel)).expect("fixture"),
    )
    .expect("fixture JSON");
    fn walk(v: &mut serde_json::Value, fill: &[(&str, &str)]) {
        match v {
            serde_json::Value::String(s) => {
                for (k, with) in fill {
                    *s = s.replace(&format!("{{{{{k}}}}}"), with);
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(|x| walk(x, fill)),
            serde_json::Value::Object(o) => o.values_mut().for_each(|x| walk(x, fill)),
            _ => {}
        }
    }
    walk(&mut v, fill);
    v
}

struct Api {
    rt: tokio::runtime::Runtime,
    server: MockServer,
}

impl Api {
    fn start() -> Api {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let server = rt.block_on(MockServer::start());
        Api { rt, server }
    }
    fn reset(&self) {
        self.rt.block_on(self.server.reset());
    }
    fn mount(&self, m: Mock) {
        self.rt.block_on(m.mount(&self.server));
    }
    /// Requests other than reads, as (method, path, body).
    fn writes(&self) -> Vec<(String, String, String)> {
        let reqs: Vec<Request> = self.rt.block_on(self.server.received_requests()).unwrap_or_default();
        reqs.into_iter()
            .filter(|r| r.method.as_str() != "GET")
            .map(|r| (r.method.to_string(), r.url.path().to_owned(), String::from_utf8_lossy(&r.body).into_owned()))
            .collect()
    }
}

fn form(body: &str) -> HashMap<String, String> {
    form_urlencoded::parse(body.as_bytes()).into_owned().collect()
}

fn no_secret(r: &Run, secret: &str) {
    assert!(!r.stdout.contains(secret) && !r.stderr.contains(secret), "the token leaked");
}

fn check(dir: &Path, env: &[(&str, String)]) -> Run {
    let mut cmd = shipgate(dir);
    cmd.args(["check", "deploy", "--comment"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

const NOTES: &str = "/api/v4/projects/42/merge_requests/7/notes";

/// GitLab: `/user` (sign-in), the merge request's notes as given, and writes accepted.
fn gitlab(api: &Api, notes: serde_json::Value) {
    api.reset();
    let token = || header("PRIVATE-TOKEN", GITLAB_TOKEN);
    api.mount(
        Mock::given(method("GET"))
            .and(path("/api/v4/user"))
            .and(token())
            .respond_with(ResponseTemplate::new(200).set_body_json(fixture("gitlab/user.json", &[]))),
    );
    api.mount(
        Mock::given(method("GET"))
            .and(path(NOTES))
            .and(token())
            .respond_with(ResponseTemplate::new(200).set_body_json(notes)),
    );
    for (m, p) in [("POST", NOTES.to_owned()), ("PUT", format!("{NOTES}/901"))] {
        api.mount(
            Mock::given(method(m))
                .and(path(p))
                .and(token())
                .respond_with(ResponseTemplate::new(200).set_body_json(fixture("gitlab/note.json", &[("BODY", "x")]))),
        );
    }
    api.mount(
        Mock::given(method("POST")).and(path(format!("/api/v4/projects/42/statuses/{SHA}"))).and(token()).respond_with(
            ResponseTemplate::new(201).set_body_json(fixture("gitlab/commit_status.json", &[("SHA", SHA)])),
        ),
    );
}

fn note(id: u64, body: &str) -> serde_json::Value {
    let mut n = fixture("gitlab/note.json", &[("BODY", body)]);
    n["id"] = id.into();
    n
}

#[test]
fn gitlab_merge_request_gets_one_comment_updated_in_place_and_a_commit_status() {
    let api = Api::start();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("deploy")).expect("mkdir");
    std::fs::write(dir.path().join("deploy/bad.yaml"), BAD).expect("write");
    let env = vec![
        ("CI_MERGE_REQUEST_IID", "7".to_owned()),
        ("CI_PROJECT_ID", "42".into()),
        ("CI_API_V4_URL", format!("{}/api/v4", api.server.uri())),
        ("CI_COMMIT_SHA", SHA.into()),
        ("CI_PROJECT_URL", "https://gitlab.example.com/platform/shop".into()),
        ("CI_JOB_URL", "https://gitlab.example.com/platform/shop/-/jobs/9001".into()),
        ("GITLAB_TOKEN", GITLAB_TOKEN.into()),
    ];

    // First run: someone else's note only → one new comment.
    gitlab(&api, serde_json::json!([note(5, "LGTM, but see the gate")]));
    let r = check(dir.path(), &env);
    assert_eq!(r.code, 1, "the verdict stands: {}", r.stderr);
    no_secret(&r, GITLAB_TOKEN);
    let writes = api.writes();
    assert_eq!(
        writes.iter().map(|(m, p, _)| format!("{m} {p}")).collect::<Vec<_>>(),
        [format!("POST {NOTES}"), format!("POST /api/v4/projects/42/statuses/{SHA}")]
    );
    let first = form(&writes[0].2)["body"].clone();
    assert!(first.starts_with(MARKER) && first.contains("❌ denied"), "{first}");
    assert!(first.contains("**3 errors**, 5 warnings, 0 waived in 1 document (1 file)."), "{first}");
    assert!(
        first.contains(&format!(
            "| error | `SG-K8S-001` | [deploy/bad.yaml:8](https://gitlab.example.com/platform/shop/-/blob/{SHA}/deploy/bad.yaml#L8) | `Pod/shop/debug` |"
        )),
        "{first}"
    );
    assert!(!first.contains("🆕"), "nothing is new on a first comment");
    let status = form(&writes[1].2);
    assert_eq!(status["state"], "failed");
    assert_eq!(status["name"], "shipgate/policy");
    assert_eq!(status["target_url"], "https://gitlab.example.com/platform/shop/-/jobs/9001");
    assert_eq!(status["description"], "denied: 3 errors, 5 warnings, 0 waived");

    // Second run, one more finding: the same note is edited, the new finding flagged.
    std::fs::write(dir.path().join("deploy/role.yaml"), ROLE).expect("write");
    gitlab(&api, serde_json::json!([note(5, "LGTM, but see the gate"), note(901, &first)]));
    let r = check(dir.path(), &env);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let writes = api.writes();
    assert_eq!(writes[0].0, "PUT", "{writes:?}");
    assert_eq!(writes[0].1, format!("{NOTES}/901"));
    assert!(!writes.iter().any(|(m, p, _)| m == "POST" && p == NOTES), "a second comment was posted");
    let second = form(&writes[0].2)["body"].clone();
    let new_rows: Vec<&str> = second.lines().filter(|l| l.starts_with("| 🆕")).collect();
    assert!(!new_rows.is_empty() && new_rows.iter().all(|l| l.contains("deploy/role.yaml")), "{second}");
    assert!(second.lines().filter(|l| l.contains("deploy/bad.yaml:")).all(|l| !l.contains("🆕")), "{second}");
    assert!(second.contains(&format!("Since the last change: {} new, 0 fixed.", new_rows.len())), "{second}");

    // Third run, nothing changed: the comment is left alone; the status is set again.
    gitlab(&api, serde_json::json!([note(901, &second)]));
    let r = check(dir.path(), &env);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let writes = api.writes();
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert!(writes[0].1.ends_with(&format!("/statuses/{SHA}")));
}

#[test]
fn github_pull_request_comment_and_status_follow_the_verdict() {
    let api = Api::start();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("deploy")).expect("mkdir");
    std::fs::write(dir.path().join("deploy/bad.yaml"), BAD).expect("write");
    let event = dir.path().join("event.json");
    std::fs::write(&event, serde_json::json!({ "pull_request": { "number": 5, "head": { "sha": SHA } } }).to_string())
        .expect("write");
    let env = vec![
        ("GITHUB_REPOSITORY", "platform/shop".to_owned()),
        ("GITHUB_EVENT_PATH", event.display().to_string()),
        ("GITHUB_API_URL", api.server.uri()),
        ("GITHUB_SERVER_URL", "https://github.com".into()),
        ("GITHUB_RUN_ID", "77".into()),
        ("GITHUB_TOKEN", GITHUB_TOKEN.into()),
    ];
    let comments = "/repos/platform/shop/issues/5/comments";
    let serve = |existing: serde_json::Value| {
        api.reset();
        let token = || header("Authorization", format!("Bearer {GITHUB_TOKEN}").as_str());
        api.mount(
            Mock::given(method("GET"))
                .and(path(comments))
                .and(token())
                .respond_with(ResponseTemplate::new(200).set_body_json(existing)),
        );
        let comment = fixture("github/comment.json", &[("BODY", "x")]);
        api.mount(
            Mock::given(method("POST"))
                .and(path(comments))
                .and(token())
                .respond_with(ResponseTemplate::new(201).set_body_json(comment.clone())),
        );
        api.mount(
            Mock::given(method("PATCH"))
                .and(path("/repos/platform/shop/issues/comments/1770001"))
                .and(token())
                .respond_with(ResponseTemplate::new(200).set_body_json(comment)),
        );
        api.mount(
            Mock::given(method("POST"))
                .and(path(format!("/repos/platform/shop/statuses/{SHA}")))
                .and(token())
                .respond_with(ResponseTemplate::new(201).set_body_json(fixture("github/status.json", &[("SHA", SHA)]))),
        );
    };
    let json = |s: &str| -> serde_json::Value { serde_json::from_str(s).expect("JSON body") };

    serve(serde_json::json!([]));
    let r = check(dir.path(), &env);
    assert_eq!(r.code, 1, "{}", r.stderr);
    no_secret(&r, GITHUB_TOKEN);
    let writes = api.writes();
    assert_eq!(writes.len(), 2, "{writes:?}");
    let body = json(&writes[0].2)["body"].as_str().expect("body").to_owned();
    assert!(
        body.contains(&format!("[deploy/bad.yaml:8](https://github.com/platform/shop/blob/{SHA}/deploy/bad.yaml#L8)")),
        "{body}"
    );
    let status = json(&writes[1].2);
    assert_eq!(status["state"], "failure");
    assert_eq!(status["context"], "shipgate/policy");
    assert_eq!(status["target_url"], "https://github.com/platform/shop/actions/runs/77");

    // Fixed: the comment turns to passed (updated, not a second one), the status to success.
    std::fs::copy(repo_root().join("pipelines/release/deploy/shop-api.yaml"), dir.path().join("deploy/bad.yaml"))
        .expect("copy");
    let mut existing = fixture("github/comment.json", &[("BODY", &body)]);
    existing["id"] = 1770001.into();
    serve(serde_json::json!([existing]));
    let r = check(dir.path(), &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let writes = api.writes();
    assert_eq!(writes.iter().map(|(m, _, _)| m.as_str()).collect::<Vec<_>>(), ["PATCH", "POST"], "{writes:?}");
    let body = json(&writes[0].2)["body"].as_str().expect("body").to_owned();
    assert!(body.contains("✅ passed") && body.contains("Since the last change: 0 new, 8 fixed."), "{body}");
    assert_eq!(json(&writes[1].2)["state"], "success");
}

#[test]
fn outside_a_merge_request_nothing_is_posted_and_a_refused_token_fails_a_passing_gate() {
    let api = Api::start();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("deploy")).expect("mkdir");
    std::fs::copy(repo_root().join("pipelines/release/deploy/shop-api.yaml"), dir.path().join("deploy/ok.yaml"))
        .expect("copy");
    let r =
        check(dir.path(), &[("CI_PROJECT_ID", "42".into()), ("CI_API_V4_URL", format!("{}/api/v4", api.server.uri()))]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("not a merge-request pipeline"), "{}", r.stderr);
    assert!(api.writes().is_empty());

    // A token GitLab refuses: the gate passed, but the comment could not be posted (exit 3).
    api.mount(
        Mock::given(method("GET")).and(path("/api/v4/user")).respond_with(
            ResponseTemplate::new(401).set_body_json(serde_json::json!({ "message": "401 Unauthorized" })),
        ),
    );
    let r = check(
        dir.path(),
        &[
            ("CI_MERGE_REQUEST_IID", "7".into()),
            ("CI_PROJECT_ID", "42".into()),
            ("CI_API_V4_URL", format!("{}/api/v4", api.server.uri())),
            ("GITLAB_TOKEN", GITLAB_TOKEN.into()),
        ],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("cannot comment on the merge request") && r.stderr.contains("token was refused"),
        "{}",
        r.stderr
    );
    no_secret(&r, GITLAB_TOKEN);
}
