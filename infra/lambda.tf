# One Lambda function per handler in generated/functions.json, all from the same bundle.

resource "aws_cloudwatch_log_group" "fn" {
  for_each = local.functions

  name              = "/aws/lambda/${var.name}-${each.key}"
  retention_in_days = var.log_retention_days
  tags              = local.tags
}

resource "aws_lambda_function" "fn" {
  for_each = local.functions

  function_name    = "${var.name}-${each.key}"
  description      = "Driftwarden ${each.key} (${each.value.trigger}, ${each.value.role})"
  role             = aws_iam_role.lambda[each.value.role].arn
  handler          = each.value.handler
  runtime          = local.package.runtime
  architectures    = [local.package.architecture]
  filename         = local.bundle
  source_code_hash = filebase64sha256(local.bundle)
  timeout          = each.value.timeout
  memory_size      = each.value.memory_size

  environment {
    variables = merge(var.extra_environment, local.environment, local.queue_environment, {
      DRIFTWARDEN_MEMBER_ROLE = local.member_role_templates[each.value.role]
    })
  }

  tags = local.tags

  # Logs go to the group above (not one Lambda would create without retention), and the role can
  # act before the first invocation.
  depends_on = [
    aws_cloudwatch_log_group.fn,
    aws_iam_role_policy_attachment.lambda_app,
    aws_iam_role_policy_attachment.lambda_read,
    aws_iam_role_policy_attachment.lambda_revert,
  ]
}

# EventBridge and the scheduler invoke asynchronously: retry twice, then keep the event for
# inspection instead of dropping it.
resource "aws_lambda_function_event_invoke_config" "fn" {
  for_each = { for name, f in local.functions : name => f if contains(["eventbridge", "schedule"], f.trigger) }

  function_name                = aws_lambda_function.fn[each.key].function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 3600

  destination_config {
    on_failure {
      destination = aws_sqs_queue.failed_events.arn
    }
  }
}

resource "aws_lambda_event_source_mapping" "sqs" {
  for_each = { for name, f in local.manifest : name => f if f.trigger == "sqs" }

  event_source_arn                   = aws_sqs_queue.work[each.value.queue].arn
  function_name                      = aws_lambda_function.fn[each.key].arn
  batch_size                         = each.value.batch_size
  maximum_batching_window_in_seconds = each.value.batching_window

  # AWS checks the consumer's permissions when the mapping is created.
  depends_on = [aws_iam_role_policy_attachment.lambda_app]
}
