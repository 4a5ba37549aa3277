//! `shipgate check --comment`: the gate's verdict on the merge request itself. One
//! summary comment per merge request (GitLab, the `gitlab` crate) or pull request
//! (GitHub, `octocrab`), found again by a marker and updated in place, never posted
//! twice; findings new since the last comment are flagged; links go to file:line at the
//! commit checked. A commit status `shipgate/policy` carries the verdict.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::check::CheckReport;
use super::finding::{Finding, Severity};
use super::output::gitlab::fingerprint;
use crate::gitops::forge::{self, Forge, MergeRequestTarget, cell};

/// Marks shipgate's comment among the others.
pub const MARKER: &str = "<!-- shipgate:check -->";
/// The findings of the comment, and which were new: `<!-- shipgate:state all=… new=… fixed=N -->`.
const STATE: &str = "<!-- shipgate:state";
/// Rows per table: comments have a size limit (GitHub: 65,536 characters).
const MAX_ROWS: usize = 50;
/// Findings remembered between runs (about 33 characters each).
const MAX_STATE: usize = 500;
/// The commit status' name (GitLab) / context (GitHub).
pub const STATUS_NAME: &str = "shipgate/policy";

/// The merge request a pipeline runs for, read from the CI variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    pub forge: Forge,
    /// `https://gitlab.example.com` / `https://api.github.com`.
    pub api_url: String,
    /// GitLab project id or path; GitHub `owner/repo`.
    pub project: String,
    /// The MR iid / PR number.
    pub number: u64,
    /// The commit checked (for the status and the links).
    pub sha: Option<String>,
    /// `…/-/blob/<sha>/` or `…/blob/<sha>/`: a file path appended gives its page.
    pub blob_url: Option<String>,
    /// The job's page, for the commit status.
    pub job_url: Option<String>,
}

/// The merge request of this pipeline, or `None` outside a merge-request pipeline.
pub fn review_from_env(get: &dyn Fn(&str) -> Option<String>) -> Option<Review> {
    let set = |n: &str| get(n).filter(|v| !v.is_empty());
    if let Some(iid) = set("CI_MERGE_REQUEST_IID").and_then(|v| v.parse().ok()) {
        let api = set("CI_API_V4_URL")?;
        let sha = set("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA").or_else(|| set("CI_COMMIT_SHA"));
        let web = set("CI_MERGE_REQUEST_SOURCE_PROJECT_URL").or_else(|| set("CI_PROJECT_URL"));
        return Some(Review {
            forge: Forge::Gitlab,
            api_url: api.trim_end_matches('/').trim_end_matches("/api/v4").to_owned(),
            // The merge request's own project (a fork's pipeline runs in the fork).
            project: set("CI_MERGE_REQUEST_PROJECT_ID")
                .or_else(|| set("CI_PROJECT_ID"))
                .or_else(|| set("CI_PROJECT_PATH"))?,
            number: iid,
            blob_url: web.zip(sha.clone()).map(|(w, s)| format!("{}/-/blob/{s}/", w.trim_end_matches('/'))),
            sha,
            job_url: set("CI_JOB_URL"),
        });
    }
    let repo = set("GITHUB_REPOSITORY")?;
    let event: serde_json::Value = set("GITHUB_EVENT_PATH")
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let pr = &event["pull_request"];
    let number = pr["number"]
        .as_u64()
        .or_else(|| set("GITHUB_REF")?.strip_prefix("refs/pull/")?.split('/').next()?.parse().ok())?;
    let sha = pr["head"]["sha"].as_str().map(str::to_owned).or_else(|| set("GITHUB_SHA"));
    let server = set("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".into());
    Some(Review {
        forge: Forge::Github,
        api_url: set("GITHUB_API_URL").unwrap_or_else(|| "https://api.github.com".into()),
        blob_url: sha.clone().map(|s| format!("{}/{repo}/blob/{s}/", server.trim_end_matches('/'))),
        job_url: set("GITHUB_RUN_ID").map(|id| format!("{}/{repo}/actions/runs/{id}", server.trim_end_matches('/'))),
        project: repo,
        number,
        sha,
    })
}

/// What a comment said: its findings' fingerprints, the new ones, how many were fixed.
#[derive(Debug, Default, PartialEq, Eq)]
struct State {
    all: BTreeSet<String>,
    new: BTreeSet<String>,
    fixed: usize,
}

