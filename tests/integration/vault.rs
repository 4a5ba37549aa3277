//! `secrets: [NAME: vault:PATH#KEY]` against a real Vault-API server (OpenBao dev mode):
//! token, AppRole and JWT auth; values reach the steps, masked, and nowhere on disk;
//! denied, missing and unreachable secrets stop the run before anything runs.

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::support::service::{Service, VAULT_ROOT_TOKEN, free_port, vault};
use crate::support::{Run, run, shipgate};

const PASSWORD: &str = "s3cret-registry-password-0042";

/// One call to the Vault API as the root token; the JSON answer.
fn api(v: &Service, method: &str, path: &str, body: Value) -> Value {
    let client = reqwest::blocking::Client::new();
    let resp = client
        .request(method.parse().expect("method"), format!("http://{}/v1/{path}", v.addr()))
        .header("X-Vault-Token", VAULT_ROOT_TOKEN)
        .body(body.to_string())
        .send()
        .expect("vault answers");
    let status = resp.status();
    let text = resp.text().unwrap_or_default();
    assert!(status.is_success(), "{method} {path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// A Vault with the registry secret, a `ci` policy that may read `secret/data/ci/*`
/// only, an AppRole and a JWT role (GitLab id_tokens style) bound to that policy.
fn seeded(dir: &Path) -> (Service, String, String) {
    let v = vault();
    api(
        &v,
        "POST",
        "secret/data/ci/registry",
        json!({ "data": { "password": PASSWORD, "user": "pusher", "port": 5000 } }),
    );
    api(&v, "POST", "secret/data/other/db", json!({ "data": { "password": "not-for-ci-0000000" } }));
    api(
        &v,
        "PUT",
        "sys/policies/acl/ci",
        json!({ "policy": "path \"secret/data/ci/*\" { capabilities = [\"read\"] }" }),
    );
    api(&v, "POST", "sys/auth/approle", json!({ "type": "approle" }));
    api(&v, "POST", "auth/approle/role/ci", json!({ "token_policies": ["ci"] }));
    let role_id = api(&v, "GET", "auth/approle/role/ci/role-id", Value::Null)["data"]["role_id"]
        .as_str()
        .expect("role id")
        .to_owned();
    let secret_id = api(&v, "POST", "auth/approle/role/ci/secret-id", json!({}))["data"]["secret_id"]
        .as_str()
        .expect("secret id")
        .to_owned();
    // JWT: the key GitLab would sign id tokens with.
    let key = dir.join("jwt.key");
    openssl(&["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", &key.display().to_string()]);
    let public = openssl(&["pkey", "-in", &key.display().to_string(), "-pubout"]);
    api(&v, "POST", "sys/auth/jwt", json!({ "type": "jwt" }));
    api(
        &v,
        "POST",
        "auth/jwt/config",
        json!({ "jwt_validation_pubkeys": [String::from_utf8_lossy(&public)], "bound_issuer": "https://gitlab.example.com" }),
    );
    api(
        &v,
        "POST",
        "auth/jwt/role/ci",
        json!({
            "role_type": "jwt", "user_claim": "sub", "bound_audiences": ["https://vault.example.com"],
            "bound_claims": { "project_path": "platform/shop" }, "token_policies": ["ci"]
        }),
    );
    (v, role_id, secret_id)
}

fn openssl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl").args(args).output().expect("openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// An RS256 id token as GitLab issues them.
fn id_token(dir: &Path, project: &str) -> String {
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_secs();
    let header = b64(br#"{"alg":"RS256","typ":"JWT"}"#);
    let claims = b64(json!({
        "iss": "https://gitlab.example.com", "sub": format!("project_path:{project}:ref_type:branch:ref:main"),
        "aud": "https://vault.example.com", "iat": now, "nbf": now - 5, "exp": now + 300, "project_path": project
    })
    .to_string()
    .as_bytes());
    let input = dir.join("jwt.input");
    std::fs::write(&input, format!("{header}.{claims}")).expect("write");
    let sig = openssl(&[
        "dgst",
        "-sha256",
        "-sign",
        &dir.join("jwt.key").display().to_string(),
        &input.display().to_string(),
    ]);
    format!("{header}.{claims}.{}", b64(&sig))
}

const PIPELINE: &str = r#"version: 1
name: vault
secrets:
  - REGISTRY_PASSWORD: vault:secret/data/ci/registry#password
  - REGISTRY_USER: vault:secret/data/ci/registry#user
  - GITOPS_TOKEN
steps:
  login:
    outputs: [who]
    run: |
      test "$(printf %s "$REGISTRY_PASSWORD" | sha256sum | cut -d' ' -f1)" = "PASSWORD_SHA256"
      echo "logging in as $REGISTRY_USER with $REGISTRY_PASSWORD (approle ${VAULT_SECRET_ID:-none})"
      echo "who=$REGISTRY_USER:$REGISTRY_PASSWORD" >> "$SHIPGATE_OUTPUT"
"#;

fn release(dir: &Path, v: &Service, auth: &[(&str, &str)]) -> Run {
    let sha = Command::new("sh")
        .arg("-c")
        .arg(format!("printf %s '{PASSWORD}' | sha256sum | cut -d' ' -f1"))
        .output()
        .expect("sha256sum");
    let pipeline = PIPELINE.replace("PASSWORD_SHA256", String::from_utf8_lossy(&sha.stdout).trim());
    std::fs::write(dir.join("pipeline.yaml"), pipeline).expect("write");
    run(shipgate(dir)
        .args(["run", "pipeline.yaml", "--report", "json=run.json", "--report", "dotenv=run.env"])
        .env("VAULT_ADDR", format!("http://{}", v.addr()))
        .envs(auth.iter().copied()))
}

/// Every file under `dir` (reports included) is free of `secret`.
fn nowhere_on_disk(dir: &Path, secret: &str) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap_or_default();
                assert!(!String::from_utf8_lossy(&bytes).contains(secret), "{} holds the secret", p.display());
            }
        }
    }
}

