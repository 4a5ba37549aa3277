//! Secrets from Vault (or OpenBao, same API): `secrets: [NAME: vault:PATH#KEY]` reads
//! field KEY of the secret at PATH through the HTTP API before the first step, once per
//! run (one request per path), into memory only. KV v2 (`secret/data/…`) and KV v1.
//!
//! Auth, the first that is configured: `VAULT_TOKEN`; AppRole (`VAULT_ROLE_ID` +
//! `VAULT_SECRET_ID`); JWT (`VAULT_ID_TOKEN`, e.g. a GitLab `id_tokens:` token, with
//! `VAULT_AUTH_ROLE`). `VAULT_AUTH_PATH` names a non-default auth mount,
//! `VAULT_NAMESPACE` a namespace. Values are masked like every secret.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

/// `vault:PATH#KEY`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultRef {
    pub path: String,
    pub key: String,
}

impl VaultRef {
    pub fn parse(s: &str) -> Result<VaultRef, String> {
        let Some(rest) = s.strip_prefix("vault:") else {
            return Err(format!("`{s}` is not a secret source (only `vault:PATH#KEY` is known)"));
        };
        match rest.rsplit_once('#') {
            Some((path, key)) if !path.trim_matches('/').is_empty() && !key.is_empty() => {
                Ok(VaultRef { path: path.trim_matches('/').to_owned(), key: key.to_owned() })
            }
            _ => Err(format!("`{s}` needs a path and a key: `vault:PATH#KEY`")),
        }
    }
}

impl std::fmt::Display for VaultRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "vault:{}#{}", self.path, self.key)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// Wrong settings, denied, missing secret or key: exit 2, nothing ran.
    #[error("{0}")]
    Config(String),
    /// Vault unreachable or failing after retries: exit 3.
    #[error("{0}")]
    Unreachable(String),
}

const ATTEMPTS: u32 = 3;

struct Client {
    http: reqwest::blocking::Client,
    addr: String,
    namespace: Option<String>,
}

impl Client {
    /// One API call with retries on connection errors and 5xx; the JSON body, or the
    /// status and Vault's `errors` for a 4xx.
    fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Value, (u16, String)> {
        let url = format!("{}/v1/{path}", self.addr);
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            let mut req = self.http.request(method.clone(), &url);
            if let Some(t) = token {
                req = req.header("X-Vault-Token", t);
            }
            if let Some(ns) = &self.namespace {
                req = req.header("X-Vault-Namespace", ns);
            }
            if let Some(b) = body {
                req = req.header("Content-Type", "application/json").body(b.to_string());
            }
            match req.send() {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let json: Value =
                        resp.bytes().ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or(Value::Null);
                    if (200..300).contains(&status) {
                        return Ok(json);
                    }
                    let errors = json["errors"]
                        .as_array()
                        .map(|e| e.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("; "))
                        .filter(|e| !e.is_empty())
                        .unwrap_or_else(|| format!("HTTP {status}"));
                    if status < 500 {
                        return Err((status, errors));
                    }
                    last = errors;
                }
                Err(e) => last = without_url(&e),
            }
            if attempt < ATTEMPTS {
                std::thread::sleep(Duration::from_millis(300 << attempt));
            }
        }
        Err((0, last))
    }
}

fn without_url(e: &reqwest::Error) -> String {
    let mut e = e.to_string();
    if let Some(i) = e.find(" for url (") {
        e.truncate(i);
    }
    e
}

