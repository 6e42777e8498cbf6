variable "region" {
  description = "AWS region of the platform."
  type        = string
  default     = "eu-central-1"
  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", var.region))
    error_message = "region must look like eu-central-1."
  }
}

variable "name" {
  description = "Name prefix of every resource (also the ALB name: at most 32 characters)."
  type        = string
  default     = "php-app"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,24}$", var.name))
    error_message = "name: lowercase letters, digits and dashes, 2 to 25 characters."
  }
}

variable "environment" {
  description = "Environment tag (production, staging...)."
  type        = string
  default     = "production"
}

# --- Network (architecture section 1) ---

variable "vpc_cidr" {
  type    = string
  default = "10.0.0.0/16"
}

variable "public_subnet_cidrs" {
  type    = list(string)
  default = ["10.0.1.0/24", "10.0.2.0/24"]
}

variable "private_subnet_cidrs" {
  type    = list(string)
  default = ["10.0.11.0/24", "10.0.12.0/24"]
}

variable "bastion_security_group_id" {
  description = "Security group of a bastion host allowed to SSH in; null: no SSH."
  type        = string
  default     = null
}

# --- Load balancer (section 2) ---

variable "certificate_arn" {
  description = "ACM certificate (same region) for the HTTPS listener."
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:acm:", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN."
  }
}

variable "stickiness_enabled" {
  description = "Sticky sessions on the target group."
  type        = bool
  default     = false
}

# --- Compute (section 3) ---

variable "ami_id" {
  description = "The platform AMI (Debian 12 with nginx, PHP, the app and agentd)."
  type        = string
  validation {
    condition     = can(regex("^ami-[0-9a-f]{8,17}$", var.ami_id))
    error_message = "ami_id must look like ami-0123456789abcdef0."
  }
}

variable "instance_type" {
  type    = string
  default = "t3.medium"
}

variable "agentd_deb_path" {
  description = "Local path of the .deb built by ./dev deb; Terraform uploads it to the artifacts bucket and the instances install it at boot. Empty: use agentd_deb_s3_uri, or agentd in the AMI."
  type        = string
  default     = ""
  validation {
    condition     = var.agentd_deb_path == "" || can(regex("\\.deb$", var.agentd_deb_path))
    error_message = "agentd_deb_path must be empty or the path of a .deb file."
  }
}

variable "s3_endpoint" {
  description = "S3 endpoint the user data fetches the package from (path-style), e.g. an interface VPC endpoint. Empty: https://BUCKET.s3.REGION.amazonaws.com."
  type        = string
  default     = ""
}

variable "agentd_deb_s3_uri" {
  description = "s3://bucket/key.deb of an agentd package to install at boot; empty when the AMI has agentd."
  type        = string
  default     = ""
  validation {
    condition     = var.agentd_deb_s3_uri == "" || can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/[A-Za-z0-9_./+=-]+\\.deb$", var.agentd_deb_s3_uri))
    error_message = "agentd_deb_s3_uri must be empty or s3://bucket/path/name.deb."
  }
}

variable "agentd_deb_sha256" {
  description = "SHA-256 of that package (64 hex digits); required with agentd_deb_s3_uri."
  type        = string
  default     = ""
  validation {
    condition     = var.agentd_deb_sha256 == "" || can(regex("^[0-9a-f]{64}$", var.agentd_deb_sha256))
    error_message = "agentd_deb_sha256 must be 64 lowercase hex digits."
  }
}

# --- Monitoring (section 7) ---

variable "alarm_email" {
  description = "E-mail subscribed to the alarm topic; empty: none."
  type        = string
  default     = ""
}

variable "log_retention_days" {
  type    = number
  default = 30
}

variable "monthly_budget_usd" {
  type    = number
  default = 500
}

variable "deletion_protection" {
  description = "Deletion protection of the ALB and the Aurora cluster."
  type        = bool
  default     = true
}
