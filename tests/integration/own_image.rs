//! shipgate's own image (`pipelines/image.yaml`): built by its daemonless builder twice
//! from the same binary, in different places at different times, it has one digest; pushed
//! to a real registry, the Docker Engine pulls it and runs a pipeline in it.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::support::service::{docker_rmi, registry, require_docker};
use crate::support::{bin, read_dotenv, repo_root, run, shipgate};

fn build(work: &Path, dest: Option<&str>) -> BTreeMap<String, String> {
    std::fs::create_dir_all(work.join("pipelines")).expect("mkdir");
    std::fs::copy(repo_root().join("pipelines/image.yaml"), work.join("pipelines/image.yaml")).expect("copy");
    let mut cmd = shipgate(work);
    cmd.args(["run", "pipelines/image.yaml", "--report", "dotenv=image.env"]).env("SHIPGATE_BIN", bin());
    if let Some(d) = dest {
        cmd.env("SHIPGATE_IMAGE_DEST", d);
    }
    let r = run(&mut cmd);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(work.join("image.env").is_file(), "no dotenv report");
    read_dotenv(&work.join("image.env"))
}

fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker").args(args).output().expect("docker")
}

#[test]
fn shipgates_own_image_is_reproducible_and_runs_in_the_docker_engine() {
    require_docker();
    let one = tempfile::tempdir().expect("tempdir");
    let first = build(one.path(), None);
    std::thread::sleep(std::time::Duration::from_millis(1100)); // other mtimes
    let two = tempfile::tempdir().expect("tempdir");
    let second = build(two.path(), None);
    let digest = first["SHIPGATE_BUILD_DIGEST"].clone();
    assert!(digest.starts_with("sha256:"), "{first:?}");
    assert_eq!(second["SHIPGATE_BUILD_DIGEST"], digest, "two builds of one binary differ");

    let reg_dir = tempfile::tempdir().expect("tempdir");
    let reg = registry(reg_dir.path(), None);
    let repo = format!("{}/tools/shipgate", reg.addr());
    let pushed = build(two.path(), Some(&repo));
    assert_eq!(pushed["SHIPGATE_PUSH_DIGEST"], digest);
    let image = format!("{repo}:0.1.0");
    let pull = docker(&["pull", "-q", &image]);
    assert!(pull.status.success(), "docker pull: {}", String::from_utf8_lossy(&pull.stderr));
    let version = docker(&["run", "--rm", &image, "shipgate", "--version"]);
    let script = "printf 'version: 1\\nsteps:\\n  a: {run: echo hello from $HOSTNAME}\\n' > /tmp/p.yaml && shipgate run /tmp/p.yaml";
    let pipeline = docker(&["run", "--rm", "--hostname", "image-test", &image, "sh", "-c", script]);
    docker_rmi(&[&image]);
    assert_eq!(String::from_utf8_lossy(&version.stdout).trim(), format!("shipgate {}", env!("CARGO_PKG_VERSION")));
    let out = format!("{}{}", String::from_utf8_lossy(&pipeline.stdout), String::from_utf8_lossy(&pipeline.stderr));
    assert!(pipeline.status.success() && out.contains("hello from image-test"), "{out}");
}
