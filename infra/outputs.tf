output "slack_request_url" {
  description = "Paste into the Slack app: Interactivity & Shortcuts -> Request URL."
  value       = local.slack_request_url
}

output "slack_app_manifest" {
  description = "slack-app-manifest.yaml with the real request URL: paste into the Slack app's App Manifest page."
  value       = local.slack_request_url == null ? null : replace(file("${path.module}/slack-app-manifest.yaml"), "https://replace-with-terraform-output.invalid/slack/actions", local.slack_request_url)
}

output "central_event_bus_arn" {
  description = "The bus member accounts forward to (infra/member central_event_bus_arn)."
  value       = aws_cloudwatch_event_bus.central.arn
}

output "detector_lambda_role_arn" {
  description = "Role of the read-only functions (infra/member detector_principal_arns)."
  value       = aws_iam_role.lambda["detector"].arn
}

output "remediator_lambda_role_arn" {
  description = "Role of the function that runs reverts (infra/member remediator_principal_arns)."
  value       = aws_iam_role.lambda["remediator"].arn
}

output "member_module_inputs" {
  description = "What every infra/member instance needs, in one object."
  value = {
    central_event_bus_arn     = aws_cloudwatch_event_bus.central.arn
    detector_principal_arns   = [aws_iam_role.lambda["detector"].arn]
    remediator_principal_arns = [aws_iam_role.lambda["remediator"].arn]
    detector_role_name        = var.detector_role_name
    remediator_role_name      = var.remediator_role_name
    allowed_regions           = local.regions
  }
}

output "function_names" {
  description = "Lambda function name per handler."
  value       = { for name, fn in aws_lambda_function.fn : name => fn.function_name }
}

output "tables" {
  description = "DynamoDB table names."
  value = {
    findings    = aws_dynamodb_table.findings.name
    audit       = aws_dynamodb_table.audit.name
    idempotency = aws_dynamodb_table.idempotency.name
  }
}

output "decision_queue_url" {
  description = "Queue Approve/Revert decisions go through to the worker (DRIFTWARDEN_QUEUE_URL)."
  value       = aws_sqs_queue.work[local.decision_queue].url
}

output "failed_events_queue_url" {
  description = "Events EventBridge could not deliver and invocations that failed after retries."
  value       = aws_sqs_queue.failed_events.url
}

output "cloudtrail_rule_names" {
  description = "Rules on the central bus that feed on_cloudtrail."
  value       = [for r in aws_cloudwatch_event_rule.central : r.name]
}

output "trail_arn" {
  description = "ARN of the trail (create_trail only)."
  value       = one(module.trail[*].trail_arn)
}
