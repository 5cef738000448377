//! Turning settings into a connection: resolving credentials, the deadlines every session runs
//! under, and a pool connector that signs a fresh RDS IAM token for every connection it opens
//! and watches each connection (see [`super::watchdog`]).
//!
//! Every session starts with `statement_timeout` (the server cancels a statement that runs
//! longer) and `idle_in_transaction_session_timeout` (a client that vanished mid-transaction
//! cannot hold its locks for long), set in the startup packet, so they cost no round trip and
//! no `SET` that would pin an RDS Proxy session.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use deadpool_postgres::Connect;
use futures::future::BoxFuture;
use secrecy::ExposeSecret;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio::task::JoinHandle;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{Client, Config, Connection, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::DbError;
use super::iam::IamSigner;
use super::secret_login::SecretLogin;
use super::watchdog::{Health, Patience, Watchdog};
use crate::aws::SdkConfig;
use crate::config::{ConfigError, Credentials, DatabaseSettings, Env, TlsMode};

/// How long a session may sit idle inside a transaction before the server ends it.
const IDLE_IN_TRANSACTION: Duration = Duration::from_secs(60);

pub(crate) struct Resolved {
    pub config: Config,
    pub iam: Option<IamSigner>,
    pub secret: Option<SecretLogin>,
}

impl Resolved {
    pub fn describe_target(&self) -> String {
        let host = match self.config.get_hosts().first() {
            Some(Host::Tcp(host)) => host.clone(),
            Some(Host::Unix(path)) => path.display().to_string(),
            None => "localhost".to_owned(),
        };
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        let dbname = self.config.get_dbname().unwrap_or("postgres");
        format!("{host}:{port}/{dbname}")
    }
}

pub(crate) async fn resolve(
    settings: &DatabaseSettings,
    aws: Option<&SdkConfig>,
) -> Result<Resolved, DbError> {
    let mut iam = None;
    let mut secret_login = None;
    let mut config = match &settings.credentials {
        Credentials::Url(url) => {
            url.expose_secret()
                .parse::<Config>()
                .map_err(|_| ConfigError::Invalid {
                    name: "DATABASE_URL",
                    reason: "not a valid connection string".to_owned(),
                })?
        }
        Credentials::Secret {
            arn,
            host,
            port,
            dbname,
        } => {
            let (config, login) =
                SecretLogin::resolve(aws, arn, host.as_deref(), *port, dbname.as_deref()).await?;
            secret_login = Some(login);
            config
        }
        Credentials::IamAuth {
            host,
            port,
            dbname,
            user,
        } => {
            let signer = IamSigner::from_env(&Env::process(), host, *port, user)?;
            // Signed now too, so a start with unusable credentials fails at once.
            signer.token(SystemTime::now())?;
            iam = Some(signer);
            let mut config = Config::new();
            config.host(host).port(*port).dbname(dbname).user(user);
            config
        }
    };
    let deadlines = format!(
        "-c statement_timeout={} -c idle_in_transaction_session_timeout={}",
        settings.statement_timeout.as_millis(),
        IDLE_IN_TRANSACTION.as_millis(),
    );
    let options = match config.get_options() {
        Some(given) if !given.trim().is_empty() => format!("{given} {deadlines}"),
        _ => deadlines,
    };
    config
        .connect_timeout(settings.connect_timeout)
        .options(&options)
        .application_name("tickwatch")
        .ssl_mode(match settings.tls {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Require | TlsMode::VerifyFull => SslMode::Require,
        });
    Ok(Resolved {
        config,
        iam,
        secret: secret_login,
    })
}

/// Whether a connection failed because the server refused the credentials.
fn login_refused(error: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    error.code().is_some_and(|code| {
        code == &SqlState::INVALID_PASSWORD
            || code == &SqlState::INVALID_AUTHORIZATION_SPECIFICATION
    })
}

/// Opens connections for the pool: plain or TLS, with a fresh IAM token or the (re-read)
/// secret when configured, each behind a [`Watchdog`] so that a server which stops answering
/// cannot hold a caller for ever.
pub(crate) struct Connector {
    tls: Option<MakeRustlsConnect>,
    iam: Option<IamSigner>,
    secret: Option<SecretLogin>,
    /// How long the server may owe an answer (statement timeout plus a margin).
    patience: Duration,
    connect_timeout: Duration,
    health: Arc<Health>,
}

/// One open connection: the client, the task that drives it, and its patience, which a
/// migration relaxes for its long statements.
pub(crate) struct Opened {
    pub client: Client,
    pub task: JoinHandle<()>,
    #[cfg_attr(not(feature = "migrations"), allow(dead_code))]
    pub patience: Arc<Patience>,
}

impl Connector {
    pub fn new(
        tls: Option<MakeRustlsConnect>,
        iam: Option<IamSigner>,
        secret: Option<SecretLogin>,
        settings: &DatabaseSettings,
        health: Arc<Health>,
    ) -> Self {
        Self {
            tls,
            iam,
            secret,
            patience: settings.statement_timeout + PATIENCE_MARGIN,
            connect_timeout: settings.connect_timeout,
            health,
        }
    }

    /// Opens one connection. A refused or timed-out attempt counts against the database's
    /// [`Health`], as a stall does.
    pub async fn open(&self, pg_config: &Config) -> Result<Opened, tokio_postgres::Error> {
        let mut config = pg_config.clone();
        if let Some(iam) = &self.iam {
            // A fresh token for every new connection: signing is a few HMACs, and a token is
            // only checked when the connection opens.
            match iam.token(SystemTime::now()) {
                Ok(token) => {
                    config.password(token.expose_secret());
                }
                Err(error) => tracing::warn!(%error, "could not sign an RDS IAM token"),
            }
        }
        let patience = Patience::new(Some(self.patience));
        let opened = match &self.secret {
            None => self.open_with(&config, patience.clone()).await,
            Some(secret) => {
                secret.apply(&mut config).await;
                match self.open_with(&config, patience.clone()).await {
                    Err(error) if login_refused(&error) && secret.reread().await => {
                        tracing::info!(
                            "the database secret changed since it was read; logging in with the new one"
                        );
                        secret.apply(&mut config).await;
                        self.open_with(&config, patience.clone()).await
                    }
                    other => other,
                }
            }
        };
        if let Err(error) = &opened
            && error.code().is_none()
        {
            self.health.failed();
        }
        let (client, task) = opened?;
        Ok(Opened {
            client,
            task,
            patience,
        })
    }

    async fn open_with(
        &self,
        config: &Config,
        patience: Arc<Patience>,
    ) -> Result<(Client, JoinHandle<()>), tokio_postgres::Error> {
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let health = self.health.clone();
        match config.get_hosts().first() {
            Some(Host::Unix(dir)) => {
                let path = dir.join(format!(".s.PGSQL.{port}"));
                let socket = self
                    .within_timeout(config, UnixStream::connect(path))
                    .await?;
                let (client, connection) = config
                    .connect_raw(Watchdog::new(socket, patience, health), NoTls)
                    .await?;
                Ok((client, spawn(connection)))
            }
            host => {
                let host = match host {
                    Some(Host::Tcp(host)) => host.as_str(),
                    _ => "localhost",
                };
                let socket = self
                    .within_timeout(config, TcpStream::connect((host, port)))
                    .await?;
                if let Err(error) = socket.set_nodelay(true) {
                    return Err(io_error(config, error).await);
                }
                match &self.tls {
                    Some(tls) => {
                        let mut make = tls.clone();
                        let Ok(connect) =
                            MakeTlsConnect::<TcpStream>::make_tls_connect(&mut make, host);
                        let watched = Watched {
                            inner: connect,
                            patience,
                            health,
                        };
                        let (client, connection) = config.connect_raw(socket, watched).await?;
                        Ok((client, spawn(connection)))
                    }
                    None => {
                        let (client, connection) = config
                            .connect_raw(Watchdog::new(socket, patience, health), NoTls)
                            .await?;
                        Ok((client, spawn(connection)))
                    }
                }
            }
        }
    }

    async fn within_timeout<S>(
        &self,
        config: &Config,
        connecting: impl Future<Output = io::Result<S>>,
    ) -> Result<S, tokio_postgres::Error> {
        match tokio::time::timeout(self.connect_timeout, connecting).await {
            Ok(Ok(socket)) => Ok(socket),
            Ok(Err(error)) => Err(io_error(config, error).await),
            Err(_) => Err(io_error(
                config,
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "no connection within {} ms",
                        self.connect_timeout.as_millis()
                    ),
                ),
            )
            .await),
        }
    }
}

