# AWS IAM policy documents: identity policies and trust (assume-role) policies.
package shipgate.aws.iam

import data.shipgate.lib

statements contains {"s": s, "path": ["Statement", i]} if {
	is_array(input.Statement)
	some i, s in input.Statement
}

statements contains {"s": input.Statement, "path": ["Statement"]} if is_object(input.Statement)

allows contains x if {
	some x in statements
	x.s.Effect == "Allow"
}

actions(s) := {lower(a) | some a in lib.as_list(s.Action)}

resources(s) := {r | some r in lib.as_list(s.Resource)}

# The statement grants `action` (wildcards in the statement's actions expand).
grants(s, action) if {
	some a in actions(s)
	glob.match(a, [], lower(action))
}

trust if {
	some x in statements
	x.s.Principal
}

# METADATA
# title: All actions
# description: An Allow statement grants Action "*".
# custom:
#   id: SG-AWS-001
#   severity: error
#   why: '"*" is every action of every service: administrator access.'
#   fix: List the actions the principal calls.
#   example: "Action: [s3:GetObject, s3:PutObject]"
deny contains lib.finding("SG-AWS-001", "the statement allows every action (\"*\")", array.concat(x.path, ["Action"])) if {
	some x in allows
	"*" in actions(x.s)
}

# METADATA
# title: Service-wide wildcard
# description: An Allow statement grants every action of a service (`s3:*`, `iam:*`).
# custom:
#   id: SG-AWS-002
#   severity: error
#   why: A service wildcard includes the service's administrative and destructive actions and every action AWS adds later.
#   fix: List the actions the principal calls (s3:GetObject, …).
#   example: "Action: [s3:GetObject, s3:ListBucket]"
deny contains lib.finding("SG-AWS-002", sprintf("the statement allows every action of %s", [a]), array.concat(x.path, ["Action"])) if {
	some x in allows
	some a in actions(x.s)
	endswith(a, ":*")
}

# Actions that cannot be scoped to a resource: a "*" there is not a finding.
unscopable(a) if regex.match(`^[a-z0-9-]+:(list|describe|get)[a-z]*$`, a)

unscopable(a) if a in {"sts:getcalleridentity", "s3:listallmybuckets", "ecr:getauthorizationtoken", "logs:createloggroup"}

# METADATA
# title: Resource "*" on scopable actions
# description: An Allow statement grants actions that take resource ARNs on Resource "*".
# custom:
#   id: SG-AWS-003
#   severity: warning
#   why: The actions apply to every bucket, queue, key or role of the account, including ones created later.
#   fix: Name the resources' ARNs (arn:aws:s3:::shop-data/*).
#   example: "Resource: arn:aws:s3:::shop-data/*"
warn contains lib.finding("SG-AWS-003", sprintf("%s on Resource \"*\"", [concat(", ", sort(scoped))]), array.concat(x.path, ["Resource"])) if {
	some x in allows
	"*" in resources(x.s)
	scoped := {a | some a in actions(x.s); a != "*"; not endswith(a, ":*"); not unscopable(a)}
	count(scoped) > 0
}

# METADATA
# title: NotAction or NotResource with Allow
# description: An Allow statement uses NotAction or NotResource.
# custom:
#   id: SG-AWS-004
#   severity: error
#   why: Allow with NotAction grants everything except the listed actions, including every action AWS adds later.
#   fix: Allow the listed actions with Action instead; use Deny with NotAction only for guard rails.
#   example: "Effect: Allow, Action: [s3:GetObject]"
deny contains lib.finding("SG-AWS-004", sprintf("Allow with %s grants everything not listed", [key]), array.concat(x.path, [key])) if {
	some x in allows
	some key in ["NotAction", "NotResource"]
	x.s[key]
}

