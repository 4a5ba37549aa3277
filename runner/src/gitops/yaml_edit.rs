//! Format-preserving YAML edits: only the bytes of the changed scalar change. Comments,
//! blank lines, key order, indentation, quote style, anchors, `---` separators, flow
//! style and CRLF line endings stay byte for byte. A value YAML would misread (`1.20`,
//! `on`, `0x1F`, `2024-01-01`) is quoted. Block scalars, aliases and anchored values
//! are refused, never rewritten. After the edit the text is parsed again and the new
//! value confirmed.

use saphyr_parser::{Event, Parser, ScalarStyle};

use super::path::{DocSelector, Path, Segment};
use crate::diag::suggest;

/// The value to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewValue {
    Str(String),
    Int(i64),
    Bool(bool),
}

impl NewValue {
    fn text(&self) -> String {
        match self {
            NewValue::Str(s) => s.clone(),
            NewValue::Int(i) => i.to_string(),
            NewValue::Bool(b) => b.to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("not valid YAML: {0}")]
    Parse(String),
    #[error("{0}")]
    Document(String),
    #[error("`{path}` not found: {detail}")]
    NotFound { path: String, detail: String },
    #[error("`{path}` cannot be edited: {why}")]
    Refused { path: String, why: String },
    #[error("the edit of `{path}` did not read back as intended: {why}")]
    Verify { path: String, why: String },
}

/// What an edit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub old: String,
    pub new: String,
    /// 1-based line of the value.
    pub line: usize,
    pub changed: bool,
}

#[derive(Debug, Clone)]
pub(super) enum Kind {
    Map(Vec<(Node, Node)>),
    Seq(Vec<Node>),
    Scalar { value: String, style: ScalarStyle, start: usize, end: usize },
    Alias,
}

#[derive(Debug, Clone)]
pub(super) struct Node {
    pub(super) kind: Kind,
    pub(super) anchored: bool,
    pub(super) line: usize,
}

impl Node {
    pub(super) fn scalar(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    pub(super) fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(pairs) => pairs.iter().find(|(k, _)| k.scalar() == Some(key)).map(|(_, v)| v),
            _ => None,
        }
    }

    fn describe(&self) -> &'static str {
        match self.kind {
            Kind::Map(_) => "a mapping",
            Kind::Seq(_) => "a list",
            Kind::Scalar { .. } => "a value",
            Kind::Alias => "an alias",
        }
    }
}

/// The byte offset of char index `ci` (parser spans count chars, strings index bytes).
pub(super) fn byte_offset(chars: &[char], ci: usize) -> usize {
    chars[..ci].iter().map(|c| c.len_utf8()).sum()
}

/// The end (exclusive, in chars) of a quoted scalar starting at `start`: the parser's
/// span for single-quoted scalars runs on over trailing spaces and comments.
fn quoted_end(chars: &[char], start: usize, style: ScalarStyle) -> Option<usize> {
    let quote = chars.get(start).copied()?;
    let mut i = start + 1;
    while i < chars.len() {
        match (style, chars[i]) {
            (ScalarStyle::SingleQuoted, '\'') if chars.get(i + 1) == Some(&'\'') => i += 2,
            (ScalarStyle::DoubleQuoted, '\\') => i += 2,
            (_, c) if c == quote => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

enum Frame {
    Map(Vec<(Node, Node)>, Option<Node>, bool, usize),
    Seq(Vec<Node>, bool, usize),
}

pub(super) fn parse(src: &str, chars: &[char]) -> Result<Vec<Node>, EditError> {
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    for ev in Parser::new_from_str(src) {
        let (ev, span) = ev.map_err(|e| EditError::Parse(format!("line {}: {}", e.marker().line(), e.info())))?;
        let line = span.start.line();
        let done = match ev {
            Event::Scalar(value, style, anchor, _) => {
                let start = span.start.index();
                let end = match style {
                    ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => {
                        quoted_end(chars, start, style).unwrap_or(span.end.index())
                    }
                    _ => span.end.index(),
                };
                Some(Node {
                    kind: Kind::Scalar { value: value.into_owned(), style, start, end },
                    anchored: anchor != 0,
                    line,
                })
            }
            Event::Alias(_) => Some(Node { kind: Kind::Alias, anchored: false, line }),
            Event::MappingStart(anchor, _) => {
                stack.push(Frame::Map(Vec::new(), None, anchor != 0, line));
                None
            }
            Event::SequenceStart(anchor, _) => {
                stack.push(Frame::Seq(Vec::new(), anchor != 0, line));
                None
            }
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(pairs, _, anchored, line)) => Some(Node { kind: Kind::Map(pairs), anchored, line }),
                _ => return Err(EditError::Parse("unbalanced mapping".into())),
            },
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(items, anchored, line)) => Some(Node { kind: Kind::Seq(items), anchored, line }),
                _ => return Err(EditError::Parse("unbalanced list".into())),
            },
            _ => None,
        };
        let Some(node) = done else { continue };
        match stack.last_mut() {
            None => docs.push(node),
            Some(Frame::Seq(items, ..)) => items.push(node),
            Some(Frame::Map(pairs, key, ..)) => match key.take() {
                None => *key = Some(node),
                Some(k) => pairs.push((k, node)),
            },
        }
    }
    Ok(docs)
}

