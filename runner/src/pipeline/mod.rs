//! Pipeline files: raw serde structs → validated model. Loading is pure: it reads the
//! file and nothing else (no network, no credentials, no environment).

pub mod duration;
pub mod expr;
pub mod interpolate;
mod loader;
mod model;
pub mod raw;
mod validate;

pub use loader::{load_file, load_str};
pub use model::{Action, Pipeline, Retry, Step};
pub use validate::is_secret_name as validate_is_secret_name;
