//! The local side of a sync: walk the source folder, apply excludes, hash every file.

use std::path::{Path, PathBuf};

use globset::{Glob, GlobMatcher};
use md5::{Digest as _, Md5};
use regex::Regex;
use sha2::Sha256;

use super::BucketError;

/// Files above this size are uploaded in parts of this size; the S3 ETag of such an
/// object is MD5(part MD5s)-N, which we can compute to compare without a HEAD.
pub const PART_SIZE: u64 = 8 * 1024 * 1024;

/// Always excluded: Python bytecode caches and VCS folders.
pub const DEFAULT_EXCLUDES: &[&str] = &["__pycache__/", "*.pyc", ".git/"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalFile {
    /// Path relative to the source, `/`-separated.
    pub rel: String,
    pub path: PathBuf,
    pub size: u64,
    pub md5_hex: String,
    /// The ETag S3 gives this file when uploaded in `PART_SIZE` parts.
    pub multipart_etag: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SourceTree {
    pub root: PathBuf,
    pub files: Vec<LocalFile>,
    /// Paths (relative) left out by an exclude, for the plan.
    pub excluded: Vec<String>,
}

/// One exclude rule, anchored at the folder it was written for.
#[derive(Debug, Clone)]
enum Rule {
    Glob { base: String, matcher: GlobMatcher, anchored: bool, dir_only: bool, negate: bool },
    Regex { base: String, re: Regex },
}

/// `.airflowignore` syntax, as Airflow's `[core] dag_ignore_file_syntax`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IgnoreSyntax {
    Regexp,
    Glob,
}

impl IgnoreSyntax {
    /// Airflow's default is `regexp`; `AIRFLOW__CORE__DAG_IGNORE_FILE_SYNTAX=glob` switches.
    pub fn from_env() -> Self {
        match std::env::var("AIRFLOW__CORE__DAG_IGNORE_FILE_SYNTAX").as_deref() {
            Ok("glob") => IgnoreSyntax::Glob,
            _ => IgnoreSyntax::Regexp,
        }
    }
}

fn glob_rule(base: &str, pattern: &str) -> Result<Rule, String> {
    let (negate, p) = match pattern.strip_prefix('!') {
        Some(p) => (true, p),
        None => (false, pattern),
    };
    let dir_only = p.ends_with('/');
    let p = p.trim_end_matches('/');
    let anchored = p.contains('/');
    let p = p.trim_start_matches('/');
    let matcher = Glob::new(p).map_err(|e| format!("bad glob `{pattern}`: {e}"))?.compile_matcher();
    Ok(Rule::Glob { base: base.to_owned(), matcher, anchored, dir_only, negate })
}

impl Rule {
    /// Whether the rule matches `rel` (relative to the source root); `is_dir` for folders.
    fn matches(&self, rel: &str, is_dir: bool) -> Option<bool> {
        match self {
            Rule::Glob { base, matcher, anchored, dir_only, negate } => {
                let sub = strip_base(base, rel)?;
                if *dir_only && !is_dir {
                    return None;
                }
                let hit = if *anchored {
                    matcher.is_match(sub)
                } else {
                    matcher.is_match(sub.rsplit('/').next().unwrap_or(sub))
                };
                hit.then_some(!negate)
            }
            Rule::Regex { base, re } => {
                let sub = strip_base(base, rel)?;
                re.is_match(sub).then_some(true)
            }
        }
    }
}

fn strip_base<'a>(base: &str, rel: &'a str) -> Option<&'a str> {
    if base.is_empty() { Some(rel) } else { rel.strip_prefix(base).and_then(|r| r.strip_prefix('/')) }
}

fn read_ignore_file(dir: &Path, base: &str, syntax: IgnoreSyntax) -> Result<Vec<Rule>, BucketError> {
    let path = dir.join(".airflowignore");
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(Vec::new()) };
    let mut rules = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split_once(" #").map_or(line, |(l, _)| l).trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let rule = match syntax {
            IgnoreSyntax::Glob => glob_rule(base, line),
            IgnoreSyntax::Regexp => Regex::new(line)
                .map(|re| Rule::Regex { base: base.to_owned(), re })
                .map_err(|e| format!("bad regular expression `{line}`: {e}")),
        };
        rules.push(rule.map_err(|e| BucketError::Input(format!("{}:{}: {e}", path.display(), n + 1)))?);
    }
    Ok(rules)
}

