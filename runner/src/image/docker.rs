//! `image.build` with `backend: docker`: a Dockerfile built by the Docker Engine through
//! its API (`bollard`; `DOCKER_HOST` is honoured). The context is tarred honouring
//! `.dockerignore`, the build log streams into the step's output, and a failing
//! instruction is reported with its Dockerfile line.
//!
//! Also reads an Engine image back as an OCI layout (`docker:IMAGE` sources of
//! `image.push`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use bollard::Docker;
use futures::StreamExt as _;
use globset::{Glob, GlobMatcher};

use super::layout::{CONFIG, Descriptor, LAYER_GZIP, Layout, MANIFEST, Manifest};
use super::{ImageError, digest_of};

#[derive(Debug, Clone, Default)]
pub struct DockerSpec {
    pub context: PathBuf,
    /// Relative to the context (default `Dockerfile`).
    pub dockerfile: String,
    pub build_args: BTreeMap<String, String>,
    pub target: Option<String>,
    pub platform: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// `name[:tag]` references the image gets (the first is `image`).
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct DockerBuilt {
    /// The Engine's image id (`sha256:…`, the digest of its config).
    pub id: String,
    /// `docker:NAME` (the first tag) or `docker:ID`, for `image.push`.
    pub image: String,
}

/// One `.dockerignore` rule: a glob, and whether it re-includes (`!`).
struct Rule {
    glob: GlobMatcher,
    include: bool,
}

/// The `.dockerignore` rules of a context (Go `filepath.Match` patterns plus `**`).
fn ignore_rules(context: &Path) -> Result<Vec<Rule>, ImageError> {
    let Ok(text) = std::fs::read_to_string(context.join(".dockerignore")) else { return Ok(Vec::new()) };
    let mut rules = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (include, pattern) = match line.strip_prefix('!') {
            Some(p) => (true, p.trim()),
            None => (false, line),
        };
        let pattern = pattern.trim_start_matches('/').trim_end_matches('/');
        let pattern = pattern.strip_prefix("./").unwrap_or(pattern);
        let glob = Glob::new(pattern)
            .and_then(|g| {
                globset::GlobBuilder::new(g.glob()).literal_separator(true).build().map(|g| g.compile_matcher())
            })
            .map_err(|e| ImageError::Input(format!(".dockerignore:{}: `{line}`: {e}", n + 1)))?;
        rules.push(Rule { glob, include });
    }
    Ok(rules)
}

/// Whether `rel` is excluded: the last rule matching it or one of its parent folders wins.
fn ignored(rules: &[Rule], rel: &str) -> bool {
    let mut out = false;
    for r in rules {
        let mut hit = r.glob.is_match(rel);
        let mut p = rel;
        while !hit {
            match p.rsplit_once('/') {
                Some((parent, _)) => {
                    p = parent;
                    hit = r.glob.is_match(p);
                }
                None => break,
            }
        }
        if hit {
            out = !r.include;
        }
    }
    out
}

fn collect(
    root: &Path,
    dir: &Path,
    rules: &[Rule],
    keep: &[&str],
    out: &mut Vec<(String, PathBuf)>,
) -> Result<(), ImageError> {
    let rd = std::fs::read_dir(dir).map_err(|e| ImageError::Input(format!("cannot list {}: {e}", dir.display())))?;
    let mut entries: Vec<_> = rd.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let rel = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().into_owned();
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        // The Dockerfile and .dockerignore are always sent, as docker does.
        if ignored(rules, &rel) && !keep.contains(&rel.as_str()) {
            // A folder may still hold re-included files (`!dir/keep.txt`).
            if !(is_dir && rules.iter().any(|r| r.include)) {
                continue;
            }
        }
        if is_dir {
            collect(root, &path, rules, keep, out)?;
        } else {
            out.push((rel, path));
        }
    }
    Ok(())
}

/// The build context as a tar, honouring `.dockerignore`.
pub fn context_tar(context: &Path, dockerfile: &str) -> Result<Vec<u8>, ImageError> {
    if !context.is_dir() {
        return Err(ImageError::Input(format!("the build context {} is not a folder", context.display())));
    }
    if !context.join(dockerfile).is_file() {
        return Err(ImageError::Input(format!("no Dockerfile at {}", context.join(dockerfile).display())));
    }
    let rules = ignore_rules(context)?;
    let mut files = Vec::new();
    collect(context, context, &rules, &[dockerfile, ".dockerignore"], &mut files)?;
    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(false);
    for (rel, path) in files {
        tar.append_path_with_name(&path, &rel)
            .map_err(|e| ImageError::Input(format!("cannot read {}: {e}", path.display())))?;
    }
    tar.into_inner().map_err(|e| ImageError::Input(format!("cannot tar the context: {e}")))
}

