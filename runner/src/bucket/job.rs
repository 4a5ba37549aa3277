//! A whole sync as `shipgate sync` and `uses: bucket.sync` run it: check the source,
//! plan against the destination, then (unless planning) upload and delete.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;

use super::BucketError;
use super::dags;
use super::diff::{DeleteLimit, SyncPlan, plan_sync};
use super::location::{Location, StoreOptions};
use super::source::{IgnoreSyntax, SourceTree, scan};
use super::sync::{SyncSummary, execute_plan};

/// Options of `bucket.sync` (and the flags of `shipgate sync`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncOptions {
    /// The local folder to mirror.
    pub from: String,
    /// `gs://bucket/prefix`, `s3://bucket/prefix`, `az://container/prefix` or `file://folder`.
    pub to: String,
    /// Delete objects under the prefix that have no local file (after all uploads succeeded).
    #[serde(default)]
    pub delete: bool,
    /// Refuse (before any change) to delete more than this: a count (default 20) or a percentage like `10%`.
    pub max_delete: Option<String>,
    /// Airflow DAG folder: syntax-check every `.py` first, refuse a folder without `.py` files, upload helpers before DAGs.
    #[serde(default)]
    pub dags: bool,
    /// Globs to leave out (`__pycache__/` and `*.pyc` always are); `.airflowignore` files apply too.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// A command run in the source folder before anything is uploaded (e.g. a DagBag import test).
    pub validate_command: Option<String>,
    /// Uploads at once (default 16).
    pub concurrency: Option<usize>,
    /// S3-compatible endpoint (MinIO, …); `AWS_ENDPOINT_URL` is read too.
    pub endpoint: Option<String>,
    /// Plain HTTP to the endpoint (automatic for loopback endpoints).
    #[serde(default)]
    pub allow_http: bool,
    /// S3 region (else `AWS_REGION` / `AWS_DEFAULT_REGION`).
    pub region: Option<String>,
}

impl SyncOptions {
    pub fn delete_limit(&self) -> Result<DeleteLimit, BucketError> {
        match &self.max_delete {
            None => Ok(DeleteLimit::default()),
            Some(s) => s.parse().map_err(|e| BucketError::Input(format!("max_delete: {e}"))),
        }
    }

    pub fn store_options(&self) -> StoreOptions {
        let endpoint =
            self.endpoint.clone().or_else(|| std::env::var("AWS_ENDPOINT_URL").ok().filter(|e| !e.is_empty()));
        let allow_http = self.allow_http || endpoint.as_deref().is_some_and(is_loopback_http);
        StoreOptions { endpoint, allow_http, region: self.region.clone() }
    }
}

/// `http://127.0.0.1:9000`, `http://localhost`, `http://[::1]` — plain HTTP is fine there.
pub fn is_loopback_http(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else { return false };
    let host = rest.split('/').next().unwrap_or_default();
    let host = if host.starts_with('[') {
        host.split(']').next().map(|h| &h[1..]).unwrap_or_default()
    } else {
        host.split(':').next().unwrap_or_default()
    };
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[derive(Debug)]
pub struct Prepared {
    pub tree: SourceTree,
    pub location: Location,
    pub plan: SyncPlan,
    pub python_files: usize,
}

/// Everything up to the plan (reads only): source checks, listing, comparison.
pub async fn prepare(opts: &SyncOptions, base: &std::path::Path) -> Result<Prepared, BucketError> {
    let location = Location::parse(&opts.to)?.resolve_local();
    let limit = opts.delete_limit()?;
    let root: PathBuf = base.join(&opts.from);
    let store = location.store(&opts.store_options())?;
    // The listing (network) and the local scan and hashing (disk, CPU) overlap.
    let scan_root = root.clone();
    let excludes = opts.exclude.clone();
    let scanning = tokio::task::spawn_blocking(move || scan(&scan_root, &excludes, IgnoreSyntax::from_env()));
    let (listed, tree) = tokio::join!(super::diff::list_remote(&store, &location), scanning);
    // Source errors come first: they are the user's to fix, and nothing was changed.
    let tree = tree.map_err(|e| BucketError::Input(format!("scanning the source failed: {e}")))??;
    let listed = listed?;
    let mut python_files = 0;
    if opts.dags {
        if let Some(cmd) = &opts.validate_command {
            dags::run_validate_command(&root, cmd)?;
        }
        python_files = dags::check_syntax(&tree)?;
    } else if let Some(cmd) = &opts.validate_command {
        dags::run_validate_command(&root, cmd)?;
    }
    let excluded: std::collections::HashSet<String> = tree.excluded.iter().cloned().collect();
    let protect =
        |rel: &str| excluded.contains(rel) || rel.split('/').any(|seg| seg == "__pycache__") || rel.ends_with(".pyc");
    let plan = plan_sync(&store, &location, &tree, listed, opts.delete, limit, &protect).await?;
    Ok(Prepared { tree, location, plan, python_files })
}

/// Runs the whole sync.
pub async fn run(
    opts: &SyncOptions,
    base: &std::path::Path,
    progress: &(dyn Fn(String) + Send + Sync),
) -> Result<(Prepared, SyncSummary), BucketError> {
    let prepared = prepare(opts, base).await?;
    let store = prepared.location.store(&opts.store_options())?;
    let phases = dags::phases(&prepared.plan.uploads, opts.dags);
    progress(format!(
        "{} to upload ({} bytes), {} to delete, {} unchanged",
        prepared.plan.uploads.len(),
        prepared.plan.upload_bytes,
        prepared.plan.deletes.len(),
        prepared.plan.unchanged
    ));
    let summary =
        execute_plan(store, &prepared.location, &prepared.plan, phases, opts.concurrency.unwrap_or(16), progress)
            .await?;
    Ok((prepared, summary))
}

/// The exact plan as lines, for `plan` and `--dry-run`.
pub fn plan_lines(p: &Prepared) -> Vec<String> {
    let mut lines = vec![format!(
        "sync {} → {}: {} to upload ({} new, {} changed, {} bytes), {} to delete, {} unchanged",
        p.tree.root.display(),
        p.location.url,
        p.plan.uploads.len(),
        p.plan.uploads.iter().filter(|u| u.change == super::Change::New).count(),
        p.plan.uploads.iter().filter(|u| u.change == super::Change::Changed).count(),
        p.plan.upload_bytes,
        p.plan.deletes.len(),
        p.plan.unchanged
    )];
    if p.python_files > 0 {
        lines.push(format!("DAG check: {} .py files compile", p.python_files));
    }
    for u in &p.plan.uploads {
        let what = if u.change == super::Change::New { "upload (new)" } else { "upload (changed)" };
        lines.push(format!("{what} {} ({} bytes)", u.rel, u.size));
    }
    // Paths are shown relative to the destination named in the first line.
    let strip = if p.location.prefix.is_empty() { String::new() } else { format!("{}/", p.location.prefix) };
    for d in &p.plan.deletes {
        lines.push(format!("delete {}", d.strip_prefix(&strip).unwrap_or(d)));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_for_loopback() {
        assert!(is_loopback_http("http://127.0.0.1:9000"));
        assert!(is_loopback_http("http://localhost:5000/x"));
        assert!(is_loopback_http("http://[::1]:9000"));
        assert!(!is_loopback_http("http://minio.internal:9000"));
        assert!(!is_loopback_http("https://127.0.0.1:9000"));
    }
}