impl State {
    fn read(body: &str) -> Option<State> {
        // The last one: shipgate writes it at the end, after anything quoted from files.
        let start = body.rfind(STATE)? + STATE.len();
        let end = body[start..].find("-->")? + start;
        let mut s = State::default();
        for field in body[start..end].split_whitespace() {
            let set = |v: &str| v.split(',').filter(|x| !x.is_empty()).map(str::to_owned).collect();
            match field.split_once('=') {
                Some(("all", v)) => s.all = set(v),
                Some(("new", v)) => s.new = set(v),
                Some(("fixed", v)) => s.fixed = v.parse().unwrap_or(0),
                _ => {}
            }
        }
        Some(s)
    }

    fn write(&self) -> String {
        let join = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(",");
        format!("{STATE} all={} new={} fixed={} -->", join(&self.all), join(&self.new), self.fixed)
    }
}

/// A path as a URL path: each segment percent-encoded (RFC 3986 unreserved kept).
fn url_path(file: &str) -> String {
    let mut out = String::new();
    for b in file.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn location(f: &Finding, blob: Option<&str>) -> String {
    let file = f.file.trim_start_matches("./");
    let text = format!("{file}:{}", f.line);
    let relative = !file.starts_with('/') && !file.contains('\\') && file != "-" && !file.contains(':');
    match blob {
        Some(b) if f.line > 0 && relative => {
            let label: String = text
                .chars()
                .flat_map(|c| match c {
                    '[' | ']' | '|' | '`' | '*' | '_' | '\\' => vec!['\\', c],
                    c if c.is_control() => vec![' '],
                    c => vec![c],
                })
                .collect();
            format!("[{label}]({b}{}#L{})", url_path(file), f.line)
        }
        _ => cell(&text),
    }
}

/// The comment: verdict, counts, the findings (new ones flagged) and the waived ones.
pub fn body(report: &CheckReport, fail_on: Severity, previous: Option<&str>, blob: Option<&str>) -> String {
    let denied = report.denied(fail_on);
    let count = |s: Severity| report.findings.iter().filter(|f| f.severity == s).count();
    let (errors, warnings) = (count(Severity::Error), count(Severity::Warning));
    let now: Vec<String> = report.findings.iter().map(fingerprint).collect();
    let all: BTreeSet<String> = now.iter().cloned().collect();
    // New and fixed since the last comment; the same findings again keep what it said
    // (so an unchanged run leaves the comment as it is).
    let state = previous.and_then(State::read).map(|before| {
        if before.all == all {
            State { all: all.clone(), ..before }
        } else {
            let new = all.difference(&before.all).cloned().collect();
            State { fixed: before.all.difference(&all).count(), new, all: all.clone() }
        }
    });
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    let mut b = format!(
        "{MARKER}\n### shipgate policy gate: {}\n\n**{}**, {}, {} waived in {} ({}).",
        if denied { "❌ denied" } else { "✅ passed" },
        plural(errors, "error"),
        plural(warnings, "warning"),
        report.waived.len(),
        plural(report.documents, "document"),
        plural(report.files, "file"),
    );
    if let Some(s) = &state {
        let _ = write!(b, " Since the last change: {} new, {} fixed.", s.new.len(), s.fixed);
    }
    b.push('\n');
    if !report.findings.is_empty() {
        b.push_str("\n| | Rule | Where | Resource | Finding |\n| --- | --- | --- | --- | --- |\n");
        for (f, fp) in report.findings.iter().zip(&now).take(MAX_ROWS) {
            let new = state.as_ref().is_some_and(|s| s.new.contains(fp));
            let _ = writeln!(
                b,
                "| {}{} | {} | {} | {} | {} |",
                if new { "🆕 " } else { "" },
                f.severity.as_str(),
                cell(&f.rule),
                location(f, blob),
                cell(&f.resource),
                cell(&f.message)
            );
        }
        if report.findings.len() > MAX_ROWS {
            let _ = writeln!(b, "\n… and {} more: see the job's report.", report.findings.len() - MAX_ROWS);
        }
    }
    if !report.waived.is_empty() {
        let _ = write!(
            b,
            "\n<details><summary>{} waived</summary>\n\n| Rule | Where | Resource | Why |\n| --- | --- | --- | --- |\n",
            report.waived.len()
        );
        for f in report.waived.iter().take(MAX_ROWS) {
            let why = f.waived.as_deref().unwrap_or_default();
            let _ =
                writeln!(b, "| {} | {} | {} | {} |", cell(&f.rule), location(f, blob), cell(&f.resource), cell(why));
        }
        b.push_str("\n</details>\n");
    }
    if !report.expired.is_empty() {
        let _ = writeln!(b, "\n⚠️ {} waiver(s) expired and no longer waive.", report.expired.len());
    }
    let mut state = state.unwrap_or(State { all, ..State::default() });
    if state.all.len() > MAX_STATE {
        // Past this many, "new" is not tracked: the comment must stay under the size limit.
        state = State::default();
    }
    let _ = write!(b, "\nThis comment is updated by each run of the gate.\n{}\n", state.write());
    b
}

/// What happened to the comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CommentAction {
    Created,
    Updated,
    Unchanged,
}

