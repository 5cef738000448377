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

use axum::http::Uri;

use crate::error::ApiError;

/// 404 for every path no route matches.
pub async fn not_found(uri: Uri) -> ApiError {
    let path: String = uri.path().chars().take(100).collect();
    ApiError::not_found("unknown_route", format!("no route for {path}"))
}

/// 405 for a known path with a method it does not serve.
pub async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}
