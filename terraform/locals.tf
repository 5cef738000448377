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

  # Every crate under functions/; `make build` writes target/lambda/<name>/bootstrap.zip.
  functions = toset(["collector", "planner", "writer", "detector", "api", "migrator", "notifier"])
  # Inside the VPC: everything that talks to the database. The collector and the notifier stay
  # outside, where the internet is free, and hold no database credentials.
  vpc_functions = setsubtract(local.functions, ["collector", "notifier"])
  # The functions EventBridge invokes on a schedule (asynchronously, with retries and a DLQ).
  scheduled_functions = {
    collector = var.collector_schedule
    detector  = var.detector_schedule
  }
  # The database role each in-VPC function logs in as with an IAM token (db::roles). The
  # migrator logs in as the master user with the secret RDS manages.
  db_users = {
    planner  = "tickwatch_reader"
    writer   = "tickwatch_writer"
    api      = "tickwatch_api"
    detector = "tickwatch_detector"
  }

  lambda_zip_dir = startswith(var.lambda_zip_dir, "/") ? var.lambda_zip_dir : "${path.module}/${var.lambda_zip_dir}"

  function_settings = {
    collector = var.function_settings.collector
    planner   = var.function_settings.planner
    writer    = var.function_settings.writer
    detector  = var.function_settings.detector
    api       = var.function_settings.api
    migrator  = var.function_settings.migrator
    notifier  = var.function_settings.notifier
  }

  # Where the functions connect: the proxy when there is one, the instance otherwise.
  db_host = var.enable_rds_proxy ? aws_db_proxy.main[0].endpoint : aws_db_instance.main.address

  # What every function gets: logs. Metrics (METRICS_NAMESPACE) go to every function but the
  # notifier, which has none: the in-VPC functions write them as EMF lines (no network path
  # needed); the collector calls PutMetricData over its free internet.
  lambda_environment = {
    LOG_FORMAT = "json"
    RUST_LOG   = var.rust_log
  }

  # What the database functions get: where it is and how to verify its certificate. Never a
  # password: IAM tokens, or (the migrator) the ARN of the secret RDS manages.
  database_environment = {
    DB_HOST           = local.db_host
    DB_PORT           = "5432"
    DB_NAME           = var.db_name
    DB_TLS            = "verify-full"
    DB_TLS_CA_FILE    = "/var/task/rds-ca-bundle.pem"
    DB_POOL_SIZE      = tostring(var.db_pool_size)
    DB_MIGRATE        = "false"
    METRICS_SINK      = "emf"
    METRICS_NAMESPACE = var.metrics_namespace
  }

  # What one function gets on top of the common environment.
  function_environment = {
    collector = {
      METRICS_SINK            = "cloudwatch"
      METRICS_NAMESPACE       = var.metrics_namespace
      PLANNER_FUNCTION        = "${local.name}-planner"
      CANDLE_QUEUE_URL        = aws_sqs_queue.candles.url
      API_KEY_SECRET_ARN      = aws_secretsmanager_secret.api_key.arn
      ALPHAVANTAGE_SECRET_ARN = aws_secretsmanager_secret.source_key["alphavantage"].arn
      COINGECKO_SECRET_ARN    = aws_secretsmanager_secret.source_key["coingecko"].arn
    }
    planner  = merge(local.database_environment, { DB_IAM_AUTH = "true", DB_USER = local.db_users.planner })
    writer   = merge(local.database_environment, { DB_IAM_AUTH = "true", DB_USER = local.db_users.writer })
    detector = merge(local.database_environment, { DB_IAM_AUTH = "true", DB_USER = local.db_users.detector })
    api = merge(local.database_environment, {
      DB_IAM_AUTH          = "true"
      DB_USER              = local.db_users.api
      API_WRITE_AUTHORIZER = "gateway"
    })
    migrator = merge(local.database_environment, {
      DB_SECRET_ARN = aws_db_instance.main.master_user_secret[0].secret_arn
      # Secrets Manager's endpoint is dual-stack: the migrator reaches it over IPv6.
      AWS_USE_DUALSTACK_ENDPOINT = "true"
    })
    # The detector's on-success destination (notify.tf): data events to the bus, alerts to the
    # topic and the webhook. No metrics of its own: its errors alarm like the others'.
    notifier = {
      EVENT_BUS_NAME      = aws_cloudwatch_event_bus.data.name
      ALERT_TOPIC_ARN     = aws_sns_topic.alerts.arn
      ALERT_MIN_SEVERITY  = var.alert_min_severity
      ALERT_MAX_AGE_HOURS = tostring(var.alert_max_age_hours)
      ALERT_WEBHOOK_URL   = var.alert_webhook_url
      CHART_BASE_URL      = aws_apigatewayv2_api.main.api_endpoint
    }
  }

  # The secrets each function may read, and nothing else. The api and the in-VPC workers
  # read none: they could not reach Secrets Manager anyway.
  function_secrets = {
    collector = concat([aws_secretsmanager_secret.api_key.arn], [for s in aws_secretsmanager_secret.source_key : s.arn])
    planner   = []
    writer    = []
    detector  = []
    api       = []
    migrator  = [aws_db_instance.main.master_user_secret[0].secret_arn]
    notifier  = []
  }
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:Only the first az_count zones (sorted by name) are used; a zone AWS adds later does not move the subnets.
  state = "available"
}
