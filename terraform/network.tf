# A VPC in `az_count` zones with three tiers of subnets:
#   public    - only the NAT gateway lives here;
#   private   - the functions (and the RDS Proxy), with a route out through the NAT gateway for
#               the price sources and, without interface endpoints, for AWS APIs;
#   database  - the RDS instance, with no route out at all.
# One NAT gateway (not one per AZ): the collector runs every few minutes and tolerates an AZ
# outage by retrying, so the second gateway's 33 USD a month buys little here.

resource "aws_vpc" "main" {
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = { Name = local.name }
}

# Nothing may use the default security group: it allows nothing in or out.
resource "aws_default_security_group" "default" {
  vpc_id = aws_vpc.main.id

  tags = { Name = "${local.name}-default-deny" }
}

resource "aws_subnet" "public" {
  count = var.az_count

  vpc_id                  = aws_vpc.main.id
  availability_zone       = local.azs[count.index]
  cidr_block              = cidrsubnet(var.vpc_cidr, 4, count.index)
  map_public_ip_on_launch = false

  tags = { Name = "${local.name}-public-${local.azs[count.index]}", Tier = "public" }
}

resource "aws_subnet" "private" {
  count = var.az_count

  vpc_id            = aws_vpc.main.id
  availability_zone = local.azs[count.index]
  cidr_block        = cidrsubnet(var.vpc_cidr, 4, 4 + count.index)

  tags = { Name = "${local.name}-private-${local.azs[count.index]}", Tier = "private" }
}

resource "aws_subnet" "database" {
  count = var.az_count

  vpc_id            = aws_vpc.main.id
  availability_zone = local.azs[count.index]
  cidr_block        = cidrsubnet(var.vpc_cidr, 4, 8 + count.index)

  tags = { Name = "${local.name}-database-${local.azs[count.index]}", Tier = "database" }
}

resource "aws_internet_gateway" "main" {
  vpc_id = aws_vpc.main.id

  tags = { Name = local.name }
}

resource "aws_eip" "nat" {
  domain = "vpc"

  tags = { Name = "${local.name}-nat" }

  depends_on = [aws_internet_gateway.main]
}

resource "aws_nat_gateway" "main" {
  allocation_id = aws_eip.nat.id
  subnet_id     = aws_subnet.public[0].id

  tags = { Name = local.name }

  depends_on = [aws_internet_gateway.main]
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.main.id

  tags = { Name = "${local.name}-public" }
}

resource "aws_route" "public_internet" {
  route_table_id         = aws_route_table.public.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.main.id
}

resource "aws_route_table_association" "public" {
  count = var.az_count

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

resource "aws_route_table" "private" {
  vpc_id = aws_vpc.main.id

  tags = { Name = "${local.name}-private" }
}

resource "aws_route" "private_nat" {
  route_table_id         = aws_route_table.private.id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.main.id
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
# Interface endpoints: Secrets Manager (credentials at cold start) and CloudWatch metrics
# (one PutMetricData per invocation) stay inside the VPC.
# ---------------------------------------------------------------------------------------------

resource "aws_vpc_endpoint" "interface" {
  for_each = var.enable_interface_endpoints ? toset(["secretsmanager", "monitoring"]) : toset([])

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

resource "aws_security_group" "functions_internet" {
  name        = "${local.name}-functions-internet"
  description = "Functions that reach price sources on the internet (collector, api)"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-functions-internet" }
}

resource "aws_vpc_security_group_egress_rule" "functions_internet_https" {
  security_group_id = aws_security_group.functions_internet.id
  description       = "HTTPS to price sources and AWS APIs"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_security_group" "functions_internal" {
  name        = "${local.name}-functions-internal"
  description = "Functions that only talk to the database and AWS APIs (detector)"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-functions-internal" }
}

resource "aws_vpc_security_group_egress_rule" "functions_internal_https" {
  security_group_id = aws_security_group.functions_internal.id
  description       = "HTTPS to AWS APIs (the interface endpoints, or the NAT gateway without them)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = var.enable_interface_endpoints ? var.vpc_cidr : "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "functions_postgres" {
  for_each = {
    internet = aws_security_group.functions_internet.id
    internal = aws_security_group.functions_internal.id
  }

  security_group_id            = each.value
  description                  = "PostgreSQL to the database or its proxy"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = var.enable_rds_proxy ? aws_security_group.proxy.id : aws_security_group.database.id
}

resource "aws_security_group" "database" {
  name        = "${local.name}-database"
  description = "The RDS instance: PostgreSQL from the functions or the proxy only"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-database" }
}

resource "aws_vpc_security_group_ingress_rule" "database_postgres" {
  for_each = var.enable_rds_proxy ? {
    proxy = aws_security_group.proxy.id
    } : {
    internet = aws_security_group.functions_internet.id
    internal = aws_security_group.functions_internal.id
  }

  security_group_id            = aws_security_group.database.id
  description                  = "PostgreSQL from ${each.key}"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = each.value
}

resource "aws_security_group" "proxy" {
  #checkov:skip=CKV2_AWS_5:Attached to aws_db_proxy.main when enable_rds_proxy is set; the check does not know aws_db_proxy. Empty and unused otherwise.
  name        = "${local.name}-proxy"
  description = "The RDS Proxy (when enabled): PostgreSQL from the functions, to the database"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-proxy" }
}

resource "aws_vpc_security_group_ingress_rule" "proxy_postgres" {
  for_each = var.enable_rds_proxy ? {
    internet = aws_security_group.functions_internet.id
    internal = aws_security_group.functions_internal.id
  } : {}

  security_group_id            = aws_security_group.proxy.id
  description                  = "PostgreSQL from the ${each.key} functions"
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = each.value
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

resource "aws_vpc_security_group_egress_rule" "proxy_https" {
  count = var.enable_rds_proxy ? 1 : 0

  security_group_id = aws_security_group.proxy.id
  description       = "HTTPS to Secrets Manager, where the proxy reads the credentials"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = var.enable_interface_endpoints ? var.vpc_cidr : "0.0.0.0/0"
}

resource "aws_security_group" "endpoints" {
  name        = "${local.name}-endpoints"
  description = "Interface endpoints: HTTPS from the functions and the proxy"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-endpoints" }
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_https" {
  for_each = {
    internet = aws_security_group.functions_internet.id
    internal = aws_security_group.functions_internal.id
    proxy    = aws_security_group.proxy.id
  }

  security_group_id            = aws_security_group.endpoints.id
  description                  = "HTTPS from ${each.key}"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = each.value
}

# ---------------------------------------------------------------------------------------------
# Flow logs: who talked to what, for incident response.
# ---------------------------------------------------------------------------------------------

resource "aws_flow_log" "main" {
  vpc_id                   = aws_vpc.main.id
  traffic_type             = "ALL"
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
