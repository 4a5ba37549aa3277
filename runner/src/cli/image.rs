//! `shipgate image build|push`: the `image.build` and `image.push` steps as commands.

use std::io::Write;

use super::args::{Format, ImageBuildArgs, ImageCommand, ImagePushArgs};
use super::{Global, error};
use crate::exit::ExitCode;
use crate::image::ImageError;
use crate::image::native;
use crate::image::options::{Build, BuildWith, CopyWith, PushWith};
use crate::image::registry::Progress;
use crate::steps::image::{layer_lines, plan_push, push_all};

pub(crate) fn image(g: &Global, c: ImageCommand) -> ExitCode {
    match c {
        ImageCommand::Build(a) => build(g, *a),
        ImageCommand::Push(a) => push(g, a),
    }
}

fn pairs(items: &[String], what: &str) -> Result<Vec<(String, String)>, String> {
    items
        .iter()
        .map(|kv| {
            kv.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())).ok_or_else(|| format!("`{kv}` is not {what}"))
        })
        .collect()
}

fn copy(s: &str) -> Result<CopyWith, String> {
    let mut parts = s.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(from), Some(to), mode) if !from.is_empty() && !to.is_empty() => {
            Ok(CopyWith { from: from.into(), to: to.into(), mode: mode.map(str::to_owned) })
        }
        _ => Err(format!("`--copy {s}` is not FROM:TO[:MODE]")),
    }
}

fn usage(g: &Global, problems: &[String], help: &str) -> ExitCode {
    for p in problems {
        error(g, p, Some(help));
    }
    ExitCode::Usage
}

fn failed(g: &Global, what: &str, e: &ImageError) -> ExitCode {
    match e {
        ImageError::Input(m) => {
            error(g, &format!("{what}: {m}"), Some("nothing was pushed"));
            ExitCode::Usage
        }
        ImageError::Registry(m) => {
            error(g, &format!("{what}: {m}"), Some("no tag was moved: the manifest is pushed last"));
            ExitCode::Infrastructure
        }
    }
}

fn print(text: &str) {
    let _ = std::io::stdout().write_all(text.as_bytes());
}

fn build(g: &Global, a: ImageBuildArgs) -> ExitCode {
    let with = (|| -> Result<BuildWith, String> {
        Ok(BuildWith {
            backend: a.backend,
            context: a.context.clone(),
            dockerfile: a.dockerfile.clone(),
            build_args: pairs(&a.build_args, "NAME=VALUE")?.into_iter().collect(),
            target: a.target.clone(),
            platform: a.platform.clone(),
            tags: a.tags.clone(),
            labels: pairs(&a.labels, "KEY=VALUE")?.into_iter().collect(),
            base: a.base.clone(),
            copy: a.copies.iter().map(|c| copy(c)).collect::<Result<_, _>>()?,
            entrypoint: (!a.entrypoint.is_empty()).then(|| a.entrypoint.clone()),
            cmd: (!a.cmd.is_empty()).then(|| a.cmd.clone()),
            env: pairs(&a.env, "NAME=VALUE")?.into_iter().collect(),
            workdir: a.workdir.clone(),
            user: a.user.clone(),
            expose: a.expose.clone(),
            output: a.output.clone(),
        })
    })();
    let spec = match with.map_err(|e| vec![e]).and_then(|w| w.to_build()) {
        Ok(Build::Native(s)) => *s,
        Ok(Build::Docker(d)) => return build_docker(g, &d, a.dry_run, a.format),
        Err(p) => return usage(g, &p, "see `shipgate image build --help`"),
    };
    if a.dry_run {
        return match native::plan_layers(&spec) {
            Ok(layers) => {
                match a.format {
                    Format::Json => print(&(serde_json::to_string_pretty(&layers).unwrap_or_default() + "\n")),
                    Format::Human => print(&(layer_lines(&layers).join("\n") + "\n")),
                }
                ExitCode::Success
            }
            Err(e) => failed(g, "cannot build", &e),
        };
    }
    let runtime = match super::runtime(g) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match runtime.block_on(native::build(&spec)) {
        Ok(b) => {
            match a.format {
                Format::Json => print(&(serde_json::to_string_pretty(&b).unwrap_or_default() + "\n")),
                Format::Human => {
                    let mut lines = layer_lines(&b.layers);
                    lines.push(format!("built {} ({})", b.image, b.digest));
                    print(&(lines.join("\n") + "\n"));
                }
            }
            ExitCode::Success
        }
        Err(e) => failed(g, "cannot build", &e),
    }
}

fn build_docker(g: &Global, spec: &crate::image::docker::DockerSpec, dry_run: bool, format: Format) -> ExitCode {
    if dry_run {
        print(&(crate::steps::image::plan_docker(spec).join("\n") + "\n"));
        return ExitCode::Success;
    }
    let runtime = match super::runtime(g) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let quiet = g.quiet;
    let log = move |line: String| {
        if !quiet {
            let _ = writeln!(std::io::stderr(), "{line}");
        }
    };
    match runtime.block_on(crate::image::docker::build(spec, &log)) {
        Ok(b) => {
            match format {
                Format::Json => print(&(serde_json::to_string_pretty(&b).unwrap_or_default() + "\n")),
                Format::Human => print(&format!("built {} ({})\n", b.image, b.id)),
            }
            ExitCode::Success
        }
        Err(e) => failed(g, "cannot build", &e),
    }
}

fn push(g: &Global, a: ImagePushArgs) -> ExitCode {
    let with = PushWith { image: a.image.clone(), to: a.to.clone(), insecure: a.insecure };
    let (image, to) = match with.to_refs() {
        Ok(r) => r,
        Err(p) => return usage(g, &p, "see `shipgate image push --help`"),
    };
    let runtime = match super::runtime(g) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    if a.dry_run {
        print(&(runtime.block_on(plan_push(&image, &to, a.insecure)).join("\n") + "\n"));
        return ExitCode::Success;
    }
    let quiet = g.quiet || a.format == Format::Json;
    // A progress bar on a terminal; a line per event otherwise (CI logs stay readable).
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let progress = move |p: Progress| {
        if quiet {
            return;
        }
        let mut err = std::io::stderr().lock();
        match (&p, tty) {
            (Progress::Blob { dest, done, total, bytes, total_bytes, .. }, true) => {
                let width = 30;
                let filled = (*bytes * width as u64).checked_div(*total_bytes).map_or(width, |f| f as usize);
                let _ = write!(
                    err,
                    "\r\x1b[2K{dest} [{}{}] {done}/{total} blobs, {:.1}/{:.1} MiB",
                    "#".repeat(filled),
                    " ".repeat(width - filled.min(width)),
                    *bytes as f64 / 1048576.0,
                    *total_bytes as f64 / 1048576.0
                );
                let _ = err.flush();
            }
            (Progress::Pushed(line), true) => {
                let _ = writeln!(err, "\r\x1b[2K{line}");
            }
            (Progress::Blob { uploaded: false, .. }, false) => {}
            (_, false) => {
                let _ = writeln!(err, "{p}");
            }
        }
    };
    match runtime.block_on(push_all(&image, &to, a.insecure, &progress)) {
        Ok(pushed) => {
            match a.format {
                Format::Json => print(&(serde_json::to_string_pretty(&pushed).unwrap_or_default() + "\n")),
                Format::Human => {
                    for p in &pushed {
                        print(&format!("{}\n", p.refs.join("\n")));
                    }
                }
            }
            ExitCode::Success
        }
        Err(e) => failed(g, "cannot push", &e),
    }
}
