//! The write key: what every write must present as `Authorization: Bearer <key>`, checked by
//! the api for its own routes and by the collector function for `POST /v1/collect/{symbol}`
//! (which API Gateway routes to it in the cloud).
//!
//! Only a SHA-256 digest of the key is kept, and the presented key is digested the same way and
//! compared in constant time, so neither the key's bytes nor its length leak through timing.

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

#[cfg(feature = "aws-secrets")]
use crate::config::read_secret_string;
use crate::config::{ConfigError, Env};

/// The shortest key accepted: anything shorter can be guessed.
pub const MIN_KEY_LEN: usize = 16;

/// The write key, kept only as its digest.
#[derive(Clone)]
pub struct ApiKey {
    digest: [u8; 32],
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(..)")
    }
}

impl ApiKey {
    /// Accepts a key of at least [`MIN_KEY_LEN`] visible ASCII characters. `variable` names the
    /// setting it came from, for the error.
    pub fn new(key: &SecretString, variable: &'static str) -> Result<Self, ConfigError> {
        let key = key.expose_secret().trim();
        if key.len() < MIN_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ConfigError::Invalid {
                name: variable,
                reason: format!(
                    "the key must be at least {MIN_KEY_LEN} visible ASCII characters, without spaces"
                ),
            });
        }
        Ok(Self {
            digest: Sha256::digest(key.as_bytes()).into(),
        })
    }

    /// Whether `presented` is the key, in time independent of where they differ.
    pub fn matches(&self, presented: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        digest.ct_eq(&self.digest).into()
    }

    /// Whether an `Authorization` header value is `Bearer <this key>`; `Err` says what is
    /// wrong with it, in words for the caller.
    pub fn check_header(&self, header: Option<&str>) -> Result<(), &'static str> {
        let header = header.ok_or("this request needs Authorization: Bearer <key>")?;
        let presented = header
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or("the Authorization header must be Bearer <key>")?;
        if self.matches(presented) {
            Ok(())
        } else {
            Err("the key is not valid")
        }
    }
}

/// Reads the write key: `API_KEY` locally, else the secret `API_KEY_SECRET_ARN` names.
/// `Ok(None)` (neither set) leaves writes disabled: every write is answered 401.
pub async fn load_api_key(env: &Env, aws: &crate::aws::Aws) -> Result<Option<ApiKey>, ConfigError> {
    if let Some(key) = env.get("API_KEY") {
        return ApiKey::new(&SecretString::from(key), "API_KEY").map(Some);
    }
    if let Some(arn) = env.get("API_KEY_SECRET_ARN") {
        return read_key_secret(aws, &arn).await.map(Some);
    }
    Ok(None)
}

#[cfg(feature = "aws-secrets")]
async fn read_key_secret(aws: &crate::aws::Aws, arn: &str) -> Result<ApiKey, ConfigError> {
    let client = aws_sdk_secretsmanager::Client::new(aws.config().await);
    let key = read_secret_string(&client, "API_KEY_SECRET_ARN", arn).await?;
    ApiKey::new(&key, "API_KEY_SECRET_ARN")
}

/// A function built without Secrets Manager (the api, whose key check is API Gateway's in the
/// cloud) refuses the setting at start instead of running with writes silently disabled.
#[cfg(not(feature = "aws-secrets"))]
async fn read_key_secret(_aws: &crate::aws::Aws, _arn: &str) -> Result<ApiKey, ConfigError> {
    Err(ConfigError::NotBuiltIn {
        name: "API_KEY_SECRET_ARN",
        feature: "aws-secrets",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ApiKey {
        ApiKey::new(&SecretString::from("0123456789abcdef-key"), "API_KEY").expect("a valid key")
    }

    #[test]
    fn only_the_exact_key_matches() {
        assert!(key().matches("0123456789abcdef-key"));
        for wrong in [
            "",
            "0123456789abcdef-ke",
            "0123456789abcdef-key ",
            "0123456789ABCDEF-KEY",
        ] {
            assert!(!key().matches(wrong), "{wrong:?}");
        }
    }

    #[test]
    fn headers_are_read_as_bearer_tokens_and_each_problem_is_named() {
        assert_eq!(
            key().check_header(Some("Bearer 0123456789abcdef-key")),
            Ok(())
        );
        assert_eq!(
            key().check_header(Some("bearer  0123456789abcdef-key")),
            Ok(())
        );
        assert!(
            key()
                .check_header(None)
                .expect_err("none")
                .contains("needs")
        );
        assert!(
            key()
                .check_header(Some("Basic abc"))
                .expect_err("scheme")
                .contains("Bearer")
        );
        assert!(
            key()
                .check_header(Some("Bearer nope"))
                .expect_err("wrong")
                .contains("not valid")
        );
    }

    #[test]
    fn short_or_spaced_keys_are_refused_at_start() {
        for bad in ["short", "has a space in it!!", ""] {
            let err = ApiKey::new(&SecretString::from(bad), "API_KEY").expect_err("refused");
            assert_eq!(err.variable(), "API_KEY");
        }
    }

    #[test]
    fn the_key_never_shows_in_debug_output() {
        assert_eq!(format!("{:?}", key()), "ApiKey(..)");
    }
}
