//! Destination URLs → object stores. Credentials come from the standard places:
//! `AWS_*` (incl. `AWS_ENDPOINT_URL`), `GOOGLE_APPLICATION_CREDENTIALS` / workload
//! identity, `AZURE_*`. Options add an endpoint and plain HTTP for S3-compatible servers.

use std::sync::Arc;
use std::time::Duration;

use object_store::ObjectStore;
use object_store::path::Path as StorePath;

use super::BucketError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    S3,
    Gcs,
    Azure,
    File,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub scheme: Scheme,
    /// Bucket/container name; the folder path for `file://`.
    pub bucket: String,
    /// Key prefix inside the bucket, without leading or trailing `/` (may be empty).
    pub prefix: String,
    pub url: String,
}

#[derive(Debug, Clone, Default)]
pub struct StoreOptions {
    pub endpoint: Option<String>,
    pub allow_http: bool,
    pub region: Option<String>,
}

impl Location {
    pub fn parse(url: &str) -> Result<Location, BucketError> {
        let bad = |why: &str| BucketError::Input(format!("`{url}` is not a bucket URL: {why}"));
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("expected gs://, s3://, az:// or file://"))?;
        let scheme = match scheme {
            "s3" | "s3a" => Scheme::S3,
            "gs" => Scheme::Gcs,
            "az" | "azure" | "abfs" => Scheme::Azure,
            "file" => Scheme::File,
            other => return Err(bad(&format!("unknown scheme `{other}`; expected gs, s3, az or file"))),
        };
        if scheme == Scheme::File {
            if rest.is_empty() {
                return Err(bad("no folder"));
            }
            return Ok(Location {
                scheme,
                bucket: rest.trim_end_matches('/').to_owned(),
                prefix: String::new(),
                url: url.to_owned(),
            });
        }
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(bad("no bucket name"));
        }
        if !bucket.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
            return Err(bad(&format!("`{bucket}` is not a valid bucket name")));
        }
        let prefix = prefix.trim_matches('/');
        if prefix.split('/').any(|seg| seg == ".." || seg == "." || seg.is_empty() && !prefix.is_empty())
            || StorePath::parse(prefix).is_err()
        {
            return Err(bad("`.` and `..` are not allowed in the prefix"));
        }
        Ok(Location { scheme, bucket: bucket.to_owned(), prefix: prefix.to_owned(), url: url.to_owned() })
    }

    /// The key of a relative path under the prefix.
    pub fn key(&self, rel: &str) -> String {
        if self.prefix.is_empty() { rel.to_owned() } else { format!("{}/{rel}", self.prefix) }
    }

    pub fn prefix_path(&self) -> Option<StorePath> {
        // Validated by `parse` (no `.`/`..`); `Path::parse` keeps unicode as written.
        (!self.prefix.is_empty())
            .then(|| StorePath::parse(&self.prefix).unwrap_or_else(|_| StorePath::from(self.prefix.as_str())))
    }

    /// For `file://`: the store is rooted at the deepest folder that exists and the rest
    /// becomes the key prefix, so that planning creates nothing (uploads create the
    /// folders they need). Other schemes are returned as they are.
    pub fn resolve_local(&self) -> Location {
        if self.scheme != Scheme::File {
            return self.clone();
        }
        // Absolute first: walking up a relative path ends at "" and the remainder would be
        // lost — the working directory itself would become the bucket.
        let full = std::path::absolute(&self.bucket).unwrap_or_else(|_| std::path::PathBuf::from(&self.bucket));
        let mut root = full.as_path();
        while !root.is_dir() {
            match root.parent() {
                Some(p) => root = p,
                None => break,
            }
        }
        let rest = full.strip_prefix(root).map(|r| r.to_string_lossy().replace('\\', "/")).unwrap_or_default();
        Location { bucket: root.display().to_string(), prefix: rest.trim_matches('/').to_owned(), ..self.clone() }
    }

    /// Builds the store. Pure configuration: no request is made here.
    pub fn store(&self, opts: &StoreOptions) -> Result<Arc<dyn ObjectStore>, BucketError> {
        let retry = object_store::RetryConfig {
            max_retries: 5,
            retry_timeout: Duration::from_secs(120),
            backoff: object_store::BackoffConfig {
                init_backoff: Duration::from_millis(200),
                max_backoff: Duration::from_secs(10),
                base: 2.0,
            },
        };
        let client = object_store::ClientOptions::new().with_allow_http(opts.allow_http);
        let err = |e: object_store::Error| BucketError::Input(format!("cannot configure {}: {e}", self.url));
        Ok(match self.scheme {
            Scheme::S3 => {
                let mut b = object_store::aws::AmazonS3Builder::from_env()
                    .with_bucket_name(&self.bucket)
                    .with_retry(retry)
                    .with_client_options(client);
                if let Some(e) = &opts.endpoint {
                    b = b.with_endpoint(e).with_virtual_hosted_style_request(false);
                }
                if let Some(r) = &opts.region {
                    b = b.with_region(r);
                }
                if opts.allow_http {
                    b = b.with_allow_http(true);
                }
                Arc::new(b.build().map_err(err)?)
            }
            Scheme::Gcs => {
                let b = object_store::gcp::GoogleCloudStorageBuilder::from_env()
                    .with_bucket_name(&self.bucket)
                    .with_retry(retry)
                    .with_client_options(client);
                Arc::new(b.build().map_err(err)?)
            }
            Scheme::Azure => {
                let b = object_store::azure::MicrosoftAzureBuilder::from_env()
                    .with_container_name(&self.bucket)
                    .with_retry(retry)
                    .with_client_options(client);
                Arc::new(b.build().map_err(err)?)
            }
            Scheme::File => {
                let dir = std::path::Path::new(&self.bucket);
                Arc::new(
                    object_store::local::LocalFileSystem::new_with_prefix(dir)
                        .map_err(err)?
                        .with_automatic_cleanup(true),
                )
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bucket_urls() {
        let l = Location::parse("gs://composer-bucket/dags/").expect("gs");
        assert_eq!((l.scheme, l.bucket.as_str(), l.prefix.as_str()), (Scheme::Gcs, "composer-bucket", "dags"));
        assert_eq!(l.key("a/b.py"), "dags/a/b.py");
        let l = Location::parse("s3://airflow").expect("s3");
        assert_eq!((l.scheme, l.prefix.as_str(), l.key("x.py").as_str()), (Scheme::S3, "", "x.py"));
        assert_eq!(Location::parse("az://container/p").expect("az").scheme, Scheme::Azure);
        assert_eq!(Location::parse("file:///tmp/bucket/").expect("file").bucket, "/tmp/bucket");
        for bad in ["dags/", "ftp://x/y", "gs:///dags", "s3://b/../etc", "gs://bad bucket/x"] {
            assert!(Location::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn building_a_gcs_store_makes_no_request() {
        // With no credentials configured, the builder defers to workload identity (the
        // metadata server), which is only contacted when a request is made.
        let l = Location::parse("gs://composer-bucket/dags").expect("gs");
        assert!(l.store(&StoreOptions::default()).is_ok());
        assert_eq!(l.prefix_path().map(|p| p.to_string()).as_deref(), Some("dags"));
    }
}
