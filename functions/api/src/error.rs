//! The one place where failures become HTTP responses.
//!
//! Every error leaves as `{"error": {"code": "...", "message": "..."}}` with a stable,
//! machine-readable code and a message meant for a person. Bad input is always a 4xx that says
//! what was wrong; a failure on our side is a 5xx whose body names no internal detail, while
//! the full cause chain goes to the log line of the request. Rejections of axum's extractors
//! are mapped here, and deserialisers' messages are put into plain words ([`humane`]), so no
//! Rust type name or SQL reaches a client. Statuses produced below the router (malformed
//! requests, oversized heads, slow clients) get the same envelope from [`crate::server`].

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
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

    /// 503: the request ran out of its time budget (see [`crate::deadline`]).
    pub fn deadline_exceeded(budget: std::time::Duration) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            format!(
                "the request took longer than the {} ms this API allows; try again shortly",
                budget.as_millis()
            ),
        )
    }

    /// Any status with a code and message, for the layers below the router (see
    /// [`crate::server`]).
    pub fn with_status(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self::new(status, code, message)
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
    /// 503: the database cannot be reached, or did not answer within its deadline.
    pub fn database_unavailable(source: anyhow::Error) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            "the database cannot be reached or did not answer in time; try again shortly",
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
        let text = rejection.body_text();
        let detail = text
            .strip_prefix("Failed to deserialize query string: ")
            .unwrap_or(&text);
        Self::bad_request(
            "invalid_query",
            format!("the query string is not valid: {}", humane(detail)),
        )
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => Self::unsupported_media_type(
                "send the body as JSON, with the header Content-Type: application/json",
            ),
            JsonRejection::BytesRejection(bytes)
                if bytes.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Self::payload_too_large(format!(
                    "the body is larger than {} KiB, the most this API accepts",
                    crate::MAX_BODY_BYTES / 1024
                ))
            }
            JsonRejection::BytesRejection(_) => {
                Self::bad_request("invalid_body", "the body could not be read; send it again")
            }
            JsonRejection::JsonSyntaxError(error) => Self::bad_request(
                "invalid_body",
                format!(
                    "the body is not valid JSON: {}",
                    humane(&inner_text(&error.body_text()))
                ),
            ),
            JsonRejection::JsonDataError(error) => Self::bad_request(
                "invalid_body",
                format!(
                    "the body does not have the expected shape: {}",
                    humane(&inner_text(&error.body_text()))
                ),
            ),
            other => Self::bad_request("invalid_body", humane(&other.body_text())),
        }
    }
}

/// axum's rejection text without its leading sentence ("Failed to parse the request body as
/// JSON: …"), which names the machinery rather than the mistake.
fn inner_text(text: &str) -> String {
    text.split_once(": ")
        .map_or(text, |(_, rest)| rest)
        .to_owned()
}

/// Rewrites a deserialiser's message in words for people: serde names Rust types ("expected
/// struct CandleBody", "expected f64", "expected a Decimal type"), which mean nothing to a
/// client. Every message a client sees from a deserialiser passes through here.
pub fn humane(message: &str) -> String {
    const NUMBERS: [(&str, &str); 14] = [
        ("f64", "a number"),
        ("f32", "a number"),
        ("i8", "a whole number"),
        ("i16", "a whole number"),
        ("i32", "a whole number"),
        ("i64", "a whole number"),
        ("i128", "a whole number"),
        ("isize", "a whole number"),
        ("u8", "a whole number"),
        ("u16", "a whole number"),
        ("u32", "a whole number"),
        ("u64", "a whole number"),
        ("u128", "a whole number"),
        ("usize", "a whole number"),
    ];
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("expected ") {
        let (before, after) = rest.split_at(at + "expected ".len());
        out.push_str(before);
        let word_end = after
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        let word = &after[..word_end];
        let (replacement, consumed) = if word == "struct" || word == "enum" || word == "tuple" {
            // "struct Name" or "tuple struct Name": drop the Rust type's name.
            let tail = after[word_end..].trim_start_matches(' ');
            let tail = tail.strip_prefix("struct ").unwrap_or(tail);
            let name_end = tail
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(tail.len());
            let what = if word == "enum" {
                "one of the documented values"
            } else {
                "a JSON object"
            };
            (what, after.len() - tail.len() + name_end)
        } else if let Some((_, plain)) = NUMBERS.iter().find(|(rust, _)| *rust == word) {
            (*plain, word_end)
        } else if after.starts_with("a Decimal type") {
            ("a decimal number", "a Decimal type".len())
        } else {
            ("", 0)
        };
        out.push_str(replacement);
        rest = &after[consumed..];
    }
    out.push_str(rest);
    out
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self.source {
            Some(source) if self.status.is_server_error() => {
                tracing::error!(
                    status = self.status.as_u16(),
                    code = self.code,
                    error = tickwatch::telemetry::error_chain(source.as_ref()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_type_names_become_words() {
        for (raw, expected) in [
            (
                "invalid type: string \"x\", expected struct CandleBody at line 1 column 3",
                "invalid type: string \"x\", expected a JSON object at line 1 column 3",
            ),
            (
                "zscore: invalid type: string \"DROP\", expected f64",
                "zscore: invalid type: string \"DROP\", expected a number",
            ),
            ("expected usize", "expected a whole number"),
            (
                "invalid type: map, expected a Decimal type",
                "invalid type: map, expected a decimal number",
            ),
            (
                "invalid type: null, expected tuple struct Price",
                "invalid type: null, expected a JSON object",
            ),
            (
                "expected enum Kind, expected a string",
                "expected one of the documented values, expected a string",
            ),
            (
                "unknown field `x`, expected one of `a`, `b`",
                "unknown field `x`, expected one of `a`, `b`",
            ),
            (
                "expected `,` or `}` at line 1",
                "expected `,` or `}` at line 1",
            ),
        ] {
            assert_eq!(humane(raw), expected);
        }
    }
}