#[test]
fn vault_secrets_reach_the_steps_masked_by_token_approle_and_jwt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (v, role_id, secret_id) = seeded(dir.path());
    let jwt = id_token(dir.path(), "platform/shop");
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("token", vec![("VAULT_TOKEN", VAULT_ROOT_TOKEN)]),
        ("approle", vec![("VAULT_ROLE_ID", &role_id), ("VAULT_SECRET_ID", &secret_id)]),
        ("jwt", vec![("VAULT_ID_TOKEN", &jwt), ("VAULT_AUTH_ROLE", "ci")]),
    ];
    for (name, auth) in cases {
        let work = dir.path().join(name);
        std::fs::create_dir_all(&work).expect("mkdir");
        let r = release(&work, &v, &auth);
        assert_eq!(r.code, 0, "{name}: {}\n{}", r.stdout, r.stderr);
        let all = format!("{}{}", r.stdout, r.stderr);
        assert!(all.contains("logging in as [MASKED] with [MASKED] ("), "{name}: {all}");
        assert!(!all.contains(PASSWORD) && !all.contains(&secret_id), "{name}: a secret was printed");
        let summary: Value =
            serde_json::from_str(&std::fs::read_to_string(work.join("run.json")).expect("report")).expect("json");
        assert_eq!(summary["steps"][0]["status"], "success", "{name}");
        // An output holding a secret is not handed to later jobs (not even masked).
        let dotenv = std::fs::read_to_string(work.join("run.env")).expect("dotenv");
        assert!(!dotenv.contains("SHIPGATE_LOGIN_WHO"), "{name}: {dotenv}");
        assert!(r.stderr.contains("SHIPGATE_LOGIN_WHO holds a secret and is left out"), "{name}: {}", r.stderr);
        nowhere_on_disk(&work, PASSWORD);
    }
}

#[test]
fn denied_missing_and_unreachable_secrets_stop_the_run_before_any_step() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (v, role_id, secret_id) = seeded(dir.path());
    let approle = [("VAULT_ROLE_ID", role_id.as_str()), ("VAULT_SECRET_ID", secret_id.as_str())];
    let marker = "echo ran > ran.txt";
    let attempt = |pipeline: String, env: &[(&str, &str)]| {
        let work = tempfile::tempdir().expect("tempdir");
        std::fs::write(work.path().join("pipeline.yaml"), pipeline).expect("write");
        let r = run(shipgate(work.path())
            .args(["run", "pipeline.yaml"])
            .env("VAULT_ADDR", format!("http://{}", v.addr()))
            .envs(env.iter().copied()));
        assert!(!work.path().join("ran.txt").exists(), "a step ran: {}", r.stderr);
        assert!(!r.stderr.contains(PASSWORD), "{}", r.stderr);
        r
    };
    let with = |source: &str| format!("version: 1\nsecrets:\n  - PW: {source}\nsteps:\n  s: {{ run: '{marker}' }}\n");

    // The policy allows secret/data/ci/* only.
    let r = attempt(with("vault:secret/data/other/db#password"), &approle);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("Vault denied reading secret/data/other/db"), "{}", r.stderr);
    // A key the secret does not have: its keys are named, never its values.
    let r = attempt(with("vault:secret/data/ci/registry#pasword"), &approle);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("has no key `pasword` (its keys: password, port, user)"), "{}", r.stderr);
    // A KV v2 path written without `data/`.
    let r = attempt(with("vault:secret/ci/registry#password"), &[("VAULT_TOKEN", VAULT_ROOT_TOKEN)]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("is read at secret/data/ci/registry"), "{}", r.stderr);
    // A JWT for another project is refused by the role's bound claims.
    let jwt = id_token(dir.path(), "someone/else");
    let r =
        attempt(with("vault:secret/data/ci/registry#password"), &[("VAULT_ID_TOKEN", &jwt), ("VAULT_AUTH_ROLE", "ci")]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("Vault refused the JWT login at auth/jwt"), "{}", r.stderr);
    assert!(!r.stderr.contains(&jwt), "the token was printed");
    // No credentials at all.
    let r = attempt(with("vault:secret/data/ci/registry#password"), &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no Vault credentials"), "{}", r.stderr);
    // Vault is down: an infrastructure error.
    let work = tempfile::tempdir().expect("tempdir");
    std::fs::write(work.path().join("pipeline.yaml"), with("vault:secret/data/ci/registry#password")).expect("write");
    let r = run(shipgate(work.path())
        .args(["run", "pipeline.yaml"])
        .env("VAULT_ADDR", format!("http://127.0.0.1:{}", free_port()))
        .env("VAULT_TOKEN", VAULT_ROOT_TOKEN));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("cannot reach Vault"), "{}", r.stderr);
    assert!(!work.path().join("ran.txt").exists());
}

#[test]
fn a_malformed_source_is_a_pipeline_error_with_its_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("pipeline.yaml"),
        "version: 1\nsecrets:\n  - PW: vault:secret/data/ci/registry\n  - [A, B]\nsteps:\n  s: { run: 'true' }\n",
    )
    .expect("write");
    let r = run(shipgate(dir.path()).args(["validate", "pipeline.yaml"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("pipeline.yaml:3:9"), "{}", r.stderr);
    assert!(r.stderr.contains("needs a path and a key: `vault:PATH#KEY`"), "{}", r.stderr);
    assert!(r.stderr.contains("pipeline.yaml:4:5") && r.stderr.contains("found a list"), "{}", r.stderr);
}
