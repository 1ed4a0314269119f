# Ignore the drift that automation is supposed to cause: capacity set by autoscaling policies,
# ECS desired counts moved by service autoscaling, and tags stamped by an inventory scanner.
# An ignore rule drops only the changes it matches; the rest of a finding is still reported.

rule "ignore-autoscaling-capacity" {
  match {
    type      = "aws_autoscaling_group"
    attribute = ["desired_capacity"]
  }
  action = "ignore"
}

rule "ignore-ecs-desired-count" {
  match {
    type      = "aws_ecs_service"
    attribute = ["desired_count"]
  }
  action = "ignore"
}

rule "ignore-inventory-tags" {
  description = "The inventory scanner stamps LastScanned/ScannedBy tags on everything."
  match {
    attribute = ["tags.LastScanned", "tags.ScannedBy"]
    actor     = "arn:aws:sts::*:assumed-role/inventory-scanner/*"
  }
  action = "ignore"
}

rule "ignore-application-autoscaling" {
  description = "Application Auto Scaling changes capacity through its service-linked role."
  match {
    actor     = "arn:aws:sts::*:assumed-role/AWSServiceRoleForApplicationAutoScaling_*/*"
    attribute = ["desired_count", "desired_capacity", "min_capacity", "max_capacity"]
  }
  action = "ignore"
}
