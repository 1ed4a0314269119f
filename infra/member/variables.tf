# --- required ----------------------------------------------------------------------------------------

variable "central_event_bus_arn" {
  description = "ARN of the central Driftwarden event bus (output central_event_bus_arn of infra/). This region's CloudTrail API calls are forwarded there."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:events:[a-z0-9-]+:[0-9]{12}:event-bus/.+$", var.central_event_bus_arn))
    error_message = "central_event_bus_arn must be an EventBridge event bus ARN."
  }
}

variable "detector_principal_arns" {
  description = "Role ARNs allowed to assume the read-only detector role (output detector_lambda_role_arn of infra/)."
  type        = list(string)

  validation {
    condition     = length(var.detector_principal_arns) > 0 && alltrue([for a in var.detector_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", a))])
    error_message = "detector_principal_arns must be a non-empty list of IAM role ARNs."
  }
}

variable "remediator_principal_arns" {
  description = "Role ARNs allowed to assume the remediator role (output remediator_lambda_role_arn of infra/)."
  type        = list(string)

  validation {
    condition     = length(var.remediator_principal_arns) > 0 && alltrue([for a in var.remediator_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", a))])
    error_message = "remediator_principal_arns must be a non-empty list of IAM role ARNs."
  }
}

# --- optional ----------------------------------------------------------------------------------------

variable "name" {
  description = "Prefix of the forwarding rules, their role and the member policies."
  type        = string
  default     = "driftwarden"
}

variable "create_roles" {
  description = "Create the detector and remediator roles. IAM is global: set true in exactly one region per account and false in the others."
  type        = bool
  default     = true
}

variable "forward_events" {
  description = "Forward this region's CloudTrail API calls of covered services to the central bus."
  type        = bool
  default     = true
}

variable "detector_role_name" {
  description = "Name of the read-only role (must match detector_role_name of infra/)."
  type        = string
  default     = "driftwarden-detector"
}

variable "remediator_role_name" {
  description = "Name of the revert role (must match remediator_role_name of infra/)."
  type        = string
  default     = "driftwarden-remediator"
}

variable "allowed_regions" {
  description = "When non-empty, the roles' regional permissions are limited to these regions (aws:RequestedRegion); global services are never limited."
  type        = list(string)
  default     = []
}

variable "create_trail" {
  description = "Create a multi-Region CloudTrail trail in this account (skip when an organization trail exists). Without a trail this account sends no API call events."
  type        = bool
  default     = false
}

variable "trail_log_retention_days" {
  description = "Days the trail's log files are kept (create_trail only)."
  type        = number
  default     = 90
}

variable "tags" {
  description = "Tags added to every resource that takes tags."
  type        = map(string)
  default     = {}
}
