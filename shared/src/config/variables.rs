//! Every environment variable the functions read, in one table.
//!
//! The Terraform consistency test (`tests/terraform/`) checks every function's Lambda against
//! this list, so a new setting that is not wired into the cloud fails a test instead of a
//! deployment. Keep every entry a `var(name, functions, in_cloud, description)` call: that
//! test reads this file as text.

/// A function that reads a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// Fetches prices from the sources (outside the VPC, no database in the cloud).
    Collector,
    /// Turns a collection request into a plan from the watch list and what is stored.
    Planner,
    /// Stores the candle batches the queue delivers.
    Writer,
    /// Scores new candles and records anomalies.
    Detector,
    /// The HTTP API.
    Api,
    /// Applies migrations and sets up database roles, once per deployment.
    Migrator,
    /// Delivers anomaly notifications (no database, no metrics).
    Notifier,
}

/// Whether Terraform must set the variable on a deployed function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InCloud {
    /// Every deployed function that reads it must have it set.
    Required,
    /// Has a sensible default; set it only to change the behaviour.
    Optional,
    /// Meant for local runs and tests; never set in the cloud.
    LocalOnly,
}

/// One environment variable: its name, who reads it, whether the cloud sets it, and what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variable {
    /// The exact variable name, e.g. `DB_TLS`.
    pub name: &'static str,
    /// Functions that read it; each must get it from Terraform when `in_cloud` is `Required`.
    pub used_by: &'static [Function],
    /// Whether a deployed function must, may or must never have it set.
    pub in_cloud: InCloud,
    /// One line: what it sets, with its default and range where it has them.
    pub description: &'static str,
}

const fn var(
    name: &'static str,
    used_by: &'static [Function],
    in_cloud: InCloud,
    description: &'static str,
) -> Variable {
    Variable {
        name,
        used_by,
        in_cloud,
        description,
    }
}

use Function::{Api, Collector, Detector, Migrator, Notifier, Planner, Writer};
use InCloud::{LocalOnly, Optional, Required};

const ALL: &[Function] = &[Collector, Planner, Writer, Detector, Api, Migrator];
/// Every function, the notifier (which needs no database and emits no metric) included.
const LOGGING: &[Function] = &[
    Collector, Planner, Writer, Detector, Api, Migrator, Notifier,
];
/// The functions that talk to the database (all but the collector, in the cloud).
const DATABASE: &[Function] = &[Planner, Writer, Detector, Api, Migrator];
/// The functions inside the VPC that log in with an RDS IAM token.
const IAM_LOGIN: &[Function] = &[Planner, Writer, Detector, Api];
/// The functions that read the collector's settings.
const COLLECTING: &[Function] = &[Collector, Planner, Writer, Api];

