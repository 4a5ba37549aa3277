//! `shipgate image build|push` and the `image.*` steps: native builds checked by
//! unpacking their layers, pushes to a real registry (Debian's `docker-registry`) read
//! back by a second client (`skopeo`).

use std::path::Path;
use std::process::Command;

use crate::support::service::{CountingProxy, docker_rmi, registry, require, require_docker};
use crate::support::{Run, run, shipgate};

/// `pusher` / `s3cret-PASSWORD-42`, bcrypt (`htpasswd -Bbn`).
const HTPASSWD: &str = "pusher:$2y$05$sDRddR8Ed.sa/f//F0r11unvC4Rgo6DIDpINPPgCsPkPHz5el6hK6\n";
const PASSWORD: &str = "s3cret-PASSWORD-42";

/// A build context: an executable, a config file and a folder of two files.
fn context(dir: &Path) {
    std::fs::create_dir_all(dir.join("bin")).expect("mkdir");
    std::fs::create_dir_all(dir.join("dags/sub")).expect("mkdir");
    std::fs::write(dir.join("bin/api"), "#!/bin/sh\necho api\n").expect("write");
    std::fs::write(dir.join("app.conf"), "port=8080\n").expect("write");
    std::fs::write(dir.join("dags/a.py"), "a = 1\n").expect("write");
    std::fs::write(dir.join("dags/sub/b.py"), "b = 2\n").expect("write");
    let st = Command::new("chmod").arg("755").arg(dir.join("bin/api")).status().expect("chmod");
    assert!(st.success());
}

fn build(dir: &Path, out: &str, extra: &[&str]) -> Run {
    run(shipgate(dir)
        .args([
            "image",
            "build",
            "--context",
            "ctx",
            "--copy",
            "bin/api:/app/",
            "--copy",
            "app.conf:/etc/api.conf:0600",
        ])
        .args(["--copy", "dags:/opt/dags", "--entrypoint", "/app/api", "--env", "MODE=prod", "--expose", "8080"])
        .args(["--tag", "api", "--output", out, "--format", "json"])
        .args(extra))
}

fn json(r: &Run) -> serde_json::Value {
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
}

fn skopeo(args: &[&str]) -> std::process::Output {
    require("skopeo", "apt-get install -y skopeo");
    // No ambient credentials: an empty auth file.
    let auth = std::env::temp_dir().join("shipgate-tests-empty-auth.json");
    std::fs::write(&auth, "{}").expect("auth file");
    Command::new("skopeo").arg("--insecure-policy").args(args).env("REGISTRY_AUTH_FILE", auth).output().expect("skopeo")
}

