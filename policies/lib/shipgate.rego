# Helpers shared by the built-in rules.
package shipgate.lib

# A finding: the rule's id, the message, and the path of the offending field in the
# input (keys and list indexes), which shipgate maps back to file:line:col.
finding(id, msg, field) := {"id": id, "msg": msg, "field": field}

# A string or a list of strings, as a list.
as_list(x) := x if is_array(x)

as_list(x) := [x] if is_string(x)

as_list(x) := [] if {
	not is_array(x)
	not is_string(x)
}