fn excluded(rules: &[Rule], rel: &str, is_dir: bool) -> bool {
    // Last matching rule wins (negations re-include).
    rules.iter().rev().find_map(|r| r.matches(rel, is_dir)).unwrap_or(false)
}

/// Scans `root` and hashes every file that is not excluded. A missing or empty
/// source is an error: syncing nothing with `delete` would empty the bucket.
pub fn scan(root: &Path, excludes: &[String], syntax: IgnoreSyntax) -> Result<SourceTree, BucketError> {
    let meta = std::fs::metadata(root)
        .map_err(|e| BucketError::Input(format!("the source {} cannot be read: {e}", root.display())))?;
    if !meta.is_dir() {
        return Err(BucketError::Input(format!("the source {} is not a folder", root.display())));
    }
    let mut rules = Vec::new();
    for g in DEFAULT_EXCLUDES.iter().copied().chain(excludes.iter().map(String::as_str)) {
        rules.push(glob_rule("", g).map_err(BucketError::Input)?);
    }
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    let mut skipped = Vec::new();
    let mut stack = vec![(root.to_path_buf(), String::new(), rules)];
    while let Some((dir, rel_dir, mut rules)) = stack.pop() {
        rules.extend(read_ignore_file(&dir, &rel_dir, syntax)?);
        let entries =
            std::fs::read_dir(&dir).map_err(|e| BucketError::Input(format!("cannot read {}: {e}", dir.display())))?;
        for entry in entries {
            let entry = entry.map_err(|e| BucketError::Input(format!("cannot read {}: {e}", dir.display())))?;
            let name = entry.file_name().into_string().map_err(|n| {
                BucketError::Input(format!("{}: file name is not UTF-8: {}", dir.display(), n.to_string_lossy()))
            })?;
            let rel = if rel_dir.is_empty() { name.clone() } else { format!("{rel_dir}/{name}") };
            // Follows symlinks to files; a symlinked folder is not descended (no loops).
            let ft = entry.file_type().map_err(|e| BucketError::Input(format!("cannot stat {rel}: {e}")))?;
            let is_dir = ft.is_dir();
            if excluded(&rules, &rel, is_dir) {
                skipped.push(rel);
                continue;
            }
            if is_dir {
                stack.push((entry.path(), rel, rules.clone()));
            } else if ft.is_file() || (ft.is_symlink() && entry.path().is_file()) {
                if object_store::path::Path::parse(&rel).is_err() {
                    return Err(BucketError::Input(format!(
                        "{rel}: the name has a control character, which object stores reject; rename it or exclude it"
                    )));
                }
                found.push((rel, entry.path()));
            }
        }
    }
    if found.is_empty() {
        return Err(BucketError::Input(format!(
            "the source {} has no files to sync (after excludes); refusing to sync an empty folder",
            root.display()
        )));
    }
    found.sort();
    skipped.sort();
    let files = hash_all(found)?;
    Ok(SourceTree { root: root.to_path_buf(), files, excluded: skipped })
}

fn hash_all(found: Vec<(String, PathBuf)>) -> Result<Vec<LocalFile>, BucketError> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).min(8);
    let chunk = found.len().div_ceil(threads).max(1);
    let results: Vec<Result<Vec<LocalFile>, BucketError>> = std::thread::scope(|s| {
        let handles: Vec<_> = found
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(|(rel, path)| hash_file(rel, path)).collect()))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(BucketError::Input("hashing failed".into()))))
            .collect()
    });
    let mut files = Vec::with_capacity(found.len());
    for r in results {
        files.extend(r?);
    }
    Ok(files)
}

