package shipgate.kubernetes_argocd_test

import data.shipgate.kubernetes

ids(results) := {r.id | some r in results}

app(name, spec) := {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": name, "namespace": "argocd"}, "spec": spec}

good := {
	"project": "shop",
	"source": {"repoURL": "https://gitlab.example.com/platform/gitops.git", "path": "apps/api", "targetRevision": "v1.4.2"},
	"destination": {"server": "https://kubernetes.default.svc", "namespace": "shop-prod"},
	"syncPolicy": {"automated": {"prune": true, "selfHeal": true}},
}

all_results(doc) := r if {
	r := kubernetes.deny | kubernetes.warn with input as doc
}

test_a_good_application_has_no_findings if count(all_results(app("shop-api-prod", good))) == 0

test_default_project if "SG-ARGO-001" in ids(kubernetes.warn) with input as app("a", object.union(good, {"project": "default"}))

test_no_project if "SG-ARGO-001" in ids(kubernetes.warn) with input as app("a", object.remove(good, ["project"]))

test_own_project if not "SG-ARGO-001" in ids(kubernetes.warn) with input as app("a", good)

test_production_tracks_head if {
	spec := object.union(good, {"source": {"targetRevision": "HEAD"}})
	"SG-ARGO-002" in ids(kubernetes.deny) with input as app("shop-api", spec)
}

test_production_multi_source_tracks_main if {
	spec := object.union(object.remove(good, ["source"]), {"sources": [{"repoURL": "x", "targetRevision": "v1"}, {"repoURL": "y", "targetRevision": "main"}]})
	"SG-ARGO-002" in ids(kubernetes.deny) with input as app("shop-api", spec)
}

test_staging_may_track_head if {
	spec := object.union(good, {"source": {"targetRevision": "HEAD"}, "destination": {"namespace": "shop-staging"}})
	not "SG-ARGO-002" in ids(kubernetes.deny) with input as app("shop-api-staging", spec)
}

test_prune_without_self_heal if {
	spec := object.union(good, {"syncPolicy": {"automated": {"prune": true, "selfHeal": false}}})
	"SG-ARGO-003" in ids(kubernetes.warn) with input as app("a", spec)
}

test_prune_with_self_heal if not "SG-ARGO-003" in ids(kubernetes.warn) with input as app("a", good)
