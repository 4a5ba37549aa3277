//! `uses: image.build` and `uses: image.push` (see `crate::image`).

use super::{BoxFuture, Step, StepContext, StepError, StepKind, read_options};
use crate::diag::Diagnostic;
use crate::exec::process::Stream;
use crate::image::ImageError;
use crate::image::docker;
use crate::image::native::{self, BuildSpec};
use crate::image::options::{Build, BuildWith, PushWith};
use crate::image::reference::ImageRef;
use crate::image::registry::{self, Source};
use crate::yaml::{Node, Span};

fn step_error(e: ImageError) -> StepError {
    match e {
        ImageError::Input(m) => StepError::Failed(m),
        ImageError::Registry(m) => StepError::Infrastructure(m),
    }
}

/// Reads `with:` into `T` and checks it with `check`; every problem is a diagnostic.
fn load<T: serde::de::DeserializeOwned, U>(
    kind: &str,
    with: Option<&Node>,
    at: Span,
    example: &str,
    check: impl Fn(&T) -> Result<U, Vec<String>>,
) -> (Option<U>, Vec<Diagnostic>) {
    let Some(with) = with else {
        return (None, vec![Diagnostic::error(at, format!("{kind} needs `with:`")).with_help(example.to_owned())]);
    };
    let (opts, mut diags) = read_options::<T>(kind, "image", with);
    let Some(opts) = opts else { return (None, diags) };
    match check(&opts) {
        Ok(v) => (Some(v), diags),
        Err(problems) => {
            diags.extend(problems.into_iter().map(|p| {
                Diagnostic::error(with.span, format!("{kind}: {p}")).with_help("see `shipgate image --help`")
            }));
            (None, diags)
        }
    }
}

#[derive(Debug)]
pub struct ImageBuild;

const BUILD_EXAMPLE: &str = "e.g. `with: { copy: [{ from: target/release/api, to: /app/api, mode: \"0755\" }], entrypoint: [/app/api], tags: [api] }`";

impl StepKind for ImageBuild {
    fn name(&self) -> &'static str {
        "image.build"
    }

    fn outputs(&self) -> &'static [&'static str] {
        &["image", "digest"]
    }

    fn validate(&self, with: Option<&Node>, at: Span) -> Vec<Diagnostic> {
        load::<BuildWith, _>(self.name(), with, at, BUILD_EXAMPLE, BuildWith::to_build).1
    }

    fn options_schema(&self, generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        generator.subschema_for::<BuildWith>()
    }

    fn build(&self, with: Option<&Node>) -> Result<Box<dyn Step>, Vec<Diagnostic>> {
        match load::<BuildWith, _>(self.name(), with, Span::default(), BUILD_EXAMPLE, BuildWith::to_build) {
            (Some(build), d) if d.is_empty() => Ok(Box::new(BuildStep { build })),
            (_, d) => Err(d),
        }
    }
}

#[derive(Debug)]
pub struct BuildStep {
    pub build: Build,
}

pub fn layer_lines(layers: &[native::LayerInfo]) -> Vec<String> {
    layers
        .iter()
        .map(|l| format!("layer {} → {}: {} files, {} bytes, {}", l.from, l.to, l.files, l.size, l.digest))
        .collect()
}

/// What a native build would make: its layers with their digests.
async fn plan_native(spec: &BuildSpec) -> Vec<String> {
    let owned = spec.clone();
    let layers = tokio::task::spawn_blocking(move || native::plan_layers(&owned)).await;
    let base = spec.base.as_ref().map_or_else(|| "scratch".to_owned(), ImageRef::display);
    let mut lines = vec![format!("would build natively from {base} into oci:{}", spec.output.display())];
    match layers {
        Ok(Ok(layers)) => lines.extend(layer_lines(&layers)),
        Ok(Err(e)) => lines.push(format!("would fail: {e}")),
        Err(e) => lines.push(format!("would fail: {e}")),
    }
    lines
}

