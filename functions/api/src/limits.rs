//! Limits on the request line and headers, checked before any route runs, so an oversized
//! request gets the envelope with 414 or 431 wherever the API runs. API Gateway enforces
//! similar limits of its own in the cloud (see the README); the local server adds a
//! header-read timeout and connection limits (see [`crate::server`]).

use axum::extract::Request;
use axum::http::StatusCode;

use crate::error::ApiError;

/// The longest path and query accepted.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// The most header bytes (names and values) accepted.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// 414 for an overlong URL, 431 for oversized headers.
pub fn check(request: &Request) -> Result<(), ApiError> {
    let uri_bytes = request
        .uri()
        .path_and_query()
        .map_or(0, |pq| pq.as_str().len());
    if uri_bytes > MAX_URI_BYTES {
        return Err(ApiError::with_status(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!("the URL is {uri_bytes} bytes long; this API accepts at most {MAX_URI_BYTES}"),
        ));
    }
    let header_bytes: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return Err(ApiError::with_status(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!(
                "the headers take {header_bytes} bytes; this API accepts at most {MAX_HEADER_BYTES}"
            ),
        ));
    }
    Ok(())
}
