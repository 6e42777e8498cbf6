output "asg_name" {
  value = aws_autoscaling_group.this.name
}

output "scale_out_policy_arn" {
  value = aws_autoscaling_policy.scale_out.arn
}

output "scale_in_policy_arn" {
  value = aws_autoscaling_policy.scale_in.arn
}

output "instance_role_arn" {
  value = aws_iam_role.instance.arn
}

output "launch_template_id" {
  value = aws_launch_template.this.id
}
