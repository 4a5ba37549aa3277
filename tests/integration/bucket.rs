//! `shipgate sync` / `uses: bucket.sync` against a real S3 server (moto) and `file://`.

use std::path::Path;
use std::process::Command;

use futures::TryStreamExt;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::support::service::{CountingProxy, http, moto};
use crate::support::{run, shipgate};

struct S3 {
    _moto: crate::support::service::Service,
    proxy: CountingProxy,
}

impl S3 {
    fn start(buckets: &[&str]) -> S3 {
        let moto = moto();
        for b in buckets {
            assert_eq!(http(&moto.addr(), "PUT", &format!("/{b}")), 200, "create bucket {b}");
        }
        let proxy = CountingProxy::start(moto.addr());
        S3 { _moto: moto, proxy }
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.proxy.addr())
    }

    /// `shipgate` with S3 credentials and the endpoint through the counting proxy.
    fn shipgate(&self, dir: &Path) -> Command {
        let mut c = shipgate(dir);
        c.env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", self.endpoint());
        c
    }

    /// A client of our own, to look at the bucket independently of shipgate.
    fn store(&self, bucket: &str) -> object_store::aws::AmazonS3 {
        crate::support::service::s3_store(&self.endpoint(), bucket)
    }

    fn objects(&self, bucket: &str) -> Vec<(String, u64)> {
        let store = self.store(bucket);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
        let mut v: Vec<(String, u64)> = rt
            .block_on(store.list(None).map_ok(|m| (m.location.to_string(), m.size)).try_collect::<Vec<_>>())
            .expect("list");
        v.sort();
        self.proxy.take();
        v
    }

    fn put(&self, bucket: &str, key: &str, body: &[u8]) {
        let store = self.store(bucket);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
        rt.block_on(store.put(&object_store::path::Path::parse(key).expect("key"), body.to_vec().into())).expect("put");
        self.proxy.take();
    }
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, text).expect("write");
}

fn dag_tree(root: &Path) {
    write(
        root,
        "dags/etl_daily.py",
        "from airflow import DAG\nfrom common.util import helper\ndag = DAG('etl_daily')\n",
    );
    write(root, "dags/common/util.py", "def helper():\n    return 1\n");
    write(root, "dags/common/__init__.py", "");
    write(root, "dags/sql/report q1.sql", "select 1;\n");
    write(root, "dags/réseau/trafic_dag.py", "from airflow import DAG\ndag = DAG('trafic')\n");
    write(root, "dags/__pycache__/etl_daily.cpython-311.pyc", "bytecode");
}

fn summary(out: &crate::support::Run) -> serde_json::Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr))
}

