//! The policy gate: inputs ([`input`], [`detect`], [`terraform`]), Rego evaluation
//! ([`engine`], [`metadata`]), findings ([`finding`]) and the check itself ([`check`]).

pub mod budget;
pub mod builtin;
pub mod check;
pub mod comment;
pub mod detect;
pub mod engine;
pub mod finding;
pub mod input;
pub mod metadata;
pub mod options;
pub mod output;
pub mod schema;
pub mod terraform;
pub mod waiver;

pub use check::{CheckOptions, CheckReport, check};
pub use detect::InputType;
pub use finding::{Finding, Severity};
pub use input::InputError;

/// Why the gate could not decide. Every variant fails closed (never exit 0).
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// Bad options or paths (exit 2).
    #[error("{0}")]
    Usage(String),
    /// Inputs that cannot be read or parsed, all of them (exit 2).
    #[error("{} input error{}", .0.len(), if .0.len() == 1 { "" } else { "s" })]
    Input(Vec<InputError>),
    /// A policy that does not compile (exit 2).
    #[error("{0}")]
    Policy(String),
    /// A policy failed while evaluating an input (exit 2).
    #[error("policy evaluation failed: {0}")]
    Evaluation(String),
}
