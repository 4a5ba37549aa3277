# GCP custom role definitions (`gcloud iam roles create --file` shape, and
# google_*_iam_custom_role resources of Terraform plans).
package shipgate.gcp.role

import data.shipgate.lib

escalation := {
	"iam.serviceAccounts.getAccessToken",
	"iam.serviceAccounts.actAs",
	"iam.serviceAccounts.implicitDelegation",
	"iam.serviceAccounts.signBlob",
	"iam.serviceAccounts.signJwt",
	"iam.serviceAccountKeys.create",
	"iam.roles.update",
	"resourcemanager.projects.setIamPolicy",
	"resourcemanager.folders.setIamPolicy",
	"resourcemanager.organizations.setIamPolicy",
	"iam.serviceAccounts.setIamPolicy",
}

# METADATA
# title: Escalation permission in a custom role
# description: A custom role contains a permission that lets its holder gain more privileges (act as a service account, mint its tokens or keys, or change IAM policy).
# custom:
#   id: SG-GCP-007
#   severity: error
#   why: Whoever holds the role can become any service account it reaches, or grant themselves any role; the role's other limits stop meaning anything.
#   fix: Remove the permission; grant roles/iam.serviceAccountUser on the single service account that must be used.
#   example: "includedPermissions: [storage.objects.get, storage.objects.list]"
deny contains lib.finding("SG-GCP-007", sprintf("custom role %s contains the escalation permission %s", [name, p]), ["includedPermissions", i]) if {
	some i, p in input.includedPermissions
	p in escalation
	name := object.get(input, "name", object.get(input, "title", "(unnamed)"))
}
