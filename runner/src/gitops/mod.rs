//! GitOps: format-preserving edits of YAML files (the git side comes with `gitops.bump`).

pub mod create;
pub mod forge;
pub mod image;
pub mod options;
pub mod path;
pub mod repo;
pub mod yaml_edit;

pub use create::set_or_create;
pub use image::{ImageEdit, ImageVersion, set_image};
pub use path::{DocSelector, Path, Segment};
pub use yaml_edit::{EditError, NewValue, Outcome, edit_scalar};
