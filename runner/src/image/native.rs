//! The daemonless builder: an OCI image assembled from a base (`scratch`, an OCI
//! layout, or an image pulled from a registry) and one layer per `copy` entry.
//!
//! Reproducible: tar entries sorted by path, every mtime set to the build's epoch
//! (`SOURCE_DATE_EPOCH`, else the CI commit timestamp, else 0), uid/gid 0 with no
//! names, modes normalised (0755 for directories and executables, 0644 otherwise, or
//! the entry's `mode`), gzip without a timestamp at a fixed level, and JSON written in
//! a fixed order — the same inputs give the same digest anywhere, at any time.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_json::{Value, json};

use super::layout::{CONFIG, Descriptor, LAYER_GZIP, Layout, MANIFEST, Manifest};
use super::reference::ImageRef;
use super::{ImageError, digest_of};

#[derive(Debug, Clone)]
pub struct CopySpec {
    /// A file or a folder (relative to the build context).
    pub from: PathBuf,
    /// Where in the image; a trailing `/` puts a file inside that folder.
    pub to: String,
    /// The mode of copied files (directories stay 0755).
    pub mode: Option<u32>,
}

#[derive(Debug, Clone, Default)]
pub struct BuildSpec {
    /// `scratch` (None), `oci:DIR[:TAG]` or a registry reference.
    pub base: Option<ImageRef>,
    pub context: PathBuf,
    pub copies: Vec<CopySpec>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub env: IndexMap<String, String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub expose: Vec<String>,
    /// `os/arch[/variant]` (default: the base's, else linux and this machine's arch).
    pub platform: Option<String>,
    /// Names the image gets in the layout (default: `latest`).
    pub tags: Vec<String>,
    /// The OCI layout folder written.
    pub output: PathBuf,
}

/// One layer the build makes.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LayerInfo {
    pub from: String,
    pub to: String,
    pub digest: String,
    pub diff_id: String,
    pub size: u64,
    pub files: usize,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Built {
    /// The manifest's digest.
    pub digest: String,
    /// `oci:OUTPUT:TAG`, for `image.push`.
    pub image: String,
    pub layers: Vec<LayerInfo>,
}

/// The build's timestamp: `SOURCE_DATE_EPOCH`, else the CI commit's time, else 0.
pub fn epoch() -> Result<i64, ImageError> {
    let env = |n: &str| std::env::var(n).ok().filter(|v| !v.trim().is_empty());
    if let Some(v) = env("SOURCE_DATE_EPOCH") {
        return v
            .trim()
            .parse()
            .map_err(|_| ImageError::Input(format!("SOURCE_DATE_EPOCH=`{v}` is not a number of seconds")));
    }
    if let Some(v) = env("CI_COMMIT_TIMESTAMP")
        && let Ok(t) = chrono::DateTime::parse_from_rfc3339(v.trim())
    {
        return Ok(t.timestamp());
    }
    Ok(0)
}

fn rfc3339(epoch: i64) -> String {
    chrono::DateTime::from_timestamp(epoch, 0).unwrap_or_default().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub(crate) fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

/// An entry of a layer, before it is written.
enum Entry {
    Dir,
    File { path: PathBuf, mode: u32 },
    Symlink(PathBuf),
}

/// The entries one `copy` makes, keyed by their path in the image (no leading `/`).
fn entries(context: &Path, c: &CopySpec) -> Result<BTreeMap<String, Entry>, ImageError> {
    let src = if c.from.is_absolute() { c.from.clone() } else { context.join(&c.from) };
    let meta = std::fs::symlink_metadata(&src)
        .map_err(|e| ImageError::Input(format!("copy: cannot read {}: {e}", src.display())))?;
    let to = c.to.trim_start_matches('/');
    let mut out = BTreeMap::new();
    let root = if meta.is_dir() {
        to.trim_end_matches('/').to_owned()
    } else if to.is_empty() || to.ends_with('/') {
        let name = src.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        format!("{to}{name}")
    } else {
        to.to_owned()
    };
    // The folders on the way, made explicitly (0755).
    let mut parent = String::new();
    for part in root.split('/').filter(|p| !p.is_empty()) {
        if !parent.is_empty() {
            out.insert(parent.clone(), Entry::Dir);
        }
        parent = if parent.is_empty() { part.to_owned() } else { format!("{parent}/{part}") };
    }
    walk(&src, &root, c.mode, &mut out)?;
    Ok(out)
}

fn file_mode(meta: &std::fs::Metadata, given: Option<u32>) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    given.unwrap_or(if meta.permissions().mode() & 0o111 != 0 { 0o755 } else { 0o644 })
}

