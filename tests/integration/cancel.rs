//! Signals: SIGTERM/SIGINT stop running steps (TERM, then KILL after the grace period),
//! write the reports and exit 143/130. No child outlives shipgate.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{alive, bin, pipeline};

fn wait_for_file(path: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(s) = std::fs::read_to_string(path)
            && s.ends_with('\n')
        {
            return s;
        }
        assert!(Instant::now() < deadline, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn interrupted_run(signal: &str, script: &str, expected_code: i32) {
    let text = format!(
        "version: 1\nsteps:\n  long:\n    run: |\n{}\n  after: {{ needs: [long], run: touch after }}\n  queued: {{ run: touch queued }}\n",
        script.lines().map(|l| format!("      {l}")).collect::<Vec<_>>().join("\n")
    );
    let (dir, path) = pipeline(&text);
    let mut child = Command::new(bin())
        .current_dir(dir.path())
        .args([
            "run",
            "--jobs",
            "1",
            "--grace-period",
            "1s",
            "--report",
            "json=run.json",
            "--report",
            "junit=junit.xml",
        ])
        .arg(&path)
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("shipgate starts");
    let pid: i32 = wait_for_file(&dir.path().join("sleep.pid")).trim().parse().expect("pid");
    assert!(alive(pid));
    let started = Instant::now();
    let status = Command::new("kill").args([signal, &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let exit = child.wait().expect("shipgate exits");
    assert_eq!(exit.code(), Some(expected_code));
    assert!(started.elapsed() < Duration::from_secs(20), "shutdown took {:?}", started.elapsed());
    // The step's process group is gone, background children included.
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(pid), "child {pid} outlived shipgate");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("run.json")).expect("json report"))
            .expect("json");
    assert_eq!(v["status"], "interrupted");
    assert_eq!(v["exit_code"], expected_code);
    assert_eq!(v["steps"][0]["status"], "cancelled");
    assert_eq!(v["steps"][1]["status"], "skipped");
    assert_eq!(v["steps"][2]["status"], "cancelled");
    assert!(std::fs::read_to_string(dir.path().join("junit.xml")).expect("junit").contains("<testcase name=\"long\""));
    assert!(!dir.path().join("after").exists() && !dir.path().join("queued").exists());
}

#[test]
fn sigterm_stops_the_step_writes_reports_and_exits_143() {
    interrupted_run("-TERM", "sleep 300 &\necho $! > sleep.pid\nwait", 143);
}

#[test]
fn sigint_exits_130() {
    interrupted_run("-INT", "sleep 300 &\necho $! > sleep.pid\nwait", 130);
}

#[test]
fn a_step_ignoring_sigterm_is_killed_after_the_grace_period() {
    interrupted_run("-TERM", "trap '' TERM\nsleep 300 &\necho $! > sleep.pid\nwhile true; do wait; done", 143);
}

#[test]
fn a_second_signal_kills_at_once() {
    let (dir, path) = pipeline(
        "version: 1\nsteps:\n  stubborn:\n    run: |\n      trap '' TERM\n      sleep 300 &\n      echo $! > sleep.pid\n      while true; do wait; done\n",
    );
    let mut child = Command::new(bin())
        .current_dir(dir.path())
        .args(["run", "--grace-period", "10m"])
        .arg(&path)
        .stderr(Stdio::null())
        .spawn()
        .expect("shipgate starts");
    let pid: i32 = wait_for_file(&dir.path().join("sleep.pid")).trim().parse().expect("pid");
    let started = Instant::now();
    for _ in 0..2 {
        assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill").success());
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(child.wait().expect("exits").code(), Some(143));
    assert!(started.elapsed() < Duration::from_secs(60), "the second signal did not skip the 10m grace period");
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(pid));
}

#[test]
fn step_processes_die_even_when_shipgate_is_sigkilled() {
    let (dir, path) =
        pipeline("version: 1\nsteps:\n  long:\n    run: |\n      sleep 300 &\n      echo $! > sleep.pid\n      wait\n");
    let mut child = Command::new(bin())
        .current_dir(dir.path())
        .arg("run")
        .arg(&path)
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    let pid: i32 = wait_for_file(&dir.path().join("sleep.pid")).trim().parse().expect("pid");
    child.kill().expect("SIGKILL shipgate");
    child.wait().expect("reaped");
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(pid), "a step's background process outlived a SIGKILLed shipgate");
}
