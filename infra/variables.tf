# --- required ----------------------------------------------------------------------------------------

variable "state_locations" {
  description = "Terraform remote states to watch: s3://bucket/path/to/key.tfstate or s3://bucket/prefix/ (every *.tfstate under it, workspaces included). Becomes DRIFTWARDEN_STATE; read access is granted to exactly these objects."
  type        = list(string)

  validation {
    condition     = length(var.state_locations) > 0 && alltrue([for l in var.state_locations : can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$", l))])
    error_message = "state_locations must be a non-empty list of s3://bucket/key or s3://bucket/prefix/ URLs."
  }
}

variable "slack_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the Slack app's credentials as JSON: {\"SLACK_BOT_TOKEN\": \"xoxb-...\", \"SLACK_SIGNING_SECRET\": \"...\"}. Functions read it at runtime (DRIFTWARDEN_SLACK_SECRET_ARN); the values never appear in Terraform state or Lambda configuration."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$", var.slack_secret_arn))
    error_message = "slack_secret_arn must be a Secrets Manager secret ARN."
  }
}

variable "slack_channel" {
  description = "Slack channel alerts are posted to: a channel ID (C0123456789) or #name. Becomes SLACK_CHANNEL."
  type        = string

  validation {
    condition     = length(trimspace(var.slack_channel)) > 0
    error_message = "slack_channel must not be empty."
  }
}

variable "approvers" {
  description = "Slack user IDs (U...) and user-group IDs (S...) allowed to press Approve or Revert. Becomes DRIFTWARDEN_APPROVERS. An empty list means nobody can act from Slack."
  type        = list(string)

  validation {
    condition     = alltrue([for a in var.approvers : can(regex("^[USW][A-Z0-9]{2,}$", a))])
    error_message = "approvers must be Slack user (U...), enterprise user (W...) or user-group (S...) IDs."
  }
}

variable "iac_principals" {
  description = "ARN globs of the principals Terraform applies with (e.g. arn:aws:iam::*:role/terraform-*). Their changes are Terraform's own and never drift. Becomes DRIFTWARDEN_IAC_PRINCIPALS."
  type        = list(string)

  validation {
    condition     = alltrue([for p in var.iac_principals : can(regex("^arn:", p))])
    error_message = "iac_principals must be ARN globs starting with arn:."
  }
}

# --- accounts, regions, events -------------------------------------------------------------------------

variable "name" {
  description = "Prefix of every resource name (functions, tables, queues, the central event bus)."
  type        = string
  default     = "driftwarden"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}$", var.name))
    error_message = "name must be 2-23 lower-case letters, digits or dashes, starting with a letter."
  }
}

variable "member_account_ids" {
  description = "Other AWS accounts watched by this deployment. Each runs infra/member (per region); they may put events on the central bus and their Driftwarden roles may be assumed."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.member_account_ids : can(regex("^[0-9]{12}$", a))])
    error_message = "member_account_ids must be 12-digit account IDs."
  }
}

variable "organization_id" {
  description = "AWS Organizations ID (o-...). When set, every account of the organization may put events on the central bus and member roles are assumed in any account of it (aws:ResourceOrgID), instead of listing member_account_ids."
  type        = string
  default     = null

  validation {
    condition     = var.organization_id == null || can(regex("^o-[a-z0-9]{10,32}$", var.organization_id))
    error_message = "organization_id must look like o-xxxxxxxxxx."
  }
}

variable "member_regions" {
  description = "Regions where members (and this account) forward events. When non-empty, regional read and revert permissions are limited to these regions plus this one (aws:RequestedRegion); global services (IAM, CloudFront, Route 53, ...) are never limited. Empty: no region restriction."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for r in var.member_regions : can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", r))])
    error_message = "member_regions must be region names such as eu-west-1."
  }
}

variable "central_is_member" {
  description = "Also watch this account in this region: creates the member roles here and forwards this account's CloudTrail events from the default bus to the central bus (infra/member). Other regions of this account need their own infra/member with create_roles = false."
  type        = bool
  default     = true
}

variable "detector_role_name" {
  description = "Name of the read-only role in every member account (infra/member creates it; the detector assumes it)."
  type        = string
  default     = "driftwarden-detector"
}

variable "remediator_role_name" {
  description = "Name of the revert role in every member account (infra/member creates it; only the revert worker assumes it)."
  type        = string
  default     = "driftwarden-remediator"
}

variable "create_trail" {
  description = "Create a multi-Region CloudTrail trail (and its log bucket) in this account. Without any trail, EventBridge receives no \"AWS API Call via CloudTrail\" events; skip it when an organization trail already exists."
  type        = bool
  default     = false
}

variable "trail_log_retention_days" {
  description = "Days the trail's log files are kept (create_trail only)."
  type        = number
  default     = 90
}

variable "enable_state_bucket_eventbridge" {
  description = "Turn on S3 -> EventBridge notifications on the state buckets so a new state refreshes the index at once. This REPLACES each bucket's notification configuration; leave false and enable it where the buckets are managed if they have other notifications."
  type        = bool
  default     = false
}

