//! The built-in library (`policies/`), embedded in the binary so that `shipgate check`
//! works with no flags. Tests (`*_test.rego`) are embedded too, for `shipgate policy
//! test --builtin`.

use super::engine::PolicyFile;

const LIBRARY: &[(&str, &str)] = &[
    ("policies/lib/shipgate.rego", include_str!("../../../policies/lib/shipgate.rego")),
    ("policies/kubernetes/workload.rego", include_str!("../../../policies/kubernetes/workload.rego")),
    ("policies/kubernetes/rbac.rego", include_str!("../../../policies/kubernetes/rbac.rego")),
    ("policies/kubernetes/argocd.rego", include_str!("../../../policies/kubernetes/argocd.rego")),
    ("policies/gcp/iam.rego", include_str!("../../../policies/gcp/iam.rego")),
    ("policies/gcp/role.rego", include_str!("../../../policies/gcp/role.rego")),
    ("policies/aws/iam.rego", include_str!("../../../policies/aws/iam.rego")),
    ("policies/terraform/terraform.rego", include_str!("../../../policies/terraform/terraform.rego")),
];

const TESTS: &[(&str, &str)] = &[
    ("policies/kubernetes/workload_test.rego", include_str!("../../../policies/kubernetes/workload_test.rego")),
    ("policies/kubernetes/rbac_test.rego", include_str!("../../../policies/kubernetes/rbac_test.rego")),
    ("policies/kubernetes/argocd_test.rego", include_str!("../../../policies/kubernetes/argocd_test.rego")),
    ("policies/gcp/iam_test.rego", include_str!("../../../policies/gcp/iam_test.rego")),
    ("policies/gcp/role_test.rego", include_str!("../../../policies/gcp/role_test.rego")),
    ("policies/aws/iam_test.rego", include_str!("../../../policies/aws/iam_test.rego")),
    ("policies/terraform/terraform_test.rego", include_str!("../../../policies/terraform/terraform_test.rego")),
];

fn to_files(list: &[(&str, &str)]) -> Vec<PolicyFile> {
    list.iter()
        .map(|(name, text)| PolicyFile { name: (*name).to_owned(), text: (*text).to_owned(), builtin: true })
        .collect()
}

/// The library's rules.
pub fn files() -> Vec<PolicyFile> {
    to_files(LIBRARY)
}

/// The library's own tests.
pub fn tests() -> Vec<PolicyFile> {
    to_files(TESTS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `.rego` file under `policies/` is embedded: none is left out of the binary.
    #[test]
    fn every_policy_file_is_embedded() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
        let mut on_disk = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).expect("policies/").flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "rego") {
                    on_disk.push(format!("policies/{}", p.strip_prefix(&root).expect("under").display()));
                }
            }
        }
        on_disk.sort();
        let mut embedded: Vec<String> = LIBRARY.iter().chain(TESTS).map(|(n, _)| (*n).to_owned()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
    }

    #[test]
    fn every_builtin_rule_has_its_documentation() {
        let set = super::super::engine::PolicySet::compile(&files(), Vec::new()).expect("the library compiles");
        assert!(set.docs().len() >= 30, "{} documented rules", set.docs().len());
        for (id, d) in set.docs() {
            assert!(id.starts_with("SG-"), "{id} in {}", d.file);
            for (what, text) in [
                ("title", &d.title),
                ("description", &d.what),
                ("why", &d.why),
                ("fix", &d.fix),
                ("example", &d.example),
            ] {
                assert!(!text.is_empty(), "{id} ({}:{}) has no {what}", d.file, d.line);
            }
            assert!(matches!(d.severity.as_deref(), Some("error" | "warning")), "{id}: severity");
        }
    }
}
