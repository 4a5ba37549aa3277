package shipgate.terraform_test

import data.shipgate.terraform

ids(results) := {r.id | some r in results}

test_service_account_key if {
	"SG-GCP-008" in ids(terraform.deny) with input as {"address": "google_service_account_key.ci", "type": "google_service_account_key", "values": {"service_account_id": "ci"}}
}

test_other_resources if {
	count(terraform.deny) == 0 with input as {"address": "google_service_account.ci", "type": "google_service_account", "values": {}}
}
