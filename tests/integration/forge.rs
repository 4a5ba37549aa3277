//! `gitops.bump` in merge-request mode. The git side runs against a real `git daemon`;
//! no GitLab or GitHub server can run here, so their APIs are served from recorded
//! responses (`tests/fixtures/forge/`) by a local mock server, and every request
//! shipgate sends is checked.

use std::collections::HashMap;
use std::path::Path;

use wiremock::matchers::{body_string_contains, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::gitops::{VALUES, git, head_file, seed};
use crate::support::service::git_daemon;
use crate::support::{Run, repo_root, run, shipgate};

const GITLAB_TOKEN: &str = "glpat-Zx81secretTOKENvalue";
const GITHUB_TOKEN: &str = "ghp_secretTOKENvalue4242";

fn fixture(rel: &str, branch: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(repo_root().join("tests/fixtures/forge").join(rel)).expect("fixture");
    serde_json::from_str(&text.replace("{{BRANCH}}", branch)).expect("fixture is JSON")
}

/// The `shipgate/…` branches of the served repository, with their tips.
fn mr_branches(base: &Path) -> Vec<(String, String)> {
    git(&base.join("gitops.git"), &["for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads/shipgate/"])
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(a, b)| (a.to_owned(), b.to_owned())))
        .collect()
}

