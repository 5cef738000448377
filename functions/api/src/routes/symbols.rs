//! The watch list: read by anyone, edited with the write key.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tickwatch::db::symbols;
use tickwatch::model::{AssetClass, Interval, Provider, WatchedSymbol};
use utoipa::ToSchema;

use crate::auth::WriteKey;
use crate::error::{ApiError, ErrorEnvelope};
use crate::extract::{ApiJson, ApiPath};
use crate::params;
use crate::state::AppState;

/// Every symbol on the watch list.
#[derive(Debug, Serialize, ToSchema)]
pub struct SymbolList {
    pub symbols: Vec<WatchedSymbol>,
}

/// A watch-list entry to create or replace; the symbol comes from the path.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SymbolBody {
    pub asset_class: AssetClass,
    pub provider: Provider,
    /// The source's own name for the instrument (1–64 printable characters).
    #[schema(min_length = 1, max_length = 64, example = "bitcoin")]
    pub provider_id: String,
    #[schema(value_type = String, example = "1h")]
    pub interval: Interval,
    /// Default true.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Per-symbol detector thresholds; must be a JSON object. Default `{}`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub detector_overrides: Option<serde_json::Value>,
}

/// Lists the watch list in alphabetical order.
#[utoipa::path(get, path = "/v1/symbols", tag = "symbols",
    responses(
        (status = 200, body = SymbolList),
        (status = 503, description = "The database cannot be reached", body = ErrorEnvelope),
    ))]
pub async fn list(State(state): State<AppState>) -> Result<Json<SymbolList>, ApiError> {
    let client = state.client().await?;
    Ok(Json(SymbolList {
        symbols: symbols::list(&client).await?,
    }))
}

/// Creates or replaces a watch-list entry. 201 when new, 200 when replaced.
#[utoipa::path(put, path = "/v1/symbols/{symbol}", tag = "symbols",
    params(("symbol" = String, Path, description = "Ticker, e.g. BTC or BRK.B", max_length = 20)),
    request_body = SymbolBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Replaced", body = WatchedSymbol),
        (status = 201, description = "Created", body = WatchedSymbol),
        (status = 400, description = "Malformed symbol or body", body = ErrorEnvelope),
        (status = 401, description = "Missing or wrong key", body = ErrorEnvelope),
        (status = 503, description = "The database cannot be reached", body = ErrorEnvelope),
    ))]
pub async fn put(
    _key: WriteKey,
    State(state): State<AppState>,
    ApiPath(raw): ApiPath<String>,
    ApiJson(body): ApiJson<SymbolBody>,
) -> Result<(StatusCode, Json<WatchedSymbol>), ApiError> {
    let symbol = params::symbol(&raw)?;
    let provider_id = body.provider_id;
    if provider_id.is_empty()
        || provider_id.chars().count() > 64
        || provider_id.chars().any(char::is_control)
    {
        return Err(ApiError::bad_request(
            "invalid_body",
            "provider_id must be 1–64 characters without control characters",
        ));
    }
    let overrides = body
        .detector_overrides
        .unwrap_or_else(|| serde_json::json!({}));
    if !overrides.is_object() {
        return Err(ApiError::bad_request(
            "invalid_body",
            "detector_overrides must be a JSON object",
        ));
    }
    if contains_nul(&overrides) {
        return Err(ApiError::bad_request(
            "invalid_body",
            "detector_overrides must not contain NUL characters",
        ));
    }
    let entry = WatchedSymbol {
        symbol,
        asset_class: body.asset_class,
        provider: body.provider,
        provider_id,
        interval: body.interval,
        enabled: body.enabled.unwrap_or(true),
        detector_overrides: overrides,
    };
    let client = state.client().await?;
    let created = symbols::upsert(&client, &entry).await?;
    tracing::info!(symbol = %entry.symbol, created, "watch list entry written");
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(entry)))
}

/// PostgreSQL's jsonb refuses `\u0000`; refusing it here keeps that a 400, not a failed query.
fn contains_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(contains_nul),
        serde_json::Value::Object(map) => {
            map.iter().any(|(k, v)| k.contains('\0') || contains_nul(v))
        }
        _ => false,
    }
}

/// Removes a symbol with its candles, anomalies and detector state.
#[utoipa::path(delete, path = "/v1/symbols/{symbol}", tag = "symbols",
    params(("symbol" = String, Path, description = "Ticker, e.g. BTC or BRK.B", max_length = 20)),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Malformed symbol", body = ErrorEnvelope),
        (status = 401, description = "Missing or wrong key", body = ErrorEnvelope),
        (status = 404, description = "Not on the watch list", body = ErrorEnvelope),
        (status = 503, description = "The database cannot be reached", body = ErrorEnvelope),
    ))]
pub async fn delete(
    _key: WriteKey,
    State(state): State<AppState>,
    ApiPath(raw): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let symbol = params::symbol(&raw)?;
    let client = state.client().await?;
    if symbols::delete(&client, &symbol).await? {
        tracing::info!(%symbol, "watch list entry deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::unknown_symbol(&symbol))
    }
}
