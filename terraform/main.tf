# The whole platform of shared/architecture.md: network, ALB, compute (launch template,
# ASG, instance role), Aurora Serverless v2 and the application's DB user, secrets/KMS,
# CloudTrail and monitoring. State: see the backend block in versions.tf.
#
#   cd terraform && terraform init && terraform apply -var-file=production.tfvars
#
# Names that both Terraform and agentd use (ASG, lifecycle hooks, log group, metrics
# namespace) are fixed here once and passed to the modules and to the user data.

provider "aws" {
  region = var.region
  default_tags {
    tags = {
      Project     = var.name
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}

data "aws_availability_zones" "available" {
  state = "available"
}

locals {
  azs               = slice(data.aws_availability_zones.available.names, 0, 2)
  asg_name          = "${var.name}-asg"
  launch_hook       = "${var.name}-launch"
  terminate_hook    = "${var.name}-terminate"
  log_group_name    = "/aws/ec2/${var.name}"
  metrics_namespace = "CWAgent"
}

module "secrets" {
  source = "./modules/secrets"
  name   = var.name
}

# The agentd package, when this apply uploads it (agentd_deb_path); otherwise an
# already-uploaded s3:// URI (agentd_deb_s3_uri), or agentd baked into the AMI.
module "artifacts" {
  source          = "./modules/artifacts"
  count           = var.agentd_deb_path == "" ? 0 : 1
  name            = var.name
  kms_key_arn     = module.secrets.kms_key_arn
  agentd_deb_path = var.agentd_deb_path
}

locals {
  agentd_deb_s3_uri = var.agentd_deb_path == "" ? var.agentd_deb_s3_uri : module.artifacts[0].agentd_deb_s3_uri
  agentd_deb_sha256 = var.agentd_deb_path == "" ? var.agentd_deb_sha256 : module.artifacts[0].agentd_deb_sha256
}

module "network" {
  source                    = "./modules/network"
  name                      = var.name
  vpc_cidr                  = var.vpc_cidr
  azs                       = local.azs
  public_subnet_cidrs       = var.public_subnet_cidrs
  private_subnet_cidrs      = var.private_subnet_cidrs
  bastion_security_group_id = var.bastion_security_group_id
  kms_key_arn               = module.secrets.kms_key_arn
}

module "alb" {
  source              = "./modules/alb"
  name                = var.name
  vpc_id              = module.network.vpc_id
  public_subnet_ids   = module.network.public_subnet_ids
  security_group_id   = module.network.alb_security_group_id
  certificate_arn     = var.certificate_arn
  stickiness_enabled  = var.stickiness_enabled
  deletion_protection = var.deletion_protection
}

module "database" {
  source              = "./modules/database"
  name                = var.name
  azs                 = local.azs
  private_subnet_ids  = module.network.private_subnet_ids
  security_group_id   = module.network.db_security_group_id
  kms_key_arn         = module.secrets.kms_key_arn
  deletion_protection = var.deletion_protection
}

# The application's own DB user and secret, rotated with alternating users; the
# instances read this secret only, never the master's.
module "db_app_user" {
  source                     = "./modules/db-app-user"
  name                       = var.name
  kms_key_arn                = module.secrets.kms_key_arn
  master_secret_arn          = module.database.master_secret_arn
  cluster_arn                = module.database.cluster_arn
  db_host                    = module.database.writer_endpoint
  db_port                    = module.database.port
  database_name              = module.database.database_name
  private_subnet_ids         = module.network.private_subnet_ids
  rotation_security_group_id = module.network.rotation_security_group_id
}

# Every API call of the account, in every region, to an encrypted bucket.
module "audit" {
  source      = "./modules/audit"
  name        = var.name
  kms_key_arn = module.secrets.kms_key_arn
}

module "monitoring" {
  source               = "./modules/monitoring"
  name                 = var.name
  log_group_name       = local.log_group_name
  log_retention_days   = var.log_retention_days
  kms_key_arn          = module.secrets.kms_key_arn
  alarm_email          = var.alarm_email
  asg_name             = module.compute.asg_name
  scale_out_policy_arn = module.compute.scale_out_policy_arn
  scale_in_policy_arn  = module.compute.scale_in_policy_arn
  db_cluster_id        = module.database.cluster_id
  db_max_acu           = module.database.max_capacity
  alb_arn_suffix       = module.alb.arn_suffix
  metrics_namespace    = local.metrics_namespace
  monthly_budget_usd   = var.monthly_budget_usd
}

module "compute" {
  source              = "./modules/compute"
  name                = var.name
  region              = var.region
  ami_id              = var.ami_id
  instance_type       = var.instance_type
  private_subnet_ids  = module.network.private_subnet_ids
  security_group_id   = module.network.app_security_group_id
  target_group_arn    = module.alb.target_group_arn
  asg_name            = local.asg_name
  launch_hook_name    = local.launch_hook
  terminate_hook_name = local.terminate_hook
  db_secret_arn       = module.db_app_user.secret_arn
  api_keys_secret_arn = module.secrets.api_keys_secret_arn
  kms_key_arn         = module.secrets.kms_key_arn
  log_group_name      = module.monitoring.log_group_name
  log_group_arn       = module.monitoring.log_group_arn
  metrics_namespace   = local.metrics_namespace
  agentd_deb_s3_uri   = local.agentd_deb_s3_uri
  agentd_deb_sha256   = local.agentd_deb_sha256
  s3_endpoint         = var.s3_endpoint
}
