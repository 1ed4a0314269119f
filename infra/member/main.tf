# Driftwarden in one member account and region:
#   - rules forwarding CloudTrail API calls of covered services to the central bus;
#   - (create_roles) the roles Driftwarden assumes here, read and revert kept apart:
#       detector   = read policies only                       (trusted: the central detector role)
#       remediator = read policies + revert policies, separate (trusted: the central revert worker)
# Patterns and policies are the generated ones the central module uses (../generated).

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  tags       = merge({ "driftwarden:member" = var.name }, var.tags)

  cloudtrail_patterns  = jsondecode(file("${path.module}/../generated/cloudtrail-patterns.json"))
  detector_documents   = jsondecode(file("${path.module}/../generated/detector-policy.json"))
  remediator_documents = jsondecode(file("${path.module}/../generated/remediator-policy.json"))

  forward_rules = { for i, p in local.cloudtrail_patterns : format("cloudtrail-%02d", i) => jsonencode(p) if var.forward_events }

  regional_condition = { StringEquals = { "aws:RequestedRegion" = var.allowed_regions } }
  read_policies = {
    for i, doc in local.detector_documents : format("read-%02d", i) => jsonencode({
      Version = doc.Version
      Statement = [for s in doc.Statement : merge(s, {
        for k, v in { Condition = local.regional_condition } : k => v if length(var.allowed_regions) > 0 && startswith(s.Sid, "Regional")
      })]
    }) if var.create_roles
  }
  revert_policies = {
    for i, doc in local.remediator_documents : format("revert-%02d", i) => jsonencode({
      Version = doc.Version
      Statement = [for s in doc.Statement : merge(s, {
        for k, v in { Condition = local.regional_condition } : k => v if length(var.allowed_regions) > 0 && startswith(s.Sid, "Regional")
      })]
    }) if var.create_roles
  }

  # Trust the central account, but only these role ARNs in it (survives role re-creation).
  trust = {
    for role, principals in { detector = var.detector_principal_arns, remediator = var.remediator_principal_arns } : role => jsonencode({
      Version = "2012-10-17"
      Statement = [{
        Sid       = "CentralDriftwarden"
        Effect    = "Allow"
        Principal = { AWS = distinct([for arn in principals : "arn:${local.partition}:iam::${split(":", arn)[4]}:root"]) }
        Action    = "sts:AssumeRole"
        Condition = { ArnEquals = { "aws:PrincipalArn" = principals } }
      }]
    })
  }
}

# --- forwarding ----------------------------------------------------------------------------------------

resource "aws_iam_role" "forwarder" {
  count = var.forward_events ? 1 : 0

  name        = "${var.name}-forwarder-${local.region}"
  description = "EventBridge: forward CloudTrail API calls to the central Driftwarden bus"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "EventBridge"
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
    }]
  })
  tags = local.tags
}

resource "aws_iam_role_policy" "forwarder" {
  count = var.forward_events ? 1 : 0

  name = "put-central-bus"
  role = aws_iam_role.forwarder[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "PutCentralBus"
      Effect   = "Allow"
      Action   = "events:PutEvents"
      Resource = var.central_event_bus_arn
    }]
  })
}

resource "aws_cloudwatch_event_rule" "forward" {
  for_each = local.forward_rules

  name          = "${var.name}-forward-${each.key}"
  description   = "Driftwarden: CloudTrail API calls of covered services -> central bus"
  event_pattern = each.value
  tags          = local.tags
}

resource "aws_cloudwatch_event_target" "forward" {
  for_each = local.forward_rules

  rule      = aws_cloudwatch_event_rule.forward[each.key].name
  target_id = "central-bus"
  arn       = var.central_event_bus_arn
  role_arn  = aws_iam_role.forwarder[0].arn
}

# --- roles Driftwarden assumes here ----------------------------------------------------------------------

resource "aws_iam_role" "detector" {
  count = var.create_roles ? 1 : 0

  name                 = var.detector_role_name
  description          = "Driftwarden detector: reads covered resource types"
  assume_role_policy   = local.trust["detector"]
  max_session_duration = 3600
  tags                 = local.tags
}

resource "aws_iam_role" "remediator" {
  count = var.create_roles ? 1 : 0

  name                 = var.remediator_role_name
  description          = "Driftwarden remediator: restores declared values after an approved revert"
  assume_role_policy   = local.trust["remediator"]
  max_session_duration = 3600
  tags                 = local.tags
}

resource "aws_iam_policy" "read" {
  for_each = local.read_policies

  name        = "${var.name}-member-${each.key}"
  description = "Driftwarden: read every covered resource type (generated from the plugin registry)"
  policy      = each.value
  tags        = local.tags
}

resource "aws_iam_policy" "revert" {
  for_each = local.revert_policies

  name        = "${var.name}-member-${each.key}"
  description = "Driftwarden: revert covered resource types (generated from the plugin registry)"
  policy      = each.value
  tags        = local.tags
}

resource "aws_iam_role_policy_attachment" "detector_read" {
  for_each = local.read_policies

  role       = aws_iam_role.detector[0].name
  policy_arn = aws_iam_policy.read[each.key].arn
}

# A revert re-reads the resource first (compare-and-set), so the remediator reads too.
resource "aws_iam_role_policy_attachment" "remediator_read" {
  for_each = local.read_policies

  role       = aws_iam_role.remediator[0].name
  policy_arn = aws_iam_policy.read[each.key].arn
}

resource "aws_iam_role_policy_attachment" "remediator_revert" {
  for_each = local.revert_policies

  role       = aws_iam_role.remediator[0].name
  policy_arn = aws_iam_policy.revert[each.key].arn
}

# --- optional trail ------------------------------------------------------------------------------------

module "trail" {
  source = "../trail"
  count  = var.create_trail ? 1 : 0

  name               = "${var.name}-member"
  log_retention_days = var.trail_log_retention_days
  tags               = local.tags
}
