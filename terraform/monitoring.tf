# Alarms to one SNS topic (with an optional e-mail subscription) and a dashboard of the
# pipeline's own metrics.
#
# The functions publish into var.metrics_namespace, every datum with the dimension
# Function=<collector|detector|api>:
#   collector  CandlesStored (Count), CandlesRejected (Count, +Reason), SourceErrors (Count,
#              +Source), SourceLatency (Milliseconds, +Source), DataAgeSeconds (Seconds: age of
#              the newest candle of the stalest enabled symbol, once per run)
#   detector   SeriesScanned, CandlesScanned (Count), AnomaliesFound (Count, +Method)

locals {
  alarm_actions = [aws_sns_topic.alarms.arn]
  ns            = var.metrics_namespace
  api_id        = aws_apigatewayv2_api.main.id
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

# A scheduled function that fails in two of the last three 5-minute periods: one failure
# that its retry repaired does not page anybody.
resource "aws_cloudwatch_metric_alarm" "function_errors" {
  for_each = local.scheduled_functions

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
  alarm_description   = "A scheduled run was given up after its retries and sits in ${aws_sqs_queue.dead_letter.name}."
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

# Freshness: the collector reports how old the stalest series is after every run. No data
# at all means the collector is not running or not reporting, which is just as stale.
resource "aws_cloudwatch_metric_alarm" "data_age" {
  alarm_name          = "${local.name}-data-stale"
  alarm_description   = "The newest candle of some watched symbol is older than ${var.max_data_age_seconds} s, or the collector has stopped reporting."
  namespace           = local.ns
  metric_name         = "DataAgeSeconds"
  dimensions          = { Function = "collector" }
  statistic           = "Maximum"
  period              = 900
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.max_data_age_seconds
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "api_5xx_rate" {
  alarm_name          = "${local.name}-api-5xx-rate"
  alarm_description   = "More than ${var.api_5xx_rate_percent}% of API requests failed with a 5xx in 2 of the last 3 five-minute periods."
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.api_5xx_rate_percent
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "rate"
    label       = "5xx %"
    expression  = "IF(requests > 0, 100 * errors / requests, 0)"
    return_data = true
  }

  metric_query {
    id = "errors"
    metric {
      namespace   = "AWS/ApiGateway"
      metric_name = "5xx"
      dimensions  = { ApiId = local.api_id }
      stat        = "Sum"
      period      = 300
    }
  }

  metric_query {
    id = "requests"
    metric {
      namespace   = "AWS/ApiGateway"
      metric_name = "Count"
      dimensions  = { ApiId = local.api_id }
      stat        = "Sum"
      period      = 300
    }
  }
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
# Dashboard
# ---------------------------------------------------------------------------------------------

locals {
  # A metric widget; `metrics` is CloudWatch's array-of-arrays form.
  dashboard_widgets = [
    for i, w in [
      {
        title   = "Candles stored (collector)", stat = "Sum"
        metrics = [[local.ns, "CandlesStored", "Function", "collector"]]
      },
      {
        title   = "Candles rejected by reason", stat = "Sum"
        metrics = [[{ expression = "SEARCH('{${local.ns},Function,Reason} MetricName=\"CandlesRejected\"', 'Sum', 300)", id = "rejected" }]]
      },
      {
        title   = "Data age, stalest symbol (s)", stat = "Maximum"
        metrics = [[local.ns, "DataAgeSeconds", "Function", "collector", { label = "age" }]]
      },
      {
        title   = "Source errors by source", stat = "Sum"
        metrics = [[{ expression = "SEARCH('{${local.ns},Function,Source} MetricName=\"SourceErrors\"', 'Sum', 300)", id = "errors" }]]
      },
      {
        title   = "Source latency p90 by source (ms)", stat = "p90"
        metrics = [[{ expression = "SEARCH('{${local.ns},Function,Source} MetricName=\"SourceLatency\"', 'p90', 300)", id = "latency" }]]
      },
      {
        title = "Detector: series and candles scanned", stat = "Sum"
        metrics = [
          [local.ns, "SeriesScanned", "Function", "detector"],
          [local.ns, "CandlesScanned", "Function", "detector", { yAxis = "right" }],
        ]
      },
      {
        title   = "Anomalies found by method", stat = "Sum"
        metrics = [[{ expression = "SEARCH('{${local.ns},Function,Method} MetricName=\"AnomaliesFound\"', 'Sum', 300)", id = "anomalies" }]]
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
        title = "API latency p50 / p99 (ms)", stat = "p99"
        metrics = [
          ["AWS/ApiGateway", "Latency", "ApiId", local.api_id, { stat = "p50" }],
          ["AWS/ApiGateway", "Latency", "ApiId", local.api_id],
        ]
      },
      {
        title   = "Dead-letter queue depth", stat = "Maximum"
        metrics = [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.dead_letter.name]]
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
}

resource "aws_cloudwatch_dashboard" "main" {
  dashboard_name = local.name
  dashboard_body = jsonencode({ widgets = local.dashboard_widgets })
}
