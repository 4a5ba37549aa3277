//! Container images: a daemonless, reproducible OCI builder (`native.rs`), OCI image
//! layouts on disk (`layout.rs`), and pushes to OCI registries (`registry.rs`).

pub mod docker;
pub mod layout;
pub mod native;
pub mod options;
pub mod reference;
pub mod registry;

/// Why an image step failed, by exit code: bad input (2) or the registry/network (3).
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// Bad input: options, files, references. Nothing was pushed.
    #[error("{0}")]
    Input(String),
    /// The registry, the network or the credentials.
    #[error("{0}")]
    Registry(String),
}

/// `sha256:<hex>` of `bytes`.
pub fn digest_of(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    let d = sha2::Sha256::digest(bytes);
    let mut s = String::with_capacity(71);
    s.push_str("sha256:");
    for b in d {
        s.push_str(&format!("{b:02x}"));
    }
    s
}