fn argv(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn form(req: &Request) -> HashMap<String, String> {
    form_urlencoded::parse(&req.body).into_owned().collect()
}

fn no_secret(r: &Run, secret: &str) {
    assert!(!r.stdout.contains(secret) && !r.stderr.contains(secret), "the token leaked:\n{}\n{}", r.stdout, r.stderr);
}

struct Setup {
    rt: tokio::runtime::Runtime,
    api: MockServer,
    base: tempfile::TempDir,
    _daemon: crate::support::service::Service,
    url: String,
    work: tempfile::TempDir,
}

fn setup() -> Setup {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let api = rt.block_on(MockServer::start());
    let base = tempfile::tempdir().expect("tempdir");
    seed(base.path(), 1);
    let daemon = git_daemon(base.path());
    let url = format!("git://{}/gitops.git", daemon.addr());
    Setup { rt, api, base, _daemon: daemon, url, work: tempfile::tempdir().expect("tempdir") }
}

impl Setup {
    fn bump(&self, forge: &str, env: (&str, &str), args: &[&str]) -> Run {
        let mut cmd = shipgate(self.work.path());
        cmd.args(["bump", &self.url, "--mode", "merge-request", "--forge", forge, "--api-url", &self.api.uri()]);
        cmd.args(args).env(env.0, env.1);
        run(&mut cmd)
    }

    fn mount(&self, mock: Mock) {
        self.rt.block_on(mock.mount(&self.api));
    }

    fn requests(&self) -> Vec<Request> {
        self.rt.block_on(self.api.received_requests()).unwrap_or_default()
    }
}

const GL_MRS: &str = "/api/v4/projects/platform%2Fgitops/merge_requests";

/// Resets the mock API, then serves GitLab's `/user` (the token check) and `open` as
/// the list of open merge requests into `main` (asked for once).
fn gitlab_api(s: &Setup, open: serde_json::Value) {
    s.rt.block_on(s.api.reset());
    let token = || header("PRIVATE-TOKEN", GITLAB_TOKEN);
    s.mount(
        Mock::given(method("GET"))
            .and(path("/api/v4/user"))
            .and(token())
            .respond_with(ResponseTemplate::new(200).set_body_json(fixture("gitlab/user.json", ""))),
    );
    s.mount(
        Mock::given(method("GET"))
            .and(path(GL_MRS))
            .and(query_param("state", "opened"))
            .and(query_param("target_branch", "main"))
            .and(token())
            .respond_with(ResponseTemplate::new(200).set_body_json(open))
            .expect(1),
    );
}

#[test]
fn gitlab_merge_request_is_opened_then_updated_in_place() {
    let s = setup();
    let token = || header("PRIVATE-TOKEN", GITLAB_TOKEN);
    let args = |tag: &str| {
        vec![
            "--project".to_owned(),
            "platform/gitops".into(),
            "--name".into(),
            "shop-api".into(),
            "--label".into(),
            "gitops".into(),
            "--label".into(),
            "release".into(),
            "--message".into(),
            "chore(gitops): bump shop-api".into(),
            "--set".into(),
            format!("values.yaml:image.tag={tag}"),
        ]
    };

    // First run: no open merge request → the branch is pushed and one is opened.
    gitlab_api(&s, serde_json::json!([]));
    s.mount(
        Mock::given(method("POST"))
            .and(path(GL_MRS))
            .and(token())
            .respond_with(ResponseTemplate::new(201).set_body_json(fixture("gitlab/merge_request.json", "x")))
            .expect(1),
    );
    let first = s.bump("gitlab", ("GITLAB_TOKEN", GITLAB_TOKEN), &argv(&args("v2")));
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    no_secret(&first, GITLAB_TOKEN);
    assert!(
        first.stdout.contains("opened merge request #7 https://gitlab.example.com/platform/gitops/-/merge_requests/7"),
        "{}",
        first.stdout
    );
    let branches = mr_branches(s.base.path());
    assert_eq!(branches.len(), 1, "{branches:?}");
    let (branch, tip1) = branches[0].clone();
    assert!(branch.starts_with("shipgate/shop-api-"), "{branch}");
    assert_eq!(head_file(s.base.path(), "values.yaml"), VALUES, "the target branch is untouched");
    let repo = s.base.path().join("gitops.git");
    assert_eq!(git(&repo, &["show", &format!("{branch}:values.yaml")]), VALUES.replace("tag: v1 ", "tag: v2 "));
    let requests = s.requests();
    let list = requests.iter().find(|r| r.method.as_str() == "GET" && r.url.path() == GL_MRS).expect("listed");
    let q: HashMap<_, _> = list.url.query_pairs().into_owned().collect();
    assert_eq!(q.get("source_branch"), Some(&branch), "{q:?}");
    let post = requests.iter().find(|r| r.method.as_str() == "POST").expect("a merge request was opened");
    let f = form(post);
    assert_eq!(f.get("source_branch"), Some(&branch));
    assert_eq!(f.get("target_branch").map(String::as_str), Some("main"));
    assert_eq!(f.get("title").map(String::as_str), Some("chore(gitops): bump shop-api"));
    assert_eq!(f.get("labels").map(String::as_str), Some("gitops,release"));
    assert_eq!(f.get("remove_source_branch").map(String::as_str), Some("true"));
    let description = f.get("description").cloned().unwrap_or_default();
    assert!(description.contains("| `values.yaml` | `image.tag` | `v1` | `v2` |"), "{description}");
    s.rt.block_on(s.api.verify());

    // Second run, a newer tag: the same branch is replaced and the open merge request
    // is updated — no second one.
    gitlab_api(&s, serde_json::json!([fixture("gitlab/merge_request.json", &branch)]));
    s.mount(
        Mock::given(method("PUT"))
            .and(path(format!("{GL_MRS}/7")))
            .and(token())
            .and(body_string_contains("v3"))
            .respond_with(ResponseTemplate::new(200).set_body_json(fixture("gitlab/merge_request.json", &branch)))
            .expect(1),
    );
    s.mount(Mock::given(method("POST")).and(path(GL_MRS)).respond_with(ResponseTemplate::new(500)).expect(0));
    let second = s.bump("gitlab", ("GITLAB_TOKEN", GITLAB_TOKEN), &argv(&args("v3")));
    assert_eq!(second.code, 0, "{}\n{}", second.stdout, second.stderr);
    assert!(second.stdout.contains("updated merge request #7"), "{}", second.stdout);
    let branches = mr_branches(s.base.path());
    assert_eq!(branches.len(), 1, "one branch per bump target: {branches:?}");
    let tip2 = branches[0].1.clone();
    assert_ne!(tip1, tip2);
    assert_eq!(
        git(&repo, &["rev-parse", &format!("{branch}^")]),
        git(&repo, &["rev-parse", "main"]),
        "one commit on main"
    );
    assert_eq!(git(&repo, &["show", &format!("{branch}:values.yaml")]), VALUES.replace("tag: v1 ", "tag: v3 "));
    let put = s.requests().into_iter().find(|r| r.method.as_str() == "PUT").expect("updated");
    let f = form(&put);
    assert_eq!(f.get("add_labels").map(String::as_str), Some("release"), "only the missing label: {f:?}");
    assert!(f.get("description").is_some_and(|d| d.contains("| `v1` | `v3` |")), "{f:?}");
    s.rt.block_on(s.api.verify());

    // Third run, same tag: the branch already holds the change and the merge request
    // says what it would say: nothing is pushed, nothing is edited.
    let mut current = fixture("gitlab/merge_request.json", &branch);
    current["description"] = f.get("description").cloned().unwrap_or_default().into();
    current["labels"] = serde_json::json!(["gitops", "release"]);
    gitlab_api(&s, serde_json::json!([current]));
    s.mount(Mock::given(method("PUT")).respond_with(ResponseTemplate::new(500)).expect(0));
    s.mount(Mock::given(method("POST")).respond_with(ResponseTemplate::new(500)).expect(0));
    // A second later, so that the re-run's commit differs from the pushed one and the
    // comparison must look at the fetched commit's parents (hidden by the shallow clone).
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let third = s.bump("gitlab", ("GITLAB_TOKEN", GITLAB_TOKEN), &argv(&args("v3")));
    assert_eq!(third.code, 0, "{}\n{}", third.stdout, third.stderr);
    assert!(third.stdout.contains("already holds these changes"), "{}\n{}", third.stdout, third.stderr);
    assert!(third.stdout.contains("merge request up to date: #7"), "{}", third.stdout);
    assert_eq!(mr_branches(s.base.path())[0].1, tip2);
    s.rt.block_on(s.api.verify());
}

#[test]
fn github_pull_request_is_opened_with_labels() {
    let s = setup();
    let bearer = format!("Bearer {GITHUB_TOKEN}");
    let auth = || header("Authorization", bearer.as_str());
    s.mount(
        Mock::given(method("GET"))
            .and(path("/repos/shop/deploy"))
            .and(auth())
            .respond_with(ResponseTemplate::new(200).set_body_json(fixture("github/repository.json", ""))),
    );
    s.mount(
        Mock::given(method("GET"))
            .and(path("/repos/shop/deploy/pulls"))
            .and(query_param("state", "open"))
            .and(query_param("base", "main"))
            .and(auth())
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!([])))
            .expect(1),
    );
    s.mount(
        Mock::given(method("POST"))
            .and(path("/repos/shop/deploy/pulls"))
            .and(auth())
            .respond_with(ResponseTemplate::new(201).set_body_json(fixture("github/pull_request.json", "b")))
            .expect(1),
    );
    s.mount(
        Mock::given(method("POST"))
            .and(path("/repos/shop/deploy/issues/12/labels"))
            .and(auth())
            .respond_with(ResponseTemplate::new(200).set_body_json(fixture("github/labels.json", "")))
            .expect(1),
    );
    let out = s.bump(
        "github",
        ("GITHUB_TOKEN", GITHUB_TOKEN),
        &["--project", "shop/deploy", "--label", "gitops", "--image", "reg.example.com/shop/api:v5"],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    no_secret(&out, GITHUB_TOKEN);
    assert!(out.stdout.contains("opened merge request #12 https://github.com/shop/deploy/pull/12"), "{}", out.stdout);
    let branches = mr_branches(s.base.path());
    assert_eq!(branches.len(), 1, "{branches:?}");
    let branch = branches[0].0.clone();
    assert!(branch.starts_with("shipgate/api-"), "named after the image: {branch}");
    let requests = s.requests();
    let list = requests.iter().find(|r| r.url.path() == "/repos/shop/deploy/pulls" && r.method.as_str() == "GET");
    let head = list.and_then(|r| r.url.query_pairs().find(|(k, _)| k == "head").map(|(_, v)| v.into_owned()));
    assert_eq!(head, Some(format!("shop:{branch}")));
    let create = requests.iter().find(|r| r.url.path() == "/repos/shop/deploy/pulls" && r.method.as_str() == "POST");
    let body: serde_json::Value = serde_json::from_slice(&create.expect("opened").body).expect("json body");
    assert_eq!(body["head"], serde_json::json!(branch));
    assert_eq!(body["base"], "main");
    let text = body["body"].as_str().unwrap_or_default();
    assert!(
        text.contains("| `values.yaml` | `image reg.example.com/shop/api (line 4)` | `v1` | `v5` |"),
        "the description tables the change: {text}"
    );
    let labels = requests.iter().find(|r| r.url.path().ends_with("/issues/12/labels")).expect("labelled");
    let body: serde_json::Value = serde_json::from_slice(&labels.body).expect("json body");
    assert_eq!(body["labels"], serde_json::json!(["gitops"]));
    s.rt.block_on(s.api.verify());
}

