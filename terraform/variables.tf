# ---------------------------------------------------------------------------------------------
# Where and what
# ---------------------------------------------------------------------------------------------

variable "region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "us-east-1"
}

variable "project" {
  description = "Project name; the first part of every resource name."
  type        = string
  default     = "tickwatch"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.project))
    error_message = "project must be 2-21 lower-case letters, digits or dashes, starting with a letter."
  }
}

variable "environment" {
  description = "Environment name (dev, prod, ...); the second part of every resource name."
  type        = string
  default     = "dev"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,11}$", var.environment))
    error_message = "environment must be 1-12 lower-case letters, digits or dashes, starting with a letter."
  }
}

variable "tags" {
  description = "Extra tags for every resource (Project, Environment and ManagedBy are always set)."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------------------------

variable "vpc_cidr" {
  description = "IPv4 CIDR block of the VPC; split into private (functions) and database subnets. The VPC also gets an Amazon-provided IPv6 block."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrnetmask(var.vpc_cidr)) && tonumber(split("/", var.vpc_cidr)[1]) <= 20
    error_message = "vpc_cidr must be a valid IPv4 CIDR block of /20 or larger."
  }
}

variable "az_count" {
  description = "Number of availability zones to spread subnets over (RDS needs at least 2)."
  type        = number
  default     = 2

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 4
    error_message = "az_count must be between 2 and 4."
  }
}

variable "enable_interface_endpoints" {
  description = "Create a Secrets Manager interface endpoint, so the migrator reads its secret over IPv4 inside the VPC instead of IPv6 through the egress-only gateway (7.30 USD per AZ per month)."
  type        = bool
  default     = false
}

variable "flow_log_retention_days" {
  description = "Retention of the VPC flow logs, in days."
  type        = number
  default     = 30
}

# ---------------------------------------------------------------------------------------------
# Database
# ---------------------------------------------------------------------------------------------

variable "db_name" {
  description = "Name of the PostgreSQL database the functions use."
  type        = string
  default     = "tickwatch"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.db_name))
    error_message = "db_name must be a lower-case PostgreSQL identifier."
  }
}

variable "db_username" {
  description = "Master user name; its password is generated and kept in Secrets Manager by RDS."
  type        = string
  default     = "tickwatch"
}

variable "db_engine_version" {
  description = "PostgreSQL major version (16 or newer); minor versions are upgraded automatically."
  type        = string
  default     = "17"

  validation {
    condition     = can(regex("^[0-9]+$", var.db_engine_version)) && tonumber(var.db_engine_version) >= 16
    error_message = "db_engine_version must be a PostgreSQL major version, 16 or newer."
  }
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t4g.micro"
}

variable "db_allocated_storage_gb" {
  description = "Initial storage in GB (gp3)."
  type        = number
  default     = 20
}

variable "db_max_allocated_storage_gb" {
  description = "Upper bound for storage autoscaling in GB."
  type        = number
  default     = 100
}

variable "db_multi_az" {
  description = "Run a standby in a second AZ (doubles the instance cost)."
  type        = bool
  default     = false
}

variable "db_backup_retention_days" {
  description = "Days of automated backups (point-in-time recovery window)."
  type        = number
  default     = 7

  validation {
    condition     = var.db_backup_retention_days >= 1 && var.db_backup_retention_days <= 35
    error_message = "db_backup_retention_days must be between 1 and 35."
  }
}

variable "db_deletion_protection" {
  description = "Refuse to delete the database (turn off, apply, then destroy to remove it)."
  type        = bool
  default     = true
}

variable "db_skip_final_snapshot" {
  description = "Skip the final snapshot when the database is destroyed (only for throwaway stacks)."
  type        = bool
  default     = false
}

variable "db_monitoring_interval" {
  description = "Enhanced Monitoring interval in seconds (0 turns it off; 1, 5, 10, 15, 30 or 60)."
  type        = number
  default     = 60

  validation {
    condition     = contains([0, 1, 5, 10, 15, 30, 60], var.db_monitoring_interval)
    error_message = "db_monitoring_interval must be one of 0, 1, 5, 10, 15, 30, 60."
  }
}