fn select<'a>(docs: &'a [Node], sel: &DocSelector) -> Result<&'a Node, EditError> {
    match sel {
        DocSelector::Only => match docs {
            [one] => Ok(one),
            [] => Err(EditError::Document("the file has no YAML document".into())),
            _ => Err(EditError::Document(format!(
                "the file has {} documents; choose one with `doc:` (an index, or `{{kind: Deployment, name: api}}`)",
                docs.len()
            ))),
        },
        DocSelector::Index(i) => docs
            .get(*i)
            .ok_or_else(|| EditError::Document(format!("document {i} does not exist (the file has {})", docs.len()))),
        DocSelector::Object { kind, name } => {
            let hits: Vec<&Node> = docs
                .iter()
                .filter(|d| kind.as_deref().is_none_or(|k| d.get("kind").and_then(Node::scalar) == Some(k)))
                .filter(|d| {
                    name.as_deref()
                        .is_none_or(|n| d.get("metadata").and_then(|m| m.get("name")).and_then(Node::scalar) == Some(n))
                })
                .collect();
            match hits.as_slice() {
                [one] => Ok(one),
                [] => Err(EditError::Document(format!("no document with kind {kind:?} and name {name:?}"))),
                _ => {
                    Err(EditError::Document(format!("{} documents match kind {kind:?} and name {name:?}", hits.len())))
                }
            }
        }
    }
}

fn find<'a>(root: &'a Node, path: &Path) -> Result<&'a Node, EditError> {
    let mut node = root;
    for (i, seg) in path.0.iter().enumerate() {
        let here = Path(path.0[..i].to_vec()).to_string();
        let nf = |detail: String| EditError::NotFound { path: path.to_string(), detail };
        node = match (seg, &node.kind) {
            (Segment::Key(k), Kind::Map(pairs)) => match pairs.iter().find(|(key, _)| key.scalar() == Some(k)) {
                Some((_, v)) => v,
                None => {
                    let keys: Vec<&str> = pairs.iter().filter_map(|(k, _)| k.scalar()).collect();
                    let hint = match suggest::closest(k, keys.iter().copied()) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!("keys there: {}", keys.join(", ")),
                    };
                    let at = if here.is_empty() { "the top level".to_owned() } else { format!("`{here}`") };
                    return Err(nf(format!("no key `{k}` in {at}; {hint}")));
                }
            },
            (Segment::Index(n), Kind::Seq(items)) => {
                items.get(*n).ok_or_else(|| nf(format!("`{here}` has {} items, no index {n}", items.len())))?
            }
            (Segment::Match { field, value }, Kind::Seq(items)) => {
                let hits: Vec<&Node> =
                    items.iter().filter(|it| it.get(field).and_then(Node::scalar) == Some(value.as_str())).collect();
                match hits.as_slice() {
                    [one] => one,
                    [] => return Err(nf(format!("no item of `{here}` has `{field}: {value}`"))),
                    _ => {
                        return Err(nf(format!(
                            "{} items of `{here}` have `{field}: {value}`; the match must be unique",
                            hits.len()
                        )));
                    }
                }
            }
            (_, Kind::Alias) => {
                return Err(EditError::Refused {
                    path: path.to_string(),
                    why: format!("`{here}` is an alias (`*name`); edit the anchored original"),
                });
            }
            (seg, _) => {
                let want = if matches!(seg, Segment::Key(_)) { "a mapping" } else { "a list" };
                return Err(nf(format!("`{here}` is {}, not {want}", node.describe())));
            }
        };
    }
    Ok(node)
}

