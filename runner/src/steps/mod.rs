//! Step kinds. `run:` steps and every `uses:` kind implement [`Step`]; the executor
//! knows nothing else about them.

pub mod bucket_sync;
pub mod context;
pub mod gitops_bump;
pub mod image;
mod outputs;
pub mod policy_check;
pub mod shell;

use std::fmt;
use std::future::Future;
use std::pin::Pin;

pub use context::{StepContext, StepError};
pub use outputs::parse_outputs;

use crate::diag::Diagnostic;
use crate::yaml::{Node, Span};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A ready-to-run step: options resolved and typed.
pub trait Step: Send + Sync {
    /// What the step would do, one line per effect, for `shipgate plan`. May read
    /// (list a bucket, fetch a repository) but must not change anything.
    fn plan(&self) -> BoxFuture<'_, Vec<String>>;
    /// Runs one attempt. Output lines go through `ctx.emit`, outputs into `ctx.outputs`.
    fn run<'a>(&'a self, ctx: &'a mut StepContext) -> BoxFuture<'a, Result<(), StepError>>;
}

/// A `uses:` step kind.
pub trait StepKind: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    /// Outputs every run of this kind publishes (checked when a pipeline references them).
    fn outputs(&self) -> &'static [&'static str];
    /// Pure checks of the written `with:` options, with spans. Values may still hold
    /// `${…}` templates at this point.
    /// `at` is the step's id, for errors about missing options.
    fn validate(&self, with: Option<&Node>, at: Span) -> Vec<Diagnostic>;
    /// The JSON Schema of `with:` (for editors; the loader checks the same types).
    fn options_schema(&self, generator: &mut schemars::SchemaGenerator) -> schemars::Schema;
    /// Builds the step from resolved options.
    fn build(&self, with: Option<&Node>) -> Result<Box<dyn Step>, Vec<Diagnostic>>;
}

impl fmt::Debug for dyn StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StepKind({})", self.name())
    }
}

/// Reads a kind's typed `with:` options, every error as a diagnostic with its span
/// (the value read from what was left comes back too, for further checks).
pub(crate) fn read_options<T: serde::de::DeserializeOwned>(
    kind: &str,
    command: &str,
    with: &Node,
) -> (Option<T>, Vec<Diagnostic>) {
    let (opts, errors) = crate::yaml::deserialize_all::<T>(with);
    let diags: Vec<Diagnostic> = errors
        .into_iter()
        .map(|e| {
            Diagnostic::error(e.span.unwrap_or(with.span), format!("{kind}: {}", e.message))
                .with_help(e.help.unwrap_or_else(|| format!("see `shipgate {command} --help` for the options")))
        })
        .collect();
    (opts, diags)
}

/// The `uses:` kinds this build knows. Capabilities register here as they land.
pub fn kinds() -> &'static [&'static dyn StepKind] {
    &[
        &bucket_sync::BucketSync,
        &gitops_bump::GitopsBump,
        &image::ImageBuild,
        &image::ImagePush,
        &policy_check::PolicyCheck,
    ]
}

pub fn find_kind(name: &str) -> Option<&'static dyn StepKind> {
    kinds().iter().copied().find(|k| k.name() == name)
}
