//! Policy inputs: files, folders (recursive) and `-` (stdin), YAML (multi-document)
//! and JSON, each document kept with its source positions.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::PolicyError;
use super::detect::InputType;
use crate::yaml::{Node, NodeKind, Span};

/// A file (or stdin) the documents came from.
#[derive(Debug)]
pub struct Source {
    /// The path as given (or `-` for stdin), for messages and reports.
    pub name: String,
    pub text: Arc<str>,
}

/// One document to check.
#[derive(Debug, Clone)]
pub struct Document {
    pub source: Arc<Source>,
    /// 0-based index of the document in its file.
    pub index: usize,
    /// The document's tree, for mapping a finding's field back to line:col. For a
    /// document derived from a Terraform plan this is the resource's subtree.
    pub node: Node,
    /// The input the policies see.
    pub value: serde_json::Value,
    pub input_type: InputType,
    /// Where a derived document came from, e.g. `google_project_iam_member.ci`.
    pub origin: Option<String>,
}

impl Document {
    /// `kind/namespace/name` for Kubernetes, the origin or a principal otherwise.
    pub fn resource(&self) -> String {
        if let Some(o) = &self.origin {
            return o.clone();
        }
        let v = &self.value;
        match self.input_type {
            InputType::Kubernetes => {
                let kind = v["kind"].as_str().unwrap_or("?");
                let name = v["metadata"]["name"].as_str().unwrap_or("?");
                match v["metadata"]["namespace"].as_str() {
                    Some(ns) => format!("{kind}/{ns}/{name}"),
                    None => format!("{kind}/{name}"),
                }
            }
            InputType::GcpCustomRole => {
                format!("role {}", v["name"].as_str().or(v["title"].as_str()).unwrap_or("(unnamed)"))
            }
            _ => format!("document {}", self.index + 1),
        }
    }

    /// The span of the node at `path` (keys and indexes); the deepest node that
    /// exists when the path goes further than the document.
    pub fn locate(&self, path: &[serde_json::Value]) -> Span {
        let mut node = &self.node;
        for step in path {
            let next = match (&node.kind, step) {
                (NodeKind::Map(pairs), serde_json::Value::String(k)) => {
                    pairs.iter().find(|(key, _)| key.as_str() == Some(k)).map(|(key, v)| {
                        // A null value has no text of its own: point at its key.
                        if matches!(v.kind, NodeKind::Null) { key } else { v }
                    })
                }
                (NodeKind::Seq(items), serde_json::Value::Number(n)) => {
                    n.as_u64().and_then(|i| items.get(usize::try_from(i).ok()?))
                }
                _ => None,
            };
            match next {
                Some(n) => node = n,
                None => break,
            }
        }
        node.span
    }
}

/// An input that could not be read or parsed: the gate fails closed on it.
#[derive(Debug, Clone)]
pub struct InputError {
    pub file: String,
    pub span: Option<Span>,
    pub message: String,
    pub help: Option<String>,
}

/// Extensions read from folders; files named explicitly are read whatever their name.
const EXTENSIONS: &[&str] = &["yaml", "yml", "json"];

/// Collects the files under `paths` (folders recursively, sorted; hidden folders and
/// `.git` skipped, symlinked folders followed once). `-` stands for stdin.
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, PolicyError> {
    let mut out = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            out.push(p.clone());
            continue;
        }
        let meta = std::fs::metadata(p)
            .map_err(|e| PolicyError::Usage(format!("cannot read {}: {}", p.display(), io_reason(&e))))?;
        if meta.is_dir() {
            walk(p, &mut out, &mut std::collections::HashSet::new())?;
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, seen: &mut std::collections::HashSet<PathBuf>) -> Result<(), PolicyError> {
    // Symlinked folders are followed, each real folder once (a link to a parent ends).
    if !seen.insert(std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())) {
        return Ok(());
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| PolicyError::Usage(format!("cannot read {}: {}", dir.display(), io_reason(&e))))?
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for e in entries {
        let path = e.path();
        let name = e.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if !name.starts_with('.') {
                walk(&path, out, seen)?;
            }
        } else if path
            .extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| EXTENSIONS.contains(&x.to_ascii_lowercase().as_str()))
        {
            out.push(path);
        }
    }
    Ok(())
}

pub(crate) fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or folder".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Reads one file (or stdin) into a [`Source`].
pub fn read_source(path: &Path) -> Result<Source, InputError> {
    let name = path.display().to_string();
    let fail = |message: String| InputError { file: name.clone(), span: None, message, help: None };
    let text = if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).map_err(|e| fail(format!("cannot read stdin: {e}")))?;
        s
    } else {
        let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read the file: {}", io_reason(&e))))?;
        String::from_utf8(bytes).map_err(|_| fail("the file is not UTF-8 text".into()))?
    };
    // A byte-order mark is not content (YAML and JSON readers skip it).
    let text = text.strip_prefix('\u{feff}').map(str::to_owned).unwrap_or(text);
    Ok(Source { name, text: text.into() })
}

/// Parses a source into documents, typed by detection or by `forced`. Empty documents
/// (a trailing `---`) are dropped; a Kubernetes `List` is expanded into its items.
pub fn parse(source: Arc<Source>, forced: Option<InputType>) -> Result<Vec<Document>, InputError> {
    let err = |span: Span, message: String, help: Option<String>| InputError {
        file: source.name.clone(),
        span: Some(span),
        message,
        help,
    };
    let (nodes, dups) = crate::yaml::parse_documents(&source.text).map_err(|e| err(e.span, e.message, e.help))?;
    // A duplicate key hides one value from the gate while the cluster applies the other.
    if let Some(d) = dups.into_iter().next() {
        return Err(err(d.span, d.message, d.help));
    }
    let mut docs = Vec::new();
    for (index, node) in nodes.into_iter().enumerate() {
        if matches!(node.kind, NodeKind::Null) {
            continue;
        }
        let value = node.to_json();
        // `kind: List` (kubectl get -o yaml) and typed lists (`PodList`, …): their items
        // are the documents.
        let is_list = value["kind"].as_str().is_some_and(|k| k.ends_with("List"))
            && value["apiVersion"].is_string()
            && value.get("items").is_some();
        if is_list && matches!(forced, None | Some(InputType::Kubernetes)) {
            let items = match node.get("items").map(|n| &n.kind) {
                Some(NodeKind::Seq(items)) => items.as_slice(),
                Some(NodeKind::Null) => &[],
                _ => {
                    let at = node.get("items").map_or(node.span, |n| n.span);
                    return Err(err(at, "`items` of a List is not a list".into(), None));
                }
            };
            {
                for item in items {
                    let value = item.to_json();
                    let input_type = forced.unwrap_or_else(|| InputType::detect(&value));
                    docs.push(Document {
                        source: source.clone(),
                        index,
                        node: item.clone(),
                        value,
                        input_type,
                        origin: None,
                    });
                }
            }
            continue;
        }
        let input_type = forced.unwrap_or_else(|| InputType::detect(&value));
        docs.push(Document { source: source.clone(), index, node, value, input_type, origin: None });
    }
    Ok(docs)
}
