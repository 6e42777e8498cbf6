# The application's own DB user and secret, rotated with the alternating-users strategy.
#
#   agentd on the instances reads ONLY the secret made here ([secret.db]); the master
#   secret (RDS-managed, modules/database) is read by the two functions below, never by
#   an instance.
#
#   1. aws_secretsmanager_secret.app: created empty (no value ever in Terraform state).
#   2. The bootstrap (a CloudFormation stack: an inline Python function and a custom
#      resource that runs it once, at creation) creates the user through the RDS Data
#      API with the master secret: CREATE USER app IDENTIFIED BY RANDOM PASSWORD, GRANT
#      on its own schema only, and puts {engine, host, port, dbname, username, password,
#      masterarn} into the app secret. A secret that has a value is left alone.
#   3. The rotation function AWS publishes, SecretsManagerRDSMySQLRotationMultiUser
#      (Serverless Application Repository), in the private subnets with a security
#      group Aurora admits. Each rotation sets a new password on the user AWSCURRENT
#      does not name (app_clone, created on the first rotation with app's grants), then
#      moves AWSCURRENT to it: the previous credentials stay valid until the rotation
#      after, so instances that have not refreshed yet keep working.
#   4. aws_secretsmanager_secret_rotation.app: every rotation_days, not at creation.
#
# docs/deployment.md ("The application's DB user") tells the sequence and what to do
# when the bootstrap fails.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id    = data.aws_caller_identity.current.account_id
  partition     = data.aws_partition.current.partition
  region        = data.aws_region.current.name
  rotation_name = "${var.name}-db-rotation"
  # The SAR stack's function is named by its functionName parameter.
  rotation_function_arn = "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${local.rotation_name}"
  bootstrap_name        = "${var.name}-db-app-user"
}

resource "aws_secretsmanager_secret" "app" {
  name        = "${var.name}/db-app"
  description = "${var.name}: the application's DB user (alternating-users rotation)"
  kms_key_id  = var.kms_key_arn
}

# --- The rotation function ---

data "aws_serverlessapplicationrepository_application" "rotation" {
  application_id   = "arn:aws:serverlessrepo:us-east-1:297356227824:applications/SecretsManagerRDSMySQLRotationMultiUser"
  semantic_version = var.rotation_app_version
}

resource "aws_serverlessapplicationrepository_cloudformation_stack" "rotation" {
  name             = local.rotation_name
  application_id   = data.aws_serverlessapplicationrepository_application.rotation.application_id
  semantic_version = data.aws_serverlessapplicationrepository_application.rotation.semantic_version
  capabilities     = data.aws_serverlessapplicationrepository_application.rotation.required_capabilities
  parameters = {
    functionName        = local.rotation_name
    endpoint            = "https://secretsmanager.${local.region}.${data.aws_partition.current.dns_suffix}"
    vpcSubnetIds        = join(",", var.private_subnet_ids)
    vpcSecurityGroupIds = var.rotation_security_group_id
    # The app secret's key, and the master secret with its key: the function reads
    # the master's credentials to set the other user's password.
    kmsKeyArn             = var.kms_key_arn
    masterSecretArn       = var.master_secret_arn
    masterSecretKmsKeyArn = var.kms_key_arn
  }
}

resource "aws_secretsmanager_secret_rotation" "app" {
  secret_id           = aws_secretsmanager_secret.app.id
  rotation_lambda_arn = local.rotation_function_arn
  # The bootstrap has just set the first password.
  rotate_immediately = false
  rotation_rules {
    automatically_after_days = var.rotation_days
  }
  depends_on = [aws_serverlessapplicationrepository_cloudformation_stack.rotation, aws_cloudformation_stack.bootstrap]
}

# --- The first app user: a one-shot bootstrap ---

data "aws_iam_policy_document" "bootstrap_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "bootstrap" {
  name               = local.bootstrap_name
  assume_role_policy = data.aws_iam_policy_document.bootstrap_assume.json
}

resource "aws_cloudwatch_log_group" "bootstrap" {
  name              = "/aws/lambda/${local.bootstrap_name}"
  retention_in_days = 90
  kms_key_id        = var.kms_key_arn
}

data "aws_iam_policy_document" "bootstrap" {
  # SQL through the Data API on this cluster only; the Data API reads the master
  # secret with the caller's own permission.
  statement {
    sid       = "DataApiOnTheCluster"
    actions   = ["rds-data:ExecuteStatement"]
    resources = [var.cluster_arn]
  }
  statement {
    sid       = "ReadMasterSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.master_secret_arn]
  }
  statement {
    sid       = "WriteAppSecret"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"]
    resources = [aws_secretsmanager_secret.app.arn]
  }
  statement {
    sid       = "KeyThroughSecretsManager"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com"]
    }
  }
  statement {
    sid       = "OwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.bootstrap.arn}:*"]
  }
}

resource "aws_iam_role_policy" "bootstrap" {
  name   = "create-app-db-user"
  role   = aws_iam_role.bootstrap.id
  policy = data.aws_iam_policy_document.bootstrap.json
}

# CloudFormation runs the custom resource once, when the stack is created (and on a
# change of its properties, where the function keeps a secret that has a value).
# Inline code (ZipFile): no package to build or upload; at most 4096 bytes.
resource "aws_cloudformation_stack" "bootstrap" {
  name = local.bootstrap_name
  template_body = jsonencode({
    AWSTemplateFormatVersion = "2010-09-09"
    Description              = "${var.name}: creates the application's DB user once"
    Resources = {
      Function = {
        Type = "AWS::Lambda::Function"
        Properties = {
          FunctionName = local.bootstrap_name
          Runtime      = "python3.12"
          Handler      = "index.handler"
          Role         = aws_iam_role.bootstrap.arn
          Timeout      = 120
          Code         = { ZipFile = file("${path.module}/bootstrap.py") }
        }
      }
      AppUser = {
        Type = "Custom::DbAppUser"
        Properties = {
          ServiceToken    = { "Fn::GetAtt" = ["Function", "Arn"] }
          ClusterArn      = var.cluster_arn
          MasterSecretArn = var.master_secret_arn
          AppSecretArn    = aws_secretsmanager_secret.app.arn
          Host            = var.db_host
          Port            = tostring(var.db_port)
          Database        = var.database_name
          Username        = var.username
          Privileges      = var.privileges
        }
      }
    }
  })
  depends_on = [aws_iam_role_policy.bootstrap, aws_cloudwatch_log_group.bootstrap]
}
