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
    aws: Option<&aws_config::SdkConfig>,
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
            secret_login = Some(SecretLogin {
                client,
                arn: arn.clone(),
                current: Arc::new(Mutex::new((secret.username, secret.password))),
            });
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
    Ok(Resolved {
        config,
        iam,
        secret: secret_login,
    })
}

/// Credentials from a Secrets Manager secret, read again when a login with them fails: the
/// secret may have been rotated since the cold start (RDS rotates the one it manages), and
/// the new password is better than failing every connection until the next cold start.
#[derive(Clone)]
pub(crate) struct SecretLogin {
    client: aws_sdk_secretsmanager::Client,
    arn: String,
    current: Arc<Mutex<(String, SecretString)>>,
}

impl SecretLogin {
    async fn apply(&self, config: &mut Config) {
        let current = self.current.lock().await;
        config.user(&current.0).password(current.1.expose_secret());
    }

    /// Reads the secret again; true when it holds other credentials than the ones in use.
    async fn reread(&self) -> bool {
        match read_database_secret(&self.client, &self.arn).await {
            Ok(secret) => {
                let mut current = self.current.lock().await;
                let changed = current.0 != secret.username
                    || current.1.expose_secret() != secret.password.expose_secret();
                *current = (secret.username, secret.password);
                changed
            }
            Err(error) => {
                tracing::warn!(%error, "the database secret could not be read again");
                false
            }
        }
    }
}

/// Whether a connection failed because the server refused the credentials.
fn login_refused(error: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    error.code().is_some_and(|code| {
        code == &SqlState::INVALID_PASSWORD
            || code == &SqlState::INVALID_AUTHORIZATION_SPECIFICATION
    })
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
    secret: Option<SecretLogin>,
}

impl Connector {
    pub fn new(
        tls: Option<MakeRustlsConnect>,
        iam: Option<IamToken>,
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
                config.password(iam.current().await.expose_secret());
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
