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

pub use collector::{CollectorSettings, HttpSettings, SourceKey, SourceSettings};
pub use database::{Credentials, DatabaseSettings, TlsMode};
pub use env::Env;
pub use secret::{DatabaseSecret, SecretError};
#[cfg(feature = "aws-secrets")]
pub use secret::{read_database_secret, read_secret_string};

/// A setting that is missing or malformed. The message always starts with the variable's name.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is not set: {hint}")]
    Missing {
        name: &'static str,
        hint: &'static str,
    },
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error("{name}: the secret could not be read: {source}")]
    SecretUnreadable {
        name: &'static str,
        #[source]
        source: SecretError,
    },
    /// The setting asks for an AWS client this function was built without (each function
    /// links only the clients it calls; see the features of the `tickwatch` crate).
    #[error(
        "{name} needs the `{feature}` feature of the tickwatch crate, which this function is built without"
    )]
    NotBuiltIn {
        name: &'static str,
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
    Log,
    None,
}

/// How log lines are written: JSON for CloudWatch Logs, human-readable at a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsSettings {
    pub sink: MetricsSinkKind,
    pub namespace: String,
}

/// The settings every function needs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub metrics: MetricsSettings,
    pub log_format: LogFormat,
    /// True inside AWS Lambda, where defaults lean towards the cloud (JSON logs, CloudWatch).
    pub on_lambda: bool,
}

/// Logging and metrics settings, for a function without a database (the collector in the
/// cloud) as much as for one with.
#[derive(Debug, Clone)]
pub struct Observability {
    pub metrics: MetricsSettings,
    pub log_format: LogFormat,
    pub on_lambda: bool,
}

impl Observability {
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

    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let observability = Self::observability(env)?;
        Ok(Self {
            database: DatabaseSettings::from_env(env)?,
            metrics: observability.metrics,
            log_format: observability.log_format,
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