# METADATA
# title: Unconstrained iam:PassRole
# description: An Allow statement grants iam:PassRole on Resource "*" without an iam:PassedToService condition.
# custom:
#   id: SG-AWS-005
#   severity: error
#   why: The principal can hand any role of the account, administrators included, to a service it controls.
#   fix: Scope Resource to the role ARNs and add a condition on iam:PassedToService.
#   example: "Resource: arn:aws:iam::123456789012:role/shop-api, Condition: {StringEquals: {iam:PassedToService: ecs-tasks.amazonaws.com}}"
deny contains lib.finding("SG-AWS-005", "iam:PassRole is allowed on every role", array.concat(x.path, ["Resource"])) if {
	some x in allows
	not "*" in actions(x.s)
	grants(x.s, "iam:PassRole")
	"*" in resources(x.s)
	not passed_to_service(x.s)
}

passed_to_service(s) if {
	some op, cond in s.Condition
	some k, _ in cond
	lower(k) == "iam:passedtoservice"
}

escalation_actions := [
	"iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:AttachUserPolicy", "iam:AttachGroupPolicy",
	"iam:AttachRolePolicy", "iam:PutUserPolicy", "iam:PutGroupPolicy", "iam:PutRolePolicy",
	"iam:UpdateAssumeRolePolicy", "iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile",
	"iam:AddUserToGroup",
]

# METADATA
# title: Privilege escalation action
# description: An Allow statement grants an IAM action that lets the principal raise its own privileges (new policy versions, attaching or writing policies, editing trust, new credentials for others).
# custom:
#   id: SG-AWS-006
#   severity: error
#   why: Each of these is a known path from a limited principal to administrator.
#   fix: Remove the action; let an administrator pipeline manage IAM, or scope it with a permissions boundary.
#   example: "Action: [iam:GetRole]"
deny contains lib.finding("SG-AWS-006", sprintf("%s allows privilege escalation", [a]), array.concat(x.path, ["Action"])) if {
	some x in allows
	not "*" in actions(x.s)
	some a in escalation_actions
	grants(x.s, a)
}

compute_launch := ["ec2:RunInstances", "lambda:CreateFunction", "cloudformation:CreateStack", "glue:CreateDevEndpoint", "ecs:RunTask", "sagemaker:CreateNotebookInstance"]

# METADATA
# title: PassRole with a compute launch
# description: The policy allows iam:PassRole together with an action that starts compute running as the passed role.
# custom:
#   id: SG-AWS-008
#   severity: error
#   why: Launching an instance, function or stack with a more privileged role runs the principal's code with that role's permissions.
#   fix: Scope iam:PassRole to the roles this workload launches, with an iam:PassedToService condition.
#   example: "Condition: {StringEquals: {iam:PassedToService: lambda.amazonaws.com}}"
deny contains lib.finding("SG-AWS-008", sprintf("iam:PassRole together with %s runs code as any passable role", [launch]), array.concat(pass.path, ["Action"])) if {
	some pass in allows
	grants(pass.s, "iam:PassRole")
	not passed_to_service(pass.s)
	not "*" in actions(pass.s)
	some x in allows
	some launch in compute_launch
	grants(x.s, launch)
}

# METADATA
# title: Anyone can assume the role
# description: A trust policy allows Principal "*" (or AWS "*") without a condition.
# custom:
#   id: SG-AWS-007
#   severity: error
#   why: Any AWS account in the world can assume the role.
#   fix: Name the account, role or service principal that assumes it, or add conditions (aws:PrincipalOrgID, sts:ExternalId).
#   example: "Principal: {AWS: arn:aws:iam::123456789012:role/ci}"
deny contains lib.finding("SG-AWS-007", "the role can be assumed by any principal (\"*\")", array.concat(x.path, ["Principal"])) if {
	some x in allows
	anyone(x.s.Principal)
	count(object.get(x.s, "Condition", {})) == 0
}

anyone(p) if p == "*"

anyone(p) if "*" in lib.as_list(p.AWS)
