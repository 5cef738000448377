//! Turning settings into a connection: resolving credentials, and a pool connector that signs
//! a fresh RDS IAM token whenever the cached one is about to expire.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_rds::auth_token::{AuthTokenGenerator, Config as TokenConfig};
use deadpool_postgres::Connect;
use futures::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::{Client, Config, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::DbError;
use crate::config::{ConfigError, Credentials, DatabaseSettings, TlsMode, read_database_secret};

pub(crate) struct Resolved {
    pub config: Config,
    pub iam: Option<IamToken>,
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
    aws: Option<&aws_config::SdkConfig>,
) -> Result<Resolved, DbError> {
    let mut iam = None;
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
            let aws = aws.ok_or(ConfigError::Missing {
                name: "DB_SECRET_ARN",
                hint: "reading the secret needs AWS configuration",
            })?;
            let client = aws_sdk_secretsmanager::Client::new(aws);
            let secret = read_database_secret(&client, arn).await?;
            let host = host.clone().or(secret.host).ok_or(ConfigError::Missing {
                name: "DB_HOST",
                hint: "the secret has no host, so DB_HOST must name the database",
            })?;
            let mut config = Config::new();
            config
                .host(&host)
                .port(port.or(secret.port).unwrap_or(5432))
                .dbname(
                    dbname
                        .as_deref()
                        .or(secret.dbname.as_deref())
                        .unwrap_or("postgres"),
                )
                .user(&secret.username)
                .password(secret.password.expose_secret());
            config
        }
        Credentials::IamAuth {
            host,
            port,
            dbname,
            user,
        } => {
            let aws = aws.ok_or(ConfigError::Missing {
                name: "DB_IAM_AUTH",
                hint: "signing a token needs AWS configuration",
            })?;
            let token = IamToken::new(aws.clone(), host, *port, user).await?;
            iam = Some(token);
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
    Ok(Resolved { config, iam })
}

/// An RDS IAM token, re-signed once it is older than [`IamToken::REFRESH_AFTER`]. Tokens are
/// valid for 15 minutes and only checked when a connection opens, so open connections outlive
/// their token; new ones need a fresh one.
#[derive(Clone)]
pub(crate) struct IamToken {
    generator: Arc<AuthTokenGenerator>,
    aws: aws_config::SdkConfig,
    cached: Arc<Mutex<(SecretString, Instant)>>,
}

impl IamToken {
    const REFRESH_AFTER: Duration = Duration::from_secs(10 * 60);

    async fn new(
        aws: aws_config::SdkConfig,
        host: &str,
        port: u16,
        user: &str,
    ) -> Result<Self, DbError> {
        let mut builder = TokenConfig::builder()
            .hostname(host)
            .port(u64::from(port))
            .username(user)
            .expires_in(900);
        if let Some(region) = aws.region() {
            builder = builder.region(region.clone());
        }
        let config = builder
            .build()
            .map_err(|e| DbError::IamToken(e.to_string()))?;
        let generator = Arc::new(AuthTokenGenerator::new(config));
        let token = sign(&generator, &aws).await?;
        Ok(Self {
            generator,
            aws,
            cached: Arc::new(Mutex::new((token, Instant::now()))),
        })
    }

    /// The current token, re-signed when stale. A failed re-sign keeps the old token (still
    /// valid for a few minutes) and logs why, rather than failing the connection outright.
    async fn current(&self) -> SecretString {
        let mut cached = self.cached.lock().await;
        if cached.1.elapsed() >= Self::REFRESH_AFTER {
            match sign(&self.generator, &self.aws).await {
                Ok(token) => *cached = (token, Instant::now()),
                Err(error) => tracing::warn!(%error, "could not refresh the RDS IAM token"),
            }
        }
        cached.0.clone()
    }
}

async fn sign(
    generator: &AuthTokenGenerator,
    aws: &aws_config::SdkConfig,
) -> Result<SecretString, DbError> {
    generator
        .auth_token(aws)
        .await
        .map(|token| SecretString::from(token.as_str().to_owned()))
        .map_err(|e| DbError::IamToken(e.to_string()))
}

/// Opens connections for the pool: plain or TLS, with a fresh IAM token when configured.
pub(crate) struct Connector {
    tls: Option<MakeRustlsConnect>,
    iam: Option<IamToken>,
}

impl Connector {
    pub fn new(tls: Option<MakeRustlsConnect>, iam: Option<IamToken>) -> Self {
        Self { tls, iam }
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
                config.password(iam.current().await.expose_secret());
            }
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
        })
    }
}
