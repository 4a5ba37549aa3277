//! Pushing to (and pulling bases from) OCI registries with `oci-client`.
//!
//! A push HEADs every blob and uploads only the missing ones, several at once; the
//! manifest goes last, so a tag never points at a partial image; the manifest is then
//! read back and its digest checked. Transient failures (5xx, 429, dropped
//! connections) are retried with backoff and jitter.

use std::time::Duration;

use futures::StreamExt as _;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};
use serde_json::Value;

use super::layout::{Descriptor, Layout, Manifest};
use super::reference::{ImageRef, is_loopback};
use super::{ImageError, digest_of};

/// One blob's check or upload, run several at once.
type Job<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, ImageError>> + Send + 'a>>;

/// How many blobs are checked or uploaded at once.
const PARALLEL: usize = 4;
const ATTEMPTS: u32 = 6;

fn client(registry: &str, insecure: bool) -> Client {
    let plain = insecure || is_loopback(registry);
    Client::new(ClientConfig {
        protocol: if plain { ClientProtocol::HttpsExcept(vec![registry.to_owned()]) } else { ClientProtocol::Https },
        use_monolithic_push: true,
        connect_timeout: Some(Duration::from_secs(10)),
        read_timeout: Some(Duration::from_secs(120)),
        ..ClientConfig::default()
    })
}

/// Credentials for `registry`, from where docker and crane look: `CI_REGISTRY_USER` /
/// `CI_REGISTRY_PASSWORD` for `CI_REGISTRY`, then `$DOCKER_CONFIG/config.json`
/// (`auths`, `credHelpers`, `credsStore`). Anonymous otherwise.
pub fn credentials(registry: &str) -> Result<RegistryAuth, ImageError> {
    let env = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
    if let (Some(ci), Some(user), Some(pass)) =
        (env("CI_REGISTRY"), env("CI_REGISTRY_USER"), env("CI_REGISTRY_PASSWORD"))
        && ci == registry
    {
        return Ok(RegistryAuth::Basic(user, pass));
    }
    let dir = env("DOCKER_CONFIG")
        .map(std::path::PathBuf::from)
        .or_else(|| env("HOME").map(|h| format!("{h}/.docker").into()));
    let Some(path) = dir.map(|d| d.join("config.json")).filter(|p| p.is_file()) else {
        return Ok(RegistryAuth::Anonymous);
    };
    let text = std::fs::read(&path).map_err(|e| ImageError::Input(format!("cannot read {}: {e}", path.display())))?;
    let cfg: Value = serde_json::from_slice(&text)
        .map_err(|e| ImageError::Input(format!("{} is not valid JSON: {}", path.display(), e)))?;
    let keys = [registry.to_owned(), format!("https://{registry}"), format!("http://{registry}")];
    let docker_hub = registry == "docker.io" || registry == "index.docker.io";
    let matches =
        |k: &str| keys.iter().any(|x| x == k.trim_end_matches('/')) || (docker_hub && k.contains("index.docker.io"));
    if let Some(helper) = cfg
        .get("credHelpers")
        .and_then(Value::as_object)
        .and_then(|h| h.iter().find(|(k, _)| matches(k)).and_then(|(_, v)| v.as_str().map(str::to_owned)))
    {
        return helper_get(&helper, registry);
    }
    if let Some(auth) =
        cfg.get("auths").and_then(Value::as_object).and_then(|a| a.iter().find(|(k, _)| matches(k))).map(|(_, v)| v)
    {
        if let Some(b64) = auth.get("auth").and_then(Value::as_str) {
            use base64::Engine as _;
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .ok()
                .and_then(|d| String::from_utf8(d).ok())
                .ok_or_else(|| {
                    ImageError::Input(format!(
                        "{}: the `auth` of {registry} is not base64 of USER:PASSWORD",
                        path.display()
                    ))
                })?;
            if let Some((u, p)) = decoded.split_once(':') {
                return Ok(RegistryAuth::Basic(u.to_owned(), p.to_owned()));
            }
        }
        if let Some(t) = auth.get("identitytoken").and_then(Value::as_str) {
            return Ok(RegistryAuth::Bearer(t.to_owned()));
        }
    }
    if let Some(store) = cfg.get("credsStore").and_then(Value::as_str) {
        return helper_get(store, registry);
    }
    Ok(RegistryAuth::Anonymous)
}