/// Reads every Vault secret of the pipeline. `get` looks up the process environment.
pub fn fetch(
    refs: &[(String, VaultRef)],
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, VaultError> {
    if refs.is_empty() {
        return Ok(Vec::new());
    }
    let Some(addr) = get("VAULT_ADDR").filter(|a| !a.is_empty()) else {
        // Without Vault (a developer's machine), values already in the environment do.
        let missing: Vec<String> = refs
            .iter()
            .filter(|(n, _)| get(n).is_none_or(|v| v.is_empty()))
            .map(|(n, r)| format!("{n} ({r})"))
            .collect();
        if missing.is_empty() {
            tracing::info!("VAULT_ADDR is not set: the Vault secrets are taken from the environment");
            return Ok(Vec::new());
        }
        return Err(VaultError::Config(format!(
            "VAULT_ADDR is not set, and these secrets come from Vault: {}",
            missing.join(", ")
        )));
    };
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| VaultError::Unreachable(format!("cannot start an HTTP client: {e}")))?;
    let client = Client {
        http,
        addr: addr.trim_end_matches('/').to_owned(),
        namespace: get("VAULT_NAMESPACE").filter(|n| !n.is_empty()),
    };
    let token = login(&client, get)?;
    // One read per path, however many keys come from it.
    let mut by_path: BTreeMap<&str, Value> = BTreeMap::new();
    let mut out = Vec::new();
    for (name, r) in refs {
        if !by_path.contains_key(r.path.as_str()) {
            let data = read(&client, &token, &r.path)?;
            by_path.insert(&r.path, data);
        }
        let data = &by_path[r.path.as_str()];
        let value = match data.get(&r.key) {
            Some(Value::String(s)) => s.clone(),
            Some(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
            Some(_) => {
                return Err(VaultError::Config(format!(
                    "{name}: the key `{}` of {} holds a list or an object, not a value",
                    r.key, r.path
                )));
            }
            None => {
                let keys: Vec<&str> =
                    data.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
                return Err(VaultError::Config(format!(
                    "{name}: the secret {} has no key `{}` (its keys: {})",
                    r.path,
                    r.key,
                    if keys.is_empty() { "none".to_owned() } else { keys.join(", ") }
                )));
            }
        };
        out.push((name.clone(), value));
    }
    Ok(out)
}

fn login(c: &Client, get: &dyn Fn(&str) -> Option<String>) -> Result<String, VaultError> {
    let set = |n: &str| get(n).filter(|v| !v.is_empty());
    if let Some(t) = set("VAULT_TOKEN") {
        return Ok(t);
    }
    let (method, mount, body) = if let (Some(role_id), Some(secret_id)) = (set("VAULT_ROLE_ID"), set("VAULT_SECRET_ID"))
    {
        (
            "AppRole",
            set("VAULT_AUTH_PATH").unwrap_or_else(|| "approle".into()),
            serde_json::json!({ "role_id": role_id, "secret_id": secret_id }),
        )
    } else if let Some(jwt) = set("VAULT_ID_TOKEN") {
        let mut body = serde_json::json!({ "jwt": jwt });
        if let Some(role) = set("VAULT_AUTH_ROLE") {
            body["role"] = Value::String(role);
        }
        ("JWT", set("VAULT_AUTH_PATH").unwrap_or_else(|| "jwt".into()), body)
    } else {
        return Err(VaultError::Config(
            "no Vault credentials: set VAULT_TOKEN; or VAULT_ROLE_ID and VAULT_SECRET_ID (AppRole); or VAULT_ID_TOKEN and VAULT_AUTH_ROLE (JWT, e.g. a GitLab `id_tokens:` token)".into(),
        ));
    };
    let mount = mount.trim_matches('/');
    match c.call(reqwest::Method::POST, &format!("auth/{mount}/login"), None, Some(&body)) {
        Ok(resp) => resp["auth"]["client_token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| VaultError::Config(format!("Vault's {method} login at auth/{mount} returned no token"))),
        Err((0, e)) => Err(VaultError::Unreachable(format!("cannot reach Vault at {}: {e}", c.addr))),
        Err((status, e)) => {
            Err(VaultError::Config(format!("Vault refused the {method} login at auth/{mount} (HTTP {status}): {e}")))
        }
    }
}

/// The fields of the secret at `path` (KV v2's `data.data`, KV v1's `data`).
fn read(c: &Client, token: &str, path: &str) -> Result<Value, VaultError> {
    match c.call(reqwest::Method::GET, path, Some(token), None) {
        Ok(resp) => {
            let data = &resp["data"];
            match (data.get("metadata"), &data["data"]) {
                (Some(_), Value::Object(_)) => Ok(data["data"].clone()),
                // KV v2 answers a deleted latest version with `data: null`.
                (Some(m), Value::Null) if m.get("deletion_time").is_some() => Err(VaultError::Config(format!(
                    "the latest version of {path} is deleted (undelete it, or write a new version)"
                ))),
                _ => Ok(data.clone()),
            }
        }
        Err((0, e)) => Err(VaultError::Unreachable(format!("cannot reach Vault at {}: {e}", c.addr))),
        Err((403, e)) => Err(VaultError::Config(format!(
            "Vault denied reading {path}: {e} (the token's policies must allow `read` on it)"
        ))),
        Err((404, _)) => {
            let hint = match path.split_once('/') {
                Some((mount, rest)) if !rest.starts_with("data/") => {
                    format!(" (a KV v2 engine mounted at {mount}/ is read at {mount}/data/{rest})")
                }
                _ => String::new(),
            };
            Err(VaultError::Config(format!("there is no secret at {path}{hint}")))
        }
        Err((status, e)) => Err(VaultError::Config(format!("Vault refused reading {path} (HTTP {status}): {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_name_a_path_and_a_key() {
        assert_eq!(
            VaultRef::parse("vault:secret/data/ci/registry#password"),
            Ok(VaultRef { path: "secret/data/ci/registry".into(), key: "password".into() })
        );
        assert!(VaultRef::parse("vault:secret/data/ci/registry").is_err());
        assert!(VaultRef::parse("vault:#password").is_err());
        assert!(VaultRef::parse("env:X").expect_err("unknown").contains("only `vault:PATH#KEY`"));
    }

    #[test]
    fn without_vault_the_environment_may_hold_the_values() {
        let refs = vec![("A".to_owned(), VaultRef::parse("vault:s/data/x#a").expect("ref"))];
        assert!(fetch(&refs, &|n| (n == "A").then(|| "from-env".to_owned())).expect("ok").is_empty());
        let e = fetch(&refs, &|_| None).expect_err("missing");
        assert!(
            e.to_string().contains("VAULT_ADDR is not set") && e.to_string().contains("A (vault:s/data/x#a)"),
            "{e}"
        );
    }
}
