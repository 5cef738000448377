//! Reading secrets from AWS Secrets Manager. Values come back as [`SecretString`], so they
//! cannot end up in a log line or a `Debug` dump by accident.

use secrecy::SecretString;
use serde::Deserialize;

#[cfg(feature = "aws-secrets")]
use super::ConfigError;

/// Why a secret's value could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// Secrets Manager refused or could not be reached.
    #[error(transparent)]
    Call(#[from] crate::error::CallError),
    /// The secret holds binary data only.
    #[error("the secret has no string value")]
    NoString,
    /// A database secret that is not RDS's JSON document. serde's message names the field at
    /// fault but never echoes the value.
    #[error("not the JSON shape RDS writes (username, password, …): {0}")]
    NotDatabaseSecret(#[source] serde_json::Error),
}

/// The JSON document RDS stores for a database user.
#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSecret {
    pub username: String,
    pub password: SecretString,
    pub host: Option<String>,
    #[serde(default, deserialize_with = "port_from_number_or_string")]
    pub port: Option<u16>,
    pub dbname: Option<String>,
}

/// RDS writes the port as a number; people writing secrets by hand often quote it.
fn port_from_number_or_string<'de, D>(deserializer: D) -> Result<Option<u16>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Port {
        Number(u16),
        Text(String),
    }
    match Option::<Port>::deserialize(deserializer)? {
        None => Ok(None),
        Some(Port::Number(port)) => Ok(Some(port)),
        Some(Port::Text(text)) => text.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

/// Fetches a secret's string value. `variable` names the setting that pointed at it, so the
/// error says which variable to fix.
#[cfg(feature = "aws-secrets")]
pub async fn read_secret_string(
    client: &aws_sdk_secretsmanager::Client,
    variable: &'static str,
    arn: &str,
) -> Result<SecretString, ConfigError> {
    let output = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|err| ConfigError::SecretUnreadable {
            name: variable,
            source: crate::error::CallError::from_sdk(err).into(),
        })?;
    output
        .secret_string
        .map(SecretString::from)
        .ok_or(ConfigError::SecretUnreadable {
            name: variable,
            source: SecretError::NoString,
        })
}

/// Fetches and parses a database secret.
#[cfg(feature = "aws-secrets")]
pub async fn read_database_secret(
    client: &aws_sdk_secretsmanager::Client,
    arn: &str,
) -> Result<DatabaseSecret, ConfigError> {
    use secrecy::ExposeSecret;
    let raw = read_secret_string(client, "DB_SECRET_ARN", arn).await?;
    serde_json::from_str(raw.expose_secret()).map_err(|err| ConfigError::SecretUnreadable {
        name: "DB_SECRET_ARN",
        source: SecretError::NotDatabaseSecret(err),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rds_managed_shape_and_the_full_shape_both_parse() {
        let managed: DatabaseSecret =
            serde_json::from_str(r#"{"username":"postgres","password":"p@ss"}"#).expect("valid");
        assert_eq!(managed.host, None);
        let full: DatabaseSecret = serde_json::from_str(
            r#"{"username":"app","password":"x","host":"db","port":"5433","dbname":"tw","engine":"postgres"}"#,
        )
        .expect("valid");
        assert_eq!(full.port, Some(5433));
        assert!(!format!("{full:?}").contains("\"x\""));
    }
}
