//! Buckets: mirror a local folder to `gs://`, `s3://`, `az://` or `file://` by content.
//!
//! `source` scans and hashes the local tree (excludes, `.airflowignore`), `location`
//! turns a destination URL into an `ObjectStore`, `diff` compares by content and applies
//! the safety guards, `sync` uploads and then deletes, `dags` checks Airflow DAG files.

pub mod dags;
pub mod diff;
pub mod job;
pub mod location;
pub mod source;
pub mod sync;

pub use diff::{Change, DeleteLimit, SyncPlan, plan_sync};
pub use location::{Location, Scheme, StoreOptions};
pub use source::{LocalFile, SourceTree, scan};
pub use sync::{SyncSummary, execute_plan};

/// Errors of a sync; the text reads after "failed to sync …".
#[derive(Debug, thiserror::Error)]
pub enum BucketError {
    /// Bad input: nothing was changed (exit 2).
    #[error("{0}")]
    Input(String),
    /// The bucket or network failed (exit 3).
    #[error("{0}")]
    Remote(String),
}
