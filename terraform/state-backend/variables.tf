variable "region" {
  type    = string
  default = "eu-central-1"
}

variable "name" {
  description = "The platform's name prefix (the root module's var.name)."
  type        = string
  default     = "php-app"
}

variable "noncurrent_version_days" {
  description = "Days an overwritten state version is kept."
  type        = number
  default     = 90
}
