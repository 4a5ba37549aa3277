//! `pipelines/release.yaml` end to end against the real services: the Docker Engine
//! builds, a real registry receives the image, moto holds the Composer bucket, a git
//! daemon serves the GitOps repository. Every effect is read back independently.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use futures::TryStreamExt;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::gitops::git;
use crate::support::service::{
    Service, bare_repo, docker_rmi, git_daemon, http, moto, registry, require, require_docker,
};
use crate::support::service::{copy_tree, s3_store};
use crate::support::{Run, read_dotenv, repo_root, run, shipgate};

/// The GitOps repository as the release finds it (tests/fixtures/release/gitops).
const GITOPS: &[&str] = &["apps/shop-api/values.yaml", "argocd/apps/shop-api.yaml"];

fn gitops_file(rel: &str) -> String {
    std::fs::read_to_string(repo_root().join("tests/fixtures/release/gitops").join(rel)).expect("fixture")
}

/// Everything the release talks to, on loopback.
struct Platform {
    work: tempfile::TempDir,
    git_base: tempfile::TempDir,
    _git: Service,
    registry: Service,
    _registry_dir: tempfile::TempDir,
    moto: Service,
    git_url: String,
    tag: String,
}

impl Platform {
    fn start() -> Platform {
        require_docker();
        require("skopeo", "apt-get install -y skopeo");
        let work = tempfile::tempdir().expect("tempdir");
        copy_tree(&repo_root().join("pipelines/release"), &work.path().join("pipelines/release"));
        std::fs::copy(repo_root().join("pipelines/release.yaml"), work.path().join("pipelines/release.yaml"))
            .expect("copy the pipeline");

        let git_base = tempfile::tempdir().expect("tempdir");
        let files: Vec<(&str, String)> = GITOPS.iter().map(|f| (*f, gitops_file(f))).collect();
        let files: Vec<(&str, &str)> = files.iter().map(|(f, t)| (*f, t.as_str())).collect();
        bare_repo(git_base.path(), "gitops.git", &files);
        let git = git_daemon(git_base.path());
        let git_url = format!("git://{}/gitops.git", git.addr());
        let registry_dir = tempfile::tempdir().expect("tempdir");
        let registry = registry(registry_dir.path(), None);
        let moto = moto();
        assert_eq!(http(&moto.addr(), "PUT", "/composer"), 200, "create the bucket");
        // A unique Engine tag per test run, removed at the end.
        let tag = format!("shipgate-release/shop-api:{}", std::process::id());
        Platform { work, git_base, _git: git, registry, _registry_dir: registry_dir, moto, git_url, tag }
    }

    fn image(&self) -> String {
        format!("{}/platform/shop-api", self.registry.addr())
    }

    /// `shipgate run pipelines/release.yaml` as a CI job would run it.
    fn release(&self, version: &str) -> (Run, BTreeMap<String, String>) {
        let dotenv = self.work.path().join("release.env");
        let _ = std::fs::remove_file(&dotenv);
        let mut cmd = shipgate(self.work.path());
        cmd.args(["run", "pipelines/release.yaml", "--report"])
            .arg(format!("dotenv={}", dotenv.display()))
            .env("RELEASE_VERSION", version)
            .env("RELEASE_IMAGE", self.image())
            .env("COMPOSER_BUCKET", "s3://composer")
            .env("GITOPS_REPO", &self.git_url)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", format!("http://{}", self.moto.addr()))
            .env("HOME", self.work.path());
        if let Some(h) = std::env::var_os("DOCKER_HOST") {
            cmd.env("DOCKER_HOST", h);
        }
        // The Engine tag of this test, not the pipeline's default one.
        let pipeline = self.work.path().join("pipelines/release.yaml");
        let text = std::fs::read_to_string(&pipeline).expect("read");
        std::fs::write(&pipeline, text.replace("shipgate-release/${SERVICE}:${VERSION}", &self.tag)).expect("write");
        let r = run(&mut cmd);
        (r, read_dotenv(&dotenv))
    }

    /// The digest of `platform/shop-api:TAG` as the registry serves it (skopeo), or
    /// `None` when the tag does not exist.
    fn registry_digest(&self, tag: &str) -> Option<String> {
        let auth = self.work.path().join("empty-auth.json");
        std::fs::write(&auth, "{}").expect("auth file");
        let out = Command::new("skopeo")
            .args(["inspect", "--tls-verify=false", "--format", "{{.Digest}}"])
            .arg(format!("docker://{}:{tag}", self.image()))
            .env("REGISTRY_AUTH_FILE", &auth)
            .output()
            .expect("skopeo");
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    fn tags(&self) -> String {
        let out = Command::new("skopeo")
            .args(["list-tags", "--tls-verify=false"])
            .arg(format!("docker://{}", self.image()))
            .env("REGISTRY_AUTH_FILE", self.work.path().join("empty-auth.json"))
            .output()
            .expect("skopeo");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn store(&self) -> object_store::aws::AmazonS3 {
        s3_store(&format!("http://{}", self.moto.addr()), "composer")
    }

    /// Every object in the Composer bucket: key → bytes.
    fn bucket(&self) -> BTreeMap<String, Vec<u8>> {
        let store = self.store();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
        rt.block_on(async {
            let metas: Vec<_> = store.list(None).try_collect().await.expect("list");
            let mut out = BTreeMap::new();
            for m in metas {
                let body = store.get(&m.location).await.expect("get").bytes().await.expect("body");
                out.insert(m.location.to_string(), body.to_vec());
            }
            out
        })
    }

    fn gitops(&self, args: &[&str]) -> String {
        git(&self.git_base.path().join("gitops.git"), args)
    }

    fn commits(&self) -> usize {
        self.gitops(&["rev-list", "--count", "main"]).trim().parse().expect("a count")
    }
}

impl Drop for Platform {
    fn drop(&mut self) {
        docker_rmi(&[&self.tag]);
    }
}

/// The DAG folder as it must appear under `dags/` in the bucket.
fn expected_dags(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let dags = root.join("pipelines/release/dags");
    let mut out = BTreeMap::new();
    let mut stack = vec![dags.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p: PathBuf = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(&dags).expect("inside").to_string_lossy().into_owned();
                out.insert(format!("dags/{rel}"), std::fs::read(&p).expect("read"));
            }
        }
    }
    out
}

