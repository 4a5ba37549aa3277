//! The sync plan: list the destination once, compare by content, apply the guards.
//! Nothing here writes.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::TryStreamExt;
use object_store::path::Path as StorePath;
use object_store::{Attribute, GetOptions, ObjectStore};

use super::BucketError;
use super::location::{Location, Scheme};
use super::source::{LocalFile, SourceTree, sha256_hex};

/// The metadata key holding the SHA-256 of the content (`x-amz-meta-…` on S3).
pub const SHA_METADATA: &str = "shipgate-sha256";

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    New,
    Changed,
}

/// `max_delete`: a count, or a percentage of the objects under the prefix.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DeleteLimit {
    Count(usize),
    Percent(f64),
}

impl std::str::FromStr for DeleteLimit {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Some(p) = s.strip_suffix('%') {
            let v: f64 = p.trim().parse().map_err(|_| format!("`{s}` is not a percentage"))?;
            if !(0.0..=100.0).contains(&v) {
                return Err(format!("`{s}` is not between 0% and 100%"));
            }
            return Ok(DeleteLimit::Percent(v));
        }
        s.parse().map(DeleteLimit::Count).map_err(|_| format!("`{s}` is neither a count nor a percentage like `10%`"))
    }
}

impl Default for DeleteLimit {
    fn default() -> Self {
        DeleteLimit::Count(20)
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct PlannedUpload {
    pub rel: String,
    pub key: String,
    pub change: Change,
    pub size: u64,
    #[serde(skip)]
    pub file: LocalFile,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SyncPlan {
    pub uploads: Vec<PlannedUpload>,
    pub deletes: Vec<String>,
    pub unchanged: usize,
    pub upload_bytes: u64,
    /// Objects found under the destination prefix.
    pub remote_objects: usize,
    /// HEAD/GET requests made to compare objects whose ETag did not settle it.
    pub compare_requests: usize,
    /// List requests: the listing's pages (the protocol's page size is fixed).
    pub list_requests: usize,
}

/// Compares `tree` with what is under `loc`. With `delete`, objects with no local
/// counterpart are planned for deletion — refused (before any change) past `limit`.
/// Lists every object under the destination prefix (the only list of a sync).
pub async fn list_remote(
    store: &Arc<dyn ObjectStore>,
    loc: &Location,
) -> Result<Vec<object_store::ObjectMeta>, BucketError> {
    let prefix = loc.prefix_path();
    store
        .list(prefix.as_ref())
        .try_collect()
        .await
        .map_err(|e| BucketError::Remote(format!("cannot list {}: {}", loc.url, describe(&e))))
}

pub async fn plan_sync(
    store: &Arc<dyn ObjectStore>,
    loc: &Location,
    tree: &SourceTree,
    listed: Vec<object_store::ObjectMeta>,
    delete: bool,
    limit: DeleteLimit,
    excludes_protect: &(dyn Fn(&str) -> bool + Sync),
) -> Result<SyncPlan, BucketError> {
    let strip = if loc.prefix.is_empty() { String::new() } else { format!("{}/", loc.prefix) };
    let mut remote: HashMap<String, object_store::ObjectMeta> = HashMap::new();
    let listed_total = listed.len();
    for meta in listed {
        let key = meta.location.to_string();
        // Never consider anything outside the prefix, whatever the store returned.
        if let Some(rel) = key.strip_prefix(&strip) {
            remote.insert(rel.to_owned(), meta);
        }
    }
    let mut plan = SyncPlan {
        remote_objects: remote.len(),
        list_requests: list_pages(loc.scheme, listed_total),
        ..SyncPlan::default()
    };
    for f in &tree.files {
        let change = match remote.get(&f.rel) {
            None => Some(Change::New),
            Some(meta) if meta.size != f.size => Some(Change::Changed),
            Some(meta) => {
                let etag = meta.e_tag.as_deref().map(|e| e.trim_matches('"'));
                let by_etag = etag.is_some_and(|e| e == f.md5_hex || Some(e) == f.multipart_etag.as_deref());
                if by_etag {
                    None
                } else {
                    plan.compare_requests += 1;
                    (!same_content(store, loc, &meta.location, f).await?).then_some(Change::Changed)
                }
            }
        };
        match change {
            Some(change) => {
                plan.upload_bytes += f.size;
                plan.uploads.push(PlannedUpload {
                    rel: f.rel.clone(),
                    key: loc.key(&f.rel),
                    change,
                    size: f.size,
                    file: f.clone(),
                });
            }
            None => plan.unchanged += 1,
        }
    }
    if delete {
        let local: HashSet<&str> = tree.files.iter().map(|f| f.rel.as_str()).collect();
        let mut deletes: Vec<String> =
            remote.keys().filter(|rel| !local.contains(rel.as_str()) && !excludes_protect(rel)).cloned().collect();
        deletes.sort();
        let allowed = match limit {
            DeleteLimit::Count(n) => n,
            DeleteLimit::Percent(p) => ((plan.remote_objects as f64) * p / 100.0).floor() as usize,
        };
        if deletes.len() > allowed {
            let shown = deletes.iter().take(5).map(|d| format!("`{d}`")).collect::<Vec<_>>().join(", ");
            return Err(BucketError::Input(format!(
                "the sync would delete {} of {} objects under {} (e.g. {shown}), more than max_delete allows ({}); nothing was changed. If that is intended, raise `max_delete`",
                deletes.len(),
                plan.remote_objects,
                loc.url,
                match limit {
                    DeleteLimit::Count(n) => n.to_string(),
                    DeleteLimit::Percent(p) => format!("{p}% = {allowed}"),
                }
            )));
        }
        plan.deletes = deletes.into_iter().map(|rel| loc.key(&rel)).collect();
    }
    Ok(plan)
}

/// Pages of a listing of `n` objects: S3 and GCS return at most 1,000 keys a page,
/// Azure 5,000; a local folder is not listed over the network.
pub fn list_pages(scheme: Scheme, n: usize) -> usize {
    match scheme {
        Scheme::S3 | Scheme::Gcs => n.div_ceil(1000).max(1),
        Scheme::Azure => n.div_ceil(5000).max(1),
        Scheme::File => 1,
    }
}

/// The ETag did not decide it: compare the stored SHA-256 (metadata) or, for local
/// folders, the content itself.
async fn same_content(
    store: &Arc<dyn ObjectStore>,
    loc: &Location,
    path: &StorePath,
    f: &LocalFile,
) -> Result<bool, BucketError> {
    let fail =
        |e: object_store::Error| BucketError::Remote(format!("cannot read {path} in {}: {}", loc.url, describe(&e)));
    let local =
        std::fs::read(&f.path).map_err(|e| BucketError::Input(format!("cannot read {}: {e}", f.path.display())))?;
    if loc.scheme == Scheme::File {
        let bytes = store.get_opts(path, GetOptions::default()).await.map_err(fail)?.bytes().await.map_err(fail)?;
        return Ok(bytes.as_ref() == local.as_slice());
    }
    let head = store.get_opts(path, GetOptions { head: true, ..GetOptions::default() }).await.map_err(fail)?;
    let stored = head.attributes.get(&Attribute::Metadata(SHA_METADATA.into())).map(|v| v.as_ref().to_owned());
    Ok(stored.as_deref() == Some(sha256_hex(&local).as_str()))
}

/// object_store errors, without the request URLs' query strings (signatures).
pub fn describe(e: &object_store::Error) -> String {
    let text = e.to_string();
    match e {
        object_store::Error::NotFound { .. } => "not found (does the bucket exist?)".into(),
        _ => text.split('?').next().unwrap_or(&text).to_owned(),
    }
}
