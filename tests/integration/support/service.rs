//! Real services for tests: started on a free loopback port, waited for until they
//! answer, killed (with everything they started) when the test ends.
//!
//! A service whose program is missing fails the test with the install command; tests
//! are never skipped for a missing service (`tests/run` installs them).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 (bound and released; good enough for tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// Panics with an install hint when `program` is not on PATH.
pub fn require(program: &str, install: &str) {
    let found =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file())).unwrap_or(false);
    assert!(
        found,
        "`{program}` is required by this test and is not installed; run `tests/run` (it installs it) or: {install}"
    );
}

#[derive(Debug)]
pub struct Service {
    pub port: u16,
    child: Child,
}

impl Service {
    /// Starts `cmd` (its own process group) and waits until `127.0.0.1:port` accepts.
    pub fn start(name: &'static str, mut cmd: Command, port: u16, timeout: Duration) -> Service {
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).process_group(0);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let mut svc = Service { port, child };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + timeout;
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return svc;
            }
            if let Ok(Some(status)) = svc.child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = svc.child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                panic!("{name} exited before answering ({status}): {err}");
            }
            assert!(Instant::now() < deadline, "{name} did not answer on port {port} within {timeout:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        // The service ran in its own process group: end all of it.
        let pgid = self.child.id();
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{pgid}")]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A bare git repository served by `git daemon` (the git:// protocol).
pub fn git_daemon(base: &std::path::Path) -> Service {
    require("git", "apt-get install -y git");
    let port = free_port();
    let mut cmd = Command::new("git");
    cmd.args([
        "daemon",
        "--reuseaddr",
        "--export-all",
        "--enable=receive-pack",
        "--listen=127.0.0.1",
        &format!("--port={port}"),
        &format!("--base-path={}", base.display()),
    ])
    .arg(base);
    Service::start("git daemon", cmd, port, Duration::from_secs(20))
}