#[test]
fn s3_sync_uploads_by_content_and_a_no_change_sync_only_lists() {
    let s3 = S3::start(&["composer"]);
    let dir = tempfile::tempdir().expect("tempdir");
    dag_tree(dir.path());
    s3.put("composer", "other/keep.txt", b"outside the prefix");
    s3.put("composer", "dags2/keep.py", b"a sibling prefix");

    let sync = |extra: &[&str]| {
        let out = run(s3
            .shipgate(dir.path())
            .args(["sync", "dags", "s3://composer/dags", "--dags", "--delete", "--format", "json"])
            .args(extra));
        assert_eq!(out.code, 0, "{}", out.stderr);
        summary(&out)
    };
    let first = sync(&[]);
    assert_eq!(
        (first["uploaded"].as_u64(), first["deleted"].as_u64(), first["unchanged"].as_u64()),
        (Some(5), Some(0), Some(0))
    );
    let objects = s3.objects("composer");
    let keys: Vec<&str> = objects.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "dags/common/__init__.py",
            "dags/common/util.py",
            "dags/etl_daily.py",
            "dags/réseau/trafic_dag.py",
            "dags/sql/report q1.sql",
            "dags2/keep.py",
            "other/keep.txt"
        ]
    );

    // A fresh clone resets mtimes: content decides, so nothing is uploaded.
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    for f in ["dags/etl_daily.py", "dags/common/util.py"] {
        std::fs::File::options()
            .write(true)
            .open(dir.path().join(f))
            .expect("open")
            .set_modified(later)
            .expect("touch");
    }
    s3.proxy.take();
    let again = sync(&[]);
    assert_eq!((again["uploaded"].as_u64(), again["unchanged"].as_u64()), (Some(0), Some(5)));
    let requests = s3.proxy.take();
    assert!(
        !requests.is_empty() && requests.iter().all(|r| r.starts_with("GET /composer?list-type=2")),
        "a no-change sync made: {requests:#?}"
    );

    // One changed, one new, one removed.
    write(dir.path(), "dags/common/util.py", "def helper():\n    return 2\n");
    write(dir.path(), "dags/new_dag.py", "from airflow import DAG\ndag = DAG('new')\n");
    std::fs::remove_file(dir.path().join("dags/sql/report q1.sql")).expect("rm");
    let third = sync(&[]);
    assert_eq!(
        (third["uploaded"].as_u64(), third["deleted"].as_u64(), third["unchanged"].as_u64()),
        (Some(2), Some(1), Some(3))
    );
    let requests = s3.proxy.take();
    assert_eq!(
        third["requests"].as_u64(),
        Some(requests.len() as u64),
        "the reported count is what was sent: {requests:#?}"
    );
    let puts: Vec<_> = requests.iter().filter(|r| r.starts_with("PUT ")).collect();
    assert_eq!(puts.len(), 2, "{requests:#?}");
    // Helpers go up before the DAG files that import them.
    assert!(puts[0].contains("common/util.py") && puts[1].contains("new_dag.py"), "{puts:#?}");
    let keys: Vec<String> = s3.objects("composer").into_iter().map(|(k, _)| k).collect();
    assert!(!keys.iter().any(|k| k.contains("report")));
    assert!(
        keys.contains(&"other/keep.txt".to_owned()) && keys.contains(&"dags2/keep.py".to_owned()),
        "outside the prefix must stay: {keys:?}"
    );
}

