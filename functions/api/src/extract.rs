//! The plumbing under the typed parameters of [`crate::params`], and axum's own extractors
//! answering with our error envelope: a malformed path, query string or body becomes a 4xx
//! that says what was wrong, never axum's plain-text rejection.

use std::borrow::Cow;

use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;

use crate::error::ApiError;
use crate::router::PathParams;

/// `axum::extract::Query` answering with the envelope.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// `axum::Json` answering with the envelope.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// One path parameter by name, percent-decoded.
pub(crate) async fn path_param<S: Send + Sync>(
    parts: &mut Parts,
    _state: &S,
    name: &str,
) -> Result<String, ApiError> {
    let raw = parts
        .extensions
        .get::<PathParams>()
        .and_then(|params| params.get(name))
        // Only a route without this parameter could get here: a programming error.
        .ok_or_else(|| {
            ApiError::internal(anyhow::anyhow!("the route has no path parameter {name}"))
        })?;
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map(Cow::into_owned)
        .map_err(|_| {
            ApiError::bad_request(
                "invalid_path",
                "the path holds bytes that are not valid UTF-8 once percent-decoded",
            )
        })
}

/// The query string as name/value pairs, percent-decoded. Each typed parameter reads its own
/// names from it; names no parameter knows are ignored.
#[derive(Debug, Default)]
pub(crate) struct QueryPairs(Vec<(String, String)>);

impl QueryPairs {
    pub fn of(parts: &Parts) -> Self {
        let query = parts.uri.query().unwrap_or_default();
        Self(
            form_urlencoded::parse(query.as_bytes())
                .map(|(k, v): (Cow<'_, str>, Cow<'_, str>)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The value of `name`; a name given twice is refused rather than guessed between.
    pub fn get(&self, name: &str) -> Result<Option<&str>, ApiError> {
        let mut values = self.0.iter().filter(|(k, _)| k == name);
        let first = values.next().map(|(_, v)| v.as_str());
        if values.next().is_some() {
            return Err(ApiError::bad_request(
                "invalid_parameter",
                format!("{name} is given more than once"),
            ));
        }
        Ok(first)
    }
}
