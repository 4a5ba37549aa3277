//! The `image:` helper of `gitops.bump`: point every reference to one image repository
//! at a new tag or digest — container `image:` fields, kustomization `images:` entries
//! and Helm values (`repository` + `tag`/`digest`) — like `kustomize edit set image`,
//! without reformatting anything.

use saphyr_parser::ScalarStyle;

use super::yaml_edit::{EditError, Kind, NewValue, Node, Outcome, byte_offset, parse, render};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageVersion {
    Tag(String),
    Digest(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageEdit {
    /// The repository, e.g. `registry.example.com/shop/api`.
    pub name: String,
    pub version: ImageVersion,
}

/// The repository part of an image reference: without `@digest` and without a `:tag`
/// after the last `/` (a `:port` of the registry stays).
pub fn repository(reference: &str) -> &str {
    let no_digest = reference.split('@').next().unwrap_or(reference);
    match no_digest.rfind(':') {
        Some(i) if !no_digest[i..].contains('/') => &no_digest[..i],
        _ => no_digest,
    }
}

struct Target<'a> {
    node: &'a Node,
    new: String,
}

fn collect<'a>(node: &'a Node, edit: &ImageEdit, out: &mut Vec<Target<'a>>) {
    match &node.kind {
        Kind::Map(pairs) => {
            let sibling = |key: &str| pairs.iter().find(|(k, _)| k.scalar() == Some(key)).map(|(_, v)| v);
            for (k, v) in pairs {
                // Container (and other) `image: repo:tag` strings.
                if k.scalar() == Some("image")
                    && let Some(text) = v.scalar()
                    && repository(text) == edit.name
                {
                    let new = match &edit.version {
                        ImageVersion::Tag(t) => format!("{}:{t}", edit.name),
                        ImageVersion::Digest(d) => format!("{}@{d}", edit.name),
                    };
                    out.push(Target { node: v, new });
                }
            }
            // Kustomization `images:` entry (`name`) or Helm values (`repository`).
            let is_entry = sibling("name").and_then(Node::scalar) == Some(edit.name.as_str())
                && (sibling("newTag").is_some() || sibling("digest").is_some() || sibling("newName").is_some());
            let is_helm = sibling("repository").and_then(Node::scalar) == Some(edit.name.as_str());
            if is_entry || is_helm {
                let key = match (&edit.version, is_entry) {
                    (ImageVersion::Tag(_), true) => "newTag",
                    (ImageVersion::Tag(_), false) => "tag",
                    (ImageVersion::Digest(_), _) => "digest",
                };
                if let Some(v) = sibling(key) {
                    let new = match &edit.version {
                        ImageVersion::Tag(t) | ImageVersion::Digest(t) => t.clone(),
                    };
                    out.push(Target { node: v, new });
                }
            }
            for (_, v) in pairs {
                collect(v, edit, out);
            }
        }
        Kind::Seq(items) => items.iter().for_each(|i| collect(i, edit, out)),
        _ => {}
    }
}

