//! The PostgreSQL adapter: a small connection pool (TLS through rustls, credentials from a URL,
//! a secret or IAM), embedded migrations, and one module of queries per table.

pub mod anomalies;
pub mod candles;
mod connect;
pub mod detection;
pub mod detector_state;
pub mod gaps;
mod iam;
mod migrate;
pub mod roles;
pub mod scores;
mod secret_login;
pub mod stats;
pub mod symbols;
mod tls;

use std::error::Error as _;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};

pub use deadpool_postgres::Object as Client;

use crate::config::DatabaseSettings;

/// A failure talking to the database. [`DbError::is_unavailable`] tells a caller whether the
/// database could not be reached at all (retry later, answer 503) or a statement failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("could not connect to PostgreSQL at {target} (DB_TLS={tls}): {reason}")]
    Connect {
        target: String,
        tls: &'static str,
        reason: String,
    },
    #[error("no database connection became free in time")]
    PoolTimeout,
    #[error("database query failed: {}", chain(.0))]
    Query(#[from] tokio_postgres::Error),
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("database TLS setup failed: {0}")]
    Tls(String),
    #[error("IAM auth token could not be signed: {0}")]
    IamToken(String),
    #[error("a stored row is invalid: {0}")]
    CorruptRow(String),
}

impl DbError {
    /// True when the database itself is out of reach, as opposed to a statement failing.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Connect { .. } | Self::PoolTimeout | Self::IamToken(_) => true,
            Self::Query(e) => {
                e.is_closed()
                    || e.code().is_none_or(|code| {
                        code.code().starts_with("08") || code.code().starts_with("57P")
                    })
            }
            _ => false,
        }
    }
}

/// Renders an error with its causes, which tokio-postgres keeps out of its own `Display`.
fn chain(error: &tokio_postgres::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// A pool of connections to the tickwatch database. Cheap to clone; build it once per cold
/// start. Connections are opened lazily, so building the pool never blocks on the network.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    target: String,
    tls: &'static str,
    migrated: std::sync::Arc<tokio::sync::OnceCell<usize>>,
    /// Whether [`Db::ensure_migrated`] applies migrations (`DB_MIGRATE`).
    migrates: bool,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("target", &self.target)
            .field("tls", &self.tls)
            .field("status", &self.pool.status())
            .finish()
    }
}

impl Db {
    /// [`Db::connect`] with the process's lazy AWS handle, loading the SDK configuration only
    /// when the credentials need it (a secret; never for a URL or an IAM token, which is
    /// signed locally).
    pub async fn connect_lazy(
        settings: &DatabaseSettings,
        aws: &crate::aws::Aws,
    ) -> Result<Self, DbError> {
        match settings.credentials {
            #[cfg(feature = "aws")]
            crate::config::Credentials::Secret { .. } => {
                Self::connect(settings, Some(aws.config().await)).await
            }
            _ => {
                let _ = aws;
                Self::connect(settings, None).await
            }
        }
    }

    /// Resolves the credentials (reading the secret or signing an IAM token when configured)
    /// and builds the pool. `aws` is needed only for the secret.
    pub async fn connect(
        settings: &DatabaseSettings,
        aws: Option<&crate::aws::SdkConfig>,
    ) -> Result<Self, DbError> {
        let resolved = connect::resolve(settings, aws).await?;
        let target = resolved.describe_target();
        let connector =
            connect::Connector::new(tls::connector(settings)?, resolved.iam, resolved.secret);
        let manager = Manager::from_connect(
            resolved.config,
            connector,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(settings.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(settings.connect_timeout * 2))
            .create_timeout(Some(settings.connect_timeout))
            .build()
            .map_err(|e| DbError::Connect {
                target: target.clone(),
                tls: settings.tls.as_str(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            pool,
            target,
            tls: settings.tls.as_str(),
            migrated: Default::default(),
            migrates: settings.migrate,
        })
    }

    /// A connection from the pool, opening one if none is idle.
    pub async fn client(&self) -> Result<Client, DbError> {
        use deadpool_postgres::PoolError;
        self.pool.get().await.map_err(|e| match e {
            PoolError::Timeout(_) => DbError::PoolTimeout,
            PoolError::Backend(e) => DbError::Connect {
                target: self.target.clone(),
                tls: self.tls,
                reason: chain(&e),
            },
            other => DbError::Connect {
                target: self.target.clone(),
                tls: self.tls,
                reason: other.to_string(),
            },
        })
    }

    /// Applies pending migrations; safe to call from every cold start at once.
    pub async fn migrate(&self) -> Result<usize, DbError> {
        let mut client = self.client().await?;
        let applied = migrate::run(&mut client).await;
        if applied.is_err() {
            // The session may still hold the advisory lock if unlocking failed: never reuse it.
            let _ = deadpool_postgres::Object::take(client);
        }
        applied
    }

    /// Migrates once per process: the first caller applies pending migrations, later callers
    /// return at once. Functions call this on their first invocation, not at cold start, so a
    /// start never waits on the network.
    pub async fn ensure_migrated(&self) -> Result<(), DbError> {
        if !self.migrates {
            return Ok(());
        }
        self.migrated
            .get_or_try_init(|| self.migrate())
            .await
            .map(|_| ())
    }

    /// Applies pending migrations, then creates the functions' roles and grants each exactly
    /// its privileges ([`roles`]): the migrator function's whole job.
    pub async fn migrate_with_roles(&self) -> Result<usize, DbError> {
        let applied = self.migrate().await?;
        roles::ensure(&self.client().await?).await?;
        Ok(applied)
    }

    /// One round trip, to prove the database answers.
    pub async fn ping(&self) -> Result<(), DbError> {
        self.client().await?.simple_query("SELECT 1").await?;
        Ok(())
    }

    /// `host:port/dbname` — safe to log, never holds a password.
    pub fn target(&self) -> &str {
        &self.target
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }
}
