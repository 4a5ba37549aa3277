//! Merge-request mode: the forge side. The edits are pushed to a branch
//! `shipgate/<name>-<hash>` (see `repo.rs`); this opens the merge request on GitLab
//! (the `gitlab` crate) or the pull request on GitHub (`octocrab`) — or updates the
//! open one for the same branch instead of opening a second.
//!
//! The hash is taken over *what* is bumped (repository, target branch, files and
//! paths, image names), not over the new values: the next version of the same image
//! lands in the same branch and updates the same merge request.

use std::fmt::Write as _;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::repo::{BumpError, Change, Edit};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Forge {
    Gitlab,
    Github,
}

/// Where and how to open the merge request (resolved when the pipeline loads).
#[derive(Debug, Clone)]
pub struct MergeRequestTarget {
    pub forge: Forge,
    /// `https://gitlab.example.com` (GitLab) or `https://api.github.com` (GitHub).
    pub api_url: String,
    /// `group/sub/project` (GitLab) or `owner/repo` (GitHub).
    pub project: String,
    /// The branch the edits are pushed to: `shipgate/<name>-<hash>`.
    pub branch: String,
    /// The title (default: the commit message's first line).
    pub title: Option<String>,
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MrAction {
    Opened,
    Updated,
    Unchanged,
}

#[derive(Debug, Clone, Serialize)]
pub struct MergeRequest {
    pub url: String,
    pub number: u64,
    pub action: MrAction,
}

/// What the user wrote, before the defaults are filled in.
#[derive(Debug, Clone, Default)]
pub struct MergeRequestSpec {
    pub forge: Option<Forge>,
    pub api_url: Option<String>,
    pub project: Option<String>,
    pub title: Option<String>,
    pub labels: Vec<String>,
    pub name: Option<String>,
}

/// `(host, path)` of a remote URL: `https://host:port/a/b.git`, `ssh://git@host/a/b`,
/// `git://host/a/b`, `git@host:a/b.git`. `None` for a local path.
pub fn host_and_path(url: &str) -> Option<(String, String)> {
    let (host, path) = if let Some((_, rest)) = url.split_once("://") {
        let (authority, path) = rest.split_once('/')?;
        (authority.rsplit_once('@').map_or(authority, |(_, h)| h).to_owned(), path.to_owned())
    } else {
        let (user_host, path) = url.split_once(':')?;
        (user_host.rsplit_once('@')?.1.to_owned(), path.to_owned())
    };
    let path = path.trim_matches('/').trim_end_matches(".git").to_owned();
    (!host.is_empty() && !path.is_empty()).then_some((host, path))
}

fn host_name(host: &str) -> &str {
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

/// A short stable name for the branch: the image's last path segment, else "bump".
fn default_name(edits: &[Edit]) -> String {
    edits
        .iter()
        .find_map(|e| match e {
            Edit::Image { edit, .. } => edit.name.rsplit('/').next().map(str::to_owned),
            Edit::Set { .. } => None,
        })
        .unwrap_or_else(|| "bump".into())
}

fn branch_safe(s: &str) -> String {
    let s: String =
        s.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '-' }).collect();
    s.trim_matches(|c| c == '-' || c == '.').to_owned()
}

/// `shipgate/<name>-<hash>`: the hash covers the repository, target branch and what
/// is edited (never the values).
pub fn branch_name(name: &str, repo: &str, target: Option<&str>, edits: &[Edit]) -> String {
    let mut h = Sha256::new();
    h.update(super::repo::redact(repo).as_bytes());
    h.update([0]);
    h.update(target.unwrap_or("").as_bytes());
    for e in edits {
        h.update([0]);
        match e {
            Edit::Set { file, path, doc, .. } => h.update(format!("set\0{file}\0{path}\0{doc:?}").as_bytes()),
            Edit::Image { files, edit } => h.update(format!("image\0{}\0{}", edit.name, files.join("\0")).as_bytes()),
        }
    }
    let hex: String = h.finalize().iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("shipgate/{}-{hex}", branch_safe(name))
}

