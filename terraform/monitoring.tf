# Alarms to one SNS topic (with an optional e-mail subscription), a dashboard, and an AWS
# Budgets alarm at the stack's monthly figure.
#
# Custom metrics cost 0.30 USD each a month, so there are only the ones the alarms and the
# dashboard read, listed once in local.custom_metrics (tests check that the code emits each
# with exactly these dimensions). Finer detail — per source, per rejection reason, latencies —
# is in the functions' JSON log lines, where the dashboard's log widgets query it.

locals {
  alarm_actions = [aws_sns_topic.alarms.arn]
  ns            = var.metrics_namespace
  api_id        = aws_apigatewayv2_api.main.id

  # Every custom metric: name => its dimensions. The collector publishes with PutMetricData;
  # the planner, writer and detector write EMF lines.
  custom_metrics = {
    DataAgeSeconds = { Function = "planner" }
    MissingCandles = { Function = "planner" }
    LostCandles    = { Function = "planner" }
    CandlesStored  = { Function = "writer" }
    SourceErrors   = { Function = "collector" }
    CandlesScanned = { Function = "detector" }
    AnomaliesFound = { Function = "detector" }
  }
  # A custom metric in the dashboard's array form: [namespace, name, dim, value, ...].
  custom_metric = { for name, dims in local.custom_metrics : name => concat([local.ns, name], flatten([for k, v in dims : [k, v]])) }

  # The functions whose failures page somebody: the scheduled ones and the writer.
  alarmed_functions = toset(["collector", "detector", "writer", "notifier"])
}

resource "aws_sns_topic" "alarms" {
  name              = "${local.name}-alarms"
  kms_master_key_id = aws_kms_key.main.arn
}

