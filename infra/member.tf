# This account and region as a member of itself: its own CloudTrail events reach the central bus
# the same way every other account's do, and the functions assume the same roles here.

module "central_member" {
  source = "./member"
  count  = var.central_is_member ? 1 : 0

  name                      = var.name
  central_event_bus_arn     = aws_cloudwatch_event_bus.central.arn
  detector_principal_arns   = [aws_iam_role.lambda["detector"].arn]
  remediator_principal_arns = [aws_iam_role.lambda["remediator"].arn]
  detector_role_name        = var.detector_role_name
  remediator_role_name      = var.remediator_role_name
  allowed_regions           = local.regions
  tags                      = var.tags

  depends_on = [aws_cloudwatch_event_bus_policy.central]
}

module "trail" {
  source = "./trail"
  count  = var.create_trail ? 1 : 0

  name               = var.name
  log_retention_days = var.trail_log_retention_days
  tags               = local.tags
}
