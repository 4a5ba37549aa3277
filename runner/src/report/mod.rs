//! Reporters: one per output format, all fed the same events and summary.

pub mod dotenv;
mod human;
mod json;
pub(crate) mod junit;
mod metrics;

use std::io;
use std::path::{Path, PathBuf};

pub use dotenv::{DotenvReporter, dotenv};
pub use human::HumanReporter;
pub use json::JsonReporter;
pub use junit::{JunitReporter, junit_xml};
pub use metrics::{MetricsReporter, metrics};

use crate::exec::events::{RunEvent, RunSummary};

pub trait Reporter: Send {
    fn event(&mut self, _event: &RunEvent) {}
    fn finish(&mut self, _summary: &RunSummary) -> io::Result<()> {
        Ok(())
    }
}

/// `--report FORMAT=PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportSpec {
    pub format: ReportFormat,
    pub path: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Json,
    Junit,
    /// Step outputs as a GitLab dotenv report.
    Dotenv,
}

impl std::str::FromStr for ReportSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (format, path) =
            s.split_once('=').ok_or_else(|| format!("`{s}` is not FORMAT=PATH (e.g. junit=report.xml)"))?;
        let format = match format {
            "json" => ReportFormat::Json,
            "junit" => ReportFormat::Junit,
            "dotenv" => ReportFormat::Dotenv,
            other => return Err(format!("unknown report format `{other}`; formats: json, junit, dotenv")),
        };
        if path.is_empty() {
            return Err("the report path is empty".into());
        }
        Ok(ReportSpec { format, path: PathBuf::from(path) })
    }
}

/// Writes via a temporary file and a rename, so a reader never sees half a report.
pub(crate) fn write_atomic(path: &Path, contents: &str) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, contents)?;
    std::fs::rename(&tmp, path)
}
