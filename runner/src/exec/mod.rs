//! Execution: the scheduler (ignorant of what steps do), cancellation, child
//! processes, events and the executor that ties steps to them.

pub mod cancel;
pub mod events;
mod executor;
pub mod mask;
pub mod only;
pub mod process;
pub mod scheduler;
mod watchdog;

pub use executor::{ExecOptions, Prepared, Resolved, condition, execute, prepare, resolve_pipeline_env};
