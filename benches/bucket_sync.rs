//! Bucket sync: a 5,000-file DAG tree (nested, realistic sizes) against one moto S3
//! server. First sync, then rounds of "50 files changed" syncs, A B C A B C …:
//! `shipgate sync` vs `rclone sync --checksum` vs `aws s3 sync`, each into its own
//! bucket, every request counted by a proxy. The floor is the same list requests plus
//! the 50 PUTs issued alone (object_store, 16 at once). Also shows `aws s3 sync` after
//! a fresh clone (all mtimes new).
//!
//!     cargo bench --bench bucket_sync          # FILES=5000 CHANGED=50 ROUNDS=3
//!
//! Needs `moto_server` (PyPI moto[server]), `rclone` (Debian) and `aws` (PyPI awscli).

#![expect(clippy::print_stdout, reason = "a benchmark prints its figures on stdout")]

#[path = "../tests/integration/support/service.rs"]
#[expect(dead_code, reason = "the harness has more than this benchmark uses")]
mod service;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use object_store::{ObjectStore, ObjectStoreExt};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A DAG-folder-like tree: 40 team folders × subfolders, files of 0.5–20 KB.
fn generate(root: &Path, files: usize) {
    for i in 0..files {
        let rel = format!("team_{:02}/{}/dag_{i:05}.py", i % 40, ["etl", "ml", "reports", "common"][i % 4]);
        let size = 512 + (i * 7919) % (20 * 1024);
        let mut body = format!("# generated DAG {i}\nfrom airflow import DAG\n");
        while body.len() < size {
            body.push_str(&format!(
                "task_{} = 'select * from table_{} where id = {}'\n",
                body.len(),
                i,
                body.len() % 97
            ));
        }
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, body).expect("write");
    }
}

fn change(root: &Path, files: usize, changed: usize, round: usize) {
    for k in 0..changed {
        let i = (k * (files / changed) + round) % files;
        let rel = format!("team_{:02}/{}/dag_{i:05}.py", i % 40, ["etl", "ml", "reports", "common"][i % 4]);
        let p = root.join(rel);
        let mut text = std::fs::read_to_string(&p).expect("read");
        text.push_str(&format!("# round {round}\n"));
        std::fs::write(p, text).expect("write");
    }
}

fn time(cmd: &mut Command) -> Duration {
    let start = Instant::now();
    let out = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).output().expect("runs");
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    start.elapsed()
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

struct Tools<'a> {
    bin: &'a str,
    src: &'a Path,
    endpoint: String,
}

impl Tools<'_> {
    fn shipgate(&self, bucket: &str) -> Command {
        let mut c = Command::new(self.bin);
        c.args(["sync"]).arg(self.src).arg(format!("s3://{bucket}/dags")).arg("-q");
        c.env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", &self.endpoint);
        c
    }

    fn rclone(&self, bucket: &str) -> Command {
        let mut c = Command::new("rclone");
        c.args(["sync", "--checksum", "--transfers", "16"]).arg(self.src).arg(format!("bench:{bucket}/dags"));
        for (k, v) in [
            ("TYPE", "s3"),
            ("PROVIDER", "Other"),
            ("ACCESS_KEY_ID", "test"),
            ("SECRET_ACCESS_KEY", "test"),
            ("REGION", "us-east-1"),
        ] {
            c.env(format!("RCLONE_CONFIG_BENCH_{k}"), v);
        }
        c.env("RCLONE_CONFIG_BENCH_ENDPOINT", &self.endpoint);
        // rclone's S3 client refuses a custom CA bundle on a plain-HTTP transport.
        c.env_remove("AWS_CA_BUNDLE");
        c
    }

    fn aws(&self, bucket: &str) -> Command {
        let mut c = Command::new("aws");
        c.args(["--endpoint-url", &self.endpoint, "s3", "sync", "--only-show-errors"])
            .arg(self.src)
            .arg(format!("s3://{bucket}/dags"));
        c.env("AWS_ACCESS_KEY_ID", "test").env("AWS_SECRET_ACCESS_KEY", "test").env("AWS_DEFAULT_REGION", "us-east-1");
        c
    }
}

