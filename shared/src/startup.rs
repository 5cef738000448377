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
    pub function: &'static str,
    pub settings: Settings,
    /// Loaded on first use: most invocations of most functions never call AWS.
    pub aws: Aws,
    pub db: Db,
    pub metrics: MetricsSink,
}

/// Why a function could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl Resources {
    /// Builds everything from the process environment.
    pub async fn from_env(function: &'static str) -> Result<Self, StartupError> {
        let settings = Settings::from_process_env()?;
        crate::telemetry::init(settings.log_format);
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

/// Reports a start-up failure as one line on stderr and exits. Logging may not be set up yet
/// (its format is itself a setting), and Lambda records stderr in the function's log group.
#[allow(clippy::print_stderr)]
pub fn exit_with(function: &str, error: &StartupError) -> ! {
    eprintln!("{function}: cannot start: {error}");
    std::process::exit(2)
}
