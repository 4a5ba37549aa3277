//! Least privilege against a budget (`--permissions FILE`): per principal, what it
//! needs; every grant beyond that is a finding. Grants are compared across all the
//! documents of the check (a RoleBinding in one file, its Role in another).
//!
//! ```yaml
//! gcp:                                   # member → the roles it may hold
//!   serviceAccount:ci@my-project.iam.gserviceaccount.com:
//!     roles: [roles/run.developer, roles/artifactregistry.writer]
//! aws:                                   # identity policy (file glob or Terraform
//!   iam/aws/deployer.json:               # address) → the actions it may allow
//!     actions: ["s3:GetObject", "s3:PutObject", "ecr:*"]
//! kubernetes:                            # subject → the RBAC rules it may get
//!   ServiceAccount/shop/shop-api:
//!     - { apiGroups: [""], resources: [configmaps], verbs: [get, list, watch] }
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use globset::{Glob, GlobMatcher};
use serde::Deserialize;
use serde_json::Value;

use super::detect::InputType;
use super::finding::{Finding, Severity};
use super::input::{Document, InputError};
use super::metadata::RuleDoc;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBudget {
    #[serde(default)]
    gcp: BTreeMap<String, GcpEntry>,
    #[serde(default)]
    aws: BTreeMap<String, AwsEntry>,
    #[serde(default)]
    kubernetes: BTreeMap<String, Vec<RbacRule>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GcpEntry {
    roles: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AwsEntry {
    actions: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RbacRule {
    #[serde(default, rename = "apiGroups")]
    pub api_groups: Vec<String>,
    pub resources: Vec<String>,
    pub verbs: Vec<String>,
}

/// A parsed budget.
#[derive(Debug, Default)]
pub struct Budget {
    gcp: BTreeMap<String, Vec<String>>,
    aws: Vec<(String, GlobMatcher, Vec<String>)>,
    kubernetes: BTreeMap<String, Vec<RbacRule>>,
}

pub fn load(path: &Path) -> Result<Budget, Vec<InputError>> {
    let name = path.display().to_string();
    let err = |span, message: String, help: Option<String>| InputError { file: name.clone(), span, message, help };
    let src = super::input::read_source(path).map_err(|e| vec![e])?;
    let (docs, _) = crate::yaml::parse_documents(&src.text).map_err(|e| vec![err(Some(e.span), e.message, e.help)])?;
    let Some(node) = docs.into_iter().next() else {
        return Err(vec![err(None, "the permissions file is empty".into(), None)]);
    };
    let (raw, errors) = crate::yaml::deserialize_all::<RawBudget>(&node);
    if !errors.is_empty() {
        return Err(errors.into_iter().map(|e| err(e.span, e.message, e.help)).collect());
    }
    let Some(raw) = raw else { return Ok(Budget::default()) };
    let mut aws = Vec::new();
    for (key, entry) in raw.aws {
        let glob = Glob::new(&key).map_err(|e| vec![err(None, format!("aws: `{key}` is not a glob: {e}"), None)])?;
        aws.push((key, glob.compile_matcher(), entry.actions.iter().map(|a| a.to_ascii_lowercase()).collect()));
    }
    Ok(Budget { gcp: raw.gcp.into_iter().map(|(k, v)| (k, v.roles)).collect(), aws, kubernetes: raw.kubernetes })
}

/// Does the budget's action pattern `allowed` cover the granted pattern `granted`?
/// Both may hold `*`/`?`; a granted wildcard is covered only by a pattern that matches
/// it as text (`s3:*` covers `s3:Get*`, `s3:GetObject` does not).
fn covers(allowed: &str, granted: &str) -> bool {
    globset::GlobBuilder::new(allowed)
        .literal_separator(false)
        .build()
        .map(|g| g.compile_matcher().is_match(granted))
        .unwrap_or(false)
}

pub const RULES: &[(&str, &str, &str, &str, &str, &str)] = &[
    (
        "SG-LP-001",
        "GCP role beyond the budget",
        "A member holds a role that its entry in the permissions budget does not list.",
        "The budget states what the principal needs; anything more is standing privilege an attacker inherits.",
        "Remove the binding, or, if the principal really needs it, add the role to its budget in review.",
        "gcp: {serviceAccount:ci@p.iam.gserviceaccount.com: {roles: [roles/run.developer]}}",
    ),
    (
        "SG-LP-002",
        "AWS action beyond the budget",
        "An identity policy allows an action (or wildcard) that its budget does not cover.",
        "Each action beyond what the workload calls widens what a leaked credential can do.",
        "Narrow the policy's Action to the budget, or extend the budget in review.",
        "aws: {iam/deployer.json: {actions: [s3:GetObject, s3:PutObject]}}",
    ),
    (
        "SG-LP-003",
        "Kubernetes RBAC beyond the budget",
        "A binding gives a subject a verb on a resource that its budget does not list (or binds a role the check cannot see).",
        "RBAC grants add up across bindings; the budget is the only statement of what the subject needs.",
        "Bind a Role that grants only the budgeted rules, or extend the budget in review.",
        "kubernetes: {ServiceAccount/shop/shop-api: [{apiGroups: [\"\"], resources: [configmaps], verbs: [get]}]}",
    ),
];

pub fn docs() -> Vec<RuleDoc> {
    RULES
        .iter()
        .map(|(id, title, what, why, fix, example)| RuleDoc {
            id: (*id).to_owned(),
            title: (*title).to_owned(),
            severity: Some("error".into()),
            what: (*what).to_owned(),
            why: (*why).to_owned(),
            fix: (*fix).to_owned(),
            example: (*example).to_owned(),
            rule: "budget".into(),
            file: "runner/src/policy/budget.rs".into(),
            line: 0,
        })
        .collect()
}

fn finding(doc: &Document, rule: &str, message: String, path: &[Value]) -> Finding {
    Finding::new(doc, rule, Severity::Error, message, doc.locate(path), "permissions budget")
}

fn list_statements(v: &Value) -> Vec<&Value> {
    match &v["Statement"] {
        Value::Array(a) => a.iter().collect(),
        s @ Value::Object(_) => vec![s],
        _ => Vec::new(),
    }
}

fn list(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

impl Budget {
    /// Whether a document can matter to the budget (kept for the cross-document pass).
    pub fn relevant(&self, d: &Document) -> bool {
        match d.input_type {
            InputType::GcpIamPolicy => !self.gcp.is_empty(),
            InputType::AwsIamPolicy => !self.aws.is_empty(),
            InputType::Kubernetes => {
                !self.kubernetes.is_empty()
                    && matches!(
                        d.value["kind"].as_str(),
                        Some("Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding")
                    )
            }
            _ => false,
        }
    }

    pub fn check(&self, docs: &[Document]) -> Vec<Finding> {
        let mut out = Vec::new();
        let roles: BTreeMap<(String, String, String), &Document> = docs
            .iter()
            .filter(|d| matches!(d.value["kind"].as_str(), Some("Role" | "ClusterRole")))
            .map(|d| {
                let kind = d.value["kind"].as_str().unwrap_or_default().to_owned();
                let ns =
                    if kind == "Role" { d.value["metadata"]["namespace"].as_str().unwrap_or("default") } else { "" };
                ((kind, ns.to_owned(), d.value["metadata"]["name"].as_str().unwrap_or_default().to_owned()), d)
            })
            .collect();
        for d in docs {
            match d.input_type {
                InputType::GcpIamPolicy => self.gcp(d, &mut out),
                InputType::AwsIamPolicy => self.aws(d, &mut out),
                InputType::Kubernetes => self.rbac(d, &roles, &mut out),
                _ => {}
            }
        }
        out
    }

    fn gcp(&self, d: &Document, out: &mut Vec<Finding>) {
        for (i, b) in d.value["bindings"].as_array().into_iter().flatten().enumerate() {
            let role = b["role"].as_str().unwrap_or_default();
            for (j, m) in list(&b["members"]).into_iter().enumerate() {
                if let Some(allowed) = self.gcp.get(m)
                    && !allowed.iter().any(|r| r == role)
                {
                    let msg = format!("{m} holds {role}, beyond its budget ({})", allowed.join(", "));
                    out.push(finding(d, "SG-LP-001", msg, &["bindings".into(), i.into(), "members".into(), j.into()]));
                }
            }
        }
    }

    fn aws(&self, d: &Document, out: &mut Vec<Finding>) {
        let file = d.source.name.trim_start_matches("./");
        // A trust policy says who may assume a role, not what it may do.
        if list_statements(&d.value).iter().any(|s| !s["Principal"].is_null()) {
            return;
        }
        // By file, or by Terraform address (an inline policy counts for its resource).
        let origin = d.origin.as_deref().map(|o| o.split(".inline_policy[").next().unwrap_or(o));
        let Some((key, _, allowed)) =
            self.aws.iter().find(|(_, g, _)| g.is_match(file) || origin.is_some_and(|o| g.is_match(o)))
        else {
            return;
        };
        let statements: Vec<(Vec<Value>, &Value)> = match &d.value["Statement"] {
            Value::Array(a) => a.iter().enumerate().map(|(i, s)| (vec!["Statement".into(), i.into()], s)).collect(),
            s @ Value::Object(_) => vec![(vec!["Statement".into()], s)],
            _ => Vec::new(),
        };
        for (path, s) in statements {
            if s["Effect"] != "Allow" {
                continue;
            }
            if !s["NotAction"].is_null() {
                let mut p = path.clone();
                p.push("NotAction".into());
                out.push(finding(
                    d,
                    "SG-LP-002",
                    format!("Allow with NotAction exceeds any budget (budget {key})"),
                    &p,
                ));
            }
            for a in list(&s["Action"]) {
                let a = a.to_ascii_lowercase();
                if !allowed.iter().any(|b| covers(b, &a)) {
                    let mut p = path.clone();
                    p.push("Action".into());
                    let msg = format!("{a} is beyond the budget of {key} ({})", allowed.join(", "));
                    out.push(finding(d, "SG-LP-002", msg, &p));
                }
            }
        }
    }

    fn rbac(&self, d: &Document, roles: &BTreeMap<(String, String, String), &Document>, out: &mut Vec<Finding>) {
        let kind = d.value["kind"].as_str().unwrap_or_default();
        if !matches!(kind, "RoleBinding" | "ClusterRoleBinding") {
            return;
        }
        let ns = d.value["metadata"]["namespace"].as_str().unwrap_or("default");
        for (j, s) in d.value["subjects"].as_array().into_iter().flatten().enumerate() {
            let skind = s["kind"].as_str().unwrap_or_default();
            let sname = s["name"].as_str().unwrap_or_default();
            let key = match skind {
                "ServiceAccount" => format!("ServiceAccount/{}/{sname}", s["namespace"].as_str().unwrap_or(ns)),
                _ => format!("{skind}/{sname}"),
            };
            let Some(allowed) = self.kubernetes.get(&key) else { continue };
            let at: Vec<Value> = vec!["subjects".into(), j.into()];
            let rkind = d.value["roleRef"]["kind"].as_str().unwrap_or("ClusterRole");
            let rname = d.value["roleRef"]["name"].as_str().unwrap_or_default();
            let rns = if rkind == "Role" { ns } else { "" };
            let Some(role) = roles.get(&(rkind.to_owned(), rns.to_owned(), rname.to_owned())) else {
                let msg = format!(
                    "{key} is bound to {rkind} {rname}, which is not among the checked documents: its grants cannot be held to the budget"
                );
                out.push(finding(d, "SG-LP-003", msg, &at));
                continue;
            };
            let has = |l: &[String], x: &str| l.iter().any(|e| e == x || e == "*");
            for rule in role.value["rules"].as_array().into_iter().flatten() {
                let groups = list(&rule["apiGroups"]);
                let groups = if groups.is_empty() { vec![""] } else { groups };
                for g in &groups {
                    for r in list(&rule["resources"]) {
                        for v in list(&rule["verbs"]) {
                            let ok = allowed.iter().any(|b| {
                                (has(&b.api_groups, g) || (b.api_groups.is_empty() && g.is_empty()))
                                    && has(&b.resources, r)
                                    && has(&b.verbs, v)
                            });
                            if !ok {
                                let group = if g.is_empty() { "core" } else { g };
                                let msg =
                                    format!("{key} can {v} {r} ({group}) through {rkind} {rname}, beyond its budget");
                                out.push(finding(d, "SG-LP-003", msg, &at));
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::covers;

    #[test]
    fn budget_patterns_cover_actions_and_narrower_wildcards_only() {
        assert!(covers("s3:getobject", "s3:getobject"));
        assert!(covers("s3:*", "s3:getobject"));
        assert!(covers("s3:*", "s3:get*"));
        assert!(covers("s3:get*", "s3:getobjectacl"));
        assert!(!covers("s3:getobject", "s3:*"));
        assert!(!covers("s3:get*", "s3:*"));
        assert!(!covers("s3:*", "*"));
        assert!(!covers("iam:passrole", "iam:pass*"));
    }
}