/// The line of the `n`-th instruction (1-based) of a Dockerfile.
fn instruction_line(dockerfile: &str, n: usize) -> Option<(usize, String)> {
    let mut count = 0;
    let mut continued = false;
    for (i, line) in dockerfile.lines().enumerate() {
        let t = line.trim();
        let starts = !continued && !t.is_empty() && !t.starts_with('#');
        continued = t.ends_with('\\') && (continued || starts);
        if starts {
            count += 1;
            if count == n {
                return Some((i + 1, t.to_owned()));
            }
        }
    }
    None
}

fn connect() -> Result<Docker, ImageError> {
    Docker::connect_with_defaults().map_err(|e| {
        ImageError::Registry(format!("cannot reach the Docker Engine (DOCKER_HOST or /var/run/docker.sock): {e}"))
    })
}

/// Builds with the Engine; `emit` gets the build log line by line.
pub async fn build(spec: &DockerSpec, emit: &(dyn Fn(String) + Send + Sync)) -> Result<DockerBuilt, ImageError> {
    let body = context_tar(&spec.context, &spec.dockerfile)?;
    let docker = connect()?
        .negotiate_version()
        .await
        .map_err(|e| ImageError::Registry(format!("cannot reach the Docker Engine: {e}")))?;
    let args: HashMap<String, String> = spec.build_args.clone().into_iter().collect();
    let labels: HashMap<String, String> = spec.labels.clone().into_iter().collect();
    let mut opts = bollard::query_parameters::BuildImageOptionsBuilder::default()
        .dockerfile(&spec.dockerfile)
        .rm(true)
        .forcerm(true)
        .buildargs(&args)
        .labels(&labels);
    if let Some(t) = spec.tags.first() {
        opts = opts.t(t);
    }
    if let Some(t) = &spec.target {
        opts = opts.target(t);
    }
    if let Some(p) = &spec.platform {
        opts = opts.platform(p);
    }
    let mut stream = docker.build_image(opts.build(), None, Some(bollard::body_full(body.into())));
    let mut id = None;
    let mut step: Option<usize> = None;
    let mut failure = None;
    while let Some(msg) = stream.next().await {
        match msg {
            Ok(info) => {
                if let Some(s) = info.stream {
                    for line in s.lines().filter(|l| !l.trim().is_empty()) {
                        // "Step 3/5 : RUN make" — remembered to place an error.
                        if let Some(rest) = line.strip_prefix("Step ") {
                            step = rest.split('/').next().and_then(|n| n.parse().ok());
                        }
                        emit(line.to_owned());
                    }
                }
                if let Some(aux) = info.aux.and_then(|a| a.id) {
                    id = Some(aux);
                }
                if let Some(e) = info.error_detail.and_then(|d| d.message) {
                    failure = Some(e);
                }
            }
            Err(e) => {
                failure = Some(match e {
                    bollard::errors::Error::DockerStreamError { error } => error,
                    other => other.to_string(),
                });
                break;
            }
        }
    }
    if let Some(message) = failure {
        let text = std::fs::read_to_string(spec.context.join(&spec.dockerfile)).unwrap_or_default();
        let at = step.and_then(|n| instruction_line(&text, n));
        let file = spec.context.join(&spec.dockerfile).display().to_string();
        return Err(ImageError::Input(match at {
            Some((line, instr)) => format!("{file}:{line}: `{instr}` failed: {message}"),
            None => format!("{file}: the build failed: {message}"),
        }));
    }
    let id = id.ok_or_else(|| ImageError::Registry("the Docker Engine did not report the image id".into()))?;
    for t in spec.tags.iter().skip(1) {
        let (repo, tag) = split_tag(t);
        let o = bollard::query_parameters::TagImageOptionsBuilder::default().repo(repo).tag(tag).build();
        docker.tag_image(&id, Some(o)).await.map_err(|e| ImageError::Registry(format!("cannot tag {t}: {e}")))?;
    }
    let image = format!("docker:{}", spec.tags.first().cloned().unwrap_or_else(|| id.clone()));
    Ok(DockerBuilt { id, image })
}

