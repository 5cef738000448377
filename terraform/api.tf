# API Gateway HTTP API (payload format 2.0). Reads go to the api function inside the VPC, whose
# router answers 404 for unknown paths. Writes (PUT, POST, DELETE) go there too, but only past
# a Lambda authorizer — the collector function, outside the VPC, which holds the write key:
# the api cannot read a secret (it has no way out of the VPC) and trusts the authorizer's
# write_key flag. POST /v1/collect/{symbol} goes to the collector itself, the function that
# reaches the price sources. The stage throttles and writes one JSON access-log line per
# request.

resource "aws_apigatewayv2_api" "main" {
  name          = local.name
  protocol_type = "HTTP"
  description   = "tickwatch prices and anomalies"

  dynamic "cors_configuration" {
    for_each = length(var.api_cors_allow_origins) > 0 ? [var.api_cors_allow_origins] : []
    content {
      allow_origins = cors_configuration.value
      allow_methods = ["GET", "PUT", "POST", "DELETE", "OPTIONS"]
      allow_headers = ["authorization", "content-type"]
      max_age       = 3600
    }
  }
}

resource "aws_apigatewayv2_integration" "api" {
  api_id                 = aws_apigatewayv2_api.main.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.function["api"].invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = 29000
}

resource "aws_apigatewayv2_route" "default" {
  #checkov:skip=CKV_AWS_309:Reads are public by design; every write method has its own route below behind the authorizer.
  api_id    = aws_apigatewayv2_api.main.id
  route_key = "$default"
  target    = "integrations/${aws_apigatewayv2_integration.api.id}"
}

resource "aws_apigatewayv2_authorizer" "write_key" {
  api_id                            = aws_apigatewayv2_api.main.id
  name                              = "write-key"
  authorizer_type                   = "REQUEST"
  authorizer_uri                    = aws_lambda_function.function["collector"].invoke_arn
  authorizer_payload_format_version = "2.0"
  enable_simple_responses           = true
  identity_sources                  = ["$request.header.Authorization"]
  authorizer_result_ttl_in_seconds  = 300
}

resource "aws_apigatewayv2_route" "writes" {
  for_each = toset(["PUT /{proxy+}", "POST /{proxy+}", "DELETE /{proxy+}"])

  api_id             = aws_apigatewayv2_api.main.id
  route_key          = each.key
  target             = "integrations/${aws_apigatewayv2_integration.api.id}"
  authorization_type = "CUSTOM"
  authorizer_id      = aws_apigatewayv2_authorizer.write_key.id
}

resource "aws_apigatewayv2_integration" "collect" {
  api_id                 = aws_apigatewayv2_api.main.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.function["collector"].invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = 29000
}

resource "aws_apigatewayv2_route" "collect" {
  api_id             = aws_apigatewayv2_api.main.id
  route_key          = "POST /v1/collect/{symbol}"
  target             = "integrations/${aws_apigatewayv2_integration.collect.id}"
  authorization_type = "CUSTOM"
  authorizer_id      = aws_apigatewayv2_authorizer.write_key.id
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.main.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_rate_limit  = var.api_throttle_rate
    throttling_burst_limit = var.api_throttle_burst
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api_access.arn
    format = jsonencode({
      requestId      = "$context.requestId"
      ip             = "$context.identity.sourceIp"
      requestTime    = "$context.requestTime"
      httpMethod     = "$context.httpMethod"
      path           = "$context.path"
      routeKey       = "$context.routeKey"
      status         = "$context.status"
      protocol       = "$context.protocol"
      responseLength = "$context.responseLength"
      latencyMs      = "$context.responseLatency"
      integrationMs  = "$context.integrationLatency"
      errorMessage   = "$context.error.message"
      integrationErr = "$context.integrationErrorMessage"
      userAgent      = "$context.identity.userAgent"
    })
  }
}

resource "aws_cloudwatch_log_group" "api_access" {
  #checkov:skip=CKV_AWS_338:Retention is the log_retention_days variable (30 days by default).
  name              = "/aws/apigateway/${local.name}/access"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

resource "aws_lambda_permission" "api" {
  for_each = toset(["api", "collector"])

  statement_id  = "AllowApiGateway"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.function[each.key].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.main.execution_arn}/*"
}
