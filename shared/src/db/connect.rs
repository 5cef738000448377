//! Turning settings into a connection: resolving credentials, and a pool connector that signs
//! a fresh RDS IAM token for every connection it opens.

use std::time::SystemTime;

use deadpool_postgres::Connect;
use futures::future::BoxFuture;
use secrecy::ExposeSecret;
use tokio::task::JoinHandle;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::{Client, Config, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::DbError;
use super::iam::IamSigner;
use super::secret_login::SecretLogin;
use crate::aws::SdkConfig;
use crate::config::{ConfigError, Credentials, DatabaseSettings, Env, TlsMode};

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
    config
        .connect_timeout(settings.connect_timeout)
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

/// Opens connections for the pool: plain or TLS, with a fresh IAM token when configured.
pub(crate) struct Connector {
    tls: Option<MakeRustlsConnect>,
    iam: Option<IamSigner>,
    secret: Option<SecretLogin>,
}

impl Connector {
    pub fn new(
        tls: Option<MakeRustlsConnect>,
        iam: Option<IamSigner>,
        secret: Option<SecretLogin>,
    ) -> Self {
        Self { tls, iam, secret }
    }

    async fn open(
        &self,
        config: &Config,
    ) -> Result<(Client, JoinHandle<()>), tokio_postgres::Error> {
        let on_close = |result: Result<(), tokio_postgres::Error>| {
            if let Err(error) = result {
                tracing::warn!(%error, "database connection closed with an error");
            }
        };
        match &self.tls {
            Some(tls) => {
                let (client, connection) = config.connect(tls.clone()).await?;
                Ok((
                    client,
                    tokio::spawn(async move { on_close(connection.await) }),
                ))
            }
            None => {
                let (client, connection) = config.connect(NoTls).await?;
                Ok((
                    client,
                    tokio::spawn(async move { on_close(connection.await) }),
                ))
            }
        }
    }
}

impl Connect for Connector {
    fn connect(
        &self,
        pg_config: &Config,
    ) -> BoxFuture<'_, Result<(Client, JoinHandle<()>), tokio_postgres::Error>> {
        let mut config = pg_config.clone();
        Box::pin(async move {
            if let Some(iam) = &self.iam {
                // A fresh token for every new connection: signing is a few HMACs, and a
                // token is only checked when the connection opens.
                match iam.token(SystemTime::now()) {
                    Ok(token) => {
                        config.password(token.expose_secret());
                    }
                    Err(error) => {
                        tracing::warn!(%error, "could not sign an RDS IAM token");
                    }
                }
            }
            let Some(secret) = &self.secret else {
                return self.open(&config).await;
            };
            secret.apply(&mut config).await;
            match self.open(&config).await {
                Err(error) if login_refused(&error) && secret.reread().await => {
                    tracing::info!(
                        "the database secret changed since it was read; logging in with the new one"
                    );
                    secret.apply(&mut config).await;
                    self.open(&config).await
                }
                other => other,
            }
        })
    }
}
