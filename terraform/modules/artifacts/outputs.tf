output "bucket_arn" {
  value = aws_s3_bucket.artifacts.arn
}

output "agentd_deb_s3_uri" {
  value = "s3://${aws_s3_bucket.artifacts.id}/${aws_s3_object.agentd_deb.key}"
}

output "agentd_deb_sha256" {
  value = filesha256(var.agentd_deb_path)
}
