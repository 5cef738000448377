//! Axum's extractors with our error envelope: a malformed path, query string or body becomes
//! a 400 that says what was wrong, never axum's plain-text rejection.

use axum::extract::{FromRequest, FromRequestParts};

use crate::error::ApiError;

/// `axum::extract::Path` answering with the envelope.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// `axum::extract::Query` answering with the envelope.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// `axum::Json` answering with the envelope.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);
