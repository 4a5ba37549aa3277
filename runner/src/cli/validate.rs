//! `shipgate validate FILE...`: every file, every error, no side effects.

use std::io::Write;

use super::args::{Format, ValidateArgs};
use super::{Global, print_diagnostics};
use crate::exit::ExitCode;

pub(crate) fn validate(g: &Global, a: ValidateArgs) -> ExitCode {
    let mut failed = false;
    let mut json = Vec::new();
    for file in &a.files {
        let (diags, steps) = match crate::pipeline::load_file(file) {
            Ok((p, d)) => (d, Some(p.steps.len())),
            Err(d) => (d, None),
        };
        failed |= diags.has_errors();
        match a.format {
            Format::Json => json.extend(crate::diag::render_json(&diags)),
            Format::Human => {
                if !diags.items.is_empty() {
                    print_diagnostics(g, &diags);
                }
                if let Some(n) = steps
                    && !g.quiet
                {
                    let (g0, g1) = g.style.green();
                    let _ = writeln!(
                        std::io::stderr(),
                        "{g0}ok{g1} {} ({n} step{})",
                        file.display(),
                        if n == 1 { "" } else { "s" }
                    );
                }
            }
        }
    }
    if a.format == Format::Json {
        let text = serde_json::to_string_pretty(&json).unwrap_or_default();
        let _ = writeln!(std::io::stdout(), "{text}");
    }
    if failed { ExitCode::Usage } else { ExitCode::Success }
}
