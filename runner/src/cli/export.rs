//! `shipgate export gitlab-ci FILE` and `shipgate export grafana-dashboard`.

use std::io::Write;
use std::path::Path;

use super::args::ExportCommand;
use super::{Global, error, load};
use crate::exit::ExitCode;
use crate::export::gitlab_ci::{ExportOptions, export};

pub(crate) fn export_cmd(g: &Global, c: ExportCommand) -> ExitCode {
    match c {
        ExportCommand::GitlabCi(a) => {
            let p = match load(g, &a.file) {
                Ok(p) => p,
                Err(code) => return code,
            };
            let file = a.file.display().to_string();
            let defaults = match a.defaults.as_deref().map(read_defaults).transpose() {
                Ok(d) => d.unwrap_or_default(),
                Err(e) => {
                    error(g, &e, Some("--default takes a YAML mapping of GitLab `default:` keywords"));
                    return ExitCode::Usage;
                }
            };
            let together = a.together.iter().map(|t| t.split(',').map(str::to_owned).collect()).collect();
            let opts = ExportOptions { file: file.clone(), image: a.image, defaults, together };
            let (doc, warnings) = match export(&p, &opts) {
                Ok(r) => r,
                Err(e) => {
                    error(g, &e, None);
                    return ExitCode::Usage;
                }
            };
            for w in warnings {
                tracing::warn!("{w}");
            }
            // The name is the user's: one line, no control characters, in the comment.
            let name: String = p.name.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
            let head = format!(
                "# GitLab child pipeline of `{name}`, written by `shipgate export gitlab-ci`; do not edit.\n# One job per step (`shipgate run --only`); step outputs travel as dotenv reports.\n"
            );
            emit(g, a.output.as_deref(), &(head + &crate::export::to_yaml(&doc)))
        }
        ExportCommand::GrafanaDashboard(a) => emit(g, a.output.as_deref(), crate::export::GRAFANA_DASHBOARD),
    }
}

/// The `--default` file: a YAML mapping, as JSON.
fn read_defaults(path: &Path) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let at = |e: &crate::yaml::ParseError| {
        format!("{}:{}:{}: {}", path.display(), e.span.start.line, e.span.start.col, e.message)
    };
    let (docs, errors) = crate::yaml::parse_documents(&text).map_err(|e| at(&e))?;
    if let Some(e) = errors.first() {
        return Err(at(e));
    }
    match docs.first().map(crate::yaml::Node::to_json) {
        Some(serde_json::Value::Object(m)) => Ok(m),
        _ => Err(format!("{}: expected a mapping", path.display())),
    }
}

fn emit(g: &Global, output: Option<&Path>, text: &str) -> ExitCode {
    let written = match output {
        Some(path) => crate::report::write_atomic(path, text),
        None => std::io::stdout().lock().write_all(text.as_bytes()),
    };
    match written {
        Ok(()) => ExitCode::Success,
        Err(e) => {
            error(g, &format!("cannot write: {e}"), None);
            ExitCode::Infrastructure
        }
    }
}