fn inspect_digest(image: &str, creds: Option<&str>) -> String {
    let mut args = vec!["inspect", "--tls-verify=false"];
    if let Some(c) = creds {
        args.extend(["--creds", c]);
    }
    args.push(image);
    let out = skopeo(&args);
    assert!(out.status.success(), "skopeo inspect {image}: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("skopeo json");
    v["Digest"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn native_builds_are_reproducible_and_their_layers_hold_the_files() {
    let a = tempfile::tempdir().expect("tempdir");
    let b = tempfile::tempdir().expect("tempdir");
    context(&a.path().join("ctx"));
    context(&b.path().join("ctx"));
    // Different mtimes in the second context: they must not reach the image.
    let st = Command::new("touch").args(["-d", "2001-02-03 04:05:06"]).arg(b.path().join("ctx/app.conf")).status();
    assert!(st.expect("touch").success());
    let first = json(&build(a.path(), "out", &[]));
    let second = json(&build(b.path(), "out", &[]));
    assert_eq!(first["digest"], second["digest"], "same inputs, another folder and time: same digest");
    assert_eq!(first["layers"], second["layers"]);
    assert_eq!(first["image"], "oci:out:api");

    // A valid image to a second client.
    let layout = a.path().join("out");
    let digest = inspect_digest(&format!("oci:{}:api", layout.display()), None);
    assert_eq!(serde_json::json!(digest), first["digest"]);

    // Each layer holds its files, owned by root, at the epoch, with normalised modes.
    let layers = first["layers"].as_array().cloned().unwrap_or_default();
    assert_eq!(layers.len(), 3);
    let listing = |i: usize| {
        let hex = layers[i]["digest"].as_str().unwrap_or_default().trim_start_matches("sha256:").to_owned();
        let out = Command::new("tar")
            .args(["--numeric-owner", "--utc", "-tvzf"])
            .arg(layout.join("blobs/sha256").join(hex))
            .output()
            .expect("tar");
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
    };
    assert_eq!(listing(0), ["drwxr-xr-x 0/0 0 1970-01-01 00:00 app/", "-rwxr-xr-x 0/0 19 1970-01-01 00:00 app/api"]);
    assert_eq!(
        listing(1),
        ["drwxr-xr-x 0/0 0 1970-01-01 00:00 etc/", "-rw------- 0/0 10 1970-01-01 00:00 etc/api.conf"]
    );
    assert_eq!(
        listing(2),
        [
            "drwxr-xr-x 0/0 0 1970-01-01 00:00 opt/",
            "drwxr-xr-x 0/0 0 1970-01-01 00:00 opt/dags/",
            "-rw-r--r-- 0/0 6 1970-01-01 00:00 opt/dags/a.py",
            "drwxr-xr-x 0/0 0 1970-01-01 00:00 opt/dags/sub/",
            "-rw-r--r-- 0/0 6 1970-01-01 00:00 opt/dags/sub/b.py",
        ]
    );

    // SOURCE_DATE_EPOCH moves every timestamp, and so the digest; the CI context gives
    // the revision and source labels.
    let dated = json(&run(shipgate(a.path())
        .args(["image", "build", "--context", "ctx", "--copy", "app.conf:/etc/api.conf", "--output", "dated"])
        .args(["--format", "json"])
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .env("CI_COMMIT_SHA", "5b0c4d3a9f0e2a1c7e8d6b5a4f3e2d1c0b9a8f7e")
        .env("CI_PROJECT_URL", "https://gitlab.example.com/shop/api")));
    let config = skopeo(&["inspect", "--config", &format!("oci:{}:latest", a.path().join("dated").display())]);
    let config: serde_json::Value = serde_json::from_slice(&config.stdout).expect("config json");
    assert_eq!(config["created"], "2023-11-14T22:13:20Z");
    assert_eq!(config["config"]["Labels"]["org.opencontainers.image.created"], "2023-11-14T22:13:20Z");
    let labels = &config["config"]["Labels"];
    assert_eq!(labels["org.opencontainers.image.revision"], "5b0c4d3a9f0e2a1c7e8d6b5a4f3e2d1c0b9a8f7e");
    assert_eq!(labels["org.opencontainers.image.source"], "https://gitlab.example.com/shop/api");
    assert_ne!(dated["digest"], first["digest"]);
}

#[test]
fn push_to_a_registry_is_read_back_and_a_second_push_uploads_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    context(&dir.path().join("ctx"));
    let built = json(&build(dir.path(), "out", &[]));
    let reg_dir = tempfile::tempdir().expect("tempdir");
    let reg = registry(reg_dir.path(), None);
    let proxy = CountingProxy::start(reg.addr());
    let to = |tag: &str| format!("{}/shop/api:{tag}", proxy.addr());

    let mirror = format!("{}/mirror/api:1.0", proxy.addr());
    let first = json(&run(shipgate(dir.path()).args([
        "image",
        "push",
        "oci:out:api",
        "--to",
        &to("1.0"),
        "--to",
        &to("latest"),
        "--to",
        &mirror,
        "--format",
        "json",
    ])));
    let digest = built["digest"].as_str().unwrap_or_default();
    assert_eq!(first[0]["digest"], digest);
    assert_eq!(first[0]["uploaded"], 4, "config and 3 layers");
    assert_eq!(first[1]["uploaded"], 0, "the second tag uploads no blob again");
    assert_eq!(first[2]["uploaded"], 0, "another repository of the registry mounts the blobs");
    let mounts = proxy.take().into_iter().filter(|r| r.starts_with("POST ") && r.contains("mount=sha256")).count();
    assert_eq!(mounts, 4, "config and 3 layers mounted from shop/api");
    assert_eq!(inspect_digest(&format!("docker://{}/mirror/api:1.0", reg.addr()), None), digest);
    assert_eq!(first[0]["refs"][0], format!("{}/shop/api@{digest}", proxy.addr()));
    for tag in ["1.0", "latest"] {
        assert_eq!(inspect_digest(&format!("docker://{}/shop/api:{tag}", reg.addr()), None), digest);
    }
    // A second client can pull it whole.
    let pulled = dir.path().join("pulled");
    let copy = skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{}/shop/api:1.0", reg.addr()),
        &format!("oci:{}:copy", pulled.display()),
    ]);
    assert!(copy.status.success(), "{}", String::from_utf8_lossy(&copy.stderr));

    // Unchanged image, pushed again: HEADs and the manifest only.
    proxy.take();
    let again =
        json(&run(shipgate(dir.path()).args(["image", "push", "oci:out:api", "--to", &to("1.0"), "--format", "json"])));
    assert_eq!(again[0]["uploaded"], 0);
    let requests = proxy.take();
    assert!(requests.iter().all(|r| !r.contains("/blobs/uploads")), "a blob was uploaded again: {requests:#?}");
    assert!(requests.iter().filter(|r| r.starts_with("HEAD ") && r.contains("/blobs/")).count() == 4, "{requests:#?}");

    // On a terminal, a progress bar (here through `script`, which gives it a pty).
    let cmd = format!("{} image push oci:out:api --to {}/tty/api:1", crate::support::bin().display(), reg.addr());
    let tty =
        Command::new("script").args(["-qec", &cmd, "/dev/null"]).current_dir(dir.path()).output().expect("script");
    let shown = String::from_utf8_lossy(&tty.stdout).into_owned();
    assert!(tty.status.success(), "{shown}");
    assert!(shown.contains("4/4 blobs") && shown.contains("[##############################]"), "{shown:?}");
    assert!(shown.contains("\r\x1b[2K"), "the bar is redrawn in place: {shown:?}");

    // plan: which blobs the registry already has, with read-only requests.
    let plan = run(shipgate(dir.path()).args(["image", "push", "oci:out:api", "--to", &to("2.0"), "--dry-run"]));
    assert!(plan.stdout.contains("0 of 4 blobs to upload"), "{}", plan.stdout);
    assert!(proxy.take().iter().all(|r| r.starts_with("GET ") || r.starts_with("HEAD ")));
}

