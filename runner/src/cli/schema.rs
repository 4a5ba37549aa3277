//! `shipgate schema [--check|--write]`: the pipeline JSON Schema from the Rust types.

use std::io::Write;

use super::args::SchemaArgs;
use super::{Global, error};
use crate::exit::ExitCode;

pub fn pipeline_schema() -> String {
    let mut generator = schemars::SchemaGenerator::default();
    let mut schema = generator.root_schema_for::<crate::pipeline::raw::RawPipeline>();
    // `with:` is typed by the step kind named in `uses:`.
    let rules: Vec<serde_json::Value> = crate::steps::kinds()
        .iter()
        .map(|k| {
            let options = k.options_schema(&mut generator);
            serde_json::json!({
                "if": { "properties": { "uses": { "const": k.name() } }, "required": ["uses"] },
                "then": { "properties": { "with": options } }
            })
        })
        .collect();
    let defs = generator.take_definitions(true);
    if let Some(obj) = schema.as_object_mut() {
        let all = obj.entry("$defs").or_insert_with(|| serde_json::json!({}));
        if let Some(all) = all.as_object_mut() {
            all.extend(defs);
            if let Some(step) = all.get_mut("RawStep").and_then(|s| s.as_object_mut()) {
                step.insert("allOf".into(), serde_json::Value::Array(rules));
            }
        }
    }
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
