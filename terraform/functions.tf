# The three functions, from the zips `make build` writes (cargo lambda build --release
# --output-format zip): target/lambda/<function>/bootstrap.zip. Each zip also carries
# rds-ca-bundle.pem (the RDS CAs plus Amazon's public roots for RDS Proxy) at the root, so the
# functions verify the database's certificate and name (DB_TLS=verify-full): neither the
# Lambda runtime's trust store nor the functions' built-in roots include the private RDS CAs.

resource "aws_lambda_function" "function" {
  for_each = local.functions
  #checkov:skip=CKV_AWS_272:The zips are built and deployed by `make deploy` from the repository; there is no Signer profile to sign them with.
  #checkov:skip=CKV_AWS_116:Only the scheduled functions are invoked asynchronously and get the dead-letter queue; the api is invoked synchronously by API Gateway.

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

  vpc_config {
    subnet_ids = aws_subnet.private[*].id
    security_group_ids = [
      contains(local.internet_functions, each.key) ? aws_security_group.functions_internet.id : aws_security_group.functions_internal.id
    ]
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
    aws_iam_role_policy_attachment.function_vpc,
  ]
}

resource "aws_cloudwatch_log_group" "function" {
  for_each = local.functions
  #checkov:skip=CKV_AWS_338:Retention is the log_retention_days variable (30 days by default): a year of debug-level pipeline logs costs more than it tells.

  name              = "/aws/lambda/${local.name}-${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}
