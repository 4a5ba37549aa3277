//! GitOps bumps against a real git server (`git daemon` with receive-pack).

use std::path::Path;
use std::process::Command;

use shipgate::gitops::repo::{BumpError, BumpOptions, Edit, bump};
use shipgate::gitops::{DocSelector, NewValue, Path as YamlPath};

use crate::support::service::git_daemon;

pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
    let out =
        Command::new("git").current_dir(dir).args(args).env("GIT_CONFIG_NOSYSTEM", "1").output().expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) const VALUES: &str =
    "# shop-api values\nimage:\n  repository: reg.example.com/shop/api # repo\n  tag: v1  # bumped by CI\n";

/// A bare repository `gitops.git` with `values.yaml` and `keys.yaml` on `main`.
pub(crate) fn seed(base: &Path, keys: usize) {
    let work = tempfile::tempdir().expect("tempdir");
    git(base, &["init", "--bare", "-q", "-b", "main", "gitops.git"]);
    git(work.path(), &["init", "-q", "-b", "main"]);
    std::fs::write(work.path().join("values.yaml"), VALUES).expect("write");
    let mut k = String::from("keys:\n");
    for i in 0..keys {
        k.push_str(&format!("  k{i:02}: v0 # key {i}\n"));
    }
    std::fs::write(work.path().join("keys.yaml"), k).expect("write");
    git(work.path(), &["add", "."]);
    git(work.path(), &["-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "init"]);
    git(work.path(), &["push", "-q", &base.join("gitops.git").display().to_string(), "main"]);
}

fn opts(url: &str, file: &str, path: &str, value: &str) -> BumpOptions {
    BumpOptions {
        repo: url.to_owned(),
        branch: Some("main".into()),
        edits: vec![Edit::Set {
            file: file.into(),
            doc: DocSelector::Only,
            path: YamlPath::parse(path).expect("path"),
            value: NewValue::Str(value.into()),
            create: false,
        }],
        message: "bump shop-api".into(),
        author: ("shipgate".into(), "shipgate@example.com".into()),
        dry_run: false,
        max_attempts: 12,
        merge_request: None,
        take_turns: true,
    }
}

pub(crate) fn head_file(base: &Path, file: &str) -> String {
    git(&base.join("gitops.git"), &["show", &format!("main:{file}")])
}

#[test]
fn bump_commits_only_the_changed_bytes_and_is_idempotent() {
    let base = tempfile::tempdir().expect("tempdir");
    seed(base.path(), 1);
    let daemon = git_daemon(base.path());
    let url = format!("git://{}/gitops.git", daemon.addr());

    let dry = tempfile::tempdir().expect("tempdir");
    let mut o = opts(&url, "values.yaml", "image.tag", "v2");
    o.dry_run = true;
    let r = bump(&o, dry.path()).expect("dry run");
    assert!(r.commit.is_none());
    assert!(
        r.diff.contains("-  tag: v1  # bumped by CI") && r.diff.contains("+  tag: v2  # bumped by CI"),
        "{}",
        r.diff
    );
    assert_eq!(head_file(base.path(), "values.yaml"), VALUES, "a dry run pushed");

    let w = tempfile::tempdir().expect("tempdir");
    let r = bump(&opts(&url, "values.yaml", "image.tag", "v2"), w.path()).expect("bump");
    assert!(r.commit.is_some());
    assert_eq!(head_file(base.path(), "values.yaml"), VALUES.replace("tag: v1 ", "tag: v2 "));
    // Only the edited file is checked out; the commit must still hold every other file.
    let tree = git(&base.path().join("gitops.git"), &["ls-tree", "--name-only", "main"]);
    assert_eq!(tree, "keys.yaml\nvalues.yaml\n", "files went missing from the commit");
    let log = git(&base.path().join("gitops.git"), &["log", "-1", "--format=%an <%ae>%n%B", "main"]);
    assert!(
        log.starts_with("shipgate <shipgate@example.com>") && log.contains("- values.yaml: image.tag: v1 → v2"),
        "{log}"
    );

    let again = tempfile::tempdir().expect("tempdir");
    let r = bump(&opts(&url, "values.yaml", "image.tag", "v2"), again.path()).expect("no-op");
    assert!(r.commit.is_none() && r.changes.is_empty(), "already up to date must not commit");
    assert_eq!(git(&base.path().join("gitops.git"), &["rev-list", "--count", "main"]).trim(), "2");
}

#[test]
fn bad_paths_and_unreachable_remotes_push_nothing() {
    let base = tempfile::tempdir().expect("tempdir");
    seed(base.path(), 1);
    let daemon = git_daemon(base.path());
    let url = format!("git://{}/gitops.git", daemon.addr());
    let w = tempfile::tempdir().expect("tempdir");
    let e = bump(&opts(&url, "values.yaml", "image.tga", "v2"), w.path()).expect_err("bad path");
    assert!(matches!(&e, BumpError::Edit(m) if m.contains("did you mean `tag`?")), "{e}");
    let w = tempfile::tempdir().expect("tempdir");
    let e = bump(&opts(&url, "missing.yaml", "a", "b"), w.path()).expect_err("missing file");
    assert!(matches!(e, BumpError::Edit(_)), "{e}");
    assert_eq!(git(&base.path().join("gitops.git"), &["rev-list", "--count", "main"]).trim(), "1");
    let port = crate::support::service::free_port();
    let w = tempfile::tempdir().expect("tempdir");
    let e = bump(&opts(&format!("git://127.0.0.1:{port}/gitops.git"), "values.yaml", "image.tag", "v3"), w.path())
        .expect_err("unreachable");
    assert!(matches!(e, BumpError::Git(_)), "{e}");
}

/// 20 bumps of 20 keys in one file on one branch, at once; every one must land and the
/// file must be byte-exact. Returns each bump's number of attempts.
fn twenty_concurrent_bumps(take_turns: bool) -> Vec<u32> {
    let base = tempfile::tempdir().expect("tempdir");
    seed(base.path(), 20);
    // History below the clones' shallow boundary: the racers' commits must be pushed
    // without the objects their depth-1 clones do not have.
    let work = tempfile::tempdir().expect("tempdir");
    let bare = base.path().join("gitops.git").display().to_string();
    git(work.path(), &["clone", "-q", &bare, "w"]);
    std::fs::write(work.path().join("w/README.md"), "gitops\n").expect("write");
    git(&work.path().join("w"), &["add", "."]);
    git(&work.path().join("w"), &["-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "readme"]);
    git(&work.path().join("w"), &["push", "-q", "origin", "main"]);
    let daemon = git_daemon(base.path());
    let url = format!("git://{}/gitops.git", daemon.addr());
    let start = std::time::Instant::now();
    let handles: Vec<_> = (0..20)
        .map(|i| {
            let url = url.clone();
            std::thread::spawn(move || {
                let w = tempfile::tempdir().expect("tempdir");
                let o = BumpOptions {
                    take_turns,
                    ..opts(&url, "keys.yaml", &format!("keys.k{i:02}"), &format!("v{}", i + 1))
                };
                bump(&o, w.path())
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().expect("thread")).collect();
    for (i, r) in results.iter().enumerate() {
        assert!(r.as_ref().is_ok_and(|r| r.commit.is_some()), "bump {i}: {r:?}");
    }
    let keys = head_file(base.path(), "keys.yaml");
    let mut expected = String::from("keys:\n");
    for i in 0..20 {
        expected.push_str(&format!("  k{i:02}: v{} # key {i}\n", i + 1));
    }
    assert_eq!(keys, expected, "a bump was lost or the file was reformatted");
    assert_eq!(git(&base.path().join("gitops.git"), &["rev-list", "--count", "main"]).trim(), "22");
    eprintln!("20 concurrent bumps (take_turns: {take_turns}) landed in {:?}", start.elapsed());
    results.into_iter().map(|r| r.map(|r| r.attempts).unwrap_or_default()).collect()
}

#[test]
fn twenty_concurrent_bumps_land_through_push_retries() {
    // As if on 20 hosts: no turns, so pushes are rejected and re-applied on the new tip.
    let attempts = twenty_concurrent_bumps(false);
    assert!(attempts.iter().any(|&a| a > 1), "the racers never collided: {attempts:?}");
}

#[test]
fn twenty_concurrent_bumps_on_one_host_take_turns() {
    // On one host they take turns: each starts from the previous one's commit.
    let attempts = twenty_concurrent_bumps(true);
    assert!(attempts.iter().all(|&a| a == 1), "a push was rejected although the racers took turns: {attempts:?}");
}

#[test]
fn bump_command_dry_run_push_and_exit_codes() {
    let base = tempfile::tempdir().expect("tempdir");
    seed(base.path(), 1);
    let daemon = git_daemon(base.path());
    let url = format!("git://{}/gitops.git", daemon.addr());
    let dir = tempfile::tempdir().expect("tempdir");
    let sg = |args: &[&str]| crate::support::run(crate::support::shipgate(dir.path()).arg("bump").arg(&url).args(args));

    let dry = sg(&["--set", "values.yaml:image.tag=v9", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert!(
        dry.stdout.contains("would commit and push") && dry.stdout.contains("+  tag: v9  # bumped by CI"),
        "{}",
        dry.stdout
    );
    assert_eq!(head_file(base.path(), "values.yaml"), VALUES);

    let out = sg(&["--image", "reg.example.com/shop/api:v10", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert!(v["commit"].is_string());
    assert_eq!(head_file(base.path(), "values.yaml"), VALUES.replace("tag: v1 ", "tag: v10 "));

    let bad = sg(&["--set", "values.yaml:image.tga=v11"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("did you mean `tag`?") && bad.stderr.contains("nothing was pushed"), "{}", bad.stderr);
    let usage = sg(&["--set", "no-colon"]);
    assert_eq!(usage.code, 2);
    let port = crate::support::service::free_port();
    let unreachable = crate::support::run(crate::support::shipgate(dir.path()).args([
        "bump",
        &format!("git://127.0.0.1:{port}/x.git"),
        "--set",
        "a:b=c",
    ]));
    assert_eq!(unreachable.code, 3, "{}", unreachable.stderr);
}

#[test]
fn bump_over_smart_http_with_a_token_and_bounded_auth_retries() {
    let base = tempfile::tempdir().expect("tempdir");
    seed(base.path(), 1);
    git(&base.path().join("gitops.git"), &["config", "http.receivepack", "true"]);
    let server = crate::support::http_git::HttpGit::start(base.path().to_path_buf(), Some("s3cret-token".into()));
    let dir = tempfile::tempdir().expect("tempdir");
    let sg = |token: &str| {
        crate::support::run(
            crate::support::shipgate(dir.path())
                .args(["bump", &server.url("gitops.git"), "--set", "values.yaml:image.tag=v7"])
                .env("GITOPS_TOKEN", token),
        )
    };
    let denied = sg("wrong-token");
    assert_eq!(denied.code, 3, "{}", denied.stderr);
    assert!(denied.stderr.contains("credentials") || denied.stderr.contains("authentication"), "{}", denied.stderr);
    assert!(!denied.stderr.contains("wrong-token"));
    let refused = server.refused.load(std::sync::atomic::Ordering::SeqCst);
    assert!(refused <= 8, "the credential callback kept retrying: {refused} refusals");
    assert_eq!(head_file(base.path(), "values.yaml"), VALUES);

    let ok = sg("s3cret-token");
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_eq!(head_file(base.path(), "values.yaml"), VALUES.replace("tag: v1 ", "tag: v7 "));

    // A token in the URL works too and is never printed.
    let with_token = server.url("gitops.git").replacen("://", "://oauth2:s3cret-token@", 1);
    let out = crate::support::run(crate::support::shipgate(dir.path()).args([
        "bump",
        &with_token,
        "--set",
        "values.yaml:image.tag=v8",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stdout.contains("s3cret-token") && !out.stderr.contains("s3cret-token"));
    assert_eq!(head_file(base.path(), "values.yaml"), VALUES.replace("tag: v1 ", "tag: v8 "));
}

#[test]
fn bump_over_ssh_with_a_key_from_the_environment_and_a_known_host() {
    let base = tempfile::tempdir().expect("tempdir");
    seed(base.path(), 1);
    let keys = tempfile::tempdir().expect("tempdir");
    let ssh = crate::support::service::sshd(keys.path());
    let url = format!("{}{}", ssh.url, base.path().join("gitops.git").display());
    let home = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(home.path().join(".ssh")).expect("mkdir");
    let dir = tempfile::tempdir().expect("tempdir");
    let bump = |home: &Path, key: &str, tag: &str| {
        crate::support::run(
            crate::support::shipgate(dir.path())
                .args(["bump", &url, "--set", &format!("values.yaml:image.tag={tag}")])
                .env("HOME", home)
                .env("GITOPS_SSH_KEY", key),
        )
    };
    let secret_line = ssh.key.lines().nth(1).unwrap_or_default().to_owned();

    // The server is not in known_hosts yet: refused, nothing pushed.
    let unknown = bump(home.path(), &ssh.key, "v2");
    assert_eq!(unknown.code, 3, "{}\n{}", unknown.stdout, unknown.stderr);
    assert!(
        unknown.stderr.contains("unknown remote ssh hostkey") && unknown.stderr.contains("ssh-keyscan"),
        "{}",
        unknown.stderr
    );
    assert_eq!(head_file(base.path(), "values.yaml"), VALUES);

    std::fs::write(home.path().join(".ssh/known_hosts"), &ssh.known_host).expect("known_hosts");
    // A key the server does not know: refused after a bounded number of tries.
    let other = tempfile::tempdir().expect("tempdir");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(other.path().join("k"))
        .status()
        .expect("ssh-keygen");
    assert!(st.success());
    let stranger = std::fs::read_to_string(other.path().join("k")).expect("key");
    let refused = bump(home.path(), &stranger, "v2");
    assert_eq!(refused.code, 3, "{}\n{}", refused.stdout, refused.stderr);
    assert!(refused.stderr.contains("rejected authentication"), "{}", refused.stderr);
    assert_eq!(head_file(base.path(), "values.yaml"), VALUES);

    // The right key, given as the variable's text (as CI holds it) without its final newline.
    let ok = bump(home.path(), ssh.key.trim_end(), "v2");
    assert_eq!(ok.code, 0, "{}\n{}", ok.stdout, ok.stderr);
    assert_eq!(head_file(base.path(), "values.yaml"), VALUES.replace("tag: v1 ", "tag: v2 "));
    // A key file path works too.
    let ok = bump(home.path(), &keys.path().join("user_key").display().to_string(), "v3");
    assert_eq!(ok.code, 0, "{}\n{}", ok.stdout, ok.stderr);
    assert_eq!(head_file(base.path(), "values.yaml"), VALUES.replace("tag: v1 ", "tag: v3 "));
    for r in [&unknown, &refused, &ok] {
        assert!(!r.stdout.contains(&secret_line) && !r.stderr.contains(&secret_line), "the key leaked");
    }
    drop(ssh);
}

#[test]
fn set_with_a_selector_holding_an_equals_sign_edits_the_selected_item() {
    let base = tempfile::tempdir().expect("tempdir");
    let work = base.path().join("w");
    std::fs::create_dir(&work).expect("mkdir");
    git(&work, &["init", "-q", "-b", "main"]);
    let app = "kind: Application\nspec:\n  source:\n    helm:\n      parameters:\n        - name: replicas\n          value: \"2\"\n        - name: image.tag\n          value: \"1.4.1\"  # bumped\n";
    std::fs::write(work.join("app.yaml"), app).expect("write");
    git(&work, &["add", "."]);
    git(&work, &["-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "app"]);
    git(base.path(), &["init", "-q", "--bare", "-b", "main", "gitops.git"]);
    git(&work, &["push", "-q", &base.path().join("gitops.git").display().to_string(), "main"]);
    let out = crate::support::run(crate::support::shipgate(base.path()).args([
        "bump",
        "gitops.git",
        "--set",
        "app.yaml:spec.source.helm.parameters[name=image.tag].value=1.4.2",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(head_file(base.path(), "app.yaml"), app.replace("\"1.4.1\"  # bumped", "\"1.4.2\"  # bumped"));
}
