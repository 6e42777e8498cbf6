output "kms_key_arn" {
  value = aws_kms_key.platform.arn
}

output "api_keys_secret_arn" {
  value = aws_secretsmanager_secret.api_keys.arn
}
