//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::report::ReportSpec;
use crate::style::ColorChoice;

const EXAMPLES: &str = "\
Examples:
  shipgate run pipelines/release.yaml --report junit=junit.xml --report json=run.json
  shipgate plan pipelines/release.yaml            # what would happen; changes nothing
  shipgate validate pipelines/*.yaml              # check files, report every error
  shipgate schema --check                         # the committed JSON Schema is current

Exit codes:
  0 success · 1 a step failed or the gate denied · 2 usage/pipeline/config error (nothing ran)
  3 infrastructure error · 130 interrupted (SIGINT) · 143 terminated (SIGTERM)";

/// GitOps CI/CD pipeline runner and policy gate.
#[derive(Debug, Parser)]
#[command(name = "shipgate", version, about, after_help = EXAMPLES, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// More log output (-v debug, -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors and failing steps.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Colour on stderr (also off with NO_COLOR).
    #[arg(long, global = true, value_enum, default_value_t)]
    pub color: ColorChoice,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a pipeline.
    #[command(
        after_help = "Examples:\n  shipgate run pipelines/demo.yaml\n  shipgate run pipelines/release.yaml --jobs 4 --report junit=junit.xml\n  shipgate run pipelines/release.yaml --dry-run --format json"
    )]
    Run(RunArgs),
    /// Show what a run would do, in execution order, and change nothing.
    #[command(
        after_help = "Examples:\n  shipgate plan pipelines/release.yaml\n  shipgate plan pipelines/release.yaml --format json | jq '.steps[].id'"
    )]
    Plan(PlanArgs),
    /// Check pipeline files and report every error with file:line:col.
    #[command(
        after_help = "Examples:\n  shipgate validate pipelines/*.yaml\n  shipgate validate --format json pipelines/release.yaml"
    )]
    Validate(ValidateArgs),
    /// Mirror a folder to a bucket by content (the `bucket.sync` step).
    #[command(
        after_help = "Examples:\n  shipgate sync dags/ gs://composer-bucket/dags --dags --delete\n  shipgate sync dags/ s3://airflow/dags --endpoint http://127.0.0.1:9000 --dry-run\n  shipgate sync build/site file:///srv/www --delete --max-delete 10%"
    )]
    Sync(SyncArgs),
    /// Edit the GitOps repository and push (the `gitops.bump` step).
    #[command(
        after_help = "Examples:\n  shipgate bump https://gitlab.example.com/platform/gitops.git --set apps/api/values.yaml:image.tag=v1.4.2\n  shipgate bump git@gitlab.example.com:platform/gitops.git --image reg.example.com/shop/api@sha256:… --dry-run\n  shipgate bump ../gitops --set 'apps/api/deploy.yaml:spec.template.spec.containers[name=api].image=shop/api:1.2' --doc Deployment/api"
    )]
    Bump(BumpArgs),
    /// Build images (natively, no daemon) and push them to registries (`image.build`, `image.push`).
    #[command(subcommand)]
    Image(ImageCommand),
    /// Check manifests and IAM against policy: the pre-merge gate (`policy.check`).
    #[command(
        after_help = "Examples:\n  shipgate check deploy/ iam/ infra/plan.json\n  kubectl kustomize overlays/prod | shipgate check -\n  shipgate check deploy/ --policy policy/ --namespace main --format json\n\nExit codes: 0 passed · 1 denied · 2 unreadable input, broken policy or bad options"
    )]
    Check(CheckArgs),
    /// Policy tools: run the `test_*` rules of Rego policies.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Write a pipeline as a GitLab child pipeline, or the Grafana dashboard of --metrics.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Print the pipeline JSON Schema, or check the committed copy.
    #[command(after_help = "Examples:\n  shipgate schema > schemas/pipeline.schema.json\n  shipgate schema --check")]
    Schema(SchemaArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    #[default]
    Human,
    Json,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The pipeline file.
    pub file: PathBuf,
    /// Steps run at once (default: number of CPUs).
    #[arg(short, long, value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Resolve and print the plan; run nothing (same as `shipgate plan`).
    #[arg(long)]
    pub dry_run: bool,
    /// Plan format with --dry-run.
    #[arg(long, value_enum, default_value_t, requires = "dry_run")]
    pub format: Format,
    /// Write a report: json=PATH (run summary), junit=PATH, or dotenv=PATH (step
    /// outputs as SHIPGATE_<STEP>_<OUTPUT> for a GitLab dotenv report). Repeatable.
    #[arg(long = "report", value_name = "FORMAT=PATH")]
    pub reports: Vec<ReportSpec>,
    /// Write Prometheus text-format metrics of the run (textfile collector, Pushgateway).
    #[arg(long, value_name = "FILE")]
    pub metrics: Option<PathBuf>,
    /// After SIGTERM/SIGINT or a timeout, how long steps get before SIGKILL.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration_arg)]
    pub grace_period: std::time::Duration,
    /// Stop at the first failing step: start nothing new and cancel running steps.
    #[arg(long)]
    pub fail_fast: bool,
    /// Run only these steps (repeatable, or comma-separated), as one job of a pipeline
    /// fanned out over CI jobs: outputs of the other steps come from SHIPGATE_<STEP>_<OUTPUT>
    /// variables (an earlier job's dotenv report), their outcome from SHIPGATE_<STEP>__STATUS.
    #[arg(long, value_name = "STEP", value_delimiter = ',')]
    pub only: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The pipeline file.
    pub file: PathBuf,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Pipeline files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The local folder.
    pub from: String,
    /// gs://bucket/prefix, s3://bucket/prefix, az://container/prefix or file://folder.
    pub to: String,
    /// Delete objects under the prefix that have no local file (after all uploads).
    #[arg(long)]
    pub delete: bool,
    /// Refuse to delete more than this many objects (or a percentage like 10%).
    #[arg(long, value_name = "N|P%")]
    pub max_delete: Option<String>,
    /// Airflow DAG folder: syntax-check .py files first; helpers before DAGs.
    #[arg(long)]
    pub dags: bool,
    /// Leave out files matching this glob (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Run this command in the source folder first; abort if it fails.
    #[arg(long, value_name = "COMMAND")]
    pub validate_command: Option<String>,
    /// Uploads at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,
    /// S3-compatible endpoint (also AWS_ENDPOINT_URL).
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Allow plain HTTP to the endpoint (automatic for loopback).
    #[arg(long)]
    pub allow_http: bool,
    /// S3 region.
    #[arg(long)]
    pub region: Option<String>,
    /// Print the exact plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct BumpArgs {
    /// The repository: https://…, git@host:group/repo.git, git://… or a local path.
    pub repo: String,
    /// FILE:PATH=VALUE (repeatable); VALUE is written as a string.
    #[arg(long = "set", value_name = "FILE:PATH=VALUE")]
    pub sets: Vec<String>,
    /// In multi-document files: an index or KIND/NAME (applies to every --set).
    #[arg(long)]
    pub doc: Option<String>,
    /// NAME:TAG or NAME@DIGEST: rewrite every reference to the image repository NAME.
    #[arg(long, value_name = "REF")]
    pub image: Option<String>,
    /// Files or folders searched by --image (default: the whole repository).
    #[arg(long = "image-files", value_name = "PATH")]
    pub image_files: Vec<String>,
    #[arg(long)]
    pub branch: Option<String>,
    /// The commit message's first line.
    #[arg(long)]
    pub message: Option<String>,
    /// "Name <email>".
    #[arg(long)]
    pub author: Option<String>,
    /// Create paths that do not exist yet.
    #[arg(long)]
    pub create: bool,
    /// Show the diff and whether a commit would happen; push nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// push: commit to --branch. merge-request: push to `shipgate/<name>-<hash>` and open
    /// or update a merge request (token: GITLAB_TOKEN / GITHUB_TOKEN / GITOPS_TOKEN).
    #[arg(long, value_enum, default_value_t)]
    pub mode: crate::gitops::options::Mode,
    /// gitlab or github (default: from the repository's host).
    #[arg(long, value_enum)]
    pub forge: Option<crate::gitops::forge::Forge>,
    /// The forge API's base URL (default: from the repository's host).
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,
    /// group/project or owner/repo (default: the repository URL's path).
    #[arg(long)]
    pub project: Option<String>,
    /// The merge request's title (default: the commit message's first line).
    #[arg(long)]
    pub title: Option<String>,
    /// A label for the merge request (repeatable).
    #[arg(long = "label", value_name = "LABEL")]
    pub labels: Vec<String>,
    /// NAME in the branch `shipgate/NAME-HASH` (default: the image's name, else "bump").
    #[arg(long)]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Fail (exit 1) when the committed schema differs from this build's.
    #[arg(long, conflicts_with = "write")]
    pub check: bool,
    /// Write the schema to the file.
    #[arg(long)]
    pub write: bool,
    /// The committed schema file.
    #[arg(long, default_value = "schemas/pipeline.schema.json")]
    pub path: PathBuf,
}

fn parse_duration_arg(s: &str) -> Result<std::time::Duration, String> {
    crate::pipeline::duration::parse_duration(s)
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Build an OCI image without a daemon: a base plus one layer per --copy (reproducible).
    #[command(
        after_help = "Examples:\n  shipgate image build --copy target/release/api:/app/api:0755 --entrypoint /app/api --tag api:1.4.2 --output target/img\n  shipgate image build --base oci:target/base:latest --copy dags/:/opt/dags/ --tag dags --dry-run"
    )]
    Build(Box<ImageBuildArgs>),
    /// Push an image from an OCI layout to registries (or another layout).
    #[command(
        after_help = "Examples:\n  shipgate image push oci:target/img:api --to registry.example.com/shop/api:1.4.2\n  shipgate image push oci:target/img --to 127.0.0.1:5000/shop/api:dev --to oci:/tmp/copy:dev --dry-run"
    )]
    Push(ImagePushArgs),
}

#[derive(Debug, Args)]
pub struct ImageBuildArgs {
    /// native (default) or docker.
    #[arg(long, value_enum, default_value_t)]
    pub backend: crate::image::options::Backend,
    /// The build context; --copy sources are relative to it.
    #[arg(long)]
    pub context: Option<String>,
    /// docker: the Dockerfile, relative to the context (default Dockerfile).
    #[arg(long)]
    pub dockerfile: Option<String>,
    /// docker: NAME=VALUE build arguments (repeatable).
    #[arg(long = "build-arg", value_name = "NAME=VALUE")]
    pub build_args: Vec<String>,
    /// docker: the stage to build.
    #[arg(long)]
    pub target: Option<String>,
    /// native: scratch (default), oci:DIR[:TAG] or a registry image.
    #[arg(long)]
    pub base: Option<String>,
    /// FROM:TO[:MODE] (repeatable): one layer each.
    #[arg(long = "copy", value_name = "FROM:TO[:MODE]")]
    pub copies: Vec<String>,
    /// The entrypoint (repeat for each argument).
    #[arg(long, value_name = "ARG")]
    pub entrypoint: Vec<String>,
    /// The command (repeat for each argument).
    #[arg(long, value_name = "ARG")]
    pub cmd: Vec<String>,
    /// NAME=VALUE (repeatable).
    #[arg(long, value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    #[arg(long)]
    pub workdir: Option<String>,
    #[arg(long)]
    pub user: Option<String>,
    /// KEY=VALUE (repeatable).
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// PORT[/PROTO] (repeatable).
    #[arg(long)]
    pub expose: Vec<String>,
    /// OS/ARCH, e.g. linux/amd64.
    #[arg(long)]
    pub platform: Option<String>,
    /// A name for the image in the output layout (repeatable; default latest).
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// The OCI layout folder to write.
    #[arg(long)]
    pub output: Option<String>,
    /// Show the layers and their digests; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct ImagePushArgs {
    /// The image: oci:DIR[:TAG].
    pub image: String,
    /// A destination REGISTRY/REPO:TAG or oci:DIR[:TAG] (repeatable).
    #[arg(long = "to", value_name = "REF", required = true)]
    pub to: Vec<String>,
    /// Allow plain HTTP to a registry that is not on loopback.
    #[arg(long)]
    pub insecure: bool,
    /// Show which blobs would be uploaded (read-only requests); push nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Files or folders (recursive) of YAML/JSON, or `-` for stdin.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// A Rego file or folder of your policies (repeatable; `*_test.rego` left out).
    #[arg(short, long = "policy", value_name = "PATH")]
    pub policies: Vec<PathBuf>,
    /// A JSON/YAML file merged into `data` (repeatable).
    #[arg(short, long, value_name = "FILE")]
    pub data: Vec<PathBuf>,
    /// The namespace (package) of your policies to evaluate (repeatable; default main).
    #[arg(short, long, value_name = "NS")]
    pub namespace: Vec<String>,
    /// Evaluate every namespace of your policies.
    #[arg(long, conflicts_with = "namespace")]
    pub all_namespaces: bool,
    /// Treat every document as this type instead of detecting it.
    #[arg(long, value_enum)]
    pub input_type: Option<crate::policy::InputType>,
    /// The waiver file (default: .shipgate-waivers.yaml when it exists).
    #[arg(long, value_name = "FILE")]
    pub waivers: Option<PathBuf>,
    /// A CRD schema catalog laid out as {group}/{kind}_{version}.json (before the
    /// built-in Kubernetes schemas).
    #[arg(long, value_name = "DIR")]
    pub schema_dir: Option<PathBuf>,
    /// The least-privilege budget: per principal, the permissions it needs; every grant
    /// beyond it is a finding.
    #[arg(long, value_name = "FILE")]
    pub permissions: Option<PathBuf>,
    /// Leave the built-in library out (only --policy rules run).
    #[arg(long)]
    pub no_builtin: bool,
    /// The lowest severity that denies.
    #[arg(long, value_enum, default_value_t)]
    pub fail_on: crate::policy::Severity,
    /// The report on stdout.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// Also write a report: FORMAT=FILE (human, json, sarif, junit, gitlab; repeatable).
    #[arg(short, long, value_name = "FORMAT=FILE")]
    pub output: Vec<String>,
    /// In a merge-request pipeline: post the verdict as one comment on the merge request
    /// (GitLab, GITLAB_TOKEN) or pull request (GitHub, GITHUB_TOKEN), updated by later
    /// runs, and set the commit status `shipgate/policy`.
    #[arg(long)]
    pub comment: bool,
    /// Documents checked at once (default: the number of CPUs).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// A GitLab child pipeline: one job per step (`shipgate run FILE --only STEP`), needs
    /// mapped, outputs passed as dotenv reports; run it with `trigger:include:artifact`.
    #[command(
        after_help = "Examples:\n  shipgate export gitlab-ci pipelines/release.yaml --output shipgate-child.yml\n  shipgate export gitlab-ci pipelines/release.yaml --image registry.example.com/tools/shipgate:0.1.0"
    )]
    GitlabCi(ExportGitlabArgs),
    /// The Grafana dashboard (JSON) that reads the metrics of `shipgate run --metrics`.
    #[command(after_help = "Examples:\n  shipgate export grafana-dashboard --output shipgate-dashboard.json")]
    GrafanaDashboard(ExportOutputArgs),
}

#[derive(Debug, Args)]
pub struct ExportGitlabArgs {
    /// The pipeline file, as the jobs will find it (relative to the project directory).
    pub file: PathBuf,
    /// Write here instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The image the jobs run in (the SHIPGATE_IMAGE variable's default).
    #[arg(long, default_value = concat!("shipgate:", env!("CARGO_PKG_VERSION")))]
    pub image: String,
    /// A YAML mapping merged into the child pipeline's `default:` (tags, services,
    /// id_tokens, before_script, …).
    #[arg(long = "default", value_name = "FILE")]
    pub defaults: Option<PathBuf>,
    /// Steps that share one job, e.g. a step that writes files and the steps that read
    /// them (repeatable).
    #[arg(long, value_name = "STEP,STEP...")]
    pub together: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ExportOutputArgs {
    /// Write here instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Run the `test_*` rules of Rego files, like `opa test` (the built-in library's with no PATH).
    #[command(
        after_help = "Examples:\n  shipgate policy test policy/\n  shipgate policy test            # the built-in library's own tests"
    )]
    Test(PolicyTestArgs),
}

#[derive(Debug, Args)]
pub struct PolicyTestArgs {
    /// Rego files or folders (tests and the policies they test).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// A JSON/YAML file merged into `data` (repeatable).
    #[arg(short, long, value_name = "FILE")]
    pub data: Vec<PathBuf>,
    /// Only tests whose name contains this.
    #[arg(long)]
    pub run: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}
