//! Images: a generated ~200 MiB image in 10 layers.
//! - native build (`shipgate image build`) vs `docker build` of the same `FROM scratch`
//!   image (10 `COPY`s, legacy builder, no cache), A B A B …;
//! - push to a local `docker-registry`: `shipgate image push` vs `skopeo copy oci:…`
//!   (each round to a fresh repository), A B A B …;
//! - the unchanged image pushed again by shipgate: time and blobs uploaded.
//!
//!     cargo bench --bench image_push           # MIB=200 LAYERS=10 ROUNDS=3
//!
//! Needs `docker-registry`, `skopeo` (Debian) and the Docker Engine.

#![expect(clippy::print_stdout, reason = "a benchmark prints its figures on stdout")]

#[path = "../tests/integration/support/service.rs"]
#[expect(dead_code, reason = "the harness has more than this benchmark uses")]
mod service;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Text-like data that compresses about as well as binaries do (2–3x).
fn fill(path: &Path, bytes: usize, seed: u64) {
    const WORDS: &[&str] = &[
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima",
        "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango", "uniform", "victor", "whiskey",
    ];
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(bytes + 16);
    while out.len() < bytes {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(WORDS[(x % WORDS.len() as u64) as usize].as_bytes());
        out.push(if x.is_multiple_of(11) { b'\n' } else { b' ' });
        if x.is_multiple_of(7) {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
    out.truncate(bytes);
    std::fs::write(path, out).expect("write");
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("runs");
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn time(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn main() {
    let mib = env_or("MIB", 200);
    let layers = env_or("LAYERS", 10);
    let rounds = env_or("ROUNDS", 3);
    let bin = env!("CARGO_BIN_EXE_shipgate");
    let dir = std::env::temp_dir().join(format!("shipgate-image-bench-{}", std::process::id()));
    let ctx = dir.join("ctx");
    std::fs::create_dir_all(&ctx).expect("dir");
    let mut dockerfile = String::from("FROM scratch\n");
    let mut copies = Vec::new();
    for i in 0..layers {
        std::fs::create_dir_all(ctx.join(format!("l{i}"))).expect("dir");
        for f in 0..4 {
            fill(&ctx.join(format!("l{i}/part{f}.bin")), mib * 1024 * 1024 / layers / 4, (i * 4 + f) as u64 + 1);
        }
        dockerfile.push_str(&format!("COPY l{i} /data/l{i}\n"));
        copies.push(format!("l{i}:/data/l{i}"));
    }
    std::fs::write(ctx.join("Dockerfile"), &dockerfile).expect("Dockerfile");
    println!("image benchmark: {mib} MiB in {layers} layers, {rounds} rounds, 2 CPUs");

    // Build: native vs docker build.
    let (mut native, mut docker) = (Vec::new(), Vec::new());
    for r in 0..rounds {
        native.push(time(|| {
            let mut cmd = Command::new(bin);
            cmd.args(["image", "build", "--context"])
                .arg(&ctx)
                .args(["--tag", "bench", "--output"])
                .arg(dir.join(format!("out{r}")));
            for c in &copies {
                cmd.args(["--copy", c]);
            }
            run(&mut cmd);
        }));
        docker.push(time(|| {
            run(Command::new("docker")
                .args(["build", "-q", "--no-cache", "-t", &format!("shipgate-bench:{r}")])
                .arg(&ctx)
                .env("DOCKER_BUILDKIT", "0"));
        }));
        let _ = Command::new("docker").args(["rmi", "-f", &format!("shipgate-bench:{r}")]).output();
        if r > 0 {
            let _ = std::fs::remove_dir_all(dir.join(format!("out{r}")));
        }
    }
    let (n, d) = (median(native), median(docker));
    println!(
        "build: shipgate native {:.2}s, docker build {:.2}s → docker/shipgate = {:.2}x",
        n.as_secs_f64(),
        d.as_secs_f64(),
        d.as_secs_f64() / n.as_secs_f64()
    );

    // Push: shipgate vs skopeo, each push to a registry of its own that has never seen
    // the blobs (skopeo remembers where it pushed blobs and would mount them instead).
    let fresh = |name: String| {
        let d = dir.join(name);
        std::fs::create_dir_all(&d).expect("dir");
        service::registry(&d, None)
    };
    let image = format!("oci:{}:bench", dir.join("out0").display());
    let (mut sg, mut sk) = (Vec::new(), Vec::new());
    for r in 0..rounds {
        let reg = fresh(format!("reg-sg{r}"));
        sg.push(time(|| {
            run(Command::new(bin).args([
                "image",
                "push",
                &image,
                "--to",
                &format!("{}/sg{r}/app:1", reg.addr()),
                "-q",
            ]));
        }));
        let reg = fresh(format!("reg-sk{r}"));
        sk.push(time(|| {
            run(Command::new("skopeo").args([
                "--insecure-policy",
                "copy",
                "-q",
                "--dest-tls-verify=false",
                &image,
                &format!("docker://{}/sk{r}/app:1", reg.addr()),
            ]));
        }));
    }
    let (a, b) = (median(sg), median(sk));
    println!(
        "first push: shipgate {:.2}s, skopeo copy {:.2}s → skopeo/shipgate = {:.2}x",
        a.as_secs_f64(),
        b.as_secs_f64(),
        b.as_secs_f64() / a.as_secs_f64()
    );
    let reg = fresh("registry".into());
    run(Command::new(bin).args(["image", "push", &image, "--to", &format!("{}/sg0/app:1", reg.addr()), "-q"]));
    let mut again = Vec::new();
    let mut uploaded = String::new();
    for _ in 0..rounds {
        again.push(time(|| {
            uploaded = run(Command::new(bin).args([
                "image",
                "push",
                &image,
                "--to",
                &format!("{}/sg0/app:1", reg.addr()),
                "--format",
                "json",
            ]));
        }));
    }
    let v: serde_json::Value = serde_json::from_str(&uploaded).unwrap_or_default();
    println!(
        "unchanged re-push: shipgate {:.3}s (median), {} blobs uploaded (target: 0 blobs, < 0.3 s)",
        median(again).as_secs_f64(),
        v[0]["uploaded"]
    );
    drop(reg);
    let _ = std::fs::remove_dir_all(&dir);
}
