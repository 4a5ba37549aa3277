//! shipgate: a GitOps CI/CD pipeline runner and policy gate.
//!
//! Data flows pipeline file → [`yaml`] (nodes with spans) → [`pipeline::raw`] (serde
//! structs as written) → [`pipeline`] model (validated, with every diagnostic) →
//! [`exec`] (scheduler + steps) → [`report`] (human, JSON, JUnit).

pub mod bucket;
pub mod ci;
pub mod cli;
pub mod diag;
pub mod exec;
pub mod exit;
pub mod export;
pub mod gitops;
pub mod graph;
pub mod image;
mod logging;
pub mod pipeline;
pub mod plan;
pub mod policy;
pub mod report;
pub mod steps;
pub mod style;
pub mod vault;
pub mod yaml;
