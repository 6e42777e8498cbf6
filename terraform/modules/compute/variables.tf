variable "name" {
  description = "Name prefix of every resource."
  type        = string
}

variable "ami_id" {
  description = "The platform AMI (Debian 12, nginx, PHP, the app, and usually agentd)."
  type        = string
}

variable "instance_type" {
  type    = string
  default = "t3.medium"
}

variable "root_volume_size" {
  description = "Root EBS volume, GiB."
  type        = number
  default     = 20
}

variable "root_device_name" {
  description = "Root device name of the AMI (Debian's EC2 images: /dev/xvda)."
  type        = string
  default     = "/dev/xvda"
}

variable "private_subnet_ids" {
  type = list(string)
}

variable "security_group_id" {
  description = "The EC2 security group (network module)."
  type        = string
}

variable "target_group_arn" {
  type = string
}

variable "asg_name" {
  type = string
}

variable "min_size" {
  type    = number
  default = 2
}

variable "max_size" {
  type    = number
  default = 10
}

variable "desired_capacity" {
  type    = number
  default = 2
}

variable "health_check_grace_period" {
  type    = number
  default = 300
}

variable "cooldown" {
  description = "Seconds between scaling activities."
  type        = number
  default     = 300
}

variable "launch_hook_name" {
  type = string
}

variable "terminate_hook_name" {
  type = string
}

variable "launch_hook_timeout" {
  description = "Seconds a new instance may stay in Pending:Wait before it is abandoned; covers agentd's 240 s IMDS wait plus bootstrap."
  type        = number
  default     = 600
}

variable "terminate_hook_timeout" {
  description = "Seconds the terminate hook waits for agentd's drain (60 s default) before terminating anyway."
  type        = number
  default     = 300
}

variable "region" {
  type = string
}

variable "db_secret_arn" {
  description = "The application's DB secret ([secret.db]): the one DB secret the instances may read."
  type        = string
}

variable "api_keys_secret_arn" {
  description = "The third-party API keys secret the instances may read."
  type        = string
}

variable "kms_key_arn" {
  description = "The key that encrypts those secrets."
  type        = string
}

variable "log_group_name" {
  type = string
}

variable "log_group_arn" {
  type = string
}

variable "metrics_namespace" {
  description = "The only CloudWatch namespace agentd may put metrics in."
  type        = string
}

variable "agentd_deb_s3_uri" {
  description = "s3://bucket/key of an agentd .deb to install at boot; empty: agentd is in the AMI."
  type        = string
  default     = ""
}

variable "agentd_deb_sha256" {
  description = "SHA-256 (hex) the .deb must have."
  type        = string
  default     = ""
}

variable "s3_endpoint" {
  description = "S3 endpoint the user data fetches the .deb from (path-style), e.g. a VPC interface endpoint; empty: https://BUCKET.s3.REGION.amazonaws.com."
  type        = string
  default     = ""
}