/// A value that reads back as the same string when written plain.
fn plain_safe(s: &str) -> bool {
    if s.is_empty() || s.trim() != s || s.contains(['\n', '\r', '\t']) || s.chars().any(char::is_control) {
        return false;
    }
    let first = s.chars().next().unwrap_or(' ');
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') || s.contains([',', '[', ']', '{', '}']) {
        return false;
    }
    if !matches!(crate::yaml::plain_scalar(s), crate::yaml::Plain::Str) {
        return false;
    }
    // YAML 1.1 readers (many tools still are) take these as booleans, dates or numbers.
    let lower = s.to_ascii_lowercase();
    if ["y", "n", "yes", "no", "on", "off"].contains(&lower.as_str()) {
        return false;
    }
    let b = s.as_bytes();
    let date = b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-';
    // Numbers in YAML 1.1 too: `1_000`, `1.5e3`, sexagesimal `1:20`. (`1.4.2` is a string
    // everywhere and stays plain.)
    let unscored = s.replace('_', "");
    let number = unscored.parse::<f64>().is_ok() && s.chars().any(|c| c.is_ascii_digit());
    let sexagesimal = s.contains(':') && s.split(':').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    !date && !number && !sexagesimal
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub(super) fn render(value: &NewValue, style: ScalarStyle) -> String {
    match value {
        NewValue::Int(_) | NewValue::Bool(_) => value.text(),
        NewValue::Str(s) => match style {
            ScalarStyle::Plain if plain_safe(s) => s.clone(),
            ScalarStyle::SingleQuoted if !s.chars().any(char::is_control) => format!("'{}'", s.replace('\'', "''")),
            _ => double_quoted(s),
        },
    }
}