/// Rewrites every reference to `edit.name` in `src` (all documents). Returns the new
/// text and one outcome per reference; an unchanged file comes back as it was.
pub fn set_image(src: &str, edit: &ImageEdit) -> Result<(String, Vec<Outcome>), EditError> {
    let chars: Vec<char> = src.chars().collect();
    let docs = parse(src, &chars)?;
    let mut targets = Vec::new();
    for d in &docs {
        collect(d, edit, &mut targets);
    }
    let refuse = |why: String| EditError::Refused { path: format!("image {}", edit.name), why };
    let mut spans = Vec::new();
    let mut outcomes = Vec::new();
    for t in &targets {
        let Kind::Scalar { value, style, start, end } = &t.node.kind else { continue };
        if t.node.anchored {
            return Err(refuse(format!("line {}: the value carries an anchor (`&name`)", t.node.line)));
        }
        if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded) || chars[*start..*end].contains(&'\n') {
            return Err(refuse(format!("line {}: the value is a block or multi-line scalar", t.node.line)));
        }
        let changed = *value != t.new;
        outcomes.push(Outcome { old: value.clone(), new: t.new.clone(), line: t.node.line, changed });
        if changed {
            spans.push((*start, *end, render(&NewValue::Str(t.new.clone()), *style)));
        }
    }
    if spans.is_empty() {
        return Ok((src.to_owned(), outcomes));
    }
    spans.sort_by_key(|s| std::cmp::Reverse(s.0));
    spans.dedup_by_key(|s| s.0);
    let mut text = src.to_owned();
    for (start, end, rendered) in spans {
        text.replace_range(byte_offset(&chars, start)..byte_offset(&chars, end), &rendered);
    }
    // Read back: every reference now holds the new value.
    let new_chars: Vec<char> = text.chars().collect();
    let new_docs = parse(&text, &new_chars)
        .map_err(|e| EditError::Verify { path: format!("image {}", edit.name), why: e.to_string() })?;
    let mut again = Vec::new();
    for d in &new_docs {
        collect(d, edit, &mut again);
    }
    if again.len() != targets.len() || again.iter().any(|t| t.node.scalar() != Some(t.new.as_str())) {
        return Err(EditError::Verify {
            path: format!("image {}", edit.name),
            why: "a reference did not read back as intended".into(),
        });
    }
    Ok((text, outcomes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(name: &str, t: &str) -> ImageEdit {
        ImageEdit { name: name.into(), version: ImageVersion::Tag(t.into()) }
    }

    #[test]
    fn repository_of_references() {
        assert_eq!(repository("shop/api:1.0"), "shop/api");
        assert_eq!(repository("registry:5000/shop/api"), "registry:5000/shop/api");
        assert_eq!(repository("registry:5000/shop/api:v2@sha256:ab"), "registry:5000/shop/api");
        assert_eq!(repository("shop/api@sha256:ab"), "shop/api");
    }

    #[test]
    fn rewrites_containers_kustomizations_and_helm_values() {
        let src = "# deploy\nspec:\n  template:\n    spec:\n      initContainers:\n        - name: migrate\n          image: reg:5000/shop/api:1.0 # same image\n      containers:\n        - name: api\n          image: \"reg:5000/shop/api:1.0\"\n        - name: proxy\n          image: envoy:1.29\n---\nimages:\n  - name: reg:5000/shop/api\n    newTag: '1.0'\n---\napi:\n  image:\n    repository: reg:5000/shop/api\n    tag: 1.0.0   # helm\n";
        let (out, o) = set_image(src, &tag("reg:5000/shop/api", "1.1")).expect("edit");
        let expected = src
            .replace("image: reg:5000/shop/api:1.0 #", "image: reg:5000/shop/api:1.1 #")
            .replace("image: \"reg:5000/shop/api:1.0\"", "image: \"reg:5000/shop/api:1.1\"")
            .replace("newTag: '1.0'", "newTag: '1.1'")
            .replace("tag: 1.0.0   # helm", "tag: \"1.1\"   # helm");
        assert_eq!(out, expected);
        assert_eq!(o.len(), 4);
        assert!(out.contains("image: envoy:1.29"));
        let (same, o) = set_image(&out, &tag("reg:5000/shop/api", "1.1")).expect("no-op");
        assert_eq!(same, out);
        assert!(o.iter().all(|x| !x.changed));
    }

    #[test]
    fn digests_and_refusals() {
        let src = "containers:\n  - image: shop/api:1.0\n";
        let d = ImageEdit { name: "shop/api".into(), version: ImageVersion::Digest("sha256:00ff".into()) };
        assert_eq!(set_image(src, &d).expect("digest").0, "containers:\n  - image: shop/api@sha256:00ff\n");
        let anchored = "a:\n  image: &i shop/api:1\nb:\n  image: *i\n";
        assert!(matches!(set_image(anchored, &tag("shop/api", "2")), Err(EditError::Refused { .. })));
    }
}
