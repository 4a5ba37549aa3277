package shipgate.gcp.role_test

import data.shipgate.gcp.role

ids(results) := {r.id | some r in results}

test_escalation_permission if {
	"SG-GCP-007" in ids(role.deny) with input as {"title": "ci", "includedPermissions": ["storage.objects.get", "iam.serviceAccounts.actAs"]}
}

test_set_iam_policy if {
	"SG-GCP-007" in ids(role.deny) with input as {"title": "ci", "includedPermissions": ["resourcemanager.projects.setIamPolicy"]}
}

test_narrow_custom_role if {
	count(role.deny) == 0 with input as {"title": "reader", "includedPermissions": ["storage.objects.get", "storage.objects.list"]}
}