resource "aws_sns_topic_subscription" "alarm_email" {
  count = var.alarm_email == "" ? 0 : 1

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

# AWS Budgets may publish its notifications to the topic.
resource "aws_sns_topic_policy" "alarms" {
  arn    = aws_sns_topic.alarms.arn
  policy = data.aws_iam_policy_document.alarm_topic.json
}

data "aws_iam_policy_document" "alarm_topic" {
  statement {
    sid       = "CloudWatchAlarmsPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "BudgetsPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]
    principals {
      type        = "Service"
      identifiers = ["budgets.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# The month's cost of the account (give the stack an account of its own, or read the figure as
# an upper bound): forecast to pass the stated figure, or actually past it.
resource "aws_budgets_budget" "monthly" {
  name         = "${local.name}-monthly"
  budget_type  = "COST"
  limit_amount = tostring(var.monthly_budget_usd)
  limit_unit   = "USD"
  time_unit    = "MONTHLY"

  notification {
    comparison_operator       = "GREATER_THAN"
    threshold                 = 100
    threshold_type            = "PERCENTAGE"
    notification_type         = "FORECASTED"
    subscriber_sns_topic_arns = [aws_sns_topic.alarms.arn]
  }

  notification {
    comparison_operator       = "GREATER_THAN"
    threshold                 = 100
    threshold_type            = "PERCENTAGE"
    notification_type         = "ACTUAL"
    subscriber_sns_topic_arns = [aws_sns_topic.alarms.arn]
  }
}

# A function that fails in two of the last three 5-minute periods: one failure that its retry
# repaired does not page anybody.
resource "aws_cloudwatch_metric_alarm" "function_errors" {
  for_each = local.alarmed_functions

  alarm_name          = "${local.name}-${each.key}-errors"
  alarm_description   = "The ${each.key} function failed in 2 of the last 3 five-minute periods; see its log group /aws/lambda/${local.name}-${each.key}."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.function[each.key].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  alarm_name          = "${local.name}-dead-letters"
  alarm_description   = "A scheduled run or a candle batch was given up after its retries and sits in ${aws_sqs_queue.dead_letter.name}."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dead_letter.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# Freshness: the planner reports how old the stalest series is on every run. No data at all
# means collection is not running or not reporting, which is just as stale.
resource "aws_cloudwatch_metric_alarm" "data_age" {
  alarm_name          = "${local.name}-data-stale"
  alarm_description   = "The newest candle of some watched symbol is older than ${var.max_data_age_seconds} s, or the planner has stopped reporting."
  namespace           = local.ns
  metric_name         = "DataAgeSeconds"
  dimensions          = local.custom_metrics["DataAgeSeconds"]
  statistic           = "Maximum"
  period              = 900
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.max_data_age_seconds
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# One alarm metric (0.10 USD), not a ratio of two: 5xx answers in 2 of 3 five-minute periods.
resource "aws_cloudwatch_metric_alarm" "api_5xx" {
  alarm_name          = "${local.name}-api-5xx"
  alarm_description   = "The API answered more than ${var.api_5xx_per_5_minutes} 5xx responses in 2 of the last 3 five-minute periods."
  namespace           = "AWS/ApiGateway"
  metric_name         = "5xx"
  dimensions          = { ApiId = local.api_id }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.api_5xx_per_5_minutes
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "api_latency_p99" {
  alarm_name          = "${local.name}-api-latency-p99"
  alarm_description   = "The API's p99 latency was above ${var.api_p99_latency_ms} ms in 2 of the last 3 five-minute periods."
  namespace           = "AWS/ApiGateway"
  metric_name         = "Latency"
  dimensions          = { ApiId = local.api_id }
  extended_statistic  = "p99"
  period              = 300
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.api_p99_latency_ms
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# ---------------------------------------------------------------------------------------------
# Dashboard (one: the first three are free)
# ---------------------------------------------------------------------------------------------

locals {
  function_log_groups = join(" | ", [for f in sort(tolist(local.functions)) : "SOURCE '/aws/lambda/${local.name}-${f}'"])

  dashboard_widgets = [
    for i, w in [
      {
        title   = "Candles stored (writer)", stat = "Sum"
        metrics = [local.custom_metric["CandlesStored"]]
      },
      {
        title   = "Data age, stalest symbol (s)", stat = "Maximum"
        metrics = [local.custom_metric["DataAgeSeconds"]]
      },
      {
        title   = "Gap repair: missing and lost candles", stat = "Maximum"
        metrics = [local.custom_metric["MissingCandles"], local.custom_metric["LostCandles"]]
      },
      {
        title   = "Source errors (collector)", stat = "Sum"
        metrics = [local.custom_metric["SourceErrors"]]
      },
      {
        title = "Detector: candles scanned, anomalies found", stat = "Sum"
        metrics = [
          local.custom_metric["CandlesScanned"],
          concat(local.custom_metric["AnomaliesFound"], [{ yAxis = "right" }]),
        ]
      },
      {
        title   = "Function errors", stat = "Sum"
        metrics = [for f in sort(tolist(local.functions)) : ["AWS/Lambda", "Errors", "FunctionName", "${local.name}-${f}"]]
      },
      {
        title   = "Function duration p99 (ms)", stat = "p99"
        metrics = [for f in sort(tolist(local.functions)) : ["AWS/Lambda", "Duration", "FunctionName", "${local.name}-${f}"]]
      },
      {
        title = "API requests and 5xx", stat = "Sum"
        metrics = [
          ["AWS/ApiGateway", "Count", "ApiId", local.api_id],
          ["AWS/ApiGateway", "5xx", "ApiId", local.api_id, { yAxis = "right" }],
        ]
      },
      {
        title = "Queues: candles waiting, dead letters", stat = "Maximum"
        metrics = [
          ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.candles.name],
          ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.dead_letter.name, { yAxis = "right" }],
        ]
      },
      ] : {
      type   = "metric"
      x      = (i % 3) * 8
      y      = floor(i / 3) * 6
      width  = 8
      height = 6
      properties = {
        title   = w.title
        region  = var.region
        stat    = w.stat
        period  = 300
        view    = "timeSeries"
        metrics = w.metrics
      }
    }
  ]

  # The detail that is no metric, from the log lines (Logs Insights, paid per GB scanned
  # when the dashboard is opened: a few cents a month at this volume).
  log_widgets = [
    {
      type = "log", x = 0, y = 18, width = 12, height = 6
      properties = {
        title  = "Rejected candles by reason and source errors by source (logs)"
        region = var.region
        view   = "table"
        query  = "${local.function_log_groups} | filter message = 'candle rejected' or message = 'symbol failed' | stats count(*) by reason, source, code | sort count(*) desc"
      }
    },
    {
      type = "log", x = 12, y = 18, width = 12, height = 6
      properties = {
        title  = "Source latency by source (logs)"
        region = var.region
        view   = "table"
        query  = "SOURCE '/aws/lambda/${local.name}-collector' | filter message = 'source call' | stats pct(latency_ms, 90) as p90_ms, count(*) as calls by source"
      }
    },
  ]
}

resource "aws_cloudwatch_dashboard" "main" {
  dashboard_name = local.name
  dashboard_body = jsonencode({ widgets = concat(local.dashboard_widgets, local.log_widgets) })
}
