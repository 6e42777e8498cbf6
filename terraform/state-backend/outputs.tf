output "backend_config" {
  description = "What to put in the backend \"s3\" block of terraform/versions.tf."
  value = {
    bucket         = aws_s3_bucket.state.id
    key            = "platform/terraform.tfstate"
    region         = var.region
    encrypt        = true
    kms_key_id     = aws_kms_alias.state.name
    dynamodb_table = aws_dynamodb_table.lock.name
  }
}
