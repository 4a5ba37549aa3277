//! Child processes: each in its own process group, so a timeout or a signal reaches
//! everything the command started. SIGTERM first, SIGKILL after the grace period; the
//! group is killed when the step ends, and a guard kills it if the step's future is
//! dropped. If shipgate itself dies, the watchdog (`watchdog.rs`) kills the group.
//! (No `pre_exec` hook: without one, std spawns with `posix_spawn` instead of `fork`.)

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;

use super::cancel::CancelToken;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

#[derive(Debug, Clone)]
pub struct ProcessSpec {
    pub program: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
    pub deadline: Option<Instant>,
    pub grace: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessEnd {
    Exited(i32),
    Signaled(i32),
    TimedOut,
    Cancelled,
}

/// Sends `signal` to the process group `pgid`.
#[expect(unsafe_code, reason = "kill(2) has no safe wrapper in std")]
pub fn signal_group(pgid: u32, signal: i32) {
    let Ok(pgid) = i32::try_from(pgid) else { return };
    if pgid <= 1 {
        return;
    }
    // SAFETY: kill(2) with a negative pid only signals that process group; it reads
    // no memory of ours.
    unsafe {
        libc::kill(-pgid, signal);
    }
}

/// Kills the group when dropped (the step was abandoned mid-flight), and keeps the
/// watchdog informed so the group dies with shipgate even if shipgate is SIGKILLed.
struct GroupGuard(Option<u32>);

impl GroupGuard {
    fn new(pgid: Option<u32>) -> Self {
        if let Some(p) = pgid {
            super::watchdog::register(p);
        }
        GroupGuard(pgid)
    }

    /// Kills what is left of the group and forgets it.
    fn finish(&mut self) {
        if let Some(pgid) = self.0.take() {
            signal_group(pgid, libc::SIGKILL);
            super::watchdog::unregister(pgid);
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Runs the process to its end, sending each output line (lossy UTF-8, without the
/// newline) to `on_line`.
pub async fn run_process(
    spec: &ProcessSpec,
    cancel: CancelToken,
    on_line: &mut (dyn FnMut(Stream, String) + Send),
) -> std::io::Result<ProcessEnd> {
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(cwd) = &spec.cwd {
        cmd.current_dir(cwd);
    }
    let mut child = cmd.spawn()?;
    let pgid = child.id();
    let mut guard = GroupGuard::new(pgid);

    let (tx, mut rx) = mpsc::channel::<(Stream, String)>(256);
    let mut readers = tokio::task::JoinSet::new();
    if let Some(out) = child.stdout.take() {
        readers.spawn(read_lines(out, Stream::Stdout, tx.clone()));
    }
    if let Some(err) = child.stderr.take() {
        readers.spawn(read_lines(err, Stream::Stderr, tx.clone()));
    }
    drop(tx);

    let deadline = spec.deadline.map(tokio::time::Instant::from_std);
    let mut stopping: Option<(ProcessEnd, tokio::time::Instant)> = None;
    let mut killed = false;
    let (mut on_cancel, mut on_force) = (cancel.clone(), cancel);
    let status = loop {
        let kill_at = stopping.map(|(_, at)| at);
        tokio::select! {
            status = child.wait() => break status?,
            Some((stream, line)) = rx.recv() => on_line(stream, line),
            _ = sleep_until_opt(deadline), if stopping.is_none() => {
                stopping = Some((ProcessEnd::TimedOut, tokio::time::Instant::now() + spec.grace));
                if let Some(p) = pgid { signal_group(p, libc::SIGTERM) }
            }
            _ = on_cancel.cancelled(), if stopping.is_none() => {
                stopping = Some((ProcessEnd::Cancelled, tokio::time::Instant::now() + spec.grace));
                if let Some(p) = pgid { signal_group(p, libc::SIGTERM) }
            }
            _ = on_force.forced(), if stopping.is_some() && !killed => {
                if let Some(p) = pgid { signal_group(p, libc::SIGKILL) }
                killed = true;
            }
            _ = sleep_until_opt(kill_at), if !killed => {
                if let Some(p) = pgid { signal_group(p, libc::SIGKILL) }
                killed = true;
            }
        }
    };
    // Whatever the command left running in its group ends with it.
    guard.finish();
    // Drain what is buffered; a grandchild that escaped the group must not hang us.
    let drain = async {
        while let Some((stream, line)) = rx.recv().await {
            on_line(stream, line);
        }
    };
    if tokio::time::timeout(Duration::from_secs(2), drain).await.is_err() {
        readers.abort_all();
    }
    if let Some((end, _)) = stopping {
        return Ok(end);
    }
    use std::os::unix::process::ExitStatusExt;
    Ok(match (status.code(), status.signal()) {
        (Some(code), _) => ProcessEnd::Exited(code),
        (None, Some(sig)) => ProcessEnd::Signaled(sig),
        (None, None) => ProcessEnd::Exited(-1),
    })
}

async fn sleep_until_opt(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn read_lines(pipe: impl tokio::io::AsyncRead + Unpin, stream: Stream, tx: mpsc::Sender<(Stream, String)>) {
    let mut reader = BufReader::new(pipe);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                    buf.pop();
                }
                if tx.send((stream, String::from_utf8_lossy(&buf).into_owned())).await.is_err() {
                    break;
                }
            }
        }
    }
}