/// Every variable the functions read; the Terraform test checks each Lambda against it.
pub const VARIABLES: &[Variable] = &[
    var(
        "DATABASE_URL",
        ALL,
        LocalOnly,
        "PostgreSQL URL; takes precedence over the other credential sources",
    ),
    var(
        "DB_SECRET_ARN",
        &[Migrator],
        Required,
        "Secrets Manager secret holding the database username and password",
    ),
    var(
        "DB_IAM_AUTH",
        IAM_LOGIN,
        Required,
        "true to sign RDS IAM auth tokens instead of reading a password",
    ),
    var(
        "DB_HOST",
        DATABASE,
        Required,
        "database host (RDS endpoint or RDS Proxy)",
    ),
    var(
        "DB_PORT",
        DATABASE,
        Optional,
        "database port (default 5432)",
    ),
    var("DB_NAME", DATABASE, Required, "database name"),
    var("DB_USER", IAM_LOGIN, Required, "database user for IAM auth"),
    var(
        "DB_TLS",
        DATABASE,
        Required,
        "disable, require or verify-full (default verify-full in the cloud)",
    ),
    var(
        "DB_TLS_CA_FILE",
        DATABASE,
        Optional,
        "PEM CA bundle for verify-full (the RDS global bundle)",
    ),
    var(
        "DB_POOL_SIZE",
        DATABASE,
        Optional,
        "connections per function instance (default 2)",
    ),
    var(
        "DB_READ_LANES",
        DATABASE,
        Optional,
        "of those, connections shared by concurrent reads, which pipeline on them (default half the pool, at most 4)",
    ),
    var(
        "DB_CONNECT_TIMEOUT_MS",
        DATABASE,
        Optional,
        "database connect timeout in milliseconds (default 5000)",
    ),
    var(
        "DB_POOL_WAIT_MS",
        ALL,
        Optional,
        "how long to wait for a free pooled connection, in milliseconds (default 5000)",
    ),
    var(
        "DB_STATEMENT_TIMEOUT_MS",
        ALL,
        Optional,
        "statement timeout of every session, 100 to 600000 ms (default 5000); a server that answers nothing for this plus 1 s is given up",
    ),
    var(
        "METRICS_SINK",
        ALL,
        Required,
        "cloudwatch, emf, log or none (default cloudwatch on Lambda, log locally; emf inside the VPC)",
    ),
    var(
        "METRICS_NAMESPACE",
        ALL,
        Required,
        "CloudWatch namespace for the pipeline's metrics (default Tickwatch)",
    ),
    var(
        "LOG_FORMAT",
        LOGGING,
        Optional,
        "json or pretty (default json on Lambda, pretty locally)",
    ),
    var(
        "RUST_LOG",
        LOGGING,
        Optional,
        "log filter, e.g. info,tickwatch=debug",
    ),
    var(
        "AWS_USE_DUALSTACK_ENDPOINT",
        &[Migrator],
        Required,
        "true: the SDK calls AWS's dual-stack endpoints, reachable over the VPC's IPv6 path",
    ),
    var(
        "DB_MIGRATE",
        DATABASE,
        Required,
        "true to apply pending migrations on first use (local runs); false for the cloud's least-privilege roles",
    ),
    var(
        "PLANNER_FUNCTION",
        &[Collector],
        Required,
        "name of the planner function the collector asks for plans (unset: plan in-process)",
    ),
    var(
        "CANDLE_QUEUE_URL",
        &[Collector],
        Required,
        "SQS queue the collector sends candle batches to (unset: store in-process)",
    ),
    var(
        "API_WRITE_AUTHORIZER",
        &[Api],
        Required,
        "gateway: trust API Gateway's authorizer for writes instead of reading the key",
    ),
    var(
        "COINBASE_BASE_URL",
        COLLECTING,
        Optional,
        "Coinbase Exchange API base URL",
    ),
    var(
        "COINBASE_RATE_PER_MINUTE",
        COLLECTING,
        Optional,
        "Coinbase Exchange calls per minute (default 300)",
    ),
    var(
        "KRAKEN_BASE_URL",
        COLLECTING,
        Optional,
        "Kraken API base URL",
    ),
    var(
        "KRAKEN_RATE_PER_MINUTE",
        COLLECTING,
        Optional,
        "Kraken calls per minute (default 30)",
    ),
    var(
        "GAP_LOOKBACK_BUCKETS",
        COLLECTING,
        Optional,
        "gap repair looks at most this many buckets back (default 2880)",
    ),
    var(
        "API_KEY_SECRET_ARN",
        &[Collector, Api],
        Optional,
        "Secrets Manager secret holding the bearer key for API writes",
    ),
    var(
        "DETECTOR_METHODS",
        &[Detector],
        Optional,
        "comma-separated methods to run (default all)",
    ),
    var(
        "DETECTOR_PAGE_SIZE",
        &[Detector],
        Optional,
        "candles judged per transaction and series (default 5000)",
    ),
    var(
        "DETECTOR_ZSCORE_WINDOW",
        &[Detector],
        Optional,
        "zscore: candles whose ordinary returns form the reference (default 100)",
    ),
    var(
        "DETECTOR_ZSCORE_GAP_WINDOW",
        &[Detector],
        Optional,
        "zscore: candles whose gap returns form the reference for returns across a gap (default 1000)",
    ),
    var(
        "DETECTOR_IQR_WINDOW",
        &[Detector],
        Optional,
        "iqr: candles whose ordinary returns form the reference (default 100)",
    ),
    var(
        "DETECTOR_IQR_GAP_WINDOW",
        &[Detector],
        Optional,
        "iqr: candles whose gap returns form the reference for returns across a gap (default 1000)",
    ),
    var(
        "DETECTOR_ISOLATION_FOREST_TREES",
        &[Detector],
        Optional,
        "isolation_forest: trees (default 100)",
    ),
    var(
        "DETECTOR_ISOLATION_FOREST_SAMPLE_SIZE",
        &[Detector],
        Optional,
        "isolation_forest: points per tree (default 256)",
    ),
    var(
        "DETECTOR_ISOLATION_FOREST_SEED",
        &[Detector],
        Optional,
        "isolation_forest: random seed (default 42)",
    ),
    var(
        "DETECTOR_ISOLATION_FOREST_WINDOW",
        &[Detector],
        Optional,
        "isolation_forest: candles before an epoch its forest is fitted on (default 1000)",
    ),
    var(
        "DETECTOR_ISOLATION_FOREST_REFIT_EVERY",
        &[Detector],
        Optional,
        "isolation_forest: epoch length in intervals, how often it is refitted (default 500)",
    ),
    var(
        "DETECTOR_ISOLATION_FOREST_VOLUME_WINDOW",
        &[Detector],
        Optional,
        "isolation_forest: volumes in the volume-ratio median (default 50)",
    ),
    var(
        "DETECTOR_MOVING_AVERAGE_WINDOW",
        &[Detector],
        Optional,
        "moving_average: closes in the average (default 5)",
    ),
    var(
        "DETECTOR_MOVING_AVERAGE_AVERAGE",
        &[Detector],
        Optional,
        "moving_average: sma or ema (default sma)",
    ),
    var(
        "DETECTOR_VOLUME_SPIKE_WINDOW",
        &[Detector],
        Optional,
        "volume_spike: volumes in the rolling median and MAD (default 50)",
    ),
    var(
        "DETECTOR_TECHNICAL_RSI_PERIOD",
        &[Detector],
        Optional,
        "technical: returns in the RSI shown as evidence (default 14)",
    ),
    var(
        "DETECTOR_TECHNICAL_BAND_WINDOW",
        &[Detector],
        Optional,
        "technical: closes in the Bollinger bands (default 20)",
    ),
    var(
        "DETECTOR_STALE_FEED_WINDOW",
        &[Detector],
        Optional,
        "stale_feed: candles over which the usual share of unchanged candles is measured (default 1000)",
    ),
    var(
        "DETECTOR_CALIBRATION_WINDOW",
        &[Detector],
        Optional,
        "calibration: candles whose statistics form each method's reference (default 1000)",
    ),
    var(
        "DETECTOR_CALIBRATION_MIN_HISTORY",
        &[Detector],
        Optional,
        "calibration: statistics needed before a method's readings count (default 200)",
    ),
    var(
        "DETECTOR_CALIBRATION_TAIL_FRACTION",
        &[Detector],
        Optional,
        "calibration: share of the reference fitted as its tail (default 0.1)",
    ),
    var(
        "DETECTOR_CALIBRATION_SHAPE_PRIOR",
        &[Detector],
        Optional,
        "calibration: tail shape the fitted one is shrunk towards (default 0: exponential)",
    ),
    var(
        "DETECTOR_CALIBRATION_SHAPE_WEIGHT",
        &[Detector],
        Optional,
        "calibration: exceedances the prior tail shape counts as (default 200)",
    ),
    var(
        "DETECTOR_EVENTS_THRESHOLD",
        &[Detector],
        Optional,
        "events: consensus score at which a candle is anomalous (default 0.6, about once in eighteen months)",
    ),
    var(
        "DETECTOR_EVENTS_MERGE_WITHIN",
        &[Detector],
        Optional,
        "events: runs fewer than this many calmer candles apart are one event (default 3)",
    ),
    var(
        "API_KEY",
        &[Collector, Api],
        LocalOnly,
        "the key writes to the API must present (local runs)",
    ),
    var(
        "PORT",
        &[Api],
        LocalOnly,
        "port the API listens on when run outside Lambda (default 8080)",
    ),
    var(
        "API_REQUEST_TIMEOUT_MS",
        &[Api],
        Optional,
        "each request's time budget, 100 to 28000 ms (default 8000): past it, 503 timeout",
    ),
    var(
        "API_HEADER_TIMEOUT_MS",
        &[Api],
        LocalOnly,
        "how long the local server waits for a request's headers (default 10000)",
    ),
    var(
        "API_MAX_CONNECTIONS",
        &[Api],
        LocalOnly,
        "connections the local server keeps open at once; more are answered 503 (default 512)",
    ),
    var(
        "API_MAX_CONNECTIONS_PER_CLIENT",
        &[Api],
        LocalOnly,
        "connections one client address may keep open; more are answered 429 (default 128)",
    ),
    var(
        "COINGECKO_BASE_URL",
        COLLECTING,
        Optional,
        "CoinGecko API base URL (tests point it at loopback)",
    ),
    var(
        "COINGECKO_API_KEY",
        COLLECTING,
        LocalOnly,
        "CoinGecko demo key, sent as a header; optional",
    ),
    var(
        "COINGECKO_SECRET_ARN",
        COLLECTING,
        Optional,
        "Secrets Manager secret holding the CoinGecko key",
    ),
    var(
        "COINGECKO_RATE_PER_MINUTE",
        COLLECTING,
        Optional,
        "CoinGecko calls per minute (default 30)",
    ),
    var(
        "ALPHAVANTAGE_BASE_URL",
        COLLECTING,
        Optional,
        "Alpha Vantage API base URL",
    ),
    var(
        "ALPHAVANTAGE_API_KEY",
        COLLECTING,
        LocalOnly,
        "Alpha Vantage key for local runs",
    ),
    var(
        "ALPHAVANTAGE_SECRET_ARN",
        COLLECTING,
        Optional,
        "Secrets Manager secret holding the Alpha Vantage key",
    ),
    var(
        "ALPHAVANTAGE_RATE_PER_MINUTE",
        COLLECTING,
        Optional,
        "Alpha Vantage calls per minute (default 5)",
    ),
    var(
        "BINANCE_BASE_URL",
        COLLECTING,
        Optional,
        "Binance spot API base URL",
    ),
    var(
        "BINANCE_RATE_PER_MINUTE",
        COLLECTING,
        Optional,
        "Binance klines calls per minute (default 600)",
    ),
    var(
        "SYNTHETIC_SEED",
        COLLECTING,
        Optional,
        "seed of the synthetic price source (default 42)",
    ),
    var(
        "HTTP_TIMEOUT_MS",
        COLLECTING,
        Optional,
        "timeout per source request in milliseconds (default 5000)",
    ),
    var(
        "HTTP_RETRY_BASE_MS",
        COLLECTING,
        Optional,
        "first retry delay in milliseconds, doubled per retry (default 250)",
    ),
    var(
        "COLLECTOR_BATCH_SIZE",
        COLLECTING,
        Optional,
        "candles per upsert statement (default 5000)",
    ),
    var(
        "COLLECTOR_SCHEDULE_SECONDS",
        COLLECTING,
        Optional,
        "how often the collect schedule fires (default 300)",
    ),
    var(
        "ALERT_MIN_SEVERITY",
        &[Notifier],
        Optional,
        "alerts go out for anomaly events at or above this severity (default high)",
    ),
    var(
        "ALERT_MAX_AGE_HOURS",
        &[Notifier],
        Optional,
        "events that ended longer ago are data events only, not alerts (default 24)",
    ),
    var(
        "ALERT_WEBHOOK_URL",
        &[Notifier],
        Optional,
        "Slack-compatible incoming webhook the alerts are posted to (unset: none)",
    ),
    var(
        "ALERT_TOPIC_ARN",
        &[Notifier],
        Required,
        "SNS topic the alerts are published to",
    ),
    var(
        "EVENT_BUS_NAME",
        &[Notifier],
        Required,
        "EventBridge bus the data events are put on",
    ),
    var(
        "CHART_BASE_URL",
        &[Notifier],
        Optional,
        "the API's base URL, for chart links in alerts",
    ),
];

/// The variables `function` reads.
pub fn for_function(function: Function) -> impl Iterator<Item = &'static Variable> {
    VARIABLES
        .iter()
        .filter(move |v| v.used_by.contains(&function))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_upper_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for v in VARIABLES {
            assert!(seen.insert(v.name), "{} listed twice", v.name);
            assert!(
                v.name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'),
                "{}",
                v.name
            );
            assert!(!v.used_by.is_empty(), "{} is used by nobody", v.name);
        }
    }
}