pub fn hash_file(rel: &str, path: &Path) -> Result<LocalFile, BucketError> {
    let bytes = std::fs::read(path).map_err(|e| BucketError::Input(format!("cannot read {}: {e}", path.display())))?;
    Ok(hash_bytes(rel, path, &bytes))
}

pub fn hash_bytes(rel: &str, path: &Path, bytes: &[u8]) -> LocalFile {
    let size = bytes.len() as u64;
    let multipart_etag = (size > PART_SIZE).then(|| {
        let mut outer = Md5::new();
        let parts = bytes.chunks(usize::try_from(PART_SIZE).unwrap_or(usize::MAX));
        let n = parts.len();
        for part in parts {
            outer.update(Md5::digest(part));
        }
        format!("{}-{n}", hex(&outer.finalize()))
    });
    LocalFile { rel: rel.to_owned(), path: path.to_path_buf(), size, md5_hex: hex(&Md5::digest(bytes)), multipart_etag }
}

/// SHA-256 of content, stored in object metadata. Computed only for what is uploaded
/// or compared by metadata: MD5 alone decides most comparisons (it is the ETag).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for (rel, text) in files {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, text).expect("write");
        }
        dir
    }

    fn rels(t: &SourceTree) -> Vec<&str> {
        t.files.iter().map(|f| f.rel.as_str()).collect()
    }

    #[test]
    fn default_and_user_excludes() {
        let d = tree(&[
            ("a.py", "x"),
            ("__pycache__/a.cpython-311.pyc", "b"),
            ("lib/b.pyc", "c"),
            ("README.md", "r"),
            ("sql/q.sql", "s"),
        ]);
        let t = scan(d.path(), &["*.md".into()], IgnoreSyntax::Regexp).expect("scan");
        assert_eq!(rels(&t), ["a.py", "sql/q.sql"]);
        assert!(t.excluded.contains(&"README.md".to_owned()) && t.excluded.contains(&"__pycache__".to_owned()));
    }

    #[test]
    fn airflowignore_regexp_and_glob_syntax() {
        let files = [
            (".airflowignore", "# comment\nscratch_.*\nvendor/\n"),
            ("dag_a.py", "x"),
            ("scratch_b.py", "x"),
            ("vendor/lib.py", "x"),
            ("team/.airflowignore", "old\n"),
            ("team/old_dag.py", "x"),
            ("team/new_dag.py", "x"),
        ];
        let d = tree(&files);
        let t = scan(d.path(), &[], IgnoreSyntax::Regexp).expect("scan");
        assert_eq!(rels(&t), [".airflowignore", "dag_a.py", "team/.airflowignore", "team/new_dag.py"]);
        let d = tree(&[
            (".airflowignore", "scratch_*\n/vendor/\n!vendor_keep.py\n*_keep*\n"),
            ("scratch_b.py", "x"),
            ("vendor/l.py", "x"),
            ("ok.py", "x"),
        ]);
        let t = scan(d.path(), &[], IgnoreSyntax::Glob).expect("scan");
        assert_eq!(rels(&t), [".airflowignore", "ok.py"]);
    }

    #[test]
    fn missing_or_empty_sources_are_refused() {
        let d = tree(&[("__pycache__/x.pyc", "b")]);
        assert!(
            matches!(scan(d.path(), &[], IgnoreSyntax::Regexp), Err(BucketError::Input(m)) if m.contains("no files"))
        );
        assert!(matches!(scan(&d.path().join("nope"), &[], IgnoreSyntax::Regexp), Err(BucketError::Input(_))));
    }

    #[test]
    fn hashes_match_s3_etags() {
        let f = hash_bytes("x", Path::new("x"), b"hello");
        assert_eq!(f.md5_hex, "5d41402abc4b2a76b9719d911017c592");
        assert_eq!(f.multipart_etag, None);
        let big = vec![7u8; usize::try_from(PART_SIZE).expect("fits") + 10];
        let f = hash_bytes("big", Path::new("big"), &big);
        assert!(f.multipart_etag.as_deref().is_some_and(|e| e.ends_with("-2")));
    }
}
