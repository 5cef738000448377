//! The PostgreSQL adapter: a small connection pool (TLS through rustls, credentials from a URL,
//! a secret or IAM), the schema version check (and, with the `migrations` feature, the
//! embedded migrations and the roles), and one module of queries per table.

pub mod announcements;
pub mod anomalies;
pub mod candles;
mod connect;
pub mod corrections;
pub mod detection;
pub mod detector_state;
pub mod gaps;
mod iam;
mod lanes;
#[cfg(feature = "migrations")]
mod migrate;
#[cfg(feature = "migrations")]
pub mod roles;
mod schema;
pub mod scores;
mod secret_login;
pub mod stats;
pub mod symbols;
mod tls;
mod watchdog;

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};

pub use deadpool_postgres::Object as Client;
pub use iam::IamTokenError;
pub use lanes::GENERIC_PLANS;

use crate::config::DatabaseSettings;

pub use schema::SCHEMA_VERSION;
pub use watchdog::COOL_DOWN;

/// A failure talking to the database. [`DbError::is_unavailable`] tells a caller whether the
/// database could not be reached or did not answer in time (retry later, answer 503), or a
/// statement failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database settings were unusable (a bad URL, an unreadable secret); retrying
    /// will not help until the configuration changes.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// No session could be opened; counted as unavailable, so a later retry may succeed.
    #[error("could not connect to PostgreSQL at {target} (DB_TLS={tls}): {cause}")]
    Connect {
        /// `host:port/database` connected to, without credentials, for the log line.
        target: String,
        /// The `DB_TLS` mode in force, since a TLS mismatch is the usual reason.
        tls: &'static str,
        /// What went wrong while opening the session.
        #[source]
        cause: ConnectError,
    },
    /// Every connection of the pool stayed busy for the whole `DB_POOL_WAIT_MS`.
    #[error("no database connection became free in time")]
    PoolTimeout,
    /// Refused without trying: the database failed to answer a moment ago (see
    /// [`COOL_DOWN`]), and sending more work would only make each caller wait out its deadline.
    #[error("the database did not answer a moment ago; not trying again for {} ms", .0.as_millis())]
    Cooling(Duration),
    /// A statement failed; [`DbError::is_unavailable`] tells a lost connection or a timeout
    /// from a statement the server refused.
    #[error("database query failed: {}", chain(.0))]
    Query(#[source] tokio_postgres::Error),
    /// The server owed an answer and sent nothing within `patience`: the connection was given
    /// up (see [`watchdog`]), and the statements waiting on it failed.
    #[error("the database did not answer within {} ms; the connection was given up", .patience.as_millis())]
    NoAnswer {
        /// How long the watchdog waited for an answer before giving the connection up.
        patience: Duration,
    },
    /// Applying the embedded migrations failed; the schema is left as the failed step found it
    /// and the next cold start tries again.
    #[cfg(feature = "migrations")]
    #[error("database migration failed: {0}")]
    Migration(#[source] Box<refinery::Error>),
    /// The migrations recorded in the database are not this build's: one was rewritten after
    /// the database was migrated (before anything is deployed the history may be rewritten,
    /// and a development database then has to be made again), or the database was migrated by
    /// a build with migrations this one lacks. Nothing was applied.
    #[cfg(feature = "migrations")]
    #[error("{}", history_diverged(.applied, .here.as_deref()))]
    HistoryDiverged {
        /// The applied migration that does not match, as `V<n>__<name>`.
        applied: String,
        /// This build's migration of the same version, if it has one.
        here: Option<String>,
    },
    /// The database's schema is older than the one this build was compiled against (or it has
    /// never been migrated): the migrator has not applied this build's migrations yet. Checked
    /// again on the next use, so the function recovers by itself once the migrator ran.
    #[error("{}", schema_behind(*.found, *.expected))]
    SchemaBehind {
        /// The newest migration applied, `None` when the database has no migration history.
        found: Option<i32>,
        /// [`SCHEMA_VERSION`]: the newest migration of this build.
        expected: i32,
    },
    /// The TLS configuration could not be built; a configuration fault, not worth a retry.
    #[error("database TLS setup failed: {0}")]
    Tls(#[source] TlsError),
    /// No IAM token could be signed (no AWS credentials at hand); counted as unavailable.
    #[error("IAM auth token could not be signed: {0}")]
    IamToken(#[source] IamTokenError),
    /// A row read back holds a value the model rejects (written by an older version or by
    /// hand); the read fails rather than guess, and a retry reads the same row again.
    #[error("a stored row is invalid: {table}: {problem}")]
    CorruptRow {
        /// The table (or `table.column`) the row was read from.
        table: &'static str,
        /// What the stored value failed.
        #[source]
        problem: RowProblem,
    },
}

/// Why a database session could not be opened (the cause of [`DbError::Connect`]).
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The server refused or dropped the session: unreachable, authentication, TLS.
    #[error("{}", chain(.0))]
    Postgres(#[source] tokio_postgres::Error),
    /// The server accepted the connection but did not finish the startup within
    /// `DB_CONNECT_TIMEOUT_MS`.
    #[error("the database did not answer the connection within {} ms", .0.as_millis())]
    StartupTimeout(Duration),
    /// The pool itself failed (closed, or a hook refused the connection).
    #[error(transparent)]
    Pool(deadpool_postgres::PoolError),
    /// The pool could not be built from the settings.
    #[error(transparent)]
    Build(deadpool_postgres::BuildError),
}

/// What was wrong with a stored value (the cause of [`DbError::CorruptRow`]).
#[derive(Debug, thiserror::Error)]
pub enum RowProblem {
    /// A stored symbol the model no longer accepts.
    #[error(transparent)]
    Symbol(#[from] crate::model::SymbolError),
    /// A stored interval name the model does not know.
    #[error(transparent)]
    Interval(#[from] crate::model::IntervalError),
    /// A stored name (source, severity, kind, method, provider, asset class) the model does
    /// not know.
    #[error(transparent)]
    UnknownName(#[from] crate::model::UnknownName),
    /// A stored score outside its range.
    #[error(transparent)]
    Score(#[from] crate::model::AnomalyError),
    /// A stored JSON document does not have the expected shape; says which part.
    #[error("{0}")]
    Shape(String),
}

impl DbError {
    /// A [`DbError::CorruptRow`] for a value read from `table` that failed to parse.
    pub(crate) fn corrupt(table: &'static str, problem: impl Into<RowProblem>) -> Self {
        Self::CorruptRow {
            table,
            problem: problem.into(),
        }
    }
}

/// Why the TLS configuration for database connections could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The crypto provider supports none of the protocol versions asked for.
    #[error("{0}")]
    Protocol(#[source] rustls::Error),
    /// `DB_TLS_CA_FILE` could not be read or is not PEM.
    #[error("DB_TLS_CA_FILE {}: {source}", .path.display())]
    CaFile {
        /// The file as configured.
        path: std::path::PathBuf,
        /// Why reading or decoding it failed.
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    /// `DB_TLS_CA_FILE` parsed, but no certificate in it could be added as a trust root.
    #[error("DB_TLS_CA_FILE {} holds no usable certificate", .path.display())]
    NoUsableCertificate {
        /// The file as configured.
        path: std::path::PathBuf,
    },
}

impl DbError {
    /// True when the database is out of reach or did not answer in time, as opposed to a
    /// statement failing: a retry later may succeed. Besides lost connections (class 08) and
    /// shutdowns (57P), that covers a statement cancelled by `statement_timeout` (57014) and a
    /// server out of resources such as connection slots (class 53).
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Connect { .. }
            | Self::PoolTimeout
            | Self::Cooling(_)
            | Self::NoAnswer { .. }
            | Self::IamToken(_) => true,
            Self::Query(e) => {
                e.is_closed()
                    || e.code().is_none_or(|code| {
                        let code = code.code();
                        code.starts_with("08")
                            || code.starts_with("57P")
                            || code == "57014"
                            || code.starts_with("53")
                    })
            }
            _ => false,
        }
    }
}

impl From<tokio_postgres::Error> for DbError {
    /// tokio-postgres reports a connection the watchdog gave up on as merely "closed" to the
    /// statements waiting on it; the watchdog's note of its latest stall restores the reason.
    fn from(error: tokio_postgres::Error) -> Self {
        if error.is_closed()
            && let Some(patience) = watchdog::stalled_just_now()
        {
            return Self::NoAnswer { patience };
        }
        Self::Query(error)
    }
}

/// The message of [`DbError::SchemaBehind`]: both versions, and the fix.
fn schema_behind(found: Option<i32>, expected: i32) -> String {
    let fix = "run the migrator first (locally: cargo run -p tickwatch-local --bin migrate)";
    match found {
        Some(found) => format!(
            "the database schema is at version {found}, older than version {expected} this build needs: {fix}"
        ),
        None => format!(
            "the database has no migration history, and this build needs schema version {expected}: {fix}"
        ),
    }
}

/// The message of [`DbError::HistoryDiverged`]: what differs, and the fix for a local database.
#[cfg(feature = "migrations")]
fn history_diverged(applied: &str, here: Option<&str>) -> String {
    let difference = match here {
        // Same version and name: the file itself was edited after it was applied.
        Some(here) if here == applied => {
            format!("applied migration {applied} differs from this build's file of that name")
        }
        Some(here) => format!("applied migration {applied} is not this build's {here}"),
        None => format!("applied migration {applied} is not among this build's"),
    };
    format!(
        "the database's schema history differs from this build's ({difference}): \
         for a local database, run `make clean-db` once (it deletes its data) and start again"
    )
}

/// Renders an error with its causes, which tokio-postgres keeps out of its own `Display`.
fn chain(error: &tokio_postgres::Error) -> String {
    crate::telemetry::error_chain(error)
}

/// A pool of connections to the tickwatch database. Cheap to clone; build it once per cold
/// start. Connections are opened lazily, so building the pool never blocks on the network.
///
/// Every connection runs under the deadlines of [`DatabaseSettings`]: a statement timeout set by
/// the server, a client-side watchdog for a server that answers nothing, connect and pool-wait
/// timeouts. After the database failed to answer, [`Db::client`] refuses at once for
/// [`COOL_DOWN`] (`DbError::Cooling`), so an outage costs callers milliseconds, not each its
/// own deadline.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    /// The pool's connector and settings, for the migrations' session of their own.
    #[cfg_attr(not(feature = "migrations"), allow(dead_code))]
    connector: Arc<connect::Connector>,
    #[cfg_attr(not(feature = "migrations"), allow(dead_code))]
    config: tokio_postgres::Config,
    health: Arc<watchdog::Health>,
    target: String,
    tls: &'static str,
    connect_timeout: Duration,
    /// Set once the first use migrated or checked the schema ([`Db::ensure_migrated`]).
    migrated: Arc<tokio::sync::OnceCell<()>>,
    /// Connections shared by concurrent reads ([`Db::reader`]).
    lanes: Arc<lanes::Lanes>,
    /// Whether [`Db::ensure_migrated`] applies migrations (`DB_MIGRATE`) or only checks.
    #[cfg(feature = "migrations")]
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
        let health = Arc::new(watchdog::Health::default());
        let connector = Arc::new(connect::Connector::new(
            tls::connector(settings)?,
            resolved.iam,
            resolved.secret,
            settings,
            health.clone(),
        ));
        let manager = Manager::from_connect(
            resolved.config.clone(),
            connect::PoolConnector(connector.clone()),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(settings.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(settings.pool_wait_timeout))
            .create_timeout(Some(settings.connect_timeout))
            .build()
            .map_err(|e| DbError::Connect {
                target: target.clone(),
                tls: settings.tls.as_str(),
                cause: ConnectError::Build(e),
            })?;
        Ok(Self {
            pool,
            connector,
            config: resolved.config,
            health,
            target,
            tls: settings.tls.as_str(),
            connect_timeout: settings.connect_timeout,
            migrated: Default::default(),
            lanes: Arc::new(lanes::Lanes::new(settings.read_lanes)),
            #[cfg(feature = "migrations")]
            migrates: settings.migrate,
        })
    }

    /// A connection from the pool, opening one if none is idle. Fails at once while the
    /// database is cooling down from a failure to answer.
    pub async fn client(&self) -> Result<Client, DbError> {
        use deadpool_postgres::PoolError;
        if let Some(left) = self.health.cooling() {
            return Err(DbError::Cooling(left));
        }
        self.pool.get().await.map_err(|e| match e {
            PoolError::Timeout(deadpool_postgres::TimeoutType::Create) => {
                // The server accepted the connection but did not finish the startup in time.
                self.health.failed();
                DbError::Connect {
                    target: self.target.clone(),
                    tls: self.tls,
                    cause: ConnectError::StartupTimeout(self.connect_timeout),
                }
            }
            PoolError::Timeout(_) => DbError::PoolTimeout,
            PoolError::Backend(e) => DbError::Connect {
                target: self.target.clone(),
                tls: self.tls,
                cause: ConnectError::Postgres(e),
            },
            other => DbError::Connect {
                target: self.target.clone(),
                tls: self.tls,
                cause: ConnectError::Pool(other),
            },
        })
    }

    /// A connection for one short read-only statement, possibly shared with concurrent
    /// readers, whose statements then pipeline with this one (see [`lanes`]). Never use it
    /// for a transaction or a write. Fails at once while the database is cooling down.
    pub async fn reader(&self) -> Result<Arc<Client>, DbError> {
        if let Some(left) = self.health.cooling() {
            return Err(DbError::Cooling(left));
        }
        if self.lanes.len() == 0 {
            return Ok(Arc::new(self.client().await?));
        }
        self.lanes.get(self).await
    }

    /// Applies pending migrations; safe to call from every cold start at once. A pooled
    /// session first checks, in one round trip, whether the schema is current; when it is not,
    /// the migrations run on a session of their own, outside the pool: once the migration lock
    /// is held (which proves the server answers), their statements may take as long as they
    /// need, since a half-applied migration helps nobody.
    #[cfg(feature = "migrations")]
    pub async fn migrate(&self) -> Result<usize, DbError> {
        let pooled = self.client().await?;
        if migrate::up_to_date(&pooled).await {
            return Ok(0);
        }
        drop(pooled);
        if let Some(left) = self.health.cooling() {
            return Err(DbError::Cooling(left));
        }
        let opened = self
            .connector
            .open(&self.config)
            .await
            .map_err(|e| DbError::Connect {
                target: self.target.clone(),
                tls: self.tls,
                cause: ConnectError::Postgres(e),
            })?;
        let mut client = opened.client;
        let applied = migrate::run(&mut client, &opened.patience).await;
        // The session ends here, advisory lock and all.
        drop(client);
        let _ = opened.task.await;
        applied
    }

    /// Once per process, on the first caller: applies pending migrations (`DB_MIGRATE=true`,
    /// builds with the `migrations` feature), or else checks in one query that the schema is
    /// not older than this build's ([`DbError::SchemaBehind`]). Later callers return at once;
    /// a failure is not remembered, so the next caller tries again. Functions call this on
    /// their first invocation, not at cold start, so a start never waits on the network.
    pub async fn ensure_migrated(&self) -> Result<(), DbError> {
        self.migrated.get_or_try_init(|| self.first_use()).await?;
        Ok(())
    }

    #[cfg(feature = "migrations")]
    async fn first_use(&self) -> Result<(), DbError> {
        if self.migrates {
            self.migrate().await.map(drop)
        } else {
            self.check_schema().await
        }
    }

    #[cfg(not(feature = "migrations"))]
    async fn first_use(&self) -> Result<(), DbError> {
        self.check_schema().await
    }

    async fn check_schema(&self) -> Result<(), DbError> {
        let client = self.client().await?;
        schema::check(&client).await.map(drop)
    }

    /// Applies pending migrations, then creates the functions' roles and grants each exactly
    /// its privileges ([`roles`]): the migrator function's whole job.
    #[cfg(feature = "migrations")]
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
}
