# Argo CD Applications.
package shipgate.kubernetes

import data.shipgate.lib

is_application if {
	input.kind == "Application"
	startswith(input.apiVersion, "argoproj.io/")
}

# METADATA
# title: Application in the default project
# description: An Argo CD Application uses the `default` AppProject (or none).
# custom:
#   id: SG-ARGO-001
#   severity: warning
#   why: The default project allows every source repository, destination cluster and namespace; it is no boundary at all.
#   fix: Create an AppProject per team with its sourceRepos and destinations, and set spec.project.
#   example: "spec: {project: shop}"
warn contains lib.finding("SG-ARGO-001", sprintf("Application %q is in the default project", [input.metadata.name]), ["spec", "project"]) if {
	is_application
	object.get(input.spec, "project", "default") == "default"
}

sources contains {"s": input.spec.source, "path": ["spec", "source"]} if input.spec.source

sources contains {"s": s, "path": ["spec", "sources", i]} if some i, s in input.spec.sources

production if regex.match(`(^|[-_.])prod(uction)?($|[-_.])`, input.spec.destination.namespace)

production if regex.match(`(^|[-_.])prod(uction)?($|[-_.])`, input.metadata.name)

production if input.metadata.labels.environment in {"prod", "production"}

moving_revision(rev) if rev in {"", "HEAD", "main", "master"}

# METADATA
# title: Production tracks a moving revision
# description: A production Application's source tracks HEAD (or a default branch) instead of a tag or commit.
# custom:
#   id: SG-ARGO-002
#   severity: error
#   why: Whatever lands on the branch goes to production at once, without a release step that can be reviewed or rolled back.
#   fix: Point targetRevision at a release tag or a commit; let the release pipeline bump it.
#   example: "targetRevision: v1.4.2"
deny contains lib.finding("SG-ARGO-002", sprintf("production Application %q tracks %q", [input.metadata.name, rev]), array.concat(x.path, ["targetRevision"])) if {
	is_application
	production
	some x in sources
	rev := object.get(x.s, "targetRevision", "HEAD")
	moving_revision(rev)
}

# METADATA
# title: Automated prune without self-heal
# description: An Application syncs automatically with prune but without selfHeal.
# custom:
#   id: SG-ARGO-003
#   severity: warning
#   why: Prune deletes resources that left git, while manual drift in the cluster is never corrected; the live state and git diverge silently.
#   fix: Set syncPolicy.automated.selfHeal to true (or turn prune off).
#   example: "syncPolicy: {automated: {prune: true, selfHeal: true}}"
warn contains lib.finding("SG-ARGO-003", sprintf("Application %q prunes automatically without selfHeal", [input.metadata.name]), ["spec", "syncPolicy", "automated"]) if {
	is_application
	input.spec.syncPolicy.automated.prune == true
	not input.spec.syncPolicy.automated.selfHeal == true
}
