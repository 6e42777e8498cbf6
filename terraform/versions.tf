terraform {
  # templatefile(), optional validation features and aws_vpc_security_group_*_rule need
  # a recent Terraform and provider 5.x.
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.60"
    }
  }
}
