//! GitOps bump: a generated repository of 10,000 files and 2,000 commits served by
//! `git daemon`. `shipgate bump` vs the script users write (`git clone --depth 1`,
//! `yq -y -i`, `git commit`, `git push`), A B A B …, medians; then 20 concurrent
//! `shipgate bump`s of 20 files on the same branch, wall time until all landed.
//!
//!     cargo bench --bench gitops_bump          # FILES=10000 COMMITS=2000 ROUNDS=5
//!
//! Needs `git` and `yq` (Debian).

#![expect(clippy::print_stdout, reason = "a benchmark prints its figures on stdout")]

#[path = "../tests/integration/support/service.rs"]
#[expect(dead_code, reason = "the harness has more than this benchmark uses")]
mod service;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn values(i: usize, tag: &str) -> String {
    format!(
        "# app-{i:05} Helm values\nimage:\n  repository: registry.example.com/apps/app-{i:05}  # repo\n  tag: {tag}  # bumped by CI\nreplicas: 2\nresources:\n  limits: {{cpu: 500m, memory: 256Mi}}\n"
    )
}

/// A bare repository with `files` values files and `commits` commits, via fast-import.
fn generate(bare: &Path, files: usize, commits: usize) {
    run(Command::new("git").args(["init", "-q", "--bare", "-b", "main"]).arg(bare));
    let mut child = Command::new("git")
        .arg("--git-dir")
        .arg(bare)
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("fast-import");
    let mut w = std::io::BufWriter::new(child.stdin.take().expect("stdin"));
    let mut t = 1_700_000_000u64;
    for c in 0..commits {
        let msg = format!("commit {c}");
        write!(w, "commit refs/heads/main\ncommitter Bench <b@e> {t} +0000\ndata {}\n{msg}\n", msg.len()).expect("w");
        // Later commits continue the branch: fast-import chains them in one stream.
        let touched: Vec<usize> = if c == 0 { (0..files).collect() } else { vec![(c * 7919) % files] };
        for i in touched {
            let body = values(i, &format!("v{c}"));
            write!(w, "M 100644 inline apps/app-{i:05}/values.yaml\ndata {}\n{body}\n", body.len()).expect("w");
        }
        t += 60;
    }
    drop(w);
    assert!(child.wait().expect("fast-import").success());
}

fn run(cmd: &mut Command) {
    let out = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).output().expect("runs");
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn time(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn main() {
    let files = env_or("FILES", 10_000);
    let commits = env_or("COMMITS", 2_000);
    let rounds = env_or("ROUNDS", 5);
    service::require("yq", "apt-get install yq");
    let dir = std::env::temp_dir().join(format!("shipgate-gitops-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let generated = time(|| generate(&dir.join("gitops.git"), files, commits));
    let daemon = service::git_daemon(&dir);
    let url = format!("git://{}/gitops.git", daemon.addr());
    println!(
        "gitops bump benchmark: {files} files, {commits} commits (generated in {:.1}s), git daemon on loopback, {rounds} rounds",
        generated.as_secs_f64()
    );
    let bin = env!("CARGO_BIN_EXE_shipgate");
    let (mut sg, mut script) = (Vec::new(), Vec::new());
    // ROUNDS=0: only the concurrent bumps.
    for r in 0..rounds {
        let file = format!("apps/app-{:05}/values.yaml", r * 13);
        sg.push(time(|| {
            run(Command::new(bin).args(["bump", &url, "--set", &format!("{file}:image.tag=sg-{r}"), "-q"]));
        }));
        let work = dir.join(format!("script-{r}"));
        script.push(time(|| {
            run(Command::new("git").args(["clone", "-q", "--depth", "1", &url]).arg(&work));
            run(Command::new("yq").args(["-y", "-i", &format!(".image.tag = \"script-{r}\"")]).arg(work.join(&file)));
            run(Command::new("git").arg("-C").arg(&work).args([
                "-c",
                "user.name=b",
                "-c",
                "user.email=b@e",
                "commit",
                "-qam",
                "bump",
            ]));
            run(Command::new("git").arg("-C").arg(&work).args(["push", "-q", "origin", "main"]));
        }));
        let _ = std::fs::remove_dir_all(&work);
    }
    let (a, b) = (median(sg), median(script));
    let show = |rev: &str, file: &str| {
        let out = Command::new("git")
            .arg("--git-dir")
            .arg(dir.join("gitops.git"))
            .args(["show", &format!("{rev}:{file}")])
            .output()
            .expect("git show");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    if rounds > 0 {
        println!(
            "median per bump: shipgate {:.2}s, clone+yq+commit+push script {:.2}s → script/shipgate = {:.2}x",
            a.as_secs_f64(),
            b.as_secs_f64(),
            b.as_secs_f64() / a.as_secs_f64()
        );

        // What each left in the file: shipgate changes one line; yq rewrites the document.
        let last = format!("apps/app-{:05}/values.yaml", (rounds - 1) * 13);
        println!("file after the script's yq edit:\n{}", show("main", &last));
    }

    let start = Instant::now();
    let children: Vec<_> = (0..20)
        .map(|i| {
            Command::new(bin)
                .args(["bump", &url, "--set", &format!("apps/app-{:05}/values.yaml:image.tag=c{i}", 100 + i)])
                .args(if std::env::var_os("TRACE").is_some() { ["-v"] } else { ["-q"] })
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    let mut failed = 0;
    for c in children {
        let out = c.wait_with_output().expect("wait");
        if !out.status.success() {
            failed += 1;
        }
        if !out.status.success() || std::env::var_os("TRACE").is_some() {
            eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        }
    }
    let wall = start.elapsed();
    let landed = (0..20)
        .filter(|i| show("main", &format!("apps/app-{:05}/values.yaml", 100 + i)).contains(&format!("tag: c{i} ")))
        .count();
    println!(
        "20 concurrent bumps: {landed}/20 landed, {failed} failed, wall time {:.2}s (target: all landed in < 10 s)",
        wall.as_secs_f64()
    );
    drop(daemon);
    if std::env::var_os("KEEP").is_some() {
        println!("kept {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
