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
            let (doc, warnings) = export(&p, &ExportOptions { file: file.clone(), image: a.image });
            for w in warnings {
                tracing::warn!("{w}");
            }
            let head = format!(
                "# GitLab child pipeline of `{}`, written by `shipgate export gitlab-ci {file}`; do not edit.\n# One job per step (`shipgate run --only`); step outputs travel as dotenv reports.\n",
                p.name
            );
            emit(g, a.output.as_deref(), &(head + &crate::export::to_yaml(&doc)))
        }
        ExportCommand::GrafanaDashboard(a) => emit(g, a.output.as_deref(), crate::export::GRAFANA_DASHBOARD),
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
