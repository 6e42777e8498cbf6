variable "name" {
  description = "Name prefix of every resource."
  type        = string
}

variable "log_group_name" {
  description = "Application log group (architecture: /aws/ec2/php-app)."
  type        = string
}

variable "log_retention_days" {
  type    = number
  default = 30
}

variable "kms_key_arn" {
  description = "Key of the log group and the SNS topic."
  type        = string
}

variable "alarm_email" {
  description = "E-mail address subscribed to the alarm topic; empty: none."
  type        = string
  default     = ""
}

variable "asg_name" {
  type = string
}

variable "scale_out_policy_arn" {
  type = string
}

variable "scale_in_policy_arn" {
  type = string
}

variable "scale_out_cpu_threshold" {
  description = "Average CPU % above which the ASG scales out."
  type        = number
  default     = 80
}

variable "scale_out_periods" {
  description = "Consecutive 5-minute periods above the threshold."
  type        = number
  default     = 2
}

variable "scale_in_cpu_threshold" {
  type    = number
  default = 30
}

variable "scale_in_periods" {
  type    = number
  default = 5
}

variable "db_cluster_id" {
  type = string
}

variable "db_max_acu" {
  description = "The cluster's Serverless v2 maximum ACUs: the connections alarm is 80% of max_connections at that size."
  type        = number
}

variable "alb_arn_suffix" {
  type = string
}

variable "alb_5xx_threshold" {
  description = "5xx responses (ALB and targets) per 5 minutes that raise the alarm."
  type        = number
  default     = 50
}

variable "metrics_namespace" {
  description = "Namespace of agentd's metrics (the CloudWatch agent's names: CWAgent)."
  type        = string
}

variable "memory_threshold" {
  type    = number
  default = 90
}

variable "disk_threshold" {
  type    = number
  default = 85
}

variable "monthly_budget_usd" {
  type    = number
  default = 500
}

variable "agentd_metric_names" {
  description = "agentd's names for the php-fpm and ingestion figures the dashboard shows (namespace metrics_namespace)."
  type = object({
    fpm_listen_queue         = string
    fpm_max_children_reached = string
    ingest_queue_depth       = string
    ingest_queue_oldest_age  = string
  })
  default = {
    fpm_listen_queue         = "phpfpm_listen_queue"
    fpm_max_children_reached = "phpfpm_max_children_reached"
    ingest_queue_depth       = "ingest_queue_depth"
    ingest_queue_oldest_age  = "ingest_queue_oldest_age_seconds"
  }
}

variable "error_line_pattern" {
  description = "CloudWatch Logs filter pattern of an application error line: PHP's fatal and parse errors, nginx's and php-fpm's [error] and worse."
  type        = string
  default     = "?\"PHP Fatal error\" ?\"PHP Parse error\" ?\"PHP Recoverable fatal error\" ?\"[error]\" ?\"[crit]\" ?\"[alert]\" ?\"[emerg]\" ?\"ERROR:\""
}

variable "app_error_threshold" {
  description = "Error lines per 5 minutes that raise the alarm."
  type        = number
  default     = 10
}
