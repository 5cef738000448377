//! RDS IAM authentication tokens, signed in-process.
//!
//! A token is a SigV4-presigned `connect` URL for the `rds-db` service, valid for 15 minutes
//! and checked only when a connection opens. Signing it is a few HMACs over strings: it needs
//! the signer (`aws-sigv4`) and the function role's credentials, not the RDS SDK nor the SDK's
//! configuration loader (which would bring STS, a credential chain and an HTTP client into the
//! in-VPC functions, which call no AWS API at all). The credentials are the ones Lambda puts
//! in the environment for the execution role, read once; the region is Lambda's `AWS_REGION`.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use secrecy::SecretString;

use super::DbError;
use crate::config::Env;

/// Why no token could be signed.
#[derive(Debug, thiserror::Error)]
pub enum IamTokenError {
    /// No static credentials in the environment to sign with; a configuration fault.
    #[error(
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set (Lambda sets them for the function's role)"
    )]
    NoCredentials,
    /// The signing parameters were incomplete.
    #[error("{0}")]
    Parameters(#[source] v4::signing_params::BuildError),
    /// The signer refused the request.
    #[error("{0}")]
    Signing(#[source] aws_sigv4::http_request::SigningError),
}

/// The service name RDS IAM tokens are signed for.
const SERVICE: &str = "rds-db";
/// RDS accepts tokens for at most 15 minutes.
const VALID_FOR: Duration = Duration::from_secs(15 * 60);
/// The region when the environment names none; Lambda always sets `AWS_REGION`.
const FALLBACK_REGION: &str = "us-east-1";

/// Signs tokens for one database user at one endpoint.
#[derive(Clone)]
pub(crate) struct IamSigner {
    host: String,
    port: u16,
    user: String,
    region: String,
    identity: Identity,
}

impl std::fmt::Debug for IamSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IamSigner")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl IamSigner {
    /// A signer with the credentials and region of `env`: `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` (temporary credentials, as Lambda's are)
    /// and `AWS_REGION` (or `AWS_DEFAULT_REGION`).
    pub fn from_env(env: &Env, host: &str, port: u16, user: &str) -> Result<Self, DbError> {
        let (Some(key_id), Some(secret)) = (
            env.get("AWS_ACCESS_KEY_ID"),
            env.get("AWS_SECRET_ACCESS_KEY"),
        ) else {
            return Err(DbError::IamToken(IamTokenError::NoCredentials));
        };
        let credentials = Credentials::new(
            key_id,
            secret,
            env.get("AWS_SESSION_TOKEN"),
            None,
            "environment",
        );
        let region = env
            .get("AWS_REGION")
            .or_else(|| env.get("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| FALLBACK_REGION.to_owned());
        Ok(Self {
            host: host.to_owned(),
            port,
            user: user.to_owned(),
            region,
            identity: credentials.into(),
        })
    }

    /// A token signed at `now`: `host:port/?Action=connect&DBUser=…&X-Amz-…`, the form the
    /// PostgreSQL password field takes.
    pub fn token(&self, now: SystemTime) -> Result<SecretString, DbError> {
        let signing = |e| DbError::IamToken(IamTokenError::Signing(e));
        let mut settings = SigningSettings::default();
        settings.expires_in = Some(VALID_FOR);
        settings.signature_location = SignatureLocation::QueryParams;
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name(SERVICE)
            .time(now)
            .settings(settings)
            .build()
            .map_err(|e| DbError::IamToken(IamTokenError::Parameters(e)))?;
        let endpoint = format!("{}:{}", self.host, self.port);
        let operation = form_urlencoded::Serializer::new(String::new())
            .append_pair("Action", "connect")
            .append_pair("DBUser", &self.user)
            .finish();
        let unsigned = format!("https://{endpoint}/?{operation}");
        let request = SignableRequest::new(
            "GET",
            unsigned.as_str(),
            std::iter::empty(),
            SignableBody::empty(),
        )
        .map_err(signing)?;
        let (instructions, _signature) =
            sign(request, &params.into()).map_err(signing)?.into_parts();
        // The signature's parameters after the operation's, as the signer returns them.
        let mut query = form_urlencoded::Serializer::new(operation);
        for (name, value) in instructions.params() {
            query.append_pair(name, value);
        }
        Ok(SecretString::from(format!(
            "{endpoint}/?{}",
            query.finish()
        )))
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn signer(pairs: &[(&str, &str)]) -> IamSigner {
        IamSigner::from_env(
            &Env::from_pairs(pairs),
            "db.example.internal",
            5432,
            "tickwatch_detector",
        )
        .expect("credentials are set")
    }

    const CREDENTIALS: [(&str, &str); 4] = [
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        (
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        ),
        (
            "AWS_SESSION_TOKEN",
            "FwoGZXIvYXdzEXAMPLE/token+with=padding",
        ),
        ("AWS_REGION", "eu-west-1"),
    ];

    fn query_pairs(token: &str) -> Vec<(String, String)> {
        let (_, query) = token.split_once("/?").expect("a query");
        let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        pairs.sort();
        pairs
    }

    /// The reference token comes from botocore's `generate_db_auth_token` with the same
    /// credentials and clock (scripts/reference/rds_iam_token.py): an independent SigV4
    /// implementation, so this checks the canonical request, not just the round trip.
    #[test]
    fn the_token_matches_botocore_for_the_same_credentials_and_time() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600); // 2026-01-01T00:00:00Z
        let token = signer(&CREDENTIALS).token(now).expect("signed");
        let token = token.expose_secret();
        let reference = include_str!("../../../tests/reference/rds_iam_token.txt").trim();
        assert!(token.starts_with("db.example.internal:5432/?"), "{token}");
        assert_eq!(query_pairs(token), query_pairs(reference));
    }

    #[test]
    fn the_token_carries_the_session_token_and_fifteen_minutes() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
        let token = signer(&CREDENTIALS).token(now).expect("signed");
        let pairs = query_pairs(token.expose_secret());
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("Action"), Some("connect"));
        assert_eq!(get("DBUser"), Some("tickwatch_detector"));
        assert_eq!(get("X-Amz-Expires"), Some("900"));
        assert_eq!(
            get("X-Amz-Security-Token"),
            Some("FwoGZXIvYXdzEXAMPLE/token+with=padding")
        );
        assert_eq!(
            get("X-Amz-Credential"),
            Some("AKIDEXAMPLE/20260101/eu-west-1/rds-db/aws4_request")
        );
    }

    #[test]
    fn missing_credentials_are_named_and_the_region_falls_back() {
        let error =
            IamSigner::from_env(&Env::from_pairs(&[]), "h", 5432, "u").expect_err("no credentials");
        assert!(error.to_string().contains("AWS_ACCESS_KEY_ID"), "{error}");
        let signer = signer(&CREDENTIALS[..2]);
        assert_eq!(signer.region, FALLBACK_REGION);
        let later = signer
            .token(SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600))
            .expect("signed without a session token");
        assert!(!later.expose_secret().contains("X-Amz-Security-Token"));
    }
}
