//! Database credentials from a Secrets Manager secret (`DB_SECRET_ARN`, the migrator's login
//! as the RDS-managed master user). Built only with the `aws-secrets` feature; without it the
//! setting is refused at start and [`SecretLogin`] cannot exist.

#[cfg(feature = "aws-secrets")]
pub(crate) use with_secrets::SecretLogin;
#[cfg(not(feature = "aws-secrets"))]
pub(crate) use without_secrets::SecretLogin;

#[cfg(feature = "aws-secrets")]
mod with_secrets {
    use std::sync::Arc;

    use secrecy::{ExposeSecret, SecretString};
    use tokio::sync::Mutex;
    use tokio_postgres::Config;

    use crate::aws::SdkConfig;
    use crate::config::{ConfigError, read_database_secret};
    use crate::db::DbError;

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
        /// Reads the secret: the connection settings it (and the overrides) name, and the
        /// login that keeps its credentials current.
        pub(crate) async fn resolve(
            aws: Option<&SdkConfig>,
            arn: &str,
            host: Option<&str>,
            port: Option<u16>,
            dbname: Option<&str>,
        ) -> Result<(Config, Self), DbError> {
            let aws = aws.ok_or(ConfigError::Missing {
                name: "DB_SECRET_ARN",
                hint: "reading the secret needs AWS configuration",
            })?;
            let client = aws_sdk_secretsmanager::Client::new(aws);
            let secret = read_database_secret(&client, arn).await?;
            let host = host
                .map(str::to_owned)
                .or(secret.host)
                .ok_or(ConfigError::Missing {
                    name: "DB_HOST",
                    hint: "the secret has no host, so DB_HOST must name the database",
                })?;
            let mut config = Config::new();
            config
                .host(&host)
                .port(port.or(secret.port).unwrap_or(5432))
                .dbname(dbname.or(secret.dbname.as_deref()).unwrap_or("postgres"))
                .user(&secret.username)
                .password(secret.password.expose_secret());
            let login = Self {
                client,
                arn: arn.to_owned(),
                current: Arc::new(Mutex::new((secret.username, secret.password))),
            };
            Ok((config, login))
        }

        pub(crate) async fn apply(&self, config: &mut Config) {
            let current = self.current.lock().await;
            config.user(&current.0).password(current.1.expose_secret());
        }

        /// Reads the secret again; true when it holds other credentials than the ones in use.
        pub(crate) async fn reread(&self) -> bool {
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
}

#[cfg(not(feature = "aws-secrets"))]
mod without_secrets {
    use tokio_postgres::Config;

    use crate::aws::SdkConfig;
    use crate::config::ConfigError;
    use crate::db::DbError;

    /// Uninhabited: a build without Secrets Manager has no secret login.
    #[derive(Clone)]
    pub(crate) enum SecretLogin {}

    impl SecretLogin {
        pub(crate) async fn resolve(
            _aws: Option<&SdkConfig>,
            _arn: &str,
            _host: Option<&str>,
            _port: Option<u16>,
            _dbname: Option<&str>,
        ) -> Result<(Config, Self), DbError> {
            Err(ConfigError::NotBuiltIn {
                name: "DB_SECRET_ARN",
                feature: "aws-secrets",
            }
            .into())
        }

        pub(crate) async fn apply(&self, _config: &mut Config) {
            match *self {}
        }

        pub(crate) async fn reread(&self) -> bool {
            match *self {}
        }
    }
}
