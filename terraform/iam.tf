# One role per function, each allowed only what that function does. Plus the service roles of
# RDS Enhanced Monitoring, RDS Proxy and the VPC flow logs.
#
#   collector  its secrets (write key, source keys); invoke the planner; send to the candle
#              queue; PutMetricData into the pipeline's namespace; the dead-letter queue
#   planner    log in to the database as tickwatch_reader (IAM token)
#   writer     log in as tickwatch_writer; consume the candle queue
#   detector   log in as tickwatch_detector; the dead-letter queue
#   api        log in as tickwatch_api
#   migrator   read the secret RDS manages for the master user
#   notifier   put events on the data bus; publish to the alerts topic; the dead-letter queue
#   (detector) also invoke the notifier: the Lambda service delivers its on-success
#              destination with the detector's role

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "function" {
  for_each = local.functions

  name               = "${local.name}-${each.key}"
  description        = "Execution role of the ${each.key} function"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

# Logs, plus ENIs for the functions in the VPC: AWS's managed policies for exactly that.
resource "aws_iam_role_policy_attachment" "function_logs" {
  for_each = local.functions

  role       = aws_iam_role.function[each.key].name
  policy_arn = contains(tolist(local.vpc_functions), each.key) ? "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole" : "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
}

resource "aws_iam_role_policy" "function" {
  for_each = local.functions

  name   = "${local.name}-${each.key}"
  role   = aws_iam_role.function[each.key].id
  policy = data.aws_iam_policy_document.function[each.key].json
}

data "aws_iam_policy_document" "function" {
  for_each = local.functions

  statement {
    sid       = "WriteTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }

  # The stack's key, only through the services that use it on the function's behalf.
  statement {
    sid       = "UseStackKeyThroughItsServices"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.main.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values = [
        "secretsmanager.${var.region}.amazonaws.com",
        "sqs.${var.region}.amazonaws.com",
        "lambda.${var.region}.amazonaws.com",
        "sns.${var.region}.amazonaws.com",
      ]
    }
  }

  dynamic "statement" {
    for_each = length(local.function_secrets[each.key]) > 0 ? [local.function_secrets[each.key]] : []
    content {
      sid       = "ReadOwnSecrets"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = statement.value
    }
  }

  dynamic "statement" {
    for_each = contains(keys(local.db_users), each.key) ? [local.db_users[each.key]] : []
    content {
      sid       = "LogInToTheDatabaseAsOwnRole"
      actions   = ["rds-db:connect"]
      resources = ["arn:${local.partition}:rds-db:${var.region}:${local.account_id}:dbuser:${var.enable_rds_proxy ? aws_db_proxy.main[0].id : aws_db_instance.main.resource_id}/${statement.value}"]
    }
  }

  dynamic "statement" {
    for_each = each.key == "collector" ? [1] : []
    content {
      sid       = "AskThePlanner"
      actions   = ["lambda:InvokeFunction"]
      resources = ["arn:${local.partition}:lambda:${var.region}:${local.account_id}:function:${local.name}-planner"]
    }
  }

  dynamic "statement" {
    for_each = each.key == "collector" ? [1] : []
    content {
      sid       = "QueueCandles"
      actions   = ["sqs:SendMessage"]
      resources = [aws_sqs_queue.candles.arn]
    }
  }

  # PutMetricData has no resource-level permissions: the namespace condition is the limit.
  # Only the collector calls it; the in-VPC functions write EMF lines to their logs.
  dynamic "statement" {
    for_each = each.key == "collector" ? [1] : []
    content {
      sid       = "PublishMetricsToOwnNamespace"
      actions   = ["cloudwatch:PutMetricData"]
      resources = ["*"]
      condition {
        test     = "StringEquals"
        variable = "cloudwatch:namespace"
        values   = [var.metrics_namespace]
      }
    }
  }

  dynamic "statement" {
    for_each = each.key == "writer" ? [1] : []
    content {
      sid       = "ConsumeCandles"
      actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
      resources = [aws_sqs_queue.candles.arn]
    }
  }

  dynamic "statement" {
    for_each = each.key == "detector" ? [aws_lambda_function.function["notifier"].arn] : []
    content {
      sid       = "HandResultsToTheNotifier"
      actions   = ["lambda:InvokeFunction"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = each.key == "notifier" ? [1] : []
    content {
      sid       = "PutDataEvents"
      actions   = ["events:PutEvents"]
      resources = [aws_cloudwatch_event_bus.data.arn]
    }
  }

  dynamic "statement" {
    for_each = each.key == "notifier" ? [1] : []
    content {
      sid       = "PublishAlerts"
      actions   = ["sns:Publish"]
      resources = [aws_sns_topic.alerts.arn]
    }
  }

  dynamic "statement" {
    for_each = contains(concat(keys(local.scheduled_functions), ["notifier"]), each.key) ? [aws_sqs_queue.dead_letter.arn] : []
    content {
      sid       = "SendFailedEventsToDeadLetterQueue"
      actions   = ["sqs:SendMessage"]
      resources = [statement.value]
    }
  }
}

# ---------------------------------------------------------------------------------------------
# RDS Enhanced Monitoring
# ---------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "rds_monitoring_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "rds_monitoring" {
  name               = "${local.name}-rds-monitoring"
  description        = "RDS Enhanced Monitoring for ${local.name}"
  assume_role_policy = data.aws_iam_policy_document.rds_monitoring_assume.json
}

resource "aws_iam_role_policy_attachment" "rds_monitoring" {
  role       = aws_iam_role.rds_monitoring.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}
# ---------------------------------------------------------------------------------------------
# RDS Proxy: reads the RDS-managed secret.
# ---------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "rds_proxy_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "rds_proxy" {
  count = var.enable_rds_proxy ? 1 : 0

  name               = "${local.name}-rds-proxy"
  description        = "RDS Proxy for ${local.name}: reads the database secret"
  assume_role_policy = data.aws_iam_policy_document.rds_proxy_assume.json
}

data "aws_iam_policy_document" "rds_proxy" {
  statement {
    sid       = "ReadDatabaseSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_db_instance.main.master_user_secret[0].secret_arn]
  }

  statement {
    sid       = "DecryptDatabaseSecret"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.main.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${var.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "rds_proxy" {
  count = var.enable_rds_proxy ? 1 : 0

  name   = "${local.name}-rds-proxy"
  role   = aws_iam_role.rds_proxy[0].id
  policy = data.aws_iam_policy_document.rds_proxy.json
}

# ---------------------------------------------------------------------------------------------
# VPC flow logs
# ---------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "flow_logs_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["vpc-flow-logs.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "flow_logs" {
  name               = "${local.name}-flow-logs"
  description        = "VPC flow logs for ${local.name}"
  assume_role_policy = data.aws_iam_policy_document.flow_logs_assume.json
}

data "aws_iam_policy_document" "flow_logs" {
  statement {
    sid = "WriteFlowLogs"
    actions = [
      "logs:CreateLogStream",
      "logs:PutLogEvents",
      "logs:DescribeLogGroups",
      "logs:DescribeLogStreams",
    ]
    resources = [aws_cloudwatch_log_group.flow_logs.arn, "${aws_cloudwatch_log_group.flow_logs.arn}:*"]
  }
}

resource "aws_iam_role_policy" "flow_logs" {
  name   = "${local.name}-flow-logs"
  role   = aws_iam_role.flow_logs.id
  policy = data.aws_iam_policy_document.flow_logs.json
}
