//! `with:` of `image.build` and `image.push` (and the flags of `shipgate image`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

use super::docker::DockerSpec;
use super::native::{BuildSpec, CopySpec};
use super::reference::ImageRef;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Daemonless and reproducible: a base plus layers from `copy`.
    #[default]
    Native,
    /// The Docker Engine API, from a Dockerfile.
    Docker,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BuildWith {
    /// `native` (default: daemonless, reproducible) or `docker` (a Dockerfile, through the Docker Engine).
    #[serde(default)]
    pub backend: Backend,
    /// The build context (default: the working directory); `copy.from` is relative to it.
    pub context: Option<String>,
    /// docker: the Dockerfile (default: `Dockerfile` in the context).
    pub dockerfile: Option<String>,
    /// docker: `--build-arg` values.
    #[serde(default)]
    pub build_args: IndexMap<String, String>,
    /// docker: the stage to build.
    pub target: Option<String>,
    /// `os/arch[/variant]`, e.g. `linux/amd64`.
    pub platform: Option<String>,
    /// Names of the image (native: tags in the output layout; default `latest`).
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// native: `scratch` (default), `oci:DIR[:TAG]`, or an image in a registry.
    pub base: Option<String>,
    /// native: one layer per entry, `{from, to, mode}`.
    #[serde(default)]
    pub copy: Vec<CopyWith>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    #[serde(default)]
    pub env: IndexMap<String, String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    /// Ports, e.g. `8080` or `53/udp`.
    #[serde(default)]
    pub expose: Vec<String>,
    /// native: the OCI layout folder written (default: `target/shipgate-images/<name>`).
    pub output: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CopyWith {
    /// A file or folder, relative to the context.
    pub from: String,
    /// Where in the image; a trailing `/` puts a file inside that folder.
    pub to: String,
    /// Octal mode for the copied files, e.g. `"0755"`.
    pub mode: Option<String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PushWith {
    /// The image: `oci:DIR[:TAG]` (e.g. image.build's `image` output).
    pub image: String,
    /// Destinations: `REGISTRY/REPO:TAG` or `oci:DIR[:TAG]`.
    pub to: Vec<String>,
    /// Allow plain HTTP to a registry that is not on loopback.
    #[serde(default)]
    pub insecure: bool,
}

/// A value only known when the step runs: a `${…}` template, or (in a plan) the
/// placeholder of an earlier step's output.
fn templated(s: &str) -> bool {
    s.contains("${") || s.contains("<steps.")
}

fn mode(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| format!("`mode: {s}` is not an octal file mode like \"0755\""))
}

/// A build, by backend.
#[derive(Debug, Clone)]
pub enum Build {
    Native(Box<BuildSpec>),
    Docker(DockerSpec),
}

impl BuildWith {
    /// The build, or every problem with the options.
    pub fn to_build(&self) -> Result<Build, Vec<String>> {
        match self.backend {
            Backend::Native => self.to_spec().map(|s| Build::Native(Box::new(s))),
            Backend::Docker => self.to_docker().map(Build::Docker),
        }
    }

    fn to_docker(&self) -> Result<DockerSpec, Vec<String>> {
        let native_only: Vec<&str> = [
            ("base", self.base.is_some()),
            ("copy", !self.copy.is_empty()),
            ("entrypoint", self.entrypoint.is_some()),
            ("cmd", self.cmd.is_some()),
            ("env", !self.env.is_empty()),
            ("workdir", self.workdir.is_some()),
            ("user", self.user.is_some()),
            ("expose", !self.expose.is_empty()),
            ("output", self.output.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, set)| set.then_some(k))
        .collect();
        if !native_only.is_empty() {
            return Err(vec![format!(
                "{} belong{} to `backend: native`; with `backend: docker` the Dockerfile says them",
                native_only.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", "),
                if native_only.len() == 1 { "s" } else { "" }
            )]);
        }
        Ok(DockerSpec {
            context: PathBuf::from(self.context.clone().unwrap_or_else(|| ".".into())),
            dockerfile: self.dockerfile.clone().unwrap_or_else(|| "Dockerfile".into()),
            build_args: self.build_args.clone().into_iter().collect(),
            target: self.target.clone(),
            platform: self.platform.clone(),
            labels: self.labels.clone(),
            tags: self.tags.clone(),
        })
    }

    /// The native build's spec, or every problem with the options.
    pub fn to_spec(&self) -> Result<BuildSpec, Vec<String>> {
        let mut errors = Vec::new();
        for (k, set) in [
            ("dockerfile", self.dockerfile.is_some()),
            ("build_args", !self.build_args.is_empty()),
            ("target", self.target.is_some()),
        ] {
            if set {
                errors.push(format!("`{k}` belongs to `backend: docker`"));
            }
        }
        let base = match self.base.as_deref() {
            None | Some("scratch") => None,
            Some(b) if templated(b) => None,
            Some(b) => ImageRef::parse(b).map_err(|e| errors.push(format!("base: {e}"))).ok(),
        };
        if self.copy.is_empty() && self.backend == Backend::Native && base.is_none() && self.base.is_none() {
            errors.push("a native build needs `copy` entries (or a `base`)".into());
        }
        let mut copies = Vec::new();
        for c in &self.copy {
            let m =
                c.mode.as_deref().map(mode).transpose().map_err(|e| errors.push(format!("copy {}: {e}", c.from))).ok();
            if c.to.trim().is_empty() {
                errors.push(format!("copy {}: `to` is empty", c.from));
            }
            copies.push(CopySpec { from: c.from.clone().into(), to: c.to.clone(), mode: m.flatten() });
        }
        for t in &self.tags {
            if !templated(t) && (t.is_empty() || t.contains(char::is_whitespace)) {
                errors.push(format!("tag `{t}` is not a valid name"));
            }
        }
        if let Some(p) = &self.platform
            && p.split('/').count() < 2
        {
            errors.push(format!("`platform: {p}` is not OS/ARCH[/VARIANT], e.g. linux/amd64"));
        }
        for p in &self.expose {
            let port = p.split('/').next().unwrap_or_default();
            if !templated(p) && port.parse::<u16>().is_err() {
                errors.push(format!("`expose: {p}` is not PORT[/tcp|udp]"));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let name = self
            .tags
            .first()
            .map(|t| t.rsplit('/').next().unwrap_or(t).replace(':', "-"))
            .unwrap_or_else(|| "image".into());
        Ok(BuildSpec {
            base,
            context: PathBuf::from(self.context.clone().unwrap_or_else(|| ".".into())),
            copies,
            entrypoint: self.entrypoint.clone(),
            cmd: self.cmd.clone(),
            env: self.env.clone(),
            workdir: self.workdir.clone(),
            user: self.user.clone(),
            labels: self.labels.clone(),
            expose: self.expose.clone(),
            platform: self.platform.clone(),
            tags: self.tags.clone(),
            output: PathBuf::from(self.output.clone().unwrap_or_else(|| format!("target/shipgate-images/{name}"))),
        })
    }
}

impl PushWith {
    /// The source and destinations, or every problem with them.
    pub fn to_refs(&self) -> Result<(ImageRef, Vec<ImageRef>), Vec<String>> {
        let mut errors = Vec::new();
        let parse = |s: &str, errors: &mut Vec<String>| {
            if templated(s) {
                return None;
            }
            ImageRef::parse(s).map_err(|e| errors.push(e)).ok()
        };
        let image = parse(&self.image, &mut errors);
        if self.to.is_empty() {
            errors.push("`to` needs at least one destination".into());
        }
        let to: Vec<ImageRef> = self.to.iter().filter_map(|t| parse(t, &mut errors)).collect();
        if !errors.is_empty() {
            return Err(errors);
        }
        match image {
            Some(i) if to.len() == self.to.len() => Ok((i, to)),
            // Templates: checked again when the step runs.
            _ => Err(Vec::new()),
        }
    }
}
