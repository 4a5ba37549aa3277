package shipgate.gcp.iam_test

import data.shipgate.gcp.iam

ids(results) := {r.id | some r in results}

policy(role, member) := {"bindings": [{"role": role, "members": [member]}]}

all_results(doc) := r if {
	r := iam.deny | iam.warn with input as doc
}

test_a_narrow_grant_to_a_group_has_no_findings if {
	count(all_results(policy("roles/storage.objectViewer", "group:analysts@example.com"))) == 0
}

test_basic_role if "SG-GCP-001" in ids(iam.deny) with input as policy("roles/editor", "group:dev@example.com")

test_predefined_role if not "SG-GCP-001" in ids(iam.deny) with input as policy("roles/run.invoker", "group:dev@example.com")

test_service_account_admin if {
	"SG-GCP-002" in ids(iam.deny) with input as policy("roles/storage.admin", "serviceAccount:ci@p.iam.gserviceaccount.com")
}

test_service_account_owner if {
	"SG-GCP-002" in ids(iam.deny) with input as policy("roles/owner", "serviceAccount:ci@p.iam.gserviceaccount.com")
}

test_service_account_narrow_role if {
	not "SG-GCP-002" in ids(iam.deny) with input as policy("roles/storage.objectCreator", "serviceAccount:ci@p.iam.gserviceaccount.com")
}

test_service_account_user_at_project if {
	"SG-GCP-003" in ids(iam.deny) with input as policy("roles/iam.serviceAccountUser", "group:deployers@example.com")
}

test_token_creator_on_one_service_account if {
	doc := object.union(policy("roles/iam.serviceAccountTokenCreator", "group:deployers@example.com"), {"scope": "service_account"})
	not "SG-GCP-003" in ids(iam.deny) with input as doc
}

test_all_users if "SG-GCP-004" in ids(iam.deny) with input as policy("roles/storage.objectViewer", "allUsers")

test_all_authenticated_users if "SG-GCP-004" in ids(iam.deny) with input as policy("roles/run.invoker", "allAuthenticatedUsers")

test_not_public if not "SG-GCP-004" in ids(iam.deny) with input as policy("roles/run.invoker", "group:dev@example.com")

test_individual_user if "SG-GCP-005" in ids(iam.warn) with input as policy("roles/run.invoker", "user:jane@example.com")

test_group_member if not "SG-GCP-005" in ids(iam.warn) with input as policy("roles/run.invoker", "group:dev@example.com")

test_default_compute_service_account if {
	"SG-GCP-006" in ids(iam.deny) with input as policy("roles/storage.objectViewer", "serviceAccount:123456789-compute@developer.gserviceaccount.com")
}

test_app_engine_default_service_account if {
	"SG-GCP-006" in ids(iam.deny) with input as policy("roles/storage.objectViewer", "serviceAccount:p@appspot.gserviceaccount.com")
}

test_dedicated_service_account if {
	not "SG-GCP-006" in ids(iam.deny) with input as policy("roles/storage.objectViewer", "serviceAccount:api@p.iam.gserviceaccount.com")
}
