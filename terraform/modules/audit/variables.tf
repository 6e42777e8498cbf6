variable "name" {
  description = "Name prefix of every resource."
  type        = string
}

variable "kms_key_arn" {
  description = "The platform key: CloudTrail encrypts the log files with it (its key policy lets CloudTrail use it)."
  type        = string
}

variable "retention_days" {
  description = "Days a CloudTrail log file is kept (versions included) before it expires."
  type        = number
  default     = 365
}
