locals {
  name = "${var.project}-${var.environment}"

  tags = merge(var.tags, {
    Project     = var.project
    Environment = var.environment
    ManagedBy   = "terraform"
  })

  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  azs        = slice(data.aws_availability_zones.available.names, 0, var.az_count)

  # The three functions; each is built by `make build` into target/lambda/<name>/bootstrap.zip.
  functions = toset(["collector", "detector", "api"])
  # The functions EventBridge invokes on a schedule (asynchronously, with retries and a DLQ).
  scheduled_functions = {
    collector = var.collector_schedule
    detector  = var.detector_schedule
  }
  # The functions that reach the internet (price sources): the api can collect on request.
  internet_functions = toset(["collector", "api"])

  lambda_zip_dir = startswith(var.lambda_zip_dir, "/") ? var.lambda_zip_dir : "${path.module}/${var.lambda_zip_dir}"

  function_settings = {
    collector = var.function_settings.collector
    detector  = var.function_settings.detector
    api       = var.function_settings.api
  }

  # Where the functions connect: the proxy when there is one, the instance otherwise.
  db_host = var.enable_rds_proxy ? aws_db_proxy.main[0].endpoint : aws_db_instance.main.address

  # The environment every function gets: where the database is and which secret holds its
  # credentials (never the password itself), how to verify its certificate, where metrics go.
  lambda_environment = {
    DB_SECRET_ARN     = aws_db_instance.main.master_user_secret[0].secret_arn
    DB_HOST           = local.db_host
    DB_PORT           = "5432"
    DB_NAME           = var.db_name
    DB_TLS            = "verify-full"
    DB_TLS_CA_FILE    = "/var/task/rds-ca-bundle.pem"
    DB_POOL_SIZE      = tostring(var.db_pool_size)
    METRICS_SINK      = "cloudwatch"
    METRICS_NAMESPACE = var.metrics_namespace
    LOG_FORMAT        = "json"
    RUST_LOG          = var.rust_log
  }

  # What one function gets on top of the common environment.
  function_environment = {
    collector = {}
    detector  = {}
    api = {
      API_KEY_SECRET_ARN = aws_secretsmanager_secret.api_key.arn
    }
  }

  # The secrets each function may read, and nothing else.
  function_secrets = {
    collector = [aws_db_instance.main.master_user_secret[0].secret_arn]
    detector  = [aws_db_instance.main.master_user_secret[0].secret_arn]
    api       = [aws_db_instance.main.master_user_secret[0].secret_arn, aws_secretsmanager_secret.api_key.arn]
  }
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:Only the first az_count zones (sorted by name) are used; a zone AWS adds later does not move the subnets.
  state = "available"
}
