//! The service harness itself, exercised with a real `git daemon`.

use std::process::Command;

use crate::support::service::git_daemon;

#[test]
fn git_daemon_serves_a_bare_repository_on_loopback() {
    let base = tempfile::tempdir().expect("tempdir");
    let work = tempfile::tempdir().expect("tempdir");
    let git = |dir: &std::path::Path, args: &[&str]| {
        let out =
            Command::new("git").current_dir(dir).args(args).env("GIT_CONFIG_NOSYSTEM", "1").output().expect("git runs");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    git(base.path(), &["init", "--bare", "-q", "gitops.git"]);
    git(work.path(), &["init", "-q", "-b", "main"]);
    std::fs::write(work.path().join("values.yaml"), "image:\n  tag: v1\n").expect("write");
    git(work.path(), &["add", "."]);
    git(work.path(), &["-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "init"]);
    git(work.path(), &["push", "-q", &base.path().join("gitops.git").display().to_string(), "main"]);

    let daemon = git_daemon(base.path());
    let refs = git(work.path(), &["ls-remote", &format!("git://{}/gitops.git", daemon.addr())]);
    assert!(refs.contains("refs/heads/main"), "{refs}");
    // Stopped when dropped. (Checked on the process: the freed port may already be
    // handed to another test's service.)
    let pid = i32::try_from(daemon.pid()).expect("pid");
    drop(daemon);
    assert!(!crate::support::alive(pid), "git daemon still running after drop");
}
