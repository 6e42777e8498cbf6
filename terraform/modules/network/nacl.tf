# Network ACLs: the subnet-level layer of the architecture document's defence in depth,
# mirroring what the security groups allow. NACLs are stateless, so every allowed
# connection needs its return traffic allowed too, on the ephemeral ports (1024-65535:
# the ALB and the NAT gateways use the whole range, Linux 32768-60999).
#
#   public subnets (ALB, NAT)            private subnets (EC2, Aurora, rotation function)
#   in   80, 443 from anywhere           in   80 from the public subnets (ALB)
#   in   ephemeral from anywhere         in   3306 from the private subnets only
#   out  80 to the private subnets       in   22 from the VPC (only with a bastion)
#   out  443 to anywhere (NAT)           in   ephemeral from anywhere, but 3306 excluded
#   out  ephemeral to anywhere           out  443 to anywhere (AWS APIs, via NAT)
#                                        out  3306 to the private subnets
#                                        out  ephemeral to the VPC (answers to the ALB,
#                                             Aurora's answers to its clients)
#
# The security groups stay the precise control (which group talks to which); the NACLs
# make sure that, whatever a group says, Aurora's port is not reachable from outside the
# private subnets and nothing in the private subnets accepts connections except HTTP
# from the load balancer's subnets.

resource "aws_network_acl" "public" {
  vpc_id     = aws_vpc.this.id
  subnet_ids = aws_subnet.public[*].id
  tags       = { Name = "${var.name}-public" }
}

resource "aws_network_acl" "private" {
  vpc_id     = aws_vpc.this.id
  subnet_ids = aws_subnet.private[*].id
  tags       = { Name = "${var.name}-private" }
}

# The VPC's default NACL allows everything; no subnet uses it, strip its rules (as the
# default security group's).
resource "aws_default_network_acl" "this" {
  default_network_acl_id = aws_vpc.this.default_network_acl_id
  tags                   = { Name = "${var.name}-default-unused" }
  lifecycle {
    ignore_changes = [subnet_ids]
  }
}

# --- Public subnets ---

resource "aws_network_acl_rule" "public_in_http" {
  network_acl_id = aws_network_acl.public.id
  rule_number    = 100
  egress         = false
  protocol       = "tcp"
  rule_action    = "allow"
  cidr_block     = "0.0.0.0/0"
  from_port      = 80
  to_port        = 80
}

# HTTPS to the ALB from the internet, and from the private subnets to the NAT gateways.
resource "aws_network_acl_rule" "public_in_https" {
  network_acl_id = aws_network_acl.public.id
  rule_number    = 110
  egress         = false
  protocol       = "tcp"
  rule_action    = "allow"
  cidr_block     = "0.0.0.0/0"
  from_port      = 443
  to_port        = 443
}

# Answers: the instances' to the ALB, the internet's to the NAT gateways.
resource "aws_network_acl_rule" "public_in_ephemeral" {
  network_acl_id = aws_network_acl.public.id
  rule_number    = 120
  egress         = false
  protocol       = "tcp"
  rule_action    = "allow"
  cidr_block     = "0.0.0.0/0"
  from_port      = 1024
  to_port        = 65535
}

# The ALB forwards to the instances' nginx.
resource "aws_network_acl_rule" "public_out_http_to_private" {
  count          = length(var.private_subnet_cidrs)
  network_acl_id = aws_network_acl.public.id
  rule_number    = 100 + count.index
  egress         = true
  protocol       = "tcp"
  rule_action    = "allow"
  cidr_block     = var.private_subnet_cidrs[count.index]
  from_port      = 80
  to_port        = 80
}

# The NAT gateways forward the private subnets' HTTPS.
resource "aws_network_acl_rule" "public_out_https" {
  network_acl_id = aws_network_acl.public.id
  rule_number    = 200
  egress         = true
  protocol       = "tcp"
  rule_action    = "allow"
  cidr_block     = "0.0.0.0/0"
  from_port      = 443
  to_port        = 443
}

# Answers: the ALB's to its clients, the NAT gateways' to the instances.
resource "aws_network_acl_rule" "public_out_ephemeral" {
  network_acl_id = aws_network_acl.public.id
  rule_number    = 210
  egress         = true
  protocol       = "tcp"
  rule_action    = "allow"
  cidr_block     = "0.0.0.0/0"
  from_port      = 1024
  to_port        = 65535
}

# --- Private subnets ---

resource "aws_network_acl_rule" "private_in_http_from_public" {
  count          = length(var.public_subnet_cidrs)
  network_acl_id = aws_network_acl.private.id
  rule_number    = 100 + count.index
  egress         = false
  protocol       = "tcp"
  rule_action    = "allow"
  cidr_block     = var.public_subnet_cidrs[count.index]
  from_port      = 80
  to_port        = 80
}

resource "aws_network_acl_rule" "private_in_mysql" {
  count          = length(var.private_subnet_cidrs)
  network_acl_id = aws_network_acl.private.id
  rule_number    = 200 + count.index
  egress         = false
  protocol       = "tcp"
  rule_action    = "allow"
  cidr_block     = var.private_subnet_cidrs[count.index]
  from_port      = 3306
  to_port        = 3306
}

resource "aws_network_acl_rule" "private_in_ssh" {
  count          = var.bastion_security_group_id == null ? 0 : 1
  network_acl_id = aws_network_acl.private.id
  rule_number    = 300
  egress         = false
  protocol       = "tcp"
  rule_action    = "allow"
  cidr_block     = var.vpc_cidr
  from_port      = 22
  to_port        = 22
}

# Answers from anywhere (AWS APIs through NAT, Aurora to its clients), in two ranges
# around 3306 so that Aurora's port stays closed to everything outside.
resource "aws_network_acl_rule" "private_in_ephemeral_low" {
  network_acl_id = aws_network_acl.private.id
  rule_number    = 400
  egress         = false
  protocol       = "tcp"
  rule_action    = "allow"
  cidr_block     = "0.0.0.0/0"
  from_port      = 1024
  to_port        = 3305
}

resource "aws_network_acl_rule" "private_in_ephemeral_high" {
  network_acl_id = aws_network_acl.private.id
  rule_number    = 410
  egress         = false
  protocol       = "tcp"
  rule_action    = "allow"
  cidr_block     = "0.0.0.0/0"
  from_port      = 3307
  to_port        = 65535
}

resource "aws_network_acl_rule" "private_out_https" {
  network_acl_id = aws_network_acl.private.id
  rule_number    = 100
  egress         = true
  protocol       = "tcp"
  rule_action    = "allow"
  cidr_block     = "0.0.0.0/0"
  from_port      = 443
  to_port        = 443
}

resource "aws_network_acl_rule" "private_out_mysql" {
  count          = length(var.private_subnet_cidrs)
  network_acl_id = aws_network_acl.private.id
  rule_number    = 200 + count.index
  egress         = true
  protocol       = "tcp"
  rule_action    = "allow"
  cidr_block     = var.private_subnet_cidrs[count.index]
  from_port      = 3306
  to_port        = 3306
}

resource "aws_network_acl_rule" "private_out_ephemeral" {
  network_acl_id = aws_network_acl.private.id
  rule_number    = 300
  egress         = true
  protocol       = "tcp"
  rule_action    = "allow"
  cidr_block     = var.vpc_cidr
  from_port      = 1024
  to_port        = 65535
}
