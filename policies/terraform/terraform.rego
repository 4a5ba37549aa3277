# Terraform plan resources that carry no IAM document of their own.
package shipgate.terraform

import data.shipgate.lib

# METADATA
# title: User-managed service account key
# description: The plan creates a service account key (google_service_account_key).
# custom:
#   id: SG-GCP-008
#   severity: error
#   why: A key is a long-lived credential that never expires by default and leaks through CI variables, laptops and logs; keyless is the policy.
#   fix: Use Workload Identity (GKE), Workload Identity Federation (CI) or service account impersonation instead of a key.
#   example: "gcloud iam workload-identity-pools create-cred-config …"
deny contains lib.finding("SG-GCP-008", sprintf("%s creates a user-managed key for %s", [input.address, sa]), []) if {
	input.type == "google_service_account_key"
	sa := object.get(input.values, "service_account_id", "a service account")
}
