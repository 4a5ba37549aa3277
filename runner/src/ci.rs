//! The CI context: GitLab (`CI_*`), Jenkins (`BUILD_NUMBER`, `GIT_COMMIT`, `BRANCH_NAME`, …)
//! and GitHub Actions variables read into one set of fields, usable as `${{ ci.<field> }}`
//! and in `if:` expressions.

use std::collections::BTreeMap;

/// (field, description, variables tried in order).
pub const FIELDS: &[(&str, &str, &[&str])] = &[
    ("provider", "gitlab, jenkins, github or local", &[]),
    ("commit_sha", "the full commit SHA", &["CI_COMMIT_SHA", "GIT_COMMIT", "GITHUB_SHA"]),
    ("commit_short_sha", "the first 8 characters of the commit SHA", &["CI_COMMIT_SHORT_SHA"]),
    ("commit_timestamp", "the commit time (ISO 8601)", &["CI_COMMIT_TIMESTAMP"]),
    (
        "branch",
        "the branch being built",
        &[
            "CI_COMMIT_BRANCH",
            "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME",
            "CHANGE_BRANCH",
            "BRANCH_NAME",
            "GITHUB_HEAD_REF",
            "GITHUB_REF_NAME",
        ],
    ),
    ("tag", "the tag being built", &["CI_COMMIT_TAG", "TAG_NAME"]),
    ("default_branch", "the project's default branch", &["CI_DEFAULT_BRANCH"]),
    (
        "pipeline_source",
        "what started the pipeline (push, merge_request_event, schedule, …)",
        &["CI_PIPELINE_SOURCE", "GITHUB_EVENT_NAME"],
    ),
    ("merge_request_iid", "the merge/pull request number", &["CI_MERGE_REQUEST_IID", "CHANGE_ID"]),
    (
        "target_branch",
        "the merge request's target branch",
        &["CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "CHANGE_TARGET", "GITHUB_BASE_REF"],
    ),
    ("pipeline_id", "the CI pipeline/build id", &["CI_PIPELINE_ID", "BUILD_ID", "GITHUB_RUN_ID"]),
    ("pipeline_url", "a link to the pipeline/build", &["CI_PIPELINE_URL", "BUILD_URL"]),
    ("job_url", "a link to the job", &["CI_JOB_URL", "BUILD_URL"]),
    ("build_number", "the build number", &["CI_PIPELINE_IID", "BUILD_NUMBER", "GITHUB_RUN_NUMBER"]),
    ("project", "the project path or job name", &["CI_PROJECT_PATH", "JOB_NAME", "GITHUB_REPOSITORY"]),
    ("project_url", "the project's web or clone URL", &["CI_PROJECT_URL", "GIT_URL"]),
    ("is_merge_request", "`true` in merge/pull request pipelines, else `false`", &[]),
];

#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(transparent)]
pub struct CiContext {
    values: BTreeMap<&'static str, String>,
}

impl CiContext {
    /// Reads the context from a variable lookup (the process environment in production).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| get(name).filter(|v| !v.is_empty());
        let mut values = BTreeMap::new();
        for (field, _, vars) in FIELDS {
            if let Some(v) = vars.iter().find_map(|v| get(v)) {
                values.insert(*field, v);
            }
        }
        let provider = if get("GITLAB_CI").is_some() {
            "gitlab"
        } else if get("JENKINS_URL").is_some() || get("JENKINS_HOME").is_some() {
            "jenkins"
        } else if get("GITHUB_ACTIONS").is_some() {
            "github"
        } else {
            "local"
        };
        values.insert("provider", provider.into());
        if !values.contains_key("commit_short_sha")
            && let Some(sha) = values.get("commit_sha")
        {
            let short: String = sha.chars().take(8).collect();
            values.insert("commit_short_sha", short);
        }
        // Jenkins multibranch sets BRANCH_NAME=PR-12 for pull requests and CHANGE_ID.
        let is_mr = values.contains_key("merge_request_iid") || get("GITHUB_BASE_REF").is_some();
        if is_mr && !values.contains_key("pipeline_source") {
            values.insert("pipeline_source", "merge_request_event".into());
        }
        if provider == "jenkins" && !values.contains_key("pipeline_source") {
            values.insert("pipeline_source", "push".into());
        }
        if let Some(b) = values.get_mut("branch")
            && provider == "jenkins"
            && let Some(stripped) = b.strip_prefix("origin/")
        {
            *b = stripped.to_owned();
        }
        values.insert("is_merge_request", is_mr.to_string());
        CiContext { values }
    }

    pub fn from_env() -> Self {
        Self::from_lookup(|n| std::env::var(n).ok())
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.values.get(field).map(String::as_str)
    }

    pub fn is_field(field: &str) -> bool {
        FIELDS.iter().any(|(f, ..)| *f == field)
    }

    pub fn field_names() -> impl Iterator<Item = &'static str> {
        FIELDS.iter().map(|(f, ..)| *f)
    }

    pub fn is_gitlab(&self) -> bool {
        self.get("provider") == Some("gitlab")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(vars: &[(&str, &str)]) -> CiContext {
        let map: BTreeMap<String, String> = vars.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        CiContext::from_lookup(|n| map.get(n).cloned())
    }

    #[test]
    fn reads_gitlab_merge_request_pipelines() {
        let c = ctx(&[
            ("GITLAB_CI", "true"),
            ("CI_COMMIT_SHA", "0123456789abcdef"),
            ("CI_PIPELINE_SOURCE", "merge_request_event"),
            ("CI_MERGE_REQUEST_IID", "42"),
            ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "feature/x"),
        ]);
        assert_eq!(c.get("provider"), Some("gitlab"));
        assert_eq!(c.get("commit_short_sha"), Some("01234567"));
        assert_eq!(c.get("branch"), Some("feature/x"));
        assert_eq!(c.get("is_merge_request"), Some("true"));
    }

    #[test]
    fn reads_jenkins_builds() {
        let c = ctx(&[
            ("JENKINS_URL", "https://ci.example/"),
            ("BUILD_NUMBER", "17"),
            ("GIT_COMMIT", "fedcba9876543210"),
            ("BRANCH_NAME", "main"),
        ]);
        assert_eq!(c.get("provider"), Some("jenkins"));
        assert_eq!(c.get("build_number"), Some("17"));
        assert_eq!(c.get("commit_sha"), Some("fedcba9876543210"));
        assert_eq!(c.get("branch"), Some("main"));
        assert_eq!(c.get("pipeline_source"), Some("push"));
        assert_eq!(c.get("is_merge_request"), Some("false"));
    }

    #[test]
    fn local_runs_have_no_ci_values() {
        let c = ctx(&[]);
        assert_eq!(c.get("provider"), Some("local"));
        assert_eq!(c.get("commit_sha"), None);
    }
}