#[test]
fn a_refused_or_missing_token_pushes_nothing() {
    let s = setup();
    s.mount(
        Mock::given(method("GET"))
            .and(path("/api/v4/user"))
            .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({"message": "401 Unauthorized"}))),
    );
    let args = ["--project", "platform/gitops", "--set", "values.yaml:image.tag=v2"];
    let refused = s.bump("gitlab", ("GITLAB_TOKEN", GITLAB_TOKEN), &args);
    assert_eq!(refused.code, 3, "{}\n{}", refused.stdout, refused.stderr);
    assert!(refused.stderr.contains("token was refused"), "{}", refused.stderr);
    no_secret(&refused, GITLAB_TOKEN);
    let missing = s.bump("gitlab", ("UNRELATED", "x"), &args);
    assert_eq!(missing.code, 3, "{}", missing.stderr);
    assert!(missing.stderr.contains("GITLAB_TOKEN or GITOPS_TOKEN"), "{}", missing.stderr);
    assert!(mr_branches(s.base.path()).is_empty(), "nothing may be pushed before the token is known to work");
    assert_eq!(head_file(s.base.path(), "values.yaml"), VALUES);
}

#[test]
fn merge_request_options_are_checked_when_the_pipeline_loads() {
    let (dir, file) = crate::support::pipeline(
        r#"version: 1
steps:
  bump:
    uses: gitops.bump
    with:
      repo: https://git.example.com/platform/gitops.git
      mode: merge-request
      merge_request: { labels: [gitops], titel: x }
      edits: [{ file: values.yaml, set: { image.tag: v2 } }]
"#,
    );
    let out = run(shipgate(dir.path()).arg("validate").arg(&file));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("pipeline.yaml:8:") && out.stderr.contains("title"), "{}", out.stderr);
    let text = std::fs::read_to_string(&file).expect("read").replace(", titel: x", "");
    std::fs::write(&file, text).expect("write");
    let out = run(shipgate(dir.path()).arg("validate").arg(&file));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("merge_request.forge: gitlab|github"), "{}", out.stderr);
}