#[test]
fn a_registry_with_basic_auth_takes_credentials_from_ci_or_docker_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    context(&dir.path().join("ctx"));
    let built = json(&build(dir.path(), "out", &[]));
    let reg_dir = tempfile::tempdir().expect("tempdir");
    let reg = registry(reg_dir.path(), Some(HTPASSWD));
    let target = format!("{}/shop/api:1.0", reg.addr());

    let anonymous = run(shipgate(dir.path()).args(["image", "push", "oci:out:api", "--to", &target]));
    assert_eq!(anonymous.code, 3, "{}", anonymous.stderr);
    assert!(anonymous.stderr.contains("CI_REGISTRY_USER"), "{}", anonymous.stderr);
    let creds = format!("pusher:{PASSWORD}");
    let check = skopeo(&["inspect", "--tls-verify=false", "--creds", &creds, &format!("docker://{target}")]);
    assert!(!check.status.success(), "nothing may be tagged after a refused push");

    let wrong = run(shipgate(dir.path())
        .args(["image", "push", "oci:out:api", "--to", &target])
        .env("CI_REGISTRY", reg.addr())
        .env("CI_REGISTRY_USER", "pusher")
        .env("CI_REGISTRY_PASSWORD", "not-the-password"));
    assert_eq!(wrong.code, 3, "{}", wrong.stderr);
    assert!(!wrong.stderr.contains("not-the-password"));

    let ci = run(shipgate(dir.path())
        .args(["image", "push", "oci:out:api", "--to", &target, "-v"])
        .env("CI_REGISTRY", reg.addr())
        .env("CI_REGISTRY_USER", "pusher")
        .env("CI_REGISTRY_PASSWORD", PASSWORD));
    assert_eq!(ci.code, 0, "{}", ci.stderr);
    assert!(!ci.stdout.contains(PASSWORD) && !ci.stderr.contains(PASSWORD), "the password leaked");
    assert_eq!(
        inspect_digest(&format!("docker://{target}"), Some(&creds)),
        built["digest"].as_str().unwrap_or_default()
    );

    // The same credentials from $DOCKER_CONFIG/config.json (`docker login` writes them there).
    let docker = tempfile::tempdir().expect("tempdir");
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode(&creds);
    let config = serde_json::json!({"auths": {reg.addr(): {"auth": auth}}});
    std::fs::write(docker.path().join("config.json"), config.to_string()).expect("config.json");
    let target2 = format!("{}/shop/api:2.0", reg.addr());
    let from_config = run(shipgate(dir.path())
        .args(["image", "push", "oci:out:api", "--to", &target2])
        .env("DOCKER_CONFIG", docker.path()));
    assert_eq!(from_config.code, 0, "{}", from_config.stderr);
    assert!(!from_config.stderr.contains(&auth) && !from_config.stderr.contains(PASSWORD));

    // And through a credential helper (`credHelpers`), as `docker-credential-gcr` or
    // `docker-credential-ecr-login` would give them: a helper program on PATH.
    let helpers = tempfile::tempdir().expect("tempdir");
    let helper = helpers.path().join("docker-credential-shipgate-test");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread server\n[ \"$server\" = \"{}\" ] || exit 1\nprintf '{{\"ServerURL\":\"%s\",\"Username\":\"pusher\",\"Secret\":\"{PASSWORD}\"}}' \"$server\"\n",
            reg.addr()
        ),
    )
    .expect("helper");
    let st = Command::new("chmod").arg("755").arg(&helper).status().expect("chmod");
    assert!(st.success());
    let config = serde_json::json!({"credHelpers": {reg.addr(): "shipgate-test"}});
    std::fs::write(docker.path().join("config.json"), config.to_string()).expect("config.json");
    let path = format!("{}:{}", helpers.path().display(), std::env::var("PATH").unwrap_or_default());
    let target3 = format!("{}/shop/api:3.0", reg.addr());
    let from_helper = run(shipgate(dir.path())
        .args(["image", "push", "oci:out:api", "--to", &target3])
        .env("DOCKER_CONFIG", docker.path())
        .env("PATH", path));
    assert_eq!(from_helper.code, 0, "{}", from_helper.stderr);
    assert!(!from_helper.stderr.contains(PASSWORD));
    assert_eq!(
        inspect_digest(&format!("docker://{target3}"), Some(&creds)),
        built["digest"].as_str().unwrap_or_default()
    );
}

