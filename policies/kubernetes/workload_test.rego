package shipgate.kubernetes_test

import data.shipgate.kubernetes

ids(results) := {r.id | some r in results}

good_container := {
	"name": "api",
	"image": "reg.example.com/shop/api@sha256:0000000000000000000000000000000000000000000000000000000000000000",
	"securityContext": {"allowPrivilegeEscalation": false, "runAsNonRoot": true, "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}},
	"resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
	"env": [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}, {"name": "LOG_LEVEL", "value": "info"}],
}

deployment(container, pod) := {
	"apiVersion": "apps/v1",
	"kind": "Deployment",
	"metadata": {"name": "api", "namespace": "shop"},
	"spec": {"template": {"spec": object.union({"serviceAccountName": "shop-api", "containers": [container]}, pod)}},
}

all_results(doc) := r if {
	r := kubernetes.deny | kubernetes.warn with input as doc
}

test_a_hardened_deployment_has_no_findings if {
	count(all_results(deployment(good_container, {}))) == 0
}

test_privileged if {
	c := object.union(good_container, {"securityContext": {"privileged": true, "allowPrivilegeEscalation": false, "runAsNonRoot": true}})
	"SG-K8S-001" in ids(kubernetes.deny) with input as deployment(c, {})
}

test_not_privileged if not "SG-K8S-001" in ids(kubernetes.deny) with input as deployment(good_container, {})

test_privilege_escalation if {
	c := object.remove(good_container, ["securityContext"])
	"SG-K8S-002" in ids(kubernetes.deny) with input as deployment(c, {})
}

test_privilege_escalation_off if not "SG-K8S-002" in ids(kubernetes.deny) with input as deployment(good_container, {})

without_security_context := object.remove(good_container, ["securityContext"])

test_run_as_root if {
	c := object.union(without_security_context, {"securityContext": {"allowPrivilegeEscalation": false}})
	"SG-K8S-003" in ids(kubernetes.warn) with input as deployment(c, {})
}

test_run_as_non_root_from_the_pod if {
	c := object.union(without_security_context, {"securityContext": {"allowPrivilegeEscalation": false}})
	not "SG-K8S-003" in ids(kubernetes.warn) with input as deployment(c, {"securityContext": {"runAsNonRoot": true}})
}

test_added_capability if {
	c := object.union(good_container, {"securityContext": {"allowPrivilegeEscalation": false, "runAsNonRoot": true, "capabilities": {"add": ["SYS_ADMIN"]}}})
	"SG-K8S-004" in ids(kubernetes.deny) with input as deployment(c, {})
}

test_net_bind_service_is_fine if not "SG-K8S-004" in ids(kubernetes.deny) with input as deployment(good_container, {})

test_host_path if {
	"SG-K8S-005" in ids(kubernetes.deny) with input as deployment(good_container, {"volumes": [{"name": "sock", "hostPath": {"path": "/var/run/docker.sock"}}]})
}

test_empty_dir_is_fine if {
	not "SG-K8S-005" in ids(kubernetes.deny) with input as deployment(good_container, {"volumes": [{"name": "tmp", "emptyDir": {}}]})
}

test_host_network if "SG-K8S-006" in ids(kubernetes.deny) with input as deployment(good_container, {"hostNetwork": true})

test_host_pid if "SG-K8S-006" in ids(kubernetes.deny) with input as deployment(good_container, {"hostPID": true})

test_no_host_namespaces if not "SG-K8S-006" in ids(kubernetes.deny) with input as deployment(good_container, {"hostNetwork": false})

test_latest_image if {
	c := object.union(good_container, {"image": "reg.example.com/shop/api:latest"})
	"SG-K8S-007" in ids(kubernetes.deny) with input as deployment(c, {})
}

test_untagged_image if {
	c := object.union(good_container, {"image": "reg.example.com:5000/shop/api"})
	"SG-K8S-007" in ids(kubernetes.deny) with input as deployment(c, {})
}

test_tagged_image_on_a_registry_port if {
	c := object.union(good_container, {"image": "reg.example.com:5000/shop/api:1.4.2"})
	not "SG-K8S-007" in ids(kubernetes.deny) with input as deployment(c, {})
}

test_missing_resources if {
	c := object.remove(good_container, ["resources"])
	"SG-K8S-008" in ids(kubernetes.warn) with input as deployment(c, {})
}

test_resources_set if not "SG-K8S-008" in ids(kubernetes.warn) with input as deployment(good_container, {})

test_default_service_account if {
	d := {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api"}, "spec": {"template": {"spec": {"containers": [good_container]}}}}
	"SG-K8S-009" in ids(kubernetes.warn) with input as d
}

test_default_service_account_without_token if {
	d := deployment(good_container, {"automountServiceAccountToken": false, "serviceAccountName": "default"})
	not "SG-K8S-009" in ids(kubernetes.warn) with input as d
}

test_plaintext_secret if {
	c := object.union(good_container, {"env": [{"name": "API_TOKEN", "value": "hunter2hunter2"}]})
	"SG-K8S-010" in ids(kubernetes.deny) with input as deployment(c, {})
}

test_cronjob_containers_are_found if {
	c := object.union(good_container, {"securityContext": {"privileged": true}})
	cj := {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "x"}, "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [c]}}}}}}
	"SG-K8S-001" in ids(kubernetes.deny) with input as cj
}

test_the_field_path_points_at_the_offending_key if {
	c := object.union(good_container, {"securityContext": {"privileged": true, "allowPrivilegeEscalation": false, "runAsNonRoot": true}})
	some f in kubernetes.deny with input as deployment(c, {})
	f.id == "SG-K8S-001"
	f.field == ["spec", "template", "spec", "containers", 0, "securityContext", "privileged"]
}