fn target(r: &Review) -> MergeRequestTarget {
    MergeRequestTarget {
        forge: r.forge,
        api_url: r.api_url.clone(),
        project: r.project.clone(),
        branch: String::new(),
        title: None,
        labels: Vec::new(),
    }
}

/// Posts or updates the comment (built from the previous one's body by `make`) and
/// sets the commit status. Errors name the forge and project, never the token.
pub async fn publish(
    r: &Review,
    denied: bool,
    summary: &str,
    make: &dyn Fn(Option<&str>) -> String,
) -> Result<CommentAction, String> {
    let token = forge::token(r.forge).map_err(|e| e.to_string())?;
    let p = Post { review: r, target: target(r), token, denied, summary, make };
    match r.forge {
        Forge::Gitlab => gitlab(&p).await,
        Forge::Github => github(&p).await,
    }
    .map_err(|e| e.to_string())
}

/// One publication: where, with what, saying what.
struct Post<'a> {
    review: &'a Review,
    target: MergeRequestTarget,
    token: String,
    denied: bool,
    summary: &'a str,
    make: &'a dyn Fn(Option<&str>) -> String,
}

#[derive(Debug, serde::Deserialize)]
struct Note {
    id: u64,
    #[serde(default)]
    body: String,
}

async fn gitlab(p: &Post<'_>) -> Result<CommentAction, crate::gitops::repo::BumpError> {
    let (r, t, token, denied, summary, make) = (p.review, &p.target, p.token.as_str(), p.denied, p.summary, p.make);
    use gitlab::api::projects::merge_requests::notes;
    use gitlab::api::projects::repository::commits::{CommitStatusState, CreateCommitStatus};
    use gitlab::api::{AsyncQuery, Pagination, ignore, paged};
    let client = forge::gitlab_client(t, token).await?;
    let list = notes::MergeRequestNotes::builder()
        .project(r.project.as_str())
        .merge_request(r.number)
        .build()
        .map_err(forge::gitlab_err(t, "list the merge request's comments"))?;
    let all: Vec<Note> = paged(list, Pagination::All)
        .query_async(&client)
        .await
        .map_err(forge::gitlab_err(t, "list the merge request's comments"))?;
    let mine = all.into_iter().find(|n| n.body.contains(MARKER));
    let text = make(mine.as_ref().map(|n| n.body.as_str()));
    let action = match mine {
        Some(n) if n.body.trim_end() == text.trim_end() => CommentAction::Unchanged,
        Some(n) => {
            let edit = notes::EditMergeRequestNote::builder()
                .project(r.project.as_str())
                .merge_request(r.number)
                .note(n.id)
                .body(text.as_str())
                .build()
                .map_err(forge::gitlab_err(t, "update the comment"))?;
            ignore(edit).query_async(&client).await.map_err(forge::gitlab_err(t, "update the comment"))?;
            CommentAction::Updated
        }
        None => {
            let create = notes::CreateMergeRequestNote::builder()
                .project(r.project.as_str())
                .merge_request(r.number)
                .body(text.as_str())
                .build()
                .map_err(forge::gitlab_err(t, "comment on the merge request"))?;
            ignore(create).query_async(&client).await.map_err(forge::gitlab_err(t, "comment on the merge request"))?;
            CommentAction::Created
        }
    };
    if let Some(sha) = &r.sha {
        let mut s = CreateCommitStatus::builder();
        s.project(r.project.as_str())
            .commit(sha.as_str())
            .state(if denied { CommitStatusState::Failed } else { CommitStatusState::Success })
            .name(STATUS_NAME)
            .description(summary);
        if let Some(u) = &r.job_url {
            s.target_url(u.as_str());
        }
        let s = s.build().map_err(forge::gitlab_err(t, "set the commit status"))?;
        ignore(s).query_async(&client).await.map_err(forge::gitlab_err(t, "set the commit status"))?;
    }
    Ok(action)
}