# --- behaviour ----------------------------------------------------------------------------------------

variable "scan_schedule" {
  description = "When the backstop scan runs (EventBridge schedule expression). Becomes the on_schedule rule."
  type        = string
  default     = "rate(1 hour)"

  validation {
    condition     = can(regex("^(rate|cron)\\(.+\\)$", var.scan_schedule))
    error_message = "scan_schedule must be rate(...) or cron(...)."
  }
}

variable "schedule_overrides" {
  description = "Schedule expressions for other scheduled handlers, by function name (default: what app.py declares)."
  type        = map(string)
  default     = {}
}

variable "finding_ttl_hours" {
  description = "Hours a finding (and its Slack buttons) stays actionable before it expires. Becomes DRIFTWARDEN_FINDING_TTL_HOURS."
  type        = number
  default     = 72

  validation {
    condition     = var.finding_ttl_hours > 0
    error_message = "finding_ttl_hours must be positive."
  }
}

variable "auto_revert" {
  description = "Let the drift policy revert without a click (DRIFTWARDEN_AUTO_REVERT). The functions that judge events (on_cloudtrail, on_schedule) then revert inline, so they get the remediator role too."
  type        = bool
  default     = false
}

variable "policy_location" {
  description = "The drift policy (docs/POLICY.md): an s3://bucket/key object (read access is granted to it) or a path inside the bundle. Becomes DRIFTWARDEN_POLICY. Null: built-in severities, alert on everything."
  type        = string
  default     = null
}

variable "source_locations" {
  description = "Where CI syncs the Terraform configuration (.tf) of each state, for lifecycle.ignore_changes: state location => s3://bucket/prefix/ (e.g. {\"s3://tfstate/\" = \"s3://tf-src/\"}). Becomes DRIFTWARDEN_SOURCE (STATE=SOURCE pairs); read access is granted to these prefixes only."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for s in values(var.source_locations) : can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$", s))])
    error_message = "source_locations values must be s3:// URLs."
  }
}

variable "state_accounts" {
  description = "Which account the resources of a state live in, when it is not this one: state location prefix => account ID (e.g. {\"s3://tfstate/prod/\" = \"222222222222\"}). The scan assumes the member roles there. Becomes DRIFTWARDEN_STATE_ACCOUNTS."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for a in values(var.state_accounts) : can(regex("^[0-9]{12}$", a))])
    error_message = "state_accounts values must be 12-digit account IDs."
  }
}

variable "four_eyes" {
  description = "Require a second approver: the person who made the change may not approve or revert it (DRIFTWARDEN_FOUR_EYES)."
  type        = bool
  default     = false
}

variable "revert_cap_per_hour" {
  description = "Reverts of one resource per hour before Driftwarden stops and escalates: another automation may be fighting it (DRIFTWARDEN_REVERT_CAP)."
  type        = number
  default     = 3
}

variable "state_kms_key_arns" {
  description = "KMS keys encrypting the state, source or policy objects, if not S3-managed: the functions get kms:Decrypt on them."
  type        = list(string)
  default     = []
}

variable "slack_secret_kms_key_arn" {
  description = "KMS key encrypting the Slack secret, if not the AWS-managed one: the functions get kms:Decrypt on it."
  type        = string
  default     = null
}

variable "extra_environment" {
  description = "More environment variables for every function (settings this module does not know yet). The module's own variables win on a clash."
  type        = map(string)
  default     = {}
}

# --- operations ---------------------------------------------------------------------------------------

variable "lambda_timeout" {
  description = "Default function timeout in seconds (the Slack route and the scan have their own)."
  type        = number
  default     = 60
}

variable "lambda_memory_size" {
  description = "Default function memory in MB."
  type        = number
  default     = 512
}

variable "function_overrides" {
  description = "Per-function timeout (s) and memory (MB), by function name (api, on_cloudtrail, on_decision, on_schedule, ...)."
  type = map(object({
    timeout     = optional(number)
    memory_size = optional(number)
  }))
  default = {}
}

variable "log_level" {
  description = "Log level of the functions (POWERTOOLS_LOG_LEVEL)."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "log_retention_days" {
  description = "Days function and API logs are kept."
  type        = number
  default     = 30
}

variable "alarm_actions" {
  description = "SNS topic ARNs notified when an alarm (function errors or throttles, messages in a dead-letter queue) fires or clears."
  type        = list(string)
  default     = []
}

variable "max_receive_count" {
  description = "Deliveries of a queue message before it moves to the queue's dead-letter queue."
  type        = number
  default     = 5
}

variable "table_deletion_protection" {
  description = "Protect the DynamoDB tables from deletion (set false, apply, then destroy to uninstall)."
  type        = bool
  default     = true
}

variable "package_dir" {
  description = "Directory holding deployment.zip and package.json from `make package` (default: infra/build)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource that takes tags."
  type        = map(string)
  default     = {}
}