variable "enable_rds_proxy" {
  description = "Put an RDS Proxy in front of the database, so API bursts share a bounded set of connections. The functions then connect to the proxy."
  type        = bool
  default     = false
}

variable "db_pool_size" {
  description = "Connections each function instance keeps (DB_POOL_SIZE); Lambda multiplies it by concurrency."
  type        = number
  default     = 2

  validation {
    condition     = var.db_pool_size >= 1 && var.db_pool_size <= 64
    error_message = "db_pool_size must be between 1 and 64."
  }
}

# ---------------------------------------------------------------------------------------------
# Functions
# ---------------------------------------------------------------------------------------------

variable "lambda_architecture" {
  description = "CPU architecture of the functions: arm64 (cheaper per GB-second) or x86_64. `make build` must build for the same one (ARCH=...)."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.lambda_architecture)
    error_message = "lambda_architecture must be arm64 or x86_64."
  }
}

variable "lambda_zip_dir" {
  description = "Directory holding <function>/bootstrap.zip, as written by `make build` (relative to this directory or absolute)."
  type        = string
  default     = "../target/lambda"
}

variable "function_settings" {
  description = "Memory (MB), timeout (s) and reserved concurrency per function. Reserved concurrency also caps the database connections each function can open."
  type = object({
    collector = optional(object({
      memory_mb            = optional(number, 256)
      timeout_seconds      = optional(number, 60)
      reserved_concurrency = optional(number, 2)
    }), {})
    planner = optional(object({
      memory_mb            = optional(number, 256)
      timeout_seconds      = optional(number, 20)
      reserved_concurrency = optional(number, 2)
    }), {})
    writer = optional(object({
      memory_mb            = optional(number, 256)
      timeout_seconds      = optional(number, 30)
      reserved_concurrency = optional(number, 2)
    }), {})
    migrator = optional(object({
      memory_mb            = optional(number, 256)
      timeout_seconds      = optional(number, 300)
      reserved_concurrency = optional(number, 1)
    }), {})
    detector = optional(object({
      memory_mb            = optional(number, 512)
      timeout_seconds      = optional(number, 120)
      reserved_concurrency = optional(number, 1)
    }), {})
    api = optional(object({
      memory_mb            = optional(number, 256)
      timeout_seconds      = optional(number, 10)
      reserved_concurrency = optional(number, 10)
    }), {})
    # Time for every alert's webhook retries (4 attempts of at most 5 s each).
    notifier = optional(object({
      memory_mb            = optional(number, 128)
      timeout_seconds      = optional(number, 120)
      reserved_concurrency = optional(number, 1)
    }), {})
  })
  default = {}

  validation {
    condition     = var.function_settings.api.timeout_seconds <= 29
    error_message = "The api timeout must stay under API Gateway's 30 s integration limit."
  }
}

variable "log_retention_days" {
  description = "Retention of the functions' and the API's log groups, in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, ...)."
  }
}

variable "rust_log" {
  description = "Log filter for the functions (RUST_LOG)."
  type        = string
  default     = "info"
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the pipeline's own metrics (METRICS_NAMESPACE); the functions may publish only there."
  type        = string
  default     = "Tickwatch"
}

# ---------------------------------------------------------------------------------------------
# Schedules
# ---------------------------------------------------------------------------------------------

variable "collector_schedule" {
  description = "EventBridge schedule expression for the collector."
  type        = string
  default     = "rate(5 minutes)"
}

variable "detector_schedule" {
  description = "EventBridge schedule expression for the detector: every 5 minutes, 2 minutes after the collector's usual run, so it sees fresh candles."
  type        = string
  default     = "cron(2/5 * * * ? *)"
}

variable "candle_max_receive_count" {
  description = "Deliveries of a candle batch the writer could not store before it moves to the dead-letter queue (x 6 writer timeouts of visibility: about an hour of database outage by default)."
  type        = number
  default     = 20
}

