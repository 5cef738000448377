# `terraform test` with mocked providers: plans the stack in its main shapes without AWS
# credentials or network (but `terraform init` must be able to install the providers).
# Run by `TICKWATCH_TF_VALIDATE=1 scripts/check-terraform.sh`.

mock_provider "aws" {
  # Mocked values are known while planning, so the assertions can read them.
  override_during = plan

  mock_data "aws_availability_zones" {
    defaults = { names = ["us-east-1a", "us-east-1b", "us-east-1c"] }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{}" }
  }
  mock_resource "aws_apigatewayv2_api" {
    defaults = {
      id            = "a1b2c3d4e5"
      execution_arn = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5"
    }
  }
  mock_resource "aws_db_instance" {
    defaults = {
      address = "tickwatch-dev.abc.us-east-1.rds.amazonaws.com"
      master_user_secret = [{
        secret_arn    = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds-db-abc"
        kms_key_id    = "arn:aws:kms:us-east-1:123456789012:key/abc"
        secret_status = "active"
      }]
    }
  }
}

mock_provider "random" {}

variables {
  lambda_zip_dir = "tests/fixtures/lambda"
}

run "the_default_stack_plans_seven_functions_and_only_the_migrator_reads_the_rds_secret" {
  command = plan

  assert {
    condition     = length(aws_lambda_function.function) == 7
    error_message = "expected the collector, planner, writer, detector, api, migrator and notifier functions"
  }
  assert {
    condition     = length(aws_lambda_function.function["notifier"].vpc_config) == 0 && length(aws_lambda_function_event_invoke_config.schedule["detector"].destination_config) == 1 && length(aws_lambda_function_event_invoke_config.schedule["collector"].destination_config) == 0
    error_message = "the notifier runs outside the VPC and is the detector's (only the detector's) on-success destination"
  }
  assert {
    condition     = aws_lambda_function.function["migrator"].environment[0].variables["DB_SECRET_ARN"] == "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds-db-abc"
    error_message = "the migrator reads the secret RDS manages"
  }
  assert {
    condition     = length(aws_lambda_function.function["collector"].vpc_config) == 0 && length(aws_lambda_function.function["api"].vpc_config) == 1
    error_message = "the collector runs outside the VPC, the api inside"
  }
  assert {
    condition     = alltrue([for f in aws_lambda_function.function : f.architectures == tolist(["arm64"])])
    error_message = "arm64 is the default architecture"
  }
  assert {
    condition     = length(aws_db_proxy.main) == 0 && length(aws_vpc_endpoint.interface) == 0
    error_message = "no proxy and no interface endpoint by default"
  }
  assert {
    condition     = aws_db_instance.main.deletion_protection && aws_db_instance.main.storage_encrypted && !aws_db_instance.main.publicly_accessible
    error_message = "the database is protected, encrypted and private"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.data_age.namespace == "Tickwatch" && aws_cloudwatch_metric_alarm.data_age.metric_name == "DataAgeSeconds" && aws_cloudwatch_metric_alarm.data_age.dimensions == tomap({ Function = "planner" })
    error_message = "the freshness alarm reads DataAgeSeconds{Function=planner} in the pipeline's namespace"
  }
  assert {
    condition     = length(jsondecode(aws_cloudwatch_dashboard.main.dashboard_body).widgets) == 11
    error_message = "the dashboard has its nine metric and two log widgets"
  }
}

run "x86_64_with_a_proxy_and_an_endpoint_plans_too" {
  command = plan

  variables {
    lambda_architecture        = "x86_64"
    enable_rds_proxy           = true
    enable_interface_endpoints = true
  }

  assert {
    condition     = length(aws_db_proxy.main) == 1 && length(aws_vpc_endpoint.interface) == 1
    error_message = "the proxy and the Secrets Manager endpoint are created"
  }
  assert {
    condition     = alltrue([for f in aws_lambda_function.function : f.architectures == tolist(["x86_64"])])
    error_message = "the architecture variable reaches every function"
  }
}

run "a_missing_zip_stops_the_plan" {
  command = plan

  variables {
    lambda_zip_dir = "tests/fixtures/nowhere"
  }

  expect_failures = [aws_lambda_function.function]
}
