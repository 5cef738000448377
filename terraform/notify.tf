# Alerts and data events. The detector runs in the VPC with no way out, so it sends nothing
# itself: its result carries the data events that are due, and the Lambda service delivers
# that result to the notifier (the detector's on-success destination), which runs outside the
# VPC and puts the events on the bus, publishes the alerts to the topic and posts them to the
# webhook with retries. Nothing here needs a NAT gateway or an interface endpoint.

resource "aws_cloudwatch_event_bus" "data" {
  name = "${local.name}-data"
}

resource "aws_sns_topic" "alerts" {
  name              = "${local.name}-alerts"
  kms_master_key_id = aws_kms_key.main.arn
}

resource "aws_sns_topic_subscription" "alert_email" {
  count = var.alert_email == "" ? 0 : 1

  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = var.alert_email
}

# The notifier is invoked asynchronously (by the destination). A delivery that fails inside
# it is logged, not retried by failing (that would send the delivered alerts twice); an
# invocation that crashes is retried once, then goes to the dead-letter queue, whose alarm
# fires.
resource "aws_lambda_function_event_invoke_config" "notifier" {
  function_name                = aws_lambda_function.function["notifier"].function_name
  maximum_retry_attempts       = 1
  maximum_event_age_in_seconds = 3600

  destination_config {
    on_failure {
      destination = aws_sqs_queue.dead_letter.arn
    }
  }
}
