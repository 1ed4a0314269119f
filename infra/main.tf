# Driftwarden: the central deployment (one account, one region).
#
# Everything that depends on the plugin registry or on app.py is read from generated/ (written by
# infra/generate.py, or `make package`); nothing here lists resource types, event sources or IAM
# actions of covered services by hand.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  tags       = merge({ "driftwarden:deployment" = var.name }, var.tags)

  # --- generated from the registry and app.py ----------------------------------------------------
  manifest             = jsondecode(file("${path.module}/generated/functions.json"))
  detector_documents   = jsondecode(file("${path.module}/generated/detector-policy.json"))
  remediator_documents = jsondecode(file("${path.module}/generated/remediator-policy.json"))

  # --- the bundle from `make package` ------------------------------------------------------------
  package_dir = coalesce(var.package_dir, "${path.module}/build")
  package     = jsondecode(file("${local.package_dir}/package.json"))
  bundle      = "${local.package_dir}/deployment.zip"

  # --- functions: one per handler in app.py ------------------------------------------------------
  # The decision worker: the SQS handler that carries out Approve/Revert (the only SQS handler, or
  # on_decision when there are several). The Slack route only records the decision and enqueues it.
  sqs_functions   = sort([for name, f in local.manifest : name if f.trigger == "sqs"])
  decision_worker = length(local.sqs_functions) == 1 ? local.sqs_functions[0] : (contains(local.sqs_functions, "on_decision") ? "on_decision" : null)
  # Whoever runs revert plans holds the remediator role; every other function only reads. With
  # auto_revert the functions that judge events revert inline (chalicelib/actions/workflow.py).
  judging_functions = [for name in ["on_cloudtrail", "on_deferred", "on_schedule"] : name if contains(keys(local.manifest), name)]
  remediator_functions = concat(
    local.decision_worker == null ? [] : [local.decision_worker],
    var.auto_revert ? local.judging_functions : [],
  )

  builtin_settings = {
    api         = { timeout = 10, memory_size = null }  # Slack wants an answer within 3 s
    on_decision = { timeout = 120, memory_size = null } # re-read, revert, verify, update Slack
    on_schedule = { timeout = 900, memory_size = 1024 } # judges every managed object of every state
    on_sweep    = { timeout = 300, memory_size = null } # expiry and the Slack outbox
  }

  functions = {
    for name, f in local.manifest : name => {
      handler     = f.handler
      trigger     = f.trigger
      queue       = f.queue
      role        = contains(local.remediator_functions, name) ? "remediator" : "detector"
      timeout     = coalesce(try(var.function_overrides[name].timeout, null), try(local.builtin_settings[name].timeout, null), var.lambda_timeout)
      memory_size = coalesce(try(var.function_overrides[name].memory_size, null), try(local.builtin_settings[name].memory_size, null), var.lambda_memory_size)
    }
  }

  # --- state and source locations (s3://bucket/key or s3://bucket/prefix/) -----------------------
  state = [for url in var.state_locations : {
    bucket = regex("^s3://([^/]+)/?(.*)$", url)[0]
    key    = regex("^s3://([^/]+)/?(.*)$", url)[1]
  }]
  # Source prefixes: directories (chalicelib/state/source.py adds the trailing "/").
  source_parts = [for url in distinct(values(var.source_locations)) : regex("^s3://([^/]+)/?(.*)$", url)]
  source = [for p in local.source_parts : {
    bucket = p[0]
    key    = p[1] == "" || endswith(p[1], "/") ? p[1] : "${p[1]}/"
  }]
  # The drift policy, when it is an S3 object (otherwise a path inside the bundle).
  policy_objects = startswith(coalesce(var.policy_location, "-"), "s3://") ? [var.policy_location] : []
  state_buckets = distinct([for s in local.state : s.bucket])

  # Members: accounts whose roles the functions assume (this one too when it is watched).
  member_accounts = distinct(concat(var.central_is_member ? [local.account_id] : [], var.member_account_ids))
  # Regional permissions are limited to these regions (empty: no limit).
  regions = length(var.member_regions) == 0 ? [] : distinct(concat([local.region], var.member_regions))

  member_role_names = {
    detector   = var.detector_role_name
    remediator = var.remediator_role_name
  }
  member_role_templates = {
    for role, role_name in local.member_role_names : role => "arn:${local.partition}:iam::{account}:role/${role_name}"
  }

  # Driftwarden's own principals: its changes are reverts, never drift.
  self_principals = concat(
    [for role_name in values(local.member_role_names) : "arn:${local.partition}:iam::*:role/${role_name}"],
    [for role in keys(local.member_role_names) : "arn:${local.partition}:iam::${local.account_id}:role/${var.name}-lambda-${role}"],
  )

  environment = {
    DRIFTWARDEN_STATE             = join(",", var.state_locations)
    DRIFTWARDEN_SOURCE            = join(",", [for state, source in var.source_locations : "${state}=${source}"])
    DRIFTWARDEN_POLICY            = var.policy_location == null ? "" : var.policy_location
    DRIFTWARDEN_STATE_ACCOUNTS    = join(",", [for state, account in var.state_accounts : "${state}=${account}"])
    DRIFTWARDEN_IAC_PRINCIPALS    = join(",", var.iac_principals)
    DRIFTWARDEN_SELF_PRINCIPALS   = join(",", local.self_principals)
    DRIFTWARDEN_TABLE             = aws_dynamodb_table.findings.name
    DRIFTWARDEN_AUDIT_TABLE       = aws_dynamodb_table.audit.name
    DRIFTWARDEN_IDEMPOTENCY_TABLE = aws_dynamodb_table.idempotency.name
    DRIFTWARDEN_QUEUE_URL         = aws_sqs_queue.work[local.decision_queue].url
    DRIFTWARDEN_APPROVERS         = join(",", var.approvers)
    DRIFTWARDEN_FOUR_EYES         = var.four_eyes ? "true" : "false"
    DRIFTWARDEN_AUTO_REVERT       = var.auto_revert ? "true" : "false"
    DRIFTWARDEN_REVERT_CAP        = tostring(var.revert_cap_per_hour)
    DRIFTWARDEN_FINDING_TTL_HOURS = tostring(var.finding_ttl_hours)
    DRIFTWARDEN_SLACK_SECRET_ARN  = var.slack_secret_arn
    SLACK_CHANNEL                 = var.slack_channel
    POWERTOOLS_SERVICE_NAME       = "driftwarden"
    POWERTOOLS_METRICS_NAMESPACE  = "Driftwarden"
    POWERTOOLS_LOG_LEVEL          = var.log_level
  }
}
