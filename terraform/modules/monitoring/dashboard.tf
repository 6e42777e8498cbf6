# The fleet on one page, and the application's error lines as a metric with an alarm.
#
# agentd publishes per instance with the CloudWatch agent's dimensions (ImageId,
# InstanceId, InstanceType, AutoScalingGroupName, plus path/device/fstype for disks);
# Metrics Insights queries select this ASG whatever the instance IDs, one line per
# instance (GROUP BY InstanceId) where a fleet has several. The names of agentd's
# php-fpm and ingestion figures are in var.agentd_metric_names, in one place.

data "aws_region" "current" {}

locals {
  region = data.aws_region.current.name
  ns     = var.metrics_namespace
  asg    = var.asg_name
  # SELECT ... FROM the namespace, this ASG's series only.
  per_instance = "FROM SCHEMA(\"${local.ns}\", AutoScalingGroupName, ImageId, InstanceId, InstanceType) WHERE AutoScalingGroupName = '${local.asg}' GROUP BY InstanceId"
  any_series   = "FROM \"${local.ns}\" WHERE AutoScalingGroupName = '${local.asg}'"
  m            = var.agentd_metric_names

  widgets = [
    {
      title = "Memory used (%), per instance"
      metrics = [[{ id = "mem", expression = "SELECT MAX(mem_used_percent) ${local.per_instance}", label = "mem_used_percent" }]]
      yAxis   = { left = { min = 0, max = 100 } }
    },
    {
      title   = "Root disk used (%), per instance"
      metrics = [[{ id = "disk", expression = "SELECT MAX(disk_used_percent) FROM SCHEMA(\"${local.ns}\", AutoScalingGroupName, ImageId, InstanceId, InstanceType, device, fstype, path) WHERE AutoScalingGroupName = '${local.asg}' AND path = '/' GROUP BY InstanceId", label = "disk_used_percent" }]]
      yAxis   = { left = { min = 0, max = 100 } }
    },
    {
      title = "CPU (%), fleet average"
      metrics = [
        [{ id = "user", expression = "SELECT AVG(cpu_usage_user) ${local.any_series}", label = "cpu_usage_user" }],
        [{ id = "system", expression = "SELECT AVG(cpu_usage_system) ${local.any_series}", label = "cpu_usage_system" }],
        [{ id = "iowait", expression = "SELECT AVG(cpu_usage_iowait) ${local.any_series}", label = "cpu_usage_iowait" }],
        [{ id = "steal", expression = "SELECT AVG(cpu_usage_steal) ${local.any_series}", label = "cpu_usage_steal (t3 credits)" }],
      ]
      yAxis = { left = { min = 0, max = 100 } }
    },
    {
      title = "php-fpm saturation"
      metrics = [
        [{ id = "lq", expression = "SELECT MAX(${local.m.fpm_listen_queue}) ${local.any_series}", label = "listen queue (worst instance)" }],
        [{ id = "mcr", expression = "SELECT SUM(${local.m.fpm_max_children_reached}) ${local.per_instance}", label = "max children reached" }],
      ]
    },
    {
      title = "Ingestion queue"
      metrics = [
        [{ id = "depth", expression = "SELECT MAX(${local.m.ingest_queue_depth}) ${local.any_series}", label = "jobs queued" }],
        [{ id = "age", expression = "SELECT MAX(${local.m.ingest_queue_oldest_age}) ${local.any_series}", label = "oldest job age (s)", yAxis = "right" }],
      ]
    },
    {
      title = "ALB requests and 5xx"
      stat  = "Sum"
      metrics = [
        ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", var.alb_arn_suffix, { label = "requests" }],
        ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer", var.alb_arn_suffix, { label = "5xx from targets", yAxis = "right" }],
        ["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "LoadBalancer", var.alb_arn_suffix, { label = "5xx from the ALB", yAxis = "right" }],
      ]
    },
    {
      title = "ALB target response time (s)"
      metrics = [
        ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", var.alb_arn_suffix, { stat = "p50", label = "p50" }],
        ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", var.alb_arn_suffix, { stat = "p99", label = "p99" }],
      ]
    },
    {
      title = "Aurora capacity (ACU) and connections"
      metrics = [
        ["AWS/RDS", "ServerlessDatabaseCapacity", "DBClusterIdentifier", var.db_cluster_id, { stat = "Maximum", label = "ACU (max ${var.db_max_acu})" }],
        ["AWS/RDS", "DatabaseConnections", "DBClusterIdentifier", var.db_cluster_id, { stat = "Maximum", label = "connections", yAxis = "right" }],
      ]
      annotations = { horizontal = [{ label = "connections alarm", value = local.db_connections_alarm, yAxis = "right" }] }
    },
    {
      title   = "Application error lines"
      stat    = "Sum"
      metrics = [[local.log_metrics_namespace, "AppErrorLines", { label = "error lines / 5 min" }]]
    },
  ]
}

resource "aws_cloudwatch_dashboard" "fleet" {
  dashboard_name = "${var.name}-fleet"
  dashboard_body = jsonencode({
    widgets = [for i, w in local.widgets : {
      type   = "metric"
      x      = (i % 3) * 8
      y      = floor(i / 3) * 6
      width  = 8
      height = 6
      properties = merge({ region = local.region, view = "timeSeries", stacked = false, period = 300 }, w)
    }]
  })
}

# --- The application's error lines (the log group agentd ships to) ---

locals {
  log_metrics_namespace = "${var.name}/Logs"
}

resource "aws_cloudwatch_log_metric_filter" "app_errors" {
  name           = "${var.name}-app-errors"
  log_group_name = aws_cloudwatch_log_group.app.name
  pattern        = var.error_line_pattern
  metric_transformation {
    name          = "AppErrorLines"
    namespace     = local.log_metrics_namespace
    value         = "1"
    default_value = "0"
    unit          = "Count"
  }
}

resource "aws_cloudwatch_metric_alarm" "app_errors" {
  alarm_name          = "${var.name}-app-errors"
  alarm_description   = "More than ${var.app_error_threshold} application error lines in 5 min (log group ${var.log_group_name})"
  namespace           = local.log_metrics_namespace
  metric_name         = aws_cloudwatch_log_metric_filter.app_errors.metric_transformation[0].name
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.app_error_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}