/// How much longer than the statement timeout a connection waits for an answer: a live server
/// cancels the statement and says so first; only a server that does not run at all is timed
/// out by the client.
pub(crate) const PATIENCE_MARGIN: Duration = Duration::from_secs(1);

fn spawn<S, T>(connection: Connection<S, T>) -> JoinHandle<()>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::warn!(%error, "database connection closed with an error");
        }
    })
}

/// tokio-postgres has no public way to build its error from an I/O error; a stream that fails
/// with it makes `connect_raw` report exactly that error, as it would a socket's.
async fn io_error(config: &Config, error: io::Error) -> tokio_postgres::Error {
    struct Failing(Option<io::Error>);
    impl Failing {
        fn error(&mut self) -> io::Error {
            self.0
                .take()
                .unwrap_or_else(|| io::Error::from(io::ErrorKind::NotConnected))
        }
    }
    impl AsyncRead for Failing {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Poll::Ready(Err(self.error()))
        }
    }
    impl AsyncWrite for Failing {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &[u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Ready(Err(self.error()))
        }
        fn poll_flush(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Err(self.error()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }
    let mut plain = config.clone();
    plain.ssl_mode(SslMode::Disable);
    match plain.connect_raw(Failing(Some(error)), NoTls).await {
        Err(error) => error,
        Ok(_) => unreachable!("a stream that fails every read and write cannot complete a startup"),
    }
}

/// A TLS connector whose sessions are watched (the watchdog reads the plaintext).
struct Watched<T> {
    inner: T,
    patience: Arc<Patience>,
    health: Arc<Health>,
}

impl<S, T> TlsConnect<S> for Watched<T>
where
    T: TlsConnect<S> + Send + 'static,
    T::Future: Send,
    S: Send + 'static,
{
    type Stream = Watchdog<T::Stream>;
    type Error = T::Error;
    type Future = BoxFuture<'static, Result<Self::Stream, Self::Error>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let session = self.inner.connect(stream).await?;
            Ok(Watchdog::new(session, self.patience, self.health))
        })
    }
}

/// The pool's side of [`Connector`].
pub(crate) struct PoolConnector(pub Arc<Connector>);

impl Connect for PoolConnector {
    fn connect(
        &self,
        pg_config: &Config,
    ) -> BoxFuture<'_, Result<(Client, JoinHandle<()>), tokio_postgres::Error>> {
        let config = pg_config.clone();
        Box::pin(async move {
            let opened = self.0.open(&config).await?;
            Ok((opened.client, opened.task))
        })
    }
}
