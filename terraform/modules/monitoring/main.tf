# Monitoring: the application log group agentd ships to, the encrypted SNS topic every
# alarm notifies, the alarms of the architecture document (CPU drives the scaling
# policies; DB connections, ALB 5xx, memory and disk from agentd's metrics), and a
# monthly budget alert.

data "aws_caller_identity" "current" {}

resource "aws_cloudwatch_log_group" "app" {
  name              = var.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = var.kms_key_arn
}

# Only CloudWatch alarms and Budgets of this account may publish.
data "aws_iam_policy_document" "alarms_topic" {
  statement {
    sid       = "AlarmAndBudgetPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com", "budgets.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  arn    = aws_sns_topic.alarms.arn
  policy = data.aws_iam_policy_document.alarms_topic.json
}

resource "aws_sns_topic_subscription" "email" {
  count     = var.alarm_email == "" ? 0 : 1
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

# --- CPU: the scaling policies ---

resource "aws_cloudwatch_metric_alarm" "cpu_high" {
  alarm_name          = "${var.name}-cpu-high"
  alarm_description   = "ASG CPU > ${var.scale_out_cpu_threshold}% for ${var.scale_out_periods} x 5 min: scale out"
  namespace           = "AWS/EC2"
  metric_name         = "CPUUtilization"
  dimensions          = { AutoScalingGroupName = var.asg_name }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = var.scale_out_periods
  threshold           = var.scale_out_cpu_threshold
  comparison_operator = "GreaterThanThreshold"
  alarm_actions       = [var.scale_out_policy_arn, aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "cpu_low" {
  alarm_name          = "${var.name}-cpu-low"
  alarm_description   = "ASG CPU < ${var.scale_in_cpu_threshold}% for ${var.scale_in_periods} x 5 min: scale in"
  namespace           = "AWS/EC2"
  metric_name         = "CPUUtilization"
  dimensions          = { AutoScalingGroupName = var.asg_name }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = var.scale_in_periods
  threshold           = var.scale_in_cpu_threshold
  comparison_operator = "LessThanThreshold"
  # Scaling in is routine: no notification.
  alarm_actions = [var.scale_in_policy_arn]
}

# --- Database connections ---

# Aurora MySQL sizes max_connections from the instance memory:
#   GREATEST(log2(mem / 805306368) * 45, log2(mem / 8187281408) * 1000)
# and Serverless v2 takes the memory of its maximum ACU (2 GiB an ACU). 16 ACU: 2069.
# The alarm fires at 80% of that, so it can fire before connections are refused.
locals {
  db_memory_bytes      = var.db_max_acu * 2 * 1024 * 1024 * 1024
  db_max_connections   = floor(max(log(local.db_memory_bytes / 805306368, 2) * 45, log(local.db_memory_bytes / 8187281408, 2) * 1000))
  db_connections_alarm = floor(local.db_max_connections * 0.8)
}

resource "aws_cloudwatch_metric_alarm" "db_connections" {
  alarm_name          = "${var.name}-db-connections"
  alarm_description   = "Aurora connections above 80% of max_connections (${local.db_max_connections} at ${var.db_max_acu} ACU)"
  namespace           = "AWS/RDS"
  metric_name         = "DatabaseConnections"
  dimensions          = { DBClusterIdentifier = var.db_cluster_id }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  threshold           = local.db_connections_alarm
  comparison_operator = "GreaterThanThreshold"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# --- ALB 5xx: the load balancer's own and the application's ---

resource "aws_cloudwatch_metric_alarm" "alb_5xx" {
  alarm_name          = "${var.name}-alb-5xx"
  alarm_description   = "More than ${var.alb_5xx_threshold} 5xx responses (ALB + targets) in 5 min"
  evaluation_periods  = 1
  threshold           = var.alb_5xx_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  metric_query {
    id          = "total"
    expression  = "FILL(elb, 0) + FILL(target, 0)"
    label       = "5xx responses"
    return_data = true
  }

  metric_query {
    id = "elb"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_ELB_5XX_Count"
      dimensions  = { LoadBalancer = var.alb_arn_suffix }
      stat        = "Sum"
      period      = 300
    }
  }

  metric_query {
    id = "target"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      dimensions  = { LoadBalancer = var.alb_arn_suffix }
      stat        = "Sum"
      period      = 300
    }
  }
}

# --- Memory and disk, from agentd's metrics ---
# agentd publishes per instance, with the CloudWatch agent's dimensions (ImageId,
# InstanceId, InstanceType, AutoScalingGroupName). A Metrics Insights query takes the
# worst instance of the ASG, whatever its instance ID.

resource "aws_cloudwatch_metric_alarm" "memory" {
  alarm_name          = "${var.name}-memory"
  alarm_description   = "An instance uses more than ${var.memory_threshold}% of its memory"
  evaluation_periods  = 3
  threshold           = var.memory_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "missing"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  metric_query {
    id          = "mem"
    expression  = "SELECT MAX(mem_used_percent) FROM SCHEMA(\"${var.metrics_namespace}\", AutoScalingGroupName, ImageId, InstanceId, InstanceType) WHERE AutoScalingGroupName = '${var.asg_name}'"
    period      = 300
    return_data = true
  }
}

resource "aws_cloudwatch_metric_alarm" "disk" {
  alarm_name          = "${var.name}-disk"
  alarm_description   = "An instance's root file system is more than ${var.disk_threshold}% full"
  evaluation_periods  = 1
  threshold           = var.disk_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "missing"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  metric_query {
    id          = "disk"
    expression  = "SELECT MAX(disk_used_percent) FROM SCHEMA(\"${var.metrics_namespace}\", AutoScalingGroupName, ImageId, InstanceId, InstanceType, device, fstype, path) WHERE AutoScalingGroupName = '${var.asg_name}' AND path = '/'"
    period      = 300
    return_data = true
  }
}

# --- Cost ---

resource "aws_budgets_budget" "monthly" {
  name         = "${var.name}-monthly"
  budget_type  = "COST"
  limit_amount = tostring(var.monthly_budget_usd)
  limit_unit   = "USD"
  time_unit    = "MONTHLY"

  notification {
    comparison_operator       = "GREATER_THAN"
    threshold                 = 80
    threshold_type            = "PERCENTAGE"
    notification_type         = "FORECASTED"
    subscriber_sns_topic_arns = [aws_sns_topic.alarms.arn]
  }

  notification {
    comparison_operator       = "GREATER_THAN"
    threshold                 = 100
    threshold_type            = "PERCENTAGE"
    notification_type         = "ACTUAL"
    subscriber_sns_topic_arns = [aws_sns_topic.alarms.arn]
  }
}
