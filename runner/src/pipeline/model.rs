//! The validated pipeline (stage 2): ids resolved to indices, templates and
//! expressions parsed, durations typed, the DAG checked.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::expr::Expr;
use super::interpolate::Template;
use crate::steps::StepKind;
use crate::yaml::{Node, Span};

#[derive(Debug, Clone)]
pub struct Pipeline {
    pub name: String,
    pub path: PathBuf,
    pub source: Arc<str>,
    /// Pipeline-level variables in file order (later ones may use earlier ones).
    pub env: Vec<(String, Template)>,
    pub secrets: Vec<String>,
    /// Secrets read from Vault before the run: (variable, source).
    pub vault: Vec<(String, crate::vault::VaultRef)>,
    /// Steps in file order; `needs` holds indices into this list.
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone)]
pub struct Step {
    pub id: String,
    pub span: Span,
    pub action: Action,
    pub needs: Vec<usize>,
    pub env: Vec<(String, Template)>,
    pub outputs: Vec<String>,
    pub timeout: Option<Duration>,
    pub retry: Retry,
    pub allow_failure: bool,
    /// The `if:` text and its parsed form.
    pub condition: Option<(String, Expr)>,
}

#[derive(Debug, Clone)]
pub enum Action {
    /// `run:` — a shell command; only `${{ … }}` is substituted.
    Run { command: Template, text: String },
    /// `uses:` — a step kind with its (unresolved) `with:` options.
    Uses { kind: &'static dyn StepKind, with: Option<Node> },
}

impl Action {
    pub fn kind_name(&self) -> &'static str {
        match self {
            Action::Run { .. } => "run",
            Action::Uses { kind, .. } => kind.name(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    pub attempts: u32,
    pub backoff: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry { attempts: 1, backoff: Duration::from_secs(1) }
    }
}

impl Retry {
    /// Exponential backoff before attempt `next` (2, 3, …), capped at 5 minutes,
    /// with ±20% jitter so parallel retries spread out.
    pub fn delay(&self, next: u32, jitter_seed: u64) -> Duration {
        let exp = self.backoff.saturating_mul(1u32 << (next.saturating_sub(2)).min(16));
        let capped = exp.min(Duration::from_secs(300));
        let jitter = (jitter_seed % 41) as f64 / 100.0 - 0.2;
        capped.mul_f64(1.0 + jitter)
    }
}

impl Step {
    /// The outputs this step publishes: `outputs:` of a `run:` step, or its kind's.
    pub fn declared_outputs(&self) -> Vec<&str> {
        match &self.action {
            Action::Run { .. } => self.outputs.iter().map(String::as_str).collect(),
            Action::Uses { kind, .. } => kind.outputs().to_vec(),
        }
    }
}

impl Pipeline {
    pub fn step_index(&self, id: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.id == id)
    }

    pub fn deps(&self) -> Vec<Vec<usize>> {
        self.steps.iter().map(|s| s.needs.clone()).collect()
    }
}
