//! The git side of a bump: clone (shallow), apply the edits, commit, push — and when
//! the push is rejected because someone else pushed first, fetch the new tip and apply
//! the edits again from scratch (not a rebase), with bounded backoff and jitter.

use std::path::{Path as FsPath, PathBuf};
use std::time::Duration;

use git2::{Cred, CredentialType, FetchOptions, PushOptions, RemoteCallbacks, Repository, Signature};

use super::create::set_or_create;
use super::forge::{MergeRequest, MergeRequestTarget};
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
    /// `mode: merge-request`: push to the target's branch instead, and open or update
    /// the merge request (see `forge.rs`).
    pub merge_request: Option<MergeRequestTarget>,
    /// Bumps of one branch on this host take turns (see `host_turn`); off with
    /// `SHIPGATE_BUMP_NO_HOST_LOCK=1`, leaving only the push retries.
    pub take_turns: bool,
}

impl BumpOptions {
    /// Whether bumps on this host take turns, from the environment.
    pub fn take_turns_from_env() -> bool {
        std::env::var_os("SHIPGATE_BUMP_NO_HOST_LOCK").is_none_or(|v| v.is_empty() || v == "0")
    }
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct BumpResult {
    /// The new commit, when one was pushed.
    pub commit: Option<String>,
    pub changes: Vec<Change>,
    pub attempts: u32,
    /// A unified diff of what changed (always computed; what `plan` shows).
    pub diff: String,
    /// The branch the edits were made against.
    pub target: String,
    /// Merge-request mode: the branch the commit went to…
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// … whether it was pushed (false: the branch already held these changes) …
    pub pushed: bool,
    /// … and the merge request opened or updated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merge_request: Option<MergeRequest>,
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
        if allowed.contains(CredentialType::USERNAME) {
            return Cred::username(username.unwrap_or("git"));
        }
        if allowed.contains(CredentialType::SSH_KEY) {
            return ssh_key(username.unwrap_or("git"));
        }
        Err(git2::Error::from_str("no credentials: set GITOPS_TOKEN (https), or GITOPS_SSH_KEY or an SSH agent (ssh)"))
    });
    cb
}

/// The SSH key: `GITOPS_SSH_KEY` (the private key itself, as CI variables hold it, or
/// a path to it; `GITOPS_SSH_PASSPHRASE` if it has one), else the agent
/// (`SSH_AUTH_SOCK`), else `~/.ssh/id_ed25519`, `id_ecdsa` or `id_rsa`. The server's
/// host key is checked by libgit2 against `~/.ssh/known_hosts`.
fn ssh_key(user: &str) -> Result<Cred, git2::Error> {
    let env = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
    let passphrase = env("GITOPS_SSH_PASSPHRASE");
    if let Some(key) = env("GITOPS_SSH_KEY") {
        if key.contains("PRIVATE KEY-----") {
            // CI variables often lose the final newline; libssh2 wants it.
            let key = if key.ends_with('\n') { key } else { key + "\n" };
            return Cred::ssh_key_from_memory(user, None, &key, passphrase.as_deref());
        }
        return Cred::ssh_key(user, None, FsPath::new(&key), passphrase.as_deref());
    }
    if env("SSH_AUTH_SOCK").is_some() {
        return Cred::ssh_key_from_agent(user);
    }
    let home = env("HOME").map(PathBuf::from).unwrap_or_default();
    ["id_ed25519", "id_ecdsa", "id_rsa"]
        .iter()
        .map(|k| home.join(".ssh").join(k))
        .find(|p| p.is_file())
        .map(|p| Cred::ssh_key(user, None, &p, passphrase.as_deref()))
        .unwrap_or_else(|| {
            Err(git2::Error::from_str("no SSH key: set GITOPS_SSH_KEY, start an SSH agent, or add ~/.ssh/id_ed25519"))
        })
}