async fn github(p: &Post<'_>) -> Result<CommentAction, crate::gitops::repo::BumpError> {
    let (r, t, token, denied, summary, make) = (p.review, &p.target, p.token.as_str(), p.denied, p.summary, p.make);
    let octo = forge::github_client(t, token)?;
    let (owner, name) = forge::split_repo(&r.project);
    let issues = octo.issues(owner, name);
    let first = issues
        .list_comments(r.number)
        .per_page(100)
        .send()
        .await
        .map_err(forge::github_err(t, "list the pull request's comments"))?;
    let all = octo.all_pages(first).await.map_err(forge::github_err(t, "list the pull request's comments"))?;
    let mine = all.into_iter().find(|c| c.body.as_deref().is_some_and(|b| b.contains(MARKER)));
    let text = make(mine.as_ref().and_then(|c| c.body.as_deref()));
    let action = match mine {
        Some(c) if c.body.as_deref().map(str::trim_end) == Some(text.trim_end()) => CommentAction::Unchanged,
        Some(c) => {
            // PATCH, as GitHub documents it (octocrab's update_comment sends POST).
            let route = format!("/repos/{owner}/{name}/issues/comments/{}", c.id);
            let _: octocrab::models::issues::Comment = octo
                .patch(route, Some(&serde_json::json!({ "body": text })))
                .await
                .map_err(forge::github_err(t, "update the comment"))?;
            CommentAction::Updated
        }
        None => {
            issues
                .create_comment(r.number, &text)
                .await
                .map_err(forge::github_err(t, "comment on the pull request"))?;
            CommentAction::Created
        }
    };
    if let Some(sha) = &r.sha {
        use octocrab::models::StatusState;
        let repos = octo.repos(owner, name);
        let mut s = repos
            .create_status(sha.clone(), if denied { StatusState::Failure } else { StatusState::Success })
            .context(STATUS_NAME.to_owned())
            .description(summary.to_owned());
        if let Some(u) = &r.job_url {
            s = s.target(u.clone());
        }
        s.send().await.map_err(forge::github_err(t, "set the commit status"))?;
    }
    Ok(action)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let v: Vec<(String, String)> = pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        move |n| v.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone())
    }

    #[test]
    fn gitlab_and_github_merge_requests_come_from_their_ci_variables() {
        let gl = review_from_env(&env(&[
            ("CI_MERGE_REQUEST_IID", "7"),
            ("CI_PROJECT_ID", "42"),
            ("CI_API_V4_URL", "https://gitlab.example.com/api/v4"),
            ("CI_COMMIT_SHA", "abc123"),
            ("CI_PROJECT_URL", "https://gitlab.example.com/platform/shop"),
        ]))
        .expect("a merge request");
        assert_eq!(gl.api_url, "https://gitlab.example.com");
        assert_eq!((gl.project.as_str(), gl.number), ("42", 7));
        assert_eq!(gl.blob_url.as_deref(), Some("https://gitlab.example.com/platform/shop/-/blob/abc123/"));
        let gh = review_from_env(&env(&[
            ("GITHUB_REPOSITORY", "platform/shop"),
            ("GITHUB_REF", "refs/pull/5/merge"),
            ("GITHUB_SHA", "def"),
        ]))
        .expect("a pull request");
        assert_eq!((gh.forge, gh.number, gh.api_url.as_str()), (Forge::Github, 5, "https://api.github.com"));
        assert_eq!(gh.blob_url.as_deref(), Some("https://github.com/platform/shop/blob/def/"));
        // A branch pipeline has no merge request.
        assert_eq!(review_from_env(&env(&[("CI_PROJECT_ID", "42"), ("GITHUB_REF", "refs/heads/main")])), None);
        // A merge request from a fork: the notes belong to the target project.
        let fork = review_from_env(&env(&[
            ("CI_MERGE_REQUEST_IID", "7"),
            ("CI_MERGE_REQUEST_PROJECT_ID", "42"),
            ("CI_PROJECT_ID", "99"),
            ("CI_API_V4_URL", "https://gitlab.example.com/api/v4"),
        ]));
        assert_eq!(fork.map(|r| r.project), Some("42".into()));
    }

    #[test]
    fn links_encode_the_path_and_escape_the_label() {
        let f = Finding {
            rule: "R".into(),
            severity: Severity::Error,
            message: "m".into(),
            resource: "r".into(),
            file: "./deploy/my app#1|x.yaml".into(),
            line: 3,
            col: 1,
            end_line: 3,
            end_col: 2,
            input_type: crate::policy::InputType::Kubernetes,
            policy: "p".into(),
            waived: None,
        };
        assert_eq!(
            location(&f, Some("https://h/-/blob/s/")),
            "[deploy/my app#1\\|x.yaml:3](https://h/-/blob/s/deploy/my%20app%231%7Cx.yaml#L3)"
        );
        let abs = Finding { file: "/tmp/x.yaml".into(), ..f };
        assert_eq!(location(&abs, Some("https://h/-/blob/s/")), "`/tmp/x.yaml:3`");
    }
}