/// `name:tag` → (name, tag); `latest` when no tag.
fn split_tag(t: &str) -> (&str, &str) {
    match t.rsplit_once(':') {
        Some((n, tag)) if !tag.contains('/') => (n, tag),
        _ => (t, "latest"),
    }
}

/// Exports an Engine image (`docker save`) into an OCI layout: the config as it is (its
/// digest is the image id), each layer gzipped the same deterministic way as native
/// builds. Returns the layout's tag.
pub async fn export_to_layout(image: &str, out: &Path) -> Result<String, ImageError> {
    let docker = connect()?
        .negotiate_version()
        .await
        .map_err(|e| ImageError::Registry(format!("cannot reach the Docker Engine: {e}")))?;
    let mut tar = Vec::new();
    let mut stream = docker.export_image(image);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ImageError::Input(format!("cannot export the Docker image {image}: {e}")))?;
        tar.extend_from_slice(&chunk);
    }
    let mut files: HashMap<String, Vec<u8>> = HashMap::new();
    let mut archive = tar::Archive::new(tar.as_slice());
    let entries = archive.entries().map_err(|e| ImageError::Input(format!("{image}: {e}")))?;
    for e in entries {
        let mut e = e.map_err(|e| ImageError::Input(format!("{image}: {e}")))?;
        let name = e.path().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).map_err(|e| ImageError::Input(format!("{image}: {e}")))?;
        files.insert(name, data);
    }
    let manifest: serde_json::Value = files
        .get("manifest.json")
        .and_then(|m| serde_json::from_slice(m).ok())
        .ok_or_else(|| ImageError::Input(format!("{image}: the export has no manifest.json")))?;
    let entry = &manifest[0];
    let config_name = entry["Config"].as_str().unwrap_or_default();
    let config =
        files.get(config_name).ok_or_else(|| ImageError::Input(format!("{image}: no config in the export")))?;
    let layout = Layout::create(out)?;
    layout.write_blob(config)?;
    let mut layers = Vec::new();
    for l in entry["Layers"].as_array().into_iter().flatten().filter_map(|l| l.as_str()) {
        let raw = files.get(l).ok_or_else(|| ImageError::Input(format!("{image}: the layer {l} is missing")))?;
        let blob = super::native::gzip(raw).map_err(|e| ImageError::Input(e.to_string()))?;
        layout.write_blob(&blob)?;
        layers.push(Descriptor::of(LAYER_GZIP, &blob));
    }
    let m = Manifest {
        schema_version: 2,
        media_type: Some(MANIFEST.into()),
        config: Descriptor::of(CONFIG, config),
        layers,
        annotations: None,
    };
    let bytes = serde_json::to_vec(&m).map_err(|e| ImageError::Input(e.to_string()))?;
    layout.write_blob(&bytes)?;
    let tag = "docker".to_owned();
    layout.tag(&tag, &Descriptor::of(MANIFEST, &bytes))?;
    debug_assert_eq!(digest_of(config), Descriptor::of(CONFIG, config).digest);
    Ok(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerignore_rules_follow_docker() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(".dockerignore"), "# build output\ntarget\n*.log\n**/*.tmp\n!keep.log\ndocs/\n")
            .expect("write");
        let rules = ignore_rules(dir.path()).expect("rules");
        let cases = [
            ("target", true),
            ("target/release/api", true),
            ("app.log", true),
            ("keep.log", false),
            ("src/a.tmp", true),
            ("src/deep/b.tmp", true),
            ("src/main.rs", false),
            ("docs/index.md", true),
            ("sub/app.log", false),
        ];
        for (path, expect) in cases {
            assert_eq!(ignored(&rules, path), expect, "{path}");
        }
    }

    #[test]
    fn instructions_are_counted_across_continuations_and_comments() {
        let df = "# syntax\nFROM scratch\n\nCOPY a \\\n  /a\n# note\nRUN false\n";
        assert_eq!(instruction_line(df, 1), Some((2, "FROM scratch".into())));
        assert_eq!(instruction_line(df, 2), Some((4, "COPY a \\".into())));
        assert_eq!(instruction_line(df, 3), Some((7, "RUN false".into())));
    }
}