impl MergeRequestSpec {
    /// Fills in the forge, API URL and project from the repository URL.
    pub fn resolve(&self, repo: &str, target: Option<&str>, edits: &[Edit]) -> Result<MergeRequestTarget, String> {
        let remote = host_and_path(repo);
        let forge = match (self.forge, &remote) {
            (Some(f), _) => f,
            (None, Some((host, _))) if host_name(host) == "github.com" || host_name(host).contains("github") => {
                Forge::Github
            }
            (None, Some((host, _))) if host_name(host).contains("gitlab") => Forge::Gitlab,
            (None, Some((host, _)))
                if std::env::var("CI_SERVER_HOST").is_ok_and(|h| !h.is_empty() && h == host_name(host)) =>
            {
                Forge::Gitlab
            }
            (None, _) => {
                return Err(format!(
                    "cannot tell whether {} is on GitLab or GitHub; set `merge_request.forge: gitlab|github`",
                    super::repo::redact(repo)
                ));
            }
        };
        let api_url = match (&self.api_url, &remote) {
            (Some(u), _) => u.trim_end_matches('/').to_owned(),
            (None, Some((host, _))) => match forge {
                Forge::Github if host_name(host) == "github.com" => "https://api.github.com".into(),
                Forge::Github => format!("https://{}/api/v3", host_name(host)),
                Forge::Gitlab => format!("https://{}", host_name(host)),
            },
            (None, None) => return Err("a local repository has no forge; set `merge_request.api_url`".into()),
        };
        if !api_url.starts_with("https://") && !api_url.starts_with("http://") {
            return Err(format!("`merge_request.api_url: {api_url}` must start with https:// (or http://)"));
        }
        let project = match (&self.project, &remote) {
            (Some(p), _) => p.trim_matches('/').to_owned(),
            (None, Some((_, path))) => path.clone(),
            (None, None) => return Err("a local repository has no project path; set `merge_request.project`".into()),
        };
        if forge == Forge::Github && project.split('/').count() != 2 {
            return Err(format!("`{project}` is not OWNER/REPO (GitHub); set `merge_request.project`"));
        }
        let name = self.name.clone().unwrap_or_else(|| default_name(edits));
        if branch_safe(&name).is_empty() {
            return Err(format!("`merge_request.name: {name}` leaves nothing usable in a branch name"));
        }
        Ok(MergeRequestTarget {
            forge,
            api_url,
            project,
            branch: branch_name(&name, repo, target, edits),
            title: self.title.clone(),
            labels: self.labels.clone(),
        })
    }
}

/// The API token from the environment, by forge (never printed).
pub(crate) fn token(forge: Forge) -> Result<String, BumpError> {
    let names: &[&str] = match forge {
        Forge::Gitlab => &["GITLAB_TOKEN", "GITOPS_TOKEN"],
        Forge::Github => &["GITHUB_TOKEN", "GITOPS_TOKEN"],
    };
    names.iter().find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty())).ok_or_else(|| {
        BumpError::Git(format!(
            "merge-request mode needs an API token: set {} (a token that may open merge requests)",
            names.join(" or ")
        ))
    })
}

pub(crate) fn cell(s: &str) -> String {
    format!("`{}`", s.replace('|', "\\|").replace('`', "'").replace(['\n', '\r'], " "))
}

