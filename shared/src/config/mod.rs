//! Typed settings, read once per cold start from the environment.
//!
//! Every value is parsed here, so a missing or malformed variable stops the function at start
//! with one line naming the variable, instead of failing on the first event. Settings are read
//! through a lookup function rather than `std::env` directly, so tests pass a map and never
//! mutate the process environment.

mod collector;
mod database;
mod env;
mod secret;
pub mod variables;

use std::time::Duration;

use tracing_subscriber::filter::Targets;

pub use collector::{CollectorSettings, HttpSettings, SourceKey, SourceSettings};
pub use database::{Credentials, DatabaseSettings, TlsMode};
pub use env::Env;
pub use secret::{DatabaseSecret, SecretError};
#[cfg(feature = "aws-secrets")]
pub use secret::{read_database_secret, read_secret_string};

/// A setting that is missing or malformed. The message always starts with the variable's name.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The variable is required and absent.
    #[error("{name} is not set: {hint}")]
    Missing {
        /// The variable's name.
        name: &'static str,
        /// What to set it to, or why it is needed; ends the one-line message.
        hint: &'static str,
    },
    /// The variable is set but cannot be parsed or is out of range.
    #[error("{name} is invalid: {reason}")]
    Invalid {
        /// The variable's name.
        name: &'static str,
        /// What is wrong with the value.
        reason: String,
    },
    /// The variable names a secret (an ARN) that could not be fetched or read.
    #[error("{name}: the secret could not be read: {source}")]
    SecretUnreadable {
        /// The variable holding the secret's ARN.
        name: &'static str,
        #[source]
        /// Why the secret could not be read: the call failed, or the value has the wrong shape.
        source: SecretError,
    },
    /// The setting asks for a part this function was built without: an AWS client, or the
    /// migrations (each function links only what it uses; see the features of the
    /// `tickwatch` crate).
    #[error(
        "{name} needs the `{feature}` feature of the tickwatch crate, which this function is built without"
    )]
    NotBuiltIn {
        /// The variable that asked for it.
        name: &'static str,
        /// The Cargo feature that would provide it, e.g. `aws-secrets`.
        feature: &'static str,
    },
}

impl ConfigError {
    /// The environment variable at fault.
    pub fn variable(&self) -> &'static str {
        match self {
            Self::Missing { name, .. }
            | Self::Invalid { name, .. }
            | Self::SecretUnreadable { name, .. }
            | Self::NotBuiltIn { name, .. } => name,
        }
    }
}

/// Where metrics go: CloudWatch in the cloud, the log locally, or nowhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsSinkKind {
    /// `PutMetricData`, for functions with a free way to CloudWatch (outside the VPC).
    CloudWatch,
    /// Embedded Metric Format lines on stdout, for functions inside the VPC.
    Emf,
    /// One `tracing` line per metric; the default outside Lambda.
    Log,
    /// Metrics are dropped.
    None,
}

/// How log lines are written: JSON for CloudWatch Logs, human-readable at a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line, with the request id; the default on Lambda.
    Json,
    /// Human-readable text for a terminal; the default outside Lambda.
    Pretty,
}

/// Where metrics go and under which CloudWatch namespace (`METRICS_SINK`, `METRICS_NAMESPACE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsSettings {
    /// The sink; CloudWatch on Lambda and the log elsewhere unless `METRICS_SINK` says otherwise.
    pub sink: MetricsSinkKind,
    /// CloudWatch namespace, `Tickwatch` by default; 1–255 characters, never `AWS/…`.
    pub namespace: String,
}

/// The settings every function needs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How to reach and log in to PostgreSQL.
    pub database: DatabaseSettings,
    /// Where metrics go.
    pub metrics: MetricsSettings,
    /// How log lines look.
    pub log_format: LogFormat,
    /// Which log lines are written (`RUST_LOG`, default `info`).
    pub log_filter: Targets,
    /// True inside AWS Lambda, where defaults lean towards the cloud (JSON logs, CloudWatch).
    pub on_lambda: bool,
}

/// Logging and metrics settings, for a function without a database (the collector in the
/// cloud) as much as for one with.
#[derive(Debug, Clone)]
pub struct Observability {
    /// Where metrics go.
    pub metrics: MetricsSettings,
    /// How log lines look.
    pub log_format: LogFormat,
    /// Which log lines are written (`RUST_LOG`, default `info`).
    pub log_filter: Targets,
    /// True inside AWS Lambda (`AWS_LAMBDA_FUNCTION_NAME` is set); it picks the defaults.
    pub on_lambda: bool,
}

impl Observability {
    /// Reads `LOG_FORMAT`, `RUST_LOG`, `METRICS_SINK` and `METRICS_NAMESPACE` from `env`; fails
    /// on a bad value.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let settings = Settings::observability(env)?;
        Ok(settings)
    }
}

