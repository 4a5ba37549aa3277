//! The git side of a bump: clone (shallow), apply the edits, commit, push — and when
//! the push is rejected because someone else pushed first, fetch the new tip and apply
//! the edits again from scratch (not a rebase), with bounded backoff and jitter.

use std::path::{Path as FsPath, PathBuf};
use std::time::Duration;

use git2::{Cred, CredentialType, FetchOptions, PushOptions, RemoteCallbacks, Repository, Signature};

use super::create::set_or_create;
use super::image::{ImageEdit, set_image};
use super::path::{DocSelector, Path};
use super::yaml_edit::{EditError, NewValue, edit_scalar};

#[derive(Debug, Clone)]
pub enum Edit {
    /// `{file, set: {PATH: VALUE}, doc}`.
    Set { file: String, doc: DocSelector, path: Path, value: NewValue, create: bool },
    /// `image: {name, tag|digest}` over files (folders are walked for .yaml/.yml).
    Image { files: Vec<String>, edit: ImageEdit },
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    pub file: String,
    pub path: String,
    pub old: String,
    pub new: String,
}

#[derive(Debug, Clone)]
pub struct BumpOptions {
    pub repo: String,
    pub branch: Option<String>,
    pub edits: Vec<Edit>,
    pub message: String,
    pub author: (String, String),
    pub dry_run: bool,
    pub max_attempts: u32,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct BumpResult {
    /// The new commit, when one was pushed.
    pub commit: Option<String>,
    pub changes: Vec<Change>,
    pub attempts: u32,
    /// A unified diff of what changed (always computed; what `plan` shows).
    pub diff: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BumpError {
    /// The edits cannot be applied: nothing was pushed (exit 2 / step failure).
    #[error("{0}")]
    Edit(String),
    /// Git or the network failed (exit 3).
    #[error("{0}")]
    Git(String),
}

fn git_err(what: &str) -> impl Fn(git2::Error) -> BumpError + '_ {
    move |e| BumpError::Git(format!("{what}: {}", e.message()))
}

/// Local paths cannot be cloned shallow by libgit2; everything else can.
fn is_local(url: &str) -> bool {
    !url.contains("://") && !url.contains('@')
}

/// Credentials from the environment: a token (`GITOPS_TOKEN`, `CI_JOB_TOKEN`,
/// `GITHUB_TOKEN`) for https, the SSH agent for ssh. Bounded: libgit2 calls back
/// again after each refusal, and would loop forever.
fn callbacks<'a>(attempts: &'a std::cell::Cell<u32>) -> RemoteCallbacks<'a> {
    let mut cb = RemoteCallbacks::new();
    cb.credentials(move |_url, username, allowed| {
        attempts.set(attempts.get() + 1);
        if attempts.get() > 3 {
            return Err(git2::Error::from_str(
                "authentication failed (credentials refused 3 times); check GITOPS_TOKEN / the SSH key",
            ));
        }
        let env = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
            if let Some(t) = env("GITOPS_TOKEN") {
                return Cred::userpass_plaintext(username.unwrap_or("oauth2"), &t);
            }
            if let Some(t) = env("CI_JOB_TOKEN") {
                return Cred::userpass_plaintext("gitlab-ci-token", &t);
            }
            if let Some(t) = env("GITHUB_TOKEN") {
                return Cred::userpass_plaintext("x-access-token", &t);
            }
        }
        if allowed.contains(CredentialType::SSH_KEY) {
            return Cred::ssh_key_from_agent(username.unwrap_or("git"));
        }
        Err(git2::Error::from_str("no credentials: set GITOPS_TOKEN (https) or load an SSH key into the agent"))
    });
    cb
}

/// The paths the edits touch (`None`: the whole tree, for an `image` edit over it).
/// Only these are checked out: writing 10,000 files nobody edits dominates a bump.
fn edited_paths(edits: &[Edit]) -> Option<Vec<String>> {
    let mut paths = Vec::new();
    for e in edits {
        match e {
            Edit::Set { file, .. } => paths.push(file.clone()),
            Edit::Image { files, .. } => {
                if files.iter().any(|f| f.is_empty() || f == ".") {
                    return None;
                }
                paths.extend(files.iter().cloned());
            }
        }
    }
    Some(paths)
}

fn checkout_builder(paths: Option<&[String]>) -> git2::build::CheckoutBuilder<'static> {
    let mut co = git2::build::CheckoutBuilder::new();
    co.force();
    if let Some(paths) = paths {
        for p in paths {
            co.path(p.trim_end_matches('/'));
        }
    }
    co
}

fn clone(url: &str, branch: Option<&str>, into: &FsPath, paths: Option<&[String]>) -> Result<Repository, BumpError> {
    if is_local(url) && !FsPath::new(url).exists() {
        return Err(BumpError::Git(format!("the repository {url} does not exist")));
    }
    let tries = std::cell::Cell::new(0);
    let mut fo = FetchOptions::new();
    fo.remote_callbacks(callbacks(&tries));
    if !is_local(url) {
        fo.depth(1);
    }
    let mut b = git2::build::RepoBuilder::new();
    b.fetch_options(fo);
    b.with_checkout(checkout_builder(paths));
    if let Some(br) = branch {
        b.branch(br);
    }
    b.clone(url, into).map_err(|e| BumpError::Git(format!("cannot clone {}: {}", redact(url), e.message())))
}