#[test]
fn a_flaky_registry_connection_is_retried_to_the_right_digest() {
    let dir = tempfile::tempdir().expect("tempdir");
    context(&dir.path().join("ctx"));
    let built = json(&build(dir.path(), "out", &[]));
    let reg_dir = tempfile::tempdir().expect("tempdir");
    let reg = registry(reg_dir.path(), None);
    // The first 6 connections get a 503 or are dropped.
    let proxy = CountingProxy::start_flaky(reg.addr(), 6);
    let out = json(&run(shipgate(dir.path()).args([
        "image",
        "push",
        "oci:out:api",
        "--to",
        &format!("{}/shop/api:1.0", proxy.addr()),
        "--format",
        "json",
    ])));
    assert_eq!(out[0]["digest"], built["digest"]);
    let digest = inspect_digest(&format!("docker://{}/shop/api:1.0", reg.addr()), None);
    assert_eq!(serde_json::json!(digest), built["digest"]);
}

#[test]
fn bad_input_is_refused_before_anything_is_pushed() {
    let dir = tempfile::tempdir().expect("tempdir");
    context(&dir.path().join("ctx"));
    let missing = run(shipgate(dir.path()).args(["image", "build", "--context", "ctx", "--copy", "bin/nope:/app/"]));
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    assert!(missing.stderr.contains("ctx/bin/nope"), "{}", missing.stderr);
    assert!(!dir.path().join("target/shipgate-images").exists(), "nothing is written when a layer cannot be made");
    let mode = run(shipgate(dir.path()).args(["image", "build", "--copy", "ctx/app.conf:/a:rwx"]));
    assert_eq!(mode.code, 2);
    assert!(mode.stderr.contains("octal"), "{}", mode.stderr);
    let bad_ref = run(shipgate(dir.path()).args(["image", "push", "oci:out:api", "--to", "Reg.Example/Shop/API:1"]));
    assert_eq!(bad_ref.code, 2, "{}", bad_ref.stderr);
    assert!(bad_ref.stderr.contains("is not an image reference"), "{}", bad_ref.stderr);
    let no_layout = run(shipgate(dir.path()).args(["image", "push", "oci:nowhere:api", "--to", "oci:copy:api"]));
    assert_eq!(no_layout.code, 2, "{}", no_layout.stderr);
    assert!(no_layout.stderr.contains("not an OCI image layout"), "{}", no_layout.stderr);
    assert!(!dir.path().join("copy").exists());
}

