# Workload security: Pods and everything that templates them.
package shipgate.kubernetes

import data.shipgate.lib

templated := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController"}

pod_spec := {"spec": input.spec, "path": ["spec"]} if input.kind == "Pod"

pod_spec := {"spec": input.spec.template.spec, "path": ["spec", "template", "spec"]} if input.kind in templated

pod_spec := {
	"spec": input.spec.jobTemplate.spec.template.spec,
	"path": ["spec", "jobTemplate", "spec", "template", "spec"],
} if input.kind == "CronJob"

# Every container with the path to it.
containers contains {"c": c, "path": array.concat(pod_spec.path, [key, i]), "init": key != "containers"} if {
	some key in ["containers", "initContainers", "ephemeralContainers"]
	some i, c in pod_spec.spec[key]
}

# METADATA
# title: Privileged container
# description: "A container runs with `securityContext.privileged: true`."
# custom:
#   id: SG-K8S-001
#   severity: error
#   why: A privileged container has every capability and the host's devices; escaping to the node is trivial.
#   fix: "Remove `privileged: true`; grant the one capability the process needs instead."
#   example: "securityContext: {privileged: false}"
deny contains lib.finding("SG-K8S-001", sprintf("container %q is privileged", [x.c.name]), array.concat(x.path, ["securityContext", "privileged"])) if {
	some x in containers
	x.c.securityContext.privileged == true
}

# METADATA
# title: Privilege escalation allowed
# description: "A container does not set `securityContext.allowPrivilegeEscalation: false`."
# custom:
#   id: SG-K8S-002
#   severity: error
#   why: Without it a process can gain more privileges than its parent (setuid binaries, file capabilities).
#   fix: "Set `allowPrivilegeEscalation: false` in every container's securityContext."
#   example: "securityContext: {allowPrivilegeEscalation: false}"
deny contains lib.finding("SG-K8S-002", sprintf("container %q does not set allowPrivilegeEscalation: false", [x.c.name]), x.path) if {
	some x in containers
	not x.c.securityContext.allowPrivilegeEscalation == false
}

# METADATA
# title: May run as root
# description: "Neither the pod nor the container sets `runAsNonRoot: true` (or a non-zero `runAsUser`)."
# custom:
#   id: SG-K8S-003
#   severity: warning
#   why: A process running as root inside the container is root on the node after any escape.
#   fix: "Set `securityContext.runAsNonRoot: true` on the pod, and build the image with a non-root USER."
#   example: "spec: {securityContext: {runAsNonRoot: true, runAsUser: 10001}}"
warn contains lib.finding("SG-K8S-003", sprintf("container %q may run as root (runAsNonRoot is not true)", [x.c.name]), x.path) if {
	some x in containers
	not non_root(x.c)
}

non_root(c) if c.securityContext.runAsNonRoot == true

non_root(c) if c.securityContext.runAsUser > 0

non_root(c) if {
	not c.securityContext.runAsNonRoot == false
	pod_spec.spec.securityContext.runAsNonRoot == true
}

non_root(c) if {
	not c.securityContext.runAsUser == 0
	pod_spec.spec.securityContext.runAsUser > 0
}

# METADATA
# title: Added capabilities
# description: A container adds Linux capabilities other than NET_BIND_SERVICE.
# custom:
#   id: SG-K8S-004
#   severity: error
#   why: Capabilities such as SYS_ADMIN, NET_ADMIN or SYS_PTRACE give root-equivalent powers over the node or other containers.
#   fix: Drop ALL and add back only NET_BIND_SERVICE if the process binds a low port.
#   example: "capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}"
deny contains lib.finding("SG-K8S-004", sprintf("container %q adds capability %s", [x.c.name, cap]), array.concat(x.path, ["securityContext", "capabilities", "add", i])) if {
	some x in containers
	some i, cap in x.c.securityContext.capabilities.add
	upper(cap) != "NET_BIND_SERVICE"
}

# METADATA
# title: hostPath volume
# description: The pod mounts a folder of the node (`hostPath`).
# custom:
#   id: SG-K8S-005
#   severity: error
#   why: A hostPath mount exposes the node's filesystem (the container runtime socket, kubelet credentials) to the pod.
#   fix: Use a persistentVolumeClaim, configMap, secret or emptyDir volume instead.
#   example: "volumes: [{name: cache, emptyDir: {}}]"
deny contains lib.finding("SG-K8S-005", sprintf("volume %q mounts the node's %s", [v.name, v.hostPath.path]), array.concat(pod_spec.path, ["volumes", i, "hostPath"])) if {
	some i, v in pod_spec.spec.volumes
	v.hostPath
}

