//! Image references: `oci:DIR[:TAG]` (an OCI image layout on disk) or a registry
//! reference `[REGISTRY/]REPOSITORY[:TAG][@DIGEST]`.

use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRef {
    Layout {
        dir: PathBuf,
        tag: Option<String>,
    },
    Registry(oci_client::Reference),
    /// `docker:NAME[:TAG]` or `docker:sha256:…`: an image in the Docker Engine.
    Docker(String),
}

impl ImageRef {
    pub fn parse(s: &str) -> Result<ImageRef, String> {
        let s = s.trim();
        if let Some(rest) = s.strip_prefix("oci:") {
            // The tag is after the last `:` that follows the last `/`.
            let (dir, tag) = match rest.rsplit_once(':') {
                Some((d, t)) if !t.contains('/') && !d.is_empty() => (d, Some(t.to_owned())),
                _ => (rest, None),
            };
            if dir.is_empty() {
                return Err(format!("`{s}` names no folder; write oci:DIR[:TAG]"));
            }
            if let Some(t) = &tag {
                check_tag(t).map_err(|e| format!("`{s}`: {e}"))?;
            }
            return Ok(ImageRef::Layout { dir: dir.into(), tag });
        }
        if let Some(name) = s.strip_prefix("docker:") {
            if name.is_empty() {
                return Err(format!("`{s}` names no image; write docker:NAME[:TAG]"));
            }
            return Ok(ImageRef::Docker(name.to_owned()));
        }
        if s.is_empty() {
            return Err("an empty image reference".into());
        }
        oci_client::Reference::try_from(s).map(ImageRef::Registry).map_err(|e| {
            format!(
                "`{s}` is not an image reference ({e}); expected REGISTRY/REPOSITORY[:TAG][@sha256:…] or oci:DIR[:TAG]"
            )
        })
    }

    /// How it is written back (`oci:DIR:TAG`, `registry/repo:tag`).
    pub fn display(&self) -> String {
        match self {
            ImageRef::Layout { dir, tag: Some(t) } => format!("oci:{}:{t}", dir.display()),
            ImageRef::Layout { dir, tag: None } => format!("oci:{}", dir.display()),
            ImageRef::Registry(r) => r.whole(),
            ImageRef::Docker(n) => format!("docker:{n}"),
        }
    }
}

fn check_tag(t: &str) -> Result<(), String> {
    let ok = !t.is_empty()
        && t.len() <= 128
        && t.chars().next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && t.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok { Ok(()) } else { Err(format!("`{t}` is not a valid tag ([A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})")) }
}

/// Registries on loopback may be spoken to over plain HTTP without asking.
pub fn is_loopback(registry: &str) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        registry.rsplit_once(':').map_or(registry, |(h, _)| h)
    };
    host == "localhost" || host == "::1" || host.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_registry_references() {
        assert_eq!(
            ImageRef::parse("oci:target/img:v1"),
            Ok(ImageRef::Layout { dir: "target/img".into(), tag: Some("v1".into()) })
        );
        assert_eq!(ImageRef::parse("oci:/tmp/a:b/img"), Ok(ImageRef::Layout { dir: "/tmp/a:b/img".into(), tag: None }));
        assert!(ImageRef::parse("oci:img:bad tag").is_err());
        let ImageRef::Registry(r) = ImageRef::parse("127.0.0.1:5000/shop/api:1.2").expect("parses") else {
            panic!("not a registry reference")
        };
        assert_eq!((r.registry(), r.repository(), r.tag()), ("127.0.0.1:5000", "shop/api", Some("1.2")));
        let err = ImageRef::parse("reg.example.com/Shop/API:1").err().unwrap_or_default();
        assert!(err.contains("is not an image reference"), "{err}");
        assert!(is_loopback("127.0.0.1:5000") && is_loopback("localhost:5000") && is_loopback("[::1]:5000"));
        assert!(!is_loopback("registry.example.com") && !is_loopback("10.0.0.1:5000"));
    }
}