/// The merge request's description: a table of the changes and where they come from.
pub fn description(changes: &[Change], repo: &str, target: &str, branch: &str) -> String {
    let mut d = format!(
        "shipgate changes {} value{} in `{}` (branch `{target}`).\n\n| File | Path | Old | New |\n| --- | --- | --- | --- |\n",
        changes.len(),
        if changes.len() == 1 { "" } else { "s" },
        super::repo::redact(repo),
    );
    for c in changes {
        let _ = writeln!(d, "| {} | {} | {} | {} |", cell(&c.file), cell(&c.path), cell(&c.old), cell(&c.new));
    }
    let env = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
    let source: Vec<String> = [
        env("CI_PROJECT_PATH").map(|p| format!("project `{p}`")),
        env("CI_COMMIT_SHA").or_else(|| env("GIT_COMMIT")).map(|c| format!("commit `{c}`")),
        env("CI_PIPELINE_URL").or_else(|| env("BUILD_URL")).map(|u| format!("pipeline {u}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !source.is_empty() {
        let _ = writeln!(d, "\nSource: {}.", source.join(", "));
    }
    let _ = write!(
        d,
        "\nThis merge request is updated in place by later runs of the same bump.\n<!-- shipgate:{branch} -->\n"
    );
    d
}

/// Checks the token and the project before anything is pushed.
pub async fn preflight(t: &MergeRequestTarget) -> Result<(), BumpError> {
    let token = token(t.forge)?;
    match t.forge {
        Forge::Gitlab => gitlab_client(t, &token).await.map(drop),
        Forge::Github => {
            let (owner, name) = split_repo(&t.project);
            github_client(t, &token)?
                .repos(owner, name)
                .get()
                .await
                .map(drop)
                .map_err(github_err(t, "read the repository"))
        }
    }
}

/// What the merge request says: into which branch, its title and description.
#[derive(Debug, Clone, Copy)]
pub struct MrText<'a> {
    pub target: &'a str,
    pub title: &'a str,
    pub description: &'a str,
}

/// Opens the merge request for `t.branch` → `text.target`, or updates the open one.
pub async fn open_or_update(t: &MergeRequestTarget, text: MrText<'_>) -> Result<MergeRequest, BumpError> {
    let token = token(t.forge)?;
    match t.forge {
        Forge::Gitlab => gitlab_open_or_update(t, &token, text).await,
        Forge::Github => github_open_or_update(t, &token, text).await,
    }
}

// ---- GitLab -------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct GitlabMr {
    iid: u64,
    web_url: String,
    title: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    labels: Vec<String>,
}

pub(crate) fn gitlab_err<E: std::fmt::Display>(t: &MergeRequestTarget, what: &str) -> impl Fn(E) -> BumpError {
    let at = format!("{} ({})", t.project, t.api_url);
    let what = what.to_owned();
    move |e| {
        let msg = e.to_string();
        let hint = if msg.contains("401") || msg.contains("403") || msg.to_lowercase().contains("unauthorized") {
            "; the token was refused (it needs the `api` scope and Developer access to the project)"
        } else {
            ""
        };
        BumpError::Git(format!("GitLab: cannot {what} for {at}: {msg}{hint}"))
    }
}

pub(crate) async fn gitlab_client(t: &MergeRequestTarget, token: &str) -> Result<gitlab::AsyncGitlab, BumpError> {
    let (insecure, host) = match t.api_url.split_once("://") {
        Some(("http", h)) => (true, h),
        Some((_, h)) => (false, h),
        None => (false, t.api_url.as_str()),
    };
    let mut b = gitlab::GitlabBuilder::new(host, token);
    if insecure {
        b.insecure();
    }
    b.build_async().await.map_err(gitlab_err(t, "sign in"))
}

