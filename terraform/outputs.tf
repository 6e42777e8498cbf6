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
  description = "RDS-managed master secret ([secret.db] id in agentd's config)."
  value       = module.database.master_secret_arn
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
