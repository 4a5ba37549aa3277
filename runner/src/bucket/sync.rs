//! Executing a plan: uploads (several at once, with retries), and deletes only after
//! every upload succeeded.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use futures::StreamExt;
use object_store::path::Path as StorePath;
use object_store::{Attribute, Attributes, ObjectStore, PutOptions, PutPayload};

use super::BucketError;
use super::diff::{PlannedUpload, SHA_METADATA, SyncPlan, describe};
use super::location::{Location, Scheme};
use super::source::{PART_SIZE, hash_bytes, sha256_hex};

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SyncSummary {
    pub uploaded: usize,
    pub deleted: usize,
    pub unchanged: usize,
    pub bytes: u64,
    /// Requests shipgate issued: list pages, comparisons, uploads (multipart: start,
    /// parts, complete), deletes (S3 deletes up to 1,000 keys a request).
    pub requests: usize,
}

const ATTEMPTS: u32 = 4;

/// Uploads in `phases` order (all of phase 0, then phase 1, …) with at most
/// `concurrency` at once, then deletes. `progress` receives human progress lines.
pub async fn execute_plan(
    store: Arc<dyn ObjectStore>,
    loc: &Location,
    plan: &SyncPlan,
    phases: Vec<Vec<PlannedUpload>>,
    concurrency: usize,
    progress: &(dyn Fn(String) + Send + Sync),
) -> Result<SyncSummary, BucketError> {
    let requests = Arc::new(AtomicUsize::new(plan.list_requests + plan.compare_requests));
    let done = Arc::new(AtomicUsize::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let total = plan.uploads.len();
    for phase in phases {
        let results: Vec<Result<(), BucketError>> = futures::stream::iter(phase.into_iter().map(|u| {
            let (store, requests, done, bytes) = (store.clone(), requests.clone(), done.clone(), bytes.clone());
            let scheme = loc.scheme;
            async move {
                upload_with_retries(&store, scheme, &u, &requests).await?;
                bytes.fetch_add(u.size, Ordering::Relaxed);
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                Ok::<_, BucketError>(n)
            }
        }))
        .buffer_unordered(concurrency.max(1))
        .map(|r| {
            if let Ok(n) = &r
                && (*n == total || n % 100 == 0)
            {
                progress(format!("uploaded {n}/{total} files"));
            }
            r.map(|_| ())
        })
        .collect()
        .await;
        if let Some(err) = results.into_iter().find_map(Result::err) {
            // Nothing is deleted after a failed upload.
            return Err(err);
        }
    }
    let deleted = if plan.deletes.is_empty() {
        0
    } else {
        let paths =
            plan.deletes.iter().map(|k| StorePath::parse(k).map_err(object_store::Error::from)).collect::<Vec<_>>();
        let batches = match loc.scheme {
            super::Scheme::S3 => plan.deletes.len().div_ceil(1000),
            _ => plan.deletes.len(),
        };
        requests.fetch_add(batches, Ordering::Relaxed);
        let results: Vec<_> = store.delete_stream(futures::stream::iter(paths).boxed()).collect().await;
        let mut n = 0;
        for r in results {
            match r {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => n += 1,
                Err(e) => return Err(BucketError::Remote(format!("cannot delete from {}: {}", loc.url, describe(&e)))),
            }
        }
        progress(format!("deleted {n} objects"));
        n
    };
    Ok(SyncSummary {
        uploaded: done.load(Ordering::Relaxed),
        deleted,
        unchanged: plan.unchanged,
        bytes: bytes.load(Ordering::Relaxed),
        requests: requests.load(Ordering::Relaxed),
    })
}

async fn upload_with_retries(
    store: &Arc<dyn ObjectStore>,
    scheme: Scheme,
    u: &PlannedUpload,
    requests: &AtomicUsize,
) -> Result<(), BucketError> {
    // Re-read and re-hash: the file must still be what was planned.
    let data = std::fs::read(&u.file.path)
        .map_err(|e| BucketError::Input(format!("cannot read {}: {e}", u.file.path.display())))?;
    if hash_bytes(&u.rel, &u.file.path, &data).md5_hex != u.file.md5_hex {
        return Err(BucketError::Input(format!("{} changed while syncing; run the sync again", u.file.path.display())));
    }
    let sha = sha256_hex(&data);
    let path = StorePath::parse(&u.key)
        .map_err(|e| BucketError::Input(format!("`{}` cannot be an object key: {e}", u.key)))?;
    let mut attempt = 1;
    loop {
        match upload_once(store, scheme, &path, &data, &sha, requests).await {
            Ok(()) => return Ok(()),
            Err(e) if attempt < ATTEMPTS && !matches!(e, object_store::Error::NotFound { .. }) => {
                let delay = Duration::from_millis(250 * (1 << attempt));
                tracing::debug!("upload of {} failed ({}), retrying in {delay:?}", u.key, describe(&e));
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            Err(e) => return Err(BucketError::Remote(format!("cannot upload {}: {}", u.key, describe(&e)))),
        }
    }
}

async fn upload_once(
    store: &Arc<dyn ObjectStore>,
    scheme: Scheme,
    path: &StorePath,
    data: &[u8],
    sha: &str,
    requests: &AtomicUsize,
) -> Result<(), object_store::Error> {
    let mut attributes = Attributes::new();
    if scheme != Scheme::File {
        attributes.insert(Attribute::Metadata(SHA_METADATA.into()), sha.to_owned().into());
    }
    if (data.len() as u64) <= PART_SIZE {
        requests.fetch_add(1, Ordering::Relaxed);
        let opts = PutOptions { attributes, ..PutOptions::default() };
        store.put_opts(path, PutPayload::from(data.to_vec()), opts).await?;
        return Ok(());
    }
    let opts = object_store::PutMultipartOptions { attributes, ..Default::default() };
    let mut upload = store.put_multipart_opts(path, opts).await?;
    requests.fetch_add(2, Ordering::Relaxed);
    for part in data.chunks(usize::try_from(PART_SIZE).unwrap_or(usize::MAX)) {
        requests.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = upload.put_part(PutPayload::from(part.to_vec())).await {
            let _ = upload.abort().await;
            return Err(e);
        }
    }
    upload.complete().await?;
    Ok(())
}
