output "secret_arn" {
  description = "The application's DB secret: the one secret the instances read ([secret.db] id)."
  value       = aws_secretsmanager_secret.app.arn
}

output "rotation_function_arn" {
  value = local.rotation_function_arn
}
