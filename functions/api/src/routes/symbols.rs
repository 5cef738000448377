//! The watch list: read by anyone, edited with the write key.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tickwatch::db::symbols;
use tickwatch::detect::DetectorConfig;
use tickwatch::detect::config::OverrideError;
use tickwatch::model::{AssetClass, Interval, Provider, WatchedSymbol};
use utoipa::ToSchema;

use crate::auth::WriteKey;
use crate::error::{ApiError, ErrorEnvelope, humane};
use crate::extract::ApiJson;
use crate::params::SymbolPath;
use crate::state::AppState;

/// The largest `detector_overrides` accepted, as compact JSON: every method with every
/// parameter overridden takes well under 1 KiB.
pub const MAX_OVERRIDES_BYTES: usize = 4096;

/// Every symbol on the watch list.
#[derive(Debug, Serialize, ToSchema)]
pub struct SymbolList {
    pub symbols: Vec<WatchedSymbol>,
}

/// A watch-list entry to create or replace; the symbol comes from the path.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(
    deny_unknown_fields,
    expecting = "a watch-list entry: an object with asset_class, provider, provider_id and interval"
)]
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
    /// Per-symbol detector parameters, keyed by method, e.g. `{"zscore": {"threshold": 4}}`;
    /// checked like the detector checks them (at most 4 KiB). Default `{}`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub detector_overrides: Option<Value>,
}

/// Lists the watch list in alphabetical order.
#[utoipa::path(get, path = "/v1/symbols", tag = "symbols",
    responses(
        (status = 200, body = SymbolList),
        (status = 503, description = "The database cannot be reached or did not answer in time", body = ErrorEnvelope),
    ))]
pub async fn list(State(state): State<AppState>) -> Result<Json<SymbolList>, ApiError> {
    let client = state.reader().await?;
    Ok(Json(SymbolList {
        symbols: symbols::list(&*client).await?,
    }))
}

/// Creates or replaces a watch-list entry. 201 when new, 200 when replaced; of several
/// requests racing to create one entry, exactly one is answered 201.
#[utoipa::path(put, path = "/v1/symbols/{symbol}", tag = "symbols",
    params(SymbolPath),
    request_body = SymbolBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Replaced", body = WatchedSymbol),
        (status = 201, description = "Created", body = WatchedSymbol),
        (status = 400, description = "Malformed symbol or body", body = ErrorEnvelope),
        (status = 401, description = "Missing or wrong key", body = ErrorEnvelope),
        (status = 413, description = "The body is larger than the API accepts", body = ErrorEnvelope),
        (status = 415, description = "The body is not declared as JSON", body = ErrorEnvelope),
        (status = 422, description = "The detector overrides are not usable (the message names the field)", body = ErrorEnvelope),
        (status = 503, description = "The database cannot be reached or did not answer in time", body = ErrorEnvelope),
    ))]
pub async fn put(
    _key: WriteKey,
    State(state): State<AppState>,
    SymbolPath(symbol): SymbolPath,
    ApiJson(body): ApiJson<SymbolBody>,
) -> Result<(StatusCode, Json<WatchedSymbol>), ApiError> {
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
    if contains_nul(&overrides) {
        return Err(ApiError::bad_request(
            "invalid_body",
            "detector_overrides must not contain NUL characters",
        ));
    }
    check_overrides(&overrides)?;
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

/// Checks `overrides` as the detector will apply them (against its defaults), so a symbol
/// can never carry parameters its detector run would refuse: 422 `invalid_overrides`, with a
/// message naming the field.
fn check_overrides(overrides: &Value) -> Result<(), ApiError> {
    let invalid = |message: String| ApiError::unprocessable("invalid_overrides", message);
    let size = serde_json::to_string(overrides).map_or(usize::MAX, |json| json.len());
    if size > MAX_OVERRIDES_BYTES {
        return Err(invalid(format!(
            "detector_overrides is {size} bytes long; at most {MAX_OVERRIDES_BYTES} are accepted"
        )));
    }
    let base = DetectorConfig::default();
    match base.with_overrides(overrides) {
        Ok(_) => Ok(()),
        Err(OverrideError::Unreadable { method, reason }) => {
            // The deserialiser names the method but not the field: find the field that fails
            // on its own, so the message points at it.
            let field = overrides[method]
                .as_object()
                .into_iter()
                .flatten()
                .find(|(name, value)| {
                    let alone = serde_json::json!({ method: { name.as_str(): value } });
                    base.with_overrides(&alone).is_err()
                })
                .map(|(name, _)| name.chars().take(40).collect::<String>());
            let at = match field {
                Some(field) => format!("detector_overrides.{method}.{field}"),
                None => format!("detector_overrides.{method}"),
            };
            Err(invalid(format!("{at}: {}", humane(&reason))))
        }
        Err(other) => Err(invalid(humane(&other.to_string()))),
    }
}

/// PostgreSQL's jsonb refuses `\u0000`; refusing it here keeps that a 400, not a failed query.
fn contains_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(contains_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || contains_nul(v)),
        _ => false,
    }
}

/// Removes a symbol with its candles, anomalies and detector state.
#[utoipa::path(delete, path = "/v1/symbols/{symbol}", tag = "symbols",
    params(SymbolPath),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Malformed symbol", body = ErrorEnvelope),
        (status = 401, description = "Missing or wrong key", body = ErrorEnvelope),
        (status = 404, description = "Not on the watch list", body = ErrorEnvelope),
        (status = 503, description = "The database cannot be reached or did not answer in time", body = ErrorEnvelope),
    ))]
pub async fn delete(
    _key: WriteKey,
    State(state): State<AppState>,
    SymbolPath(symbol): SymbolPath,
) -> Result<StatusCode, ApiError> {
    let client = state.client().await?;
    if symbols::delete(&client, &symbol).await? {
        tracing::info!(%symbol, "watch list entry deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::unknown_symbol(&symbol))
    }
}