/// What a docker build would send: the context after `.dockerignore`.
pub fn plan_docker(spec: &docker::DockerSpec) -> Vec<String> {
    match docker::context_tar(&spec.context, &spec.dockerfile) {
        Ok(tar) => vec![format!(
            "would build {} with the Docker Engine (context {}: {} bytes after .dockerignore), tagged {}",
            spec.context.join(&spec.dockerfile).display(),
            spec.context.display(),
            tar.len(),
            if spec.tags.is_empty() { "(untagged)".to_owned() } else { spec.tags.join(", ") }
        )],
        Err(e) => vec![format!("would fail: {e}")],
    }
}

impl Step for BuildStep {
    fn plan(&self) -> BoxFuture<'_, Vec<String>> {
        Box::pin(async move {
            match &self.build {
                Build::Native(spec) => plan_native(spec).await,
                Build::Docker(spec) => plan_docker(spec),
            }
        })
    }

    fn run<'a>(&'a self, ctx: &'a mut StepContext) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async move {
            let (image, digest) = match &self.build {
                Build::Native(spec) => {
                    let built = native::build(spec).await.map_err(step_error)?;
                    for line in layer_lines(&built.layers) {
                        (ctx.emit)(Stream::Stdout, line);
                    }
                    (built.image, built.digest)
                }
                Build::Docker(spec) => {
                    // The build log streams into the step's output as it comes.
                    let emit = std::sync::Mutex::new(&mut ctx.emit);
                    let log = |line: String| {
                        if let Ok(mut e) = emit.lock() {
                            (*e)(Stream::Stdout, line);
                        }
                    };
                    let built = docker::build(spec, &log).await.map_err(step_error)?;
                    (built.image, built.id)
                }
            };
            (ctx.emit)(Stream::Stdout, format!("built {image} ({digest})"));
            ctx.outputs.insert("image".into(), image);
            ctx.outputs.insert("digest".into(), digest);
            Ok(())
        })
    }
}

#[derive(Debug)]
pub struct ImagePush;

const PUSH_EXAMPLE: &str =
    "e.g. `with: { image: \"${{ steps.build.outputs.image }}\", to: [registry.example.com/shop/api:1.4.2] }`";

impl StepKind for ImagePush {
    fn name(&self) -> &'static str {
        "image.push"
    }

    fn outputs(&self) -> &'static [&'static str] {
        &["digest", "ref", "uploaded", "bytes"]
    }

    fn validate(&self, with: Option<&Node>, at: Span) -> Vec<Diagnostic> {
        load::<PushWith, _>(self.name(), with, at, PUSH_EXAMPLE, |w: &PushWith| {
            w.to_refs().map(drop).or_else(|e| if e.is_empty() { Ok(()) } else { Err(e) })
        })
        .1
    }

    fn options_schema(&self, generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        generator.subschema_for::<PushWith>()
    }

    fn build(&self, with: Option<&Node>) -> Result<Box<dyn Step>, Vec<Diagnostic>> {
        // Outputs of earlier steps are only known when this one runs (plan shows placeholders).
        let check = |w: &PushWith| match w.to_refs() {
            Ok(_) => Ok(PushStep { with: w.clone() }),
            Err(e) if e.is_empty() => Ok(PushStep { with: w.clone() }),
            Err(e) => Err(e),
        };
        match load::<PushWith, _>(self.name(), with, Span::default(), PUSH_EXAMPLE, check) {
            (Some(step), d) if d.is_empty() => Ok(Box::new(step)),
            (_, d) => Err(d),
        }
    }
}

#[derive(Debug)]
pub struct PushStep {
    pub with: PushWith,
}

impl PushStep {
    fn refs(&self) -> Result<(ImageRef, Vec<ImageRef>), String> {
        self.with
            .to_refs()
            .map_err(|e| if e.is_empty() { format!("`{}` is not known yet", self.with.image) } else { e.join("; ") })
    }
}

