variable "name" {
  description = "Name prefix of every resource."
  type        = string
}

variable "vpc_cidr" {
  description = "VPC address range (architecture: 10.0.0.0/16)."
  type        = string
}

variable "azs" {
  description = "The two Availability Zones, in the order of the subnet lists."
  type        = list(string)
  validation {
    condition     = length(var.azs) == 2
    error_message = "The platform spans exactly two Availability Zones."
  }
}

variable "public_subnet_cidrs" {
  description = "Public subnets (ALB, NAT gateways), one per AZ."
  type        = list(string)
}

variable "private_subnet_cidrs" {
  description = "Private subnets (EC2, Aurora), one per AZ."
  type        = list(string)
}

variable "bastion_security_group_id" {
  description = "Security group of an optional bastion host allowed to SSH to the instances; null: no SSH at all."
  type        = string
  default     = null
}

variable "flow_log_retention_days" {
  description = "Retention of the VPC flow log group."
  type        = number
  default     = 90
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key that encrypts the flow log group."
  type        = string
}