/// `docker-credential-HELPER get` with the registry on stdin.
fn helper_get(helper: &str, registry: &str) -> Result<RegistryAuth, ImageError> {
    use std::io::Write as _;
    let program = format!("docker-credential-{helper}");
    let mut child = std::process::Command::new(&program)
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| ImageError::Registry(format!("cannot run the credential helper {program}: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(registry.as_bytes());
    }
    let out = child.wait_with_output().map_err(|e| ImageError::Registry(format!("{program}: {e}")))?;
    if !out.status.success() {
        // Helpers say "credentials not found" on stdout; anonymous access may still work.
        return Ok(RegistryAuth::Anonymous);
    }
    let v: Value = serde_json::from_slice(&out.stdout)
        .map_err(|_| ImageError::Registry(format!("{program} printed something that is not JSON")))?;
    match (v.get("Username").and_then(Value::as_str), v.get("Secret").and_then(Value::as_str)) {
        (Some("<token>"), Some(s)) => Ok(RegistryAuth::Bearer(s.to_owned())),
        (Some(u), Some(s)) => Ok(RegistryAuth::Basic(u.to_owned(), s.to_owned())),
        _ => Ok(RegistryAuth::Anonymous),
    }
}

fn status(e: &OciDistributionError) -> Option<u16> {
    match e {
        OciDistributionError::ServerError { code, .. } => Some(*code),
        OciDistributionError::UnauthorizedError { .. } | OciDistributionError::AuthenticationFailure(_) => Some(401),
        OciDistributionError::RequestError(r) => r.status().map(|s| s.as_u16()),
        _ => None,
    }
}

fn transient(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::RequestError(r) => r.status().is_none_or(|s| s.is_server_error() || s.as_u16() == 429),
        OciDistributionError::IoError(_) => true,
        OciDistributionError::RegistryNoLocationError | OciDistributionError::RegistryNoDigestError => true,
        _ => status(e).is_some_and(|c| c >= 500 || c == 429),
    }
}

/// The error for the user: what failed, where, and (for 401/403) about credentials.
/// Registry errors never carry the credentials (they travel in headers).
fn registry_err(what: &str, at: &str, e: &OciDistributionError) -> ImageError {
    let hint = match status(e) {
        Some(401) => "; the registry wants credentials (CI_REGISTRY_USER/CI_REGISTRY_PASSWORD, or `docker login`)",
        Some(403) => "; the credentials may not push to this repository",
        _ => "",
    };
    ImageError::Registry(format!("{what} {at}: {e}{hint}"))
}

/// Runs `op` until it succeeds, fails for good, or `ATTEMPTS` transient failures.
async fn retry<T, F, Fut>(what: &str, at: &str, op: F) -> Result<T, ImageError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, OciDistributionError>>,
{
    let mut attempt = 1;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if attempt < ATTEMPTS && transient(&e) => {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .subsec_nanos();
                let base = 100u64 << attempt.min(5);
                tracing::debug!("{what} {at}: {e}; retrying (attempt {attempt})");
                tokio::time::sleep(Duration::from_millis(base + u64::from(nanos) % base)).await;
                attempt += 1;
            }
            Err(e) => return Err(registry_err(what, at, &e)),
        }
    }
}

/// How far a push is (for a progress bar, or a log line each).
#[derive(Debug, Clone)]
pub enum Progress {
    /// A blob is done (uploaded, or found already there).
    Blob { dest: String, done: usize, total: usize, bytes: u64, total_bytes: u64, uploaded: bool },
    /// A destination is done.
    Pushed(String),
}

impl std::fmt::Display for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Progress::Blob { dest, done, total, bytes, uploaded, .. } => {
                let what = if *uploaded { "uploaded" } else { "already there:" };
                write!(f, "{dest}: {what} blob {done}/{total} ({bytes} bytes)")
            }
            Progress::Pushed(line) => f.write_str(line),
        }
    }
}

pub type ProgressFn<'a> = &'a (dyn Fn(Progress) + Send + Sync);

/// What a push did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Pushed {
    /// The manifest's digest (the same at every destination).
    pub digest: String,
    /// `repository@digest` at each destination.
    pub refs: Vec<String>,
    /// Blobs uploaded, and blobs the destination already had.
    pub uploaded: usize,
    pub present: usize,
    pub bytes_uploaded: u64,
}

/// The image to push: a manifest and its blobs, read from an OCI layout.
#[derive(Debug)]
pub struct Source {
    layout: Layout,
    manifest_bytes: Vec<u8>,
    manifest: Manifest,
    media_type: String,
    /// A layout exported from the Docker Engine, removed with the source.
    scratch: Option<std::path::PathBuf>,
}

