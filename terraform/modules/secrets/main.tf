# Secrets and keys: the customer-managed KMS key that encrypts the platform's data at
# rest (Aurora storage and its Secrets Manager master secret, the app's DB secret,
# Performance Insights, the CloudWatch log groups, the SNS alarm topic, the CloudTrail
# and artifacts buckets), and the Secrets Manager secret for
# third-party API keys (its value is set out of band, never in Terraform state).
#
# The Aurora master secret itself is created and rotated by RDS
# (manage_master_user_password in the database module), encrypted with this key.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition
}

data "aws_iam_policy_document" "key" {
  # Key administration and use through IAM policies of this account (the default key
  # policy). RDS, Secrets Manager and EC2 roles get access through their IAM policies
  # and kms:ViaService conditions, not here.
  statement {
    sid       = "AccountIAM"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # CloudWatch Logs encrypts log groups of this account and region only.
  statement {
    sid       = "CloudWatchLogs"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"]
    }
  }

  # CloudTrail encrypts this account's trails' log files (modules/audit) and reads the
  # key's description; the encryption context names the trail.
  statement {
    sid       = "CloudTrailEncrypt"
    actions   = ["kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
    condition {
      test     = "StringLike"
      variable = "kms:EncryptionContext:aws:cloudtrail:arn"
      values   = ["arn:${local.partition}:cloudtrail:*:${local.account_id}:trail/*"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "CloudTrailDescribe"
    actions   = ["kms:DescribeKey"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
  }

  # CloudWatch alarms and AWS Budgets publish to the encrypted SNS topic; SNS needs them
  # to be able to use the key.
  statement {
    sid       = "AlarmAndBudgetPublishers"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com", "budgets.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_kms_key" "platform" {
  description             = "${var.name}: Aurora, Secrets Manager, logs and alarm topic"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.key.json
}

resource "aws_kms_alias" "platform" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.platform.key_id
}

# Third-party API keys for the application. Terraform creates the container only; the
# value is put with `aws secretsmanager put-secret-value` so it never lands in state.
resource "aws_secretsmanager_secret" "api_keys" {
  name        = "${var.name}/api-keys"
  description = "Third-party API keys of the PHP application"
  kms_key_id  = aws_kms_key.platform.arn
}
