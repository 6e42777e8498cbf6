terraform {
  # templatefile(), optional validation features and aws_vpc_security_group_*_rule need
  # a recent Terraform and provider 5.x.
  required_version = ">= 1.5.0"

  # Remote state (an example): S3, encrypted with its own KMS key, versioned, locked
  # with DynamoDB. Create them once with terraform/state-backend (its output
  # backend_config has these values for your account), uncomment, and run
  # `terraform init -migrate-state`. Without it the state stays local
  # (terraform.tfstate), which one person on one machine can live with.
  #
  # backend "s3" {
  #   bucket         = "php-app-tfstate-123456789012"
  #   key            = "platform/terraform.tfstate"
  #   region         = "eu-central-1"
  #   encrypt        = true
  #   kms_key_id     = "alias/php-app-tfstate"
  #   dynamodb_table = "php-app-tfstate-lock"
  # }

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.60"
    }
  }
}