/// What a push to each destination would do, with read-only HEADs.
pub async fn plan_push(image: &ImageRef, to: &[ImageRef], insecure: bool) -> Vec<String> {
    let src = match Source::open(image).await {
        Ok(s) => s,
        Err(e) => return vec![format!("would fail: {e}")],
    };
    let blobs = src.blobs();
    let mut lines = Vec::new();
    for dest in to {
        match dest {
            ImageRef::Layout { .. } | ImageRef::Docker(_) => {
                lines.push(format!("would copy {} ({}) to {}", image.display(), src.digest(), dest.display()))
            }
            ImageRef::Registry(r) => match registry::present_blobs(&src, r, insecure).await {
                Ok(present) => {
                    let missing: Vec<_> = blobs.iter().zip(&present).filter(|(_, p)| !**p).map(|(b, _)| b).collect();
                    let bytes: u64 = missing.iter().map(|b| b.size).sum();
                    lines.push(format!(
                        "would push {} to {}: {} of {} blobs to upload ({bytes} bytes), then the manifest",
                        src.digest(),
                        r.whole(),
                        missing.len(),
                        blobs.len()
                    ));
                    for b in missing {
                        lines.push(format!("  upload {} ({} bytes)", b.digest, b.size));
                    }
                }
                Err(e) => lines.push(format!("would push to {} (cannot look: {e})", r.whole())),
            },
        }
    }
    lines
}

/// Pushes to every destination; the first destination's `repo@digest` is the `ref`.
pub async fn push_all(
    image: &ImageRef,
    to: &[ImageRef],
    insecure: bool,
    progress: registry::ProgressFn<'_>,
) -> Result<Vec<registry::Pushed>, ImageError> {
    let src = Source::open(image).await?;
    let mut out = Vec::new();
    let mut pushed_to: Vec<&oci_client::Reference> = Vec::new();
    for dest in to {
        let mount_from = match dest {
            ImageRef::Registry(r) => pushed_to.iter().copied().find(|p| p.registry() == r.registry()),
            _ => None,
        };
        let p = registry::push(&src, dest, insecure, mount_from, progress).await?;
        if let ImageRef::Registry(r) = dest {
            pushed_to.push(r);
        }
        progress(registry::Progress::Pushed(format!(
            "pushed {} to {}: {} blobs uploaded ({} bytes), {} already there",
            p.digest,
            dest.display(),
            p.uploaded,
            p.bytes_uploaded,
            p.present
        )));
        out.push(p);
    }
    Ok(out)
}

impl Step for PushStep {
    fn plan(&self) -> BoxFuture<'_, Vec<String>> {
        Box::pin(async move {
            match self.refs() {
                Ok((image, to)) => plan_push(&image, &to, self.with.insecure).await,
                Err(_) => vec![format!(
                    "would push {} (made by an earlier step) to {}, uploading only the blobs missing there",
                    self.with.image,
                    self.with.to.join(", ")
                )],
            }
        })
    }

    fn run<'a>(&'a self, ctx: &'a mut StepContext) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async move {
            let lines = std::sync::Mutex::new(Vec::new());
            let progress = |p: registry::Progress| {
                if matches!(p, registry::Progress::Blob { uploaded: false, .. }) {
                    return;
                }
                if let Ok(mut v) = lines.lock() {
                    v.push(p.to_string());
                }
            };
            let (image, to) = self.refs().map_err(StepError::Failed)?;
            let result = push_all(&image, &to, self.with.insecure, &progress).await;
            for l in lines.into_inner().unwrap_or_default() {
                (ctx.emit)(Stream::Stdout, l);
            }
            let pushed = result.map_err(step_error)?;
            if let Some(first) = pushed.first() {
                ctx.outputs.insert("digest".into(), first.digest.clone());
                ctx.outputs.insert("ref".into(), first.refs.first().cloned().unwrap_or_default());
            }
            // Blobs and bytes uploaded, summed over the destinations (for metrics).
            let uploaded: usize = pushed.iter().map(|p| p.uploaded).sum();
            let bytes: u64 = pushed.iter().map(|p| p.bytes_uploaded).sum();
            ctx.outputs.insert("uploaded".into(), uploaded.to_string());
            ctx.outputs.insert("bytes".into(), bytes.to_string());
            Ok(())
        })
    }
}
