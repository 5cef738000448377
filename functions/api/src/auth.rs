//! Writes need `Authorization: Bearer <key>`. Reads are public.
//!
//! Only a SHA-256 digest of the key is kept, and the presented key is digested the same way and
//! compared in constant time, so neither the key's bytes nor its length leak through timing.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::error::ApiError;
use crate::state::AppState;

// The key type and its loader live in the library: the collector function checks the same key
// for `POST /v1/collect/{symbol}`, which API Gateway routes to it in the cloud.
pub use tickwatch::auth::{ApiKey, MIN_KEY_LEN, load_api_key};

/// Extracting this proves the request carried the write key. Put it first in a write handler's
/// arguments, so an unauthenticated request is refused before its body is read.
#[derive(Debug, Clone, Copy)]
pub struct WriteKey;

impl FromRequestParts<AppState> for WriteKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if state.writes_authorized_by_gateway() {
            return if authorized_by_gateway(parts) {
                Ok(Self)
            } else {
                Err(ApiError::unauthorized(
                    "this request needs Authorization: Bearer <key>",
                ))
            };
        }
        let Some(key) = state.api_key() else {
            return Err(ApiError::unauthorized(
                "writes are disabled: no API key is configured",
            ));
        };
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or(""));
        key.check_header(header)
            .map(|()| Self)
            .map_err(ApiError::unauthorized)
    }
}

/// In the cloud the api holds no key (it cannot reach Secrets Manager: it has no way out of the
/// VPC). API Gateway's Lambda authorizer — the collector function, which holds the key —
/// checks every write route and passes `write_key: true` in the authorizer context.
fn authorized_by_gateway(parts: &Parts) -> bool {
    use lambda_http::request::RequestContext;
    match parts.extensions.get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV2(context)) => context
            .authorizer
            .as_ref()
            .and_then(|a| a.fields.get("write_key"))
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false),
        _ => false,
    }
}
