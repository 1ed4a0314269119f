output "detector_role_arn" {
  description = "ARN of the read-only role (null where create_roles = false)."
  value       = one(aws_iam_role.detector[*].arn)
}

output "remediator_role_arn" {
  description = "ARN of the revert role (null where create_roles = false)."
  value       = one(aws_iam_role.remediator[*].arn)
}

output "forwarding_rule_arns" {
  description = "EventBridge rules forwarding this region's CloudTrail API calls to the central bus."
  value       = [for r in aws_cloudwatch_event_rule.forward : r.arn]
}

output "trail_arn" {
  description = "ARN of the trail (create_trail only)."
  value       = one(module.trail[*].trail_arn)
}
