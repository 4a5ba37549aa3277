//! IAM carried in a Terraform plan (`terraform show -json`): every IAM resource
//! becomes a document of the shape the GCP/AWS rules check, located at the resource
//! in the plan file. Policy JSON held in strings (`policy`, `policy_data`,
//! `assume_role_policy`) is parsed and checked too; a string that does not parse
//! fails the gate like any unparseable input.

use serde_json::{Value, json};

use super::detect::InputType;
use super::input::{Document, InputError};
use crate::yaml::{Node, NodeKind, ScalarStyle};

/// A mapping node for a derived document whose values are the plan's own nodes, so
/// that a finding's field maps to the attribute in the plan that holds it.
fn map(span: crate::yaml::Span, pairs: Vec<(&str, Node)>) -> Node {
    let pairs = pairs
        .into_iter()
        .map(|(k, v)| (Node::new(NodeKind::Scalar(k.to_owned(), ScalarStyle::Plain), v.span), v))
        .collect();
    Node::new(NodeKind::Map(pairs), span)
}

/// The documents derived from the plan `doc` (the plan itself stays a document too).
pub fn derive(doc: &Document) -> Result<Vec<Document>, InputError> {
    let mut out = Vec::new();
    let Some(root) = doc.node.get("planned_values").and_then(|p| p.get("root_module")) else {
        return Ok(out);
    };
    let mut modules = vec![root];
    while let Some(m) = modules.pop() {
        if let Some(NodeKind::Seq(rs)) = m.get("resources").map(|n| &n.kind) {
            for r in rs {
                resource(doc, r, &mut out)?;
            }
        }
        if let Some(NodeKind::Seq(cs)) = m.get("child_modules").map(|n| &n.kind) {
            modules.extend(cs.iter().rev());
        }
    }
    Ok(out)
}

fn derived(doc: &Document, node: &Node, address: &str, input_type: InputType, value: Value) -> Document {
    Document {
        source: doc.source.clone(),
        index: doc.index,
        node: node.clone(),
        value,
        input_type,
        origin: Some(address.to_owned()),
    }
}

/// The scope of a `google_<scope>_iam_*` resource.
fn gcp_scope(ty: &str) -> &str {
    let rest = ty.strip_prefix("google_").unwrap_or(ty);
    let scope = rest.split("_iam_").next().unwrap_or(rest);
    match scope {
        "organization" | "folder" | "project" | "service_account" | "billing_account" => scope,
        _ => "resource",
    }
}

fn resource(doc: &Document, r: &Node, out: &mut Vec<Document>) -> Result<(), InputError> {
    let v = r.to_json();
    let (Some(ty), Some(address)) = (v["type"].as_str(), v["address"].as_str()) else { return Ok(()) };
    let values = &v["values"];
    let at = r.get("values").unwrap_or(r);
    // A policy held in a JSON string; one that does not parse fails the gate.
    let parse = |text: &Value, what: &str, node: &Node| -> Result<Option<Value>, InputError> {
        let Some(text) = text.as_str().filter(|s| !s.trim().is_empty()) else { return Ok(None) };
        serde_json::from_str(text).map(Some).map_err(|e| InputError {
            file: doc.source.name.clone(),
            span: Some(node.span),
            message: format!("{address}: `{what}` is not valid JSON: {e}"),
            help: Some("the gate cannot check a policy it cannot read; fix the policy document".into()),
        })
    };
    let embedded = |key: &str| parse(&values[key], key, at.get(key).unwrap_or(at));
    if ty.starts_with("google_") && ty.ends_with("_iam_custom_role") {
        let role = json!({
            "name": values["role_id"],
            "title": values["title"],
            "stage": values["stage"],
            "includedPermissions": values["permissions"],
        });
        let node =
            map(at.span, at.get("permissions").map(|n| vec![("includedPermissions", n.clone())]).unwrap_or_default());
        out.push(derived(doc, &node, address, InputType::GcpCustomRole, role));
    } else if ty.starts_with("google_") && (ty.ends_with("_iam_member") || ty.ends_with("_iam_binding")) {
        // A member known only after apply (a service account created by the same plan)
        // is null in the plan: it cannot be judged by name, so it is left out.
        let members: Vec<Value> = if values["members"].is_array() {
            values["members"].as_array().into_iter().flatten().filter(|m| m.is_string()).cloned().collect()
        } else {
            [values["member"].clone()].into_iter().filter(Value::is_string).collect()
        };
        let mut binding = json!({ "role": values["role"], "members": members });
        if !values["condition"].is_null() {
            binding["condition"] = values["condition"].clone();
        }
        let policy = json!({ "bindings": [binding], "scope": gcp_scope(ty) });
        // bindings[0].role → `role`; bindings[0].members[i] → `members[i]` or `member`.
        let members = match (at.get("members"), at.get("member")) {
            (Some(m), _) => Some(m.clone()),
            (None, Some(m)) => Some(Node::new(NodeKind::Seq(vec![m.clone()]), m.span)),
            _ => None,
        };
        let mut b = Vec::new();
        if let Some(r) = at.get("role") {
            b.push(("role", r.clone()));
        }
        if let Some(m) = members {
            b.push(("members", m));
        }
        let binding = map(at.span, b);
        let node = map(at.span, vec![("bindings", Node::new(NodeKind::Seq(vec![binding]), at.span))]);
        out.push(derived(doc, &node, address, InputType::GcpIamPolicy, policy));
    } else if ty.starts_with("google_") && ty.ends_with("_iam_policy") {
        if let Some(mut policy) = embedded("policy_data")? {
            policy["scope"] = json!(gcp_scope(ty));
            out.push(derived(doc, at, address, InputType::GcpIamPolicy, policy));
        }
    } else if ty == "google_service_account_key" {
        out.push(derived(doc, r, address, InputType::TerraformResource, v.clone()));
    } else if ty.starts_with("aws_iam_") {
        // A policy known only after apply cannot be checked: it is listed as not checked.
        for key in ["policy", "assume_role_policy"] {
            if values.get(key).is_some_and(Value::is_null) {
                out.push(derived(
                    doc,
                    at,
                    &format!("{address} (`{key}` known only after apply)"),
                    InputType::Unknown,
                    json!({}),
                ));
            }
        }
        for key in ["policy", "assume_role_policy"] {
            if let Some(p) = embedded(key)? {
                // Inside a JSON string there are no positions: the attribute holds them all.
                out.push(derived(doc, at.get(key).unwrap_or(at), address, InputType::AwsIamPolicy, p));
            }
        }
        if let Some(inline) = values["inline_policy"].as_array() {
            for (i, ip) in inline.iter().enumerate() {
                if let Some(p) = parse(&ip["policy"], &format!("inline_policy[{i}].policy"), at)? {
                    out.push(derived(doc, at, &format!("{address}.inline_policy[{i}]"), InputType::AwsIamPolicy, p));
                }
            }
        }
    }
    Ok(())
}
