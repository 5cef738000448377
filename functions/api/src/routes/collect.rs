//! `POST /v1/collect/{symbol}`: collect one symbol now, with the collector's own library code.

use axum::extract::State;

use crate::auth::WriteKey;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::ApiPath;
use crate::params;
use crate::state::AppState;

/// Fetches the symbol's price from its source now and stores it, exactly as a scheduled run.
#[utoipa::path(post, path = "/v1/collect/{symbol}", tag = "collect",
    params(("symbol" = String, Path, description = "Ticker, e.g. BTC", max_length = 20)),
    security(("bearer" = [])),
    responses(
        (status = 400, description = "Malformed symbol", body = ErrorEnvelope),
        (status = 401, description = "Missing or wrong key", body = ErrorEnvelope),
        (status = 404, description = "Unknown symbol", body = ErrorEnvelope),
        (status = 501, description = "Collection is not available in this build", body = ErrorEnvelope),
        (status = 503, description = "The database cannot be reached", body = ErrorEnvelope),
    ))]
pub async fn collect(
    _key: WriteKey,
    State(_state): State<AppState>,
    ApiPath(raw): ApiPath<String>,
) -> Result<(), ApiError> {
    let _symbol = params::symbol(&raw)?;
    Err(ApiError::not_implemented(
        "on-demand collection is not wired into the API yet",
    ))
}
