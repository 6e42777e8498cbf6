variable "name" {
  description = "Name prefix of every resource."
  type        = string
}

variable "azs" {
  description = "The two AZs: the writer goes to the first, the reader to the second."
  type        = list(string)
}

variable "private_subnet_ids" {
  type = list(string)
}

variable "security_group_id" {
  description = "The Aurora security group (network module)."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer-managed key for storage, the master secret and Performance Insights."
  type        = string
}

variable "engine_version" {
  description = "Aurora MySQL version (8.0 compatible, 3.x)."
  type        = string
  default     = "8.0.mysql_aurora.3.08.0"
}

variable "database_name" {
  type    = string
  default = "app"
}

variable "master_username" {
  type    = string
  default = "app_admin"
}

variable "min_capacity" {
  description = "Serverless v2 minimum, ACUs."
  type        = number
  default     = 0.5
}

variable "max_capacity" {
  description = "Serverless v2 maximum, ACUs."
  type        = number
  default     = 16
}

variable "backup_retention_days" {
  type    = number
  default = 7
}

variable "secret_rotation_days" {
  description = "Rotation period of the RDS-managed master secret."
  type        = number
  default     = 7
}

variable "deletion_protection" {
  type    = bool
  default = true
}
