# A dual-stack VPC in `az_count` zones with two tiers of subnets and no NAT gateway:
#   private   - the in-VPC functions (and the optional RDS Proxy). IPv4 stays inside the VPC;
#               IPv6 may leave through an egress-only internet gateway (free), which only the
#               migrator's security group uses: to read the RDS-managed secret from Secrets
#               Manager, whose endpoint is dual-stack.
#   database  - the RDS instance, with no route out at all.
# The collector runs outside the VPC (free outbound internet, no database credentials), so
# nothing here needs a NAT gateway (33 USD a month) or interface endpoints (7.30 USD each per
# AZ a month); both stay options below.

resource "aws_vpc" "main" {
  cidr_block                       = var.vpc_cidr
  assign_generated_ipv6_cidr_block = true
  enable_dns_support               = true
  enable_dns_hostnames             = true

  tags = { Name = local.name }
}

# Nothing may use the default security group: it allows nothing in or out.
resource "aws_default_security_group" "default" {
  vpc_id = aws_vpc.main.id

  tags = { Name = "${local.name}-default-deny" }
}

resource "aws_subnet" "private" {
  count = var.az_count

  vpc_id                                         = aws_vpc.main.id
  availability_zone                              = local.azs[count.index]
  cidr_block                                     = cidrsubnet(var.vpc_cidr, 4, 4 + count.index)
  ipv6_cidr_block                                = cidrsubnet(aws_vpc.main.ipv6_cidr_block, 8, count.index)
  assign_ipv6_address_on_creation                = true
  enable_resource_name_dns_aaaa_record_on_launch = true

  tags = { Name = "${local.name}-private-${local.azs[count.index]}", Tier = "private" }
}

resource "aws_subnet" "database" {
  count = var.az_count

  vpc_id            = aws_vpc.main.id
  availability_zone = local.azs[count.index]
  cidr_block        = cidrsubnet(var.vpc_cidr, 4, 8 + count.index)

  tags = { Name = "${local.name}-database-${local.azs[count.index]}", Tier = "database" }
}

# IPv6 out, nothing in; free per hour (only data transfer out is billed, a few kilobytes).
resource "aws_egress_only_internet_gateway" "main" {
  vpc_id = aws_vpc.main.id

  tags = { Name = local.name }
}

resource "aws_route_table" "private" {
  vpc_id = aws_vpc.main.id

  tags = { Name = "${local.name}-private" }
}

resource "aws_route" "private_ipv6_out" {
  route_table_id              = aws_route_table.private.id
  destination_ipv6_cidr_block = "::/0"
  egress_only_gateway_id      = aws_egress_only_internet_gateway.main.id
}

resource "aws_route_table_association" "private" {
  count = var.az_count

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private.id
}

# The database tier has only the VPC's local route.
resource "aws_route_table" "database" {
  vpc_id = aws_vpc.main.id

  tags = { Name = "${local.name}-database" }
}

resource "aws_route_table_association" "database" {
  count = var.az_count

  subnet_id      = aws_subnet.database[count.index].id
  route_table_id = aws_route_table.database.id
}

# ---------------------------------------------------------------------------------------------
# Optional: interface endpoints (enable_interface_endpoints), for deployments that want the
# migrator's Secrets Manager traffic on IPv4 inside the VPC. 7.30 USD per endpoint per AZ.
# ---------------------------------------------------------------------------------------------

resource "aws_vpc_endpoint" "interface" {
  for_each = var.enable_interface_endpoints ? toset(["secretsmanager"]) : toset([])

  vpc_id              = aws_vpc.main.id
  service_name        = "com.amazonaws.${var.region}.${each.key}"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = aws_subnet.private[*].id
  security_group_ids  = [aws_security_group.endpoints.id]
  private_dns_enabled = true

  tags = { Name = "${local.name}-${each.key}" }
}

# ---------------------------------------------------------------------------------------------
# Security groups
# ---------------------------------------------------------------------------------------------

# Every in-VPC function: PostgreSQL to the database (or its proxy), nothing else.
resource "aws_security_group" "functions" {
  name        = "${local.name}-functions"
  description = "In-VPC functions: PostgreSQL to the database only"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-functions" }
}