variable "schedule_max_retries" {
  description = "Retries for a scheduled invocation, both by EventBridge (delivery) and by Lambda (function errors), before the event goes to the dead-letter queue."
  type        = number
  default     = 2

  validation {
    condition     = var.schedule_max_retries >= 0 && var.schedule_max_retries <= 2
    error_message = "schedule_max_retries must be between 0 and 2 (Lambda's asynchronous limit)."
  }
}

variable "schedule_max_event_age_seconds" {
  description = "Drop a scheduled event to the dead-letter queue once it is this old: a collection older than a few schedule periods is superseded by the next run."
  type        = number
  default     = 900

  validation {
    condition     = var.schedule_max_event_age_seconds >= 60 && var.schedule_max_event_age_seconds <= 21600
    error_message = "schedule_max_event_age_seconds must be between 60 and 21600."
  }
}

# ---------------------------------------------------------------------------------------------
# API
# ---------------------------------------------------------------------------------------------

variable "api_throttle_rate" {
  description = "Steady-state requests per second the API stage accepts. It bounds what anonymous reads can cost: at most rate x 2.63 M requests a month (see the README's cost section)."
  type        = number
  default     = 2
}

variable "api_throttle_burst" {
  description = "Burst of requests the API stage accepts."
  type        = number
  default     = 10
}

variable "api_key_version" {
  description = "Generation of the API write key: raise it to generate and store a new key on the next apply."
  type        = number
  default     = 1
}

variable "api_cors_allow_origins" {
  description = "Origins allowed by CORS on the HTTP API (empty: no CORS headers)."
  type        = list(string)
  default     = []
}

# ---------------------------------------------------------------------------------------------
# Monitoring
# ---------------------------------------------------------------------------------------------

variable "alarm_email" {
  description = "E-mail address subscribed to the alarm topic (empty: no subscription; AWS sends a confirmation mail)."
  type        = string
  default     = ""
}

variable "max_data_age_seconds" {
  description = "Alarm when the stalest watched series' newest candle is older than this (the DataAgeSeconds metric)."
  type        = number
  default     = 7200
}

variable "api_5xx_per_5_minutes" {
  description = "Alarm when the API answers more than this many 5xx responses in a 5-minute period (2 of 3)."
  type        = number
  default     = 5
}

variable "monthly_budget_usd" {
  description = "AWS Budgets alarm: notify the alarm topic when the month's cost is forecast to pass, or passes, this figure."
  type        = number
  default     = 20
}

variable "api_p99_latency_ms" {
  description = "Alarm when the API's p99 latency exceeds this many milliseconds over 5 minutes."
  type        = number
  default     = 500
}

variable "alert_min_severity" {
  description = "Anomaly events at or above this severity are alerts (SNS topic and webhook): low, medium, high or critical."
  type        = string
  default     = "high"

  validation {
    condition     = contains(["low", "medium", "high", "critical"], var.alert_min_severity)
    error_message = "alert_min_severity must be low, medium, high or critical."
  }
}

variable "alert_max_age_hours" {
  description = "Anomaly events that ended longer ago than this (a backfill, an import) are data events only, not alerts."
  type        = number
  default     = 24

  validation {
    condition     = var.alert_max_age_hours > 0
    error_message = "alert_max_age_hours must be positive."
  }
}

variable "alert_webhook_url" {
  description = "Slack-compatible incoming webhook URL the alerts are posted to (empty: none). Kept in the notifier's KMS-encrypted environment."
  type        = string
  default     = ""
  sensitive   = true

  validation {
    condition     = var.alert_webhook_url == "" || can(regex("^https?://", var.alert_webhook_url))
    error_message = "alert_webhook_url must be empty or an http(s) URL."
  }
}

variable "alert_email" {
  description = "Address subscribed to the alerts topic (empty: none; confirm the subscription mail)."
  type        = string
  default     = ""
}
