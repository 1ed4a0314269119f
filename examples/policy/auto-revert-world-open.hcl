# Revert world-open ingress without waiting for a click, except for the break-glass role.
# Driftwarden reverts automatically only when EVERY remaining change of a finding is matched by
# a revert rule: a finding that also changed, say, a description still waits for a person.

rule "revert-world-open-ingress" {
  match {
    type         = ["aws_security_group", "aws_vpc_security_group_ingress_rule"]
    attribute    = ["ingress"]
    builtin_rule = ["ingress-open-to-world"]
  }
  action   = "revert"
  severity = "critical"
  channel  = "C0SECURITY"
}

rule "revert-world-open-nacl" {
  match {
    type         = ["aws_network_acl", "aws_network_acl_rule"]
    builtin_rule = ["nacl-allow-all-inbound-from-world", "nacl-inbound-open-to-world"]
  }
  action  = "revert"
  channel = "C0SECURITY"
}

rule "break-glass-is-alerted-not-reverted" {
  description = "An incident responder may open access on purpose: alert, do not revert."
  match {
    actor = "arn:aws:sts::*:assumed-role/BreakGlass/*"
  }
  action = "alert"
}