fn walk(src: &Path, at: &str, mode: Option<u32>, out: &mut BTreeMap<String, Entry>) -> Result<(), ImageError> {
    let meta = std::fs::symlink_metadata(src)
        .map_err(|e| ImageError::Input(format!("copy: cannot read {}: {e}", src.display())))?;
    let ft = meta.file_type();
    if ft.is_symlink() {
        let target = std::fs::read_link(src)
            .map_err(|e| ImageError::Input(format!("copy: cannot read the link {}: {e}", src.display())))?;
        out.insert(at.to_owned(), Entry::Symlink(target));
    } else if ft.is_dir() {
        if !at.is_empty() {
            out.insert(at.to_owned(), Entry::Dir);
        }
        let rd = std::fs::read_dir(src)
            .map_err(|e| ImageError::Input(format!("copy: cannot list {}: {e}", src.display())))?;
        for e in rd {
            let e = e.map_err(|e| ImageError::Input(format!("copy: cannot list {}: {e}", src.display())))?;
            let name = e.file_name().to_string_lossy().into_owned();
            let child = if at.is_empty() { name } else { format!("{at}/{name}") };
            walk(&e.path(), &child, mode, out)?;
        }
    } else if ft.is_file() {
        out.insert(at.to_owned(), Entry::File { path: src.to_owned(), mode: file_mode(&meta, mode) });
    }
    // FIFOs, sockets and devices are not copied into images.
    Ok(())
}

/// Gzip for layers: no timestamp, level 1 (like crane's default: compression is most
/// of a build's time, and level 6 saves little on binaries), pure-Rust deflate so the
/// bytes are the same on every machine.
pub(crate) fn gzip(raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut gz =
        flate2::GzBuilder::new().mtime(0).write(Vec::with_capacity(raw.len() / 2), flate2::Compression::new(1));
    gz.write_all(raw)?;
    gz.finish()
}

/// A layer made: what it is, and its gzip blob.
type Made = (LayerInfo, Vec<u8>);

/// Makes every layer, several at once (each is independent).
fn layers(spec: &BuildSpec, epoch: i64) -> Result<Vec<Made>, ImageError> {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).min(spec.copies.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut slots: Vec<Option<Result<Made, ImageError>>> = (0..spec.copies.len()).map(|_| None).collect();
    let results = std::sync::Mutex::new(&mut slots);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(c) = spec.copies.get(i) else { break };
                    let made = layer(&spec.context, c, epoch);
                    if let Ok(mut r) = results.lock() {
                        r[i] = Some(made);
                    }
                }
            });
        }
    });
    slots.into_iter().map(|s| s.unwrap_or_else(|| Err(ImageError::Input("a layer was not made".into())))).collect()
}

/// One layer: the uncompressed tar's digest (diff_id) and the gzip blob.
fn layer(context: &Path, c: &CopySpec, epoch: i64) -> Result<(LayerInfo, Vec<u8>), ImageError> {
    let entries = entries(context, c)?;
    let mut tar = tar::Builder::new(Vec::new());
    let mtime = u64::try_from(epoch).unwrap_or(0);
    let tar_err = |e: std::io::Error| ImageError::Input(format!("copy {}: {e}", c.from.display()));
    let mut files = 0;
    for (path, entry) in &entries {
        let mut h = tar::Header::new_gnu();
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(mtime);
        match entry {
            Entry::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                tar.append_data(&mut h, format!("{path}/"), std::io::empty()).map_err(tar_err)?;
            }
            Entry::File { path: src, mode } => {
                let data = std::fs::read(src)
                    .map_err(|e| ImageError::Input(format!("copy: cannot read {}: {e}", src.display())))?;
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(*mode);
                h.set_size(data.len() as u64);
                tar.append_data(&mut h, path, data.as_slice()).map_err(tar_err)?;
                files += 1;
            }
            Entry::Symlink(target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_size(0);
                tar.append_link(&mut h, path, target).map_err(tar_err)?;
            }
        }
    }
    let raw = tar.into_inner().map_err(tar_err)?;
    let diff_id = digest_of(&raw);
    let blob = gzip(&raw).map_err(tar_err)?;
    let info = LayerInfo {
        from: c.from.display().to_string(),
        to: c.to.clone(),
        digest: digest_of(&blob),
        diff_id,
        size: blob.len() as u64,
        files,
    };
    Ok((info, blob))
}

