# Kubernetes RBAC: Roles, ClusterRoles and their bindings.
package shipgate.kubernetes

import data.shipgate.lib

rbac_roles := {"Role", "ClusterRole"}

role_rules contains {"r": r, "path": ["rules", i]} if {
	input.kind in rbac_roles
	some i, r in input.rules
}

grants(r, verb, resource) if {
	some v in r.verbs
	v in {verb, "*"}
	some res in r.resources
	res in {resource, "*"}
}

# METADATA
# title: RBAC wildcard
# description: A rule grants `*` in apiGroups, resources or verbs.
# custom:
#   id: SG-RBAC-001
#   severity: error
#   why: A wildcard grants every present and future resource or verb, including ones added by CRDs later.
#   fix: List the apiGroups, resources and verbs the subject needs.
#   example: "rules: [{apiGroups: [apps], resources: [deployments], verbs: [get, list, watch]}]"
deny contains lib.finding("SG-RBAC-001", sprintf("%s %q grants `*` in %s", [input.kind, input.metadata.name, key]), array.concat(x.path, [key, j])) if {
	some x in role_rules
	some key in ["apiGroups", "resources", "verbs"]
	some j, v in x.r[key]
	v == "*"
}

bindings := {"RoleBinding", "ClusterRoleBinding"}

# METADATA
# title: cluster-admin binding
# description: A binding grants the `cluster-admin` ClusterRole.
# custom:
#   id: SG-RBAC-002
#   severity: error
#   why: cluster-admin is every permission on every resource in every namespace.
#   fix: Bind a role that lists only what the subject needs.
#   example: "roleRef: {kind: ClusterRole, name: view}"
deny contains lib.finding("SG-RBAC-002", sprintf("%s %q grants cluster-admin", [input.kind, input.metadata.name]), ["roleRef", "name"]) if {
	input.kind in bindings
	input.roleRef.name == "cluster-admin"
}

broad_groups := {"system:anonymous", "system:unauthenticated", "system:authenticated", "system:masters"}

# METADATA
# title: Binding to a built-in broad group
# description: A binding's subject is system:anonymous, system:unauthenticated, system:authenticated or system:masters.
# custom:
#   id: SG-RBAC-003
#   severity: error
#   why: These groups hold every anonymous caller, every authenticated caller, or unrestricted admins; a grant to them is a grant to everyone.
#   fix: Bind to a specific group or service account.
#   example: "subjects: [{kind: Group, name: platform-team}]"
deny contains lib.finding("SG-RBAC-003", sprintf("%s %q binds %s", [input.kind, input.metadata.name, s.name]), ["subjects", i, "name"]) if {
	input.kind in bindings
	some i, s in input.subjects
	s.name in broad_groups
}

# METADATA
# title: RBAC escalation verbs
# description: A rule grants `bind`, `escalate` or `impersonate`.
# custom:
#   id: SG-RBAC-004
#   severity: error
#   why: bind and escalate let the subject grant itself roles beyond its own; impersonate lets it act as any user, group or service account.
#   fix: Remove the verb; let a cluster administrator create such bindings.
#   example: "verbs: [get, list]"
deny contains lib.finding("SG-RBAC-004", sprintf("%s %q grants %q", [input.kind, input.metadata.name, v]), array.concat(x.path, ["verbs", j])) if {
	some x in role_rules
	some j, v in x.r.verbs
	v in {"bind", "escalate", "impersonate"}
}

# METADATA
# title: Reads secrets
# description: A rule grants get, list or watch on secrets.
# custom:
#   id: SG-RBAC-005
#   severity: warning
#   why: Reading secrets reveals every credential of the namespace (or the cluster), service account tokens included.
#   fix: Mount the one secret the workload needs instead of granting API access; or restrict with resourceNames.
#   example: "rules: [{resources: [secrets], resourceNames: [shop-api-db], verbs: [get]}]"
warn contains lib.finding("SG-RBAC-005", sprintf("%s %q can %s secrets", [input.kind, input.metadata.name, verb]), x.path) if {
	some x in role_rules
	some verb in ["get", "list", "watch"]
	grants(x.r, verb, "secrets")
	count(object.get(x.r, "resourceNames", [])) == 0
}

# METADATA
# title: Exec into pods
# description: A rule grants create on pods/exec (or pods/attach).
# custom:
#   id: SG-RBAC-006
#   severity: warning
#   why: Exec into a pod runs commands with its service account and reads its mounted secrets.
#   fix: Grant pods/exec only to break-glass roles.
#   example: "rules: [{resources: [pods/log], verbs: [get]}]"
warn contains lib.finding("SG-RBAC-006", sprintf("%s %q can create %s", [input.kind, input.metadata.name, res]), x.path) if {
	some x in role_rules
	some res in ["pods/exec", "pods/attach"]
	grants(x.r, "create", res)
}

workload_resources := ["pods", "deployments", "daemonsets", "statefulsets", "replicasets", "jobs", "cronjobs"]

# METADATA
# title: Creates workloads in kube-system
# description: A Role in kube-system lets a subject create pods or workloads there.
# custom:
#   id: SG-RBAC-007
#   severity: error
#   why: Pods in kube-system can mount the service accounts of the control-plane add-ons, which are highly privileged.
#   fix: Deploy into the workload's own namespace; never grant create in kube-system.
#   example: "metadata: {namespace: shop}"
deny contains lib.finding("SG-RBAC-007", sprintf("%s %q can create %s in kube-system", [input.kind, input.metadata.name, res]), x.path) if {
	input.kind == "Role"
	input.metadata.namespace == "kube-system"
	some x in role_rules
	some res in workload_resources
	grants(x.r, "create", res)
}
