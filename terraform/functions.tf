# The seven functions, from the zips `make build` writes (cargo lambda build --release
# --output-format zip): target/lambda/<function>/bootstrap.zip. Each zip also carries
# rds-ca-bundle.pem (the RDS CAs plus Amazon's public roots for RDS Proxy) at the root, so the
# database functions verify the database's certificate and name (DB_TLS=verify-full).
#
# The collector and the notifier run outside the VPC; the others inside it, in the private
# subnets, the migrator alone allowed out over IPv6 (to Secrets Manager).

resource "aws_lambda_function" "function" {
  for_each = local.functions
  #checkov:skip=CKV_AWS_272:The zips are built and deployed by `make deploy` from the repository; there is no Signer profile to sign them with.
  #checkov:skip=CKV_AWS_116:Only the scheduled functions are invoked asynchronously and get the dead-letter queue; the others are invoked synchronously (API Gateway, the collector, Terraform) or by the SQS mapping, whose queue has its own dead-letter queue.
  #checkov:skip=CKV_AWS_117:The collector runs outside the VPC on purpose: it needs the internet (price sources) and holds no database credentials; every function that reaches the database is in the VPC.

  function_name = "${local.name}-${each.key}"
  description   = "tickwatch ${each.key}"
  role          = aws_iam_role.function[each.key].arn

  runtime       = "provided.al2023"
  handler       = "bootstrap"
  architectures = [var.lambda_architecture]

  filename = "${local.lambda_zip_dir}/${each.key}/bootstrap.zip"
  # Guarded so that `terraform destroy` works without a build; the precondition below stops
  # every plan that would deploy a missing zip.
  source_code_hash = fileexists("${local.lambda_zip_dir}/${each.key}/bootstrap.zip") ? filebase64sha256("${local.lambda_zip_dir}/${each.key}/bootstrap.zip") : null

  memory_size                    = local.function_settings[each.key].memory_mb
  timeout                        = local.function_settings[each.key].timeout_seconds
  reserved_concurrent_executions = local.function_settings[each.key].reserved_concurrency

  kms_key_arn = aws_kms_key.main.arn
  environment {
    variables = merge(local.lambda_environment, local.function_environment[each.key])
  }

  dynamic "vpc_config" {
    for_each = contains(tolist(local.vpc_functions), each.key) ? [each.key] : []
    content {
      subnet_ids                  = aws_subnet.private[*].id
      security_group_ids          = each.key == "migrator" ? [aws_security_group.functions.id, aws_security_group.migrator.id] : [aws_security_group.functions.id]
      ipv6_allowed_for_dual_stack = each.key == "migrator"
    }
  }

  dynamic "dead_letter_config" {
    for_each = contains(keys(local.scheduled_functions), each.key) ? [aws_sqs_queue.dead_letter.arn] : []
    content {
      target_arn = dead_letter_config.value
    }
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.function[each.key].name
  }

  lifecycle {
    precondition {
      condition     = fileexists("${local.lambda_zip_dir}/${each.key}/bootstrap.zip")
      error_message = "${local.lambda_zip_dir}/${each.key}/bootstrap.zip does not exist: run `make build` (or `make deploy`, which builds first)."
    }
  }

  depends_on = [
    aws_iam_role_policy.function,
    aws_iam_role_policy_attachment.function_logs,
  ]
}

resource "aws_cloudwatch_log_group" "function" {
  for_each = local.functions
  #checkov:skip=CKV_AWS_338:Retention is the log_retention_days variable (30 days by default): a year of debug-level pipeline logs costs more than it tells.

  name              = "/aws/lambda/${local.name}-${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

# Migrations and roles, once per deployment: whenever the migrator's code (which embeds the
# migrations) changes. The database must exist first.
resource "aws_lambda_invocation" "migrate" {
  function_name = aws_lambda_function.function["migrator"].function_name
  input         = jsonencode({ action = "migrate" })

  triggers = {
    code = aws_lambda_function.function["migrator"].source_code_hash
  }

  depends_on = [aws_db_instance.main]
}

# ---------------------------------------------------------------------------------------------
# Candles: collector → SQS → writer. The event-source mapping is something the Lambda service
# delivers, so the writer needs no network path to SQS; a batch it cannot store is handed back
# (ReportBatchItemFailures) and, after max_receive_count deliveries, lands in the dead-letter
# queue. Gap repair refetches whatever is still missing once the database is back.
# ---------------------------------------------------------------------------------------------

resource "aws_sqs_queue" "candles" {
  name                              = "${local.name}-candles"
  message_retention_seconds         = 345600 # 4 days
  visibility_timeout_seconds        = 6 * local.function_settings.writer.timeout_seconds
  kms_master_key_id                 = aws_kms_key.main.arn
  kms_data_key_reuse_period_seconds = 3600

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dead_letter.arn
    maxReceiveCount     = var.candle_max_receive_count
  })
}

resource "aws_lambda_event_source_mapping" "candles" {
  event_source_arn                   = aws_sqs_queue.candles.arn
  function_name                      = aws_lambda_function.function["writer"].arn
  batch_size                         = 10
  maximum_batching_window_in_seconds = 5
  function_response_types            = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = 2
  }
}
