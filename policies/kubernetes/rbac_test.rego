package shipgate.kubernetes_rbac_test

import data.shipgate.kubernetes

ids(results) := {r.id | some r in results}

role(kind, ns, rules) := {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": {"name": "r", "namespace": ns}, "rules": rules}

binding(role_name, subjects) := {
	"apiVersion": "rbac.authorization.k8s.io/v1",
	"kind": "ClusterRoleBinding",
	"metadata": {"name": "b"},
	"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role_name},
	"subjects": subjects,
}

reader := [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "watch"]}]

all_results(doc) := r if {
	r := kubernetes.deny | kubernetes.warn with input as doc
}

test_a_narrow_role_has_no_findings if count(all_results(role("Role", "shop", reader))) == 0

test_wildcard_verbs if "SG-RBAC-001" in ids(kubernetes.deny) with input as role("ClusterRole", null, [{"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}])

test_wildcard_resources if "SG-RBAC-001" in ids(kubernetes.deny) with input as role("Role", "shop", [{"apiGroups": [""], "resources": ["*"], "verbs": ["get"]}])

test_no_wildcards if not "SG-RBAC-001" in ids(kubernetes.deny) with input as role("Role", "shop", reader)

test_cluster_admin if "SG-RBAC-002" in ids(kubernetes.deny) with input as binding("cluster-admin", [{"kind": "Group", "name": "ops"}])

test_view_binding if not "SG-RBAC-002" in ids(kubernetes.deny) with input as binding("view", [{"kind": "Group", "name": "ops"}])

test_anonymous_subject if "SG-RBAC-003" in ids(kubernetes.deny) with input as binding("view", [{"kind": "Group", "name": "system:anonymous"}])

test_authenticated_subject if "SG-RBAC-003" in ids(kubernetes.deny) with input as binding("view", [{"kind": "Group", "name": "system:authenticated"}])

test_named_group_subject if not "SG-RBAC-003" in ids(kubernetes.deny) with input as binding("view", [{"kind": "Group", "name": "ops"}])

test_escalate if "SG-RBAC-004" in ids(kubernetes.deny) with input as role("ClusterRole", null, [{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["escalate"]}])

test_impersonate if "SG-RBAC-004" in ids(kubernetes.deny) with input as role("ClusterRole", null, [{"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"]}])

test_no_escalation_verbs if not "SG-RBAC-004" in ids(kubernetes.deny) with input as role("Role", "shop", reader)

test_reads_secrets if "SG-RBAC-005" in ids(kubernetes.warn) with input as role("Role", "shop", [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}])

test_reads_secrets_with_empty_resource_names if {
	"SG-RBAC-005" in ids(kubernetes.warn) with input as role("Role", "shop", [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": [], "verbs": ["get"]}])
}

test_reads_one_named_secret if not "SG-RBAC-005" in ids(kubernetes.warn) with input as role("Role", "shop", [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["db"], "verbs": ["get"]}])

test_pods_exec if "SG-RBAC-006" in ids(kubernetes.warn) with input as role("Role", "shop", [{"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}])

test_pods_log_only if not "SG-RBAC-006" in ids(kubernetes.warn) with input as role("Role", "shop", [{"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]}])

test_create_pods_in_kube_system if "SG-RBAC-007" in ids(kubernetes.deny) with input as role("Role", "kube-system", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]}])

test_create_pods_elsewhere if not "SG-RBAC-007" in ids(kubernetes.deny) with input as role("Role", "shop", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]}])
