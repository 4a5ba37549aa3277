//! What a document is: detected from its shape, or forced with `--input-type`.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[derive(clap::ValueEnum, schemars::JsonSchema)]
pub enum InputType {
    /// A Kubernetes object (`apiVersion` + `kind`), RBAC and Argo CD included.
    Kubernetes,
    /// A GCP IAM policy (`gcloud projects get-iam-policy`: `bindings[].role/members`).
    GcpIamPolicy,
    /// A GCP custom role definition (`includedPermissions`).
    GcpCustomRole,
    /// An AWS IAM policy document (identity or trust: `Statement`).
    AwsIamPolicy,
    /// A Terraform plan (`terraform show -json`).
    TerraformPlan,
    /// One resource of a Terraform plan that carries no IAM document of its own
    /// (e.g. `google_service_account_key`).
    TerraformResource,
    /// None of the above: only user policies see it.
    Unknown,
}

impl InputType {
    pub fn detect(v: &Value) -> InputType {
        let Some(o) = v.as_object() else { return InputType::Unknown };
        if o.get("apiVersion").is_some_and(Value::is_string) && o.get("kind").is_some_and(Value::is_string) {
            InputType::Kubernetes
        } else if o.contains_key("format_version")
            && (o.contains_key("planned_values") || o.contains_key("resource_changes"))
        {
            InputType::TerraformPlan
        } else if o.get("Statement").is_some_and(|s| s.is_array() || s.is_object()) {
            InputType::AwsIamPolicy
        } else if o.get("bindings").and_then(Value::as_array).is_some_and(|b| b.iter().all(|x| x.get("role").is_some()))
        {
            InputType::GcpIamPolicy
        } else if o.get("includedPermissions").is_some_and(Value::is_array) {
            InputType::GcpCustomRole
        } else {
            InputType::Unknown
        }
    }

    /// The built-in package that checks this type, if any.
    pub fn builtin_package(self) -> Option<&'static str> {
        match self {
            InputType::Kubernetes => Some("data.shipgate.kubernetes"),
            InputType::GcpIamPolicy => Some("data.shipgate.gcp.iam"),
            InputType::GcpCustomRole => Some("data.shipgate.gcp.role"),
            InputType::AwsIamPolicy => Some("data.shipgate.aws.iam"),
            InputType::TerraformResource => Some("data.shipgate.terraform"),
            InputType::TerraformPlan | InputType::Unknown => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            InputType::Kubernetes => "kubernetes",
            InputType::GcpIamPolicy => "gcp-iam-policy",
            InputType::GcpCustomRole => "gcp-custom-role",
            InputType::AwsIamPolicy => "aws-iam-policy",
            InputType::TerraformPlan => "terraform-plan",
            InputType::TerraformResource => "terraform-resource",
            InputType::Unknown => "unknown",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shapes_are_told_apart() {
        assert_eq!(InputType::detect(&json!({"apiVersion": "v1", "kind": "Pod"})), InputType::Kubernetes);
        assert_eq!(
            InputType::detect(&json!({"bindings": [{"role": "roles/owner", "members": ["user:a@x.com"]}]})),
            InputType::GcpIamPolicy
        );
        assert_eq!(InputType::detect(&json!({"includedPermissions": ["a.b.c"]})), InputType::GcpCustomRole);
        assert_eq!(InputType::detect(&json!({"Version": "2012-10-17", "Statement": []})), InputType::AwsIamPolicy);
        assert_eq!(
            InputType::detect(&json!({"format_version": "1.2", "planned_values": {}})),
            InputType::TerraformPlan
        );
        assert_eq!(InputType::detect(&json!({"kind": "Pod"})), InputType::Unknown);
        assert_eq!(InputType::detect(&json!([1, 2])), InputType::Unknown);
    }
}