/// URLs may carry credentials (`https://user:token@host/…`): never print them.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => format!("{}***{}", &url[..s + 3], &url[at..]),
        _ => url.to_owned(),
    }
}

fn yaml_files(root: &FsPath, rel: &str) -> Vec<String> {
    let p = root.join(rel);
    if p.is_file() {
        return vec![rel.to_owned()];
    }
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(&p) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let child = if rel.is_empty() { name.clone() } else { format!("{}/{name}", rel.trim_end_matches('/')) };
            if e.path().is_dir() {
                out.extend(yaml_files(root, &child));
            } else if name.ends_with(".yaml") || name.ends_with(".yml") {
                out.push(child);
            }
        }
    }
    out.sort();
    out
}

/// Applies every edit to the work tree; returns the changes (empty: nothing to do).
pub fn apply_edits(root: &FsPath, edits: &[Edit]) -> Result<Vec<Change>, BumpError> {
    let mut changes = Vec::new();
    for edit in edits {
        match edit {
            Edit::Set { file, doc, path, value, create } => {
                let full = root.join(file);
                let text = std::fs::read_to_string(&full).map_err(|e| BumpError::Edit(format!("{file}: {e}")))?;
                let old = edit_scalar(&text, doc, path, value).ok().map(|(_, o)| o.old);
                let result = if *create {
                    set_or_create(&text, doc, path, value)
                } else {
                    edit_scalar(&text, doc, path, value).map(|(t, o)| (t, o.changed))
                };
                let (new_text, changed) = result.map_err(|e: EditError| BumpError::Edit(format!("{file}: {e}")))?;
                if changed {
                    std::fs::write(&full, &new_text).map_err(|e| BumpError::Edit(format!("{file}: {e}")))?;
                    changes.push(Change {
                        file: file.clone(),
                        path: path.to_string(),
                        old: old.unwrap_or_default(),
                        new: value_text(value),
                    });
                }
            }
            Edit::Image { files, edit } => {
                let mut any = false;
                for f in files {
                    for file in yaml_files(root, f) {
                        let full = root.join(&file);
                        let text =
                            std::fs::read_to_string(&full).map_err(|e| BumpError::Edit(format!("{file}: {e}")))?;
                        let (new_text, outcomes) =
                            set_image(&text, edit).map_err(|e| BumpError::Edit(format!("{file}: {e}")))?;
                        any |= !outcomes.is_empty();
                        if new_text != text {
                            std::fs::write(&full, &new_text).map_err(|e| BumpError::Edit(format!("{file}: {e}")))?;
                            for o in outcomes.into_iter().filter(|o| o.changed) {
                                changes.push(Change {
                                    file: file.clone(),
                                    path: format!("image {} (line {})", edit.name, o.line),
                                    old: o.old,
                                    new: o.new,
                                });
                            }
                        }
                    }
                }
                if !any {
                    return Err(BumpError::Edit(format!(
                        "no reference to image `{}` found in {}",
                        edit.name,
                        files.join(", ")
                    )));
                }
            }
        }
    }
    Ok(changes)
}

fn value_text(v: &NewValue) -> String {
    match v {
        NewValue::Str(s) => s.clone(),
        NewValue::Int(i) => i.to_string(),
        NewValue::Bool(b) => b.to_string(),
    }
}

/// The unified diff of the edited files only: a whole-tree diff against the work tree
/// is quadratic in libgit2 (every file is looked up in the tree by path).
fn diff(repo: &Repository, changes: &[Change]) -> Result<String, BumpError> {
    if changes.is_empty() {
        return Ok(String::new());
    }
    let head = repo.head().and_then(|h| h.peel_to_tree()).map_err(git_err("cannot read HEAD"))?;
    let mut opts = git2::DiffOptions::new();
    opts.disable_pathspec_match(true);
    for c in changes {
        opts.pathspec(&c.file);
    }
    let d = repo.diff_tree_to_workdir(Some(&head), Some(&mut opts)).map_err(git_err("cannot diff"))?;
    let mut out = String::new();
    d.print(git2::DiffFormat::Patch, |_, _, line| {
        let prefix = match line.origin() {
            '+' | '-' | ' ' => line.origin().to_string(),
            _ => String::new(),
        };
        out.push_str(&prefix);
        out.push_str(&String::from_utf8_lossy(line.content()));
        true
    })
    .map_err(git_err("cannot print the diff"))?;
    Ok(out)
}

