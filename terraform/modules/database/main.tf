# Database layer: Aurora Serverless v2 (MySQL 8.0 compatible), a writer and a reader in
# the two AZs (the reader is the failover target), encrypted with the platform's
# customer-managed key, TLS required, the master password owned and rotated by RDS in
# Secrets Manager (never in Terraform state or user data).

resource "aws_db_subnet_group" "this" {
  name       = var.name
  subnet_ids = var.private_subnet_ids
}

resource "aws_rds_cluster_parameter_group" "this" {
  name        = "${var.name}-aurora-mysql8"
  family      = "aurora-mysql8.0"
  description = "${var.name}: TLS only, slow query log"

  # Clients without TLS are refused (the PHP app and agentd's checks both use TLS).
  parameter {
    name  = "require_secure_transport"
    value = "ON"
  }

  parameter {
    name  = "slow_query_log"
    value = "1"
  }

  parameter {
    name  = "long_query_time"
    value = "1"
  }
}

resource "aws_rds_cluster" "this" {
  cluster_identifier = var.name
  engine             = "aurora-mysql"
  engine_mode        = "provisioned" # Serverless v2 is "provisioned" with db.serverless instances
  engine_version     = var.engine_version
  database_name      = var.database_name
  master_username    = var.master_username

  # RDS creates the master secret in Secrets Manager, encrypted with our key, and
  # rotates it (schedule below).
  manage_master_user_password   = true
  master_user_secret_kms_key_id = var.kms_key_arn

  db_subnet_group_name            = aws_db_subnet_group.this.name
  db_cluster_parameter_group_name = aws_rds_cluster_parameter_group.this.name
  vpc_security_group_ids          = [var.security_group_id]

  storage_encrypted = true
  kms_key_id        = var.kms_key_arn

  serverlessv2_scaling_configuration {
    min_capacity = var.min_capacity
    max_capacity = var.max_capacity
  }

  # 7 days of automated backups; point-in-time recovery comes with them.
  backup_retention_period      = var.backup_retention_days
  preferred_backup_window      = "02:00-03:00"
  preferred_maintenance_window = "sun:03:30-sun:04:30"
  copy_tags_to_snapshot        = true

  deletion_protection       = var.deletion_protection
  skip_final_snapshot       = false
  final_snapshot_identifier = "${var.name}-final"

  enabled_cloudwatch_logs_exports = ["error", "slowquery"]

  # RDS Data API: how the one-shot bootstrap of the application's DB user
  # (modules/db-app-user) runs SQL with the master secret without a MySQL client
  # library or a network path to the cluster. Every call is IAM-authorised (only that
  # function's role may call it) and logged by CloudTrail.
  enable_http_endpoint = true
}

# Enhanced monitoring (the document's "Aurora Role").
data "aws_iam_policy_document" "monitoring_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "monitoring" {
  name               = "${var.name}-rds-monitoring"
  assume_role_policy = data.aws_iam_policy_document.monitoring_assume.json
}

data "aws_partition" "current" {}

resource "aws_iam_role_policy_attachment" "monitoring" {
  role       = aws_iam_role.monitoring.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

# Writer first, then the reader, so the writer is the instance in the first AZ.
resource "aws_rds_cluster_instance" "writer" {
  identifier                            = "${var.name}-1"
  cluster_identifier                    = aws_rds_cluster.this.id
  engine                                = aws_rds_cluster.this.engine
  engine_version                        = aws_rds_cluster.this.engine_version
  instance_class                        = "db.serverless"
  availability_zone                     = var.azs[0]
  promotion_tier                        = 0
  publicly_accessible                   = false
  performance_insights_enabled          = true
  performance_insights_kms_key_id       = var.kms_key_arn
  performance_insights_retention_period = 7
  monitoring_interval                   = 60
  monitoring_role_arn                   = aws_iam_role.monitoring.arn
  depends_on                            = [aws_iam_role_policy_attachment.monitoring]
}

resource "aws_rds_cluster_instance" "reader" {
  identifier                            = "${var.name}-2"
  cluster_identifier                    = aws_rds_cluster.this.id
  engine                                = aws_rds_cluster.this.engine
  engine_version                        = aws_rds_cluster.this.engine_version
  instance_class                        = "db.serverless"
  availability_zone                     = var.azs[1]
  promotion_tier                        = 1
  publicly_accessible                   = false
  performance_insights_enabled          = true
  performance_insights_kms_key_id       = var.kms_key_arn
  performance_insights_retention_period = 7
  monitoring_interval                   = 60
  monitoring_role_arn                   = aws_iam_role.monitoring.arn
  depends_on                            = [aws_rds_cluster_instance.writer]
}

# The RDS-managed secret rotates every 7 days by default; stating it keeps the schedule
# visible and reviewable. Managed secrets need no rotation Lambda.
resource "aws_secretsmanager_secret_rotation" "master" {
  secret_id = aws_rds_cluster.this.master_user_secret[0].secret_arn
  # Not at creation: the cluster has just set this password.
  rotate_immediately = false
  rotation_rules {
    automatically_after_days = var.secret_rotation_days
  }
}