#[test]
fn the_release_ships_once_does_nothing_when_unchanged_and_publishes_nothing_when_denied() {
    let p = Platform::start();
    // A stale DAG from an earlier release, and an object outside `dags/`.
    let stale = "dags/retired_dag.py";
    {
        let store = p.store();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
        for key in [stale, "data/keep.csv"] {
            let path = object_store::path::Path::parse(key).expect("key");
            rt.block_on(store.put(&path, b"old".to_vec().into())).expect("put");
        }
    }
    let before = p.commits();

    // Cold: everything ships.
    let (r, out) = p.release("1.0.0");
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let digest = out.get("SHIPGATE_PUSH_DIGEST").cloned().unwrap_or_else(|| panic!("no digest output: {out:?}"));
    assert!(digest.starts_with("sha256:") && digest.len() == 71, "{digest}");
    assert_eq!(p.registry_digest("1.0.0").as_deref(), Some(digest.as_str()), "the registry serves another image");
    let mut want = expected_dags(p.work.path());
    want.insert("data/keep.csv".into(), b"old".to_vec());
    assert_eq!(p.bucket(), want, "the bucket must hold exactly the DAGs (stale one deleted, other prefixes kept)");
    assert_eq!(out.get("SHIPGATE_DAGS_DELETED").map(String::as_str), Some("1"), "{out:?}");
    assert_eq!(p.commits(), before + 1, "one new commit in the GitOps repository");
    let values = p.gitops(&["show", "main:apps/shop-api/values.yaml"]);
    assert_eq!(
        values,
        gitops_file(GITOPS[0])
            .replace("localhost:5000/platform/shop-api", &p.image())
            .replace("tag: 0.9.0", "tag: 1.0.0")
            .replace("digest: \"\"", &format!("digest: \"{digest}\"")),
        "values.yaml: only the three values change, comments and quoting kept"
    );
    let app = p.gitops(&["show", "main:argocd/apps/shop-api.yaml"]);
    assert_eq!(app, gitops_file(GITOPS[1]).replacen("value: \"\"", &format!("value: \"{digest}\""), 1));
    let message = p.gitops(&["log", "-1", "--format=%s", "main"]);
    assert_eq!(message.trim(), format!("shop-api: 1.0.0 ({digest})"));
    assert_eq!(out.get("SHIPGATE_BUMP_COMMIT").map(|c| c.len()), Some(40), "{out:?}");

    // Warm: nothing changed, so nothing is uploaded, pushed or committed.
    let head = p.gitops(&["rev-parse", "main"]);
    let bucket = p.bucket();
    let (r, out) = p.release("1.0.0");
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(out.get("SHIPGATE_PUSH_DIGEST"), Some(&digest), "an unchanged source built another image");
    assert_eq!(out.get("SHIPGATE_PUSH_UPLOADED").map(String::as_str), Some("0"), "{out:?}");
    assert_eq!(out.get("SHIPGATE_DAGS_UPLOADED").map(String::as_str), Some("0"), "{out:?}");
    assert_eq!(out.get("SHIPGATE_DAGS_DELETED").map(String::as_str), Some("0"), "{out:?}");
    assert_eq!(out.get("SHIPGATE_BUMP_CHANGED").map(String::as_str), Some("false"), "{out:?}");
    assert_eq!(p.gitops(&["rev-parse", "main"]), head, "a run with no change committed");
    assert_eq!(p.bucket(), bucket);

    // Denied: a privileged container in the manifests, plus changes that would ship.
    let root = p.work.path().join("pipelines/release");
    std::fs::write(
        root.join("deploy/debug.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: debug, namespace: shop}\nspec:\n  containers:\n    - name: debug\n      image: busybox\n      securityContext: {privileged: true}\n",
    )
    .expect("write");
    std::fs::write(root.join("dags/new_dag.py"), "DAG_ID = 'new'\n").expect("write");
    let app = std::fs::read_to_string(root.join("app/shop-api")).expect("read");
    std::fs::write(root.join("app/shop-api"), format!("{app}# 1.1.0\n")).expect("write");
    let tags = p.tags();
    let (r, out) = p.release("1.1.0");
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("deploy/debug.yaml:"), "the denial names the file:line: {}", r.stderr);
    assert!(out.get("SHIPGATE_GATE_ERRORS").is_some_and(|n| n != "0"), "{out:?}");
    assert!(out.contains_key("SHIPGATE_BUILD_IMAGE") && !out.contains_key("SHIPGATE_BUILD__STATUS"), "{out:?}");
    for step in ["PUSH", "DAGS", "BUMP"] {
        assert_eq!(out.get(&format!("SHIPGATE_{step}__STATUS")).map(String::as_str), Some("skipped"), "{out:?}");
        assert!(!out.keys().any(|k| k.starts_with(&format!("SHIPGATE_{step}_")) && !k.ends_with("__STATUS")));
    }
    assert_eq!(p.registry_digest("1.1.0"), None, "the denied release reached the registry");
    assert_eq!(p.tags(), tags);
    assert_eq!(p.bucket(), bucket, "the denied release touched the bucket");
    assert_eq!(p.gitops(&["rev-parse", "main"]), head, "the denied release committed");
}
