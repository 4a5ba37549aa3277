//! What a step gets to run one attempt.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use indexmap::IndexMap;

use crate::exec::cancel::CancelToken;
use crate::exec::process::Stream;

pub struct StepContext {
    pub id: String,
    /// The full environment for child processes (process env + pipeline env + step env
    /// + `SHIPGATE_*`).
    pub env: Vec<(String, String)>,
    /// The file `run:` commands write `name=value` outputs to.
    pub output_file: PathBuf,
    pub deadline: Option<Instant>,
    pub grace: Duration,
    pub cancel: CancelToken,
    /// Output lines; masking happens behind this.
    pub emit: Box<dyn FnMut(Stream, String) + Send>,
    /// Outputs published by the step.
    pub outputs: IndexMap<String, String>,
    /// The exit code of the step's process, when it had one.
    pub exit_code: Option<i32>,
}

impl std::fmt::Debug for StepContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepContext").field("id", &self.id).finish_non_exhaustive()
    }
}

/// How an attempt failed. The text reads after "step `x` …".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    /// The step's own work failed (exit 1 for the run).
    #[error("{0}")]
    Failed(String),
    #[error("timed out after {0}")]
    TimedOut(String),
    /// A service the step needs was unreachable (exit 3 for the run).
    #[error("{0}")]
    Infrastructure(String),
    #[error("was cancelled")]
    Cancelled,
}
