variable "name" {
  description = "Trail name; the log bucket is <name>-trail-<account>-<region>."
  type        = string
}

variable "log_retention_days" {
  description = "Days log files are kept in the bucket."
  type        = number
  default     = 90
}

variable "tags" {
  description = "Tags for the trail and its bucket."
  type        = map(string)
  default     = {}
}
