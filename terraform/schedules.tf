# EventBridge runs the collector and the detector on schedules. Both are idempotent (upserts,
# watermarks, gap repair), so a retried run is safe. A scheduled event that cannot be
# delivered, or whose invocation still fails after Lambda's retries, lands in the one
# dead-letter queue (which the candle queue's redrive uses too); the "dead letters" alarm
# fires on its first message.

resource "aws_sqs_queue" "dead_letter" {
  name                              = "${local.name}-dead-letter"
  message_retention_seconds         = 1209600 # 14 days, SQS's maximum: time to look at it
  kms_master_key_id                 = aws_kms_key.main.arn
  kms_data_key_reuse_period_seconds = 3600
}

# EventBridge may send only the failed events of this stack's rules; the functions' own
# asynchronous failures are sent with their roles (iam.tf); the candle queue redrives with
# SQS's own rights.
resource "aws_sqs_queue_policy" "dead_letter" {
  queue_url = aws_sqs_queue.dead_letter.id
  policy    = data.aws_iam_policy_document.dead_letter.json
}

data "aws_iam_policy_document" "dead_letter" {
  statement {
    sid       = "ScheduleRulesSendFailedEvents"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dead_letter.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [for rule in aws_cloudwatch_event_rule.schedule : rule.arn]
    }
  }
}

resource "aws_cloudwatch_event_rule" "schedule" {
  for_each = local.scheduled_functions

  name                = "${local.name}-${each.key}"
  description         = "Runs the ${each.key} on its schedule"
  schedule_expression = each.value
}

resource "aws_cloudwatch_event_target" "schedule" {
  for_each = local.scheduled_functions

  rule      = aws_cloudwatch_event_rule.schedule[each.key].name
  target_id = each.key
  arn       = aws_lambda_function.function[each.key].arn

  retry_policy {
    maximum_retry_attempts       = var.schedule_max_retries
    maximum_event_age_in_seconds = var.schedule_max_event_age_seconds
  }

  dead_letter_config {
    arn = aws_sqs_queue.dead_letter.arn
  }
}

resource "aws_lambda_permission" "schedule" {
  for_each = local.scheduled_functions

  statement_id  = "AllowEventBridgeSchedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.function[each.key].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.schedule[each.key].arn
}

# Lambda's own retries of a failed asynchronous invocation; what still fails goes to the
# function's dead_letter_config (the same queue). A detector run that succeeds hands its
# result (with the data events that are due) to the notifier (notify.tf).
resource "aws_lambda_function_event_invoke_config" "schedule" {
  for_each = local.scheduled_functions

  function_name                = aws_lambda_function.function[each.key].function_name
  maximum_retry_attempts       = var.schedule_max_retries
  maximum_event_age_in_seconds = var.schedule_max_event_age_seconds

  dynamic "destination_config" {
    for_each = each.key == "detector" ? [aws_lambda_function.function["notifier"].arn] : []
    content {
      on_success {
        destination = destination_config.value
      }
    }
  }
}