fn commit(repo: &Repository, changes: &[Change], opts: &BumpOptions) -> Result<git2::Oid, BumpError> {
    let parent = repo.head().and_then(|h| h.peel_to_commit()).map_err(git_err("cannot read HEAD"))?;
    // The index starts from HEAD's whole tree, never from the (partial) checkout.
    let mut index = repo.index().map_err(git_err("cannot open the index"))?;
    index
        .read_tree(&parent.tree().map_err(git_err("cannot read HEAD's tree"))?)
        .map_err(git_err("cannot load the tree"))?;
    let mut files: Vec<&str> = changes.iter().map(|c| c.file.as_str()).collect();
    files.dedup();
    for f in files {
        index.add_path(FsPath::new(f)).map_err(git_err("cannot stage"))?;
    }
    index.write().map_err(git_err("cannot write the index"))?;
    let tree = repo
        .find_tree(index.write_tree().map_err(git_err("cannot write the tree"))?)
        .map_err(git_err("cannot read the tree"))?;
    let sig = Signature::now(&opts.author.0, &opts.author.1).map_err(git_err("bad author"))?;
    let mut message = opts.message.clone();
    message.push_str("\n\n");
    for c in changes {
        message.push_str(&format!("- {}: {}: {} → {}\n", c.file, c.path, c.old, c.new));
    }
    repo.commit(Some("HEAD"), &sig, &sig, &message, &tree, &[&parent]).map_err(git_err("cannot commit"))
}

/// Pushes HEAD to `branch`; `Ok(false)` when the server rejected the update.
fn push(repo: &Repository, branch: &str) -> Result<bool, BumpError> {
    let tries = std::cell::Cell::new(0);
    let rejected = std::cell::RefCell::new(None::<String>);
    {
        let mut cb = callbacks(&tries);
        // libgit2 reports a rejected ref as a successful push unless this is checked.
        cb.push_update_reference(|_, status| {
            if let Some(s) = status {
                *rejected.borrow_mut() = Some(s.to_owned());
            }
            Ok(())
        });
        let mut po = PushOptions::new();
        po.remote_callbacks(cb);
        let mut remote = repo.find_remote("origin").map_err(git_err("no origin"))?;
        let spec = format!("HEAD:refs/heads/{branch}");
        if let Err(e) = remote.push(&[spec.as_str()], Some(&mut po)) {
            let msg = e.message().to_owned();
            if msg.contains("non-fast-forward")
                || msg.contains("rejected")
                || msg.contains("fetch first")
                || e.code() == git2::ErrorCode::NotFastForward
            {
                return Ok(false);
            }
            return Err(BumpError::Git(format!("cannot push: {msg}")));
        }
    }
    Ok(rejected.borrow().is_none())
}

/// Fetches `branch` and resets the work tree to it (the edits are then applied again).
fn reset_to_remote(repo: &Repository, url: &str, branch: &str, paths: Option<&[String]>) -> Result<(), BumpError> {
    let tries = std::cell::Cell::new(0);
    let mut fo = FetchOptions::new();
    fo.remote_callbacks(callbacks(&tries));
    if !is_local(url) {
        fo.depth(1);
    }
    let mut remote = repo.find_remote("origin").map_err(git_err("no origin"))?;
    remote
        .fetch(&[format!("+refs/heads/{branch}:refs/remotes/origin/{branch}")], Some(&mut fo), None)
        .map_err(git_err("cannot fetch"))?;
    let tip = repo
        .find_reference(&format!("refs/remotes/origin/{branch}"))
        .and_then(|r| r.peel_to_commit())
        .map_err(git_err("cannot read the new tip"))?;
    repo.reset(tip.as_object(), git2::ResetType::Hard, Some(&mut checkout_builder(paths)))
        .map_err(git_err("cannot reset"))
}

/// The whole bump in a scratch folder under `workdir`.
pub fn bump(opts: &BumpOptions, workdir: &FsPath) -> Result<BumpResult, BumpError> {
    let dir: PathBuf = workdir.join("repo");
    let paths = edited_paths(&opts.edits);
    let repo = clone(&opts.repo, opts.branch.as_deref(), &dir, paths.as_deref())?;
    let branch = match &opts.branch {
        Some(b) => b.clone(),
        None => repo.head().ok().and_then(|h| h.shorthand().ok().map(str::to_owned)).unwrap_or_else(|| "main".into()),
    };
    let mut attempt = 1;
    loop {
        let changes = apply_edits(&dir, &opts.edits)?;
        let patch = diff(&repo, &changes)?;
        if changes.is_empty() || opts.dry_run {
            return Ok(BumpResult { commit: None, changes, attempts: attempt, diff: patch });
        }
        let oid = commit(&repo, &changes, opts)?;
        if push(&repo, &branch)? {
            return Ok(BumpResult { commit: Some(oid.to_string()), changes, attempts: attempt, diff: patch });
        }
        if attempt >= opts.max_attempts {
            return Err(BumpError::Git(format!(
                "the push to {branch} was rejected {attempt} times (others keep pushing); giving up"
            )));
        }
        // Someone pushed first: start again from their tip. Exponential backoff with
        // jitter (200 ms doubling to 3.2 s, plus up to as much again) spreads racers out;
        // shorter delays were measured to make more racers run out of attempts.
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().subsec_nanos();
        let base = 100u64 << attempt.min(5);
        std::thread::sleep(Duration::from_millis(base + u64::from(nanos) % base));
        reset_to_remote(&repo, &opts.repo, &branch, paths.as_deref())?;
        attempt += 1;
    }
}