impl Drop for Source {
    fn drop(&mut self) {
        if let Some(dir) = &self.scratch {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl Source {
    /// An OCI layout (`oci:DIR[:TAG]`), or an Engine image (`docker:NAME`) exported to one.
    pub async fn open(image: &ImageRef) -> Result<Source, ImageError> {
        match image {
            ImageRef::Layout { dir, tag } => Self::open_layout(dir, tag.as_deref(), None),
            ImageRef::Docker(name) => {
                let nanos =
                    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
                let dir = std::env::temp_dir().join(format!("shipgate-export-{}-{nanos}", std::process::id()));
                let tag = match super::docker::export_to_layout(name, &dir).await {
                    Ok(t) => t,
                    Err(e) => {
                        let _ = std::fs::remove_dir_all(&dir);
                        return Err(e);
                    }
                };
                Self::open_layout(&dir.clone(), Some(&tag), Some(dir))
            }
            ImageRef::Registry(_) => Err(ImageError::Input(format!(
                "`{}`: image.push reads an OCI layout (oci:DIR[:TAG]) or a Docker Engine image (docker:NAME), e.g. the `image` output of image.build",
                image.display()
            ))),
        }
    }

    fn open_layout(
        dir: &std::path::Path,
        tag: Option<&str>,
        scratch: Option<std::path::PathBuf>,
    ) -> Result<Source, ImageError> {
        let layout = Layout::open(dir)?;
        let desc = layout.resolve(tag)?;
        let (manifest_bytes, manifest) = layout.manifest(&desc)?;
        // Every blob must be there and intact before anything is sent.
        for d in std::iter::once(&manifest.config).chain(&manifest.layers) {
            if !layout.has_blob(&d.digest) {
                return Err(ImageError::Input(format!("{}: the blob {} is missing", dir.display(), d.digest)));
            }
        }
        Ok(Source { layout, media_type: desc.media_type, manifest_bytes, manifest, scratch })
    }

    pub fn digest(&self) -> String {
        digest_of(&self.manifest_bytes)
    }

    pub fn blobs(&self) -> Vec<&Descriptor> {
        std::iter::once(&self.manifest.config).chain(&self.manifest.layers).collect()
    }
}

/// Which blobs `to` already has (read-only HEADs; what `plan` shows).
pub async fn present_blobs(src: &Source, to: &Reference, insecure: bool) -> Result<Vec<bool>, ImageError> {
    let c = client(to.registry(), insecure);
    let auth = credentials(to.registry())?;
    let at = to.whole();
    retry("cannot reach", &at, || c.auth(to, &auth, RegistryOperation::Pull)).await?;
    let checks: Vec<Job<'_, bool>> = src
        .blobs()
        .into_iter()
        .map(|d| -> Job<'_, bool> {
            let (c, at) = (&c, &at);
            Box::pin(async move { retry("cannot check a blob at", at, || c.blob_exists(to, &d.digest)).await })
        })
        .collect();
    futures::stream::iter(checks).buffered(PARALLEL).collect::<Vec<_>>().await.into_iter().collect()
}

/// Pushes `src` to one destination; `progress` hears about each uploaded blob.
/// `mount_from`: a repository on the same registry that already holds the blobs (an
/// earlier destination): missing blobs are mounted from it instead of uploaded.
pub async fn push(
    src: &Source,
    to: &ImageRef,
    insecure: bool,
    mount_from: Option<&Reference>,
    progress: ProgressFn<'_>,
) -> Result<Pushed, ImageError> {
    let digest = src.digest();
    match to {
        ImageRef::Layout { dir, tag } => {
            let out = Layout::create(dir)?;
            let mut pushed = Pushed { digest: digest.clone(), ..Pushed::default() };
            for d in src.blobs() {
                if out.has_blob(&d.digest) {
                    pushed.present += 1;
                } else {
                    out.write_blob(&src.layout.read_blob(&d.digest)?)?;
                    pushed.uploaded += 1;
                    pushed.bytes_uploaded += d.size;
                }
            }
            out.write_blob(&src.manifest_bytes)?;
            let desc = Descriptor::of(&src.media_type, &src.manifest_bytes);
            out.tag(tag.as_deref().unwrap_or("latest"), &desc)?;
            pushed.refs.push(format!("oci:{}@{digest}", dir.display()));
            Ok(pushed)
        }
        ImageRef::Registry(r) => push_registry(src, r, insecure, mount_from, progress).await,
        ImageRef::Docker(n) => Err(ImageError::Input(format!(
            "docker:{n}: pushing into the Docker Engine is not supported; push to a registry or oci:DIR"
        ))),
    }
}

async fn push_registry(
    src: &Source,
    to: &Reference,
    insecure: bool,
    mount_from: Option<&Reference>,
    progress: ProgressFn<'_>,
) -> Result<Pushed, ImageError> {
    let mount_from = mount_from.filter(|m| m.registry() == to.registry() && m.repository() != to.repository());
    let c = client(to.registry(), insecure);
    let auth = credentials(to.registry())?;
    let at = to.whole();
    retry("cannot sign in to", &at, || c.auth(to, &auth, RegistryOperation::Push)).await?;
    let blobs = src.blobs();
    let total = blobs.len();
    let total_bytes: u64 = blobs.iter().map(|b| b.size).sum();
    let jobs: Vec<Job<'_, (bool, u64)>> = blobs
        .into_iter()
        .map(|d| -> Job<'_, (bool, u64)> {
            let (c, at) = (&c, &at);
            Box::pin(async move {
                if retry("cannot check a blob at", at, || c.blob_exists(to, &d.digest)).await? {
                    return Ok((false, d.size));
                }
                // Mounted from another repository of this registry: nothing to send.
                if let Some(from) = mount_from
                    && c.mount_blob(to, from, &d.digest).await.is_ok()
                {
                    return Ok((false, d.size));
                }
                let data = bytes::Bytes::from(src.layout.read_blob(&d.digest)?);
                retry("cannot upload a blob to", at, || c.push_blob(to, data.clone(), &d.digest)).await?;
                Ok((true, d.size))
            })
        })
        .collect();
    let mut pushed = Pushed::default();
    let mut results = futures::stream::iter(jobs).buffer_unordered(PARALLEL);
    let mut bytes = 0;
    while let Some(r) = results.next().await {
        let (uploaded, size) = r?;
        if uploaded {
            pushed.uploaded += 1;
            pushed.bytes_uploaded += size;
        } else {
            pushed.present += 1;
        }
        bytes += size;
        progress(Progress::Blob {
            dest: at.clone(),
            done: pushed.uploaded + pushed.present,
            total,
            bytes,
            total_bytes,
            uploaded,
        });
    }
    drop(results);
    // The manifest last: until now no tag points at anything new.
    let content_type: http::HeaderValue =
        src.media_type.parse().map_err(|_| ImageError::Input(format!("`{}` is not a media type", src.media_type)))?;
    let manifest = bytes::Bytes::from(src.manifest_bytes.clone());
    retry("cannot push the manifest to", &at, || c.push_manifest_raw(to, manifest.clone(), content_type.clone()))
        .await?;
    let digest = src.digest();
    let remote = retry("cannot read the manifest back from", &at, || c.fetch_manifest_digest(to, &auth)).await?;
    if remote != digest {
        return Err(ImageError::Registry(format!("{at} holds manifest {remote} after the push, expected {digest}")));
    }
    pushed.digest = digest.clone();
    pushed.refs.push(format!("{}/{}@{digest}", to.registry(), to.repository()));
    Ok(pushed)
}

/// Pulls a base image into `out`: its layers (for the push) and its config.
pub async fn pull_into(
    r: &Reference,
    out: &Layout,
    platform: Option<&str>,
) -> Result<(Vec<Descriptor>, Value), ImageError> {
    let mut cfg = ClientConfig::default();
    let plain = is_loopback(r.registry());
    if plain {
        cfg.protocol = ClientProtocol::HttpsExcept(vec![r.registry().to_owned()]);
    }
    let want = platform.map(str::to_owned).unwrap_or_else(|| format!("linux/{}", super::native::host_arch()));
    cfg.platform_resolver = Some(Box::new(move |entries: &[oci_client::manifest::ImageIndexEntry]| {
        entries
            .iter()
            .find(|e| e.platform.as_ref().is_some_and(|p| format!("{}/{}", p.os, p.architecture) == want))
            .map(|e| e.digest.clone())
    }));
    let c = Client::new(cfg);
    let auth = credentials(r.registry())?;
    let at = r.whole();
    let (manifest, _, config) =
        retry("cannot pull the base image", &at, || c.pull_manifest_and_config(r, &auth)).await?;
    let mut layers = Vec::new();
    for l in &manifest.layers {
        if !out.has_blob(&l.digest) {
            let mut data = Vec::new();
            let desc = oci_client::manifest::OciDescriptor { digest: l.digest.clone(), ..l.clone() };
            retry("cannot pull a base layer from", &at, || async {
                let mut buf = Vec::new();
                c.pull_blob(r, &desc, &mut buf).await.map(|()| buf)
            })
            .await
            .map(|b| data = b)?;
            if digest_of(&data) != l.digest {
                return Err(ImageError::Registry(format!("{at}: the layer {} does not match its digest", l.digest)));
            }
            out.write_blob(&data)?;
        }
        layers.push(Descriptor {
            media_type: l.media_type.clone(),
            digest: l.digest.clone(),
            size: u64::try_from(l.size).unwrap_or(0),
            annotations: None,
            platform: None,
        });
    }
    let config: Value = serde_json::from_str(&config)
        .map_err(|e| ImageError::Registry(format!("{at}: the base image's config cannot be read: {e}")))?;
    Ok((layers, config))
}
