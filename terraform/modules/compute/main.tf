# Compute layer: the launch template (IMDSv2 only, encrypted gp3 root, user data that
# configures and starts agentd), the instance role, and the Auto Scaling group with its
# lifecycle hooks and CPU scaling policies (the alarms that drive them are in the
# monitoring module).

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  # Built from the name rather than aws_autoscaling_group.this.arn: the policy must exist
  # before the first instance boots and tries to complete its launch hook.
  asg_arn = "arn:${local.partition}:autoscaling:${var.region}:${local.account_id}:autoScalingGroup:*:autoScalingGroupName/${var.asg_name}"
  # "s3://bucket/key" -> "arn:aws:s3:::bucket/key"
  deb_object_arn = var.agentd_deb_s3_uri == "" ? "" : "arn:${local.partition}:s3:::${trimprefix(var.agentd_deb_s3_uri, "s3://")}"
}

# --- Instance role: least privilege, every statement scoped to one ARN ---

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "instance" {
  name               = "${var.name}-instance"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "agentd" {
  # [secret.db]: the application's own DB secret (alternating users), never the master's.
  # DescribeSecret: cheap rotation detection.
  statement {
    sid       = "ReadDbSecret"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = [var.db_secret_arn]
  }

  # The application's third-party API keys ([secret.NAME] of the AMI's configuration).
  statement {
    sid       = "ReadApiKeysSecret"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = [var.api_keys_secret_arn]
  }

  # Both are encrypted with the platform key: decrypt through Secrets Manager only.
  statement {
    sid       = "DecryptSecrets"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${var.region}.amazonaws.com"]
    }
  }

  # [logs]: this log group only. Terraform creates it; agentd's CreateLogGroup on a
  # ResourceNotFoundException must still be allowed for it (IAM matches CreateLogGroup
  # and CreateLogStream on the group's ARN, with or without ":*").
  statement {
    sid       = "CreateAppLogGroupAndStreams"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream"]
    resources = [var.log_group_arn, "${var.log_group_arn}:*"]
  }

  statement {
    sid       = "PutAppLogEvents"
    actions   = ["logs:PutLogEvents"]
    resources = ["${var.log_group_arn}:log-stream:*"]
  }

  # PutMetricData has no resource ARN; the namespace condition is its scope.
  statement {
    sid       = "PutAgentMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = [var.metrics_namespace]
    }
  }

  # [lifecycle]: complete and heartbeat the hooks of this ASG.
  statement {
    sid       = "LifecycleActions"
    actions   = ["autoscaling:CompleteLifecycleAction", "autoscaling:RecordLifecycleActionHeartbeat"]
    resources = [local.asg_arn]
  }

  # Only when agentd is installed from S3 at boot: that one object, and the platform
  # key only through S3 (the artifacts bucket encrypts with it).
  dynamic "statement" {
    for_each = local.deb_object_arn == "" ? [] : [local.deb_object_arn]
    content {
      sid       = "FetchAgentdPackage"
      actions   = ["s3:GetObject"]
      resources = [statement.value]
    }
  }
  dynamic "statement" {
    for_each = local.deb_object_arn == "" ? [] : [var.kms_key_arn]
    content {
      sid       = "DecryptAgentdPackage"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${var.region}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role_policy" "agentd" {
  name   = "agentd"
  role   = aws_iam_role.instance.id
  policy = data.aws_iam_policy_document.agentd.json
}

resource "aws_iam_instance_profile" "instance" {
  name = "${var.name}-instance"
  role = aws_iam_role.instance.name
}

# --- Launch template ---

resource "aws_launch_template" "this" {
  name_prefix            = "${var.name}-"
  image_id               = var.ami_id
  instance_type          = var.instance_type
  vpc_security_group_ids = [var.security_group_id]
  update_default_version = true

  iam_instance_profile {
    arn = aws_iam_instance_profile.instance.arn
  }

  # IMDSv2 only; hop limit 1 keeps the credentials away from anything one network hop
  # further (containers); tags in metadata let agentd read its tags without an API call.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "enabled"
  }

  # Encrypted with the AWS-managed EBS key: a customer-managed key would also need a
  # grant for the Auto Scaling service-linked role.
  block_device_mappings {
    device_name = var.root_device_name
    ebs {
      volume_size           = var.root_volume_size
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }

  monitoring {
    enabled = true
  }

  user_data = base64encode(templatefile("${path.module}/../../../userdata/user-data.sh.tftpl", {
    region            = var.region
    secret_arn        = var.db_secret_arn
    log_group         = var.log_group_name
    asg_name          = var.asg_name
    launch_hook       = var.launch_hook_name
    terminate_hook    = var.terminate_hook_name
    agentd_deb_s3_uri = var.agentd_deb_s3_uri
    agentd_deb_sha256 = var.agentd_deb_sha256
    s3_endpoint       = var.s3_endpoint
  }))

  tag_specifications {
    resource_type = "instance"
    tags          = { Name = var.name }
  }

  tag_specifications {
    resource_type = "volume"
    tags          = { Name = var.name }
  }
}

# --- Auto Scaling group ---

resource "aws_autoscaling_group" "this" {
  name                = var.asg_name
  min_size            = var.min_size
  max_size            = var.max_size
  desired_capacity    = var.desired_capacity
  vpc_zone_identifier = var.private_subnet_ids
  target_group_arns   = [var.target_group_arn]

  # "ELB" means ELB and EC2 status checks both.
  health_check_type         = "ELB"
  health_check_grace_period = var.health_check_grace_period
  default_cooldown          = var.cooldown

  launch_template {
    id      = aws_launch_template.this.id
    version = aws_launch_template.this.latest_version
  }

  # Initial hooks, so even the first instances wait for agentd: it completes the launch
  # hook with CONTINUE once nginx, php-fpm and the secrets are in place, and only then
  # does the ASG register the instance with the target group. No answer: ABANDON.
  initial_lifecycle_hook {
    name                 = var.launch_hook_name
    lifecycle_transition = "autoscaling:EC2_INSTANCE_LAUNCHING"
    default_result       = "ABANDON"
    heartbeat_timeout    = var.launch_hook_timeout
  }

  # On scale-in agentd drains (logs flushed, metrics sent) and completes this hook.
  initial_lifecycle_hook {
    name                 = var.terminate_hook_name
    lifecycle_transition = "autoscaling:EC2_INSTANCE_TERMINATING"
    default_result       = "CONTINUE"
    heartbeat_timeout    = var.terminate_hook_timeout
  }

  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = 50
    }
  }

  enabled_metrics = ["GroupDesiredCapacity", "GroupInServiceInstances", "GroupPendingInstances", "GroupTerminatingInstances", "GroupTotalInstances"]

  tag {
    key                 = "Name"
    value               = var.name
    propagate_at_launch = true
  }

  # desired_capacity is where the scaling policies keep the fleet; an apply must not
  # set it back to the initial value.
  lifecycle {
    ignore_changes = [desired_capacity]
  }
}

# Simple scaling, one instance at a time, 300 s cooldown (architecture: scaling policies).
resource "aws_autoscaling_policy" "scale_out" {
  name                   = "${var.name}-scale-out"
  autoscaling_group_name = aws_autoscaling_group.this.name
  policy_type            = "SimpleScaling"
  adjustment_type        = "ChangeInCapacity"
  scaling_adjustment     = 1
  cooldown               = var.cooldown
}

resource "aws_autoscaling_policy" "scale_in" {
  name                   = "${var.name}-scale-in"
  autoscaling_group_name = aws_autoscaling_group.this.name
  policy_type            = "SimpleScaling"
  adjustment_type        = "ChangeInCapacity"
  scaling_adjustment     = -1
  cooldown               = var.cooldown
}