# METADATA
# title: Host namespaces
# description: The pod shares the node's network, PID or IPC namespace.
# custom:
#   id: SG-K8S-006
#   severity: error
#   why: hostNetwork lets the pod sniff and bind the node's interfaces; hostPID and hostIPC let it see and signal every process on the node.
#   fix: Remove hostNetwork, hostPID and hostIPC; expose ports through a Service.
#   example: "spec: {hostNetwork: false}"
deny contains lib.finding("SG-K8S-006", sprintf("the pod uses the node's namespace (%s: true)", [key]), array.concat(pod_spec.path, [key])) if {
	some key in ["hostNetwork", "hostPID", "hostIPC"]
	pod_spec.spec[key] == true
}

# METADATA
# title: Mutable image reference
# description: An image is referenced by `:latest` or without a tag or digest.
# custom:
#   id: SG-K8S-007
#   severity: error
#   why: A moving tag deploys whatever was pushed last; rollbacks and audits cannot tell what ran.
#   fix: Pin the image by digest (`repo@sha256:…`) or an immutable version tag; `shipgate bump` writes it.
#   example: "image: registry.example.com/shop/api@sha256:…"
deny contains lib.finding("SG-K8S-007", sprintf("container %q uses a mutable image reference %q", [x.c.name, x.c.image]), array.concat(x.path, ["image"])) if {
	some x in containers
	mutable_image(x.c.image)
}

mutable_image(img) if {
	not contains(img, "@")
	not image_tag(img)
}

mutable_image(img) if {
	not contains(img, "@")
	image_tag(img) == "latest"
}

# The tag: what follows the last ':' after the last '/'.
image_tag(img) := tag if {
	parts := split(img, "/")
	last := parts[count(parts) - 1]
	contains(last, ":")
	tag := split(last, ":")[1]
}

# METADATA
# title: Missing resource requests or limits
# description: A container sets no CPU or memory request, or no memory limit.
# custom:
#   id: SG-K8S-008
#   severity: warning
#   why: Without requests the scheduler overcommits nodes; without a memory limit one leaking pod evicts its neighbours.
#   fix: Set resources.requests.cpu, resources.requests.memory and resources.limits.memory.
#   example: "resources: {requests: {cpu: 100m, memory: 128Mi}, limits: {memory: 256Mi}}"
warn contains lib.finding("SG-K8S-008", sprintf("container %q has no %s", [x.c.name, concat(".", ["resources", kind, res])]), x.path) if {
	some x in containers
	not x.init
	some pair in [["requests", "cpu"], ["requests", "memory"], ["limits", "memory"]]
	kind := pair[0]
	res := pair[1]
	not x.c.resources[kind][res]
}

# METADATA
# title: Default service account token
# description: The pod runs as the `default` service account with its token mounted.
# custom:
#   id: SG-K8S-009
#   severity: warning
#   why: Every pod of the namespace shares the default account; whatever one of them is granted, all of them get, and the token is exposed to any process in the pod.
#   fix: Give the workload its own serviceAccountName, or set automountServiceAccountToken to false.
#   example: "spec: {serviceAccountName: shop-api, automountServiceAccountToken: false}"
warn contains lib.finding("SG-K8S-009", "the pod runs as the default service account with its token mounted", pod_spec.path) if {
	object.get(pod_spec.spec, "serviceAccountName", "default") == "default"
	not pod_spec.spec.automountServiceAccountToken == false
}

# METADATA
# title: Plaintext secret in env
# description: An environment variable whose name says it holds a secret has a literal value.
# custom:
#   id: SG-K8S-010
#   severity: error
#   why: The value is in git, in the manifest, and readable by anyone who can read the Deployment.
#   fix: Put it in a Secret (or an external secret store) and use valueFrom.secretKeyRef.
#   example: "env: [{name: DB_PASSWORD, valueFrom: {secretKeyRef: {name: db, key: password}}}]"
deny contains lib.finding("SG-K8S-010", sprintf("container %q has a plaintext secret in env %q", [x.c.name, e.name]), array.concat(x.path, ["env", i, "value"])) if {
	some x in containers
	some i, e in x.c.env
	is_string(e.value)
	e.value != ""
	regex.match(`(?i)(password|passwd|secret|token|api_?key|private_?key|credentials?)`, e.name)
}
