//! The one place where failures become HTTP responses.
//!
//! Every error leaves as `{"error": {"code": "...", "message": "..."}}` with a stable,
//! machine-readable code and a message meant for a person. Bad input is always a 4xx that says
//! what was wrong; a failure on our side is a 5xx whose body names no internal detail, while
//! the full cause chain goes to the log line of the request.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tickwatch::db::DbError;
use utoipa::ToSchema;

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

/// What went wrong, for a program (`code`) and for a person (`message`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable identifier, e.g. `unknown_symbol`, `invalid_parameter`, `database_unavailable`.
    #[schema(example = "unknown_symbol")]
    pub code: String,
    /// Human-readable explanation; never contains internal details.
    #[schema(example = "symbol BTC is not on the watch list")]
    pub message: String,
    /// Per-item findings where one request carried several items (candle corrections).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub details: Option<serde_json::Value>,
}

/// A request that could not be answered. Build it with the constructors; each fixes the status.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Option<serde_json::Value>,
    /// The underlying failure, logged but never sent.
    source: Option<anyhow::Error>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
            source: None,
        }
    }

    /// 400: the request is malformed (unparsable parameter, body or cursor).
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 422: well-formed but impossible (a range that ends before it starts, a limit too big).
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// 404: no such symbol, candle or route.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 401: a write without a valid key.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 404 for a symbol that is not on the watch list.
    pub fn unknown_symbol(symbol: &tickwatch::model::Symbol) -> Self {
        Self::not_found(
            "unknown_symbol",
            format!("symbol {symbol} is not on the watch list"),
        )
    }

    /// 413: a body over the route's limit.
    pub fn payload_too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
    }

    /// 415: a body in a format the route does not take.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            message,
        )
    }

    /// 405: the path exists but not with this method.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this path does not accept that method",
        )
    }

    /// 501: a route that exists but has nothing behind it in this deployment.
    pub fn not_implemented(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_IMPLEMENTED, "not_implemented", message)
    }

    /// 502: a service we depend on (a price source) failed.
    pub fn upstream(message: impl Into<String>, source: anyhow::Error) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, "upstream_failed", message).with_source(source)
    }

    /// 500: a fault on our side. The cause is logged; the client learns only that it happened.
    pub fn internal(source: anyhow::Error) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the request failed on our side; it has been logged",
        )
        .with_source(source)
    }

    /// Attaches per-item findings to the envelope.
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    fn with_source(mut self, source: anyhow::Error) -> Self {
        self.source = Some(source);
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl ApiError {
    /// 503: the database cannot be reached.
    pub fn database_unavailable(source: anyhow::Error) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            "the database cannot be reached; try again shortly",
        )
        .with_source(source)
    }
}

impl From<DbError> for ApiError {
    fn from(error: DbError) -> Self {
        if error.is_unavailable() {
            Self::database_unavailable(error.into())
        } else {
            Self::internal(error.into())
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::bad_request("invalid_query", rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::bad_request("invalid_path", rejection.body_text())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        Self::bad_request("invalid_body", rejection.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self.source {
            Some(source) if self.status.is_server_error() => {
                tracing::error!(
                    status = self.status.as_u16(),
                    code = self.code,
                    error = format!("{source:#}"),
                    "request failed"
                );
            }
            _ => {
                tracing::info!(status = self.status.as_u16(), code = self.code, reason = %self.message, "request refused");
            }
        }
        let body = ErrorEnvelope {
            error: ErrorBody {
                code: self.code.to_owned(),
                message: self.message,
                details: self.details,
            },
        };
        (self.status, Json(body)).into_response()
    }
}