resource "aws_vpc_security_group_egress_rule" "functions_postgres" {
  security_group_id            = aws_security_group.functions.id
  description                  = "PostgreSQL to the database or its proxy"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = var.enable_rds_proxy ? aws_security_group.proxy.id : aws_security_group.database.id
}

# The migrator's extra way out: HTTPS over IPv6, for Secrets Manager's dual-stack endpoint.
resource "aws_security_group" "migrator" {
  name        = "${local.name}-migrator"
  description = "The migrator: HTTPS over IPv6 to Secrets Manager"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-migrator" }
}

resource "aws_vpc_security_group_egress_rule" "migrator_https_ipv6" {
  security_group_id = aws_security_group.migrator.id
  description       = "HTTPS over IPv6 (Secrets Manager's dual-stack endpoint)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv6         = "::/0"
}

resource "aws_vpc_security_group_egress_rule" "migrator_https_endpoints" {
  count = var.enable_interface_endpoints ? 1 : 0

  security_group_id            = aws_security_group.migrator.id
  description                  = "HTTPS to the interface endpoints"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.endpoints.id
}

resource "aws_security_group" "database" {
  name        = "${local.name}-database"
  description = "The RDS instance: PostgreSQL from the functions or the proxy only"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-database" }
}

resource "aws_vpc_security_group_ingress_rule" "database_postgres" {
  security_group_id            = aws_security_group.database.id
  description                  = var.enable_rds_proxy ? "PostgreSQL from the proxy" : "PostgreSQL from the functions"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = var.enable_rds_proxy ? aws_security_group.proxy.id : aws_security_group.functions.id
}

resource "aws_security_group" "proxy" {
  #checkov:skip=CKV2_AWS_5:Attached to aws_db_proxy.main when enable_rds_proxy is set; the check does not know aws_db_proxy. Empty and unused otherwise.
  name        = "${local.name}-proxy"
  description = "The RDS Proxy (when enabled): PostgreSQL from the functions, to the database"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-proxy" }
}

resource "aws_vpc_security_group_ingress_rule" "proxy_postgres" {
  count = var.enable_rds_proxy ? 1 : 0

  security_group_id            = aws_security_group.proxy.id
  description                  = "PostgreSQL from the functions"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.functions.id
}

resource "aws_vpc_security_group_egress_rule" "proxy_postgres" {
  count = var.enable_rds_proxy ? 1 : 0

  security_group_id            = aws_security_group.proxy.id
  description                  = "PostgreSQL to the database"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.database.id
}

resource "aws_vpc_security_group_egress_rule" "proxy_https_ipv6" {
  count = var.enable_rds_proxy ? 1 : 0

  security_group_id = aws_security_group.proxy.id
  description       = "HTTPS over IPv6 to Secrets Manager, where the proxy reads the credentials"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv6         = "::/0"
}

resource "aws_security_group" "endpoints" {
  #checkov:skip=CKV2_AWS_5:Attached to the interface endpoints when enable_interface_endpoints is set; empty and unused otherwise.
  name        = "${local.name}-endpoints"
  description = "Interface endpoints (optional): HTTPS from the migrator"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-endpoints" }
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_https" {
  security_group_id            = aws_security_group.endpoints.id
  description                  = "HTTPS from the migrator"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.migrator.id
}

# ---------------------------------------------------------------------------------------------
# Flow logs of rejected traffic: what tried to get in or out and was refused. (All traffic
# would log every database round trip, at 0.50 USD per GB ingested.)
# ---------------------------------------------------------------------------------------------

resource "aws_flow_log" "main" {
  vpc_id                   = aws_vpc.main.id
  traffic_type             = "REJECT"
  log_destination_type     = "cloud-watch-logs"
  log_destination          = aws_cloudwatch_log_group.flow_logs.arn
  iam_role_arn             = aws_iam_role.flow_logs.arn
  max_aggregation_interval = 600

  tags = { Name = local.name }
}

resource "aws_cloudwatch_log_group" "flow_logs" {
  #checkov:skip=CKV_AWS_338:Retention is the flow_log_retention_days variable (30 days by default).
  name              = "/aws/vpc/${local.name}/flow-logs"
  retention_in_days = var.flow_log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}
