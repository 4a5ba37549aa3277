//! `shipgate plan FILE` (and `run --dry-run`).

use std::io::Write;

use super::args::{Format, PlanArgs};
use super::{Global, error, load, resolve};
use crate::exit::ExitCode;

pub(crate) fn plan(g: &Global, a: PlanArgs) -> ExitCode {
    show(g, &a.file, a.format)
}

pub(crate) fn show(g: &Global, file: &std::path::Path, format: Format) -> ExitCode {
    let p = match load(g, file) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let r = match resolve(g, &p, super::Secrets::Placeholder) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let runtime = match super::runtime(g) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let plan = match runtime.block_on(crate::plan::build(&p, &r)) {
        Ok(plan) => plan,
        Err(errors) => {
            for e in errors {
                error(g, &e, None);
            }
            return ExitCode::Usage;
        }
    };
    let text = match format {
        Format::Human => crate::plan::render_human(&plan, crate::style::Style::plain()),
        Format::Json => serde_json::to_string_pretty(&plan).map(|s| s + "\n").unwrap_or_default(),
    };
    let text = r.masker.mask(&text).into_owned();
    let mut out = std::io::stdout().lock();
    if out.write_all(text.as_bytes()).and_then(|()| out.flush()).is_err() {
        return ExitCode::Infrastructure;
    }
    ExitCode::Success
}