/// Sets the scalar at `path` in the document chosen by `doc` and returns the new text.
/// Only that scalar's bytes change; with no change the text is returned as it was.
pub fn edit_scalar(
    src: &str,
    doc: &DocSelector,
    path: &Path,
    value: &NewValue,
) -> Result<(String, Outcome), EditError> {
    let chars: Vec<char> = src.chars().collect();
    let docs = parse(src, &chars)?;
    let target = find(select(&docs, doc)?, path)?;
    let refuse = |why: &str| EditError::Refused { path: path.to_string(), why: why.to_owned() };
    let Kind::Scalar { value: old, style, start, end } = &target.kind else {
        return Err(refuse(&format!("it is {}, not a single value", target.describe())));
    };
    if target.anchored {
        return Err(refuse("it carries an anchor (`&name`) and may be used elsewhere through aliases"));
    }
    if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded) {
        return Err(refuse("it is a block scalar (`|` or `>`); shipgate does not rewrite block scalars"));
    }
    if chars[*start..*end].contains(&'\n') {
        return Err(refuse("the value spans several lines"));
    }
    // An empty value (`tag:`) has no bytes of its own to replace; the parser places it
    // at the start of its line, so writing there would change the key (found by the
    // fuzz target).
    if start == end {
        return Err(refuse(
            "it is empty (nothing is written after the colon); write a placeholder value such as `\"\"` first",
        ));
    }
    let outcome = |new: String, changed| Outcome { old: old.clone(), new, line: target.line, changed };
    let unchanged = match value {
        NewValue::Str(s) => old == s && (*style != ScalarStyle::Plain || plain_safe(s)),
        _ => *old == value.text() && *style == ScalarStyle::Plain,
    };
    if unchanged {
        return Ok((src.to_owned(), outcome(value.text(), false)));
    }
    let (b0, b1) = (byte_offset(&chars, *start), byte_offset(&chars, *end));
    let mut text = String::with_capacity(src.len() + 16);
    text.push_str(&src[..b0]);
    text.push_str(&render(value, *style));
    text.push_str(&src[b1..]);

    // Read it back: same documents, the path holds the new value.
    let verify = |why: String| EditError::Verify { path: path.to_string(), why };
    let new_chars: Vec<char> = text.chars().collect();
    let new_docs = parse(&text, &new_chars).map_err(|e| verify(e.to_string()))?;
    if new_docs.len() != docs.len() {
        return Err(verify("the number of documents changed".into()));
    }
    let got =
        find(select(&new_docs, doc).map_err(|e| verify(e.to_string()))?, path).map_err(|e| verify(e.to_string()))?;
    if got.scalar() != Some(value.text().as_str()) {
        return Err(verify(format!("read back {:?}", got.scalar())));
    }
    Ok((text, outcome(value.text(), true)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(src: &str, path: &str, value: &str) -> Result<String, EditError> {
        edit_scalar(src, &DocSelector::Only, &Path::parse(path).expect("path"), &NewValue::Str(value.into()))
            .map(|(t, _)| t)
    }

    #[test]
    fn empty_values_are_refused_not_misplaced() {
        // Found by the fuzz target: `:` + CR, path `~`, value `~` rewrote the key.
        for (src, path) in [(":\r", "~"), ("tag:\n", "tag"), ("a: 1\ntag:\r\n", "tag")] {
            let err = set(src, path, "~").map_err(|e| e.to_string());
            assert!(err.as_ref().is_err_and(|e| e.contains("it is empty")), "{src:?}: {err:?}");
        }
        assert_eq!(set("tag: \"\"\n", "tag", "v2").expect("edit"), "tag: \"v2\"\n");
    }

    #[test]
    fn only_the_scalar_changes() {
        let src = "# top\nimage:\n  repository: shop/api   # the repo\n  tag: 'v1'  # pinned\r\n\nreplicas: 2\n";
        assert_eq!(
            set(src, "image.tag", "v2").expect("edit"),
            "# top\nimage:\n  repository: shop/api   # the repo\n  tag: 'v2'  # pinned\r\n\nreplicas: 2\n"
        );
        assert_eq!(set(src, "image.repository", "shop/web").expect("edit"), src.replace("shop/api", "shop/web"));
    }

    #[test]
    fn values_yaml_would_misread_are_quoted() {
        for v in ["1.20", "on", "0x1F", "2024-01-01", "123", "true", "null", "", "a: b", "#x", "yes"] {
            let out = set("tag: v1\n", "tag", v).expect("edit");
            assert_eq!(out, format!("tag: {}\n", double_quoted(v)), "{v}");
        }
        assert_eq!(set("tag: v1\n", "tag", "v1.2.3").expect("edit"), "tag: v1.2.3\n");
        assert_eq!(set("tag: 'v1'\n", "tag", "it's").expect("edit"), "tag: 'it''s'\n");
        assert_eq!(set("tag: \"v1\"\n", "tag", "a\"b").expect("edit"), "tag: \"a\\\"b\"\n");
    }

    #[test]
    fn refuses_what_it_cannot_rewrite_safely() {
        let src = "base: &b v1\nother: *b\nnotes: |\n  text\nlist: [a, b]\n";
        assert!(matches!(set(src, "base", "v2"), Err(EditError::Refused { .. })));
        assert!(matches!(set(src, "other", "v2"), Err(EditError::Refused { .. })));
        assert!(matches!(set(src, "notes", "x"), Err(EditError::Refused { .. })));
        assert!(matches!(set(src, "list", "x"), Err(EditError::Refused { .. })));
        let e = set(src, "bsae", "x").expect_err("typo");
        assert!(e.to_string().contains("did you mean `base`?"), "{e}");
    }

    #[test]
    fn selects_documents_and_list_items() {
        let src = "kind: Service\nmetadata: {name: api}\n---\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  template:\n    spec:\n      containers:\n        - name: sidecar\n          image: envoy:1\n        - name: api\n          image: \"shop/api:1.0\" # app\n";
        let sel = DocSelector::Object { kind: Some("Deployment".into()), name: Some("api".into()) };
        let p = Path::parse("spec.template.spec.containers[name=api].image").expect("path");
        let (out, o) = edit_scalar(src, &sel, &p, &NewValue::Str("shop/api:1.1".into())).expect("edit");
        assert_eq!(out, src.replace("\"shop/api:1.0\"", "\"shop/api:1.1\""));
        assert_eq!((o.old.as_str(), o.line, o.changed), ("shop/api:1.0", 14, true));
        assert!(matches!(
            edit_scalar(src, &DocSelector::Only, &p, &NewValue::Str("x".into())),
            Err(EditError::Document(_))
        ));
        let (same, o) = edit_scalar(src, &sel, &p, &NewValue::Str("shop/api:1.0".into())).expect("no-op");
        assert_eq!((same.as_str(), o.changed), (src, false));
    }

    #[test]
    fn unicode_and_flow_collections() {
        let src = "labels: {team: données, tier: 'back'}\nimages: [ {name: a, newTag: v1} ]\n";
        assert_eq!(set(src, "labels.team", "réseau").expect("edit"), src.replace("données", "réseau"));
        assert_eq!(set(src, "images[name=a].newTag", "v2").expect("edit"), src.replace("v1", "v2"));
        assert_eq!(set(src, "labels.tier", "front").expect("edit"), src.replace("'back'", "'front'"));
    }

    mod prop {
        use proptest::prelude::*;

        use super::super::*;

        fn doc() -> impl Strategy<Value = String> {
            let line = prop_oneof![
                Just("image:\n".to_owned()),
                Just("  tag: v1  # c\n".to_owned()),
                Just("  tag: 'v1'\r\n".to_owned()),
                Just("tag: \"x\"\n".to_owned()),
                Just("list: [a, 'b', {tag: c}]\n".to_owned()),
                Just("- tag: d\n".to_owned()),
                Just("base: &a v\nref: *a\n".to_owned()),
                Just("notes: |\n  t\n".to_owned()),
                Just("---\n".to_owned()),
                Just("é: ü # ß\n".to_owned()),
                "[ -~]{0,12}\n",
            ];
            proptest::collection::vec(line, 1..8).prop_map(|v| v.concat())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]
            #[test]
            fn edits_are_exact_or_refused(src in doc(), path in prop_oneof![Just("image.tag"), Just("tag"), Just("list[1]"), Just("list[2].tag"), Just("[0].tag"), Just("é"), Just("ref"), Just("notes")], value in "[ -~]{0,8}") {
                let Ok(p) = Path::parse(path) else { return Ok(()) };
                for sel in [DocSelector::Only, DocSelector::Index(0), DocSelector::Index(1)] {
                    if let Ok((out, o)) = edit_scalar(&src, &sel, &p, &NewValue::Str(value.clone())) {
                        if !o.changed {
                            prop_assert_eq!(&out, &src);
                            continue;
                        }
                        // One contiguous region changed; everything around it is identical.
                        let prefix = src.bytes().zip(out.bytes()).take_while(|(a, b)| a == b).count();
                        let suffix = src.bytes().rev().zip(out.bytes().rev()).take_while(|(a, b)| a == b).count();
                        let changed_old = src.len().saturating_sub(prefix + suffix);
                        let changed_bytes = src.as_bytes().get(prefix..prefix + changed_old).unwrap_or_default();
                        prop_assert!(!changed_bytes.contains(&b'\n'), "a line break changed: {:?} -> {:?}", src, out);
                        let (again, o2) = edit_scalar(&out, &sel, &p, &NewValue::Str(value.clone())).expect("re-edit");
                        prop_assert!(!o2.changed);
                        prop_assert_eq!(again, out);
                    }
                }
            }
        }
    }
}
