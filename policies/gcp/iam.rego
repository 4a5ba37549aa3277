# GCP IAM policies (`gcloud projects get-iam-policy` shape, and the IAM resources of
# Terraform plans, which carry their scope).
package shipgate.gcp.iam

import data.shipgate.lib

scope := object.get(input, "scope", "project")

members contains {"role": b.role, "member": m, "path": ["bindings", i, "members", j], "binding": b} if {
	some i, b in input.bindings
	some j, m in b.members
}

basic_roles := {"roles/owner", "roles/editor", "roles/viewer"}

# METADATA
# title: Basic role
# description: A binding grants roles/owner, roles/editor or roles/viewer.
# custom:
#   id: SG-GCP-001
#   severity: error
#   why: Basic roles span thousands of permissions across every service of the project, far beyond any one job.
#   fix: Grant predefined or custom roles for the services the member uses.
#   example: "role: roles/storage.objectViewer"
deny contains lib.finding("SG-GCP-001", sprintf("%s is granted the basic role %s", [x.member, x.role]), x.path) if {
	some x in members
	x.role in basic_roles
}

admin_role(r) if r in {"roles/owner", "roles/editor"}

admin_role(r) if endswith(lower(r), "admin")

service_account(m) if startswith(m, "serviceAccount:")

# METADATA
# title: Service account with an admin role
# description: A service account holds an owner, editor or *Admin role.
# custom:
#   id: SG-GCP-002
#   severity: error
#   why: Service account keys and tokens leak from CI and workloads; an admin role turns one leak into control of the service or project.
#   fix: Grant the service account the narrowest predefined role, or a custom role with the permissions it uses.
#   example: "role: roles/storage.objectCreator"
deny contains lib.finding("SG-GCP-002", sprintf("service account %s holds %s", [trim_prefix(x.member, "serviceAccount:"), x.role]), x.path) if {
	some x in members
	service_account(x.member)
	admin_role(x.role)
}

impersonation_roles := {"roles/iam.serviceAccountUser", "roles/iam.serviceAccountTokenCreator"}

# METADATA
# title: Service account impersonation at project scope
# description: iam.serviceAccountUser or iam.serviceAccountTokenCreator is granted on a project, folder or organization.
# custom:
#   id: SG-GCP-003
#   severity: error
#   why: At project scope the member can act as every service account of the project, including the most privileged one.
#   fix: Grant the role on the one service account that needs to be used (google_service_account_iam_member).
#   example: "gcloud iam service-accounts add-iam-policy-binding deployer@p.iam.gserviceaccount.com --role roles/iam.serviceAccountUser"
deny contains lib.finding("SG-GCP-003", sprintf("%s is granted %s at %s scope", [x.member, x.role, scope]), x.path) if {
	scope in {"project", "folder", "organization"}
	some x in members
	x.role in impersonation_roles
}

# METADATA
# title: Public access
# description: A binding grants a role to allUsers or allAuthenticatedUsers.
# custom:
#   id: SG-GCP-004
#   severity: error
#   why: allUsers is anyone on the internet; allAuthenticatedUsers is anyone with any Google account.
#   fix: Grant the role to the groups or service accounts that need it.
#   example: "members: [group:analysts@example.com]"
deny contains lib.finding("SG-GCP-004", sprintf("%s is granted to %s", [x.role, x.member]), x.path) if {
	some x in members
	x.member in {"allUsers", "allAuthenticatedUsers"}
}

# METADATA
# title: Role granted to an individual user
# description: A binding grants a role to `user:` instead of a group.
# custom:
#   id: SG-GCP-005
#   severity: warning
#   why: Grants to people outlive their job changes and are invisible in group reviews; offboarding misses them.
#   fix: Grant the role to a Google group and manage membership there.
#   example: "members: [group:platform-team@example.com]"
warn contains lib.finding("SG-GCP-005", sprintf("%s is granted to the individual %s", [x.role, x.member]), x.path) if {
	some x in members
	startswith(x.member, "user:")
}

default_service_account(m) if endswith(m, "-compute@developer.gserviceaccount.com")

default_service_account(m) if endswith(m, "@appspot.gserviceaccount.com")

# METADATA
# title: Default service account in use
# description: A role is granted to the Compute Engine or App Engine default service account.
# custom:
#   id: SG-GCP-006
#   severity: error
#   why: Default service accounts are shared by every VM, node pool or app that does not name its own; a grant to them reaches all of them.
#   fix: Create a dedicated service account per workload (Workload Identity on GKE) and grant it the roles.
#   example: "member: serviceAccount:shop-api@my-project.iam.gserviceaccount.com"
deny contains lib.finding("SG-GCP-006", sprintf("%s is granted to the default service account %s", [x.role, trim_prefix(x.member, "serviceAccount:")]), x.path) if {
	some x in members
	service_account(x.member)
	default_service_account(x.member)
}