async fn gitlab_open_or_update(
    t: &MergeRequestTarget,
    token: &str,
    text: MrText<'_>,
) -> Result<MergeRequest, BumpError> {
    let MrText { target, title, description } = text;
    use gitlab::api::AsyncQuery;
    use gitlab::api::projects::merge_requests as mrs;
    let client = gitlab_client(t, token).await?;
    let list = mrs::MergeRequests::builder()
        .project(t.project.as_str())
        .source_branch(t.branch.as_str())
        .target_branch(target)
        .state(mrs::MergeRequestState::Opened)
        .build()
        .map_err(gitlab_err(t, "list merge requests"))?;
    let open: Vec<GitlabMr> = list.query_async(&client).await.map_err(gitlab_err(t, "list merge requests"))?;
    if let Some(mr) = open.into_iter().next() {
        let missing: Vec<&String> = t.labels.iter().filter(|l| !mr.labels.contains(l)).collect();
        if mr.title == title && mr.description.as_deref() == Some(description) && missing.is_empty() {
            return Ok(MergeRequest { url: mr.web_url, number: mr.iid, action: MrAction::Unchanged });
        }
        let mut edit = mrs::EditMergeRequest::builder();
        edit.project(t.project.as_str()).merge_request(mr.iid).title(title).description(description);
        for l in &missing {
            edit.add_label(l.as_str());
        }
        let edit = edit.build().map_err(gitlab_err(t, "update the merge request"))?;
        let mr: GitlabMr = edit.query_async(&client).await.map_err(gitlab_err(t, "update the merge request"))?;
        return Ok(MergeRequest { url: mr.web_url, number: mr.iid, action: MrAction::Updated });
    }
    let mut create = mrs::CreateMergeRequest::builder();
    create
        .project(t.project.as_str())
        .source_branch(t.branch.as_str())
        .target_branch(target)
        .title(title)
        .description(description)
        .remove_source_branch(true);
    if !t.labels.is_empty() {
        create.labels(t.labels.iter().map(String::as_str));
    }
    let create = create.build().map_err(gitlab_err(t, "open the merge request"))?;
    let mr: GitlabMr = create.query_async(&client).await.map_err(gitlab_err(t, "open the merge request"))?;
    Ok(MergeRequest { url: mr.web_url, number: mr.iid, action: MrAction::Opened })
}

// ---- GitHub -------------------------------------------------------------------------

pub(crate) fn split_repo(project: &str) -> (&str, &str) {
    project.split_once('/').unwrap_or((project, ""))
}

pub(crate) fn github_err(t: &MergeRequestTarget, what: &str) -> impl Fn(octocrab::Error) -> BumpError {
    let at = format!("{} ({})", t.project, t.api_url);
    let what = what.to_owned();
    move |e| {
        let (msg, status) = match &e {
            octocrab::Error::GitHub { source, .. } => (source.message.clone(), Some(source.status_code.as_u16())),
            other => (other.to_string(), None),
        };
        let hint = match status {
            Some(401 | 403) => "; the token was refused (it needs `contents: write` and `pull-requests: write`)",
            Some(404) => "; no such repository, or the token cannot see it",
            _ => "",
        };
        BumpError::Git(format!("GitHub: cannot {what} for {at}: {msg}{hint}"))
    }
}

pub(crate) fn github_client(t: &MergeRequestTarget, token: &str) -> Result<octocrab::Octocrab, BumpError> {
    octocrab::Octocrab::builder()
        .base_uri(t.api_url.as_str())
        .and_then(|b| b.personal_token(token.to_owned()).build())
        .map_err(github_err(t, "set up the API client"))
}