/// The base image's manifest, config and layer blobs, copied into `out`.
async fn base(
    base: Option<&ImageRef>,
    out: &Layout,
    platform: Option<&str>,
) -> Result<(Vec<Descriptor>, Value), ImageError> {
    match base {
        None => Ok((Vec::new(), json!({}))),
        Some(ImageRef::Layout { dir, tag }) => {
            let src = Layout::open(dir)?;
            let (_, m) = src.manifest(&src.resolve(tag.as_deref())?)?;
            let config = src.read_blob(&m.config.digest)?;
            for l in &m.layers {
                if !out.has_blob(&l.digest) {
                    out.write_blob(&src.read_blob(&l.digest)?)?;
                }
            }
            let config = serde_json::from_slice(&config)
                .map_err(|e| ImageError::Input(format!("the base image's config cannot be read: {e}")))?;
            Ok((m.layers, config))
        }
        Some(ImageRef::Registry(r)) => super::registry::pull_into(r, out, platform).await,
        Some(ImageRef::Docker(n)) => Err(ImageError::Input(format!(
            "base docker:{n}: a native build's base is scratch, oci:DIR[:TAG] or a registry image"
        ))),
    }
}

fn set_opt(obj: &mut serde_json::Map<String, Value>, key: &str, v: Option<Value>) {
    if let Some(v) = v {
        obj.insert(key.into(), v);
    }
}

/// The image config: the base's, with this build's settings, layers and history.
fn config(spec: &BuildSpec, mut base: Value, layers: &[LayerInfo], epoch: i64) -> Value {
    let created = rfc3339(epoch);
    let (os, arch, variant) = match &spec.platform {
        Some(p) => {
            let mut it = p.split('/');
            (it.next().map(str::to_owned), it.next().map(str::to_owned), it.next().map(str::to_owned))
        }
        None => (None, None, None),
    };
    let get = |k: &str| base.get(k).and_then(Value::as_str).map(str::to_owned);
    let os = os.or_else(|| get("os")).unwrap_or_else(|| "linux".into());
    let arch = arch.or_else(|| get("architecture")).unwrap_or_else(|| host_arch().into());
    let variant = variant.or_else(|| get("variant"));

    let mut cfg = base.get_mut("config").and_then(|c| c.as_object_mut().map(std::mem::take)).unwrap_or_default();
    // Env: the base's, with ours replacing the same names.
    let mut env: IndexMap<String, String> = cfg
        .get("Env")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(|kv| kv.split_once('=').map_or((kv.to_owned(), String::new()), |(k, v)| (k.into(), v.into())))
                .collect()
        })
        .unwrap_or_default();
    env.extend(spec.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    if !env.is_empty() {
        cfg.insert("Env".into(), json!(env.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>()));
    }
    set_opt(&mut cfg, "Entrypoint", spec.entrypoint.as_ref().map(|e| json!(e)));
    set_opt(&mut cfg, "Cmd", spec.cmd.as_ref().map(|c| json!(c)));
    set_opt(&mut cfg, "WorkingDir", spec.workdir.as_ref().map(|w| json!(w)));
    set_opt(&mut cfg, "User", spec.user.as_ref().map(|u| json!(u)));
    if !spec.expose.is_empty() {
        let mut ports = cfg.get("ExposedPorts").and_then(Value::as_object).cloned().unwrap_or_default();
        for p in &spec.expose {
            let p = if p.contains('/') { p.clone() } else { format!("{p}/tcp") };
            ports.insert(p, json!({}));
        }
        cfg.insert("ExposedPorts".into(), Value::Object(ports));
    }
    let mut labels: BTreeMap<String, String> = cfg
        .get("Labels")
        .and_then(Value::as_object)
        .map(|o| o.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned()))).collect())
        .unwrap_or_default();
    labels.extend(ci_labels(&created));
    labels.extend(spec.labels.clone());
    cfg.insert("Labels".into(), json!(labels));

    let mut diff_ids: Vec<Value> =
        base.pointer("/rootfs/diff_ids").and_then(Value::as_array).cloned().unwrap_or_default();
    diff_ids.extend(layers.iter().map(|l| json!(l.diff_id)));
    let mut history: Vec<Value> = base.get("history").and_then(Value::as_array).cloned().unwrap_or_default();
    history.extend(
        layers.iter().map(|l| json!({"created": created, "created_by": format!("shipgate copy {} {}", l.from, l.to)})),
    );

    let mut out = serde_json::Map::new();
    out.insert("created".into(), json!(created));
    out.insert("architecture".into(), json!(arch));
    out.insert("os".into(), json!(os));
    set_opt(&mut out, "variant", variant.map(|v| json!(v)));
    out.insert("config".into(), Value::Object(cfg));
    out.insert("rootfs".into(), json!({"type": "layers", "diff_ids": diff_ids}));
    out.insert("history".into(), json!(history));
    Value::Object(out)
}