fn main() {
    let files = env_or("FILES", 5000);
    let changed = env_or("CHANGED", 50);
    let rounds = env_or("ROUNDS", 3);
    for (tool, hint) in [
        ("moto_server", "pip install 'moto[server]'"),
        ("rclone", "apt-get install rclone"),
        ("aws", "pip install awscli"),
    ] {
        service::require(tool, hint);
    }
    let moto = service::moto();
    for b in ["sg-bench", "rc-bench", "aw-bench", "floor"] {
        assert_eq!(service::http(&moto.addr(), "PUT", &format!("/{b}")), 200);
    }
    let proxy = service::CountingProxy::start(moto.addr());
    let dir = std::env::temp_dir().join(format!("shipgate-bucket-bench-{}", std::process::id()));
    let src = dir.join("dags");
    generate(&src, files);
    let tools = Tools { bin: env!("CARGO_BIN_EXE_shipgate"), src: &src, endpoint: format!("http://{}", proxy.addr()) };
    let bytes: u64 = walk_size(&src);
    println!(
        "bucket sync benchmark: {files} files ({:.1} MB), {changed} changed per round, {rounds} rounds, moto on loopback",
        bytes as f64 / 1e6
    );

    let mut results: Vec<(&str, &str, f64, usize)> = Vec::new();
    let measure = |results: &mut Vec<(&'static str, &'static str, f64, usize)>,
                   label: &'static str,
                   phase: &'static str,
                   cmd: &mut Command| {
        proxy.take();
        let t = time(cmd);
        let n = proxy.take().len();
        results.push((label, phase, secs(t), n));
    };
    measure(&mut results, "shipgate", "first sync", &mut tools.shipgate("sg-bench"));
    measure(&mut results, "rclone", "first sync", &mut tools.rclone("rc-bench"));
    measure(&mut results, "aws-cli", "first sync", &mut tools.aws("aw-bench"));
    measure(&mut results, "shipgate", "no change", &mut tools.shipgate("sg-bench"));
    measure(&mut results, "rclone", "no change", &mut tools.rclone("rc-bench"));
    measure(&mut results, "aws-cli", "no change", &mut tools.aws("aw-bench"));

    // The floor: list + the changed PUTs alone, with object_store, as in one round.
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("rt");
    let floor_store = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name("floor")
        .with_endpoint(&tools.endpoint)
        .with_allow_http(true)
        .with_access_key_id("test")
        .with_secret_access_key("test")
        .with_region("us-east-1")
        .build()
        .expect("store");
    let seed: Vec<(String, Vec<u8>)> = (0..files).map(|i| (format!("dags/f{i:05}"), vec![b'x'; 2048])).collect();
    rt.block_on(
        futures::stream::iter(seed.iter().map(|(k, v)| {
            let s = &floor_store;
            async move { s.put(&object_store::path::Path::from(k.as_str()), v.clone().into()).await.map(|_| ()) }
        }))
        .buffer_unordered(16)
        .try_collect::<Vec<_>>(),
    )
    .expect("seed floor bucket");

    for round in 1..=rounds {
        change(&src, files, changed, round);
        measure(&mut results, "shipgate", "50 changed", &mut tools.shipgate("sg-bench"));
        measure(&mut results, "rclone", "50 changed", &mut tools.rclone("rc-bench"));
        measure(&mut results, "aws-cli", "50 changed", &mut tools.aws("aw-bench"));
        proxy.take();
        let start = Instant::now();
        rt.block_on(async {
            let listed: Vec<_> =
                floor_store.list(Some(&object_store::path::Path::from("dags"))).try_collect().await.expect("list");
            assert_eq!(listed.len(), files);
            futures::stream::iter(
                seed.iter().take(changed).map(|(k, _)| {
                    let s = &floor_store;
                    async move {
                        s.put(&object_store::path::Path::from(k.as_str()), vec![b'y'; 8192].into()).await.map(|_| ())
                    }
                }),
            )
            .buffer_unordered(16)
            .try_collect::<Vec<_>>()
            .await
            .expect("puts");
        });
        results.push(("floor", "50 changed", secs(start.elapsed()), proxy.take().len()));
    }

    // A fresh clone resets every mtime: what each tool does then.
    let now = std::time::SystemTime::now() + Duration::from_secs(60);
    touch_all(&src, now);
    measure(&mut results, "shipgate", "fresh clone", &mut tools.shipgate("sg-bench"));
    measure(&mut results, "rclone", "fresh clone", &mut tools.rclone("rc-bench"));
    measure(&mut results, "aws-cli", "fresh clone", &mut tools.aws("aw-bench"));

    println!("{:<10} {:<12} {:>9} {:>10}", "tool", "phase", "seconds", "requests");
    let median = |tool: &str, phase: &str| {
        let mut v: Vec<f64> = results.iter().filter(|r| r.0 == tool && r.1 == phase).map(|r| r.2).collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    for phase in ["first sync", "no change", "50 changed", "fresh clone"] {
        for tool in ["shipgate", "rclone", "aws-cli", "floor"] {
            let reqs: Vec<usize> = results.iter().filter(|r| r.0 == tool && r.1 == phase).map(|r| r.3).collect();
            if let Some(r) = reqs.last() {
                println!("{tool:<10} {phase:<12} {:>9.2} {r:>10}", median(tool, phase));
            }
        }
    }
    let sg = median("shipgate", "50 changed");
    println!(
        "50 changed (medians): rclone/shipgate = {:.2}x, aws-cli/shipgate = {:.2}x, shipgate/floor = {:.2}x",
        median("rclone", "50 changed") / sg,
        median("aws-cli", "50 changed") / sg,
        sg / median("floor", "50 changed")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

use futures::StreamExt;

fn walk_size(p: &Path) -> u64 {
    std::fs::read_dir(p).map_or(0, |rd| {
        rd.flatten()
            .map(|e| if e.path().is_dir() { walk_size(&e.path()) } else { e.metadata().map_or(0, |m| m.len()) })
            .sum()
    })
}

fn touch_all(p: &Path, t: std::time::SystemTime) {
    for e in std::fs::read_dir(p).expect("dir").flatten() {
        if e.path().is_dir() {
            touch_all(&e.path(), t);
        } else if let Ok(f) = std::fs::File::options().write(true).open(e.path()) {
            let _ = f.set_modified(t);
        }
    }
}
