//! DAG mode: every `.py` file is syntax-checked before anything is uploaded, an
//! optional validation command runs first, and helper modules go up before DAG files.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use super::BucketError;
use super::diff::PlannedUpload;
use super::source::SourceTree;

/// Compiles each path read from stdin; prints `path:line:col: message` per error.
const CHECK: &str = r#"
import sys
bad = 0
for path in sys.stdin.read().splitlines():
    try:
        with open(path, "rb") as f:
            compile(f.read(), path, "exec", dont_inherit=True)
    except SyntaxError as e:
        bad += 1
        print(f"{e.filename}:{e.lineno or 0}:{e.offset or 0}: {e.msg}")
    except (OSError, ValueError) as e:
        bad += 1
        print(f"{path}:0:0: {e}")
sys.exit(1 if bad else 0)
"#;

/// Checks every `.py` file; all errors come back, with `file:line:col`.
pub fn check_syntax(tree: &SourceTree) -> Result<usize, BucketError> {
    let py: Vec<&str> = tree.files.iter().filter(|f| f.rel.ends_with(".py")).map(|f| f.rel.as_str()).collect();
    if py.is_empty() {
        return Err(BucketError::Input(format!(
            "DAG mode: {} has no .py files; refusing to sync (a wrong `from` would empty the DAG folder)",
            tree.root.display()
        )));
    }
    let mut child = Command::new("python3")
        .args(["-I", "-c", CHECK])
        .current_dir(&tree.root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| BucketError::Input(format!("DAG mode needs python3 to check DAG syntax: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(py.join("\n").as_bytes());
    }
    let out = child.wait_with_output().map_err(|e| BucketError::Input(format!("python3 failed: {e}")))?;
    if out.status.success() {
        return Ok(py.len());
    }
    let errors = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let errors = if errors.is_empty() { String::from_utf8_lossy(&out.stderr).trim().to_owned() } else { errors };
    Err(BucketError::Input(format!("DAG syntax errors; nothing was uploaded:\n{errors}")))
}

/// Runs the user's validation command (e.g. a DagBag import test) in the source folder.
pub fn run_validate_command(root: &Path, command: &str) -> Result<(), BucketError> {
    let out = Command::new("sh")
        .args(["-ec", command])
        .current_dir(root)
        .output()
        .map_err(|e| BucketError::Input(format!("cannot run the validate_command: {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    let tail: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .chain(String::from_utf8_lossy(&out.stderr).lines())
        .map(str::to_owned)
        .collect();
    let tail = tail[tail.len().saturating_sub(20)..].join("\n");
    Err(BucketError::Input(format!("validate_command failed ({}); nothing was uploaded:\n{tail}", out.status)))
}

/// A DAG file defines a DAG; everything else (helpers, SQL, configs) goes up first so
/// that the scheduler never parses a DAG whose imports are not there yet.
pub fn is_dag_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "py")
        && std::fs::read_to_string(path).is_ok_and(|t| t.contains("DAG(") || t.contains("@dag"))
}

pub fn phases(uploads: &[PlannedUpload], dags: bool) -> Vec<Vec<PlannedUpload>> {
    if !dags {
        return vec![uploads.to_vec()];
    }
    let (dag_files, helpers): (Vec<_>, Vec<_>) = uploads.iter().cloned().partition(|u| is_dag_file(&u.file.path));
    vec![helpers, dag_files]
}