/// `org.opencontainers.image.{revision,source,created}` from the CI context.
fn ci_labels(created: &str) -> BTreeMap<String, String> {
    let env = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
    let mut l = BTreeMap::from([("org.opencontainers.image.created".to_owned(), created.to_owned())]);
    if let Some(rev) = env("CI_COMMIT_SHA").or_else(|| env("GIT_COMMIT")).or_else(|| env("GITHUB_SHA")) {
        l.insert("org.opencontainers.image.revision".into(), rev);
    }
    let github = env("GITHUB_SERVER_URL").zip(env("GITHUB_REPOSITORY")).map(|(s, r)| format!("{s}/{r}"));
    if let Some(src) = env("CI_PROJECT_URL").or_else(|| env("GIT_URL")).or(github) {
        l.insert("org.opencontainers.image.source".into(), super::super::gitops::repo::redact(&src));
    }
    l
}

/// The layers a build would make, with their digests (what `plan` shows).
pub fn plan_layers(spec: &BuildSpec) -> Result<Vec<LayerInfo>, ImageError> {
    let epoch = epoch()?;
    Ok(layers(spec, epoch)?.into_iter().map(|(info, _)| info).collect())
}

/// Builds the image into `spec.output` (an OCI layout), tagged with every tag.
pub async fn build(spec: &BuildSpec) -> Result<Built, ImageError> {
    let epoch = epoch()?;
    // Layers first: a missing file fails the build before anything is written.
    let made = {
        let spec = spec.clone();
        tokio::task::spawn_blocking(move || layers(&spec, epoch))
            .await
            .map_err(|e| ImageError::Input(format!("the build stopped: {e}")))??
    };
    let out = Layout::create(&spec.output)?;
    let (mut descriptors, base_config) = base(spec.base.as_ref(), &out, spec.platform.as_deref()).await?;
    let mut infos = Vec::new();
    for (info, blob) in made {
        out.write_blob(&blob)?;
        descriptors.push(Descriptor::of(LAYER_GZIP, &blob));
        infos.push(info);
    }
    let config =
        serde_json::to_vec(&config(spec, base_config, &infos, epoch)).map_err(|e| ImageError::Input(e.to_string()))?;
    out.write_blob(&config)?;
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(MANIFEST.into()),
        config: Descriptor::of(CONFIG, &config),
        layers: descriptors,
        annotations: None,
    };
    let manifest = serde_json::to_vec(&manifest).map_err(|e| ImageError::Input(e.to_string()))?;
    out.write_blob(&manifest)?;
    let desc = Descriptor::of(MANIFEST, &manifest);
    let tags = if spec.tags.is_empty() { vec!["latest".to_owned()] } else { spec.tags.clone() };
    for t in &tags {
        out.tag(t, &desc)?;
    }
    Ok(Built { digest: desc.digest, image: format!("oci:{}:{}", spec.output.display(), tags[0]), layers: infos })
}