#[test]
fn large_files_go_up_in_parts_and_compare_without_a_head() {
    let s3 = S3::start(&["big"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let data: Vec<u8> = (0..9 * 1024 * 1024 + 123).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    std::fs::create_dir_all(dir.path().join("data")).expect("mkdir");
    std::fs::write(dir.path().join("data/model.bin"), &data).expect("write");
    let out = run(s3.shipgate(dir.path()).args(["sync", "data", "s3://big/models", "--format", "json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let requests = s3.proxy.take();
    assert!(
        requests.iter().any(|r| r.starts_with("POST /big/models/model.bin?uploads")),
        "not a multipart upload: {requests:#?}"
    );
    assert_eq!(s3.objects("big"), [("models/model.bin".to_owned(), data.len() as u64)]);
    let out = run(s3.shipgate(dir.path()).args(["sync", "data", "s3://big/models", "--format", "json"]));
    assert_eq!(summary(&out)["unchanged"], 1, "{}", out.stderr);
    let requests = s3.proxy.take();
    assert!(
        requests.iter().all(|r| r.starts_with("GET /big?list-type=2")),
        "the multipart ETag should settle it: {requests:#?}"
    );
}

#[test]
fn safety_guards_refuse_before_any_change() {
    let s3 = S3::start(&["guarded"]);
    let dir = tempfile::tempdir().expect("tempdir");
    for i in 0..30 {
        s3.put("guarded", &format!("dags/old_{i}.py"), b"x = 1\n");
    }
    write(dir.path(), "dags/only.py", "from airflow import DAG\ndag = DAG('only')\n");
    let before = s3.objects("guarded");

    // 30 deletions > the default max_delete of 20: nothing uploaded, nothing deleted.
    let out = run(s3.shipgate(dir.path()).args(["sync", "dags", "s3://guarded/dags", "--delete"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("would delete 30 of 30 objects") && out.stderr.contains("raise `max_delete`"),
        "{}",
        out.stderr
    );
    assert_eq!(s3.objects("guarded"), before);
    let out =
        run(s3.shipgate(dir.path()).args(["sync", "dags", "s3://guarded/dags", "--delete", "--max-delete", "50%"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(s3.objects("guarded"), before);

    // An empty source, or a DAG folder without .py files, never means "delete everything".
    std::fs::create_dir_all(dir.path().join("empty")).expect("mkdir");
    let out =
        run(s3.shipgate(dir.path()).args(["sync", "empty", "s3://guarded/dags", "--delete", "--max-delete", "100%"]));
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("no files to sync"), "{}", out.stderr);
    write(dir.path(), "docs/readme.md", "# docs\n");
    let out = run(s3.shipgate(dir.path()).args([
        "sync",
        "docs",
        "s3://guarded/dags",
        "--dags",
        "--delete",
        "--max-delete",
        "100%",
    ]));
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("no .py files"), "{}", out.stderr);
    let out = run(s3.shipgate(dir.path()).args(["sync", "missing", "s3://guarded/dags", "--delete"]));
    assert_eq!(out.code, 2);
    assert_eq!(s3.objects("guarded"), before);

    // A syntax error in one DAG: nothing at all is uploaded, the error has file:line.
    write(dir.path(), "dags/broken.py", "def oops(:\n    pass\n");
    let out = run(s3.shipgate(dir.path()).args(["sync", "dags", "s3://guarded/dags", "--dags"]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("broken.py:1:"), "{}", out.stderr);
    assert_eq!(s3.objects("guarded"), before);

    // A bucket that does not exist is an infrastructure error (exit 3).
    std::fs::remove_file(dir.path().join("dags/broken.py")).expect("rm");
    let out = run(s3.shipgate(dir.path()).args(["sync", "dags", "s3://no-such-bucket/dags"]));
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("no-such-bucket"), "{}", out.stderr);
}

#[test]
fn deletes_wait_for_every_upload_and_a_rerun_converges() {
    let s3 = S3::start(&["resume"]);
    let dir = tempfile::tempdir().expect("tempdir");
    for i in 0..400 {
        write(dir.path(), &format!("dags/gen/dag_{i:03}.py"), &format!("x = {i}\n"));
    }
    s3.put("resume", "dags/stale.py", b"old");
    let mut child = s3
        .shipgate(dir.path())
        .args(["sync", "dags", "s3://resume/dags", "--delete", "--concurrency", "1"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starts");
    // Kill it once some uploads have landed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let n = s3.objects("resume").len();
        if n > 5 || std::time::Instant::now() > deadline {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().expect("kill");
    child.wait().expect("wait");
    let partial = s3.objects("resume");
    assert!(partial.len() < 401, "the sync finished before it was killed; make it bigger");
    assert!(partial.iter().any(|(k, _)| k == "dags/stale.py"), "deleted while uploads were incomplete");
    let out = run(s3.shipgate(dir.path()).args(["sync", "dags", "s3://resume/dags", "--delete", "--format", "json"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let s = summary(&out);
    assert_eq!(s["deleted"], 1);
    assert_eq!(s["uploaded"].as_u64().unwrap_or(0) + s["unchanged"].as_u64().unwrap_or(0), 400);
    let keys: Vec<String> = s3.objects("resume").into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys.len(), 400);
    assert!(!keys.contains(&"dags/stale.py".to_owned()));
}

#[test]
fn file_buckets_and_the_pipeline_step() {
    let dir = tempfile::tempdir().expect("tempdir");
    dag_tree(dir.path());
    let bucket = dir.path().join("bucket");
    let pipeline = format!(
        "version: 1\nsteps:\n  dags:\n    uses: bucket.sync\n    with: {{ from: dags, to: \"file://{}/dags\", dags: true, delete: true }}\n  report:\n    needs: [dags]\n    run: echo \"uploaded=${{{{ steps.dags.outputs.uploaded }}}}\" > report.txt\n",
        bucket.display()
    );
    std::fs::write(dir.path().join("p.yaml"), pipeline).expect("write");
    let plan = run(shipgate(dir.path()).args(["plan", "p.yaml"]));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(plan.stdout.contains("5 to upload (5 new, 0 changed"), "{}", plan.stdout);
    assert!(plan.stdout.contains("upload (new) etl_daily.py (78 bytes)"), "{}", plan.stdout);
    assert!(!bucket.join("dags").exists(), "plan must not write");

    let out = run(shipgate(dir.path()).args(["run", "p.yaml"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(dir.path().join("report.txt")).expect("report"), "uploaded=5\n");
    assert_eq!(
        std::fs::read_to_string(bucket.join("dags/réseau/trafic_dag.py")).expect("synced"),
        "from airflow import DAG\ndag = DAG('trafic')\n"
    );
    assert!(!bucket.join("dags/__pycache__").exists());

    std::fs::remove_file(dir.path().join("dags/common/util.py")).expect("rm");
    let out = run(shipgate(dir.path()).args([
        "sync",
        "dags",
        &format!("file://{}/dags", bucket.display()),
        "--delete",
        "--format",
        "json",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(summary(&out)["deleted"], 1);
    assert!(!bucket.join("dags/common/util.py").exists());
}

#[test]
fn bad_step_options_are_load_errors_with_positions() {
    let (dir, path) = crate::support::pipeline(
        "version: 1\nsteps:\n  dags:\n    uses: bucket.sync\n    with: { from: dags, to: \"ftp://x/y\", max_delete: lots, dag: true }\n",
    );
    let out = run(shipgate(dir.path()).arg("validate").arg(&path));
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("unknown key `dag`") && out.stderr.contains("did you mean `dags`?"), "{}", out.stderr);
    assert!(out.stderr.contains("unknown scheme `ftp`"), "{}", out.stderr);
    assert!(out.stderr.contains("max_delete"), "{}", out.stderr);
    assert!(out.stderr.contains(":5:"), "{}", out.stderr);
}

#[test]
fn bad_credentials_are_an_infrastructure_error_without_leaking_them() {
    // moto checks signatures against its IAM once auth is on; these keys do not exist.
    let moto = crate::support::service::moto_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "0")]);
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "dags/a.py", "x = 1\n");
    let secret = "wJalrXUtnFEMI-canary-secret-key";
    let out = run(shipgate(dir.path())
        .args(["sync", "dags", "s3://composer/dags"])
        .env("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", format!("http://{}", moto.addr())));
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(out.stderr.contains("cannot list s3://composer/dags"), "{}", out.stderr);
    assert!(out.stderr.contains("credentials"), "{}", out.stderr);
    assert!(!out.stderr.contains(secret) && !out.stdout.contains(secret));
}

#[test]
fn dry_run_prints_the_plan_and_validate_command_gates_the_sync() {
    let s3 = S3::start(&["plans"]);
    let dir = tempfile::tempdir().expect("tempdir");
    dag_tree(dir.path());
    s3.put("plans", "dags/gone.py", b"old");
    let out = run(s3.shipgate(dir.path()).args([
        "sync",
        "dags",
        "s3://plans/dags",
        "--delete",
        "--dry-run",
        "--format",
        "json",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let plan = summary(&out);
    assert_eq!(plan["uploads"].as_array().map(Vec::len), Some(5));
    assert_eq!(plan["deletes"], serde_json::json!(["dags/gone.py"]));
    assert!(s3.proxy.take().iter().all(|r| r.starts_with("GET ")), "a dry run only reads");
    assert_eq!(s3.objects("plans"), [("dags/gone.py".to_owned(), 3)]);

    let out = run(s3.shipgate(dir.path()).args([
        "sync",
        "dags",
        "s3://plans/dags",
        "--validate-command",
        "echo dagbag import failed >&2; exit 1",
    ]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("validate_command failed") && out.stderr.contains("dagbag import failed"),
        "{}",
        out.stderr
    );
    assert_eq!(s3.objects("plans"), [("dags/gone.py".to_owned(), 3)]);
    let out = run(s3.shipgate(dir.path()).args([
        "sync",
        "dags",
        "s3://plans/dags",
        "--validate-command",
        "test -f etl_daily.py",
    ]));
    assert_eq!(out.code, 0, "the command runs in the source folder: {}", out.stderr);
}

#[test]
fn transient_failures_are_retried() {
    let moto = moto();
    assert_eq!(http(&moto.addr(), "PUT", "/flaky"), 200);
    // The first connections get a 503 or are dropped mid-request.
    let proxy = CountingProxy::start_flaky(moto.addr(), 4);
    let dir = tempfile::tempdir().expect("tempdir");
    dag_tree(dir.path());
    let out = run(shipgate(dir.path())
        .args(["sync", "dags", "s3://flaky/dags", "--format", "json"])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", format!("http://{}", proxy.addr())));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(summary(&out)["uploaded"], 5);
    let listed = proxy.take();
    assert_eq!(listed.iter().filter(|r| r.starts_with("PUT ")).count(), 5, "{listed:#?}");
}

#[test]
fn gcs_credentials_are_checked_before_any_request() {
    // No GCS server can run here; what can be checked offline is that credentials from
    // GOOGLE_APPLICATION_CREDENTIALS are read and refused clearly, without leaking them.
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "dags/a.py", "x = 1\n");
    let missing = run(shipgate(dir.path())
        .args(["sync", "dags", "gs://composer-bucket/dags"])
        .env("GOOGLE_APPLICATION_CREDENTIALS", dir.path().join("nope.json")));
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    assert!(
        missing.stderr.contains("cannot configure gs://composer-bucket/dags") && missing.stderr.contains("nope.json"),
        "{}",
        missing.stderr
    );

    let key = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC-canary";
    let sa = serde_json::json!({
        "type": "service_account",
        "client_email": "deployer@project.iam.gserviceaccount.com",
        "private_key": format!("-----BEGIN PRIVATE KEY-----\n{key}\n-----END PRIVATE KEY-----\n"),
        "private_key_id": "k1",
        "token_uri": "http://127.0.0.1:9/token"
    });
    std::fs::write(dir.path().join("sa.json"), sa.to_string()).expect("write");
    let bad = run(shipgate(dir.path())
        .args(["sync", "dags", "gs://composer-bucket/dags"])
        .env("GOOGLE_APPLICATION_CREDENTIALS", dir.path().join("sa.json")));
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("cannot configure gs://composer-bucket/dags"), "{}", bad.stderr);
    assert!(!bad.stderr.contains(key), "the private key leaked: {}", bad.stderr);
}

#[test]
fn regression_relative_file_destination_with_missing_parents_stays_in_its_folder() {
    // `file://out/deep/bucket` from a folder where `out/` does not exist yet: the
    // destination once collapsed to the working directory itself (an empty prefix).
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "dags/a.py", "x = 1\n");
    write(dir.path(), "keep/me.txt", "not part of any bucket\n");
    let sync =
        || run(shipgate(dir.path()).args(["sync", "dags", "file://out/deep/bucket", "--delete", "--format", "json"]));
    let plan = run(shipgate(dir.path()).args([
        "sync",
        "dags",
        "file://out/deep/bucket",
        "--delete",
        "--dry-run",
        "--format",
        "json",
    ]));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert_eq!(summary(&plan)["deletes"], serde_json::json!([]), "the plan reached outside the destination");
    assert!(!dir.path().join("out").exists(), "planning created the folder");
    let first = sync();
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(summary(&first)["uploaded"], 1);
    assert_eq!(std::fs::read_to_string(dir.path().join("out/deep/bucket/a.py")).expect("synced"), "x = 1\n");
    assert!(dir.path().join("keep/me.txt").exists() && dir.path().join("dags/a.py").exists());
    let again = sync();
    assert_eq!((summary(&again)["unchanged"].as_u64(), summary(&again)["deleted"].as_u64()), (Some(1), Some(0)));
}