#[test]
fn a_pipeline_builds_and_pushes_to_a_layout_with_outputs_flowing() {
    let (dir, file) = crate::support::pipeline(
        r#"version: 1
steps:
  build:
    uses: image.build
    with:
      context: ctx
      copy: [{ from: bin/api, to: /app/api, mode: "0755" }]
      entrypoint: [/app/api]
      tags: [api]
      output: out
  push:
    needs: [build]
    uses: image.push
    with:
      image: ${{ steps.build.outputs.image }}
      to: [oci:published:1.0]
  show:
    needs: [push]
    run: echo "ref=${{ steps.push.outputs.ref }} digest=${{ steps.build.outputs.digest }}"
"#,
    );
    context(&dir.path().join("ctx"));
    let plan = run(shipgate(dir.path()).arg("plan").arg(&file));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(plan.stdout.contains("layer bin/api → /app/api: 1 files"), "{}", plan.stdout);
    assert!(!dir.path().join("out").exists(), "plan writes nothing");
    let out = run(shipgate(dir.path()).arg("run").arg(&file));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let digest = inspect_digest(&format!("oci:{}:1.0", dir.path().join("published").display()), None);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(all.contains(&format!("ref=oci:published@{digest} digest={digest}")), "{all}");
}

#[test]
fn docker_backend_builds_from_scratch_honours_dockerignore_and_pushes() {
    require_docker();
    let dir = tempfile::tempdir().expect("tempdir");
    let ctx = dir.path().join("ctx");
    context(&ctx);
    std::fs::create_dir_all(ctx.join("target")).expect("mkdir");
    std::fs::write(ctx.join("target/secret.key"), "not for the image\n").expect("write");
    std::fs::write(ctx.join(".dockerignore"), "target\n*.md\n").expect("write");
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch\nARG VERSION\nCOPY bin/api /app/api\nCOPY . /ctx/\nLABEL version=$VERSION\nENTRYPOINT [\"/app/api\"]\n",
    )
    .expect("write");
    let tag = format!("shipgate-test/api:{}", std::process::id());
    let out = run(shipgate(dir.path()).env("DOCKER_BUILDKIT", "0").args([
        "image",
        "build",
        "--backend",
        "docker",
        "--context",
        "ctx",
        "--build-arg",
        "VERSION=1.4.2",
        "--tag",
        &tag,
        "--format",
        "json",
    ]));
    let built = json(&out);
    assert_eq!(built["image"], format!("docker:{tag}"));
    assert!(out.stderr.contains("Step 3/6 : COPY bin/api /app/api"), "the build log streams: {}", out.stderr);
    let inspect = Command::new("docker")
        .args(["image", "inspect", &tag, "--format", "{{.Id}} {{.Config.Labels.version}}"])
        .output()
        .expect("docker");
    assert_eq!(
        String::from_utf8_lossy(&inspect.stdout).trim(),
        format!("{} 1.4.2", built["id"].as_str().unwrap_or_default())
    );

    // Push the Engine image to a registry; a second client reads it back, and the
    // ignored file is not in it.
    let reg_dir = tempfile::tempdir().expect("tempdir");
    let reg = registry(reg_dir.path(), None);
    let dest = format!("{}/shop/api:docker", reg.addr());
    let pushed = json(&run(shipgate(dir.path()).args([
        "image",
        "push",
        &format!("docker:{tag}"),
        "--to",
        &dest,
        "--format",
        "json",
    ])));
    let digest = inspect_digest(&format!("docker://{dest}"), None);
    assert_eq!(pushed[0]["digest"], digest.as_str());
    let pulled = dir.path().join("pulled");
    let copy = skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{dest}"),
        &format!("oci:{}:x", pulled.display()),
    ]);
    assert!(copy.status.success(), "{}", String::from_utf8_lossy(&copy.stderr));
    let mut names = Vec::new();
    for blob in std::fs::read_dir(pulled.join("blobs/sha256")).expect("blobs").flatten() {
        let list = Command::new("tar").arg("-tzf").arg(blob.path()).output().expect("tar");
        names.extend(String::from_utf8_lossy(&list.stdout).lines().map(str::to_owned));
    }
    assert!(names.iter().any(|n| n == "app/api"), "{names:?}");
    assert!(names.iter().any(|n| n == "ctx/app.conf"), "{names:?}");
    assert!(!names.iter().any(|n| n.contains("secret.key")), ".dockerignore was not honoured: {names:?}");
    docker_rmi(&[&tag]);
}

