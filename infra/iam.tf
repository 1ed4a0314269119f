# Execution roles of the functions: "detector" (reads) and "remediator" (the revert worker).
#
# - Registry part: generated/detector-policy.json (read actions) and generated/remediator-policy.json
#   (revert actions only), from chalicelib/iam_policy.py. The detector role gets the reads; the
#   remediator role gets the reads (a revert re-reads first) and, separately, the reverts.
# - Deployment part: the statements below, with the same Sids and actions as
#   chalicelib.iam_policy.APP_ACTIONS (tests/functional/test_infra.py holds them together).

locals {
  lambda_roles = ["detector", "remediator"]

  # Regional statements (Sid "Regional...") get an aws:RequestedRegion condition when regions are set.
  regional_condition = { StringEquals = { "aws:RequestedRegion" = local.regions } }

  read_policies = {
    for i, doc in local.detector_documents : format("read-%02d", i) => jsonencode({
      Version = doc.Version
      Statement = [for s in doc.Statement : merge(s, {
        for k, v in { Condition = local.regional_condition } : k => v if length(local.regions) > 0 && startswith(s.Sid, "Regional")
      })]
    })
  }
  revert_policies = {
    for i, doc in local.remediator_documents : format("revert-%02d", i) => jsonencode({
      Version = doc.Version
      Statement = [for s in doc.Statement : merge(s, {
        for k, v in { Condition = local.regional_condition } : k => v if length(local.regions) > 0 && startswith(s.Sid, "Regional")
      })]
    })
  }

  # s3:prefix values the state index lists with; a whole-bucket location lists without a prefix.
  state_whole_bucket  = anytrue([for s in local.state : s.key == ""])
  source_whole_bucket = anytrue([for s in local.source : s.key == ""])
  state_object_arns = distinct(flatten([for s in local.state : [
    "arn:${local.partition}:s3:::${s.bucket}/${s.key}${s.key == "" || endswith(s.key, "/") ? "*" : ""}",
    "arn:${local.partition}:s3:::${s.bucket}/env:/*/${s.key}${s.key == "" || endswith(s.key, "/") ? "*" : ""}",
  ]]))
  source_object_arns = distinct([for s in local.source : "arn:${local.partition}:s3:::${s.bucket}/${s.key}*"])
  policy_object_arns = [for url in local.policy_objects : "arn:${local.partition}:s3:::${trimprefix(url, "s3://")}"]
  state_list_conditions = local.state_whole_bucket ? [] : [{
    test     = "StringLike"
    variable = "s3:prefix"
    values   = distinct(flatten([for s in local.state : [endswith(s.key, "/") ? "${s.key}*" : s.key, "env:/*"]]))
  }]
  source_list_conditions = local.source_whole_bucket ? [] : [{
    test     = "StringLike"
    variable = "s3:prefix"
    values   = distinct([for s in local.source : "${s.key}*"])
  }]

  # Member roles: listed accounts, or any account of the organization.
  member_role_arns = {
    for role, role_name in local.member_role_names : role => (
      var.organization_id == null
      ? [for a in local.member_accounts : "arn:${local.partition}:iam::${a}:role/${role_name}"]
      : ["arn:${local.partition}:iam::*:role/${role_name}"]
    )
  }
  member_role_conditions = var.organization_id == null ? [] : [{
    test     = "StringEquals"
    variable = "aws:ResourceOrgID"
    values   = [var.organization_id]
  }]

  decrypt_keys = distinct(concat(var.state_kms_key_arns, var.slack_secret_kms_key_arn == null ? [] : [var.slack_secret_kms_key_arn]))

  state_bucket_arns  = [for b in local.state_buckets : "arn:${local.partition}:s3:::${b}"]
  source_bucket_arns = distinct([for s in local.source : "arn:${local.partition}:s3:::${s.bucket}"])
  consumed_queues = {
    for role in local.lambda_roles : role => [
      for q in distinct([for name, f in local.functions : f.queue if f.trigger == "sqs" && f.role == role]) : aws_sqs_queue.work[q].arn
    ]
  }
  log_streams = {
    for role in local.lambda_roles : role => [
      for name, f in local.functions : "${aws_cloudwatch_log_group.fn[name].arn}:*" if f.role == role
    ]
  }

  # One entry per statement, resources by role; a role with nothing to grant gets no statement.
  app_statement_list = [
    {
      sid        = "StateList"
      actions    = ["s3:ListBucket"]
      resources  = { detector = local.state_bucket_arns, remediator = local.state_bucket_arns }
      conditions = local.state_list_conditions
    },
    {
      sid        = "StateRead"
      actions    = ["s3:GetObject"]
      resources  = { detector = local.state_object_arns, remediator = local.state_object_arns }
      conditions = []
    },
    {
      sid        = "SourceList"
      actions    = ["s3:ListBucket"]
      resources  = { detector = local.source_bucket_arns, remediator = local.source_bucket_arns }
      conditions = local.source_list_conditions
    },
    {
      sid        = "SourceRead"
      actions    = ["s3:GetObject"]
      resources  = { detector = local.source_object_arns, remediator = local.source_object_arns }
      conditions = []
    },
    {
      sid        = "PolicyRead"
      actions    = ["s3:GetObject"]
      resources  = { detector = local.policy_object_arns, remediator = local.policy_object_arns }
      conditions = []
    },
    {
      sid        = "FindingsTable"
      actions    = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Scan"]
      resources  = { detector = [aws_dynamodb_table.findings.arn], remediator = [aws_dynamodb_table.findings.arn] }
      conditions = []
    },
    {
      # Append-only: records are never updated or deleted.
      sid        = "AuditTable"
      actions    = ["dynamodb:PutItem", "dynamodb:Query"]
      resources  = { detector = [aws_dynamodb_table.audit.arn], remediator = [aws_dynamodb_table.audit.arn] }
      conditions = []
    },
    {
      sid        = "IdempotencyTable"
      actions    = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
      resources  = { detector = [aws_dynamodb_table.idempotency.arn], remediator = [aws_dynamodb_table.idempotency.arn] }
      conditions = []
    },
    {
      # The Slack route (detector role) enqueues decisions; the worker never does. Judging functions
      # defer events to the other queues (with auto_revert they hold the remediator role).
      sid     = "QueueSend"
      actions = ["sqs:SendMessage"]
      resources = {
        detector   = [for q in local.queue_names : aws_sqs_queue.work[q].arn]
        remediator = [for q in local.queue_names : aws_sqs_queue.work[q].arn if q != local.decision_queue]
      }
      conditions = []
    },
    {
      # Each role consumes the queues its own functions are mapped to.
      sid        = "QueueConsume"
      actions    = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]
      resources  = local.consumed_queues
      conditions = []
    },
    {
      sid        = "FailureDestination"
      actions    = ["sqs:SendMessage"]
      resources  = { detector = [aws_sqs_queue.failed_events.arn], remediator = [aws_sqs_queue.failed_events.arn] }
      conditions = []
    },
    {
      sid        = "SlackSecret"
      actions    = ["secretsmanager:GetSecretValue"]
      resources  = { detector = [var.slack_secret_arn], remediator = [var.slack_secret_arn] }
      conditions = []
    },
    {
      sid        = "Decrypt"
      actions    = ["kms:Decrypt"]
      resources  = { detector = local.decrypt_keys, remediator = local.decrypt_keys }
      conditions = []
    },
    {
      # Detector functions assume member detector roles; the worker assumes member remediator roles.
      sid        = "AssumeMemberRoles"
      actions    = ["sts:AssumeRole"]
      resources  = local.member_role_arns
      conditions = local.member_role_conditions
    },
    {
      sid        = "Logs"
      actions    = ["logs:CreateLogStream", "logs:PutLogEvents"]
      resources  = local.log_streams
      conditions = []
    },
  ]

  app_statements = {
    for role in local.lambda_roles : role => [
      for s in local.app_statement_list : {
        sid        = s.sid
        actions    = s.actions
        resources  = s.resources[role]
        conditions = s.conditions
      } if length(s.resources[role]) > 0
    ]
  }
}

