variable "name" {
  description = "Name prefix of every resource."
  type        = string
}

variable "kms_key_arn" {
  description = "The platform key: encrypts the app secret (and the master secret the rotation reads)."
  type        = string
}

variable "master_secret_arn" {
  description = "The RDS-managed master secret: the rotation function and the bootstrap log in with it."
  type        = string
}

variable "cluster_arn" {
  description = "The Aurora cluster (RDS Data API target of the bootstrap)."
  type        = string
}

variable "db_host" {
  description = "The cluster's writer endpoint, stored in the secret (agentd's [check] and the app connect there)."
  type        = string
}

variable "db_port" {
  type = number
}

variable "database_name" {
  description = "The application's schema: the only one its user may touch."
  type        = string
}

variable "username" {
  description = "The application's DB user; the rotation alternates it with USERNAME_clone."
  type        = string
  default     = "app"
  validation {
    condition     = can(regex("^[A-Za-z0-9_]{1,10}$", var.username))
    error_message = "username: 1 to 10 letters, digits or _ (the rotation function appends _clone and refuses names over 16 characters)."
  }
}

variable "privileges" {
  description = "What the user may do on its schema (no ALL, no GRANT OPTION, nothing global)."
  type        = string
  default     = "SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP, REFERENCES, CREATE TEMPORARY TABLES, LOCK TABLES"
}

variable "private_subnet_ids" {
  description = "Where the rotation function runs (it must reach Aurora)."
  type        = list(string)
}

variable "rotation_security_group_id" {
  description = "The rotation function's security group, which Aurora's admits (network module)."
  type        = string
}

variable "rotation_days" {
  type    = number
  default = 7
}

variable "rotation_app_version" {
  description = "Semantic version of SecretsManagerRDSMySQLRotationMultiUser to deploy; null: the latest."
  type        = string
  default     = null
}
