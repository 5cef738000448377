//! Writes need `Authorization: Bearer <key>`. Reads are public.
//!
//! Only a SHA-256 digest of the key is kept, and the presented key is digested the same way and
//! compared in constant time, so neither the key's bytes nor its length leak through timing.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tickwatch::config::{ConfigError, Env, read_secret_string};

use crate::error::ApiError;
use crate::state::AppState;

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
}

/// Reads the write key: `API_KEY` locally, else the secret `API_KEY_SECRET_ARN` names.
/// `Ok(None)` (neither set) leaves writes disabled: every write is answered 401.
pub async fn load_api_key(
    env: &Env,
    aws: &tickwatch::aws::Aws,
) -> Result<Option<ApiKey>, ConfigError> {
    if let Some(key) = env.get("API_KEY") {
        return ApiKey::new(&SecretString::from(key), "API_KEY").map(Some);
    }
    if let Some(arn) = env.get("API_KEY_SECRET_ARN") {
        let client = aws_sdk_secretsmanager::Client::new(aws.config().await);
        let key = read_secret_string(&client, "API_KEY_SECRET_ARN", &arn).await?;
        return ApiKey::new(&key, "API_KEY_SECRET_ARN").map(Some);
    }
    Ok(None)
}

/// Extracting this proves the request carried the write key. Put it first in a write handler's
/// arguments, so an unauthenticated request is refused before its body is read.
#[derive(Debug, Clone, Copy)]
pub struct WriteKey;

impl FromRequestParts<AppState> for WriteKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(key) = state.api_key() else {
            return Err(ApiError::unauthorized(
                "writes are disabled: no API key is configured",
            ));
        };
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
            ApiError::unauthorized("this request needs Authorization: Bearer <key>")
        })?;
        let presented = header
            .to_str()
            .ok()
            .and_then(|value| {
                let (scheme, token) = value.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header must be Bearer <key>")
            })?;
        if key.matches(presented) {
            Ok(Self)
        } else {
            Err(ApiError::unauthorized("the key is not valid"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_key_matches() {
        let key = ApiKey::new(&SecretString::from("0123456789abcdef-key"), "API_KEY")
            .expect("a valid key");
        assert!(key.matches("0123456789abcdef-key"));
        for wrong in [
            "",
            "0123456789abcdef-ke",
            "0123456789abcdef-key ",
            "0123456789ABCDEF-KEY",
        ] {
            assert!(!key.matches(wrong), "{wrong:?}");
        }
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
        let key = ApiKey::new(&SecretString::from("0123456789abcdef-key"), "API_KEY")
            .expect("a valid key");
        assert_eq!(format!("{key:?}"), "ApiKey(..)");
    }
}
