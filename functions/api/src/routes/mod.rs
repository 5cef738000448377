//! The routes, one module per concern. Handlers stay thin: they receive domain values (see
//! [`crate::params`]), run one query, and shape the answer.

pub mod anomalies;
pub mod collect;
pub mod corrections;
pub mod health;
pub mod import;
pub mod prices;
pub mod scores;
pub mod symbols;
pub mod web;

use axum::http::header::{ALLOW, CONTENT_TYPE};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// 404 for every path no route matches.
pub async fn not_found(uri: Uri) -> ApiError {
    let path: String = uri.path().chars().take(100).collect();
    ApiError::not_found("unknown_route", format!("no route for {path}"))
}

/// 405 for a known path with a method it does not serve, in the envelope. axum answers it
/// itself, with an empty body and the `allow` header; this puts the envelope in that answer
/// (keeping the header) and passes every other response as it is. Set on the router instead
/// (`method_not_allowed_fallback`), the envelope cost every cold start a pass over all routes.
pub fn method_not_allowed(response: Response) -> Response {
    if response.status() != StatusCode::METHOD_NOT_ALLOWED
        || response.headers().contains_key(CONTENT_TYPE)
    {
        return response;
    }
    let allow = response.headers().get(ALLOW).cloned();
    let mut enveloped = ApiError::method_not_allowed().into_response();
    if let Some(allow) = allow {
        enveloped.headers_mut().insert(ALLOW, allow);
    }
    enveloped
}
