//! `with:` of `gitops.bump` (and the flags of `shipgate bump`).

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

use super::forge::{Forge, MergeRequestSpec};
use super::image::{ImageEdit, ImageVersion};
use super::path::{DocSelector, Path};
use super::repo::{BumpOptions, Edit};
use super::yaml_edit::NewValue;
use crate::yaml::{Node, NodeKind, ScalarStyle};

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BumpWith {
    /// The GitOps repository: https://…, ssh (git@host:group/repo.git), git://… or a local path.
    pub repo: String,
    /// The branch to commit to (default: the repository's default branch).
    pub branch: Option<String>,
    /// Edits: `{file, set: {PATH: VALUE}, doc}`.
    #[serde(default)]
    pub edits: Vec<EditWith>,
    /// Point every reference to an image repository at a new tag or digest.
    pub image: Option<ImageWith>,
    /// `push` (default): commit to `branch`. `merge-request`: push to a branch
    /// `shipgate/<name>-<hash>` and open (or update) a merge request / pull request.
    #[serde(default)]
    pub mode: Mode,
    /// Merge-request mode: forge, API URL, project, title, labels (defaults from `repo`).
    pub merge_request: Option<MergeRequestWith>,
    /// The commit message's first line (the change list and CI source follow).
    pub message: Option<String>,
    /// `Name <email>` (default: the CI user, else `shipgate <shipgate@localhost>`).
    pub author: Option<String>,
    /// Create paths that do not exist yet (minimally formatted).
    #[serde(default)]
    pub create: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    #[default]
    Push,
    MergeRequest,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequestWith {
    /// `gitlab` or `github` (default: from the repository's host).
    pub forge: Option<Forge>,
    /// The API's base URL (default: `https://HOST` for GitLab, `https://api.github.com` for github.com).
    pub api_url: Option<String>,
    /// `group/project` (GitLab) or `owner/repo` (GitHub) (default: the repository URL's path).
    pub project: Option<String>,
    /// The title (default: the commit message's first line).
    pub title: Option<String>,
    /// Labels added to the merge request.
    #[serde(default)]
    pub labels: Vec<String>,
    /// `<name>` in the branch `shipgate/<name>-<hash>` (default: the image's name, else `bump`).
    pub name: Option<String>,
}

impl MergeRequestWith {
    pub fn spec(&self) -> MergeRequestSpec {
        MergeRequestSpec {
            forge: self.forge,
            api_url: self.api_url.clone(),
            project: self.project.clone(),
            title: self.title.clone(),
            labels: self.labels.clone(),
            name: self.name.clone(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EditWith {
    /// The file, relative to the repository root.
    pub file: String,
    /// `PATH: VALUE` pairs, e.g. `image.tag: v1.2.3`, `spec.template.spec.containers[name=api].image: …`.
    #[schemars(with = "IndexMap<String, serde_json::Value>")]
    pub set: IndexMap<String, Node>,
    /// In multi-document files: an index, or `{kind: Deployment, name: api}`.
    #[schemars(with = "Option<serde_json::Value>")]
    pub doc: Option<Node>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageWith {
    /// The image repository, e.g. `registry.example.com/shop/api`.
    pub name: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
    /// Files or folders to search (default: the whole repository).
    #[serde(default)]
    pub files: Vec<String>,
}

/// A `set:` value keeps its YAML type: `3` and `true` as written, everything else text.
pub fn new_value(node: &Node) -> Result<NewValue, String> {
    match &node.kind {
        NodeKind::Scalar(s, ScalarStyle::Plain) => Ok(match crate::yaml::plain_scalar(s) {
            crate::yaml::Plain::Int(i) => NewValue::Int(i),
            crate::yaml::Plain::Bool(b) => NewValue::Bool(b),
            _ => NewValue::Str(s.clone()),
        }),
        NodeKind::Scalar(s, _) => Ok(NewValue::Str(s.clone())),
        NodeKind::Null => Err("a value is required (null cannot be written)".into()),
        _ => Err("a value must be a single string, number or boolean".into()),
    }
}

pub fn doc_selector(node: Option<&Node>) -> Result<DocSelector, String> {
    let Some(node) = node else { return Ok(DocSelector::Only) };
    match &node.kind {
        NodeKind::Scalar(s, _) => s.parse().map(DocSelector::Index).map_err(|_| format!("`doc: {s}` is not an index")),
        NodeKind::Map(_) => {
            let get = |k: &str| node.get(k).and_then(Node::as_str).map(str::to_owned);
            if let NodeKind::Map(pairs) = &node.kind
                && let Some((k, _)) = pairs.iter().find(|(k, _)| !matches!(k.as_str(), Some("kind" | "name")))
            {
                return Err(format!("unknown key `{}` in `doc` (expected `kind`, `name`)", k.as_str().unwrap_or("?")));
            }
            Ok(DocSelector::Object { kind: get("kind"), name: get("name") })
        }
        _ => Err("`doc` is an index or `{kind: …, name: …}`".into()),
    }
}

impl BumpWith {
    /// The edits and git options, or every problem with them.
    pub fn to_options(&self) -> Result<BumpOptions, Vec<String>> {
        let mut errors = Vec::new();
        let mut edits = Vec::new();
        if self.mode == Mode::Push && self.merge_request.is_some() {
            errors.push("`merge_request` options need `mode: merge-request`".into());
        }
        for e in &self.edits {
            let doc = doc_selector(e.doc.as_ref()).map_err(|m| errors.push(format!("{}: {m}", e.file))).ok();
            for (p, v) in &e.set {
                match (Path::parse(p), new_value(v), &doc) {
                    (Ok(path), Ok(value), Some(doc)) => edits.push(Edit::Set {
                        file: e.file.clone(),
                        doc: doc.clone(),
                        path,
                        value,
                        create: self.create,
                    }),
                    (Err(m), ..) | (_, Err(m), _) => errors.push(format!("{}: {m}", e.file)),
                    _ => {}
                }
            }
        }
        if let Some(img) = &self.image {
            let version = match (&img.tag, &img.digest) {
                (Some(t), None) => Some(ImageVersion::Tag(t.clone())),
                (None, Some(d)) if d.starts_with("sha256:") => Some(ImageVersion::Digest(d.clone())),
                (None, Some(d)) => {
                    errors.push(format!("image digest `{d}` does not start with `sha256:`"));
                    None
                }
                _ => {
                    errors.push("`image` needs exactly one of `tag` or `digest`".into());
                    None
                }
            };
            if let Some(version) = version {
                let files = if img.files.is_empty() { vec![String::new()] } else { img.files.clone() };
                edits.push(Edit::Image { files, edit: ImageEdit { name: img.name.clone(), version } });
            }
        }
        if edits.is_empty() && errors.is_empty() {
            errors.push("nothing to change: give `edits` or `image`".into());
        }
        let merge_request = match self.mode {
            Mode::Push => None,
            Mode::MergeRequest => {
                let spec = self.merge_request.as_ref().map(MergeRequestWith::spec).unwrap_or_default();
                match spec.resolve(&self.repo, self.branch.as_deref(), &edits) {
                    Ok(t) => Some(t),
                    // `${GITOPS_REPO}` is only known when the step runs; checked again then.
                    Err(_) if self.repo.contains("${") => None,
                    Err(m) => {
                        errors.push(m);
                        None
                    }
                }
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(BumpOptions {
            repo: self.repo.clone(),
            branch: self.branch.clone(),
            edits,
            message: self.message.clone().unwrap_or_else(default_message),
            author: author(self.author.as_deref()),
            dry_run: false,
            max_attempts: 10,
            merge_request,
            take_turns: BumpOptions::take_turns_from_env(),
        })
    }
}

fn default_message() -> String {
    let env = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
    let mut m = String::from("chore(gitops): bump by shipgate");
    if let (Some(project), Some(sha)) = (env("CI_PROJECT_PATH"), env("CI_COMMIT_SHORT_SHA")) {
        m = format!("chore(gitops): bump {project} to {sha}");
    }
    if let Some(url) = env("CI_PIPELINE_URL").or_else(|| env("BUILD_URL")) {
        m.push_str(&format!("\n\nPipeline: {url}"));
    }
    m
}

/// `Name <email>`, else the CI user, else shipgate.
pub fn author(given: Option<&str>) -> (String, String) {
    if let Some(a) = given
        && let Some((name, rest)) = a.split_once('<')
    {
        return (name.trim().to_owned(), rest.trim_end_matches('>').trim().to_owned());
    }
    let env = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
    match (env("GITLAB_USER_NAME"), env("GITLAB_USER_EMAIL")) {
        (Some(n), Some(e)) => (n, e),
        _ => ("shipgate".into(), "shipgate@localhost".into()),
    }
}