/// A bare clone: the edits are applied to blobs in memory and the new trees built
/// along the edited paths only — no checkout, no index (a 10,000-file index costs
/// more than the whole edit).
fn clone(url: &str, branch: Option<&str>, into: &FsPath) -> Result<Repository, BumpError> {
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
    b.bare(true);
    if let Some(br) = branch {
        b.branch(br);
    }
    let repo = b.clone(url, into).map_err(|e| {
        let hint = if e.message().contains("hostkey") {
            "; add the server to ~/.ssh/known_hosts (`ssh-keyscan -p PORT HOST >> ~/.ssh/known_hosts`)"
        } else {
            ""
        };
        BumpError::Git(format!("cannot clone {}: {}{hint}", redact(url), e.message()))
    })?;
    // Fetches and pushes name the URL each time: credentials in it never reach the disk.
    repo.remote_set_url("origin", &redact(url)).map_err(git_err("cannot record the remote"))?;
    Ok(repo)
}

/// URLs may carry credentials (`https://user:token@host/…`): never print them.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => format!("{}***{}", &url[..s + 3], &url[at..]),
        _ => url.to_owned(),
    }
}

/// A new blob at a path (split at `/`) with its file mode.
type NewBlob<'a> = (Vec<&'a str>, git2::Oid, i32);

/// The files of one commit, read from its tree, with the edits made so far kept in
/// memory.
struct TreeFiles<'r> {
    repo: &'r Repository,
    tree: git2::Tree<'r>,
    /// Edited files: path → (new text, file mode).
    edited: std::collections::BTreeMap<String, (String, i32)>,
}

impl<'r> TreeFiles<'r> {
    fn new(repo: &'r Repository, tree: git2::Tree<'r>) -> Self {
        TreeFiles { repo, tree, edited: Default::default() }
    }

    fn read(&self, file: &str) -> Result<(String, i32), BumpError> {
        if let Some(e) = self.edited.get(file) {
            return Ok(e.clone());
        }
        let not_found = || BumpError::Edit(format!("{file}: no such file in the repository"));
        let entry = self.tree.get_path(FsPath::new(file)).map_err(|_| not_found())?;
        if entry.kind() != Some(git2::ObjectType::Blob) {
            return Err(BumpError::Edit(format!("{file}: not a file")));
        }
        let blob = self.repo.find_blob(entry.id()).map_err(git_err("cannot read a file"))?;
        let text = String::from_utf8(blob.content().to_vec())
            .map_err(|_| BumpError::Edit(format!("{file}: not a UTF-8 text file")))?;
        Ok((text, entry.filemode()))
    }

    fn write(&mut self, file: &str, text: String, mode: i32) {
        self.edited.insert(file.to_owned(), (text, mode));
    }

    /// The YAML files at `rel` (a file, or a folder walked recursively), sorted.
    fn yaml_files(&self, rel: &str) -> Vec<String> {
        let rel = rel.trim_matches('/');
        let rel = if rel == "." { "" } else { rel };
        let subtree = if rel.is_empty() {
            Some(self.tree.clone())
        } else {
            match self.tree.get_path(FsPath::new(rel)) {
                Ok(e) if e.kind() == Some(git2::ObjectType::Blob) => return vec![rel.to_owned()],
                Ok(e) => self.repo.find_tree(e.id()).ok(),
                Err(_) => None,
            }
        };
        let mut out = Vec::new();
        if let Some(t) = subtree {
            let _ = t.walk(git2::TreeWalkMode::PreOrder, |dir, e| {
                let name = e.name().unwrap_or_default();
                if e.kind() == Some(git2::ObjectType::Blob) && (name.ends_with(".yaml") || name.ends_with(".yml")) {
                    let prefix = if rel.is_empty() { String::new() } else { format!("{rel}/") };
                    out.push(format!("{prefix}{dir}{name}"));
                }
                git2::TreeWalkResult::Ok
            });
        }
        out.sort();
        out
    }

