output "alb_dns_name" {
  description = "Point the site's DNS (CNAME or alias) here."
  value       = module.alb.dns_name
}

output "asg_name" {
  value = module.compute.asg_name
}

output "db_writer_endpoint" {
  value = module.database.writer_endpoint
}

output "db_reader_endpoint" {
  value = module.database.reader_endpoint
}

output "db_master_secret_arn" {
  description = "RDS-managed master secret (people and the rotation function; not the instances)."
  value       = module.database.master_secret_arn
}

output "db_app_secret_arn" {
  description = "The application's DB secret, alternating users ([secret.db] id in agentd's config)."
  value       = module.db_app_user.secret_arn
}

output "cloudtrail_bucket" {
  value = module.audit.bucket
}

output "dashboard_name" {
  value = module.monitoring.dashboard_name
}

output "api_keys_secret_arn" {
  value = module.secrets.api_keys_secret_arn
}

output "log_group_name" {
  value = module.monitoring.log_group_name
}

output "alarm_topic_arn" {
  value = module.monitoring.alarm_topic_arn
}

output "instance_role_arn" {
  value = module.compute.instance_role_arn
}
