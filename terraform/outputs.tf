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
  description = "The dead-letter queue of the scheduled runs."
  value       = aws_sqs_queue.dead_letter.url
}
