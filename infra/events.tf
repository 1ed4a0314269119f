# Event routing.
#
#   member account/region default bus --(infra/member forwarding rules)--> central bus (this module)
#   central bus --(CloudTrail API call rules, patterns from generated/)--> on_cloudtrail
#   default bus: S3 "Object Created" on the state buckets --> the state-change handler (if any)
#   default bus: schedules --> on_schedule (and other scheduled handlers)
#
# EventBridge only sees "AWS API Call via CloudTrail" events in accounts that have a CloudTrail
# trail (create_trail, an organization trail, or your own).

resource "aws_cloudwatch_event_bus" "central" {
  name = var.name
  tags = local.tags
}

locals {
  # This account forwards from its own default bus (same-account bus-to-bus also needs the policy).
  bus_accounts = distinct(concat([local.account_id], var.member_account_ids))

  eventbridge_functions = { for name, f in local.manifest : name => f if f.trigger == "eventbridge" }

  central_rules = merge({}, [for name, f in local.eventbridge_functions : {
    for i, p in f.patterns : format("%s-%02d", name, i) => {
      function = name
      pattern  = jsonencode(p)
    }
  } if f.bus == "central"]...)

  default_rules = merge({}, [for name, f in local.eventbridge_functions : {
    for i, p in f.patterns : format("%s-%02d", name, i) => {
      function = name
      # S3 "Object Created" handlers only hear about the state buckets.
      pattern = f.scope == "state-buckets" ? jsonencode(merge(p, { detail = { bucket = { name = local.state_buckets } } })) : jsonencode(p)
    }
  } if f.bus == "default"]...)

  schedules = {
    for name, f in local.manifest : name => coalesce(
      lookup(var.schedule_overrides, name, null),
      name == "on_schedule" ? var.scan_schedule : null,
      f.schedule,
    ) if f.trigger == "schedule"
  }
}

resource "aws_cloudwatch_event_bus_policy" "central" {
  event_bus_name = aws_cloudwatch_event_bus.central.name
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [{
        Sid       = "AccountsPutEvents"
        Effect    = "Allow"
        Principal = { AWS = [for a in local.bus_accounts : "arn:${local.partition}:iam::${a}:root"] }
        Action    = "events:PutEvents"
        Resource  = aws_cloudwatch_event_bus.central.arn
      }],
      [for org in (var.organization_id == null ? [] : [var.organization_id]) : {
        Sid       = "OrganizationPutEvents"
        Effect    = "Allow"
        Principal = "*"
        Action    = "events:PutEvents"
        Resource  = aws_cloudwatch_event_bus.central.arn
        Condition = { StringEquals = { "aws:PrincipalOrgID" = org } }
      }],
    )
  })
}

# --- CloudTrail API calls, on the central bus --------------------------------------------------------

resource "aws_cloudwatch_event_rule" "central" {
  for_each = local.central_rules

  name           = "${var.name}-${each.key}"
  description    = "Driftwarden: CloudTrail API calls of covered services -> ${each.value.function}"
  event_bus_name = aws_cloudwatch_event_bus.central.name
  event_pattern  = each.value.pattern
  tags           = local.tags
}

resource "aws_cloudwatch_event_target" "central" {
  for_each = local.central_rules

  rule           = aws_cloudwatch_event_rule.central[each.key].name
  event_bus_name = aws_cloudwatch_event_bus.central.name
  target_id      = "lambda"
  arn            = aws_lambda_function.fn[each.value.function].arn

  retry_policy {
    maximum_event_age_in_seconds = 3600
    maximum_retry_attempts       = 8
  }

  dead_letter_config {
    arn = aws_sqs_queue.failed_events.arn
  }
}

resource "aws_lambda_permission" "central" {
  for_each = local.central_rules

  statement_id  = "events-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.fn[each.value.function].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.central[each.key].arn
}

# --- other EventBridge handlers (S3 state changes, ...), on the default bus ------------------------------

resource "aws_cloudwatch_event_rule" "default" {
  for_each = local.default_rules

  name          = "${var.name}-${each.key}"
  description   = "Driftwarden: events for ${each.value.function}"
  event_pattern = each.value.pattern
  tags          = local.tags
}

resource "aws_cloudwatch_event_target" "default" {
  for_each = local.default_rules

  rule      = aws_cloudwatch_event_rule.default[each.key].name
  target_id = "lambda"
  arn       = aws_lambda_function.fn[each.value.function].arn

  retry_policy {
    maximum_event_age_in_seconds = 3600
    maximum_retry_attempts       = 8
  }

  dead_letter_config {
    arn = aws_sqs_queue.failed_events.arn
  }
}

resource "aws_lambda_permission" "default" {
  for_each = local.default_rules

  statement_id  = "events-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.fn[each.value.function].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.default[each.key].arn
}

# S3 sends "Object Created" events to EventBridge only when the bucket says so.
resource "aws_s3_bucket_notification" "state" {
  for_each = toset(var.enable_state_bucket_eventbridge ? local.state_buckets : [])

  bucket      = each.key
  eventbridge = true
}

# --- schedules ---------------------------------------------------------------------------------------

resource "aws_cloudwatch_event_rule" "schedule" {
  for_each = local.schedules

  name                = "${var.name}-${each.key}"
  description         = "Driftwarden: ${each.key} on a schedule"
  schedule_expression = each.value
  tags                = local.tags
}

resource "aws_cloudwatch_event_target" "schedule" {
  for_each = local.schedules

  rule      = aws_cloudwatch_event_rule.schedule[each.key].name
  target_id = "lambda"
  arn       = aws_lambda_function.fn[each.key].arn

  dead_letter_config {
    arn = aws_sqs_queue.failed_events.arn
  }
}

resource "aws_lambda_permission" "schedule" {
  for_each = local.schedules

  statement_id  = "schedule-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.fn[each.key].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.schedule[each.key].arn
}
