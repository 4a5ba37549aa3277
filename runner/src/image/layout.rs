//! OCI image layouts (`oci-layout`, `index.json`, `blobs/sha256/…`): what the native
//! builder writes, what `image.push` reads, and the `oci:DIR[:tag]` destination.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{ImageError, digest_of};

pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<serde_json::Value>,
}

impl Descriptor {
    pub fn of(media_type: &str, bytes: &[u8]) -> Descriptor {
        Descriptor {
            media_type: media_type.into(),
            digest: digest_of(bytes),
            size: bytes.len() as u64,
            annotations: None,
            platform: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Index {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    media_type: Option<String>,
    manifests: Vec<Descriptor>,
}

#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

fn io(what: &str, path: &Path) -> impl Fn(std::io::Error) -> ImageError {
    let msg = format!("{what} {}", path.display());
    move |e| ImageError::Input(format!("{msg}: {e}"))
}

impl Layout {
    /// Opens the layout at `root`, creating an empty one if the folder has none.
    pub fn create(root: &Path) -> Result<Layout, ImageError> {
        std::fs::create_dir_all(root.join("blobs/sha256")).map_err(io("cannot create", root))?;
        let layout = Layout { root: root.to_owned() };
        if !root.join("oci-layout").exists() {
            write_atomic(&root.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        }
        if !root.join("index.json").exists() {
            layout.write_index(&Index { schema_version: 2, media_type: Some(INDEX.into()), manifests: Vec::new() })?;
        }
        Ok(layout)
    }

    /// Opens an existing layout.
    pub fn open(root: &Path) -> Result<Layout, ImageError> {
        if !root.join("oci-layout").is_file() || !root.join("index.json").is_file() {
            return Err(ImageError::Input(format!(
                "{} is not an OCI image layout (no oci-layout / index.json)",
                root.display()
            )));
        }
        Ok(Layout { root: root.to_owned() })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn blob_path(&self, digest: &str) -> Result<PathBuf, ImageError> {
        let hex = digest
            .strip_prefix("sha256:")
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| ImageError::Input(format!("`{digest}` is not a sha256 digest")))?;
        Ok(self.root.join("blobs/sha256").join(hex))
    }

    pub fn has_blob(&self, digest: &str) -> bool {
        self.blob_path(digest).is_ok_and(|p| p.is_file())
    }

    /// Writes a blob (atomically; a blob already there is left alone).
    pub fn write_blob(&self, bytes: &[u8]) -> Result<String, ImageError> {
        let digest = digest_of(bytes);
        let path = self.blob_path(&digest)?;
        if !path.is_file() {
            write_atomic(&path, bytes)?;
        }
        Ok(digest)
    }

    /// Reads a blob and checks its digest (a corrupted layout is never pushed).
    pub fn read_blob(&self, digest: &str) -> Result<Vec<u8>, ImageError> {
        let path = self.blob_path(digest)?;
        let bytes = std::fs::read(&path).map_err(io("cannot read the blob", &path))?;
        if digest_of(&bytes) != digest {
            return Err(ImageError::Input(format!("the blob {} does not match its digest {digest}", path.display())));
        }
        Ok(bytes)
    }

    fn read_index(&self) -> Result<Index, ImageError> {
        let path = self.root.join("index.json");
        let text = std::fs::read(&path).map_err(io("cannot read", &path))?;
        serde_json::from_slice(&text).map_err(|e| ImageError::Input(format!("{}: {e}", path.display())))
    }

    fn write_index(&self, index: &Index) -> Result<(), ImageError> {
        let bytes = serde_json::to_vec(index).map_err(|e| ImageError::Input(e.to_string()))?;
        write_atomic(&self.root.join("index.json"), &bytes)
    }

    /// Points `tag` at `manifest` (replacing what the tag pointed at).
    pub fn tag(&self, tag: &str, manifest: &Descriptor) -> Result<(), ImageError> {
        let mut index = self.read_index()?;
        index
            .manifests
            .retain(|m| m.annotations.as_ref().and_then(|a| a.get(REF_NAME)).map(String::as_str) != Some(tag));
        let mut d = manifest.clone();
        d.annotations = Some(BTreeMap::from([(REF_NAME.to_owned(), tag.to_owned())]));
        index.manifests.push(d);
        self.write_index(&index)
    }

    /// The manifest `tag` names, or the only one when no tag is given.
    pub fn resolve(&self, tag: Option<&str>) -> Result<Descriptor, ImageError> {
        let index = self.read_index()?;
        let name = |m: &Descriptor| m.annotations.as_ref().and_then(|a| a.get(REF_NAME)).cloned();
        let found = match tag {
            Some(t) => index.manifests.iter().find(|m| name(m).as_deref() == Some(t)),
            None if index.manifests.len() == 1 => index.manifests.first(),
            None => None,
        };
        found.cloned().ok_or_else(|| {
            let tags: Vec<String> = index.manifests.iter().filter_map(name).collect();
            ImageError::Input(match tag {
                Some(t) => format!("no image tagged `{t}` in {} (it has: {})", self.root.display(), tags.join(", ")),
                None => format!(
                    "{} holds {} images; name one as oci:{}:TAG (tags: {})",
                    self.root.display(),
                    index.manifests.len(),
                    self.root.display(),
                    tags.join(", ")
                ),
            })
        })
    }

    /// The manifest's bytes and parsed form.
    pub fn manifest(&self, d: &Descriptor) -> Result<(Vec<u8>, Manifest), ImageError> {
        let bytes = self.read_blob(&d.digest)?;
        let m = serde_json::from_slice(&bytes)
            .map_err(|e| ImageError::Input(format!("the manifest {} cannot be read: {e}", d.digest)))?;
        Ok((bytes, m))
    }
}

/// Writes via a temporary file and a rename: a reader never sees half a file.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ImageError> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(io("cannot write", &tmp))?;
    std::fs::rename(&tmp, path).map_err(io("cannot write", path))
}
