# Security team, strict: nothing is ignored, production goes to #security at high or above,
# and anything that opens something to the world is critical.
#
# Rules are read top to bottom; for each setting the LAST rule that applies wins.
# Broad rules first, exceptions after them.

rule "everything-to-security" {
  description = "Every finding goes to the security channel unless a later rule routes it."
  channel     = "C0SECURITY"
}

rule "production-is-high" {
  description = "Any drift in the production accounts is at least high."
  match {
    account = ["111122223333", "444455556666"]
  }
  severity = "high"
}

# This rule comes after production-is-high on purpose: that rule sets every production change to
# high, and the last rule that sets severity wins, so world/public exposure is raised back here.
rule "public-exposure-is-critical" {
  description = "World or public access is critical in every account."
  match {
    builtin_rule = ["*-open-to-world", "*-from-world", "*-public"]
  }
  severity = "critical"
}

rule "iam-is-critical-in-production" {
  match {
    type    = "aws_iam_*"
    account = ["111122223333", "444455556666"]
  }
  severity = "critical"
}

rule "console-sessions-in-production" {
  description = "People in the console in production: page the on-call channel instead."
  match {
    account = ["111122223333", "444455556666"]
    actor   = ["arn:aws:sts::*:assumed-role/AWSReservedSSO_*/*", "arn:aws:iam::*:user/*"]
  }
  channel = "C0SECONCALL"
}
