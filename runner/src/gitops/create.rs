//! `create: true`: add a missing key, minimally formatted — new lines under the
//! deepest existing block mapping, indented like its keys, with the file's own line
//! endings. Nothing else moves.

use super::path::{DocSelector, Path, Segment};
use super::yaml_edit::{EditError, Kind, NewValue, Node, byte_offset, edit_scalar, parse, render};

/// The largest char index of any scalar inside `node`.
fn last_char(node: &Node) -> Option<usize> {
    match &node.kind {
        Kind::Scalar { end, .. } => Some(*end),
        Kind::Map(pairs) => pairs.iter().flat_map(|(k, v)| [last_char(k), last_char(v)]).flatten().max(),
        Kind::Seq(items) => items.iter().filter_map(last_char).max(),
        Kind::Alias => None,
    }
}

fn first_key_start(node: &Node) -> Option<usize> {
    match &node.kind {
        Kind::Map(pairs) => pairs.first().and_then(|(k, _)| match &k.kind {
            Kind::Scalar { start, .. } => Some(*start),
            _ => None,
        }),
        _ => None,
    }
}

/// Sets `path`, creating the missing keys at its end when needed.
pub fn set_or_create(src: &str, doc: &DocSelector, path: &Path, value: &NewValue) -> Result<(String, bool), EditError> {
    match edit_scalar(src, doc, path, value) {
        Ok((text, o)) => return Ok((text, o.changed)),
        Err(EditError::NotFound { .. }) => {}
        Err(e) => return Err(e),
    }
    let chars: Vec<char> = src.chars().collect();
    let docs = parse(src, &chars)?;
    let root = match (doc, docs.as_slice()) {
        (DocSelector::Index(i), d) => d.get(*i),
        (DocSelector::Only, [one]) => Some(one),
        (DocSelector::Object { .. }, _) | (DocSelector::Only, _) => None,
    };
    let refuse = |why: &str| EditError::Refused { path: path.to_string(), why: why.to_owned() };
    let Some(root) = root else {
        return Err(refuse("`create` needs `doc:` as an index in multi-document files"));
    };
    // The deepest existing mapping along the path.
    let mut node = root;
    let mut depth = 0;
    for seg in &path.0 {
        let Segment::Key(k) = seg else { return Err(refuse("`create` can add keys, not list items")) };
        match node.get(k) {
            Some(next) if matches!(next.kind, Kind::Map(_)) => {
                node = next;
                depth += 1;
            }
            Some(_) => return Err(refuse(&format!("`{k}` exists and is not a mapping"))),
            None => break,
        }
    }
    let missing: Vec<&str> =
        path.0[depth..].iter().filter_map(|s| if let Segment::Key(k) = s { Some(k.as_str()) } else { None }).collect();
    if missing.is_empty() {
        return Err(refuse("the path exists but is not a value"));
    }
    let (Some(first), Some(last)) = (first_key_start(node), last_char(node)) else {
        return Err(refuse("the parent mapping is empty or written in flow style (`{…}`); add the key by hand once"));
    };
    let line_start = chars[..first].iter().rposition(|c| *c == '\n').map_or(0, |i| i + 1);
    if chars[line_start..first].iter().any(|c| !c.is_whitespace()) || chars[first..last].first() == Some(&'{') {
        return Err(refuse("the parent mapping is written in flow style (`{…}`); add the key by hand"));
    }
    let indent: String = chars[line_start..first].iter().collect();
    // Nested new keys use the file's indentation width (`indent` per level so far).
    let step = " ".repeat(indent.len().checked_div(depth).map_or(2, |w| w.max(1)));
    let eol = if src.contains("\r\n") { "\r\n" } else { "\n" };
    // Insert after the line holding the mapping's last character.
    let after = chars[last..].iter().position(|c| *c == '\n').map(|p| last + p + 1);
    let mut lines = String::new();
    if after.is_none() {
        lines.push_str(eol);
    }
    for (i, key) in missing.iter().enumerate() {
        let pad = format!("{indent}{}", step.repeat(i));
        let key_text = render(&NewValue::Str((*key).to_owned()), saphyr_parser::ScalarStyle::Plain);
        if i + 1 == missing.len() {
            lines.push_str(&format!("{pad}{key_text}: {}{eol}", render(value, saphyr_parser::ScalarStyle::Plain)));
        } else {
            lines.push_str(&format!("{pad}{key_text}:{eol}"));
        }
    }
    let at = after.unwrap_or(chars.len());
    let mut text = src.to_owned();
    text.insert_str(byte_offset(&chars, at), &lines);
    // Read back through the normal path.
    let (_, o) = edit_scalar(&text, doc, path, value)
        .map_err(|e| EditError::Verify { path: path.to_string(), why: e.to_string() })?;
    if o.changed {
        return Err(EditError::Verify {
            path: path.to_string(),
            why: "the created key does not hold the value".into(),
        });
    }
    Ok((text, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(src: &str, path: &str, v: &str) -> Result<String, EditError> {
        set_or_create(src, &DocSelector::Only, &Path::parse(path).expect("path"), &NewValue::Str(v.into()))
            .map(|(t, _)| t)
    }

    #[test]
    fn adds_missing_keys_in_place() {
        let src = "image:\n  repository: shop/api # repo\nreplicas: 2\n";
        assert_eq!(
            create(src, "image.digest", "sha256:ab").expect("create"),
            "image:\n  repository: shop/api # repo\n  digest: sha256:ab\nreplicas: 2\n"
        );
        assert_eq!(
            create(src, "podAnnotations.team", "data").expect("create"),
            "image:\n  repository: shop/api # repo\nreplicas: 2\npodAnnotations:\n  team: data\n"
        );
        let crlf = "spec:\r\n    source:\r\n        path: x\r\n";
        assert_eq!(
            create(crlf, "spec.source.targetRevision", "1.20").expect("create"),
            "spec:\r\n    source:\r\n        path: x\r\n        targetRevision: \"1.20\"\r\n"
        );
        assert_eq!(
            create(crlf, "spec.destination.namespace", "shop").expect("create"),
            "spec:\r\n    source:\r\n        path: x\r\n    destination:\r\n        namespace: shop\r\n"
        );
        // Existing values are just set.
        assert_eq!(
            create(src, "replicas", "3").expect("set"),
            "image:\n  repository: shop/api # repo\nreplicas: \"3\"\n"
        );
    }

    #[test]
    fn refuses_what_it_cannot_add_minimally() {
        assert!(matches!(create("image: {tag: v1}\n", "image.digest", "x"), Err(EditError::Refused { .. })));
        assert!(matches!(
            create("images:\n  - name: a\n", "images[1].name", "b"),
            Err(EditError::NotFound { .. } | EditError::Refused { .. })
        ));
        assert!(matches!(
            create("image: v1\n", "image.tag", "v2"),
            Err(EditError::NotFound { .. } | EditError::Refused { .. })
        ));
    }
}