    /// The new root tree: the old one with the edited blobs replaced, rebuilding only
    /// the trees on the way to them.
    fn write_tree(&self) -> Result<git2::Oid, BumpError> {
        let mut blobs = Vec::new();
        for (file, (text, mode)) in &self.edited {
            let oid = self.repo.blob(text.as_bytes()).map_err(git_err("cannot write a file"))?;
            blobs.push((file.split('/').collect::<Vec<_>>(), oid, *mode));
        }
        self.rebuild(Some(&self.tree), &blobs)
    }

    fn rebuild(&self, tree: Option<&git2::Tree<'_>>, blobs: &[NewBlob<'_>]) -> Result<git2::Oid, BumpError> {
        let mut b = self.repo.treebuilder(tree).map_err(git_err("cannot build a tree"))?;
        let mut dirs: std::collections::BTreeMap<&str, Vec<NewBlob<'_>>> = Default::default();
        for (parts, oid, mode) in blobs {
            match parts.as_slice() {
                [name] => {
                    b.insert(name, *oid, *mode).map_err(git_err("cannot build a tree"))?;
                }
                [dir, rest @ ..] => dirs.entry(dir).or_default().push((rest.to_vec(), *oid, *mode)),
                [] => {}
            }
        }
        for (dir, inner) in dirs {
            let sub = tree.and_then(|t| t.get_name(dir)).and_then(|e| self.repo.find_tree(e.id()).ok());
            let oid = self.rebuild(sub.as_ref(), &inner)?;
            b.insert(dir, oid, 0o040000).map_err(git_err("cannot build a tree"))?;
        }
        b.write().map_err(git_err("cannot write a tree"))
    }
}

