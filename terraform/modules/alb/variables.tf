variable "name" {
  description = "Name prefix of every resource."
  type        = string
}

variable "vpc_id" {
  type = string
}

variable "public_subnet_ids" {
  type = list(string)
}

variable "security_group_id" {
  description = "The ALB security group (network module)."
  type        = string
}

variable "certificate_arn" {
  description = "ACM certificate of the HTTPS listener."
  type        = string
}

variable "ssl_policy" {
  description = "TLS policy of the HTTPS listener: TLS 1.3 and 1.2 with forward secrecy only."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

variable "health_check_path" {
  type    = string
  default = "/health"
}

variable "health_check_interval" {
  type    = number
  default = 30
}

variable "healthy_threshold" {
  type    = number
  default = 2
}

variable "unhealthy_threshold" {
  type    = number
  default = 3
}

variable "stickiness_enabled" {
  description = "Sticky sessions (lb_cookie) on the target group."
  type        = bool
  default     = false
}

variable "stickiness_duration" {
  description = "Lifetime of the stickiness cookie, seconds."
  type        = number
  default     = 3600
}

variable "deregistration_delay" {
  description = "Seconds the ALB keeps draining a deregistered instance before the terminate lifecycle hook runs."
  type        = number
  default     = 300
}

variable "deletion_protection" {
  type    = bool
  default = true
}
