# Secrets and the key that encrypts them.
#
# The database's master credentials are generated and rotated by RDS itself
# (`manage_master_user_password` in database.tf); the functions only get that secret's ARN.
# The API's write key is generated here without ever reaching the Terraform state (an
# ephemeral password written through a write-only attribute); read it with
# `aws secretsmanager get-secret-value --secret-id <api_key_secret_arn>`.

# One customer-managed key for the stack: secrets, logs, queue, topic, database storage and
# the functions' environment. One key costs 1 USD a month; its policy names each AWS service
# that may use it.
resource "aws_kms_key" "main" {
  description             = "${local.name}: secrets, logs, queues and database storage"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
}

resource "aws_kms_alias" "main" {
  name          = "alias/${local.name}"
  target_key_id = aws_kms_key.main.key_id
}

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_109:A key policy's resource is always the key itself ("*"); access is limited by the principals.
  #checkov:skip=CKV_AWS_111:A key policy's resource is always the key itself ("*"); access is limited by the principals.
  #checkov:skip=CKV_AWS_356:A key policy's resource is always the key itself ("*"); access is limited by the principals.
  statement {
    sid       = "AccountAdministersTheKeyThroughIam"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid = "CloudWatchLogsEncryptsThisStacksLogGroups"
    actions = [
      "kms:Encrypt*",
      "kms:Decrypt*",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:Describe*",
    ]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:*"]
    }
  }

  statement {
    sid       = "AlarmsPublishToTheEncryptedTopic"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
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
    sid       = "BudgetsPublishToTheEncryptedTopic"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
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

  statement {
    sid       = "EventBridgeSendsToTheEncryptedDeadLetterQueue"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# The bearer key every write to the API must present (compared in constant time by the api).
resource "aws_secretsmanager_secret" "api_key" {
  #checkov:skip=CKV2_AWS_57:A static bearer key for API writes; rotate it by bumping api_key_version (no rotation Lambda to run).
  name                    = "${local.name}/api-key"
  description             = "Bearer key for writes to the ${local.name} API"
  kms_key_id              = aws_kms_key.main.arn
  recovery_window_in_days = 7
}

ephemeral "random_password" "api_key" {
  length  = 48
  special = false
}

resource "aws_secretsmanager_secret_version" "api_key" {
  secret_id                = aws_secretsmanager_secret.api_key.id
  secret_string_wo         = ephemeral.random_password.api_key.result
  secret_string_wo_version = var.api_key_version
}

# The price sources' API keys (Alpha Vantage's is required for stock symbols, CoinGecko's is
# optional). Only the secrets are created here; their values are set outside Terraform, so
# they never enter the state:
#   aws secretsmanager put-secret-value --secret-id <alphavantage_key_secret_arn> --secret-string <key>
# The collector reads them at cold start; until a value is set, its cold start stops with
# a line naming the variable (Alpha Vantage), so set both right after the first apply.
resource "aws_secretsmanager_secret" "source_key" {
  for_each = toset(["alphavantage", "coingecko"])
  #checkov:skip=CKV2_AWS_57:A provider's API key is rotated at the provider; put the new value with put-secret-value.

  name                    = "${local.name}/${each.key}-key"
  description             = "${each.key} API key for the ${local.name} collector (value set outside Terraform)"
  kms_key_id              = aws_kms_key.main.arn
  recovery_window_in_days = 7
}