/// Applies every edit to the files of a commit; returns the changes (empty: nothing to do).
fn apply_edits(files: &mut TreeFiles<'_>, edits: &[Edit]) -> Result<Vec<Change>, BumpError> {
    let mut changes = Vec::new();
    for edit in edits {
        match edit {
            Edit::Set { file, doc, path, value, create } => {
                let (text, mode) = files.read(file)?;
                let old = edit_scalar(&text, doc, path, value).ok().map(|(_, o)| o.old);
                let result = if *create {
                    set_or_create(&text, doc, path, value)
                } else {
                    edit_scalar(&text, doc, path, value).map(|(t, o)| (t, o.changed))
                };
                let (new_text, changed) = result.map_err(|e: EditError| BumpError::Edit(format!("{file}: {e}")))?;
                if changed {
                    files.write(file, new_text, mode);
                    changes.push(Change {
                        file: file.clone(),
                        path: path.to_string(),
                        old: old.unwrap_or_default(),
                        new: value_text(value),
                    });
                }
            }
            Edit::Image { files: roots, edit } => {
                let mut any = false;
                for f in roots {
                    for file in files.yaml_files(f) {
                        let (text, mode) = files.read(&file)?;
                        let (new_text, outcomes) =
                            set_image(&text, edit).map_err(|e| BumpError::Edit(format!("{file}: {e}")))?;
                        any |= !outcomes.is_empty();
                        if new_text != text {
                            files.write(&file, new_text, mode);
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
                        roots.join(", ")
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

/// The unified diff between two trees (identical subtrees are skipped by id, so this
/// costs only what changed).
fn diff(repo: &Repository, old: &git2::Tree<'_>, new: git2::Oid) -> Result<String, BumpError> {
    let new = repo.find_tree(new).map_err(git_err("cannot read the new tree"))?;
    let d = repo.diff_tree_to_tree(Some(old), Some(&new), None).map_err(git_err("cannot diff"))?;
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

/// Writes the commit (no ref moves) and points `refs/shipgate/bump` at it for the push.
fn commit(
    repo: &Repository,
    parent: &git2::Commit<'_>,
    tree: git2::Oid,
    changes: &[Change],
    opts: &BumpOptions,
) -> Result<git2::Oid, BumpError> {
    let tree = repo.find_tree(tree).map_err(git_err("cannot read the tree"))?;
    let sig = Signature::now(&opts.author.0, &opts.author.1).map_err(git_err("bad author"))?;
    let mut message = opts.message.clone();
    message.push_str("\n\n");
    for c in changes {
        message.push_str(&format!("- {}: {}: {} → {}\n", c.file, c.path, c.old, c.new));
    }
    let oid = repo.commit(None, &sig, &sig, &message, &tree, &[parent]).map_err(git_err("cannot commit"))?;
    repo.reference(PUSH_REF, oid, true, "shipgate bump").map_err(git_err("cannot point a ref at the commit"))?;
    Ok(oid)
}

const PUSH_REF: &str = "refs/shipgate/bump";

/// Pushes the new commit to `branch` (`force`: replacing what is there); `Ok(false)`
/// when the server rejected the update.
fn push(repo: &Repository, url: &str, branch: &str, force: bool) -> Result<bool, BumpError> {
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
        let mut remote = repo.remote_anonymous(url).map_err(git_err("bad remote"))?;
        let spec = format!("{}{PUSH_REF}:refs/heads/{branch}", if force { "+" } else { "" });
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

/// Fetches `branch` into `refs/remotes/origin/branch` and returns its tip. Not
/// shallow: the clone's shallow roots are sent along, so the server packs only the
/// commits since (a depth-1 fetch would make it pack the whole tree again).
fn fetch<'r>(repo: &'r Repository, url: &str, branch: &str) -> Result<git2::Commit<'r>, BumpError> {
    let tries = std::cell::Cell::new(0);
    let mut fo = FetchOptions::new();
    fo.remote_callbacks(callbacks(&tries));
    fo.download_tags(git2::AutotagOption::None).update_fetchhead(false);
    let mut remote = repo.remote_anonymous(url).map_err(git_err("bad remote"))?;
    remote
        .fetch(&[format!("+refs/heads/{branch}:refs/remotes/origin/{branch}")], Some(&mut fo), None)
        .map_err(git_err("cannot fetch"))?;
    repo.find_reference(&format!("refs/remotes/origin/{branch}"))
        .and_then(|r| r.peel_to_commit())
        .map_err(git_err("cannot read the new tip"))
}

/// The remote's tip of `branch` (`None`: no such branch), without fetching it.
fn remote_tip(repo: &Repository, url: &str, branch: &str) -> Result<Option<git2::Oid>, BumpError> {
    let tries = std::cell::Cell::new(0);
    let mut remote = repo.remote_anonymous(url).map_err(git_err("bad remote"))?;
    let conn = remote
        .connect_auth(git2::Direction::Fetch, Some(callbacks(&tries)), None)
        .map_err(git_err("cannot list the remote's branches"))?;
    let name = format!("refs/heads/{branch}");
    let list = conn.list().map_err(git_err("cannot list the remote's branches"))?;
    Ok(list.iter().find(|h| h.name() == name).map(|h| h.oid()))
}

/// Bumps of the same branch started on one host take turns for the short stretch from
/// "read the tip" to "push": instead of colliding on the server and backing off, each
/// waits for the previous one and starts from its commit. Racers on other hosts are
/// still handled by the push's status check and the retries. An OS file lock (released
/// when the process ends, however it ends); after `LOCK_WAIT` a bump goes on without it.
fn host_turn(url: &str, branch: &str) -> Option<std::fs::File> {
    use sha2::Digest as _;
    const LOCK_WAIT: Duration = Duration::from_secs(60);
    let key = sha2::Sha256::digest(format!("{}\0{branch}", redact(url)).as_bytes());
    let key: String = key.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let path = std::env::temp_dir().join(format!("shipgate-bump-{key}.lock"));
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(path).ok()?;
    let start = std::time::Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Some(file),
            Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < LOCK_WAIT => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(_) => return None,
        }
    }
}

/// Merge-request mode: whether the branch already holds exactly this commit's tree on
/// the same parent (a re-run): then nothing is pushed.
fn branch_is_current(
    repo: &Repository,
    url: &str,
    branch: &str,
    ours: git2::Oid,
) -> Result<Option<git2::Oid>, BumpError> {
    if remote_tip(repo, url, branch)?.is_none() {
        return Ok(None);
    }
    let theirs = fetch(repo, url, branch)?;
    let ours = repo.find_commit(ours).map_err(git_err("cannot read the new commit"))?;
    // Parents as written in the commits: in a shallow clone a fetched commit at the
    // boundary reports no parents through `parent_ids()` (the graft hides them).
    let same = theirs.tree_id() == ours.tree_id() && raw_parents(repo, theirs.id()) == raw_parents(repo, ours.id());
    Ok(same.then(|| theirs.id()))
}

/// The `parent` lines of a commit object, whatever the shallow grafts say.
fn raw_parents(repo: &Repository, commit: git2::Oid) -> Vec<String> {
    let Ok(odb) = repo.odb() else { return Vec::new() };
    let Ok(obj) = odb.read(commit) else { return Vec::new() };
    String::from_utf8_lossy(obj.data())
        .lines()
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.strip_prefix("parent ").map(str::to_owned))
        .collect()
}

/// The whole bump, in a scratch clone under `workdir`.
pub fn bump(opts: &BumpOptions, workdir: &FsPath) -> Result<BumpResult, BumpError> {
    let mr_branch = opts.merge_request.as_ref().map(|m| m.branch.clone());
    let turns = opts.take_turns && mr_branch.is_none() && !opts.dry_run;
    let t = std::time::Instant::now();
    let repo = clone(&opts.repo, opts.branch.as_deref(), &workdir.join("repo"))?;
    tracing::debug!("cloned {} in {:?}", redact(&opts.repo), t.elapsed());
    let branch = match &opts.branch {
        Some(b) => b.clone(),
        None => repo.head().ok().and_then(|h| h.shorthand().ok().map(str::to_owned)).unwrap_or_else(|| "main".into()),
    };
    let mut tip = repo.head().and_then(|h| h.peel_to_commit()).map_err(git_err("cannot read the branch's tip"))?;
    let mut turn = None;
    let mut attempt = 1;
    loop {
        // Push mode: take this host's turn, then start from the newest tip.
        if turns {
            let t = std::time::Instant::now();
            turn = host_turn(&opts.repo, &branch);
            tracing::debug!("attempt {attempt}: waited {:?} for this host's turn", t.elapsed());
        }
        if turn.is_some() || attempt > 1 {
            let t = std::time::Instant::now();
            tip = fetch(&repo, &opts.repo, &branch)?;
            tracing::debug!("attempt {attempt}: fetched the newest tip in {:?}", t.elapsed());
        }
        let t = std::time::Instant::now();
        let base = tip.tree().map_err(git_err("cannot read the tree"))?;
        let mut files = TreeFiles::new(&repo, base.clone());
        let changes = apply_edits(&mut files, &opts.edits)?;
        let (tree, diff) = if changes.is_empty() {
            (base.id(), String::new())
        } else {
            let tree = files.write_tree()?;
            (tree, diff(&repo, &base, tree)?)
        };
        let result = BumpResult {
            changes,
            attempts: attempt,
            diff,
            target: branch.clone(),
            branch: mr_branch.clone(),
            ..BumpResult::default()
        };
        if result.changes.is_empty() || opts.dry_run {
            return Ok(result);
        }
        let oid = commit(&repo, &tip, tree, &result.changes, opts)?;
        tracing::debug!("attempt {attempt}: edited and committed in {:?}", t.elapsed());
        if let Some(mr) = &mr_branch {
            // The branch is ours alone: replace it (force), unless it already holds this.
            if let Some(current) = branch_is_current(&repo, &opts.repo, mr, oid)? {
                return Ok(BumpResult { commit: Some(current.to_string()), ..result });
            }
            if push(&repo, &opts.repo, mr, true)? {
                return Ok(BumpResult { commit: Some(oid.to_string()), pushed: true, ..result });
            }
            return Err(BumpError::Git(format!("the push to {mr} was rejected (is the branch protected?)")));
        }
        let t = std::time::Instant::now();
        let pushed = push(&repo, &opts.repo, &branch, false)?;
        drop(turn.take());
        let took = t.elapsed();
        tracing::debug!("attempt {attempt}: push {} in {took:?}", if pushed { "accepted" } else { "rejected" });
        if pushed {
            return Ok(BumpResult { commit: Some(oid.to_string()), pushed: true, ..result });
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
        let backoff = 100u64 << attempt.min(5);
        std::thread::sleep(Duration::from_millis(backoff + u64::from(nanos) % backoff));
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(repo: &Repository, text: &str) -> git2::Oid {
        repo.blob(text.as_bytes()).expect("blob")
    }

    #[test]
    fn trees_are_rebuilt_along_the_edited_paths_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = Repository::init_bare(dir.path()).expect("init");
        let tree = |entries: &[(&str, git2::Oid, i32)]| {
            let mut b = repo.treebuilder(None).expect("builder");
            for (name, oid, mode) in entries {
                b.insert(name, *oid, *mode).expect("insert");
            }
            b.write().expect("tree")
        };
        let values = blob(&repo, "image:\n  tag: v1 # keep\n");
        let other = blob(&repo, "tag: v1\n");
        let script = blob(&repo, "#!/bin/sh\n");
        let api = tree(&[("values.yaml", values, 0o100644), ("run.sh", script, 0o100755)]);
        let web = tree(&[("values.yaml", other, 0o100644)]);
        let apps = tree(&[("api", api, 0o040000), ("web", web, 0o040000)]);
        let root = tree(&[("apps", apps, 0o040000), ("top.yml", other, 0o100644)]);
        let root = repo.find_tree(root).expect("root");

        let mut files = TreeFiles::new(&repo, root.clone());
        assert_eq!(files.yaml_files(""), ["apps/api/values.yaml", "apps/web/values.yaml", "top.yml"]);
        assert_eq!(files.yaml_files("apps/web/"), ["apps/web/values.yaml"]);
        let edits = [Edit::Set {
            file: "apps/api/values.yaml".into(),
            doc: DocSelector::Only,
            path: Path::parse("image.tag").expect("path"),
            value: NewValue::Str("v2".into()),
            create: false,
        }];
        let changes = apply_edits(&mut files, &edits).expect("edit");
        assert_eq!(changes.len(), 1);
        let new = repo.find_tree(files.write_tree().expect("tree")).expect("new root");
        let get = |t: &git2::Tree<'_>, p: &str| t.get_path(FsPath::new(p)).map(|e| (e.id(), e.filemode())).ok();
        let edited = get(&new, "apps/api/values.yaml").expect("edited file");
        assert_eq!(repo.find_blob(edited.0).expect("blob").content(), b"image:\n  tag: v2 # keep\n");
        assert_eq!(edited.1, 0o100644);
        // Everything else keeps its id and mode, untouched subtrees included.
        for p in ["apps/api/run.sh", "apps/web", "apps/web/values.yaml", "top.yml"] {
            assert_eq!(get(&new, p), get(&root, p), "{p}");
        }
        assert_eq!(get(&new, "apps/api/run.sh").map(|e| e.1), Some(0o100755));
        assert_eq!(new.len(), root.len());

        let missing = [Edit::Set {
            file: "apps/nope.yaml".into(),
            doc: DocSelector::Only,
            path: Path::parse("a").expect("path"),
            value: NewValue::Str("b".into()),
            create: false,
        }];
        let err = apply_edits(&mut TreeFiles::new(&repo, root), &missing).err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("apps/nope.yaml: no such file in the repository"));
    }
}
