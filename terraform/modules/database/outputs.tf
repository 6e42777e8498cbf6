output "cluster_id" {
  description = "DBClusterIdentifier dimension of the Aurora metrics."
  value       = aws_rds_cluster.this.cluster_identifier
}

output "writer_endpoint" {
  value = aws_rds_cluster.this.endpoint
}

output "reader_endpoint" {
  value = aws_rds_cluster.this.reader_endpoint
}

output "master_secret_arn" {
  description = "The RDS-managed master secret: only the rotation function and the app user's bootstrap read it, never the instances."
  value       = aws_rds_cluster.this.master_user_secret[0].secret_arn
}

output "max_capacity" {
  description = "Serverless v2 maximum ACUs (the DB connections alarm derives its threshold from it)."
  value       = var.max_capacity
}

output "cluster_arn" {
  value = aws_rds_cluster.this.arn
}

output "port" {
  value = aws_rds_cluster.this.port
}

output "database_name" {
  value = aws_rds_cluster.this.database_name
}