async fn github_open_or_update(
    t: &MergeRequestTarget,
    token: &str,
    text: MrText<'_>,
) -> Result<MergeRequest, BumpError> {
    let MrText { target, title, description } = text;
    let octo = github_client(t, token)?;
    let (owner, name) = split_repo(&t.project);
    let pulls = octo.pulls(owner, name);
    let open = pulls
        .list()
        .state(octocrab::params::State::Open)
        .head(format!("{owner}:{}", t.branch))
        .base(target)
        .send()
        .await
        .map_err(github_err(t, "list pull requests"))?;
    let url = |pr: &octocrab::models::pulls::PullRequest| {
        pr.html_url.as_ref().map_or_else(|| pr.url.clone(), |u| u.to_string())
    };
    let (pr, action) = if let Some(pr) = open.items.into_iter().next() {
        if pr.title.as_deref() == Some(title) && pr.body.as_deref() == Some(description) {
            (pr, MrAction::Unchanged)
        } else {
            let pr = pulls
                .update(pr.number)
                .title(title)
                .body(description)
                .send()
                .await
                .map_err(github_err(t, "update the pull request"))?;
            (pr, MrAction::Updated)
        }
    } else {
        let pr = pulls
            .create(title, t.branch.as_str(), target)
            .body(description)
            .send()
            .await
            .map_err(github_err(t, "open the pull request"))?;
        (pr, MrAction::Opened)
    };
    let have: Vec<String> = pr.labels.iter().flatten().map(|l| l.name.clone()).collect();
    let missing: Vec<String> = t.labels.iter().filter(|l| !have.contains(l)).cloned().collect();
    let mut action = action;
    if !missing.is_empty() {
        octo.issues(owner, name).add_labels(pr.number, &missing).await.map_err(github_err(t, "add labels"))?;
        if action == MrAction::Unchanged {
            action = MrAction::Updated;
        }
    }
    Ok(MergeRequest { url: url(&pr), number: pr.number, action })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_urls_split_into_host_and_project() {
        let cases = [
            ("https://gitlab.example.com/platform/gitops.git", ("gitlab.example.com", "platform/gitops")),
            ("https://oauth2:tok@gitlab.example.com:8443/a/b/c", ("gitlab.example.com:8443", "a/b/c")),
            ("ssh://git@github.com:22/shop/deploy.git", ("github.com:22", "shop/deploy")),
            ("git@github.com:shop/deploy.git", ("github.com", "shop/deploy")),
            ("git://127.0.0.1:9418/gitops.git", ("127.0.0.1:9418", "gitops")),
        ];
        for (url, (host, path)) in cases {
            assert_eq!(host_and_path(url), Some((host.to_owned(), path.to_owned())), "{url}");
        }
        assert_eq!(host_and_path("/srv/git/gitops.git"), None);
        assert_eq!(host_and_path("target/demo/gitops.git"), None);
    }

    #[test]
    fn forge_and_api_url_come_from_the_remote() {
        let spec = MergeRequestSpec::default();
        let gh = spec.resolve("git@github.com:shop/deploy.git", None, &[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (gh.forge, gh.api_url.as_str(), gh.project.as_str()),
            (Forge::Github, "https://api.github.com", "shop/deploy")
        );
        let gl = spec.resolve("https://gitlab.example.com/a/b/gitops.git", None, &[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (gl.forge, gl.api_url.as_str(), gl.project.as_str()),
            (Forge::Gitlab, "https://gitlab.example.com", "a/b/gitops")
        );
        let err = spec.resolve("https://git.example.com/a/b.git", None, &[]).err().unwrap_or_default();
        assert!(err.contains("merge_request.forge"), "{err}");
        let err = spec.resolve("/srv/gitops.git", None, &[]).err().unwrap_or_default();
        assert!(err.contains("forge"), "{err}");
    }

    #[test]
    fn the_branch_depends_on_what_is_bumped_not_on_the_values() {
        use crate::gitops::image::{ImageEdit, ImageVersion};
        let img = |tag: &str, name: &str| Edit::Image {
            files: vec!["apps".into()],
            edit: ImageEdit { name: name.into(), version: ImageVersion::Tag(tag.into()) },
        };
        let spec = MergeRequestSpec { forge: Some(Forge::Gitlab), ..Default::default() };
        let repo = "https://gitlab.example.com/p/gitops.git";
        let a = spec.resolve(repo, Some("main"), &[img("v1", "registry/shop/api")]).map(|t| t.branch);
        let b = spec.resolve(repo, Some("main"), &[img("v2", "registry/shop/api")]).map(|t| t.branch);
        let c = spec.resolve(repo, Some("main"), &[img("v1", "registry/shop/web")]).map(|t| t.branch);
        let a = a.unwrap_or_default();
        assert!(a.starts_with("shipgate/api-") && a.len() == "shipgate/api-".len() + 8, "{a}");
        assert_eq!(Ok(a.clone()), b);
        assert_ne!(Ok(a), c);
    }

    #[test]
    fn the_description_tables_the_changes_and_escapes_cells() {
        let changes =
            vec![Change { file: "values.yaml".into(), path: "image.tag".into(), old: "v1".into(), new: "a|b".into() }];
        let d = description(&changes, "https://x:secret@gitlab.example.com/p/g.git", "main", "shipgate/api-1");
        assert!(d.contains("| `values.yaml` | `image.tag` | `v1` | `a\\|b` |"), "{d}");
        assert!(!d.contains("secret"), "{d}");
    }
}
