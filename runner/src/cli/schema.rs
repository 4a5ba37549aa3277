//! `shipgate schema [--check|--write]`: the pipeline JSON Schema from the Rust types.

use std::io::Write;

use super::args::SchemaArgs;
use super::{Global, error};
use crate::exit::ExitCode;

pub fn pipeline_schema() -> String {
    let schema = schemars::schema_for!(crate::pipeline::raw::RawPipeline);
    serde_json::to_string_pretty(&schema).map(|s| s + "\n").unwrap_or_default()
}

pub(crate) fn schema(g: &Global, a: SchemaArgs) -> ExitCode {
    let current = pipeline_schema();
    if a.write {
        return match crate::report::write_atomic(&a.path, &current) {
            Ok(()) => ExitCode::Success,
            Err(e) => {
                error(g, &format!("cannot write {}: {e}", a.path.display()), None);
                ExitCode::Infrastructure
            }
        };
    }
    if a.check {
        return match std::fs::read_to_string(&a.path) {
            Ok(committed) if committed == current => {
                if !g.quiet {
                    let _ = writeln!(std::io::stderr(), "{} is up to date", a.path.display());
                }
                ExitCode::Success
            }
            Ok(_) => {
                error(
                    g,
                    &format!("{} differs from the schema of this build", a.path.display()),
                    Some("run `shipgate schema --write` and commit the result"),
                );
                ExitCode::Failure
            }
            Err(e) => {
                error(
                    g,
                    &format!("cannot read {}: {e}", a.path.display()),
                    Some("run `shipgate schema --write` from the repository root"),
                );
                ExitCode::Usage
            }
        };
    }
    let _ = std::io::stdout().write_all(current.as_bytes());
    ExitCode::Success
}
