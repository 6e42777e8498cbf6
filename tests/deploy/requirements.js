'use strict';
// Requirements table: a figure of shared/architecture.md (and of issue 5) -> the module,
// resource and attribute that carries it -> the value it must have once variables,
// locals and module arguments are followed to their defaults. `raw` compares the
// expression itself where the value only exists at apply time.
const R = (figure, module, resource, attr, value) => ({ figure, module, resource, attr, value });
const RAW = (figure, module, resource, attr, raw) => ({ figure, module, resource, attr, raw });
// CHECK: a predicate over the raw attribute, for repeated blocks.
const CHECK = (figure, module, resource, attr, check) => ({ figure, module, resource, attr, check });
const MATCH = (figure, module, resource, attr, match) => ({ figure, module, resource, attr, match });

const REQUIREMENTS = [
  // 1. Network layer
  R('VPC CIDR 10.0.0.0/16', 'network', 'aws_vpc.this', 'cidr_block', '10.0.0.0/16'),
  R('DNS enabled (support)', 'network', 'aws_vpc.this', 'enable_dns_support', true),
  R('DNS enabled (hostnames)', 'network', 'aws_vpc.this', 'enable_dns_hostnames', true),
  R('Public subnets 10.0.1.0/24, 10.0.2.0/24', 'network', 'aws_subnet.public', 'cidr_block', ['10.0.1.0/24', '10.0.2.0/24']),
  R('Private subnets 10.0.11.0/24, 10.0.12.0/24', 'network', 'aws_subnet.private', 'cidr_block', ['10.0.11.0/24', '10.0.12.0/24']),
  RAW('Subnets spread over the AZs', 'network', 'aws_subnet.private', 'availability_zone', '${var.azs[count.index]}'),
  RAW('One NAT gateway per AZ', 'network', 'aws_nat_gateway.this', 'count', '${length(var.azs)}'),
  RAW('NAT gateways in the public subnets', 'network', 'aws_nat_gateway.this', 'subnet_id', '${aws_subnet.public[count.index].id}'),
  RAW('Public route table -> Internet Gateway', 'network', 'aws_route.public_internet', 'gateway_id', '${aws_internet_gateway.this.id}'),
  R('Public default route', 'network', 'aws_route.public_internet', 'destination_cidr_block', '0.0.0.0/0'),
  RAW('Private route tables -> NAT of the same AZ', 'network', 'aws_route.private_nat', 'nat_gateway_id', '${aws_nat_gateway.this[count.index].id}'),
  R('VPC Flow Logs (all traffic)', 'network', 'aws_flow_log.this', 'traffic_type', 'ALL'),
  RAW('Flow logs encrypted', 'network', 'aws_cloudwatch_log_group.flow_logs', 'kms_key_id', '${var.kms_key_arn}'),

  // 2. Load balancing layer
  R('ALB internet-facing', 'alb', 'aws_lb.this', 'internal', false),
  R('Application Load Balancer', 'alb', 'aws_lb.this', 'load_balancer_type', 'application'),
  R('Invalid headers dropped', 'alb', 'aws_lb.this', 'drop_invalid_header_fields', true),
  R('Listener HTTP 80', 'alb', 'aws_lb_listener.http', 'port', 80),
  R('HTTP redirects to HTTPS', 'alb', 'aws_lb_listener.http', 'default_action.redirect.protocol', 'HTTPS'),
  R('HTTP redirects to 443', 'alb', 'aws_lb_listener.http', 'default_action.redirect.port', '443'),
  R('Listener HTTPS 443', 'alb', 'aws_lb_listener.https', 'port', 443),
  R('HTTPS protocol', 'alb', 'aws_lb_listener.https', 'protocol', 'HTTPS'),
  R('Modern TLS policy', 'alb', 'aws_lb_listener.https', 'ssl_policy', 'ELBSecurityPolicy-TLS13-1-2-2021-06'),
  RAW('ACM certificate variable', 'alb', 'aws_lb_listener.https', 'certificate_arn', '${var.certificate_arn}'),
  R('Target group protocol HTTP', 'alb', 'aws_lb_target_group.app', 'protocol', 'HTTP'),
  R('Target group port 80', 'alb', 'aws_lb_target_group.app', 'port', 80),
  R('Health check path /health', 'alb', 'aws_lb_target_group.app', 'health_check.path', '/health'),
  R('Health check 30-second interval', 'alb', 'aws_lb_target_group.app', 'health_check.interval', 30),
  R('Healthy threshold 2', 'alb', 'aws_lb_target_group.app', 'health_check.healthy_threshold', 2),
  R('Unhealthy threshold 3', 'alb', 'aws_lb_target_group.app', 'health_check.unhealthy_threshold', 3),
  RAW('Sticky sessions configurable', 'alb', 'aws_lb_target_group.app', 'stickiness.enabled', '${var.stickiness_enabled}'),

  // 3. Compute layer
  R('Instance type t3.medium', 'compute', 'aws_launch_template.this', 'instance_type', 't3.medium'),
  RAW('AMI variable', 'compute', 'aws_launch_template.this', 'image_id', '${var.ami_id}'),
  R('Storage 20 GB', 'compute', 'aws_launch_template.this', 'block_device_mappings.ebs.volume_size', 20),
  R('Storage GP3', 'compute', 'aws_launch_template.this', 'block_device_mappings.ebs.volume_type', 'gp3'),
  R('EBS encrypted', 'compute', 'aws_launch_template.this', 'block_device_mappings.ebs.encrypted', true),
  R('IMDSv2 required', 'compute', 'aws_launch_template.this', 'metadata_options.http_tokens', 'required'),
  R('IMDS hop limit 1', 'compute', 'aws_launch_template.this', 'metadata_options.http_put_response_hop_limit', 1),
  R('Instance tags in metadata', 'compute', 'aws_launch_template.this', 'metadata_options.instance_metadata_tags', 'enabled'),
  CHECK('User data from userdata/', 'compute', 'aws_launch_template.this', 'user_data',
    (ud) => /^\$\{base64encode\(templatefile\("\$\{path\.module\}\/\.\.\/\.\.\/\.\.\/userdata\/user-data\.sh\.tftpl"/.test(ud)),
  R('ASG min size 2', 'compute', 'aws_autoscaling_group.this', 'min_size', 2),
  R('ASG max size 10', 'compute', 'aws_autoscaling_group.this', 'max_size', 10),
  R('ASG desired capacity 2', 'compute', 'aws_autoscaling_group.this', 'desired_capacity', 2),
  R('Health check type ELB + EC2', 'compute', 'aws_autoscaling_group.this', 'health_check_type', 'ELB'),
  R('Health check grace period 300 s', 'compute', 'aws_autoscaling_group.this', 'health_check_grace_period', 300),
  R('Cooldown 300 s', 'compute', 'aws_autoscaling_group.this', 'default_cooldown', 300),
  RAW('ASG in the private subnets', 'compute', 'aws_autoscaling_group.this', 'vpc_zone_identifier', '${var.private_subnet_ids}'),
  R('Launch lifecycle hook', 'compute', 'aws_autoscaling_group.this', 'initial_lifecycle_hook.lifecycle_transition', 'autoscaling:EC2_INSTANCE_LAUNCHING'),
  R('Launch hook name', 'compute', 'aws_autoscaling_group.this', 'initial_lifecycle_hook.name', 'php-app-launch'),
  CHECK('Terminate lifecycle hook', 'compute', 'aws_autoscaling_group.this', 'initial_lifecycle_hook',
    (hooks) => hooks.some((h) => h.lifecycle_transition === 'autoscaling:EC2_INSTANCE_TERMINATING' && h.name === '${var.terminate_hook_name}')),
  R('Scale out +1', 'compute', 'aws_autoscaling_policy.scale_out', 'scaling_adjustment', 1),
  R('Scale out cooldown 300 s', 'compute', 'aws_autoscaling_policy.scale_out', 'cooldown', 300),
  R('Scale in -1', 'compute', 'aws_autoscaling_policy.scale_in', 'scaling_adjustment', -1),
  R('Scale in cooldown 300 s', 'compute', 'aws_autoscaling_policy.scale_in', 'cooldown', 300),
  R('Scale out: CPU > 80%', 'monitoring', 'aws_cloudwatch_metric_alarm.cpu_high', 'threshold', 80),
  R('Scale out: greater than', 'monitoring', 'aws_cloudwatch_metric_alarm.cpu_high', 'comparison_operator', 'GreaterThanThreshold'),
  R('Scale out: 5-minute periods', 'monitoring', 'aws_cloudwatch_metric_alarm.cpu_high', 'period', 300),
  R('Scale out: 2 consecutive periods', 'monitoring', 'aws_cloudwatch_metric_alarm.cpu_high', 'evaluation_periods', 2),
  R('Scale out: CPUUtilization', 'monitoring', 'aws_cloudwatch_metric_alarm.cpu_high', 'metric_name', 'CPUUtilization'),
  RAW('Scale out: triggers the policy', 'monitoring', 'aws_cloudwatch_metric_alarm.cpu_high', 'alarm_actions', ['${var.scale_out_policy_arn}', '${aws_sns_topic.alarms.arn}']),
  R('Scale in: CPU < 30%', 'monitoring', 'aws_cloudwatch_metric_alarm.cpu_low', 'threshold', 30),
  R('Scale in: less than', 'monitoring', 'aws_cloudwatch_metric_alarm.cpu_low', 'comparison_operator', 'LessThanThreshold'),
  R('Scale in: 5-minute periods', 'monitoring', 'aws_cloudwatch_metric_alarm.cpu_low', 'period', 300),
  R('Scale in: 5 consecutive periods', 'monitoring', 'aws_cloudwatch_metric_alarm.cpu_low', 'evaluation_periods', 5),
  RAW('Scale in: triggers the policy', 'monitoring', 'aws_cloudwatch_metric_alarm.cpu_low', 'alarm_actions', ['${var.scale_in_policy_arn}']),

  // 4. Database layer
  R('Aurora MySQL engine', 'database', 'aws_rds_cluster.this', 'engine', 'aurora-mysql'),
  MATCH('MySQL 8.0 compatible', 'database', 'aws_rds_cluster.this', 'engine_version', /^8\.0\.mysql_aurora\.3\./),
  R('Serverless v2 (provisioned mode)', 'database', 'aws_rds_cluster.this', 'engine_mode', 'provisioned'),
  R('Capacity min 0.5 ACU', 'database', 'aws_rds_cluster.this', 'serverlessv2_scaling_configuration.min_capacity', 0.5),
  R('Capacity max 16 ACU', 'database', 'aws_rds_cluster.this', 'serverlessv2_scaling_configuration.max_capacity', 16),
  R('Backup 7-day retention', 'database', 'aws_rds_cluster.this', 'backup_retention_period', 7),
  R('Encryption at rest', 'database', 'aws_rds_cluster.this', 'storage_encrypted', true),
  RAW('Customer-managed KMS key', 'database', 'aws_rds_cluster.this', 'kms_key_id', '${var.kms_key_arn}'),
  R('Master password in Secrets Manager', 'database', 'aws_rds_cluster.this', 'manage_master_user_password', true),
  RAW('Master secret encrypted with the CMK', 'database', 'aws_rds_cluster.this', 'master_user_secret_kms_key_id', '${var.kms_key_arn}'),
  R('Automatic rotation (7 days)', 'database', 'aws_secretsmanager_secret_rotation.master', 'rotation_rules.automatically_after_days', 7),
  RAW('Security group: from EC2 only', 'database', 'aws_rds_cluster.this', 'vpc_security_group_ids', ['${var.security_group_id}']),
  RAW('Subnet group over the private subnets', 'database', 'aws_db_subnet_group.this', 'subnet_ids', '${var.private_subnet_ids}'),
  CHECK('Custom parameter group requires TLS', 'database', 'aws_rds_cluster_parameter_group.this', 'parameter',
    (ps) => ps.some((p) => p.name === 'require_secure_transport' && p.value === 'ON')),
  R('Parameter group family Aurora MySQL 8.0', 'database', 'aws_rds_cluster_parameter_group.this', 'family', 'aurora-mysql8.0'),
  R('Writer: serverless instance', 'database', 'aws_rds_cluster_instance.writer', 'instance_class', 'db.serverless'),
  R('Reader: serverless instance', 'database', 'aws_rds_cluster_instance.reader', 'instance_class', 'db.serverless'),
  RAW('Writer in AZ-1', 'database', 'aws_rds_cluster_instance.writer', 'availability_zone', '${var.azs[0]}'),
  RAW('Reader in AZ-2', 'database', 'aws_rds_cluster_instance.reader', 'availability_zone', '${var.azs[1]}'),
  R('Performance Insights (writer)', 'database', 'aws_rds_cluster_instance.writer', 'performance_insights_enabled', true),
  R('Performance Insights (reader)', 'database', 'aws_rds_cluster_instance.reader', 'performance_insights_enabled', true),
  R('Enhanced monitoring', 'database', 'aws_rds_cluster_instance.writer', 'monitoring_interval', 60),

  // 6. Secrets management
  R('KMS customer-managed key with rotation', 'secrets', 'aws_kms_key.platform', 'enable_key_rotation', true),
  RAW('API keys secret encrypted with the CMK', 'secrets', 'aws_secretsmanager_secret.api_keys', 'kms_key_id', '${aws_kms_key.platform.arn}'),

  // 7. Monitoring and logging
  R('Application log group /aws/ec2/php-app', 'monitoring', 'aws_cloudwatch_log_group.app', 'name', '/aws/ec2/php-app'),
  R('Log retention', 'monitoring', 'aws_cloudwatch_log_group.app', 'retention_in_days', 30),
  RAW('Log group KMS', 'monitoring', 'aws_cloudwatch_log_group.app', 'kms_key_id', '${var.kms_key_arn}'),
  RAW('SNS topic encrypted', 'monitoring', 'aws_sns_topic.alarms', 'kms_master_key_id', '${var.kms_key_arn}'),
  R('Alarm: database connections', 'monitoring', 'aws_cloudwatch_metric_alarm.db_connections', 'metric_name', 'DatabaseConnections'),
  CHECK('Alarm: ALB 5xx (ALB and targets)', 'monitoring', 'aws_cloudwatch_metric_alarm.alb_5xx', 'metric_query',
    (qs) => ['HTTPCode_ELB_5XX_Count', 'HTTPCode_Target_5XX_Count'].every((n) => qs.some((q) => q.metric && q.metric[0].metric_name === n))),
  MATCH('Alarm: memory from agentd metrics', 'monitoring', 'aws_cloudwatch_metric_alarm.memory', 'metric_query.expression', /MAX\(mem_used_percent\) FROM SCHEMA\("CWAgent", AutoScalingGroupName, ImageId, InstanceId, InstanceType\) WHERE AutoScalingGroupName = 'php-app-asg'/),
  MATCH('Alarm: disk from agentd metrics', 'monitoring', 'aws_cloudwatch_metric_alarm.disk', 'metric_query.expression', /MAX\(disk_used_percent\) FROM SCHEMA\("CWAgent",.*path = '\/'/),
  R('Budget alert', 'monitoring', 'aws_budgets_budget.monthly', 'budget_type', 'COST'),

  // Issue 15: the application's own DB user, rotated with alternating users.
  RAW('App DB secret encrypted with the CMK', 'db-app-user', 'aws_secretsmanager_secret.app', 'kms_key_id', '${var.kms_key_arn}'),
  RAW('Rotation: the application from the Serverless Application Repository', 'db-app-user', 'aws_serverlessapplicationrepository_cloudformation_stack.rotation', 'application_id',
    '${data.aws_serverlessapplicationrepository_application.rotation.application_id}'),
  RAW('Rotation function in the private subnets', 'db-app-user', 'aws_serverlessapplicationrepository_cloudformation_stack.rotation', 'parameters.vpcSubnetIds', '${join(",", var.private_subnet_ids)}'),
  RAW('Rotation function with the security group Aurora admits', 'db-app-user', 'aws_serverlessapplicationrepository_cloudformation_stack.rotation', 'parameters.vpcSecurityGroupIds', '${var.rotation_security_group_id}'),
  RAW('Rotation logs in with the master secret', 'db-app-user', 'aws_serverlessapplicationrepository_cloudformation_stack.rotation', 'parameters.masterSecretArn', '${var.master_secret_arn}'),
  RAW('Rotation capabilities from the application', 'db-app-user', 'aws_serverlessapplicationrepository_cloudformation_stack.rotation', 'capabilities', '${data.aws_serverlessapplicationrepository_application.rotation.required_capabilities}'),
  RAW('App secret rotated by that function', 'db-app-user', 'aws_secretsmanager_secret_rotation.app', 'rotation_lambda_arn', '${local.rotation_function_arn}'),
  R('App secret rotated every 7 days', 'db-app-user', 'aws_secretsmanager_secret_rotation.app', 'rotation_rules.automatically_after_days', 7),
  R('App secret not rotated at creation', 'db-app-user', 'aws_secretsmanager_secret_rotation.app', 'rotate_immediately', false),
  CHECK('First app user created by a one-shot custom resource', 'db-app-user', 'aws_cloudformation_stack.bootstrap', 'template_body',
    (t) => /Custom::DbAppUser/.test(t) && /file\("\$\{path\.module\}\/bootstrap\.py"\)/.test(t) && /Username\s*=\s*var\.username/.test(t)),
  RAW('Bootstrap SQL on this cluster only (Data API)', 'database', 'aws_rds_cluster.this', 'enable_http_endpoint', true),
  R('Aurora admits the rotation function', 'network', 'aws_vpc_security_group_ingress_rule.db_from_rotation', 'from_port', 3306),
  RAW('Aurora admits the rotation function (its group)', 'network', 'aws_vpc_security_group_ingress_rule.db_from_rotation', 'referenced_security_group_id', '${aws_security_group.rotation.id}'),

  // Issue 15: CloudTrail.
  R('CloudTrail multi-region', 'audit', 'aws_cloudtrail.this', 'is_multi_region_trail', true),
  R('CloudTrail log file validation', 'audit', 'aws_cloudtrail.this', 'enable_log_file_validation', true),
  R('CloudTrail global service events', 'audit', 'aws_cloudtrail.this', 'include_global_service_events', true),
  RAW('CloudTrail encrypted with the CMK', 'audit', 'aws_cloudtrail.this', 'kms_key_id', '${var.kms_key_arn}'),
  R('CloudTrail bucket SSE-KMS', 'audit', 'aws_s3_bucket_server_side_encryption_configuration.trail', 'rule.apply_server_side_encryption_by_default.sse_algorithm', 'aws:kms'),
  R('CloudTrail bucket versioned', 'audit', 'aws_s3_bucket_versioning.trail', 'versioning_configuration.status', 'Enabled'),
  R('CloudTrail bucket private', 'audit', 'aws_s3_bucket_public_access_block.trail', 'restrict_public_buckets', true),

  // Issue 15: network ACLs on both tiers.
  RAW('NACL on the public subnets', 'network', 'aws_network_acl.public', 'subnet_ids', '${aws_subnet.public[*].id}'),
  RAW('NACL on the private subnets', 'network', 'aws_network_acl.private', 'subnet_ids', '${aws_subnet.private[*].id}'),

  // Issue 15: the fleet dashboard and the error lines.
  CHECK('Dashboard: memory, disk, CPU, php-fpm, ingestion, ALB, Aurora', 'monitoring', 'aws_cloudwatch_dashboard.fleet', 'dashboard_body',
    (b) => b.includes('local.widgets')),
  RAW('Error-line metric filter on the app log group', 'monitoring', 'aws_cloudwatch_log_metric_filter.app_errors', 'log_group_name', '${aws_cloudwatch_log_group.app.name}'),
  RAW('Error-line alarm notifies', 'monitoring', 'aws_cloudwatch_metric_alarm.app_errors', 'alarm_actions', ['${aws_sns_topic.alarms.arn}']),
];


module.exports = { REQUIREMENTS };