#[test]
fn docker_backend_reports_the_failing_instruction_with_its_line() {
    require_docker();
    let dir = tempfile::tempdir().expect("tempdir");
    let ctx = dir.path().join("ctx");
    context(&ctx);
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch\n# the binary\nCOPY bin/api \\\n  /app/api\nCOPY missing.txt /x\n",
    )
    .expect("write");
    let out = run(shipgate(dir.path()).env("DOCKER_BUILDKIT", "0").args([
        "image",
        "build",
        "--backend",
        "docker",
        "--context",
        "ctx",
    ]));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("ctx/Dockerfile:5: `COPY missing.txt /x` failed"), "{}", out.stderr);
    let none = run(shipgate(dir.path()).args(["image", "build", "--backend", "docker", "--context", "nowhere"]));
    assert_eq!(none.code, 2);
    assert!(none.stderr.contains("is not a folder"), "{}", none.stderr);
    let mixed =
        run(shipgate(dir.path()).args(["image", "build", "--backend", "docker", "--context", "ctx", "--copy", "a:/a"]));
    assert_eq!(mixed.code, 2);
    assert!(mixed.stderr.contains("`copy` belongs to `backend: native`"), "{}", mixed.stderr);
}

#[test]
fn a_native_build_stacks_on_a_base_from_a_layout_or_a_registry() {
    let dir = tempfile::tempdir().expect("tempdir");
    context(&dir.path().join("ctx"));
    let base = json(&build(dir.path(), "base", &[]));
    let reg_dir = tempfile::tempdir().expect("tempdir");
    let reg = registry(reg_dir.path(), None);
    let remote = format!("{}/base/api:1", reg.addr());
    json(&run(shipgate(dir.path()).args(["image", "push", "oci:base:api", "--to", &remote, "--format", "json"])));
    let base_layers: Vec<String> = base["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["digest"].as_str().map(str::to_owned))
        .collect();
    for (from, out) in [("oci:base:api".to_owned(), "on-layout"), (remote.clone(), "on-registry")] {
        let built = json(&run(shipgate(dir.path()).args([
            "image",
            "build",
            "--context",
            "ctx",
            "--base",
            &from,
            "--copy",
            "app.conf:/srv/extra.conf",
            "--env",
            "EXTRA=1",
            "--output",
            out,
            "--format",
            "json",
        ])));
        let inspect = skopeo(&["inspect", &format!("oci:{}:latest", dir.path().join(out).display())]);
        assert!(inspect.status.success(), "{}", String::from_utf8_lossy(&inspect.stderr));
        let v: serde_json::Value = serde_json::from_slice(&inspect.stdout).expect("json");
        let layers: Vec<String> =
            v["Layers"].as_array().into_iter().flatten().filter_map(|l| l.as_str().map(str::to_owned)).collect();
        assert_eq!(layers.len(), 4, "{from}: {layers:?}");
        assert_eq!(layers[..3], base_layers[..], "{from}: the base's layers come first, unchanged");
        assert_eq!(layers[3], built["layers"][0]["digest"].as_str().unwrap_or_default());
        // The base's settings are kept, this build's added.
        let env: Vec<&str> = v["Env"].as_array().into_iter().flatten().filter_map(|e| e.as_str()).collect();
        assert_eq!(env, ["MODE=prod", "EXTRA=1"], "{from}");
    }
}
