//! Integration tests: the real `shipgate` binary, in temp dirs, against real local
//! services. One test binary, one module per area.

mod bucket;
mod cancel;
mod errors;
mod export;
mod forge;
mod gitops;
mod image;
mod masking;
mod own_image;
mod pipelines;
mod plan;
mod policy;
mod policy_regressions;
mod release;
mod reports;
mod review;
mod run;
mod services;
mod support;
mod vault;
mod yaml_edit;
