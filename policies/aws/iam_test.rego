package shipgate.aws.iam_test

import data.shipgate.aws.iam

ids(results) := {r.id | some r in results}

doc(statements) := {"Version": "2012-10-17", "Statement": statements}

allow(action, resource) := {"Effect": "Allow", "Action": action, "Resource": resource}

all_results(d) := r if {
	r := iam.deny | iam.warn with input as d
}

test_a_scoped_policy_has_no_findings if {
	count(all_results(doc([allow(["s3:GetObject", "s3:PutObject"], "arn:aws:s3:::shop-data/*")]))) == 0
}

test_star_action if "SG-AWS-001" in ids(iam.deny) with input as doc([allow("*", "*")])

test_star_action_denied_is_fine if {
	not "SG-AWS-001" in ids(iam.deny) with input as doc([{"Effect": "Deny", "Action": "*", "Resource": "*"}])
}

test_service_wildcard if "SG-AWS-002" in ids(iam.deny) with input as doc([allow("s3:*", "arn:aws:s3:::b/*")])

test_single_statement_object if "SG-AWS-002" in ids(iam.deny) with input as {"Statement": allow(["iam:*"], "*")}

test_no_service_wildcard if not "SG-AWS-002" in ids(iam.deny) with input as doc([allow("s3:GetObject", "arn:aws:s3:::b/*")])

test_star_resource_on_scopable_actions if "SG-AWS-003" in ids(iam.warn) with input as doc([allow("s3:PutObject", "*")])

test_star_resource_on_unscopable_actions if {
	not "SG-AWS-003" in ids(iam.warn) with input as doc([allow(["ec2:DescribeInstances", "sts:GetCallerIdentity"], "*")])
}

test_not_action if "SG-AWS-004" in ids(iam.deny) with input as doc([{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}])

test_not_action_with_deny if {
	not "SG-AWS-004" in ids(iam.deny) with input as doc([{"Effect": "Deny", "NotAction": "iam:*", "Resource": "*"}])
}

test_pass_role_anywhere if "SG-AWS-005" in ids(iam.deny) with input as doc([allow("iam:PassRole", "*")])

test_pass_role_to_one_service if {
	s := object.union(allow("iam:PassRole", "*"), {"Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}})
	not "SG-AWS-005" in ids(iam.deny) with input as doc([s])
}

test_create_policy_version if "SG-AWS-006" in ids(iam.deny) with input as doc([allow("iam:CreatePolicyVersion", "arn:aws:iam::1:policy/x")])

test_put_policy_wildcard if "SG-AWS-006" in ids(iam.deny) with input as doc([allow("iam:Put*Policy", "*")])

test_read_only_iam if not "SG-AWS-006" in ids(iam.deny) with input as doc([allow("iam:GetRole", "*")])

test_pass_role_and_run_instances if {
	"SG-AWS-008" in ids(iam.deny) with input as doc([allow("iam:PassRole", "arn:aws:iam::1:role/*"), allow("ec2:RunInstances", "*")])
}

test_pass_role_without_launch if {
	not "SG-AWS-008" in ids(iam.deny) with input as doc([allow("iam:PassRole", "arn:aws:iam::1:role/app")])
}

test_trust_anyone if {
	"SG-AWS-007" in ids(iam.deny) with input as doc([{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}])
}

test_trust_anyone_with_an_empty_condition if {
	s := {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole", "Condition": {}}
	"SG-AWS-007" in ids(iam.deny) with input as doc([s])
}

test_trust_anyone_with_a_condition if {
	s := {"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-123"}}}
	not "SG-AWS-007" in ids(iam.deny) with input as doc([s])
}

test_trust_a_service if {
	s := {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
	not "SG-AWS-007" in ids(iam.deny) with input as doc([s])
}
