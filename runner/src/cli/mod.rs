//! The command line: one file per subcommand.

mod args;
mod bump;
mod check;
mod export;
mod image;
mod plan;
mod policy;
mod run;
pub mod schema;
mod sync;
mod validate;

use std::io::Write;

pub use args::{Cli, Command};

use crate::diag::{FileDiagnostics, render_human};
use crate::exit::ExitCode;
use crate::style::Style;

/// Runs the parsed command line and returns the exit code.
pub fn run(cli: Cli) -> ExitCode {
    let style = Style::detect(cli.color);
    crate::logging::init(cli.verbose, cli.quiet, style.color);
    let g = Global { style, quiet: cli.quiet };
    match cli.command {
        Command::Run(a) => run::run(&g, a),
        Command::Plan(a) => plan::plan(&g, a),
        Command::Validate(a) => validate::validate(&g, a),
        Command::Schema(a) => schema::schema(&g, a),
        Command::Sync(a) => sync::sync(&g, a),
        Command::Bump(a) => bump::bump(&g, a),
        Command::Image(c) => image::image(&g, c),
        Command::Check(a) => check::check(&g, a),
        Command::Policy(c) => policy::policy(&g, c),
        Command::Export(c) => export::export_cmd(&g, c),
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Global {
    pub style: Style,
    pub quiet: bool,
}

/// The async runtime for a command; an error is printed and mapped to exit 3.
pub(crate) fn runtime(g: &Global) -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| {
        error(g, &format!("cannot start the async runtime: {e}"), None);
        ExitCode::Infrastructure
    })
}

/// Prints an error (masked) with an optional hint to stderr.
pub(crate) fn error(g: &Global, message: &str, help: Option<&str>) {
    let (r0, r1) = g.style.red();
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{r0}error{r1}: {}", crate::logging::mask(message));
    if let Some(h) = help {
        let (b0, b1) = g.style.bold();
        let _ = writeln!(err, "  {b0}help{b1}: {}", crate::logging::mask(h));
    }
}

pub(crate) fn print_diagnostics(g: &Global, d: &FileDiagnostics) {
    let text = render_human(d, g.style);
    let _ = std::io::stderr().write_all(text.as_bytes());
    let errors = d.errors();
    if errors > 0 {
        let (r0, r1) = g.style.red();
        let _ = writeln!(
            std::io::stderr(),
            "{r0}error{r1}: {} has {errors} error{}; nothing ran",
            d.path.display(),
            if errors == 1 { "" } else { "s" }
        );
    }
}

/// Loads a pipeline, printing diagnostics; `Err` carries the exit code.
pub(crate) fn load(g: &Global, path: &std::path::Path) -> Result<crate::pipeline::Pipeline, ExitCode> {
    match crate::pipeline::load_file(path) {
        Ok((p, warnings)) => {
            if !warnings.items.is_empty() && !g.quiet {
                print_diagnostics(g, &warnings);
            }
            Ok(p)
        }
        Err(d) => {
            print_diagnostics(g, &d);
            Err(ExitCode::Usage)
        }
    }
}

/// Where a pipeline's Vault secrets come from while resolving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Secrets {
    /// Read them (a run).
    Fetch,
    /// A placeholder naming the source (a plan: Vault is not asked).
    Placeholder,
}

/// Resolves variables against the process environment (and Vault); prints problems.
pub(crate) fn resolve(
    g: &Global,
    p: &crate::pipeline::Pipeline,
    secrets: Secrets,
) -> Result<crate::exec::Resolved, ExitCode> {
    let mut env: Vec<(String, String)> =
        std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))).collect();
    let from_vault = match secrets {
        Secrets::Placeholder => Ok(p.vault.iter().map(|(n, r)| (n.clone(), format!("<{r}>"))).collect()),
        Secrets::Fetch => crate::vault::fetch(&p.vault, &|n| env.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone())),
    };
    match from_vault {
        Ok(values) => {
            for (name, value) in values {
                env.retain(|(k, _)| *k != name);
                env.push((name, value));
            }
        }
        Err(e) => {
            error(g, &format!("{}: {e}", p.path.display()), Some("nothing ran"));
            return Err(match e {
                crate::vault::VaultError::Config(_) => ExitCode::Usage,
                crate::vault::VaultError::Unreachable(_) => ExitCode::Infrastructure,
            });
        }
    }
    match crate::exec::resolve_pipeline_env(p, env) {
        Ok(r) => {
            crate::logging::set_masker(r.masker.clone());
            for name in &r.short_secrets {
                tracing::warn!(
                    "secret `{name}` is shorter than {} characters and is not masked",
                    crate::exec::mask::MIN_SECRET_LEN
                );
            }
            Ok(r)
        }
        Err(errors) => {
            for e in &errors {
                error(g, &format!("{}: {e}", p.path.display()), None);
            }
            let (b0, b1) = g.style.bold();
            let _ = writeln!(
                std::io::stderr(),
                "  {b0}help{b1}: set the variables in the CI job, or give a default: `${{NAME:-default}}`; nothing ran"
            );
            Err(ExitCode::Usage)
        }
    }
}
