output "api_url" {
  description = "Base URL of the HTTP API (e.g. <api_url>/health)."
  value       = aws_apigatewayv2_stage.default.invoke_url
}

output "db_endpoint" {
  description = "Where the functions connect: the RDS Proxy when enabled, else the instance (host name; port 5432)."
  value       = local.db_host
}

output "db_instance_endpoint" {
  description = "The RDS instance's own endpoint (host:port)."
  value       = aws_db_instance.main.endpoint
}

output "db_secret_arn" {
  description = "ARN of the Secrets Manager secret RDS manages with the master credentials."
  value       = aws_db_instance.main.master_user_secret[0].secret_arn
}

output "api_key_secret_arn" {
  description = "ARN of the secret holding the API's bearer key for writes."
  value       = aws_secretsmanager_secret.api_key.arn
}

output "dashboard_url" {
  description = "The CloudWatch dashboard of the pipeline."
  value       = "https://${var.region}.console.aws.amazon.com/cloudwatch/home?region=${var.region}#dashboards:name=${aws_cloudwatch_dashboard.main.dashboard_name}"
}

output "alarm_topic_arn" {
  description = "SNS topic the alarms publish to; subscribe more endpoints to it as needed."
  value       = aws_sns_topic.alarms.arn
}

output "function_names" {
  description = "Lambda function names by role."
  value       = { for k, f in aws_lambda_function.function : k => f.function_name }
}

output "dead_letter_queue_url" {
  description = "The dead-letter queue: scheduled runs and candle batches given up after their retries."
  value       = aws_sqs_queue.dead_letter.url
}

output "vpc_id" {
  description = "The VPC the database and the in-VPC functions live in."
  value       = aws_vpc.main.id
}

output "private_subnet_ids" {
  description = "Subnets of the in-VPC functions (dual-stack; IPv6 out only through the egress-only gateway)."
  value       = aws_subnet.private[*].id
}

output "database_subnet_ids" {
  description = "Subnets of the database (no route out)."
  value       = aws_subnet.database[*].id
}

output "security_group_ids" {
  description = "Security groups by role: functions (PostgreSQL out), migrator (HTTPS over IPv6 out), database, proxy, endpoints."
  value = {
    functions = aws_security_group.functions.id
    migrator  = aws_security_group.migrator.id
    database  = aws_security_group.database.id
    proxy     = aws_security_group.proxy.id
    endpoints = aws_security_group.endpoints.id
  }
}

output "kms_key_arn" {
  description = "The stack's customer-managed KMS key (secrets, logs, queues, database storage)."
  value       = aws_kms_key.main.arn
}

output "candle_queue_url" {
  description = "The queue the collector sends candle batches to and the writer drains."
  value       = aws_sqs_queue.candles.url
}

output "source_key_secret_arns" {
  description = "Secrets for the price sources' API keys; set their values with aws secretsmanager put-secret-value."
  value       = { for k, s in aws_secretsmanager_secret.source_key : k => s.arn }
}

output "event_bus_name" {
  description = "EventBridge bus carrying the data events (source tickwatch; candles.stored, anomaly.detected; schemas/events/)."
  value       = aws_cloudwatch_event_bus.data.name
}

output "alerts_topic_arn" {
  description = "SNS topic the alerts are published to (subscribe an address with alert_email, or anything else outside Terraform)."
  value       = aws_sns_topic.alerts.arn
}
