//! What every function does once per cold start: read settings, set up logging and build the
//! database pool and metrics sink. Nothing here touches the network, and the AWS SDK (in the
//! functions built with it) is loaded only when a setting needs it (a database secret) or a
//! call first uses it, so a cold start stays fast; the first invocation opens the first
//! connection. An RDS IAM token needs no SDK: it is signed locally (`db::iam`).

use crate::aws::Aws;
use crate::config::{ConfigError, Settings};
use crate::db::{Db, DbError};
use crate::metrics::MetricsSink;

/// The resources a function keeps for its whole life and shares across invocations.
#[derive(Debug, Clone)]
pub struct Resources {
    /// The function's name, e.g. `detector`, as its start line logs it.
    pub function: &'static str,
    /// Everything read from the environment at start.
    pub settings: Settings,
    /// Loaded on first use: most invocations of most functions never call AWS.
    pub aws: Aws,
    /// The pool; connections open on first use, not at start.
    pub db: Db,
    /// Where this function's metrics go; each invocation publishes once through it.
    pub metrics: MetricsSink,
}

/// Why a function could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// A setting is missing or malformed; the message names the variable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database settings could not be turned into a pool (e.g. its secret could not be read).
    #[error(transparent)]
    Db(#[from] DbError),
    /// The collector could not be assembled (its HTTP client, or a missing stage).
    #[error(transparent)]
    Collector(#[from] crate::collect::BuildError),
    /// The TLS stack or the system refused the HTTP client.
    #[error("the HTTP client could not be built")]
    HttpClient(#[source] reqwest::Error),
}

impl Resources {
    /// Builds everything from the process environment.
    pub async fn from_env(function: &'static str) -> Result<Self, StartupError> {
        let settings = Settings::from_process_env()?;
        crate::telemetry::init(settings.log_format, settings.log_filter.clone());
        let aws = Aws::lazy();
        // Only a database secret needs AWS before the first connection.
        let db = Db::connect_lazy(&settings.database, &aws).await?;
        let metrics = MetricsSink::new(&settings.metrics, Some(&aws));
        tracing::info!(function, database = db.target(), "started");
        Ok(Self {
            function,
            settings,
            aws,
            db,
            metrics,
        })
    }
}

impl Resources {
    /// For a process that never calls AWS (the local runner): a fixed region and no
    /// credentials keep the SDK from probing the network for either, and the metrics sink has
    /// no AWS to publish to.
    #[cfg(feature = "aws")]
    pub fn offline(function: &'static str, settings: Settings, db: Db) -> Self {
        let aws = Aws::from_config(
            aws_config::SdkConfig::builder()
                .behavior_version(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new("us-east-1"))
                .http_client(crate::aws::sdk_http_client())
                .build(),
        );
        Self {
            function,
            metrics: MetricsSink::new(&settings.metrics, None),
            settings,
            aws,
            db,
        }
    }
}

/// Reports a start-up failure as one line on stderr and exits. Logging may not be set up yet
/// (its format is itself a setting), and Lambda records stderr in the function's log group.
#[allow(clippy::print_stderr)]
pub fn exit_with(function: &str, error: &StartupError) -> ! {
    eprintln!(
        "{function}: cannot start: {}",
        crate::telemetry::error_chain(error)
    );
    std::process::exit(2)
}

/// The value, or the process ends with [`exit_with`]: a `main` starts with one such line per
/// thing it builds.
pub fn or_exit<T, E: Into<StartupError>>(function: &str, result: Result<T, E>) -> T {
    match result {
        Ok(value) => value,
        Err(error) => exit_with(function, &error.into()),
    }
}