impl Settings {
    /// Reads the settings from the process environment.
    pub fn from_process_env() -> Result<Self, ConfigError> {
        Self::from_env(&Env::process())
    }

    /// Reads every setting from `env`: the observability variables and the database ones.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let observability = Self::observability(env)?;
        Ok(Self {
            database: DatabaseSettings::from_env(env)?,
            metrics: observability.metrics,
            log_format: observability.log_format,
            log_filter: observability.log_filter,
            on_lambda: observability.on_lambda,
        })
    }

    fn observability(env: &Env) -> Result<Observability, ConfigError> {
        let on_lambda = env.get("AWS_LAMBDA_FUNCTION_NAME").is_some();
        let log_format = env.parse_with("LOG_FORMAT", |v| match v {
            "json" => Ok(LogFormat::Json),
            "pretty" => Ok(LogFormat::Pretty),
            _ => Err("expected json or pretty".to_owned()),
        })?;
        // Refused like any other malformed setting, rather than logging at a level nobody
        // asked for: a typo would otherwise hide the very lines it was meant to show.
        let log_filter = env
            .parse_with("RUST_LOG", crate::telemetry::parse_filter)?
            .unwrap_or_else(crate::telemetry::default_filter);
        let sink = env.parse_with("METRICS_SINK", |v| match v {
            "cloudwatch" => Ok(MetricsSinkKind::CloudWatch),
            "emf" => Ok(MetricsSinkKind::Emf),
            "log" => Ok(MetricsSinkKind::Log),
            "none" => Ok(MetricsSinkKind::None),
            _ => Err("expected cloudwatch, emf, log or none".to_owned()),
        })?;
        let namespace = env
            .get("METRICS_NAMESPACE")
            .unwrap_or_else(|| "Tickwatch".to_owned());
        if namespace.is_empty() || namespace.len() > 255 || namespace.starts_with("AWS/") {
            return Err(ConfigError::Invalid {
                name: "METRICS_NAMESPACE",
                reason: "must be 1–255 characters and must not start with AWS/".to_owned(),
            });
        }
        Ok(Observability {
            metrics: MetricsSettings {
                sink: sink.unwrap_or(if on_lambda {
                    MetricsSinkKind::CloudWatch
                } else {
                    MetricsSinkKind::Log
                }),
                namespace,
            },
            log_format: log_format.unwrap_or(if on_lambda {
                LogFormat::Json
            } else {
                LogFormat::Pretty
            }),
            log_filter,
            on_lambda,
        })
    }
}

/// Parses a duration given in whole milliseconds, the unit every timeout variable uses.
pub(crate) fn millis(value: &str) -> Result<Duration, String> {
    value
        .parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| format!("{value:?} is not a whole number of milliseconds"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::from_env(&Env::from_pairs(pairs))
    }

    #[test]
    fn local_defaults_are_pretty_logs_and_a_log_sink() {
        let s = settings(&[("DATABASE_URL", "postgres://u:p@localhost/db")]).expect("valid");
        assert_eq!(s.log_format, LogFormat::Pretty);
        assert_eq!(s.metrics.sink, MetricsSinkKind::Log);
        assert_eq!(s.metrics.namespace, "Tickwatch");
    }

    #[test]
    fn lambda_defaults_are_json_logs_and_cloudwatch() {
        let s = settings(&[
            ("DATABASE_URL", "postgres://u:p@localhost/db"),
            ("AWS_LAMBDA_FUNCTION_NAME", "tickwatch-api"),
        ])
        .expect("valid");
        assert_eq!(s.log_format, LogFormat::Json);
        assert_eq!(s.metrics.sink, MetricsSinkKind::CloudWatch);
    }

    #[test]
    fn each_malformed_setting_names_its_variable() {
        let url = ("DATABASE_URL", "postgres://u:p@localhost/db");
        for (pair, variable) in [
            (("LOG_FORMAT", "xml"), "LOG_FORMAT"),
            (("RUST_LOG", "tickwatch=loud"), "RUST_LOG"),
            (("RUST_LOG", "info,tickwatch[span{id=1}]=debug"), "RUST_LOG"),
            (("METRICS_SINK", "statsd"), "METRICS_SINK"),
            (("METRICS_NAMESPACE", "AWS/Lambda"), "METRICS_NAMESPACE"),
            (("DB_POOL_SIZE", "0"), "DB_POOL_SIZE"),
            (("DB_POOL_SIZE", "two"), "DB_POOL_SIZE"),
            (("DB_TLS", "prefer"), "DB_TLS"),
            (("DB_CONNECT_TIMEOUT_MS", "-5"), "DB_CONNECT_TIMEOUT_MS"),
        ] {
            let err = settings(&[url, pair]).expect_err("should be rejected");
            assert_eq!(err.variable(), variable);
            assert!(err.to_string().starts_with(variable), "{err}");
        }
    }
}
