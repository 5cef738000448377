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

use crate::error::ApiError;

/// 404 for every path no route matches.
pub fn not_found(path: &str) -> ApiError {
    let shown: String = path.chars().take(100).collect();
    ApiError::not_found("unknown_route", format!("no route for {shown}"))
}