resource "aws_iam_role" "lambda" {
  for_each = toset(local.lambda_roles)

  name        = "${var.name}-lambda-${each.key}"
  description = "Driftwarden ${each.key} functions"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "Lambda"
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = local.tags
}

data "aws_iam_policy_document" "app" {
  for_each = toset(local.lambda_roles)

  dynamic "statement" {
    for_each = local.app_statements[each.key]

    content {
      sid       = statement.value.sid
      effect    = "Allow"
      actions   = statement.value.actions
      resources = statement.value.resources

      dynamic "condition" {
        for_each = statement.value.conditions

        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }
}

resource "aws_iam_policy" "lambda_app" {
  for_each = toset(local.lambda_roles)

  name        = "${var.name}-lambda-${each.key}-app"
  description = "Driftwarden ${each.key}: states, tables, queues, Slack secret, member roles, logs"
  policy      = data.aws_iam_policy_document.app[each.key].json
  tags        = local.tags
}

resource "aws_iam_policy" "lambda_read" {
  for_each = local.read_policies

  name        = "${var.name}-lambda-${each.key}"
  description = "Driftwarden: read every covered resource type (generated from the plugin registry)"
  policy      = each.value
  tags        = local.tags
}

resource "aws_iam_policy" "lambda_revert" {
  for_each = local.revert_policies

  name        = "${var.name}-lambda-${each.key}"
  description = "Driftwarden: revert covered resource types (generated from the plugin registry)"
  policy      = each.value
  tags        = local.tags
}

resource "aws_iam_role_policy_attachment" "lambda_app" {
  for_each = toset(local.lambda_roles)

  role       = aws_iam_role.lambda[each.key].name
  policy_arn = aws_iam_policy.lambda_app[each.key].arn
}

resource "aws_iam_role_policy_attachment" "lambda_read" {
  for_each = {
    for pair in setproduct(local.lambda_roles, keys(local.read_policies)) : "${pair[0]}/${pair[1]}" => {
      role   = pair[0]
      policy = pair[1]
    }
  }

  role       = aws_iam_role.lambda[each.value.role].name
  policy_arn = aws_iam_policy.lambda_read[each.value.policy].arn
}

resource "aws_iam_role_policy_attachment" "lambda_revert" {
  for_each = local.revert_policies

  role       = aws_iam_role.lambda["remediator"].name
  policy_arn = aws_iam_policy.lambda_revert[each.key].arn
}
